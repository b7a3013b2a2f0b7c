#pragma once
// Q4_K and Q5_K rows interleaved 16 at a time (AVX-512 BW + VNNI), made once by the model, with
// vec_dot_q4_k's (vec_dot_q5_k's) bits: 8 float lanes per output, lane l the FMA chain of the integer sums of
// elements 32s + 4l .. 32s + 4l + 3 of the sub-blocks s times their scales (ggml's x86 order),
// then (l0+l4 + l2+l6) + (l1+l5 + l3+l7), then the min terms. In this layout lane l of an output
// is one zmm of 16 rows, as in matmul_tile_q8_0_wide.h: vpmaddubsw with a token's 4 activations
// broadcast gives the 16 rows' two pair sums of one sub-block, one vpdpwssd scales and adds them,
// and one convert and FMA per block finish lane l of 16 outputs. The file's one-token kernel
// reduces each block horizontally, row by row; here nothing is reduced until the end of the row.
// Include only from the AVX-512 translation unit.
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/matmul_tile_q4_0_wide.h"
#include "kernels/matmul_tile_wide.h"
#include "quant/blocks.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace pagoda::kernels::tile::wide::q4_k {
namespace {

using quant::BlockQ4_K;
using quant::BlockQ5_K;
using quant::BlockQ8_K;
using quant::kQK_K;

// Per group of 16 rows, one record per block b (kRecordBytes, the bytes of the 16 rows' blocks:
// the model's memory is the file's):
//   u8  low  [8][16]: [s][r] = low 4 bits of row r's scale s | low 4 bits of its min s << 4
//   u8  high [4][16]: [i][r] = the top 2 bits of scale i, scale i + 4, min i, min i + 4 (2 bits each)
//   u16 d    [16], dmin [16]: row r's fp16 scales
//   u8  qs   [4][8][16][4]: [j][l][r] = bytes 32j + 4l .. + 3 of row r's qs (the nibbles of
//            elements 64j + 4l.. of sub-block 2j and 64j + 32 + 4l.. of sub-block 2j + 1)
//   u8  qh   [8][16][4]: [l][r] = bytes 4l .. + 3 of row r's qh (Q5_K only: bit s is the fifth
//            bit of element 32s + 4l ..)
// Rows past the end of the last group repeat its last row; their outputs are never stored.
constexpr size_t kLowOffset = 0, kHighOffset = 128, kScaleOffset = 192, kMinScaleOffset = 224, kQsOffset = 256;
constexpr size_t kQhOffset = kQsOffset + 4 * 8 * 64;

template <typename Block>
constexpr bool kFifthBit = std::is_same_v<Block, BlockQ5_K>;
template <typename Block>
constexpr size_t kRecordBytes = kQhOffset + (kFifthBit<Block> ? 8 * 64 : 0);
static_assert(kRecordBytes<BlockQ4_K> == kGroupRows * sizeof(BlockQ4_K));
static_assert(kRecordBytes<BlockQ5_K> == kGroupRows * sizeof(BlockQ5_K));

template <typename Block>
size_t group_bytes(int64_t n_blocks) {
  return static_cast<size_t>(n_blocks) * kRecordBytes<Block>;
}

// The group's one array (the records), as ReadAhead reads it.
template <typename Block>
ReadAhead<1> read_ahead(const uint8_t* group, int64_t n_blocks) {
  const GroupArray records[1] = {{0, kRecordBytes<Block>}};
  return ReadAhead<1>(group, group_bytes<Block>(n_blocks), n_blocks, records);
}

// Rows [0, m) (m <= 16) into one group, row by row.
template <typename Block>
void interleave_group(int64_t n_blocks, const uint8_t* rows, size_t row_stride, int m, uint8_t* out) {
  for (int r = 0; r < kGroupRows; ++r) {
    const auto* row = reinterpret_cast<const Block*>(rows + std::min(r, m - 1) * row_stride);
    for (int64_t b = 0; b < n_blocks; ++b) {
      uint8_t* record = out + b * kRecordBytes<Block>;
      if constexpr (kFifthBit<Block>)
        for (int l = 0; l < 8; ++l) std::memcpy(record + kQhOffset + (l * kGroupRows + r) * 4, row[b].qh + 4 * l, 4);
      uint8_t scale[8], min[8];
      for (int s = 0; s < 8; ++s) quant::get_scale_min_k4(s, row[b].scales, &scale[s], &min[s]);
      for (int s = 0; s < 8; ++s) record[kLowOffset + 16 * s + r] = static_cast<uint8_t>((scale[s] & 0xF) | (min[s] & 0xF) << 4);
      for (int i = 0; i < 4; ++i)
        record[kHighOffset + 16 * i + r] =
            static_cast<uint8_t>(scale[i] >> 4 | (scale[i + 4] >> 4) << 2 | (min[i] >> 4) << 4 | (min[i + 4] >> 4) << 6);
      std::memcpy(record + kScaleOffset + 2 * r, &row[b].d, 2);
      std::memcpy(record + kMinScaleOffset + 2 * r, &row[b].dmin, 2);
      for (int j = 0; j < 4; ++j)
        for (int l = 0; l < 8; ++l)
          std::memcpy(record + kQsOffset + ((j * 8 + l) * kGroupRows + r) * 4, row[b].qs + 32 * j + 4 * l, 4);
    }
  }
}

// A token's block: its Q8_K scale, the int16 pairs (bsums[4p] + bsums[4p + 1],
// bsums[4p + 2] + bsums[4p + 3]) that meet (min 2p, min 2p + 1) in one vpdpwssd (each sum of 32
// activations is at most 32 * 128: int16), and, for several tokens, the activations biased to
// a + 128 (vpdpbusd's unsigned operand). A call's are made once, with its activation rows
// (matmul.cpp), in the order act_block_slot gives.
struct alignas(64) ActBlock {
  uint8_t biased[kQK_K];
  int32_t sum_pairs[4];
  float d;
};

// Tokens per pass over a group: their int32 sums stay in registers while each weight register
// serves them all (16 spill: 2048 x 2048 at 512 tokens 14.3 against 12.2 ms).
constexpr int kTokens = 8;

// One token's ActBlocks, block b at out[b * count], count being its token group's size
// (act_block_slot); the biased activations only for a group of several tokens (one token takes
// group_token, which reads qs in place).
inline void act_block_row(int64_t n_blocks, const uint8_t* act_row, ActBlock* out, int64_t count) {
  const auto* row = reinterpret_cast<const BlockQ8_K*>(act_row);
  for (int64_t b = 0; b < n_blocks; ++b) {
    ActBlock& a = out[b * count];
    for (int p = 0; p < 4; ++p) {
      const auto first = static_cast<uint16_t>(row[b].bsums[4 * p] + row[b].bsums[4 * p + 1]);
      const auto second = static_cast<uint16_t>(row[b].bsums[4 * p + 2] + row[b].bsums[4 * p + 3]);
      a.sum_pairs[p] = static_cast<int32_t>(first | static_cast<uint32_t>(second) << 16);
    }
    a.d = row[b].d;
    for (int c = 0; c < 8 && count > 1; ++c)
      _mm256_store_si256(reinterpret_cast<__m256i*>(a.biased + 32 * c),
                         _mm256_xor_si256(simd::load32(row[b].qs + 32 * c), _mm256_set1_epi8(-128)));
  }
}

// vpermw indices: word 2r and 2r + 1 <- word r + 16 * half (scales: one value twice per row).
struct WordIndex {
  int16_t twice[2][32];  // [half]
  int16_t pair[32];      // word 2r <- r, 2r + 1 <- 16 + r (mins: values 2p and 2p + 1 of row r)
};
constexpr WordIndex make_word_index() {
  WordIndex index{};
  for (int r = 0; r < 16; ++r) {
    for (int h = 0; h < 2; ++h) index.twice[h][2 * r] = index.twice[h][2 * r + 1] = static_cast<int16_t>(r + 16 * h);
    index.pair[2 * r] = static_cast<int16_t>(r);
    index.pair[2 * r + 1] = static_cast<int16_t>(16 + r);
  }
  return index;
}
alignas(64) constexpr WordIndex kWordIndex = make_word_index();

// One record's 6-bit scales and mins for the 16 rows, as vpdpwssd operands:
//   scales[s]: int32 lane r = (scale s of row r) twice, as int16, against vpmaddubsw's two
//              pair sums of sub-block s (one token);
//   scales[j] with kPairs: int32 lane r = (scale 2j, scale 2j + 1) of row r, as int16, against
//              two_chunk_sums of sub-blocks 2j and 2j + 1 (several tokens);
//   mins[p]:   int32 lane r = (min 2p, min 2p + 1) of row r, as int16.
template <bool kPairs>
struct RecordScales {
  __m512i scales[kPairs ? 4 : 8];
  __m512i mins[4];

