// AVX-512 + VNNI (256-bit vpdpbusd) kernels for Q4_0 and Q8_0: vpdpbusd
// replaces AVX2's maddubs + madd pair and cannot saturate. Integer parts are
// exact and the float order is AVX2's, so results equal the scalar reference
// bit for bit. K-quants use the AVX2 kernels on AVX-512 machines (see
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

// Q4_0 digits minus 8 as signed bytes, in block element order.
inline __m256i q4_0_values(const quant::BlockQ4_0& b) {
  return _mm256_sub_epi8(simd::unpack_nibbles16(b.qs), _mm256_set1_epi8(8));
}

float block_scale(const quant::BlockQ4_0& w, const BlockQ8_0& a) {
  return simd::fp16(w.d) * simd::fp16(a.d);
}
float block_scale(const BlockQ8_0& w, const BlockQ8_0& a) {
  return simd::fp16(w.d) * simd::fp16(a.d);
}
__m256i block_values(const quant::BlockQ4_0& w) {
  return q4_0_values(w);
}
__m256i block_values(const BlockQ8_0& w) {
  return simd::load32(w.qs);
}

// Shared Q4_0/Q8_0 loop: 8 int32 lanes per block (256-bit VNNI) and one FMA
// chain over the blocks, the float order of ggml's x86 vec_dot (and of the
// AVX2 kernel), so both ISAs give the same bits.
template <typename Block>
float legacy_dot(int64_t n, const Block* w, const BlockQ8_0* a) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / quant::kQK; ++b) {
    const __m256i isum = dot_s8(block_values(w[b]), simd::load32(a[b].qs));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(block_scale(w[b], a[b])), _mm256_cvtepi32_ps(isum), acc);
  }
  return simd::hsum(acc);
}

}  // namespace

float vec_dot_q8_0(int64_t n, const void* weight_row, const void* act_row) {
  return legacy_dot(n, static_cast<const BlockQ8_0*>(weight_row),
                    static_cast<const BlockQ8_0*>(act_row));
}

float vec_dot_q4_0(int64_t n, const void* weight_row, const void* act_row) {
  return legacy_dot(n, static_cast<const quant::BlockQ4_0*>(weight_row),
                    static_cast<const BlockQ8_0*>(act_row));
}

}  // namespace pagoda::kernels::avx512
