#pragma once
// F32/F16/BF16 tile kernels (VecDotTileFn) with vec_dot_float_avx2.cpp's bits: per output,
// 4 accumulators of 8 float lanes, one FMA each per 32 elements (element i + 8k + j in lane j
// of accumulator k), an 8-element tail into accumulator 0, then (acc0 + acc1) + (acc2 + acc3),
// simd::hsum, and the last n % 8 products added one by one in double. A weight row is loaded
// and converted to float once for all the tokens of a group, whose activations are converted
// to float once per group (exactly: every f16 and bf16 is a float). On 512 bits, accumulators
// 0 | 1 share one zmm and 2 | 3 another: the same lanes, half the instructions.
// Include only from translation units compiled for AVX2 or above (512-bit blocks where
// __AVX512F__ is defined: the AVX-512 translation unit).
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/matmul_tile_impl.h"
#include "kernels/vec_dot_isa.h"

// GCC 12's AVX-512 headers pass an undefined vector to their own masked builtins,
// which -Wuninitialized reports at every use (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace pagoda::kernels::tile {
namespace {

// Weight elements: 8 at p as floats, and one.
struct F32Elements {
  using Element = float;
  static __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
  static float to_float(float v) { return v; }
};
struct F16Elements {
  using Element = uint16_t;
  static __m256 load8(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static float to_float(uint16_t h) { return simd::fp16(h); }
};
struct BF16Elements {
  using Element = uint16_t;
  static __m256 load8(const uint16_t* p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  static float to_float(uint16_t h) {  // base/half.h's bf16_to_fp32, kept out of the shared inline functions
    const uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    return f;
  }
};

// A token group's activations as float rows: row t at a + t * stride (in place for F32).
struct FloatRows {
  const float* a;
  int64_t stride;  // floats
};

// Scratch floats per token for n elements: whole cache lines.
inline int64_t float_row_stride(int64_t n) {
  return (n + 15) / 16 * 16;
}

// Weight rows times token groups in register blocks of kRows rows x kTokens tokens, every
// output's accumulators in registers over the whole row: a block reads its tokens' float
// activations once per 32 elements for kRows rows (from L1/L2: a token is 4n bytes, too many to
// keep 8 tokens in L1), and each weight vector once for kTokens tokens. AVX-512: 4 rows x 3
// tokens x 2 zmm accumulators; AVX2: 1 row x 3 tokens x 4 ymm.
template <class E>
struct FloatTile {
  using Element = typename E::Element;
#ifdef __AVX512F__
  static constexpr int kRows = 4;
#else
  static constexpr int kRows = 1;
#endif
  static constexpr int kTokens = 3;

  // Tile scratch bytes: one token group's float activations (none for F32, used in place).
  static size_t scratch_bytes(int64_t n, int64_t n_tokens) {
    if (std::is_same_v<E, F32Elements>) return 0;
    const int64_t count = std::min<int64_t>(n_tokens, kTokens);
    return static_cast<size_t>(count * float_row_stride(n)) * sizeof(float);
  }

  static FloatRows group(int64_t n, const uint8_t* act, size_t act_stride, int count) {
    if constexpr (std::is_same_v<E, F32Elements>) {
      return {reinterpret_cast<const float*>(act), static_cast<int64_t>(act_stride / sizeof(float))};
    } else {
      const int64_t stride = float_row_stride(n);
      auto* rows = reinterpret_cast<float*>(tile_scratch(scratch_bytes(n, count)));
      for (int t = 0; t < count; ++t) {
        const auto* a = reinterpret_cast<const Element*>(act + t * act_stride);
        float* out = rows + t * stride;
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) _mm256_store_ps(out + i, E::load8(a + i));
        for (; i < n; ++i) out[i] = E::to_float(a[i]);
      }
      return {rows, stride};
    }
  }

  // (acc0 + acc1) + (acc2 + acc3), hsum, the tail in double: vec_dot's last steps.
  static float finish(__m256 acc0, __m256 acc1, __m256 acc2, __m256 acc3, int64_t n, int64_t i, const Element* w,
                      const float* a) {
    const __m256 total = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
    double sum = simd::hsum(total);
    for (; i < n; ++i) sum += static_cast<double>(E::to_float(w[i]) * a[i]);
    return static_cast<float>(sum);
  }

#ifdef __AVX512F__
  // 16 elements at p as floats: accumulator k's 8 in the low half, k + 1's in the high half.
  static __m512 load16(const Element* p) {
    if constexpr (std::is_same_v<E, F32Elements>) {  // two 32-byte loads: rows are often not 64-byte aligned
      return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(p)), _mm256_loadu_ps(p + 8), 1);
    } else if constexpr (std::is_same_v<E, F16Elements>) {
      return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    } else {
      const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
      return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
    }
  }