  explicit RecordScales(const uint8_t* record) {
    const __m512i low_first = _mm512_load_si512(record + kLowOffset);  // [s 0-3][r]
    const __m512i low_second = _mm512_load_si512(record + kLowOffset + 64);  // [s 4-7][r]
    const __m512i high = _mm512_load_si512(record + kHighOffset);  // [i][r]
    const __m512i nibble = _mm512_set1_epi8(0x0F), top = _mm512_set1_epi8(0x30);
    // Bytes [s][r] with the 6-bit values: low nibble | (the 2 high bits at bits 4-5). The 16-bit
    // shifts move bits across bytes only into positions the masks clear.
    const __m512i value[4] = {
        _mm512_or_si512(_mm512_and_si512(low_first, nibble), _mm512_and_si512(_mm512_slli_epi16(high, 4), top)),
        _mm512_or_si512(_mm512_and_si512(low_second, nibble), _mm512_and_si512(_mm512_slli_epi16(high, 2), top)),
        _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(low_first, 4), nibble), _mm512_and_si512(high, top)),
        _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(low_second, 4), nibble),
                        _mm512_and_si512(_mm512_srli_epi16(high, 2), top)),
    };  // scales 0-3, scales 4-7, mins 0-3, mins 4-7
    const __m512i twice_low = _mm512_load_si512(kWordIndex.twice[0]);
    const __m512i twice_high = _mm512_load_si512(kWordIndex.twice[1]);
    const __m512i pair = _mm512_load_si512(kWordIndex.pair);
    for (int q = 0; q < 4; ++q) {
      // Words [2 values][16 rows] of values 2q' and 2q' + 1 in each half of value[q].
      const __m512i words[2] = {_mm512_cvtepu8_epi16(_mm512_castsi512_si256(value[q])),
                                _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(value[q], 1))};
      for (int h = 0; h < 2; ++h) {
        if (q < 2 && kPairs) {
          scales[2 * q + h] = _mm512_permutexvar_epi16(pair, words[h]);
        } else if (q < 2) {
          scales[4 * q + 2 * h] = _mm512_permutexvar_epi16(twice_low, words[h]);
          scales[4 * q + 2 * h + 1] = _mm512_permutexvar_epi16(twice_high, words[h]);
        } else {
          mins[2 * (q - 2) + h] = _mm512_permutexvar_epi16(pair, words[h]);
        }
      }
    }
  }
};

