#pragma once
// K-quant tile kernels against Q8_K (see matmul_tile_impl.h), one per weight
// type, each following its vec_dot_q*_k in vec_dot_kquant_avx2.cpp: per
// super-block the integer lanes of every token, then per token
// acc = fma(d_w * d_a, lanes, acc) and, for Q2_K/Q4_K/Q5_K, the min terms
// (computed for all tokens in one vector, lane t = token t).
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/matmul_tile_impl.h"
#include "kernels/simd_avx2.h"
#include "quant/blocks.h"

namespace pagoda::kernels::tile {
namespace {

using quant::BlockQ8_K;
using quant::kQK_K;

inline __m256i nibble_mask() {
  return _mm256_set1_epi8(0x0F);
}
inline __m256i two_bit_mask() {
  return _mm256_set1_epi8(0x03);
}

// Bytes of `bits` whose bit `mask` is set -> `value`, others 0 (as vec_dot_kquant_avx2.cpp).
inline __m256i select_bit(__m256i bits, uint8_t mask, int8_t value) {
  const __m256i m = _mm256_set1_epi8(static_cast<char>(mask));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(bits, m), m), _mm256_set1_epi8(value));
}

// int16 scale_lo in lanes 0-7, scale_hi in lanes 8-15 (simd::scale_pairs' operand).
inline __m256i pair_scales(int scale_lo, int scale_hi) {
  return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(scale_hi)),
                          _mm_set1_epi16(static_cast<int16_t>(scale_lo)));
}

// A block's sixteen int16 scales, one per 16-element group: pair(g), for even g, is
// pair_scales(scale[g], scale[g + 1]) made with one shuffle instead of two broadcasts and an insert.
struct GroupScales {
  __m256i low, high;  // scales 0-7 / 8-15 in both 128-bit halves
  explicit GroupScales(__m256i scales16)
      : low(_mm256_permute2x128_si256(scales16, scales16, 0x00)),
        high(_mm256_permute2x128_si256(scales16, scales16, 0x11)) {}
  __m256i pair(int g) const {
    const char w0 = static_cast<char>(2 * (g % 8)), w1 = static_cast<char>(w0 + 1);  // scale g
    const char v0 = static_cast<char>(w0 + 2), v1 = static_cast<char>(w0 + 3);       // scale g + 1
    return _mm256_shuffle_epi8(g < 8 ? low : high,
                               _mm256_setr_epi8(w0, w1, w0, w1, w0, w1, w0, w1, w0, w1, w0, w1, w0, w1, w0, w1, v0,
                                                v1, v0, v1, v0, v1, v0, v1, v0, v1, v0, v1, v0, v1, v0, v1));
  }
};

// The 12 packed bytes of a Q4_K/Q5_K block -> scales[0..7] in bytes 0-7 and
// mins[0..7] in bytes 8-15, the values of quant::get_scale_min_k4 (ggml's
// kmask unpacking, all in registers).
inline __m128i unpack_k4_scales(const uint8_t* packed) {
  uint32_t u[3];
  std::memcpy(u, packed, sizeof(u));
  constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
  const uint32_t scales_lo = u[0] & kLow6;
  const uint32_t scales_hi = (u[2] & kLow4) | (((u[0] >> 6) & kLow2) << 4);
  const uint32_t mins_lo = u[1] & kLow6;
  const uint32_t mins_hi = ((u[2] >> 4) & kLow4) | (((u[1] >> 6) & kLow2) << 4);
  return _mm_set_epi32(static_cast<int>(mins_hi), static_cast<int>(mins_lo),
                       static_cast<int>(scales_hi), static_cast<int>(scales_lo));
}

// Eight 8-bit scales (bytes 0-7 of `packed`) as int16, each ready to broadcast.
struct SubblockScales {
  __m256i both;  // the 8 int16 scales in each 128-bit half
  explicit SubblockScales(__m128i packed)
      : both(_mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(packed))) {}
  // int16 scale j in all 16 lanes (_mm256_set1_epi16(scales[j])).
  __m256i operator[](int j) const {
    const char lo = static_cast<char>(2 * j), hi = static_cast<char>(2 * j + 1);
    return _mm256_shuffle_epi8(
        both, _mm256_setr_epi8(lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo,
                               hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi));
  }
};

// mins (bytes 8-15 of `packed`) with min j in int16 lanes 2j and 2j + 1: one
// min per 16-group, the layout of Q8_K's bsums.
inline __m256i pair_mins(__m128i packed) {
  const __m128i m = _mm_cvtepu8_epi16(_mm_srli_si128(packed, 8));
  return _mm256_set_m128i(_mm_unpackhi_epi16(m, m), _mm_unpacklo_epi16(m, m));
}

// min_terms -= (dmin * a_d) * float(min_sum), lane by lane: the scalar
// `min_terms -= dmin * a.d * float(min_sum)` of vec_dot_q4_k/q5_k (a.d * dmin
// for q2_k: the same product) for all tokens at once.
inline __m256 subtract_min_terms(__m256 min_terms, float dmin, __m256 a_d, __m256i min_sum) {
  const __m256 scaled =
      _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(dmin), a_d), _mm256_cvtepi32_ps(min_sum));
  return _mm256_sub_ps(min_terms, scaled);
}

