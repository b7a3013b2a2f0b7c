// K-quants against Q8_K. Per super-block: unsigned weight digits times int8
// activations in int16 pairs (maddubs), times the sub-block scales into 8
// int32 lanes (madd), then one float FMA with d_w * d_a. Signed offsets
// (Q3_K's -4, Q6_K's -32) are subtracted as digit * a sums; mins use bsums.
#include <immintrin.h>

#include "kernels/simd_avx2.h"
#include "kernels/vec_dot_isa.h"
#include "quant/blocks.h"

namespace pagoda::kernels::avx2 {
namespace {

using quant::BlockQ8_K;
using quant::kQK_K;

// Functions, not globals: a global __m256i would be initialized with AVX
// instructions at start-up, before any CPU check.
inline __m256i low_nibble_mask() {
  return _mm256_set1_epi8(0x0F);
}
inline __m256i two_bit_mask() {
  return _mm256_set1_epi8(0x03);
}

// Bytes of `bits` (32 bytes) whose bit `mask` is set -> `value`, others 0.
inline __m256i select_bit(__m256i bits, uint8_t mask, int8_t value) {
  const __m256i m = _mm256_set1_epi8(static_cast<char>(mask));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(bits, m), m), _mm256_set1_epi8(value));
}

// Eight 6-bit scales and the min term sum(bsums * min) of a Q4_K/Q5_K block.
inline int unpack_scales(const uint8_t* packed, const int16_t* bsums, uint8_t scales[8]) {
  int min_sum = 0;
  for (int j = 0; j < 8; ++j) {
    uint8_t min;
    quant::get_scale_min_k4(j, packed, &scales[j], &min);
    min_sum += (bsums[2 * j] + bsums[2 * j + 1]) * min;
  }
  return min_sum;
}

// int32 lanes of sum(scale * digit * a) over one 32-element sub-block of Q4_K/Q5_K.
inline __m256i scaled_subblock(__m256i digits, const int8_t* a, int scale) {
  const __m256i pairs = simd::dot_u8_s8_pairs(digits, simd::load32(a));
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(static_cast<int16_t>(scale)));
}

}  // namespace

float vec_dot_q4_k(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const quant::BlockQ4_K*>(weight_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  __m256 acc = _mm256_setzero_ps();
  float min_terms = 0.0f;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    uint8_t scales[8];
    const int min_sum = unpack_scales(w[b].scales, a[b].bsums, scales);
    __m256i isum = _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
      const __m256i q = simd::load32(w[b].qs + 32 * j);
      const __m256i low = _mm256_and_si256(q, low_nibble_mask());
      const __m256i high = _mm256_and_si256(_mm256_srli_epi16(q, 4), low_nibble_mask());
      isum = _mm256_add_epi32(isum, scaled_subblock(low, a[b].qs + 64 * j, scales[2 * j]));
      isum =
          _mm256_add_epi32(isum, scaled_subblock(high, a[b].qs + 64 * j + 32, scales[2 * j + 1]));
    }
    acc =
        _mm256_fmadd_ps(_mm256_set1_ps(simd::fp16(w[b].d) * a[b].d), _mm256_cvtepi32_ps(isum), acc);
    min_terms -= simd::fp16(w[b].dmin) * a[b].d * static_cast<float>(min_sum);
  }
  return simd::hsum(acc) + min_terms;
}

float vec_dot_q5_k(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const quant::BlockQ5_K*>(weight_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  __m256 acc = _mm256_setzero_ps();
  float min_terms = 0.0f;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    uint8_t scales[8];
    const int min_sum = unpack_scales(w[b].scales, a[b].bsums, scales);
    const __m256i fifth = simd::load32(w[b].qh);  // bit k of byte l: element 32k + l
    __m256i isum = _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
      const __m256i q = simd::load32(w[b].qs + 32 * j);
      const __m256i low =
          _mm256_or_si256(_mm256_and_si256(q, low_nibble_mask()),
                          select_bit(fifth, static_cast<uint8_t>(1u << (2 * j)), 16));
      const __m256i high =
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low_nibble_mask()),
                          select_bit(fifth, static_cast<uint8_t>(1u << (2 * j + 1)), 16));
      isum = _mm256_add_epi32(isum, scaled_subblock(low, a[b].qs + 64 * j, scales[2 * j]));
      isum =
          _mm256_add_epi32(isum, scaled_subblock(high, a[b].qs + 64 * j + 32, scales[2 * j + 1]));
    }
    acc =
        _mm256_fmadd_ps(_mm256_set1_ps(simd::fp16(w[b].d) * a[b].d), _mm256_cvtepi32_ps(isum), acc);
    min_terms -= simd::fp16(w[b].dmin) * a[b].d * static_cast<float>(min_sum);
  }
  return simd::hsum(acc) + min_terms;
}

