// K-quants against Q8_K, in the float order of the AVX2 kernels (which is
// ggml's x86 order, and what llama.cpp runs on x86): each super-block is
// decoded to 256 signed integers and reduced exactly to 8 integer lanes, lane
// l holding elements 32s + 4l .. 32s + 4l + 3 of every 32-element sub-block s
// (times their per-16 scale). Each lane is one fused multiply-add chain over
// the super-blocks with d_w * d_a; the lanes are summed as
// (l0+l4 + l2+l6) + (l1+l5 + l3+l7), then the min terms (a separate float
// sum, built from Q8_K's per-16 sums) are added. So every ISA gives the same bits.
#include <cmath>
#include <cstdint>

#include "base/half.h"
#include "kernels/ref/vec_dot_ref.h"
#include "quant/blocks.h"

namespace pagoda::kernels::ref {
namespace {

using quant::BlockQ2_K;
using quant::BlockQ3_K;
using quant::BlockQ4_K;
using quant::BlockQ5_K;
using quant::BlockQ6_K;
using quant::BlockQ8_K;
using quant::kQK_K;

constexpr int kLanes = 8;
constexpr int kGroups16 = kQK_K / 16;

// The 8 float lane accumulators of the AVX2 kernels, plus their scalar min sum.
struct LaneSums {
  float lanes[kLanes] = {};
  float min_terms = 0.0f;

  // One super-block: lanes[l] = fma(d, lane integer l, lanes[l]), the lane
  // integer being sum of scale16[e / 16] * values[e] * a[e] over e with
  // (e mod 32) / 4 == l (exact in int32).
  void add_block(float d, const int8_t* values, const int* scale16, const int8_t* a) {
    int32_t isum[kLanes] = {};
    for (int e = 0; e < kQK_K; ++e) isum[(e % 32) / 4] += scale16[e / 16] * (values[e] * a[e]);
    for (int l = 0; l < kLanes; ++l) lanes[l] = std::fma(d, static_cast<float>(isum[l]), lanes[l]);
  }

  // min_terms -= d_min * min_sum, d_min already the product of both scales.
  void subtract_min(float d_min, int min_sum) { min_terms -= d_min * static_cast<float>(min_sum); }