// Q4_K, and Q5_K with its fifth bit per element from qh.
template <class P, typename Block>
struct Q45K : InPlaceActivations {
  static constexpr bool kFifthBit = std::is_same_v<Block, quant::BlockQ5_K>;

  template <int T>
  static void row(int64_t n, const void* weight_row, const StridedRows& act, float* y,
                  int64_t y_stride) {
    const auto* w = static_cast<const Block*>(weight_row);
    const ActRows<BlockQ8_K, T> a(act);
    __m256 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
    __m256 min_terms = _mm256_setzero_ps();  // lane t: token t's min terms
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      const __m128i scales_mins = unpack_k4_scales(w[b].scales);
      const SubblockScales scales(scales_mins);
      __m256i isum[T];
      for (int t = 0; t < T; ++t) isum[t] = _mm256_setzero_si256();
      for (int j = 0; j < 4; ++j) {
        const __m256i q = simd::load32(w[b].qs + 32 * j);
        __m256i low = _mm256_and_si256(q, nibble_mask());
        __m256i high = _mm256_and_si256(_mm256_srli_epi16(q, 4), nibble_mask());
        if constexpr (kFifthBit) {
          const __m256i fifth = simd::load32(w[b].qh);  // bit k of byte l: element 32k + l
          low = _mm256_or_si256(low, select_bit(fifth, static_cast<uint8_t>(1u << (2 * j)), 16));
          high =
              _mm256_or_si256(high, select_bit(fifth, static_cast<uint8_t>(1u << (2 * j + 1)), 16));
        }
        const __m256i s_low = scales[2 * j], s_high = scales[2 * j + 1];
        for (int t = 0; t < T; ++t) {
          const int8_t* qa = a(t, b).qs + 64 * j;
          isum[t] =
              P::add_scaled_pairs(isum[t], simd::dot_u8_s8_pairs(low, simd::load32(qa)), s_low);
          isum[t] = P::add_scaled_pairs(isum[t], simd::dot_u8_s8_pairs(high, simd::load32(qa + 32)),
                                        s_high);
        }
      }
      const float d = simd::fp16(w[b].d);
      for (int t = 0; t < T; ++t)
        acc[t] =
            _mm256_fmadd_ps(_mm256_set1_ps(d * a(t, b).d), _mm256_cvtepi32_ps(isum[t]), acc[t]);
      // min_sum = sum over 16-groups g of bsums[g] * mins[g / 2].
      const __m256i mins16 = pair_mins(scales_mins);
      __m256i min_lanes[T];
      for (int t = 0; t < T; ++t)
        min_lanes[t] = _mm256_madd_epi16(simd::load32(a(t, b).bsums), mins16);
      min_terms = subtract_min_terms(min_terms, simd::fp16(w[b].dmin), a.scales(b),
                                     lane_totals<T>(min_lanes));
    }
    store<T>(acc, min_terms, y, y_stride);
  }
};

template <class P>
struct Q6K : InPlaceActivations {
  using Block = quant::BlockQ6_K;
  template <int T>
  static void row(int64_t n, const void* weight_row, const StridedRows& act, float* y,
                  int64_t y_stride) {
    const auto* w = static_cast<const Block*>(weight_row);
    const ActRows<BlockQ8_K, T> a(act);
    const __m256i bias = _mm256_set1_epi8(32);
    __m256 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      const GroupScales group_scales(
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].scales))));
      __m256i isum[T];
      for (int t = 0; t < T; ++t) isum[t] = _mm256_setzero_si256();
      for (int half = 0; half < 2; ++half) {
        const __m256i ql0 = simd::load32(w[b].ql + 64 * half);
        const __m256i ql1 = simd::load32(w[b].ql + 64 * half + 32);
        const __m256i qh = simd::load32(w[b].qh + 32 * half);
        const __m256i lows[4] = {_mm256_and_si256(ql0, nibble_mask()),
                                 _mm256_and_si256(ql1, nibble_mask()),
                                 _mm256_and_si256(_mm256_srli_epi16(ql0, 4), nibble_mask()),
                                 _mm256_and_si256(_mm256_srli_epi16(ql1, 4), nibble_mask())};
        for (int k = 0; k < 4; ++k) {
          const __m256i highs = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), two_bit_mask());
          const __m256i digits = _mm256_or_si256(lows[k], _mm256_slli_epi16(highs, 4));
          const __m256i scales = group_scales.pair(8 * half + 2 * k);
          for (int t = 0; t < T; ++t) {
            const __m256i qa = simd::load32(a(t, b).qs + 128 * half + 32 * k);
            // (digit - 32) * a = digit * a - 32 * a, both exact in int16 pairs.
            const __m256i pairs = _mm256_sub_epi16(simd::dot_u8_s8_pairs(digits, qa),
                                                   simd::dot_u8_s8_pairs(bias, qa));
            isum[t] = P::add_scaled_pairs(isum[t], pairs, scales);
          }
        }
      }
      const float d = simd::fp16(w[b].d);
      for (int t = 0; t < T; ++t)
        acc[t] =
            _mm256_fmadd_ps(_mm256_set1_ps(d * a(t, b).d), _mm256_cvtepi32_ps(isum[t]), acc[t]);
    }
    store<T>(acc, y, y_stride);
  }
};

