// The row operations' SIMD parts (AVX2 + FMA, also used at the AVX-512 level): each lane does
// the scalar code's operations of ops.cpp in the same order, so every level gives its bits.
#include <immintrin.h>

#include <cstdint>

#include "kernels/exp_simd.h"
#include "kernels/ops_isa.h"

namespace pagoda::kernels::avx2 {

void swiglu_lanes(const float* gate, const float* up, float* out, int64_t n) {
  const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = exp8(_mm256_xor_ps(g, sign));  // exp(-g)
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
  }
}

}  // namespace pagoda::kernels::avx2