inline __m512 fp16_rows(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(p)));
}

// The min terms of T tokens for one record: min_terms(t) -= (dmin_w * d_a(t)) * float(min_sum(t)).
template <int T, class Scales>
inline void subtract_mins(const Scales& sc, __m512 dmin_w, const ActBlock* ab, __m512 (&min_terms)[T]) {
  for (int t = 0; t < T; ++t) {
    __m512i min_sum = _mm512_setzero_si512();
    for (int p = 0; p < 4; ++p) min_sum = _mm512_dpwssd_epi32(min_sum, sc.mins[p], _mm512_set1_epi32(ab[t].sum_pairs[p]));
    min_terms[t] = _mm512_sub_ps(min_terms[t],
                                 _mm512_mul_ps(_mm512_mul_ps(dmin_w, _mm512_set1_ps(ab[t].d)), _mm512_cvtepi32_ps(min_sum)));
  }
}

// (l0+l4 + l2+l6) + (l1+l5 + l3+l7) + min terms of T tokens, rows [0, m).
template <int T>
inline void store_outputs(const __m512 (&acc)[T][8], const __m512 (&min_terms)[T], int m, float* y, int64_t y_stride) {
  const __mmask16 rows = static_cast<__mmask16>((1u << m) - 1);
  for (int t = 0; t < T; ++t) {
    _mm512_mask_storeu_ps(y + t * y_stride, rows, _mm512_add_ps(sum_lanes(acc[t]), min_terms[t]));
  }
}

