#pragma once
// Q6_K rows interleaved 16 at a time (AVX-512 BW + VNNI), made once by the model, with
// vec_dot_q6_k's bits: 8 float lanes per output, lane l the FMA chain of the integer sums of
// elements 32c + 4l .. 32c + 4l + 3 of the chunks c times their per-16 scales, then
// (l0+l4 + l2+l6) + (l1+l5 + l3+l7). As in matmul_tile_q4_k_wide.h, lane l of an output is one
// zmm of 16 rows: vpmaddubsw with a token's 4 activations broadcast gives the 16 rows' two pair
// sums of chunk c (digits 0..63), one vpsubw takes off 32 * the activations' pair sums (the same
// for every row), and one vpdpwssd scales and adds them.
// Include only from the AVX-512 translation unit.
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/matmul_tile_q4_k_wide.h"
#include "quant/blocks.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace pagoda::kernels::tile::wide::q6_k {
namespace {

using quant::BlockQ6_K;
using quant::BlockQ8_K;
using quant::kQK_K;

// Per group of 16 rows (the bytes of the 16 rows' blocks; a multiple of 64 after padding):
//   digits [n_blocks][2 half][8 l][3][16 r][4] u8: for half h and lane l, bytes 4l..4l+3 of row
//          r's ql[64h ..], ql[64h + 32 ..] and qh[32h ..]: the low nibbles of chunks 4h and
//          4h + 1 (quarters 0, 1; their high nibbles quarters 2, 3), and the 2 high bits of
//          quarter k at bits 2k.
//   scales [n_blocks][16 g][16 r] s8: row r's scale of elements 16g ..
//   d      [n_blocks][16] u16: row r's fp16 scale.
// Rows past the end of the last group repeat its last row; their outputs are never stored.
constexpr size_t kDigitBytes = 2 * 8 * 3 * 64;
constexpr size_t kScaleBytes = 16 * 16;
constexpr size_t kScaleRowBytes = 16 * sizeof(uint16_t);
static_assert(kDigitBytes + kScaleBytes + kScaleRowBytes == kGroupRows * sizeof(BlockQ6_K));

inline size_t group_bytes(int64_t n_blocks) {
  return (static_cast<size_t>(n_blocks) * (kDigitBytes + kScaleBytes + kScaleRowBytes) + 63) / 64 * 64;
}

// The group's three arrays (digits, scales, row scales), as ReadAhead reads them.
inline ReadAhead<3> read_ahead(const uint8_t* group, int64_t n_blocks) {
  const size_t digits = static_cast<size_t>(n_blocks) * kDigitBytes, scales = static_cast<size_t>(n_blocks) * kScaleBytes;
  const GroupArray arrays[3] = {{0, kDigitBytes}, {digits, kScaleBytes}, {digits + scales, kScaleRowBytes}};
  return ReadAhead<3>(group, group_bytes(n_blocks), n_blocks, arrays);
}

// Rows [0, m) (m <= 16) into one group, row by row.
inline void interleave_group(int64_t n_blocks, const uint8_t* rows, size_t row_stride, int m, uint8_t* out) {
  uint8_t* scales = out + n_blocks * kDigitBytes;
  uint8_t* d = scales + n_blocks * kScaleBytes;
  for (int r = 0; r < kGroupRows; ++r) {
    const auto* row = reinterpret_cast<const BlockQ6_K*>(rows + std::min(r, m - 1) * row_stride);
    for (int64_t b = 0; b < n_blocks; ++b) {
      uint8_t* digits = out + b * kDigitBytes;
      for (int h = 0; h < 2; ++h)
        for (int l = 0; l < 8; ++l) {
          uint8_t* lane = digits + (h * 8 + l) * 3 * 64 + 4 * r;
          std::memcpy(lane, row[b].ql + 64 * h + 4 * l, 4);
          std::memcpy(lane + 64, row[b].ql + 64 * h + 32 + 4 * l, 4);
          std::memcpy(lane + 128, row[b].qh + 32 * h + 4 * l, 4);
        }
      for (int g = 0; g < 16; ++g) scales[b * kScaleBytes + 16 * g + r] = static_cast<uint8_t>(row[b].scales[g]);
      std::memcpy(d + b * kScaleRowBytes + 2 * r, &row[b].d, 2);
    }
  }
}

// A token's block: for a token group of one token (group_token), lane l of chunk c as the int16
// pair (32 * (a0 + a1), 32 * (a2 + a3)) of its 4 activations (at most 32 * 256: int16), which
// vpmaddubsw's digit sums carry on top of the signed digit - 32; for a group of several tokens
// (group_tokens), the activations biased to a + 128 (vpdpbusd's unsigned operand); and the
// token's Q8_K scale. A call's are made once, with its activation rows (matmul.cpp), in the
// order act_block_slot gives, which tells each token its group's size.
struct alignas(64) ActBlock {
  union {
    int32_t bias[8][8];  // [c][l], one token
    uint8_t biased[kQK_K];  // several tokens
  };
  float d;
};

// Tokens per pass over a group.
constexpr int kTokens = 8;

// One token's ActBlocks, block b at out[b * count], count being its token group's size
// (act_block_slot): `bias` for a group of one, `biased` otherwise.
inline void act_block_row(int64_t n_blocks, const uint8_t* act_row, ActBlock* out, int64_t count) {
  const auto* row = reinterpret_cast<const BlockQ8_K*>(act_row);
  for (int64_t b = 0; b < n_blocks; ++b) {
    ActBlock& a = out[b * count];
    for (int c = 0; c < 8; ++c) {
      const __m256i qs = simd::load32(row[b].qs + 32 * c);
      if (count == 1)  // int32 lane l of vpmaddubsw(32, a): words 2l, 2l + 1
        _mm256_store_si256(reinterpret_cast<__m256i*>(a.bias[c]), _mm256_maddubs_epi16(_mm256_set1_epi8(32), qs));
      else
        _mm256_store_si256(reinterpret_cast<__m256i*>(a.biased + 32 * c), _mm256_xor_si256(qs, _mm256_set1_epi8(-128)));
    }
    a.d = row[b].d;
  }
}

// The 6-bit digits of quarters 0-3 of half h, lane l (u8 0..63): low nibble | 2 high bits << 4.
// The 16-bit shifts carry bits across bytes only where the masks clear them. 0xF8: a | (b & c).
inline void lane_digits(const uint8_t* digits, int h, int l, __m512i (&quarter)[4]) {
  const uint8_t* lane = digits + (h * 8 + l) * 3 * 64;
  const __m512i low0 = _mm512_load_si512(lane), low1 = _mm512_load_si512(lane + 64);
  const __m512i high = _mm512_load_si512(lane + 128);
  const __m512i nibble = _mm512_set1_epi8(0x0F), top = _mm512_set1_epi8(0x30);
  quarter[0] = _mm512_ternarylogic_epi32(_mm512_and_si512(low0, nibble), _mm512_slli_epi16(high, 4), top, 0xF8);
  quarter[1] = _mm512_ternarylogic_epi32(_mm512_and_si512(low1, nibble), _mm512_slli_epi16(high, 2), top, 0xF8);
  quarter[2] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(low0, 4), nibble), high, top, 0xF8);
  quarter[3] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(low1, 4), nibble),
                                         _mm512_srli_epi16(high, 2), top, 0xF8);
}

