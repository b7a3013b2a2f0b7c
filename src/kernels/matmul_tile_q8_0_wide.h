#pragma once
// Q8_0 rows interleaved 16 at a time (AVX-512 BW + VNNI), made once by the model, with
// vec_dot_q8_0's bits: 8 float lanes per output, lane l the FMA chain of elements 4l..4l+3
// of each block (ggml's x86 order), then (l0+l4 + l2+l6) + (l1+l5 + l3+l7). In this layout
// lane l of an output is one zmm of 16 rows: one vpdpbusd gives the 16 rows' 4-element sums of
// chunk l, and its convert and FMA serve 16 outputs. A decode step reads each weight byte once,
// with about a third of the 256-bit kernel's instructions per byte.
// Include only from the AVX-512 translation unit.
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/matmul_tile_q4_0_wide.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace pagoda::kernels::tile::wide::q8_0 {
namespace {

// Per group of 16 rows (group_bytes, a multiple of 64):
//   u8 qs [2][n_blocks][4][16][4]: elements 4l..4l+3 (lane l) of row r's block b at
//      [l / 4][b][l % 4][r], biased to w + 128 (vpdpbusd's unsigned operand; the bias comes off
//      with 128 * the activations' sum). Each half of the lanes is contiguous, for the kernels
//      that pass over the group once per half;
//   u16 d [n_blocks][16]: row r's fp16 scale at [b][r].
// Rows past the end of the last group repeat its last row; their outputs are never stored.
constexpr size_t kGroupQsBytes = 8 * 64;
constexpr size_t kHalfBlockBytes = 4 * 64;

// Lane l (0..7) of block b's 16 rows within a group of n_blocks blocks.
inline size_t lane_offset(int64_t n_blocks, int64_t b, int l) {
  return (static_cast<size_t>(l / 4) * n_blocks + b) * kHalfBlockBytes + 64 * (l % 4);
}

inline size_t group_bytes(int64_t n_blocks) {
  return (static_cast<size_t>(n_blocks) * (kGroupQsBytes + kGroupScaleBytes) + 63) / 64 * 64;
}

// The group's three arrays (each half of the lanes, the scales), as ReadAhead reads them.
inline ReadAhead<3> read_ahead(const uint8_t* group, int64_t n_blocks) {
  const size_t half = static_cast<size_t>(n_blocks) * kHalfBlockBytes;
  const GroupArray arrays[3] = {{0, kHalfBlockBytes}, {half, kHalfBlockBytes}, {2 * half, kGroupScaleBytes}};
  return ReadAhead<3>(group, group_bytes(n_blocks), n_blocks, arrays);
}

// Rows [0, m) (m <= 16) into one group, row by row, as Q4_0's interleave_group.
inline void interleave_group(int64_t n_blocks, const uint8_t* rows, size_t row_stride, int m, uint8_t* out) {
  auto* d = reinterpret_cast<uint16_t*>(out + n_blocks * kGroupQsBytes);
  for (int r = 0; r < kGroupRows; ++r) {
    const auto* row = reinterpret_cast<const BlockQ8_0*>(rows + std::min(r, m - 1) * row_stride);
    for (int64_t b = 0; b < n_blocks; ++b) {
      for (int l = 0; l < 8; ++l) {
        uint32_t quad;
        std::memcpy(&quad, row[b].qs + 4 * l, 4);
        quad ^= 0x80808080u;  // w + 128 in each byte
        std::memcpy(out + lane_offset(n_blocks, b, l) + 4 * r, &quad, 4);
      }
      d[b * kGroupRows + r] = row[b].d;
    }
  }
}

// A token's block: minus 128 * (sum of activations 4l..4l+3) for each lane l, the activations
// themselves (the kernels read one stream per token group, not one per token row: +3% in
// bench_matmul), and fp16(a.d). A call's are made once, with its activation rows (matmul.cpp),
// in the order act_block_slot gives.
struct ActBlock {
  int32_t minus_bias[8];
  int8_t qs[32];
  float d;
};

// Tokens per pass over a group. Up to 2, all 8 lanes at once (8 accumulators a token, 8 weight
// registers); from 3, one half of the lanes at a time (lanes_half): 4 accumulators a token and 4
// weight registers, so that each weight load serves up to 6 tokens. Loads of 512-bit weights are
// what the 2-token pass lost to its instruction bound; 6 tokens is the most whose 24 accumulators
// leave the weights, the scales and a product registers (bench_matmul 2048 x 2048 x 512 tokens,
// best of 6 alternating runs: 269 GFLOP/s with 2 tokens, 288 with 4, 303 with 6).
constexpr int kTokens = 6;

inline void act_block_row(int64_t n_blocks, const uint8_t* act_row, ActBlock* out, int64_t count) {
  const auto* row = reinterpret_cast<const BlockQ8_0*>(act_row);
  for (int64_t b = 0; b < n_blocks; ++b) {
    // 128 * a 4-element sum is far from overflow.
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b * count].minus_bias),
                        _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(quad_sums(row[b].qs), 7)));
    std::memcpy(out[b * count].qs, row[b].qs, sizeof(row[b].qs));
    out[b * count].d = simd::fp16(row[b].d);
  }
}

