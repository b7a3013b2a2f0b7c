// AVX-512 + VNNI (256-bit vpdpbusd) kernels for Q4_0 and Q8_0: vpdpbusd
// replaces AVX2's maddubs + madd pair and cannot saturate. Integer parts are
// exact and the float orders are the scalar reference's (Q8_0: 8 lanes, as
// AVX2; Q4_0: one lane), so results equal it bit for bit. K-quants use the AVX2 kernels on AVX-512 machines (see
// dispatch.cpp).
#include <immintrin.h>

#include "kernels/simd_avx2.h"
#include "kernels/vec_dot_isa.h"
#include "quant/blocks.h"

namespace pagoda::kernels::avx512 {
namespace {

using quant::BlockQ8_0;

// int32 lanes of sum(x * y) for signed bytes; |x| may be 128, y in [-127, 127].
inline __m256i dot_s8(__m256i x, __m256i y) {
  const __m256i y_signed = _mm256_sign_epi8(y, x);
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(x), y_signed);
}

// Q8_0: 8 int32 lanes per block (256-bit VNNI) and one FMA chain over the
// blocks, the float order of ggml's x86 vec_dot (and of the AVX2 kernel).
float lane_fma_sum(int64_t n, const BlockQ8_0* w, const BlockQ8_0* a) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / quant::kQK; ++b) {
    const __m256i isum = dot_s8(simd::load32(w[b].qs), simd::load32(a[b].qs));
    const float d = simd::fp16(w[b].d) * simd::fp16(a[b].d);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(isum), acc);
  }
  return simd::hsum(acc);
}

// Q4_0: each block's exact integer total, then one FMA per block,
// acc = fma(float(isum), d_w * d_a, acc) (ref::vec_dot_q4_0's order).
float block_fma_chain(int64_t n, const quant::BlockQ4_0* w, const BlockQ8_0* a) {
  __m128 acc = _mm_setzero_ps();
  for (int64_t b = 0; b < n / quant::kQK; ++b) {
    const __m256i q = _mm256_sub_epi8(simd::unpack_nibbles16(w[b].qs), _mm256_set1_epi8(8));
    const int isum = simd::hsum_epi32(dot_s8(q, simd::load32(a[b].qs)));
    const float d = simd::fp16(w[b].d) * simd::fp16(a[b].d);
    acc = _mm_fmadd_ss(_mm_set_ss(static_cast<float>(isum)), _mm_set_ss(d), acc);
  }
  return _mm_cvtss_f32(acc);
}

}  // namespace

float vec_dot_q8_0(int64_t n, const void* weight_row, const void* act_row) {
  return lane_fma_sum(n, static_cast<const BlockQ8_0*>(weight_row), static_cast<const BlockQ8_0*>(act_row));
}

float vec_dot_q4_0(int64_t n, const void* weight_row, const void* act_row) {
  return block_fma_chain(n, static_cast<const quant::BlockQ4_0*>(weight_row), static_cast<const BlockQ8_0*>(act_row));
}

}  // namespace pagoda::kernels::avx512
