// AVX-512 + VNNI kernels for the most used weight types. Two 32-element
// (legacy) blocks or two 32-element K-quant sub-blocks share one 512-bit
// register; vpdpbusd / vpdpwssd replace AVX2's maddubs + madd pairs and
// cannot saturate. Integer parts are exact, so results differ from the
// scalar reference only by the order of float additions.
// GCC 12's AVX-512 headers trip its own -Wuninitialized on _mm512_undefined_*
// (GCC bug 105593, fixed in GCC 13); the values are never read.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "kernels/simd_avx2.h"
#include "kernels/vec_dot_isa.h"
#include "quant/blocks.h"

namespace pagoda::kernels::avx512 {
namespace {

using quant::BlockQ8_0;
using quant::BlockQ8_K;

// Two 32-byte halves in one register: lo in bits 0-255, hi in 256-511.
inline __m512i join(__m256i lo, __m256i hi) {
  return _mm512_inserti64x4(_mm512_zextsi256_si512(lo), hi, 1);
}
inline __m512i load_two(const void* lo, const void* hi) {
  return join(simd::load32(lo), simd::load32(hi));
}
// Float d_lo in lanes 0-7, d_hi in lanes 8-15.
inline __m512 two_scales(float d_lo, float d_hi) {
  return _mm512_insertf32x8(_mm512_zextps256_ps512(_mm256_set1_ps(d_lo)), _mm256_set1_ps(d_hi), 1);
}
// int16 scale_lo in lanes 0-15, scale_hi in lanes 16-31.
inline __m512i two_scales_epi16(int scale_lo, int scale_hi) {
  return join(_mm256_set1_epi16(static_cast<int16_t>(scale_lo)),
              _mm256_set1_epi16(static_cast<int16_t>(scale_hi)));
}

// int32 lanes of sum(x * y) for signed bytes; |x| may be 128, y in [-127, 127].
inline __m512i dot_s8(__m512i x, __m512i y) {
  const __mmask64 negative = _mm512_movepi8_mask(x);
  const __m512i y_signed = _mm512_mask_sub_epi8(y, negative, _mm512_setzero_si512(), y);
  return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(x), y_signed);
}
inline __m256i dot_s8(__m256i x, __m256i y) {
  const __m256i y_signed = _mm256_sign_epi8(y, x);
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(x), y_signed);
}

// Q4_0 digits minus 8 as signed bytes, in block element order.
inline __m256i q4_0_values(const quant::BlockQ4_0& b) {
  return _mm256_sub_epi8(simd::unpack_nibbles16(b.qs), _mm256_set1_epi8(8));
}

float block_scale(const quant::BlockQ4_0& w, const BlockQ8_0& a) {
  return simd::fp16(w.d) * simd::fp16(a.d);
}
float block_scale(const BlockQ8_0& w, const BlockQ8_0& a) {
  return simd::fp16(w.d) * simd::fp16(a.d);
}
__m256i block_values(const quant::BlockQ4_0& w) {
  return q4_0_values(w);
}
__m256i block_values(const BlockQ8_0& w) {
  return simd::load32(w.qs);
}

// Shared Q4_0/Q8_0 loop: 8 int32 lanes per block (256-bit VNNI) and one FMA
// chain over the blocks, the float order of ggml's x86 vec_dot (and of the
// AVX2 kernel), so both ISAs give the same bits.
template <typename Block>
float legacy_dot(int64_t n, const Block* w, const BlockQ8_0* a) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / quant::kQK; ++b) {
    const __m256i isum = dot_s8(block_values(w[b]), simd::load32(a[b].qs));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(block_scale(w[b], a[b])), _mm256_cvtepi32_ps(isum), acc);
  }
  return simd::hsum(acc);
}

}  // namespace

float vec_dot_q8_0(int64_t n, const void* weight_row, const void* act_row) {
  return legacy_dot(n, static_cast<const BlockQ8_0*>(weight_row),
                    static_cast<const BlockQ8_0*>(act_row));
}

float vec_dot_q4_0(int64_t n, const void* weight_row, const void* act_row) {
  return legacy_dot(n, static_cast<const quant::BlockQ4_0*>(weight_row),
                    static_cast<const BlockQ8_0*>(act_row));
}