float vec_dot_q6_k(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const quant::BlockQ6_K*>(weight_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  const __m256i bias = _mm256_set1_epi8(32);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const int8_t* sc = w[b].scales;
    __m256i isum = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      const __m256i ql0 = simd::load32(w[b].ql + 64 * half);
      const __m256i ql1 = simd::load32(w[b].ql + 64 * half + 32);
      const __m256i qh = simd::load32(w[b].qh + 32 * half);
      // Quarter k: nibble k/2 of ql(k%2), bits 2k..2k+1 of qh; digits in [0, 63].
      const __m256i lows[4] = {_mm256_and_si256(ql0, low_nibble_mask()),
                               _mm256_and_si256(ql1, low_nibble_mask()),
                               _mm256_and_si256(_mm256_srli_epi16(ql0, 4), low_nibble_mask()),
                               _mm256_and_si256(_mm256_srli_epi16(ql1, 4), low_nibble_mask())};
      for (int k = 0; k < 4; ++k) {
        const __m256i highs = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), two_bit_mask());
        const __m256i digits = _mm256_or_si256(lows[k], _mm256_slli_epi16(highs, 4));
        const __m256i act = simd::load32(a[b].qs + 128 * half + 32 * k);
        // (digit - 32) * a = digit * a - 32 * a, both exact in int16 pairs.
        const __m256i pairs =
            _mm256_sub_epi16(simd::dot_u8_s8_pairs(digits, act), simd::dot_u8_s8_pairs(bias, act));
        const int g = 8 * half + 2 * k;
        isum = _mm256_add_epi32(isum, simd::scale_pairs(pairs, sc[g], sc[g + 1]));
      }
    }
    acc =
        _mm256_fmadd_ps(_mm256_set1_ps(simd::fp16(w[b].d) * a[b].d), _mm256_cvtepi32_ps(isum), acc);
  }
  return simd::hsum(acc);
}

float vec_dot_q3_k(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const quant::BlockQ3_K*>(weight_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int8_t sc[16];
    quant::unpack_q3_k_scales(w[b].scales, sc);
    const __m256i hmask = simd::load32(w[b].hmask);
    __m256i isum = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      const __m256i q3 = simd::load32(w[b].qs + 32 * half);
      for (int k = 0; k < 4; ++k) {
        const __m256i digits = _mm256_and_si256(_mm256_srli_epi16(q3, 2 * k), two_bit_mask());
        // 4 where the high bit is clear: the element is digit - 4.
        const __m256i has_high = select_bit(hmask, static_cast<uint8_t>(1u << (4 * half + k)), 4);
        const __m256i minus = _mm256_xor_si256(has_high, _mm256_set1_epi8(4));
        const __m256i act = simd::load32(a[b].qs + 128 * half + 32 * k);
        const __m256i pairs =
            _mm256_sub_epi16(simd::dot_u8_s8_pairs(digits, act), simd::dot_u8_s8_pairs(minus, act));
        const int g = 8 * half + 2 * k;
        isum = _mm256_add_epi32(isum, simd::scale_pairs(pairs, sc[g], sc[g + 1]));
      }
    }
    acc =
        _mm256_fmadd_ps(_mm256_set1_ps(simd::fp16(w[b].d) * a[b].d), _mm256_cvtepi32_ps(isum), acc);
  }
  return simd::hsum(acc);
}

float vec_dot_q2_k(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const quant::BlockQ2_K*>(weight_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  __m256 acc = _mm256_setzero_ps();
  float min_terms = 0.0f;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const uint8_t* sc = w[b].scales;  // low nibble scale, high nibble min, per 16
    int min_sum = 0;
    for (int g = 0; g < 16; ++g) min_sum += a[b].bsums[g] * (sc[g] >> 4);
    __m256i isum = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      const __m256i q2 = simd::load32(w[b].qs + 32 * half);
      for (int k = 0; k < 4; ++k) {
        const __m256i digits = _mm256_and_si256(_mm256_srli_epi16(q2, 2 * k), two_bit_mask());
        const __m256i pairs =
            simd::dot_u8_s8_pairs(digits, simd::load32(a[b].qs + 128 * half + 32 * k));
        const int g = 8 * half + 2 * k;
        isum = _mm256_add_epi32(isum, simd::scale_pairs(pairs, sc[g] & 0xF, sc[g + 1] & 0xF));
      }
    }
    const float d_all = a[b].d * simd::fp16(w[b].d);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d_all), _mm256_cvtepi32_ps(isum), acc);
    min_terms -= a[b].d * simd::fp16(w[b].dmin) * static_cast<float>(min_sum);
  }
  return simd::hsum(acc) + min_terms;
}

}  // namespace pagoda::kernels::avx2
