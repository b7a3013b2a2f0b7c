#pragma once
// 512-bit tile kernels (see matmul_tile_impl.h) for AVX-512 BW + VNNI: the
// same outputs, bit for bit, as the 256-bit tiles of matmul_tile_kquant.h and
// matmul_tile_q8_0.h, with about half the instructions per token. One token (decode) is not
// packed: Q4_K/Q5_K take OneTokenQ45K, the others the 256-bit kernels.
// Q4_0 is in matmul_tile_q4_0_wide.h.
//
// A token group's activations are packed once per sweep (cache-line aligned,
// biased to u8 a + 128 so that vpdpbusd takes them as its unsigned operand;
// the weight-only bias term, 128 * the lane's scaled digit sums, is
// subtracted once per block). Two consecutive 32-element chunks of one token
// share a zmm (K-quants) or two tokens of one block do (Q8_0). K-quants: two
// such registers' 4-element sums share one int32 lane as an int16 pair, and
// one vpdpwssd applies both scales. At the end of a block the two 256-bit
// halves are added: int32 lane l then holds exactly the integer sum of the
// 256-bit kernels' lane l (integer adds in another order), so the float steps
// after it (token pairs per zmm) are unchanged. Q8_0: each half is one
// token's 8 float lanes, with that token's exact FMA chain; the halves never mix.
// Every integer step states the range that keeps it exact.
// Include only from the AVX-512 translation unit.
#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "kernels/matmul_tile_kquant.h"
#include "kernels/matmul_tile_q8_0.h"

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

// Two chunks' 4-element sums in each int32 lane, as an int16 pair: lane = first + 65536 * second
// where first = sum of 4 products u_first * s_first (vpdpbusd), the same for second. Exact and
// readable by vpdpwssd as (first, second) when both sums lie in [0, 2^15): the callers' u8 are
// activations biased to a + 128 (or ones) and their s8 digits are at most 31, so each sum is at
// most 4 * 255 * 31 < 2^15. One vpdpwssd then adds both scaled sums: 3 multiplies per 128
// elements where maddubs + vpdpwssd take 4.
inline __m512i two_chunk_sums(__m512i u_first, __m512i s_first, __m512i u_second, __m512i s_second) {
  const __m512i second = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u_second, s_second);
  return _mm512_dpbusd_epi32(_mm512_slli_epi32(second, 16), u_first, s_first);
}

// Scales for the chunk pair (j, j + 1) of Q4_K/Q5_K, `first` = 2j: int16 pairs
// (scales[first], scales[first + 2]) in the low half, (scales[first + 1], scales[first + 3]) in the high.
inline __m512i interleaved_scales(__m512i scales, int first) {
  const __m512i index = _mm512_inserti64x4(
      _mm512_set1_epi32(first | (first + 2) << 16), _mm256_set1_epi32((first + 1) | (first + 3) << 16), 1);
  return _mm512_permutexvar_epi16(index, scales);
}