float vec_dot_q4_k(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const quant::BlockQ4_K*>(weight_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  const __m512i low_nibble = _mm512_set1_epi8(0x0F);
  __m512 acc = _mm512_setzero_ps();
  float min_terms = 0.0f;
  for (int64_t b = 0; b < n / quant::kQK_K; ++b) {
    uint8_t scales[8];
    int min_sum = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t min;
      quant::get_scale_min_k4(j, w[b].scales, &scales[j], &min);
      min_sum += (a[b].bsums[2 * j] + a[b].bsums[2 * j + 1]) * min;
    }
    __m512i isum = _mm512_setzero_si512();
    // 64 bytes of qs hold 128 elements: low nibbles are elements [0,32) and
    // [64,96) of that range, high nibbles [32,64) and [96,128).
    for (int part = 0; part < 2; ++part) {
      const __m512i q = _mm512_loadu_si512(w[b].qs + 64 * part);
      const int8_t* act = a[b].qs + 128 * part;
      const __m512i low = _mm512_and_si512(q, low_nibble);
      const __m512i high = _mm512_and_si512(_mm512_srli_epi16(q, 4), low_nibble);
      const __m512i low_pairs = _mm512_maddubs_epi16(low, load_two(act, act + 64));
      const __m512i high_pairs = _mm512_maddubs_epi16(high, load_two(act + 32, act + 96));
      const int s = 4 * part;
      isum = _mm512_dpwssd_epi32(isum, low_pairs, two_scales_epi16(scales[s], scales[s + 2]));
      isum = _mm512_dpwssd_epi32(isum, high_pairs, two_scales_epi16(scales[s + 1], scales[s + 3]));
    }
    acc =
        _mm512_fmadd_ps(_mm512_set1_ps(simd::fp16(w[b].d) * a[b].d), _mm512_cvtepi32_ps(isum), acc);
    min_terms -= simd::fp16(w[b].dmin) * a[b].d * static_cast<float>(min_sum);
  }
  return _mm512_reduce_add_ps(acc) + min_terms;
}

float vec_dot_q6_k(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const quant::BlockQ6_K*>(weight_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  const __m512i low_nibble = _mm512_set1_epi8(0x0F);
  const __m512i two_bits = _mm512_set1_epi8(0x03);
  const __m512i bias = _mm512_set1_epi8(32);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t b = 0; b < n / quant::kQK_K; ++b) {
    const int8_t* sc = w[b].scales;
    __m512i isum = _mm512_setzero_si512();
    // Per 128-element half: quarter k (32 elements) is nibble k/2 of
    // ql[32*(k%2) + l] and bits 2k..2k+1 of qh[l]; one register holds
    // quarters 0 and 1 (low nibbles) or 2 and 3 (high nibbles).
    for (int half = 0; half < 2; ++half) {
      const __m512i ql = _mm512_loadu_si512(w[b].ql + 64 * half);
      const __m256i qh256 = simd::load32(w[b].qh + 32 * half);
      const __m512i qh = join(qh256, _mm256_srli_epi16(qh256, 2));
      const int8_t* act = a[b].qs + 128 * half;
      for (int nibble = 0; nibble < 2; ++nibble) {
        const __m512i lows = _mm512_and_si512(_mm512_srli_epi16(ql, 4 * nibble), low_nibble);
        const __m512i highs = _mm512_and_si512(_mm512_srli_epi16(qh, 4 * nibble), two_bits);
        const __m512i digits = _mm512_or_si512(lows, _mm512_slli_epi16(highs, 4));
        const __m512i acts = load_two(act + 64 * nibble, act + 64 * nibble + 32);
        const __m512i pairs =
            _mm512_sub_epi16(_mm512_maddubs_epi16(digits, acts), _mm512_maddubs_epi16(bias, acts));
        // Lanes 0-15 (elements 0-15 of quarter 2*nibble) ... per 16 one scale.
        const int g = 8 * half + 4 * nibble;
        const __m512i scales = _mm512_inserti64x4(
            _mm512_zextsi256_si512(
                _mm256_set_m128i(_mm_set1_epi16(sc[g + 1]), _mm_set1_epi16(sc[g]))),
            _mm256_set_m128i(_mm_set1_epi16(sc[g + 3]), _mm_set1_epi16(sc[g + 2])), 1);
        isum = _mm512_dpwssd_epi32(isum, pairs, scales);
      }
    }
    acc =
        _mm512_fmadd_ps(_mm512_set1_ps(simd::fp16(w[b].d) * a[b].d), _mm512_cvtepi32_ps(isum), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

}  // namespace pagoda::kernels::avx512