// The digits of sub-blocks 2j (`first`) and 2j + 1 (`second`), lane l, of the 16 rows: 0..15,
// Q5_K's fifth bit adding 16.
template <typename Block>
inline void lane_digits(const uint8_t* record, int j, int l, __m512i& first, __m512i& second) {
  const __m512i packed = _mm512_load_si512(record + kQsOffset + (j * 8 + l) * 64);
  first = _mm512_and_si512(packed, _mm512_set1_epi8(0x0F));
  second = _mm512_and_si512(_mm512_srli_epi16(packed, 4), _mm512_set1_epi8(0x0F));
  if constexpr (kFifthBit<Block>) {
    const __m512i fifth = _mm512_load_si512(record + kQhOffset + l * 64);
    const __m512i sixteen = _mm512_set1_epi8(16);
    first = _mm512_mask_add_epi8(first, _mm512_test_epi8_mask(fifth, _mm512_set1_epi8(static_cast<char>(1u << (2 * j)))),
                                 first, sixteen);
    second = _mm512_mask_add_epi8(second,
                                  _mm512_test_epi8_mask(fifth, _mm512_set1_epi8(static_cast<char>(1u << (2 * j + 1)))),
                                  second, sixteen);
  }
}

// Outputs of one group (m <= 16 rows) for one token: y[r].
template <typename Block, int T>
void group_token(int64_t n_blocks, const uint8_t* group, const uint8_t* act, size_t act_stride,
                  const ActBlock* blocks, int m, float* y, int64_t y_stride, bool /*first_pass: always prefetches*/) {
  __m512 acc[T][8];     // [t][l]: lane l of token t's 16 outputs
  __m512 min_terms[T];  // token t's min terms of the 16 outputs
  for (int t = 0; t < T; ++t) {
    min_terms[t] = _mm512_setzero_ps();
    for (int l = 0; l < 8; ++l) acc[t][l] = _mm512_setzero_ps();
  }
  const BlockQ8_K* a[T];
  for (int t = 0; t < T; ++t) a[t] = reinterpret_cast<const BlockQ8_K*>(act + t * act_stride);
  auto ahead = read_ahead<Block>(group, n_blocks);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* record = group + b * kRecordBytes<Block>;
    if constexpr (T == 1) ahead.next();
    const RecordScales<false> sc(record);
    const __m512 d_w = fp16_rows(record + kScaleOffset);
    const __m512 dmin_w = fp16_rows(record + kMinScaleOffset);
    const ActBlock* ab = blocks + b * T;
#pragma GCC unroll 8
    for (int l = 0; l < 8; ++l) {
      __m512i isum[T];
      for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        __m512i first, second;  // sub-blocks 2j, 2j + 1
        lane_digits<Block>(record, j, l, first, second);
        for (int t = 0; t < T; ++t) {
          // Pair sums |digit * a| <= 2 * 15 * 128: vpmaddubsw cannot saturate.
          const int8_t* qa = a[t][b].qs + 64 * j + 4 * l;
          isum[t] = _mm512_dpwssd_epi32(isum[t], _mm512_maddubs_epi16(first, broadcast4(qa)), sc.scales[2 * j]);
          isum[t] = _mm512_dpwssd_epi32(isum[t], _mm512_maddubs_epi16(second, broadcast4(qa + 32)), sc.scales[2 * j + 1]);
        }
      }
      for (int t = 0; t < T; ++t)
        acc[t][l] = _mm512_fmadd_ps(_mm512_mul_ps(d_w, _mm512_set1_ps(ab[t].d)), _mm512_cvtepi32_ps(isum[t]), acc[t][l]);
    }
    subtract_mins<T>(sc, dmin_w, ab, min_terms);
  }
  store_outputs<T>(acc, min_terms, m, y, y_stride);
}

