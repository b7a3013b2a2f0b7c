// F32/F16/BF16 dot products: 4 x 8 float lanes with FMA over 32 elements per
// step, then the remainder element by element into a double, as ggml does.
#include <immintrin.h>

#include "base/half.h"
#include "kernels/simd_avx2.h"
#include "kernels/vec_dot_isa.h"

namespace pagoda::kernels::avx2 {
namespace {

inline __m256 load_f32(const float* p) {
  return _mm256_loadu_ps(p);
}
inline __m256 load_f16(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m256 load_bf16(const uint16_t* p) {
  const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

// Shared loop: Load turns 8 elements at p into floats, ToFloat converts one.
template <typename T, typename Load, typename ToFloat>
float dot(int64_t n, const T* w, const T* a, Load load, ToFloat to_float) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int k = 0; k < 4; ++k)
      acc[k] = _mm256_fmadd_ps(load(w + i + 8 * k), load(a + i + 8 * k), acc[k]);
  for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(load(w + i), load(a + i), acc[0]);
  const __m256 total = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
  double sum = simd::hsum(total);
  for (; i < n; ++i) sum += static_cast<double>(to_float(w[i]) * to_float(a[i]));
  return static_cast<float>(sum);
}

}  // namespace

float vec_dot_f32(int64_t n, const void* weight_row, const void* act_row) {
  return dot(n, static_cast<const float*>(weight_row), static_cast<const float*>(act_row), load_f32,
             [](float v) { return v; });
}

float vec_dot_f16(int64_t n, const void* weight_row, const void* act_row) {
  return dot(n, static_cast<const uint16_t*>(weight_row), static_cast<const uint16_t*>(act_row),
             load_f16, [](uint16_t h) { return simd::fp16(h); });
}

float vec_dot_bf16(int64_t n, const void* weight_row, const void* act_row) {
  return dot(n, static_cast<const uint16_t*>(weight_row), static_cast<const uint16_t*>(act_row),
             load_bf16, bf16_to_fp32);
}

}  // namespace pagoda::kernels::avx2