  // 16 activations: aligned in the group's scratch; F32 rows are used in place, where 64-byte
  // loads would often span two cache lines.
  static __m512 load_activations(const float* p) {
    if constexpr (std::is_same_v<E, F32Elements>)
      return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(p)), _mm256_loadu_ps(p + 8), 1);
    else
      return _mm512_load_ps(p);
  }

  // Rows w[0..R) x tokens [0, T): y[t * y_stride + r].
  template <int R, int T>
  static void block(int64_t n, const Element* const (&w)[kRows], const FloatRows& g, float* y, int64_t y_stride) {
    __m512 low[R][T], high[R][T];  // accumulators 0 | 1 and 2 | 3 of row r, token t
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) low[r][t] = high[r][t] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
      for (int r = 0; r < R; ++r) {
        const __m512 w0 = load16(w[r] + i), w1 = load16(w[r] + i + 16);
        for (int t = 0; t < T; ++t) {
          const float* a = g.a + t * g.stride + i;
          low[r][t] = _mm512_fmadd_ps(w0, load_activations(a), low[r][t]);
          high[r][t] = _mm512_fmadd_ps(w1, load_activations(a + 16), high[r][t]);
        }
      }
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) {
        const float* a = g.a + t * g.stride;
        __m256 acc0 = _mm512_castps512_ps256(low[r][t]);
        int64_t k = i;
        for (; k + 8 <= n; k += 8) acc0 = _mm256_fmadd_ps(E::load8(w[r] + k), _mm256_loadu_ps(a + k), acc0);
        y[t * y_stride + r] = finish(acc0, _mm512_extractf32x8_ps(low[r][t], 1), _mm512_castps512_ps256(high[r][t]),
                                     _mm512_extractf32x8_ps(high[r][t], 1), n, k, w[r], a);
      }
  }
#else
  template <int R, int T>
  static void block(int64_t n, const Element* const (&w)[kRows], const FloatRows& g, float* y, int64_t y_stride) {
    static_assert(R == 1);
    __m256 acc[T][4];
    for (int t = 0; t < T; ++t)
      for (int k = 0; k < 4; ++k) acc[t][k] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
      for (int k = 0; k < 4; ++k) {
        const __m256 wk = E::load8(w[0] + i + 8 * k);
        for (int t = 0; t < T; ++t)
          acc[t][k] = _mm256_fmadd_ps(wk, _mm256_loadu_ps(g.a + t * g.stride + i + 8 * k), acc[t][k]);
      }
    }
    for (int t = 0; t < T; ++t) {
      const float* a = g.a + t * g.stride;
      int64_t k = i;
      for (; k + 8 <= n; k += 8) acc[t][0] = _mm256_fmadd_ps(E::load8(w[0] + k), _mm256_loadu_ps(a + k), acc[t][0]);
      y[t * y_stride] = finish(acc[t][0], acc[t][1], acc[t][2], acc[t][3], n, k, w[0], a);
    }
  }
#endif

  using BlockFn = void (*)(int64_t, const Element* const (&)[kRows], const FloatRows&, float*, int64_t);
  // kBlocks[R - 1][T - 1]
  template <int R>
  static constexpr std::array<BlockFn, kTokens> row_blocks = {&block<R, 1>, &block<R, 2>, &block<R, 3>};
  static constexpr auto kBlocks = []<int... Rs>(std::integer_sequence<int, Rs...>) {
    return std::array<std::array<BlockFn, kTokens>, kRows>{row_blocks<Rs + 1>...};
  }(std::make_integer_sequence<int, kRows>{});

  // The VecDotTileFn.
  static void run(int64_t n, const void* weights, size_t row_stride, int64_t n_rows, const void* acts,
                  size_t act_stride, int64_t n_tokens, float* y, int64_t y_stride) {
    const auto* base = static_cast<const uint8_t*>(weights);
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokens) {
      const int count = static_cast<int>(std::min<int64_t>(kTokens, n_tokens - t0));
      const FloatRows g = group(n, static_cast<const uint8_t*>(acts) + t0 * act_stride, act_stride, count);
      // One token (decode) streams one row at a time: several rows side by side are several
      // short streams, slower from memory (2048 x 4096 F16: 1.10-1.13 against 0.88 ms).
      const int64_t step = n_tokens == 1 ? 1 : kRows;
      for (int64_t r0 = 0; r0 < n_rows; r0 += step) {
        const int rows = static_cast<int>(std::min<int64_t>(step, n_rows - r0));
        const Element* w[kRows];
        for (int r = 0; r < kRows; ++r)
          w[r] = reinterpret_cast<const Element*>(base + (r0 + std::min(r, rows - 1)) * row_stride);
        kBlocks[rows - 1][count - 1](n, w, g, y + t0 * y_stride + r0, y_stride);
      }
    }
  }
};

}  // namespace
}  // namespace pagoda::kernels::tile

#pragma GCC diagnostic pop
