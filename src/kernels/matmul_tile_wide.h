#pragma once
// 512-bit tile kernels (see matmul_tile_impl.h) for AVX-512 BW + VNNI: the
// same outputs, bit for bit, as the 256-bit tiles of matmul_tile_kquant.h and
// matmul_tile_legacy.h, with half the integer instructions per token.
//
// Two layouts put 64 bytes of one token's work in one zmm register:
//  - K-quants: two consecutive 32-element chunks of one token (a Q4_K/Q5_K
//    sub-block pair, two Q6_K/Q2_K chunk pairs). The weight digits of both
//    chunks are decoded into one register, the activations are one 64-byte
//    load, and vpdpwssd applies each 16-group's scale. At the end of a block
//    the two 256-bit halves are added: int32 lane l then holds exactly the
//    integer sum of the 256-bit kernels' lane l (integer adds in another
//    order), so the float steps after it are unchanged.
//  - Q4_0/Q8_0: two tokens of one block (adjacent in the packed group), the
//    block's values in both halves. Each half is one token's 8 float lanes,
//    with that token's exact FMA chain; the halves never mix.
// Include only from the AVX-512 translation unit.
#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "kernels/matmul_tile_kquant.h"
#include "kernels/matmul_tile_legacy.h"

// GCC 12's AVX-512 headers pass an undefined vector to their own masked builtins,
// which -Wuninitialized reports at every use (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace pagoda::kernels::tile::wide {
namespace {

inline __m512i nibble_mask() {
  return _mm512_set1_epi8(0x0F);
}
inline __m512i two_bit_mask() {
  return _mm512_set1_epi8(0x03);
}

// 32 bytes in both 256-bit halves.
inline __m512i both_halves(const void* p) {
  return _mm512_broadcast_i64x4(simd::load32(p));
}
inline __m512i both_halves(__m256i v) {
  return _mm512_broadcast_i64x4(v);
}

// Bytes of v shifted right by `low` bits in the low half and `high` in the high half
// (64-bit shifts: callers mask each byte afterwards, so bits crossing bytes are dropped).
inline __m512i shift_halves(__m512i v, int low, int high) {
  return _mm512_srlv_epi64(v, _mm512_setr_epi64(low, low, low, low, high, high, high, high));
}

inline __m512i load64(const void* p) {
  return _mm512_loadu_si512(p);
}

// int16 lanes: 8-lane runs of scales[first], scales[first + 1], scales[first + 2], scales[first + 3]
// (four 16-element groups: one zmm of u8 x s8 pairs). `scales` holds int16 scales in lanes 0-15.
inline __m512i group_scales4(__m512i scales, int first) {
  const __m512i index = _mm512_set_epi16(
      first + 3, first + 3, first + 3, first + 3, first + 3, first + 3, first + 3, first + 3,  //
      first + 2, first + 2, first + 2, first + 2, first + 2, first + 2, first + 2, first + 2,  //
      first + 1, first + 1, first + 1, first + 1, first + 1, first + 1, first + 1, first + 1,  //
      first, first, first, first, first, first, first, first);
  return _mm512_permutexvar_epi16(index, scales);
}

// One int16 scale per 256-bit half: scales[first] in the low half, scales[first + 1] in the high.
inline __m512i half_scales(__m512i scales, int first) {
  const __m512i index = _mm512_inserti64x4(_mm512_set1_epi16(static_cast<int16_t>(first)),
                                           _mm256_set1_epi16(static_cast<int16_t>(first + 1)), 1);
  return _mm512_permutexvar_epi16(index, scales);
}

// The 8 int32 lanes of the 256-bit kernels: low half + high half.
inline __m256i fold(__m512i v) {
  return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

// acc[t] = fma(d_w * d_a(t), float(isum(t)), acc[t]): the per-block float step of every K-quant.
template <int T>
inline void add_block(__m256 (&acc)[T], const __m512i (&isum)[T], float d, const ActRows<BlockQ8_K, T>& a,
                      int64_t b) {
  for (int t = 0; t < T; ++t)
    acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * a(t, b).d), _mm256_cvtepi32_ps(fold(isum[t])), acc[t]);
}