// Outputs of one group (m <= 16 rows) for one token: y[r].
template <int T>
void group_token(int64_t n_blocks, const uint8_t* group, const uint8_t* act, size_t act_stride,
                  const ActBlock* blocks, int m, float* y, int64_t y_stride, bool /*first_pass: always prefetches*/) {
  const uint8_t* scale_bytes = group + n_blocks * kDigitBytes;
  const uint8_t* row_scales = scale_bytes + n_blocks * kScaleBytes;
  const __m512i twice_low = _mm512_load_si512(q4_k::kWordIndex.twice[0]);
  const __m512i twice_high = _mm512_load_si512(q4_k::kWordIndex.twice[1]);
  __m512 acc[T][8];  // [t][l]: lane l of token t's 16 outputs
  for (int t = 0; t < T; ++t)
    for (int l = 0; l < 8; ++l) acc[t][l] = _mm512_setzero_ps();
  const BlockQ8_K* a[T];
  for (int t = 0; t < T; ++t) a[t] = reinterpret_cast<const BlockQ8_K*>(act + t * act_stride);
  ReadAhead<3> ahead = read_ahead(group, n_blocks);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* digits = group + b * kDigitBytes;
    if constexpr (T == 1) ahead.next();
    // scales[g]: int32 lane r = row r's scale of group g twice, as int16.
    __m512i scales[16];
    for (int q = 0; q < 8; ++q) {
      const __m512i words = _mm512_cvtepi8_epi16(simd::load32(scale_bytes + b * kScaleBytes + 32 * q));
      scales[2 * q] = _mm512_permutexvar_epi16(twice_low, words);
      scales[2 * q + 1] = _mm512_permutexvar_epi16(twice_high, words);
    }
    const __m512 d_w =
        _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row_scales + b * kScaleRowBytes)));
    const ActBlock* ab = blocks + b * T;