// Outputs of one group (m <= 16 rows) for 2 <= T <= kTokens tokens: y[t * y_stride + r]. The same
// integers as group_token in fewer multiplies per token: vpdpbusd of the biased activations and
// the digits (4-element sums in [0, 4 * 255 * 15], within int16), sub-blocks 2j and 2j + 1 as
// one int16 pair per lane (two_chunk_sums), one vpdpwssd against both scales. Each lane then
// holds 128 * (its scaled digit sums) extra, a weight-only term taken off once per block.
template <typename Block, int T>
void group_tokens(int64_t n_blocks, const uint8_t* group, const uint8_t* /*act*/, size_t /*act_stride*/,
                  const ActBlock* blocks, int m, float* y, int64_t y_stride, bool first_pass) {
  static_assert(T >= 2);
  __m512 acc[T][8];     // [t][l]: lane l of token t's 16 outputs
  __m512 min_terms[T];  // token t's min terms of the 16 outputs
  for (int t = 0; t < T; ++t) {
    min_terms[t] = _mm512_setzero_ps();
    for (int l = 0; l < 8; ++l) acc[t][l] = _mm512_setzero_ps();
  }
  const __m512i ones = _mm512_set1_epi8(1);
  auto ahead = read_ahead<Block>(group, n_blocks);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* record = group + b * kRecordBytes<Block>;
    // The first token group of a call reads the rows from memory, the others from cache.
    if (first_pass) ahead.next();
    const RecordScales<true> sc(record);
    const __m512 d_w = fp16_rows(record + kScaleOffset);
    const __m512 dmin_w = fp16_rows(record + kMinScaleOffset);
    const ActBlock* ab = blocks + b * T;
    for (int l = 0; l < 8; ++l) {
      __m512i first[4], second[4];  // [j]: digits of sub-blocks 2j, 2j + 1
      __m512i bias = _mm512_setzero_si512();
      for (int j = 0; j < 4; ++j) {
        lane_digits<Block>(record, j, l, first[j], second[j]);
        bias = _mm512_dpwssd_epi32(bias, two_chunk_sums(ones, first[j], ones, second[j]), sc.scales[j]);
      }
      bias = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(bias, 7));
      __m512i isum[T];
      for (int t = 0; t < T; ++t) isum[t] = bias;
      for (int j = 0; j < 4; ++j)
        for (int t = 0; t < T; ++t) {
          const auto* qa = reinterpret_cast<const int8_t*>(ab[t].biased) + 64 * j + 4 * l;
          isum[t] = _mm512_dpwssd_epi32(isum[t], two_chunk_sums(broadcast4(qa), first[j], broadcast4(qa + 32), second[j]),
                                        sc.scales[j]);
        }
      for (int t = 0; t < T; ++t)
        acc[t][l] = _mm512_fmadd_ps(_mm512_mul_ps(d_w, _mm512_set1_ps(ab[t].d)), _mm512_cvtepi32_ps(isum[t]), acc[t][l]);
    }
    subtract_mins<T>(sc, dmin_w, ab, min_terms);
  }
  store_outputs<T>(acc, min_terms, m, y, y_stride);
}

template <typename Block>
constexpr GroupKernel<ActBlock> kGroupByCount[kTokens] = {
    &group_token<Block, 1>, &group_tokens<Block, 2>, &group_tokens<Block, 3>, &group_tokens<Block, 4>,
    &group_tokens<Block, 5>, &group_tokens<Block, 6>, &group_tokens<Block, 7>, &group_tokens<Block, 8>};

// Interleaved rows [0, n_rows) (`groups` at the group of row 0) times every token; `blocks`:
// their ActBlocks (act_block_row).
template <typename Block>
void run_interleaved(int64_t n, const void* groups, int64_t n_rows, const void* acts, size_t act_stride,
                     const void* blocks, int64_t n_tokens, float* y, int64_t y_stride) {
  sweep_token_groups<ActBlock, kTokens>(n / kQK_K, group_bytes<Block>(n / kQK_K), static_cast<const uint8_t*>(groups),
                                        n_rows, static_cast<const uint8_t*>(acts), act_stride,
                                        static_cast<const ActBlock*>(blocks), n_tokens, y, y_stride,
                                        kGroupByCount<Block>, /*from_memory=*/true);
}

}  // namespace
}  // namespace pagoda::kernels::tile::wide::q4_k

#pragma GCC diagnostic pop
