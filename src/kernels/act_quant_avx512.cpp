// AVX-512 activation quantizers with the exact output of the scalar ones
// (act_quant.cpp's Q8_0, quant::quantize_row_q8_k's Q8_K):
//  - the block maximum of |x| is order-independent;
//  - x * multiplier is the same IEEE product, and vcvtps2dq rounds half to
//    even like nearbyint and nearest_int do for |v| <= 2^22;
//  - vpmovsdb saturates like the scalar clamps (NaN -> INT_MIN -> -128 for Q8_0).
// Blocks holding NaN or infinity go to the scalar code: its NaN-skipping
// maximum and Q8_K's nearest_int(NaN) = 0 are not worth copying.
#include <immintrin.h>

#include <cstring>

#include "base/half.h"
#include "kernels/act_quant.h"
#include "kernels/vec_dot_isa.h"
#include "quant/blocks.h"
#include "quant/codec.h"

// GCC 12's AVX-512 headers pass an undefined vector to their own masked builtins,
// which -Wuninitialized reports at every use (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace pagoda::kernels::avx512 {
namespace {

using quant::BlockQ8_0;
using quant::BlockQ8_K;

// Lanes of v that are NaN or infinite.
inline __mmask16 non_finite(__m512 v) {
  return _mm512_cmp_ps_mask(_mm512_abs_ps(v), _mm512_set1_ps(__builtin_huge_valf()), _CMP_NLT_UQ);
}

// round-half-to-even(v * multiplier), saturated to int8, 16 lanes.
inline __m128i round_to_int8(__m512 v, __m512 multiplier) {
  return _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v, multiplier)));
}

}  // namespace

void quantize_act_q8_0(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / quant::kQK; ++i, x += quant::kQK) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    if ((non_finite(v0) | non_finite(v1)) != 0) {
      quantize_act_q8_0_scalar(x, &y[i], quant::kQK);
      continue;
    }
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float d = amax / 127.0f;
    const __m512 id = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    y[i].d = fp32_to_fp16(d);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs), round_to_int8(v0, id));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs + 16), round_to_int8(v1, id));
  }
}

void quantize_act_q8_k(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_K*>(dst);
  constexpr int kVectors = quant::kQK_K / 16;  // one 16-element bsum group each
  for (int64_t i = 0; i < n / quant::kQK_K; ++i, x += quant::kQK_K) {
    __m512 v[kVectors];
    __m512 amax16 = _mm512_setzero_ps();
    __mmask16 bad = 0;
    for (int k = 0; k < kVectors; ++k) {
      v[k] = _mm512_loadu_ps(x + 16 * k);
      bad |= non_finite(v[k]);
      amax16 = _mm512_max_ps(amax16, _mm512_abs_ps(v[k]));
    }
    if (bad != 0) {
      quant::quantize_row_q8_k(x, &y[i], quant::kQK_K);
      continue;
    }
    const float amax = _mm512_reduce_max_ps(amax16);
    if (amax == 0.0f) {
      std::memset(&y[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    // The scalar loop keeps the first element whose |x| is the maximum (strict >), sign included.
    float max = 0.0f;
    for (int k = 0; k < kVectors; ++k) {
      const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_abs_ps(v[k]), _mm512_set1_ps(amax), _CMP_EQ_OQ);
      if (hit != 0) {
        max = x[16 * k + __builtin_ctz(hit)];
        break;
      }
    }
    const float iscale = -127.f / max;
    const __m512 multiplier = _mm512_set1_ps(iscale);
    for (int k = 0; k < kVectors; ++k) {
      const __m128i q = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(multiplier, v[k])));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs + 16 * k), q);
      y[i].bsums[k] = static_cast<int16_t>(_mm512_reduce_add_epi32(_mm512_cvtepi8_epi32(q)));
    }
    y[i].d = 1 / iscale;
  }
}

}  // namespace pagoda::kernels::avx512