// Outputs of one group (m <= 16 rows) for T <= 2 tokens: y[t * y_stride + r]. `from_memory`: the
// first token group of the call, which reads the rows from memory (prefetched as decode). The
// activations come from `blocks` (act and act_stride are the GroupKernel's, unused here).
template <int T>
void group_tokens(int64_t n_blocks, const uint8_t* group, const uint8_t* act, size_t act_stride,
                  const ActBlock* blocks, int m, float* y, int64_t y_stride, bool from_memory) {
  const auto* scales = reinterpret_cast<const uint16_t*>(group + n_blocks * kGroupQsBytes);
  __m512 acc[T][8];  // [t][l]: lane l of token t's 16 outputs
  for (int t = 0; t < T; ++t)
    for (int l = 0; l < 8; ++l) acc[t][l] = _mm512_setzero_ps();
  ReadAhead<3> ahead = read_ahead(group, n_blocks);
  for (int64_t b = 0; b < n_blocks; ++b) {
    if (from_memory) ahead.next();
    const __m512 d_w = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + b * kGroupRows)));
    for (int t = 0; t < T; ++t) {
      const ActBlock& ab = blocks[b * T + t];
      const int8_t* qa = ab.qs;
      const __m512 d = _mm512_mul_ps(d_w, _mm512_set1_ps(ab.d));  // fp16(w.d) * fp16(a.d)
#pragma GCC unroll 8
      for (int l = 0; l < 8; ++l) {
        const __m512i isum =
            _mm512_dpbusd_epi32(_mm512_set1_epi32(ab.minus_bias[l]),
                                _mm512_load_si512(group + lane_offset(n_blocks, b, l)), broadcast4(qa + 4 * l));
        acc[t][l] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(isum), acc[t][l]);
      }
    }
  }
  const __mmask16 rows = static_cast<__mmask16>((1u << m) - 1);
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * y_stride, rows, sum_lanes(acc[t]));
}

// Lanes 4h..4h+3 of T tokens' 16 outputs over every block: out[t][l] is lane 4h + l of token t.
// Each lane is its own chain, so the halves give the lanes group_tokens gives.
template <int T>
inline void lanes_half(int64_t n_blocks, const uint8_t* group, const ActBlock* blocks, int h, bool from_memory,
                       __m512 (&out)[T][4]) {
  const auto* scales = reinterpret_cast<const uint16_t*>(group + n_blocks * kGroupQsBytes);
  __m512 acc[T][4];
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t)
#pragma GCC unroll 4
    for (int l = 0; l < 4; ++l) acc[t][l] = _mm512_setzero_ps();
  // The first pass prefetches both halves' lanes (the second pass reads its half from cache).
  ReadAhead<3> ahead = read_ahead(group, n_blocks);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* qs = group + lane_offset(n_blocks, b, 4 * h);
    if (from_memory && h == 0) ahead.next();
    __m512i w[4];
#pragma GCC unroll 4
    for (int l = 0; l < 4; ++l) w[l] = _mm512_load_si512(qs + 64 * l);
    const __m512 d_w = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + b * kGroupRows)));
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const ActBlock& ab = blocks[b * T + t];
      const int8_t* qa = ab.qs + 16 * h;
      const __m512 d = _mm512_mul_ps(d_w, _mm512_set1_ps(ab.d));
#pragma GCC unroll 4
      for (int l = 0; l < 4; ++l) {
        const __m512i isum = _mm512_dpbusd_epi32(_mm512_set1_epi32(ab.minus_bias[4 * h + l]), w[l], broadcast4(qa + 4 * l));
        acc[t][l] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(isum), acc[t][l]);
      }
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t)
#pragma GCC unroll 4
    for (int l = 0; l < 4; ++l) out[t][l] = acc[t][l];
}

// group_tokens for 3 <= T <= kTokens tokens, one half of the lanes after the other; the first
// half waits in memory. (act and act_stride: unused, as in group_tokens.)
template <int T>
void group_tokens_halves(int64_t n_blocks, const uint8_t* group, const uint8_t* /*act*/, size_t /*act_stride*/,
                         const ActBlock* blocks, int m, float* y, int64_t y_stride, bool from_memory) {
  alignas(64) __m512 low[T][4];  // lanes 0..3
  __m512 high[T][4];             // lanes 4..7
  lanes_half<T>(n_blocks, group, blocks, 0, from_memory, low);
  // A compiler barrier: the passes must not be merged, which would need both halves'
  // accumulators in registers at once (48 for 6 tokens).
  asm volatile("" ::: "memory");
  lanes_half<T>(n_blocks, group, blocks, 1, from_memory, high);
  const __mmask16 rows = static_cast<__mmask16>((1u << m) - 1);
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) {
    const __m512 lanes[8] = {low[t][0],  low[t][1],  low[t][2],  low[t][3],
                             high[t][0], high[t][1], high[t][2], high[t][3]};
    _mm512_mask_storeu_ps(y + t * y_stride, rows, sum_lanes(lanes));
  }
}

template <int T>
constexpr GroupKernel<ActBlock> group_kernel() {
  if constexpr (T <= 2) {
    return &group_tokens<T>;
  } else {
    return &group_tokens_halves<T>;
  }
}

constexpr GroupKernel<ActBlock> kGroupByCount[kTokens] = {group_kernel<1>(), group_kernel<2>(), group_kernel<3>(),
                                                           group_kernel<4>(), group_kernel<5>(), group_kernel<6>()};

// Interleaved rows [0, n_rows) (`groups` at the group of row 0) times every token; `blocks`:
// their ActBlocks (act_block_row).
inline void run_interleaved(int64_t n, const void* groups, int64_t n_rows, const void* acts, size_t act_stride,
                            const void* blocks, int64_t n_tokens, float* y, int64_t y_stride) {
  sweep_token_groups<ActBlock, kTokens>(n / kQK, group_bytes(n / kQK), static_cast<const uint8_t*>(groups), n_rows,
                                        static_cast<const uint8_t*>(acts), act_stride,
                                        static_cast<const ActBlock*>(blocks), n_tokens, y, y_stride, kGroupByCount,
                                        /*from_memory=*/true);
}

}  // namespace
}  // namespace pagoda::kernels::tile::wide::q8_0

#pragma GCC diagnostic pop