#pragma GCC unroll 8
    for (int l = 0; l < 8; ++l) {
      __m512i isum[T];
      for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        __m512i quarter[4];
        lane_digits(digits, h, l, quarter);
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
          const int c = 4 * h + k;
          const __m512i scale = scales[2 * c + l / 4];
          for (int t = 0; t < T; ++t) {
            // Pair sums digit * a <= 2 * 63 * 128 and (digit - 32) * a pairs fit int16.
            const __m512i pairs = _mm512_sub_epi16(
                _mm512_maddubs_epi16(quarter[k], broadcast4(a[t][b].qs + 32 * c + 4 * l)),
                _mm512_set1_epi32(ab[t].bias[c][l]));
            isum[t] = _mm512_dpwssd_epi32(isum[t], pairs, scale);
          }
        }
      }
      for (int t = 0; t < T; ++t)
        acc[t][l] = _mm512_fmadd_ps(_mm512_mul_ps(d_w, _mm512_set1_ps(ab[t].d)), _mm512_cvtepi32_ps(isum[t]), acc[t][l]);
    }
  }
  const __mmask16 rows = static_cast<__mmask16>((1u << m) - 1);
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * y_stride, rows, sum_lanes(acc[t]));
}

// vpermt2w indices for the scale pairs of chunks (c, c + 1), c even, lane parity p = l / 4, from
// words A = groups (2c, 2c + 1) and B = groups (2c + 2, 2c + 3), [2][16 rows] each: word 2r <-
// group 2c + p of row r, 2r + 1 <- group 2c + 2 + p.
struct PairIndex {
  int16_t words[2][32];  // [p]
};
constexpr PairIndex make_pair_index() {
  PairIndex index{};
  for (int p = 0; p < 2; ++p)
    for (int r = 0; r < 16; ++r) {
      index.words[p][2 * r] = static_cast<int16_t>(16 * p + r);
      index.words[p][2 * r + 1] = static_cast<int16_t>(32 + 16 * p + r);
    }
  return index;
}
alignas(64) constexpr PairIndex kPairIndex = make_pair_index();

// The low 16 bits of lane i of `first` and of `second` as the int16 pair of lane i.
inline __m512i low_words(__m512i first, __m512i second) {
  return _mm512_mask_blend_epi16(0xAAAAAAAA, first, _mm512_slli_epi32(second, 16));
}

