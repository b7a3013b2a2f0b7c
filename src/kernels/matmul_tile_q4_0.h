#pragma once
// Q4_0 tile kernels against Q8_0 with vec_dot_q4_0's bits: per 32-element
// block the exact integer total isum, then one float chain per output,
// acc = fma(float(isum), d_w * d_a, acc) (ref::vec_dot_q4_0; the order of
// ggml's repacked Q4_0 GEMM). Each output is one float lane, so lanes can
// hold different outputs:
//  - LaneSums (AVX2, and AVX-512 for a few tokens): 8 outputs per ymm, R rows
//    x T tokens with R * T = 8 (T = 1: 8 rows of one token). Per block each
//    output's 8 int32 partial sums are reduced, 8 outputs at once, to one
//    vector of totals (exact integer adds); then one convert, one multiply
//    and one FMA serve 8 outputs.
//  - wide::Interleaved (matmul_tile_q4_0_wide.h): 16 rows per zmm.
// The digits q + 8 (0..15) are the unsigned operand of the integer step, and
// 8 * sum(a) comes off each total: sum (q + 8) * a - 8 * sum a = sum q * a.
// Include only from translation units compiled for AVX2 or above.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/simd_avx2.h"
#include "kernels/vec_dot_isa.h"
#include "quant/blocks.h"

namespace pagoda::kernels::tile {
namespace {

using quant::BlockQ4_0;
using quant::BlockQ8_0;
using quant::kQK;

// A token group's Q8_0 activation rows for LaneSums, interleaved by block: qs [n_blocks][T][32],
// d [n_blocks][T] (fp16 scales converted to float, as simd::fp16 does), sums [n_blocks][T] (the
// sum of the block's 32 activations). Token slots past the group's count are zero (their lanes
// compute 0 and are not stored).
struct LaneActs {
  const int8_t* qs;
  const float* d;
  const int32_t* sums;
};

// Tile scratch bytes of pack_lane_acts.
inline size_t lane_acts_bytes(int64_t n, int slots) {
  return static_cast<size_t>(n / kQK) * slots * (kQK + sizeof(float) + sizeof(int32_t));
}

// Packs `count` activation rows (row t at act + t * act_stride) into `slots` >= count
// token slots of this thread's tile scratch.
inline LaneActs pack_lane_acts(int64_t n, const uint8_t* act, size_t act_stride, int count, int slots) {
  const int64_t n_blocks = n / kQK;
  const size_t qs_bytes = static_cast<size_t>(n_blocks) * slots * kQK;  // a multiple of 32
  uint8_t* scratch = tile_scratch(lane_acts_bytes(n, slots));
  auto* qs = reinterpret_cast<int8_t*>(scratch);
  auto* d = reinterpret_cast<float*>(scratch + qs_bytes);
  auto* sums = reinterpret_cast<int32_t*>(d + n_blocks * slots);
  for (int64_t b = 0; b < n_blocks; ++b) {
    for (int t = 0; t < slots; ++t) {
      int8_t* dst = qs + (b * slots + t) * kQK;
      if (t < count) {
        const BlockQ8_0& block = reinterpret_cast<const BlockQ8_0*>(act + t * act_stride)[b];
        const __m256i a = simd::load32(block.qs);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), a);
        d[b * slots + t] = simd::fp16(block.d);
        sums[b * slots + t] = simd::hsum_epi32(simd::dot_u8_s8_quads(_mm256_set1_epi8(1), a));  // exact
      } else {
        std::memset(dst, 0, kQK);
        d[b * slots + t] = 0.0f;
        sums[b * slots + t] = 0;
      }
    }
  }
  return {qs, d, sums};
}

// Lane i (row i / T, token i % T): fp16(d) of block b of row i / T, converted with F16C.
template <int T>
inline __m256 row_scales(const BlockQ4_0* const (&w)[8 / T], int64_t b) {
  if constexpr (T == 8) {
    return _mm256_set1_ps(simd::fp16(w[0][b].d));
  } else if constexpr (T == 4) {
    return _mm256_set_m128(_mm_set1_ps(simd::fp16(w[1][b].d)), _mm_set1_ps(simd::fp16(w[0][b].d)));
  } else {
    auto h = [&](int i) { return static_cast<short>(w[i / T][b].d); };
    return _mm256_cvtph_ps(_mm_setr_epi16(h(0), h(1), h(2), h(3), h(4), h(5), h(6), h(7)));
  }
}

// Lane i: d[i % T] (T consecutive floats).
template <int T>
inline __m256 token_scales(const float* d) {
  if constexpr (T == 8) return _mm256_loadu_ps(d);
  if constexpr (T == 4) return _mm256_broadcast_ps(reinterpret_cast<const __m128*>(d));
  if constexpr (T == 2) return _mm256_castpd_ps(_mm256_broadcast_sd(reinterpret_cast<const double*>(d)));
  if constexpr (T == 1) return _mm256_broadcast_ss(d);
}
// The same for T consecutive int32 (the loads move bits unchanged).
template <int T>
inline __m256i token_ints(const int32_t* v) {
  return _mm256_castps_si256(token_scales<T>(reinterpret_cast<const float*>(v)));
}