// A token group's Q8_K activations packed once per group in tile_scratch, token t in lane t
// (zeros above the group's count):
//   qs     [n_blocks][4][8][64] int8: chunk c (elements 64c ...) of token t, cache-line aligned.
//          In place, a block's qs start 4 bytes into its 292-byte block, so nearly every
//          64-byte load would span two cache lines (half the load rate).
//   d      [n_blocks][8] float: the token's activation scale.
//   bsum32 [n_blocks][4][8][2] int16: [b][m][t][i] = bsums[4m + 2i] + bsums[4m + 2i + 1], the
//          activation sum of sub-block 2m + i, next to its partner so that one vpdpwssd against
//          (min[2m], min[2m + 1]) gives every token's two products at once (Q4_K/Q5_K mins).
// `rows` keeps the rows in place for what is read once per block (Q2_K's bsums).
struct Q8KGroup {
  StridedRows rows;
  const int8_t* qs;
  const float* d;
  const int16_t* bsum32;
  const int8_t* chunk(int64_t b, int c, int t) const { return qs + ((b * 4 + c) * kMaxTokens + t) * 64; }
};

struct PackedQ8K {
  using Group = Q8KGroup;
  static Group group(int64_t n, const uint8_t* act, size_t act_stride, int count) {
    const int64_t n_blocks = n / kQK_K;
    const size_t qs_bytes = static_cast<size_t>(n_blocks) * kQK_K * kMaxTokens;  // a multiple of 64
    const size_t d_bytes = static_cast<size_t>(n_blocks) * kMaxTokens * sizeof(float);
    uint8_t* scratch = tile_scratch(qs_bytes + d_bytes + static_cast<size_t>(n_blocks) * 64 * sizeof(int16_t));
    auto* qs = reinterpret_cast<int8_t*>(scratch);
    auto* d = reinterpret_cast<float*>(scratch + qs_bytes);
    auto* bsum32 = reinterpret_cast<int16_t*>(scratch + qs_bytes + d_bytes);
    for (int64_t b = 0; b < n_blocks; ++b) {
      for (int t = 0; t < kMaxTokens; ++t) {
        const BlockQ8_K* block =
            t < count ? reinterpret_cast<const BlockQ8_K*>(act + t * act_stride) + b : nullptr;
        d[b * kMaxTokens + t] = block != nullptr ? block->d : 0.0f;
        for (int m = 0; m < 4; ++m)
          for (int i = 0; i < 2; ++i)
            bsum32[((b * 4 + m) * kMaxTokens + t) * 2 + i] =
                block != nullptr
                    ? static_cast<int16_t>(block->bsums[4 * m + 2 * i] + block->bsums[4 * m + 2 * i + 1])
                    : int16_t{0};
        if (block == nullptr) continue;
        for (int c = 0; c < 4; ++c)
          _mm512_store_si512(qs + ((b * 4 + c) * kMaxTokens + t) * 64, load64(block->qs + 64 * c));
      }
    }
    return {{act, act_stride}, qs, d, bsum32};
  }
};

// Q4_K, and Q5_K with its fifth bit per element from qh (Q45K's outputs).
template <typename Block>
struct Q45K : PackedQ8K {
  static constexpr bool kFifthBit = std::is_same_v<Block, quant::BlockQ5_K>;

  template <int T>
  static void row(int64_t n, const void* weight_row, const Q8KGroup& g, float* y, int64_t y_stride) {
    const auto* w = static_cast<const Block*>(weight_row);
    const ActRows<BlockQ8_K, T> a(g.rows);
    // Lanes 0-7 pick int32 lane 0 (m = 0 or 2), lanes 8-15 lane 1 (m = 1 or 3) of the widened mins.
    const __m512i low_pair = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi32(1), 1);
    const __m512i high_pair = _mm512_add_epi32(low_pair, _mm512_set1_epi32(2));
    __m256 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
    __m256 min_terms = _mm256_setzero_ps();  // lane t: token t's min terms
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      const __m128i scales_mins = unpack_k4_scales(w[b].scales);
      const __m512i scales = _mm512_zextsi256_si512(_mm256_cvtepu8_epi16(scales_mins));  // lanes 0-7
      __m512i fifth;
      if constexpr (kFifthBit) fifth = both_halves(w[b].qh);  // bit k of byte l: element 32k + l
      __m512i isum[T];
      for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
      for (int j = 0; j < 4; ++j) {
        // Sub-block 2j (low nibbles) in the low half, 2j + 1 (high nibbles) in the high half:
        // the order of the token's 64 activations a.qs[64j ...].
        __m512i digits = _mm512_and_si512(shift_halves(both_halves(w[b].qs + 32 * j), 0, 4), nibble_mask());
        if constexpr (kFifthBit) {
          const __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1u << (2 * j))),
                                                 _mm256_set1_epi8(static_cast<char>(1u << (2 * j + 1))), 1);
          digits = _mm512_mask_add_epi8(digits, _mm512_test_epi8_mask(fifth, bit), digits, _mm512_set1_epi8(16));
        }
        const __m512i s = half_scales(scales, 2 * j);
        for (int t = 0; t < T; ++t)
          isum[t] = _mm512_dpwssd_epi32(isum[t], _mm512_maddubs_epi16(digits, _mm512_load_si512(g.chunk(b, j, t))), s);
      }
      const __m256 a_d = _mm256_load_ps(g.d + b * kMaxTokens);  // lane t: token t's d
      const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(simd::fp16(w[b].d)), a_d);
      for (int t = 0; t < T; ++t)
        acc[t] = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(scale, _mm256_set1_epi32(t)),
                                 _mm256_cvtepi32_ps(fold(isum[t])), acc[t]);
      // min_sum(t) = sum over sub-blocks j of (bsums[2j] + bsums[2j + 1]) * mins[j]: int32 lane m of
      // `mins` holds (mins[2m], mins[2m + 1]) as an int16 pair.
      const __m512i mins = _mm512_zextsi128_si512(_mm_cvtepu8_epi16(_mm_srli_si128(scales_mins, 8)));
      const int16_t* sums = g.bsum32 + b * 64;  // [4][8][2]
      const __m512i min_lanes = _mm512_dpwssd_epi32(
          _mm512_madd_epi16(load64(sums), _mm512_permutexvar_epi32(low_pair, mins)), load64(sums + 32),
          _mm512_permutexvar_epi32(high_pair, mins));
      min_terms = subtract_min_terms(min_terms, simd::fp16(w[b].dmin), a_d, fold(min_lanes));
    }
    store<T>(acc, min_terms, y, y_stride);
  }
};