// The 8 int32 lanes of the 256-bit kernels: low half + high half.
inline __m256i fold(__m512i v) {
  return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

// The float accumulators of T tokens, two per zmm: token 2i in the low half of acc[i], token
// 2i + 1 in the high half (an odd last token alone in the low half). Each half is that token's
// 8 float lanes of the 256-bit kernels, with exactly their float operations.
template <int T>
struct TokenPairAccumulators {
  static constexpr int kVectors = (T + 1) / 2;
  __m512 acc[kVectors];

  TokenPairAccumulators() {
    for (__m512& v : acc) v = _mm512_setzero_ps();
  }

  // Every token t: acc(t) = fma(scale lane t, float(fold(isum[t])), acc(t)), where `scale` lane t
  // is d_w * d_a(t): the per-block float step of every K-quant. Tokens 2i and 2i + 1 are folded,
  // converted and accumulated together.
  void add_block(const __m512i (&isum)[T], __m256 scale) {
    const __m512 scales = _mm512_zextps256_ps512(scale);
    for (int i = 0; i < T / 2; ++i) {
      const __m512i index = _mm512_inserti64x4(_mm512_set1_epi32(2 * i), _mm256_set1_epi32(2 * i + 1), 1);
      const __m512i low_halves = _mm512_shuffle_i64x2(isum[2 * i], isum[2 * i + 1], 0x44);
      const __m512i high_halves = _mm512_shuffle_i64x2(isum[2 * i], isum[2 * i + 1], 0xEE);
      acc[i] = _mm512_fmadd_ps(_mm512_permutexvar_ps(index, scales),
                               _mm512_cvtepi32_ps(_mm512_add_epi32(low_halves, high_halves)), acc[i]);
    }
    if constexpr (T % 2 == 1) {
      const __m256 last = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(scale, _mm256_set1_epi32(T - 1)),
                                          _mm256_cvtepi32_ps(fold(isum[T - 1])), _mm512_castps512_ps256(acc[T / 2]));
      acc[T / 2] = _mm512_zextps256_ps512(last);
    }
  }

  // Token t's 8 lanes.
  __m256 lanes(int t) const {
    return t % 2 == 0 ? _mm512_castps512_ps256(acc[t / 2]) : _mm512_extractf32x8_ps(acc[t / 2], 1);
  }
  // The final reduction of vec_dot_*_avx2: hsum of the lanes, then the min terms (lane t).
  void store(float* y, int64_t y_stride) const {
    for (int t = 0; t < T; ++t) y[t * y_stride] = simd::hsum(lanes(t));
  }
  void store(__m256 min_terms, float* y, int64_t y_stride) const {
    alignas(32) float mins[kMaxTokens];
    _mm256_store_ps(mins, min_terms);
    for (int t = 0; t < T; ++t) y[t * y_stride] = simd::hsum(lanes(t)) + mins[t];
  }
};

// Lane t: d_w * d_a(t), the block's float scale of token t (`d` holds d_a in lanes 0-7).
inline __m256 block_scales(float d_w, const float* d) {
  return _mm256_mul_ps(_mm256_set1_ps(d_w), _mm256_load_ps(d));
}

// A token group's Q8_K activations packed once per group in tile_scratch, token t in lane t
// (zeros above the group's count):
//   qs     [n_blocks][4][count][64] u8: chunk c (elements 64c ...) of token t, biased to a + 128
//          (a XOR 0x80), cache-line aligned.
//          In place, a block's qs start 4 bytes into its 292-byte block, so nearly every
//          64-byte load would span two cache lines (half the load rate).
//   d      [n_blocks][8] float: the token's activation scale.
//   bsum32 [n_blocks][4][8][2] int16: [b][m][t][i] = bsums[4m + 2i] + bsums[4m + 2i + 1], the
//          activation sum of sub-block 2m + i, next to its partner so that one vpdpwssd against
//          (min[2m], min[2m + 1]) gives every token's two products at once (Q4_K/Q5_K mins).
// `rows` keeps the rows in place for what is read once per block (Q2_K's bsums).
struct Q8KGroup {
  StridedRows rows;
  const uint8_t* qs;
  const float* d;
  const int16_t* bsum32;
  int count;  // tokens in the group: qs holds exactly these (a group of 2 stays as compact as 2 rows)
  const uint8_t* chunk(int64_t b, int c, int t) const { return qs + ((b * 4 + c) * count + t) * 64; }
};

// A single token (decode) is not packed: WithOneToken hands it to a OneToken kernel,
// which reads it in place and has no per-block bias term to amortize (tg128 38 -> 42-43 t/s on
// the 1.1B Q4_K_M, BENCHMARKS.md).
struct PackedQ8K {
  using Group = Q8KGroup;
  // Tile scratch bytes of group(n, ..., count).
  static size_t scratch_bytes(int64_t n, int count) {
    if (count == 1) return 0;
    return static_cast<size_t>(n / kQK_K) * (kQK_K * count + kMaxTokens * sizeof(float) + 64 * sizeof(int16_t));
  }

  static Group group(int64_t n, const uint8_t* act, size_t act_stride, int count) {
    if (count == 1) return {{act, act_stride}, nullptr, nullptr, nullptr, 1};  // OneToken reads in place
    const int64_t n_blocks = n / kQK_K;
    const size_t qs_bytes = static_cast<size_t>(n_blocks) * kQK_K * count;  // a multiple of 64
    const size_t d_bytes = static_cast<size_t>(n_blocks) * kMaxTokens * sizeof(float);
    uint8_t* scratch = tile_scratch(scratch_bytes(n, count));
    uint8_t* qs = scratch;
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
          _mm512_store_si512(qs + ((b * 4 + c) * count + t) * 64,
                             _mm512_xor_si512(load64(block->qs + 64 * c), _mm512_set1_epi8(-128)));
      }
    }
    return {{act, act_stride}, qs, d, bsum32, count};
  }
};