// Outputs of one group (m <= 16 rows) for 2 <= T <= kTokens tokens: y[t * y_stride + r]. The same
// integers as group_token in fewer multiplies per token: vpdpbusd of the biased activations and
// the signed digits (4-element sums within int16: 4 * 255 * 32), two chunks' sums per lane as an
// int16 pair, one vpdpwssd against both scales. Each lane then holds 128 * (its scaled digit
// sums) extra, a weight-only term taken off once per block for all tokens.
template <int T>
void group_tokens(int64_t n_blocks, const uint8_t* group, const uint8_t* act, size_t act_stride,
                  const ActBlock* blocks, int m, float* y, int64_t y_stride, bool first_pass) {
  static_assert(T >= 2);
  (void)act;
  (void)act_stride;
  const uint8_t* scale_bytes = group + n_blocks * kDigitBytes;
  const uint8_t* row_scales = scale_bytes + n_blocks * kScaleBytes;
  const __m512i pair_index[2] = {_mm512_load_si512(kPairIndex.words[0]), _mm512_load_si512(kPairIndex.words[1])};
  __m512 acc[T][8];  // [t][l]: lane l of token t's 16 outputs
  for (int t = 0; t < T; ++t)
    for (int l = 0; l < 8; ++l) acc[t][l] = _mm512_setzero_ps();
  ReadAhead<3> ahead = read_ahead(group, n_blocks);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* digits = group + b * kDigitBytes;
    // The first token group of a call reads the rows from memory, the others from cache.
    if (first_pass) ahead.next();
    // pair_scales[i][p]: int32 lane r = (scale of group 4i + p, of group 4i + 2 + p) of row r, as int16.
    __m512i pair_scales[4][2];
    for (int i = 0; i < 4; ++i) {
      const __m512i first = _mm512_cvtepi8_epi16(simd::load32(scale_bytes + b * kScaleBytes + 64 * i));
      const __m512i second = _mm512_cvtepi8_epi16(simd::load32(scale_bytes + b * kScaleBytes + 64 * i + 32));
      for (int p = 0; p < 2; ++p) pair_scales[i][p] = _mm512_permutex2var_epi16(first, pair_index[p], second);
    }
    const __m512 d_w =
        _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row_scales + b * kScaleRowBytes)));
    const ActBlock* ab = blocks + b * T;
    for (int l = 0; l < 8; ++l) {
      __m512i isum[T];
      __m512i bias = _mm512_setzero_si512();
      __m512i quarter[2][4];  // [h][k]: signed digits - 32 of chunk 4h + k
      for (int h = 0; h < 2; ++h) {
        lane_digits(digits, h, l, quarter[h]);
        for (int k = 0; k < 4; ++k) quarter[h][k] = _mm512_sub_epi8(quarter[h][k], _mm512_set1_epi8(32));
        for (int k = 0; k < 4; k += 2)
          bias = _mm512_dpwssd_epi32(
              bias,
              low_words(_mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), quarter[h][k]),
                        _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), quarter[h][k + 1])),
              pair_scales[2 * h + k / 2][l / 4]);
      }
      bias = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(bias, 7));
      for (int t = 0; t < T; ++t) isum[t] = bias;
      for (int h = 0; h < 2; ++h)
        for (int k = 0; k < 4; k += 2) {
          const int c = 4 * h + k;
          for (int t = 0; t < T; ++t)
            isum[t] = _mm512_dpwssd_epi32(
                isum[t],
                low_words(_mm512_dpbusd_epi32(_mm512_setzero_si512(), broadcast4(reinterpret_cast<const int8_t*>(ab[t].biased) + 32 * c + 4 * l),
                                              quarter[h][k]),
                          _mm512_dpbusd_epi32(_mm512_setzero_si512(), broadcast4(reinterpret_cast<const int8_t*>(ab[t].biased) + 32 * c + 32 + 4 * l),
                                              quarter[h][k + 1])),
                pair_scales[2 * h + k / 2][l / 4]);
        }
      for (int t = 0; t < T; ++t)
        acc[t][l] = _mm512_fmadd_ps(_mm512_mul_ps(d_w, _mm512_set1_ps(ab[t].d)), _mm512_cvtepi32_ps(isum[t]), acc[t][l]);
    }
  }
  const __mmask16 rows = static_cast<__mmask16>((1u << m) - 1);
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * y_stride, rows, sum_lanes(acc[t]));
}

constexpr GroupKernel<ActBlock> kGroupByCount[kTokens] = {&group_token<1>, &group_tokens<2>, &group_tokens<3>, &group_tokens<4>,
                                            &group_tokens<5>, &group_tokens<6>, &group_tokens<7>, &group_tokens<8>};

// Interleaved rows [0, n_rows) (`groups` at the group of row 0) times every token; `blocks`:
// their ActBlocks (act_block_row).
inline void run_interleaved(int64_t n, const void* groups, int64_t n_rows, const void* acts, size_t act_stride,
                            const void* blocks, int64_t n_tokens, float* y, int64_t y_stride) {
  sweep_token_groups<ActBlock, kTokens>(n / kQK_K, group_bytes(n / kQK_K), static_cast<const uint8_t*>(groups),
                                        n_rows, static_cast<const uint8_t*>(acts), act_stride,
                                        static_cast<const ActBlock*>(blocks), n_tokens, y, y_stride, kGroupByCount,
                                        /*from_memory=*/true);
}

}  // namespace
}  // namespace pagoda::kernels::tile::wide::q6_k

#pragma GCC diagnostic pop
