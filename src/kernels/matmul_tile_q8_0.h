#pragma once
// Q8_0 tile kernel against Q8_0 (see matmul_tile_impl.h), following
// vec_dot_q8_0 of vec_dot_legacy_avx2.cpp and vec_dot_avx512.cpp: 8 float
// lanes per output (ggml's x86 order, which llama.cpp also keeps in its
// Q8_0 GEMM), one FMA per 32-element block and token. A block is so small
// that the activations are first interleaved by block (one pointer for all
// tokens, scales already in float) in the thread's tile_scratch.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/matmul_tile_impl.h"
#include "kernels/simd_avx2.h"
#include "kernels/vec_dot_isa.h"
#include "quant/blocks.h"

namespace pagoda::kernels::tile {
namespace {

using quant::BlockQ8_0;
using quant::kQK;

// A token group's Q8_0 activation rows, interleaved by block so that one
// pointer walks all tokens: qs [n_blocks][T][32], d [n_blocks][T] (fp16
// scales converted to float, exactly as simd::fp16 does).
struct PackedQ8_0 {
  const int8_t* qs;
  const float* d;
};

// Tile scratch bytes of pack_q8_0.
inline size_t pack_q8_0_bytes(int64_t n, int count) {
  return static_cast<size_t>(n / kQK) * count * (kQK + sizeof(float));
}

// Packs `count` activation rows (row t at act + t * act_stride) into this
// thread's tile scratch.
inline PackedQ8_0 pack_q8_0(int64_t n, const uint8_t* act, size_t act_stride, int count) {
  const int64_t n_blocks = n / kQK;
  const size_t qs_bytes = static_cast<size_t>(n_blocks) * count * kQK;
  uint8_t* scratch = tile_scratch(pack_q8_0_bytes(n, count));
  auto* qs = reinterpret_cast<int8_t*>(scratch);
  auto* d = reinterpret_cast<float*>(scratch + qs_bytes);  // qs_bytes is a multiple of 32
  for (int t = 0; t < count; ++t) {
    const auto* row = reinterpret_cast<const BlockQ8_0*>(act + t * act_stride);
    for (int64_t b = 0; b < n_blocks; ++b) {
      std::memcpy(qs + (b * count + t) * kQK, row[b].qs, kQK);
      d[b * count + t] = simd::fp16(row[b].d);
    }
  }
  return {qs, d};
}

// vec_dot_q8_0 per token: one FMA per block with fp16(w.d) * fp16(a.d), over
// 8 int32 lanes of the exact block dot.
template <class P>
struct Q8_0 {
  // Each group's activations packed once.
  using Group = PackedQ8_0;
  static Group group(int64_t n, const uint8_t* act, size_t act_stride, int count) {
    return pack_q8_0(n, act, act_stride, count);
  }

  template <int T>
  static void row(int64_t n, const void* weight_row, const PackedQ8_0& a, float* y,
                  int64_t y_stride) {
    const auto* w = static_cast<const BlockQ8_0*>(weight_row);
    __m256 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / kQK; ++b) {
      const __m256i x = simd::load32(w[b].qs);
      const __m256i abs_x = _mm256_abs_epi8(x);  // |x| * sign(y, x) == x * y
      const float d = simd::fp16(w[b].d);
      const int8_t* qa = a.qs + b * T * kQK;
      for (int t = 0; t < T; ++t) {
        const __m256i isum = P::dot_s8_abs(abs_x, _mm256_sign_epi8(simd::load32(qa + t * kQK), x));
        acc[t] =
            _mm256_fmadd_ps(_mm256_set1_ps(d * a.d[b * T + t]), _mm256_cvtepi32_ps(isum), acc[t]);
      }
    }
    store<T>(acc, y, y_stride);
  }
};

}  // namespace
}  // namespace pagoda::kernels::tile