  // AVX2's horizontal add (halves, then pairs, then the last two), then the mins.
  float total() const {
    float r[4];
    for (int i = 0; i < 4; ++i) r[i] = lanes[i] + lanes[i + 4];
    return ((r[0] + r[2]) + (r[1] + r[3])) + min_terms;
  }
};

// Unpacks the eight 6-bit scales of a Q4_K/Q5_K block to per-16 scales, and
// returns sum over 16-groups of bsums * min.
int unpack_scales_and_min_sum(const uint8_t* packed, const int16_t* bsums, int scale16[kGroups16]) {
  int min_sum = 0;
  for (int j = 0; j < 8; ++j) {
    uint8_t scale, min;
    quant::get_scale_min_k4(j, packed, &scale, &min);
    scale16[2 * j] = scale16[2 * j + 1] = scale;
    min_sum += (bsums[2 * j] + bsums[2 * j + 1]) * min;
  }
  return min_sum;
}

}  // namespace

float vec_dot_q2_k(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ2_K*>(weight_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  LaneSums sums;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const uint8_t* sc = w[b].scales;  // low nibble scale, high nibble min, per 16
    int min_sum = 0;
    for (int j = 0; j < kGroups16; ++j) min_sum += a[b].bsums[j] * (sc[j] >> 4);
    // Element e = 128*half + 32*shift_index + l sits in bits 2*shift_index of qs[32*half + l].
    int8_t values[kQK_K];  // [256] in [0, 3]
    for (int e = 0; e < kQK_K; ++e) {
      const int half = e / 128, shift_index = (e % 128) / 32, l = e % 32;
      values[e] = static_cast<int8_t>((w[b].qs[32 * half + l] >> (2 * shift_index)) & 3);
    }
    int scale16[kGroups16];
    for (int g = 0; g < kGroups16; ++g) scale16[g] = sc[g] & 0xF;
    sums.add_block(a[b].d * fp16_to_fp32(w[b].d), values, scale16, a[b].qs);
    sums.subtract_min(a[b].d * fp16_to_fp32(w[b].dmin), min_sum);
  }
  return sums.total();
}

float vec_dot_q3_k(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ3_K*>(weight_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  LaneSums sums;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int8_t values[kQK_K];  // [256] in [-4, 3]
    for (int e = 0; e < kQK_K; ++e) {
      const int half = e / 128, shift_index = (e % 128) / 32, l = e % 32;
      const int low = (w[b].qs[32 * half + l] >> (2 * shift_index)) & 3;
      const bool high_set = w[b].hmask[l] & (1u << (4 * half + shift_index));
      values[e] = static_cast<int8_t>(low - (high_set ? 0 : 4));
    }
    int8_t signed_scales[kGroups16];
    quant::unpack_q3_k_scales(w[b].scales, signed_scales);
    int scale16[kGroups16];
    for (int g = 0; g < kGroups16; ++g) scale16[g] = signed_scales[g];
    sums.add_block(fp16_to_fp32(w[b].d) * a[b].d, values, scale16, a[b].qs);
  }
  return sums.total();
}

float vec_dot_q4_k(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ4_K*>(weight_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  LaneSums sums;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int8_t values[kQK_K];  // [256] in [0, 15]
    for (int e = 0; e < kQK_K; ++e) {
      const uint8_t q = w[b].qs[32 * (e / 64) + e % 32];
      values[e] = static_cast<int8_t>((e % 64) < 32 ? (q & 0xF) : (q >> 4));
    }
    int scale16[kGroups16];
    const int min_sum = unpack_scales_and_min_sum(w[b].scales, a[b].bsums, scale16);
    sums.add_block(fp16_to_fp32(w[b].d) * a[b].d, values, scale16, a[b].qs);
    sums.subtract_min(fp16_to_fp32(w[b].dmin) * a[b].d, min_sum);
  }
  return sums.total();
}

float vec_dot_q5_k(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ5_K*>(weight_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  LaneSums sums;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int8_t values[kQK_K];  // [256] in [0, 31]
    for (int e = 0; e < kQK_K; ++e) {
      const uint8_t q = w[b].qs[32 * (e / 64) + e % 32];
      const int low = (e % 64) < 32 ? (q & 0xF) : (q >> 4);
      const bool fifth = w[b].qh[e % 32] & (1u << (e / 32));
      values[e] = static_cast<int8_t>(low + (fifth ? 16 : 0));
    }
    int scale16[kGroups16];
    const int min_sum = unpack_scales_and_min_sum(w[b].scales, a[b].bsums, scale16);
    sums.add_block(fp16_to_fp32(w[b].d) * a[b].d, values, scale16, a[b].qs);
    sums.subtract_min(fp16_to_fp32(w[b].dmin) * a[b].d, min_sum);
  }
  return sums.total();
}

float vec_dot_q6_k(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ6_K*>(weight_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  LaneSums sums;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int8_t values[kQK_K];  // [256] in [-32, 31]
    for (int e = 0; e < kQK_K; ++e) {
      // Per 128-half: quarter k of 32 takes nibble k/2 of ql[64*half + 32*(k%2) + l]
      // and bits 2k..2k+1 of qh[32*half + l].
      const int half = e / 128, quarter = (e % 128) / 32, l = e % 32;
      const uint8_t low_byte = w[b].ql[64 * half + 32 * (quarter % 2) + l];
      const int low = quarter < 2 ? (low_byte & 0xF) : (low_byte >> 4);
      const int high = (w[b].qh[32 * half + l] >> (2 * quarter)) & 3;
      values[e] = static_cast<int8_t>((low | (high << 4)) - 32);
    }
    int scale16[kGroups16];
    for (int g = 0; g < kGroups16; ++g) scale16[g] = w[b].scales[g];
    sums.add_block(fp16_to_fp32(w[b].d) * a[b].d, values, scale16, a[b].qs);
  }
  return sums.total();
}

}  // namespace pagoda::kernels::ref
