#pragma once
// Internal AVX2 building blocks shared by the *_avx2.cpp and *_avx512.cpp
// kernels. Include only from translation units compiled with -mavx2 -mfma -mf16c.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace pagoda::kernels::simd {

// Sum of the 8 floats of v.
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Sum of the 8 int32 of v.
inline int hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
  return _mm_cvtsi128_si32(s);
}

// IEEE half to float with F16C (bit-exact with base/half.h).
inline float fp16(uint16_t h) {
  return _cvtsh_ss(h);
}

inline __m256i load32(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// 16 bytes of nibbles -> 32 bytes: low nibbles in bytes 0-15, high nibbles in 16-31
// (the element order of Q4/Q5 blocks).
inline __m256i unpack_nibbles16(const uint8_t* qs) {
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// 32 bits (little-endian at p) -> 32 bytes, 0xFF where the bit is set.
inline __m256i bytes_from_bits32(const uint8_t* p) {
  uint32_t bits;
  std::memcpy(&bits, p, sizeof(bits));
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(bits)),
      _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
  const __m256i bit = _mm256_set1_epi64x(0x8040201008040201);
  return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

// 16 int16 sums of adjacent u8 x s8 products; exact while each pair stays in
// int16 (true for every caller: |u| <= 128 with |s| <= 127, or u <= 63).
inline __m256i dot_u8_s8_pairs(__m256i u, __m256i s) {
  return _mm256_maddubs_epi16(u, s);
}

// 8 int32 sums of 4 adjacent s8 x s8 products. |x| may be 128; y must lie in
// [-127, 127] (activations from the Q8 quantizers always do).
inline __m256i dot_s8_quads(__m256i x, __m256i y) {
  const __m256i pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(x), _mm256_sign_epi8(y, x));
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

// 8 int32 sums of 4 adjacent u8 x s8 products.
inline __m256i dot_u8_s8_quads(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// 16 int16 pair sums (elements 0-15 in int16 lanes 0-7, 16-31 in lanes 8-15)
// times scale_lo / scale_hi respectively, summed in pairs to 8 int32.
inline __m256i scale_pairs(__m256i pairs, int scale_lo, int scale_hi) {
  const __m256i scales = _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(scale_hi)),
                                          _mm_set1_epi16(static_cast<int16_t>(scale_lo)));
  return _mm256_madd_epi16(pairs, scales);
}

}  // namespace pagoda::kernels::simd