template <class P>
struct Q3K : InPlaceActivations {
  using Block = quant::BlockQ3_K;
  template <int T>
  static void row(int64_t n, const void* weight_row, const StridedRows& act, float* y,
                  int64_t y_stride) {
    const auto* w = static_cast<const Block*>(weight_row);
    const ActRows<BlockQ8_K, T> a(act);
    __m256 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      int8_t sc[16];
      quant::unpack_q3_k_scales(w[b].scales, sc);
      const __m256i hmask = simd::load32(w[b].hmask);
      __m256i isum[T];
      for (int t = 0; t < T; ++t) isum[t] = _mm256_setzero_si256();
      for (int half = 0; half < 2; ++half) {
        const __m256i q3 = simd::load32(w[b].qs + 32 * half);
        for (int k = 0; k < 4; ++k) {
          const __m256i digits = _mm256_and_si256(_mm256_srli_epi16(q3, 2 * k), two_bit_mask());
          // 4 where the high bit is clear: the element is digit - 4.
          const __m256i has_high = select_bit(hmask, static_cast<uint8_t>(1u << (4 * half + k)), 4);
          const __m256i minus = _mm256_xor_si256(has_high, _mm256_set1_epi8(4));
          // Broadcasts from `sc`: GroupScales' vector load right after its byte stores would
          // stall on store forwarding (measured 2x slower at one token).
          const int g = 8 * half + 2 * k;
          const __m256i scales = pair_scales(sc[g], sc[g + 1]);
          for (int t = 0; t < T; ++t) {
            const __m256i qa = simd::load32(a(t, b).qs + 128 * half + 32 * k);
            const __m256i pairs = _mm256_sub_epi16(simd::dot_u8_s8_pairs(digits, qa),
                                                   simd::dot_u8_s8_pairs(minus, qa));
            isum[t] = P::add_scaled_pairs(isum[t], pairs, scales);
          }
        }
      }
      const float d = simd::fp16(w[b].d);
      for (int t = 0; t < T; ++t)
        acc[t] =
            _mm256_fmadd_ps(_mm256_set1_ps(d * a(t, b).d), _mm256_cvtepi32_ps(isum[t]), acc[t]);
    }
    store<T>(acc, y, y_stride);
  }
};

template <class P>
struct Q2K : InPlaceActivations {
  using Block = quant::BlockQ2_K;
  template <int T>
  static void row(int64_t n, const void* weight_row, const StridedRows& act, float* y,
                  int64_t y_stride) {
    const auto* w = static_cast<const Block*>(weight_row);
    const ActRows<BlockQ8_K, T> a(act);
    __m256 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
    __m256 min_terms = _mm256_setzero_ps();  // lane t: token t's min terms
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      const uint8_t* sc = w[b].scales;  // low nibble scale, high nibble min, per 16
      const GroupScales group_scales(_mm256_cvtepu8_epi16(
          _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc)), _mm_set1_epi8(0x0F))));
      __m256i isum[T];
      for (int t = 0; t < T; ++t) isum[t] = _mm256_setzero_si256();
      for (int half = 0; half < 2; ++half) {
        const __m256i q2 = simd::load32(w[b].qs + 32 * half);
        for (int k = 0; k < 4; ++k) {
          const __m256i digits = _mm256_and_si256(_mm256_srli_epi16(q2, 2 * k), two_bit_mask());
          const __m256i scales = group_scales.pair(8 * half + 2 * k);
          for (int t = 0; t < T; ++t) {
            const __m256i qa = simd::load32(a(t, b).qs + 128 * half + 32 * k);
            isum[t] = P::add_scaled_pairs(isum[t], simd::dot_u8_s8_pairs(digits, qa), scales);
          }
        }
      }
      const float d = simd::fp16(w[b].d);
      for (int t = 0; t < T; ++t)
        acc[t] =
            _mm256_fmadd_ps(_mm256_set1_ps(a(t, b).d * d), _mm256_cvtepi32_ps(isum[t]), acc[t]);
      // min_sum = sum over 16-groups g of bsums[g] * (sc[g] >> 4).
      const __m256i mins16 = _mm256_cvtepu8_epi16(
          _mm_and_si128(_mm_srli_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc)), 4),
                        _mm_set1_epi8(0x0F)));
      __m256i min_lanes[T];
      for (int t = 0; t < T; ++t)
        min_lanes[t] = _mm256_madd_epi16(simd::load32(a(t, b).bsums), mins16);
      min_terms = subtract_min_terms(min_terms, simd::fp16(w[b].dmin), a.scales(b),
                                     lane_totals<T>(min_lanes));
    }
    store<T>(acc, min_terms, y, y_stride);
  }
};

}  // namespace
}  // namespace pagoda::kernels::tile