// Q6_K (Q6K's outputs): per half-block, chunks k = 0, 1 and k = 2, 3 of 32 elements each.
struct Q6K : PackedQ8K {
  using Block = quant::BlockQ6_K;
  template <int T>
  static void row(int64_t n, const void* weight_row, const Q8KGroup& g, float* y, int64_t y_stride) {
    const auto* w = static_cast<const Block*>(weight_row);
    const ActRows<BlockQ8_K, T> a(g.rows);
    const __m512i bias = _mm512_set1_epi8(32);
    __m256 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      const __m512i scales = _mm512_zextsi256_si512(
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].scales))));
      __m512i isum[T];
      for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
      for (int half = 0; half < 2; ++half) {
        const __m512i ql = load64(w[b].ql + 64 * half);  // chunk k = 0 | 1 in the low nibbles, 2 | 3 high
        const __m512i qh = both_halves(w[b].qh + 32 * half);
        for (int p = 0; p < 2; ++p) {
          const __m512i lows = _mm512_and_si512(p == 0 ? ql : _mm512_srli_epi16(ql, 4), nibble_mask());
          const __m512i highs = _mm512_and_si512(shift_halves(qh, 4 * p, 4 * p + 2), two_bit_mask());
          const __m512i digits = _mm512_or_si512(lows, _mm512_slli_epi16(highs, 4));
          const __m512i s = group_scales4(scales, 8 * half + 4 * p);
          for (int t = 0; t < T; ++t) {
            const __m512i qa = _mm512_load_si512(g.chunk(b, 2 * half + p, t));
            // (digit - 32) * a = digit * a - 32 * a, both exact in int16 pairs.
            const __m512i pairs = _mm512_sub_epi16(_mm512_maddubs_epi16(digits, qa), _mm512_maddubs_epi16(bias, qa));
            isum[t] = _mm512_dpwssd_epi32(isum[t], pairs, s);
          }
        }
      }
      add_block<T>(acc, isum, simd::fp16(w[b].d), a, b);
    }
    store<T>(acc, y, y_stride);
  }
};