// A wide K-quant kernel (Q45K, Q6K, Q2K: groups of 2 or more tokens) with OneToken for a single
// token, which reads the activations in place: packing and the per-block bias term do not pay for
// one token (decode).
template <class Wide, class OneToken>
struct WithOneToken : PackedQ8K {
  template <int T>
  static void row(int64_t n, const void* weight_row, const Q8KGroup& g, float* y, int64_t y_stride) {
    if constexpr (T == 1)
      OneToken::template row<1>(n, weight_row, g.rows, y, y_stride);
    else
      Wide::template row<T>(n, weight_row, g, y, y_stride);
  }
};

// One sub-block scale per 256-bit half: scales[first] in the low half, scales[first + 1] in the high.
inline __m512i half_scales(__m512i scales, int first) {
  const __m512i index = _mm512_inserti64x4(_mm512_set1_epi16(static_cast<int16_t>(first)),
                                           _mm256_set1_epi16(static_cast<int16_t>(first + 1)), 1);
  return _mm512_permutexvar_epi16(index, scales);
}

// One token (decode) of Q4_K/Q5_K on zmm with the activations in place: vec_dot_q4_k's /
// vec_dot_q5_k's steps, chunk j's two sub-blocks in one register (maddubs + vpdpwssd), the halves
// folded per block. No packing and no bias term: one token would not amortize them.
template <typename Block>
struct OneTokenQ45K {
  static constexpr bool kFifthBit = std::is_same_v<Block, quant::BlockQ5_K>;
  template <int T>
  static void row(int64_t n, const void* weight_row, const StridedRows& act, float* y, int64_t /*y_stride*/) {
    static_assert(T == 1);
    const auto* w = static_cast<const Block*>(weight_row);
    const auto* a = reinterpret_cast<const BlockQ8_K*>(act.base);
    __m256 acc = _mm256_setzero_ps();
    float min_terms = 0.0f;
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      const __m128i scales_mins = unpack_k4_scales(w[b].scales);
      const __m512i scales = _mm512_zextsi256_si512(_mm256_cvtepu8_epi16(scales_mins));  // lanes 0-7
      __m512i fifth;
      if constexpr (kFifthBit) fifth = both_halves(w[b].qh);  // bit k of byte l: element 32k + l
      __m512i isum = _mm512_setzero_si512();
      for (int j = 0; j < 4; ++j) {
        __m512i digits = _mm512_and_si512(shift_halves(both_halves(w[b].qs + 32 * j), 0, 4), nibble_mask());
        if constexpr (kFifthBit) {
          const __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1u << (2 * j))),
                                                 _mm256_set1_epi8(static_cast<char>(1u << (2 * j + 1))), 1);
          digits = _mm512_mask_add_epi8(digits, _mm512_test_epi8_mask(fifth, bit), digits, _mm512_set1_epi8(16));
        }
        // |digit * a| pairs <= 2 * 31 * 127: maddubs cannot saturate.
        isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(digits, load64(a[b].qs + 64 * j)),
                                   half_scales(scales, 2 * j));
      }
      acc = _mm256_fmadd_ps(_mm256_set1_ps(simd::fp16(w[b].d) * a[b].d), _mm256_cvtepi32_ps(fold(isum)), acc);
      const int min_sum = simd::hsum_epi32(_mm256_madd_epi16(simd::load32(a[b].bsums), pair_mins(scales_mins)));
      min_terms -= simd::fp16(w[b].dmin) * a[b].d * static_cast<float>(min_sum);
    }
    *y = simd::hsum(acc) + min_terms;
  }
};

// Q4_K, and Q5_K with its fifth bit per element from qh (Q45K's outputs).
template <typename Block>
struct Q45K {
  static constexpr bool kFifthBit = std::is_same_v<Block, quant::BlockQ5_K>;

