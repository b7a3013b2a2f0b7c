#pragma once
// Tile kernels (VecDotTileFn) shared by matmul_tile_avx2.cpp and
// matmul_tile_avx512.cpp: one weight row against T prepared activation rows at
// once, each weight block loaded and unpacked (digits, scales, mins) once for
// all T tokens. The kernels are in matmul_tile_kquant.h and matmul_tile_q8_0.h
// (Q4_0, whose float order has one lane per output, is in matmul_tile_q4_0.h).
//
// Bit identity with the single-output kernels: every output keeps its own
// integer lanes and its own float chain, with exactly the float operations of
// vec_dot_*_avx2.cpp / vec_dot_avx512.cpp in the same order (one FMA per
// block into 8 lanes, the same scale products, simd::hsum, then the min
// terms). Integer lane sums are exact, so only how the digits are decoded is
// shared. The ISA policy `P` supplies the integer steps:
//   P::kTokens                        tokens per tile (register budget, <= kMaxTokens)
//   P::add_scaled_pairs(isum, p, s)   isum + madd(p, s)   (int16 pairs x int16 scales)
//   P::dot_s8_abs(abs_x, sign_y)      8 int32 sums of 4 |x| * sign(y, x) products
// Both are exact in int32 (modulo 2^32, like the AVX2 ops they replace).
//
// Include only from translation units compiled for AVX2 or above. Everything
// here has internal linkage so the AVX2 and AVX-512 copies never merge.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "kernels/simd_avx2.h"

namespace pagoda::kernels::tile {
namespace {

// Most tokens any policy puts in one tile: per-token scalars travel in the
// 8 lanes of one vector.
constexpr int kMaxTokens = 8;

// A token group's activation rows as matmul holds them: row t at base + t * stride.
struct StridedRows {
  const uint8_t* base;
  size_t stride;
};

// Kernels that read the activation rows in place.
struct InPlaceActivations {
  using Group = StridedRows;
  static Group group(int64_t /*n*/, const uint8_t* act, size_t act_stride, int /*count*/) {
    return {act, act_stride};
  }
};

// Typed access to a group of T activation rows.
template <typename Act, int T>
struct ActRows {
  static_assert(T >= 1 && T <= kMaxTokens);
  const Act* rows[kMaxTokens] = {};
  explicit ActRows(StridedRows g) {
    for (int t = 0; t < T; ++t) rows[t] = reinterpret_cast<const Act*>(g.base + t * g.stride);
  }
  const Act& operator()(int t, int64_t block) const { return rows[t][block]; }
  // Lane t: block `block`'s activation scale d of token t (Q8_K); 0 in lanes >= T.
  __m256 scales(int64_t block) const {
    auto d = [&](int t) { return t < T ? rows[t][block].d : 0.0f; };
    return _mm256_setr_ps(d(0), d(1), d(2), d(3), d(4), d(5), d(6), d(7));
  }
};

// The final reduction of vec_dot_*_avx2: hsum of the lanes, then the min terms
// (lane t of min_terms).
template <int T>
inline void store(const __m256 (&acc)[T], __m256 min_terms, float* y, int64_t y_stride) {
  alignas(32) float mins[kMaxTokens];
  _mm256_store_ps(mins, min_terms);
  for (int t = 0; t < T; ++t) y[t * y_stride] = simd::hsum(acc[t]) + mins[t];
}
template <int T>
inline void store(const __m256 (&acc)[T], float* y, int64_t y_stride) {
  for (int t = 0; t < T; ++t) y[t * y_stride] = simd::hsum(acc[t]);
}

// Lane t = the sum of the 8 int32 lanes of v[t] for t < T, 0 above (exact:
// integer adds in any order). Replaces T scalar loops by three hadd levels.
template <int T>
inline __m256i lane_totals(const __m256i (&v)[T]) {
  __m256i p[kMaxTokens];
  for (int t = 0; t < kMaxTokens; ++t) p[t] = t < T ? v[t] : _mm256_setzero_si256();
  // Per 128-bit half: [t0 low, t1 low, t2 low, t3 low | t0 high, ..., t3 high].
  const __m256i q0 =
      _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
  const __m256i q1 =
      _mm256_hadd_epi32(_mm256_hadd_epi32(p[4], p[5]), _mm256_hadd_epi32(p[6], p[7]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(q0, q1, 0x20),
                          _mm256_permute2x128_si256(q0, q1, 0x31));
}

// The VecDotTileFn contract: y[t * y_stride + r] for r < n_rows, t < n_tokens.
// Groups of P::kTokens tokens (the last one narrower) sweep all rows, so the
// group's activations stay in L1 while the weight rows stream past.
// Kernel::group prepares a group's activations once; Kernel::row<T> computes
// one weight row against a group of T tokens.
template <class P, class Kernel>
void run_tile(int64_t n, const void* weights, size_t row_stride, int64_t n_rows, const void* acts,
              size_t act_stride, int64_t n_tokens, float* y, int64_t y_stride) {
  static_assert(P::kTokens >= 1 && P::kTokens <= kMaxTokens);
  using Group = typename Kernel::Group;
  using Row =
      void (*)(int64_t n, const void* weight_row, const Group& group, float* y, int64_t y_stride);
  static constexpr auto rows = []<int... Ts>(std::integer_sequence<int, Ts...>) {
    return std::array<Row, sizeof...(Ts)>{&Kernel::template row<Ts + 1>...};
  }
  (std::make_integer_sequence<int, P::kTokens>{});  // rows[k - 1]: k tokens
  const auto* w = static_cast<const uint8_t*>(weights);
  const auto* a = static_cast<const uint8_t*>(acts);
  for (int64_t t0 = 0; t0 < n_tokens; t0 += P::kTokens) {
    const int count = static_cast<int>(std::min<int64_t>(P::kTokens, n_tokens - t0));
    const Group group = Kernel::group(n, a + t0 * act_stride, act_stride, count);
    for (int64_t r = 0; r < n_rows; ++r)
      rows[count - 1](n, w + r * row_stride, group, y + t0 * y_stride + r, y_stride);
  }
}

}  // namespace
}  // namespace pagoda::kernels::tile
