#pragma once
// Q4_0 on 512 bits (AVX-512 BW + VNNI) with vec_dot_q4_0's bits (one integer
// total per block, acc = fma(float(isum), d_w * d_a, acc); matmul_tile_q4_0.h).
// Weight rows are interleaved 16 at a time, so that one zmm holds the same 4
// elements of 16 rows: vpdpbusd with a token's 4 activations broadcast adds
// 16 rows' 4-element sums, 8 of them give the 16 block totals in 16 lanes, and
// one convert, multiply and FMA finish the block for 16 outputs.
// The interleaved rows come from the model (interleaved once at load time,
// matmul.h's WeightView::interleaved) or, for a call of enough tokens on rows
// in file order, from this call (about 256 KB of rows at a time, serving
// every token); few tokens on rows in file order take LaneSums.
// Include only from the AVX-512 translation unit.
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/matmul_tile_q4_0.h"

// GCC 12's AVX-512 headers pass an undefined vector to their own masked builtins,
// which -Wuninitialized reports at every use (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace pagoda::kernels::tile::wide {
namespace {

// Interleaved rows, per group of 16 rows (group_bytes, a multiple of 64):
//   u8 qs [n_blocks][4][16][4]: bytes 4k..4k+3 of row r's block at [b][k][r] (the nibbles of
//      elements 4k.. and 16 + 4k..), so that lane r of the 64 bytes [b][k] is row r's;
//   u16 d [n_blocks][16]: row r's fp16 scale at [b][r].
// The same bytes as the rows, rearranged. Rows past the end of the last group repeat its last
// row; their outputs are never stored.
constexpr int kGroupRows = 16;
constexpr size_t kGroupQsBytes = 4 * 64;
constexpr size_t kGroupScaleBytes = kGroupRows * sizeof(uint16_t);

inline size_t group_bytes(int64_t n_blocks) {
  return (static_cast<size_t>(n_blocks) * (kGroupQsBytes + kGroupScaleBytes) + 63) / 64 * 64;
}

// Interleaved bytes per call chunk (rows in file order): they stay in L2 while every token
// group passes.
constexpr size_t kChunkBytes = 256 * 1024;
// Tokens per pass over a group (16 accumulators + 8 weight registers of 32).
constexpr int kTokens = 16;
// Below this many tokens, interleaving rows in file order costs more than it saves and
// LaneSums runs (bench_matmul, 2048 x 2048, one thread: about 5 tokens of work).
constexpr int64_t kMinTokens = 5;

// Rows interleaved per chunk: a multiple of 16, at least 16.
inline int64_t chunk_rows(int64_t n) {
  const size_t row_bytes = group_bytes(n / kQK) / kGroupRows;
  return std::max<int64_t>(kGroupRows, static_cast<int64_t>(kChunkBytes / row_bytes) / kGroupRows * kGroupRows);
}

// Interleaves rows [0, m) (m <= 16) of n_blocks blocks into one group at `out`, row by row:
// sequential reads, and as fast as gathering 16 rows at a time in cache (bench_matmul, 16 tokens
// of 2048 x 2048: 0.43-0.52 against 0.51 ms).
inline void interleave_group(int64_t n_blocks, const uint8_t* rows, size_t row_stride, int m, uint8_t* out) {
  auto* d = reinterpret_cast<uint16_t*>(out + n_blocks * kGroupQsBytes);
  for (int r = 0; r < kGroupRows; ++r) {
    const auto* row = reinterpret_cast<const BlockQ4_0*>(rows + std::min(r, m - 1) * row_stride);
    for (int64_t b = 0; b < n_blocks; ++b) {
      for (int k = 0; k < 4; ++k) std::memcpy(out + b * kGroupQsBytes + 64 * k + 4 * r, row[b].qs + 4 * k, 4);
      d[b * kGroupRows + r] = row[b].d;
    }
  }
}

// A token's block: minus 8 * (sum of its 32 activations), the bias term the digits q + 8 add to
// isum, and fp16(a.d). A call's are made once, with its activation rows (matmul.cpp), in the
// order act_block_slot gives.
struct ActBlock {
  int32_t minus_bias;
  float d;
};

// Where a call's ActBlocks go: token groups of kTokens in turn, each [n_blocks][count] (a block's
// tokens side by side, as the group kernels read them). Token `token` of n_tokens is in a group
// of `count` tokens and writes its block b at [first + b * count].
template <int kTokens>
inline void act_block_slot(int64_t n_blocks, int64_t token, int64_t n_tokens, int64_t& first, int64_t& count) {
  const int64_t t0 = token / kTokens * kTokens;
  count = std::min<int64_t>(kTokens, n_tokens - t0);
  first = t0 * n_blocks + (token - t0);
}

// Bytes of one token's Terms (every layout's ActBlock) over n values in blocks of kValues, and
// of n_tokens tokens' Q4_0 ActBlocks.
template <class Terms, int64_t kValues>
inline size_t act_row_bytes(int64_t n) {
  return static_cast<size_t>(n / kValues) * sizeof(Terms);
}
inline size_t act_blocks_bytes(int64_t n, int64_t n_tokens) {
  return static_cast<size_t>(n_tokens) * act_row_bytes<ActBlock, kQK>(n);
}

// The 8 sums of 4 consecutive activations of a block (in [-128, 127]: exact).
inline __m256i quad_sums(const int8_t* qs) {
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), simd::load32(qs));
}