  template <int T>
  static void row(int64_t n, const void* weight_row, const Q8KGroup& g, float* y, int64_t y_stride) {
    static_assert(T >= 2, "one token goes to WithOneToken's OneToken kernel");
    const auto* w = static_cast<const Block*>(weight_row);
    // Lanes 0-7 pick int32 lane 0 (m = 0 or 2), lanes 8-15 lane 1 (m = 1 or 3) of the widened mins.
    const __m512i low_pair = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi32(1), 1);
    const __m512i high_pair = _mm512_add_epi32(low_pair, _mm512_set1_epi32(2));
    TokenPairAccumulators<T> acc;
    __m256 min_terms = _mm256_setzero_ps();  // lane t: token t's min terms
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      const __m128i scales_mins = unpack_k4_scales(w[b].scales);
      const __m512i scales = _mm512_zextsi256_si512(_mm256_cvtepu8_epi16(scales_mins));  // lanes 0-7
      __m512i fifth;
      if constexpr (kFifthBit) fifth = both_halves(w[b].qh);  // bit k of byte l: element 32k + l
      // Chunk j: sub-block 2j (low nibbles) in the low half, 2j + 1 (high nibbles) in the high
      // half, the order of the token's 64 activations (chunk j of the packed group).
      __m512i digits[4];
      for (int j = 0; j < 4; ++j) {
        digits[j] = _mm512_and_si512(shift_halves(both_halves(w[b].qs + 32 * j), 0, 4), nibble_mask());
        if constexpr (kFifthBit) {
          const __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1u << (2 * j))),
                                                 _mm256_set1_epi8(static_cast<char>(1u << (2 * j + 1))), 1);
          digits[j] = _mm512_mask_add_epi8(digits[j], _mm512_test_epi8_mask(fifth, bit), digits[j], _mm512_set1_epi8(16));
        }
      }
      const __m512i pair_scales[2] = {interleaved_scales(scales, 0), interleaved_scales(scales, 4)};
      // The activations are biased by +128: each lane gets 128 * (its scaled digit sums) extra,
      // which depends on the weights only. isum starts at minus that.
      __m512i bias = _mm512_setzero_si512();
      for (int j = 0; j < 4; j += 2)
        bias = _mm512_dpwssd_epi32(bias, two_chunk_sums(_mm512_set1_epi8(1), digits[j], _mm512_set1_epi8(1), digits[j + 1]),
                                   pair_scales[j / 2]);
      bias = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(bias, 7));
      __m512i isum[T];
      for (int t = 0; t < T; ++t) isum[t] = bias;
      for (int j = 0; j < 4; j += 2)
        for (int t = 0; t < T; ++t)
          isum[t] = _mm512_dpwssd_epi32(isum[t],
                                        two_chunk_sums(_mm512_load_si512(g.chunk(b, j, t)), digits[j],
                                                       _mm512_load_si512(g.chunk(b, j + 1, t)), digits[j + 1]),
                                        pair_scales[j / 2]);
      const __m256 a_d = _mm256_load_ps(g.d + b * kMaxTokens);  // lane t: token t's d
      acc.add_block(isum, _mm256_mul_ps(_mm256_set1_ps(simd::fp16(w[b].d)), a_d));
      // min_sum(t) = sum over sub-blocks j of (bsums[2j] + bsums[2j + 1]) * mins[j]: int32 lane m of
      // `mins` holds (mins[2m], mins[2m + 1]) as an int16 pair.
      const __m512i mins = _mm512_zextsi128_si512(_mm_cvtepu8_epi16(_mm_srli_si128(scales_mins, 8)));
      const int16_t* sums = g.bsum32 + b * 64;  // [4][8][2]
      const __m512i min_lanes = _mm512_dpwssd_epi32(
          _mm512_madd_epi16(load64(sums), _mm512_permutexvar_epi32(low_pair, mins)), load64(sums + 32),
          _mm512_permutexvar_epi32(high_pair, mins));
      min_terms = subtract_min_terms(min_terms, simd::fp16(w[b].dmin), a_d, fold(min_lanes));
    }
    acc.store(min_terms, y, y_stride);
  }
};

// Q6_K and Q2_K: 16-element groups, each half-block two zmm "chunk pairs" p = 0, 1 (chunks
// 2p | 2p + 1 of the half, 64 activations each). Lane i of pair p covers group 8 * half + 4p + i / 4.
// Both pairs' 4-element sums (signed, within int16: biased activations 1..255 times digits in
// [-32, 31]) go into one lane as an int16 pair (pair_of_sums), and one vpdpwssd against
// (scale of pair 0's group, scale of pair 1's group) adds both.