// Token slots per lane vector for a group of `count` tokens (<= 8).
constexpr int lane_tokens(int count) {
  return count >= 5 ? 8 : count >= 3 ? 4 : count;
}

// The next rows' bytes, prefetched in order while the current R rows are read block by
// block: R rows read side by side are R short streams that the hardware prefetchers barely
// follow (Q4_0 decode ran at half speed), but in memory they are one contiguous range.
// kStep bytes of it per block (R blocks; the range is longer when rows are padded, and then
// the prefetch only falls behind).
template <size_t kStep>
struct NextRows {
  const uint8_t* first = nullptr;  // the next rows' first byte; null past the last row
  NextRows(const uint8_t* weights, size_t row_stride, int64_t n_rows, int64_t next_row) {
    if (next_row < n_rows) first = weights + next_row * row_stride;
  }
  void prefetch(int64_t b) const {
    if (first == nullptr) return;
    const uint8_t* p = first + b * kStep;
#pragma GCC unroll 8
    for (size_t line = 0; line < (kStep + 63) / 64; ++line)
      _mm_prefetch(reinterpret_cast<const char*>(p + 64 * line), _MM_HINT_T0);
  }
};

// P::dot_s8_abs(u, s): 8 int32 sums of 4 u8 x s8 products (maddubs + madd, or vpdpbusd); with
// u <= 15 a maddubs pair is at most 2 * 15 * 128, so nothing saturates.
template <class P>
struct LaneSums {
  // All rows against one group of `count` <= 8 tokens, packed in T = lane_tokens(count) slots.
  template <int T>
  static void group(int64_t n, const uint8_t* weights, size_t row_stride, int64_t n_rows, const LaneActs& a,
                    int count, float* y, int64_t y_stride) {
    constexpr int R = 8 / T;
    const int64_t n_blocks = n / kQK;
    for (int64_t r0 = 0; r0 < n_rows; r0 += R) {
      const BlockQ4_0* w[R];  // rows past the end repeat the last row; their lanes are not stored
      for (int r = 0; r < R; ++r)
        w[r] = reinterpret_cast<const BlockQ4_0*>(weights + std::min<int64_t>(r0 + r, n_rows - 1) * row_stride);
      const NextRows<R * sizeof(BlockQ4_0)> next(weights, row_stride, n_rows, r0 + 2 * R);
      __m256 acc = _mm256_setzero_ps();
      for (int64_t b = 0; b < n_blocks; ++b) {
        next.prefetch(b);
        __m256i partial[8];
        const int8_t* qa = a.qs + b * T * kQK;
        for (int r = 0; r < R; ++r) {
          const __m256i u = simd::unpack_nibbles16(w[r][b].qs);  // q + 8
          for (int t = 0; t < T; ++t) partial[r * T + t] = P::dot_s8_abs(u, simd::load32(qa + t * kQK));
        }
        const __m256i totals =
            _mm256_sub_epi32(lane_totals<8>(partial), _mm256_slli_epi32(token_ints<T>(a.sums + b * T), 3));
        const __m256 scale = _mm256_mul_ps(row_scales<T>(w, b), token_scales<T>(a.d + b * T));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(totals), scale, acc);
      }
      alignas(32) float out[8];
      _mm256_store_ps(out, acc);
      const int rows = static_cast<int>(std::min<int64_t>(R, n_rows - r0));
      for (int r = 0; r < rows; ++r)
        for (int t = 0; t < count; ++t) y[t * y_stride + r0 + r] = out[r * T + t];
    }
  }

  // The VecDotTileFn: groups of 8 tokens (the last one narrower) over all rows.
  static void run(int64_t n, const void* weights, size_t row_stride, int64_t n_rows, const void* acts,
                  size_t act_stride, int64_t n_tokens, float* y, int64_t y_stride) {
    const auto* w = static_cast<const uint8_t*>(weights);
    const auto* act = static_cast<const uint8_t*>(acts);
    for (int64_t t0 = 0; t0 < n_tokens; t0 += 8) {
      const int count = static_cast<int>(std::min<int64_t>(8, n_tokens - t0));
      const int slots = lane_tokens(count);
      const LaneActs a = pack_lane_acts(n, act + t0 * act_stride, act_stride, count, slots);
      float* yg = y + t0 * y_stride;
      switch (slots) {
        case 1:
          group<1>(n, w, row_stride, n_rows, a, count, yg, y_stride);
          break;
        case 2:
          group<2>(n, w, row_stride, n_rows, a, count, yg, y_stride);
          break;
        case 4:
          group<4>(n, w, row_stride, n_rows, a, count, yg, y_stride);
          break;
        default:
          group<8>(n, w, row_stride, n_rows, a, count, yg, y_stride);
          break;
      }
    }
  }

  // tile_scratch bytes of run for n_tokens tokens.
  static size_t scratch_bytes(int64_t n, int64_t n_tokens) {
    return n_tokens < 1 ? 0 : lane_acts_bytes(n, lane_tokens(static_cast<int>(std::min<int64_t>(8, n_tokens))));
  }
};

}  // namespace
}  // namespace pagoda::kernels::tile