// One token's ActBlocks from its activation row, block b at out[b * count], count being its
// token group's size (act_block_slot).
inline void act_block_row(int64_t n_blocks, const uint8_t* act_row, ActBlock* out, int64_t count) {
  const auto* row = reinterpret_cast<const BlockQ8_0*>(act_row);
  for (int64_t b = 0; b < n_blocks; ++b) {
    // 8 * the sum of 32 activations fits int32 easily.
    out[b * count] = {-8 * simd::hsum_epi32(quad_sums(row[b].qs)), simd::fp16(row[b].d)};
  }
}

// Decode streams the groups, one after the other, and a software prefetch 16 KB ahead gave
// +15-20% whenever the machine was busy (BENCHMARKS.md). A layout keeps a group's blocks in a few
// arrays (Q4_0: the digits, then the scales), so the kernel reads a few streams at once; ReadAhead
// prefetches in that order, the lines of the block about kPrefetchAhead bytes ahead, in this group
// or the next ones (a call's groups lie one after the other). Prefetching the group's bytes as one
// stream instead left each group's scales, and Q8_0's second half of the lanes, to start cold
// (Q8_0 decode: +10% with ReadAhead, BENCHMARKS.md).
constexpr size_t kPrefetchAhead = 16384;

// One array of a group's layout: block b's bytes at [offset + b * block_bytes, + block_bytes).
struct GroupArray {
  size_t offset;
  size_t block_bytes;
};

template <int N>
class ReadAhead {
 public:
  // The kernel is about to read block 0 of `group` (n_blocks blocks of `arrays`, group_bytes).
  ReadAhead(const uint8_t* group, size_t group_bytes, int64_t n_blocks, const GroupArray (&arrays)[N])
      : n_blocks_(n_blocks), group_bytes_(group_bytes) {
    for (int i = 0; i < N; ++i) arrays_[i] = arrays[i];
    const size_t per_block = std::max<size_t>(1, group_bytes / static_cast<size_t>(n_blocks));
    const int64_t ahead = std::max<int64_t>(1, static_cast<int64_t>(kPrefetchAhead / per_block));
    group_ = group + static_cast<size_t>(ahead / n_blocks) * group_bytes;
    block_ = ahead % n_blocks;
  }

  // Prefetches the block `ahead` past the one the kernel reads now; call once per block.
  void next() {
    for (int i = 0; i < N; ++i) {
      const uintptr_t begin = reinterpret_cast<uintptr_t>(group_ + arrays_[i].offset + block_ * arrays_[i].block_bytes);
      for (uintptr_t line = begin & ~uintptr_t{63}; line < begin + arrays_[i].block_bytes; line += 64)
        _mm_prefetch(reinterpret_cast<const char*>(line), _MM_HINT_T0);
    }
    if (++block_ == n_blocks_) {
      block_ = 0;
      group_ += group_bytes_;
    }
  }

 private:
  GroupArray arrays_[N];
  const uint8_t* group_;
  int64_t block_;
  int64_t n_blocks_;
  size_t group_bytes_;
};

// Q4_0's arrays, as ReadAhead reads them.
inline ReadAhead<2> read_ahead(const uint8_t* group, int64_t n_blocks) {
  const GroupArray arrays[2] = {{0, kGroupQsBytes}, {static_cast<size_t>(n_blocks) * kGroupQsBytes, kGroupScaleBytes}};
  return ReadAhead<2>(group, group_bytes(n_blocks), n_blocks, arrays);
}