// The low 16 bits of lane i of `first` and of `second` as the int16 pair of lane i.
inline __m512i pair_of_sums(__m512i first, __m512i second) {
  return _mm512_mask_blend_epi16(0xAAAAAAAA, first, _mm512_slli_epi32(second, 16));
}

// vpermw indices of the scales above, per half: word 2i -> group 8h + i / 4, word 2i + 1 -> 8h + 4 + i / 4.
struct GroupPairIndex {
  int16_t words[2][32];
};
constexpr GroupPairIndex make_group_pair_index() {
  GroupPairIndex index{};
  for (int h = 0; h < 2; ++h)
    for (int i = 0; i < 16; ++i) {
      index.words[h][2 * i] = static_cast<int16_t>(8 * h + i / 4);
      index.words[h][2 * i + 1] = static_cast<int16_t>(8 * h + 4 + i / 4);
    }
  return index;
}
alignas(64) constexpr GroupPairIndex kGroupPairIndex = make_group_pair_index();

// int16 scales (lanes 0-15 of `scales`) arranged for half `half`'s pair_of_sums lanes.
inline __m512i group_pair_scales(__m512i scales, int half) {
  return _mm512_permutexvar_epi16(_mm512_load_si512(kGroupPairIndex.words[half]), scales);
}

// The integer lanes of one block for every token, before the fold: digits[h][p] are the signed
// digits of half h, chunk pair p; the activations are biased by +128, so each lane also gets
// 128 * (its scaled digit sums), a weight-only term that isum starts without.
template <int T>
inline void group_pair_sums(__m512i (&isum)[T], const Q8KGroup& g, int64_t b, const __m512i (&digits)[2][2],
                            const __m512i (&scales)[2]) {
  const __m512i ones = _mm512_set1_epi8(1);
  __m512i bias = _mm512_setzero_si512();
  for (int h = 0; h < 2; ++h)
    bias = _mm512_dpwssd_epi32(bias,
                               pair_of_sums(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, digits[h][0]),
                                            _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, digits[h][1])),
                               scales[h]);
  bias = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(bias, 7));
  for (int t = 0; t < T; ++t) isum[t] = bias;
  for (int h = 0; h < 2; ++h)
    for (int t = 0; t < T; ++t)
      isum[t] = _mm512_dpwssd_epi32(
          isum[t],
          pair_of_sums(
              _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_load_si512(g.chunk(b, 2 * h, t)), digits[h][0]),
              _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_load_si512(g.chunk(b, 2 * h + 1, t)), digits[h][1])),
          scales[h]);
}

// Q6_K (Q6K's outputs).
struct Q6K {
  using Block = quant::BlockQ6_K;
  template <int T>
  static void row(int64_t n, const void* weight_row, const Q8KGroup& g, float* y, int64_t y_stride) {
    static_assert(T >= 2, "one token goes to WithOneToken's OneToken kernel");
    const auto* w = static_cast<const Block*>(weight_row);
    TokenPairAccumulators<T> acc;
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      const __m512i scales16 = _mm512_zextsi256_si512(
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].scales))));
      const __m512i scales[2] = {group_pair_scales(scales16, 0), group_pair_scales(scales16, 1)};
      __m512i digits[2][2];  // digit - 32, signed
      for (int half = 0; half < 2; ++half) {
        const __m512i ql = load64(w[b].ql + 64 * half);  // chunk k = 0 | 1 in the low nibbles, 2 | 3 high
        const __m512i qh = both_halves(w[b].qh + 32 * half);
        for (int p = 0; p < 2; ++p) {
          const __m512i lows = _mm512_and_si512(p == 0 ? ql : _mm512_srli_epi16(ql, 4), nibble_mask());
          const __m512i highs = _mm512_and_si512(shift_halves(qh, 4 * p, 4 * p + 2), two_bit_mask());
          digits[half][p] = _mm512_sub_epi8(_mm512_or_si512(lows, _mm512_slli_epi16(highs, 4)), _mm512_set1_epi8(32));
        }
      }
      __m512i isum[T];
      group_pair_sums<T>(isum, g, b, digits, scales);
      acc.add_block(isum, block_scales(simd::fp16(w[b].d), g.d + b * kMaxTokens));
    }
    acc.store(y, y_stride);
  }
};

