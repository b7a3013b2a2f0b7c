// Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 against Q8_0/Q8_1.
// Q4_0: each block's exact integer total, then one float chain over the
// blocks, acc = fma(float(isum), d_w * d_a, acc) (ref's order; the tile
// kernels keep it with one float lane per output).
// The others: each 32-element block becomes 8 int32 partial sums (exact),
// converted to float and scaled by the block's d_w * d_a into 8 float lanes;
// Q4_1/Q5_1 add m * s per block.
#include <immintrin.h>

#include "kernels/simd_avx2.h"
#include "kernels/vec_dot_isa.h"
#include "quant/blocks.h"

namespace pagoda::kernels::avx2 {
namespace {

using quant::kQK;

// Sums blocks of a row: Block/Act are the block structs, `block_dot` turns a
// weight block and its activation block into 8 int32 lanes of their integer
// dot product. One FMA chain over the blocks, as ggml's x86 vec_dot and
// llamafile's tinyBLAS do, so the float rounding is theirs.
template <typename Block, typename Act, typename BlockDot>
__m256 scaled_block_sums(int64_t n, const Block* w, const Act* a, BlockDot block_dot) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / kQK; ++b) {
    const __m256 d = _mm256_set1_ps(simd::fp16(w[b].d) * simd::fp16(a[b].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(block_dot(w[b], a[b])), acc);
  }
  return acc;
}

// Sum over blocks of m_w * s_a: the min terms of Q4_1/Q5_1.
template <typename Block>
float min_terms(int64_t n, const Block* w, const quant::BlockQ8_1* a) {
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b) sum += simd::fp16(w[b].m) * simd::fp16(a[b].s);
  return sum;
}

// The fifth bits of a Q5 block as 0x10 bytes.
inline __m256i fifth_bits(const uint8_t* qh) {
  return _mm256_and_si256(simd::bytes_from_bits32(qh), _mm256_set1_epi8(0x10));
}

// Q4_0: one FMA per block on the block's integer total (ref::vec_dot_q4_0's order).
float block_fma_chain(int64_t n, const quant::BlockQ4_0* w, const quant::BlockQ8_0* a) {
  __m128 acc = _mm_setzero_ps();
  for (int64_t b = 0; b < n / kQK; ++b) {
    const __m256i q = _mm256_sub_epi8(simd::unpack_nibbles16(w[b].qs), _mm256_set1_epi8(8));
    const int isum = simd::hsum_epi32(simd::dot_s8_quads(q, simd::load32(a[b].qs)));
    const float d = simd::fp16(w[b].d) * simd::fp16(a[b].d);
    acc = _mm_fmadd_ss(_mm_set_ss(static_cast<float>(isum)), _mm_set_ss(d), acc);
  }
  return _mm_cvtss_f32(acc);
}

}  // namespace

float vec_dot_q8_0(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const quant::BlockQ8_0*>(weight_row);
  const auto* a = static_cast<const quant::BlockQ8_0*>(act_row);
  return simd::hsum(
      scaled_block_sums(n, w, a, [](const quant::BlockQ8_0& wb, const quant::BlockQ8_0& ab) {
        return simd::dot_s8_quads(simd::load32(wb.qs), simd::load32(ab.qs));
      }));
}

float vec_dot_q4_0(int64_t n, const void* weight_row, const void* act_row) {
  return block_fma_chain(n, static_cast<const quant::BlockQ4_0*>(weight_row),
                         static_cast<const quant::BlockQ8_0*>(act_row));
}

float vec_dot_q5_0(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const quant::BlockQ5_0*>(weight_row);
  const auto* a = static_cast<const quant::BlockQ8_0*>(act_row);
  return simd::hsum(
      scaled_block_sums(n, w, a, [](const quant::BlockQ5_0& wb, const quant::BlockQ8_0& ab) {
        const __m256i q5 = _mm256_or_si256(simd::unpack_nibbles16(wb.qs), fifth_bits(wb.qh));
        return simd::dot_s8_quads(_mm256_sub_epi8(q5, _mm256_set1_epi8(16)), simd::load32(ab.qs));
      }));
}

float vec_dot_q4_1(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const quant::BlockQ4_1*>(weight_row);
  const auto* a = static_cast<const quant::BlockQ8_1*>(act_row);
  const __m256 scaled =
      scaled_block_sums(n, w, a, [](const quant::BlockQ4_1& wb, const quant::BlockQ8_1& ab) {
        return simd::dot_u8_s8_quads(simd::unpack_nibbles16(wb.qs), simd::load32(ab.qs));
      });
  return simd::hsum(scaled) + min_terms(n, w, a);
}

float vec_dot_q5_1(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const quant::BlockQ5_1*>(weight_row);
  const auto* a = static_cast<const quant::BlockQ8_1*>(act_row);
  const __m256 scaled =
      scaled_block_sums(n, w, a, [](const quant::BlockQ5_1& wb, const quant::BlockQ8_1& ab) {
        const __m256i q5 = _mm256_or_si256(simd::unpack_nibbles16(wb.qs), fifth_bits(wb.qh));
        return simd::dot_u8_s8_quads(q5, simd::load32(ab.qs));
      });
  return simd::hsum(scaled) + min_terms(n, w, a);
}

}  // namespace pagoda::kernels::avx2