// Q2_K (Q2K's outputs): per half-block, chunks k = 0, 1 and k = 2, 3 of 32 elements each.
struct Q2K : PackedQ8K {
  using Block = quant::BlockQ2_K;
  template <int T>
  static void row(int64_t n, const void* weight_row, const Q8KGroup& g, float* y, int64_t y_stride) {
    const auto* w = static_cast<const Block*>(weight_row);
    const ActRows<BlockQ8_K, T> a(g.rows);
    __m256 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
    __m256 min_terms = _mm256_setzero_ps();  // lane t: token t's min terms
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].scales));  // scale | min << 4
      const __m512i scales = _mm512_zextsi256_si512(_mm256_cvtepu8_epi16(_mm_and_si128(sc, _mm_set1_epi8(0x0F))));
      __m512i isum[T];
      for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
      for (int half = 0; half < 2; ++half) {
        const __m512i q2 = both_halves(w[b].qs + 32 * half);
        for (int p = 0; p < 2; ++p) {
          const __m512i digits = _mm512_and_si512(shift_halves(q2, 4 * p, 4 * p + 2), two_bit_mask());
          const __m512i s = group_scales4(scales, 8 * half + 4 * p);
          for (int t = 0; t < T; ++t)
            isum[t] = _mm512_dpwssd_epi32(
                isum[t], _mm512_maddubs_epi16(digits, _mm512_load_si512(g.chunk(b, 2 * half + p, t))), s);
        }
      }
      const float d = simd::fp16(w[b].d);
      for (int t = 0; t < T; ++t)  // Q2K's order of the scale product: a.d * d
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(a(t, b).d * d), _mm256_cvtepi32_ps(fold(isum[t])), acc[t]);
      // min_sum = sum over 16-groups g of bsums[g] * (sc[g] >> 4).
      const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc, 4), _mm_set1_epi8(0x0F)));
      __m256i min_lanes[T];
      for (int t = 0; t < T; ++t) min_lanes[t] = _mm256_madd_epi16(simd::load32(a(t, b).bsums), mins16);
      min_terms = subtract_min_terms(min_terms, simd::fp16(w[b].dmin), a.scales(b), lane_totals<T>(min_lanes));
    }
    store<T>(acc, min_terms, y, y_stride);
  }
};

// Q4_0 / Q8_0 (Legacy's outputs): tokens 2i and 2i + 1 share one zmm, an odd last token
// takes the 256-bit step.
template <typename WeightBlock>
struct Legacy {
  using Group = PackedQ8_0;
  static Group group(int64_t n, const uint8_t* act, size_t act_stride, int count) {
    return pack_q8_0(n, act, act_stride, count);
  }

  template <int T>
  static void row(int64_t n, const void* weight_row, const PackedQ8_0& a, float* y, int64_t y_stride) {
    constexpr int kPairs = T / 2;
    constexpr bool kOdd = T % 2 == 1;
    const auto* w = static_cast<const WeightBlock*>(weight_row);
    __m512 acc[kPairs + 1];  // [i]: tokens 2i (low half) and 2i + 1 (high half); [kPairs]: an odd last token
    for (__m512& v : acc) v = _mm512_setzero_ps();
    // Scale lanes: token 2i's in the low half, 2i + 1's in the high half.
    const __m512i pair_index = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi32(1), 1);
    for (int64_t b = 0; b < n / kQK; ++b) {
      const __m256i x = legacy_values(w[b]);
      const __m512i abs_x = both_halves(_mm256_abs_epi8(x));
      const __mmask64 negative = _mm512_movepi8_mask(both_halves(x));
      const __m512 d = _mm512_set1_ps(simd::fp16(w[b].d));
      const int8_t* qa = a.qs + b * T * kQK;
      const float* da = a.d + b * T;
      for (int i = 0; i < kPairs; ++i) {
        const __m512i y2 = load64(qa + 2 * i * kQK);
        // |x| * (y with x's sign) == x * y; y = -y cannot overflow ([-127, 127]).
        const __m512i signed_y = _mm512_mask_sub_epi8(y2, negative, _mm512_setzero_si512(), y2);
        const __m512i isum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), abs_x, signed_y);
        const __m512 scale = _mm512_mul_ps(
            d, _mm512_permutexvar_ps(pair_index, _mm512_zextps128_ps512(_mm_castsi128_ps(
                                                     _mm_loadl_epi64(reinterpret_cast<const __m128i*>(da + 2 * i))))));
        acc[i] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(isum), acc[i]);
      }
      if constexpr (kOdd) {
        const __m256i isum = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(x),
                                                 _mm256_sign_epi8(simd::load32(qa + (T - 1) * kQK), x));
        const __m256 last = _mm256_fmadd_ps(_mm256_set1_ps(simd::fp16(w[b].d) * da[T - 1]), _mm256_cvtepi32_ps(isum),
                                            _mm512_castps512_ps256(acc[kPairs]));
        acc[kPairs] = _mm512_zextps256_ps512(last);
      }
    }
    for (int i = 0; i < kPairs; ++i) {
      y[(2 * i) * y_stride] = simd::hsum(_mm512_castps512_ps256(acc[i]));
      y[(2 * i + 1) * y_stride] = simd::hsum(_mm512_extractf32x8_ps(acc[i], 1));
    }
    if constexpr (kOdd) y[(T - 1) * y_stride] = simd::hsum(_mm512_castps512_ps256(acc[kPairs]));
  }
};

}  // namespace
}  // namespace pagoda::kernels::tile::wide

#pragma GCC diagnostic pop