// Q2_K (Q2K's outputs).
struct Q2K {
  using Block = quant::BlockQ2_K;
  template <int T>
  static void row(int64_t n, const void* weight_row, const Q8KGroup& g, float* y, int64_t y_stride) {
    static_assert(T >= 2, "one token goes to WithOneToken's OneToken kernel");
    const auto* w = static_cast<const Block*>(weight_row);
    const ActRows<BlockQ8_K, T> a(g.rows);
    TokenPairAccumulators<T> acc;
    __m256 min_terms = _mm256_setzero_ps();  // lane t: token t's min terms
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].scales));  // scale | min << 4
      const __m512i scales16 = _mm512_zextsi256_si512(_mm256_cvtepu8_epi16(_mm_and_si128(sc, _mm_set1_epi8(0x0F))));
      const __m512i scales[2] = {group_pair_scales(scales16, 0), group_pair_scales(scales16, 1)};
      __m512i digits[2][2];
      for (int half = 0; half < 2; ++half) {
        const __m512i q2 = both_halves(w[b].qs + 32 * half);
        for (int p = 0; p < 2; ++p)
          digits[half][p] = _mm512_and_si512(shift_halves(q2, 4 * p, 4 * p + 2), two_bit_mask());
      }
      __m512i isum[T];
      group_pair_sums<T>(isum, g, b, digits, scales);
      acc.add_block(isum, block_scales(simd::fp16(w[b].d), g.d + b * kMaxTokens));  // Q2K's a.d * d: the same product
      // min_sum = sum over 16-groups g of bsums[g] * (sc[g] >> 4).
      const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc, 4), _mm_set1_epi8(0x0F)));
      __m256i min_lanes[T];
      for (int t = 0; t < T; ++t) min_lanes[t] = _mm256_madd_epi16(simd::load32(a(t, b).bsums), mins16);
      min_terms = subtract_min_terms(min_terms, simd::fp16(w[b].dmin), _mm256_load_ps(g.d + b * kMaxTokens),
                                     lane_totals<T>(min_lanes));
    }
    acc.store(min_terms, y, y_stride);
  }
};

// Q8_0 (tile::Q8_0's outputs): tokens 2i and 2i + 1 share one zmm, the block's values in
// both halves. A token group's Q8_0 activations are packed once per group in tile_scratch:
//   qs [n_blocks][S][32] u8: token t's block, biased to a + 128 (vpdpbusd's unsigned operand),
//      so tokens 2i and 2i + 1 form one aligned 64-byte line; S = count rounded up to even.
//   d  [n_blocks][S][8] float: fp16(a.d) of token t in 8 lanes, so that tokens 2i and 2i + 1
//      form the scale vector of their pair.
// Only the group's `count` tokens are written: an odd last token takes a 256-bit step.
// The bias adds 128 * (sum of the lane's 4 weights) to each lane; isum starts at minus that,
// computed once per block for all tokens.
// A single token (decode) is packed compactly by pack_q8_0 (32 bytes and a float per block:
// the layout above would spread one token over 512 bytes per block, out of L1 for wide rows,
// 12% slower decode) and takes vec_dot's steps (the sign trick): the per-block bias term would
// cost more than it saves.
struct PackedQ8_0Pairs {
  const uint8_t* qs;
  const float* d;
  PackedQ8_0 single;  // count == 1
};

// Tokens per block in the pair layout: whole pairs, so that every pair is cache-line aligned.
constexpr int pair_stride(int count) {
  return count + count % 2;
}

// Tile scratch bytes of pack_q8_0_pairs.
inline size_t pack_q8_0_pairs_bytes(int64_t n, int count) {
  if (count == 1) return pack_q8_0_bytes(n, 1);
  return static_cast<size_t>(n / kQK) * pair_stride(count) * (kQK + 8 * sizeof(float));
}