inline __m512i broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return _mm512_set1_epi32(v);
}

// The outputs of one group of 16 rows (m of them stored) for one token group, as every
// interleaved layout's kernel computes them: `act` and `blocks` at the group's first token
// (blocks[b * count + t]: token t's block b); `from_memory`: the group is read for the first
// time in this call, from the model's rows (prefetched as decode).
template <typename ActBlock>
using GroupKernel = void (*)(int64_t n_blocks, const uint8_t* group, const uint8_t* act, size_t act_stride,
                             const ActBlock* blocks, int m, float* y, int64_t y_stride, bool from_memory);

// Outputs of one group (m <= 16 rows) for T tokens: y[t * y_stride + r]. `from_memory`: the
// group is read for the first time in this call, from the model's rows (prefetched as decode).
template <int T>
void group_tokens(int64_t n_blocks, const uint8_t* group, const uint8_t* act, size_t act_stride,
                  const ActBlock* blocks, int m, float* y, int64_t y_stride, bool from_memory) {
  const auto* scales = reinterpret_cast<const uint16_t*>(group + n_blocks * kGroupQsBytes);
  __m512 acc[T];
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  ReadAhead<2> ahead = read_ahead(group, n_blocks);
  for (int64_t b = 0; b < n_blocks; ++b) {
    if (from_memory) ahead.next();
    __m512i w[8];  // w[j]: elements 4j..4j+3 of the 16 rows, as q + 8
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const __m512i packed = _mm512_load_si512(group + b * kGroupQsBytes + 64 * k);
      w[k] = _mm512_and_si512(packed, _mm512_set1_epi8(0x0F));
      w[k + 4] = _mm512_and_si512(_mm512_srli_epi32(packed, 4), _mm512_set1_epi8(0x0F));
    }
    const __m512 d_w = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + b * kGroupRows)));
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) {
      const ActBlock& ab = blocks[b * T + t];
      const int8_t* qa = reinterpret_cast<const BlockQ8_0*>(act + t * act_stride)[b].qs;
      __m512i isum = _mm512_set1_epi32(ab.minus_bias);
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) isum = _mm512_dpbusd_epi32(isum, w[j], broadcast4(qa + 4 * j));  // <= 32 * 15 * 128
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(d_w, _mm512_set1_ps(ab.d)), acc[t]);
    }
  }
  const __mmask16 rows = static_cast<__mmask16>((1u << m) - 1);
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * y_stride, rows, acc[t]);
}

constexpr GroupKernel<ActBlock> kGroupByCount[kTokens] = {
    &group_tokens<1>,  &group_tokens<2>,  &group_tokens<3>,  &group_tokens<4>,
    &group_tokens<5>,  &group_tokens<6>,  &group_tokens<7>,  &group_tokens<8>,
    &group_tokens<9>,  &group_tokens<10>, &group_tokens<11>, &group_tokens<12>,
    &group_tokens<13>, &group_tokens<14>, &group_tokens<15>, &group_tokens<16>};

// Interleaved rows [0, n_rows) (groups of group_bytes from `groups`) times every token, token
// groups of up to kTokens passing all rows; `blocks`: every token's ActBlocks (act_block_slot);
// by_count[k - 1] computes k tokens. Shared by every interleaved layout.
template <typename ActBlock, int kTokens>
void sweep_token_groups(int64_t n_blocks, size_t group_bytes, const uint8_t* groups, int64_t n_rows, const uint8_t* act,
                        size_t act_stride, const ActBlock* blocks, int64_t n_tokens, float* y, int64_t y_stride,
                        const GroupKernel<ActBlock> (&by_count)[kTokens], bool from_memory) {
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokens) {
    const int count = static_cast<int>(std::min<int64_t>(kTokens, n_tokens - t0));
    for (int64_t r0 = 0; r0 < n_rows; r0 += kGroupRows) {
      const int m = static_cast<int>(std::min<int64_t>(kGroupRows, n_rows - r0));
      by_count[count - 1](n_blocks, groups + r0 / kGroupRows * group_bytes, act + t0 * act_stride, act_stride,
                          blocks + t0 * n_blocks, m, y + t0 * y_stride + r0, y_stride, from_memory && t0 == 0);
    }
  }
}