inline PackedQ8_0Pairs pack_q8_0_pairs(int64_t n, const uint8_t* act, size_t act_stride, int count) {
  if (count == 1) return {nullptr, nullptr, pack_q8_0(n, act, act_stride, 1)};
  const int64_t n_blocks = n / kQK;
  const int stride = pair_stride(count);
  const size_t qs_bytes = static_cast<size_t>(n_blocks) * stride * kQK;  // a multiple of 64
  uint8_t* scratch = tile_scratch(pack_q8_0_pairs_bytes(n, count));
  auto* qs = scratch;
  auto* d = reinterpret_cast<float*>(scratch + qs_bytes);
  for (int64_t b = 0; b < n_blocks; ++b) {
    for (int t = 0; t < count; ++t) {
      const BlockQ8_0& block = reinterpret_cast<const BlockQ8_0*>(act + t * act_stride)[b];
      _mm256_store_si256(reinterpret_cast<__m256i*>(qs + (b * stride + t) * kQK),
                         _mm256_xor_si256(simd::load32(block.qs), _mm256_set1_epi8(-128)));
      _mm256_store_ps(d + (b * stride + t) * 8, _mm256_set1_ps(simd::fp16(block.d)));
    }
  }
  return {qs, d, {}};
}

struct Q8_0 {
  using Group = PackedQ8_0Pairs;
  static Group group(int64_t n, const uint8_t* act, size_t act_stride, int count) {
    return pack_q8_0_pairs(n, act, act_stride, count);
  }

  template <int T>
  static void row(int64_t n, const void* weight_row, const PackedQ8_0Pairs& a, float* y, int64_t y_stride) {
    constexpr int kPairs = T / 2;
    constexpr bool kOdd = T % 2 == 1;
    const auto* w = static_cast<const BlockQ8_0*>(weight_row);
    if constexpr (T == 1) {  // vec_dot_q8_0 of vec_dot_avx512.cpp
      __m256 acc = _mm256_setzero_ps();
      for (int64_t b = 0; b < n / kQK; ++b) {
        const __m256i x = simd::load32(w[b].qs);
        const __m256i isum = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(x),
                                                 _mm256_sign_epi8(simd::load32(a.single.qs + b * kQK), x));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(simd::fp16(w[b].d) * a.single.d[b]), _mm256_cvtepi32_ps(isum), acc);
      }
      *y = simd::hsum(acc);
      return;
    }
    __m512 acc[kPairs + 1];  // [i]: tokens 2i | 2i + 1; [kPairs]: an odd last token in the low half
    for (__m512& v : acc) v = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / kQK; ++b) {
      const __m512i x = both_halves(simd::load32(w[b].qs));
      const __m512i unbias =
          _mm512_sub_epi32(_mm512_setzero_si512(),
                           _mm512_slli_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), x), 7));
      const __m512 d = _mm512_set1_ps(simd::fp16(w[b].d));
      const uint8_t* qa = a.qs + b * pair_stride(T) * kQK;
      const float* da = a.d + b * pair_stride(T) * 8;
      for (int i = 0; i < kPairs; ++i) {
        const __m512i isum = _mm512_dpbusd_epi32(unbias, _mm512_load_si512(qa + 2 * i * kQK), x);
        acc[i] = _mm512_fmadd_ps(_mm512_mul_ps(d, _mm512_load_ps(da + 16 * i)), _mm512_cvtepi32_ps(isum), acc[i]);
      }
      if constexpr (kOdd) {
        const __m256i isum = _mm256_dpbusd_epi32(_mm512_castsi512_si256(unbias),
                                                 simd::load32(qa + (T - 1) * kQK), _mm512_castsi512_si256(x));
        const __m256 last =
            _mm256_fmadd_ps(_mm256_mul_ps(_mm512_castps512_ps256(d), _mm256_load_ps(da + 8 * (T - 1))),
                            _mm256_cvtepi32_ps(isum), _mm512_castps512_ps256(acc[kPairs]));
        acc[kPairs] = _mm512_zextps256_ps512(last);
      }
    }
    for (int t = 0; t < T; ++t) {
      const __m256 lanes = t % 2 == 0 ? _mm512_castps512_ps256(acc[t / 2]) : _mm512_extractf32x8_ps(acc[t / 2], 1);
      y[t * y_stride] = simd::hsum(lanes);
    }
  }
};

}  // namespace
}  // namespace pagoda::kernels::tile::wide

#pragma GCC diagnostic pop