// 16 outputs' 8 float lanes (lanes[l]: lane l of the 16) summed in ggml's x86 order,
// (l0+l4 + l2+l6) + (l1+l5 + l3+l7): the layouts that keep vec_dot's 8 lanes (Q8_0, K-quants).
inline __m512 sum_lanes(const __m512 (&lanes)[8]) {
  const __m512 r0 = _mm512_add_ps(lanes[0], lanes[4]), r1 = _mm512_add_ps(lanes[1], lanes[5]);
  const __m512 r2 = _mm512_add_ps(lanes[2], lanes[6]), r3 = _mm512_add_ps(lanes[3], lanes[7]);
  return _mm512_add_ps(_mm512_add_ps(r0, r2), _mm512_add_ps(r1, r3));
}

// Rows in the model's interleaved layout (`groups` at the group of row 0; n_rows: the rows
// wanted from there), any token count; `blocks`: the tokens' ActBlocks (act_block_row).
inline void run_interleaved(int64_t n, const void* groups, int64_t n_rows, const void* acts, size_t act_stride,
                            const void* blocks, int64_t n_tokens, float* y, int64_t y_stride) {
  sweep_token_groups<ActBlock, kTokens>(n / kQK, group_bytes(n / kQK), static_cast<const uint8_t*>(groups), n_rows,
                                        static_cast<const uint8_t*>(acts), act_stride,
                                        static_cast<const ActBlock*>(blocks), n_tokens, y, y_stride, kGroupByCount,
                                        /*from_memory=*/true);
}

// The VecDotTileFn, rows in file order.
template <class P>
void run_rows(int64_t n, const void* weights, size_t row_stride, int64_t n_rows, const void* acts, size_t act_stride,
              int64_t n_tokens, float* y, int64_t y_stride) {
  if (n_tokens < kMinTokens) {
    LaneSums<P>::run(n, weights, row_stride, n_rows, acts, act_stride, n_tokens, y, y_stride);
    return;
  }
  const auto* w = static_cast<const uint8_t*>(weights);
  const int64_t n_blocks = n / kQK;
  const int64_t chunk = std::min(n_rows, chunk_rows(n));
  const size_t bytes = group_bytes(n_blocks);
  const int64_t chunk_groups = (chunk + kGroupRows - 1) / kGroupRows;
  uint8_t* scratch = tile_scratch(chunk_groups * bytes + act_blocks_bytes(n, n_tokens));
  auto* blocks = reinterpret_cast<ActBlock*>(scratch + chunk_groups * bytes);
  for (int64_t t = 0; t < n_tokens; ++t) {
    int64_t first, count;
    act_block_slot<kTokens>(n_blocks, t, n_tokens, first, count);
    act_block_row(n_blocks, static_cast<const uint8_t*>(acts) + t * act_stride, blocks + first, count);
  }
  for (int64_t r0 = 0; r0 < n_rows; r0 += chunk) {
    const int64_t rows = std::min(chunk, n_rows - r0);
    for (int64_t g = 0; g * kGroupRows < rows; ++g) {
      const int m = static_cast<int>(std::min<int64_t>(kGroupRows, rows - g * kGroupRows));
      interleave_group(n_blocks, w + (r0 + g * kGroupRows) * row_stride, row_stride, m, scratch + g * bytes);
    }
    sweep_token_groups<ActBlock, kTokens>(n_blocks, bytes, scratch, rows, static_cast<const uint8_t*>(acts),
                                          act_stride, blocks, n_tokens, y + r0, y_stride, kGroupByCount,
                                          /*from_memory=*/false);
  }
}

// tile_scratch bytes of run_rows for n_tokens tokens over n_rows rows of n values.
template <class P>
size_t run_rows_scratch_bytes(int64_t n, int64_t n_rows, int64_t n_tokens) {
  if (n_tokens < kMinTokens) return LaneSums<P>::scratch_bytes(n, n_tokens);
  const int64_t groups = (std::min(n_rows, chunk_rows(n)) + kGroupRows - 1) / kGroupRows;
  return static_cast<size_t>(groups) * group_bytes(n / kQK) + act_blocks_bytes(n, n_tokens);
}

}  // namespace
}  // namespace pagoda::kernels::tile::wide

#pragma GCC diagnostic pop
