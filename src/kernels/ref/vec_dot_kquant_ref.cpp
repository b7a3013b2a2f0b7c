// K-quants against Q8_K. Like ggml's generic code, Q3_K..Q6_K decode each
// super-block to 256 signed integers, accumulate scale * w * a into 8 integer
// lanes (lane = element index mod 8), and scale the lanes into 8 float sums
// that are added up at the end; Q2_K keeps one integer sum per super-block.
// The min terms use Q8_K's per-16 sums (bsums).
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

// lanes[l] += scale16[e / 16] * values[e] * a[e] for every e = l (mod 8) of one super-block.
void accumulate_lanes(const int8_t* values, const int* scale16, const int8_t* a,
                      int32_t lanes[kLanes]) {
  for (int e = 0; e < kQK_K; ++e) lanes[e % kLanes] += scale16[e / 16] * (values[e] * a[e]);
}

// The float part shared by Q3_K..Q6_K: lane_sums[l] += d * lanes[l].
void scale_lanes(float d, const int32_t lanes[kLanes], float lane_sums[kLanes]) {
  for (int l = 0; l < kLanes; ++l) lane_sums[l] += d * static_cast<float>(lanes[l]);
}

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

float sum_lanes(float total, const float lane_sums[kLanes]) {
  for (int l = 0; l < kLanes; ++l) total += lane_sums[l];
  return total;
}

}  // namespace

float vec_dot_q2_k(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ2_K*>(weight_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const uint8_t* sc = w[b].scales;  // low nibble scale, high nibble min, per 16
    int min_sum = 0;
    for (int j = 0; j < kGroups16; ++j) min_sum += a[b].bsums[j] * (sc[j] >> 4);
    // Element e = 128*half + 32*shift_index + l sits in bits 2*shift_index of qs[32*half + l].
    int isum = 0;
    for (int g = 0; g < kGroups16; ++g) {
      const int half = g / 8, shift = 2 * ((g % 8) / 2), first = 16 * (g % 2);
      int group = 0;
      for (int l = first; l < first + 16; ++l)
        group += a[b].qs[16 * g - first + l] * ((w[b].qs[32 * half + l] >> shift) & 3);
      isum += (sc[g] & 0xF) * group;
    }
    const float d_all = a[b].d * fp16_to_fp32(w[b].d);
    const float d_min = a[b].d * fp16_to_fp32(w[b].dmin);
    sum += d_all * static_cast<float>(isum) - d_min * static_cast<float>(min_sum);
  }
  return sum;
}

float vec_dot_q3_k(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ3_K*>(weight_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  float lane_sums[kLanes] = {};
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
    int32_t lanes[kLanes] = {};
    accumulate_lanes(values, scale16, a[b].qs, lanes);
    scale_lanes(fp16_to_fp32(w[b].d) * a[b].d, lanes, lane_sums);
  }
  return sum_lanes(0.0f, lane_sums);
}

float vec_dot_q4_k(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ4_K*>(weight_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  float lane_sums[kLanes] = {};
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int8_t values[kQK_K];  // [256] in [0, 15]
    for (int e = 0; e < kQK_K; ++e) {
      const uint8_t q = w[b].qs[32 * (e / 64) + e % 32];
      values[e] = static_cast<int8_t>((e % 64) < 32 ? (q & 0xF) : (q >> 4));
    }
    int scale16[kGroups16];
    const int min_sum = unpack_scales_and_min_sum(w[b].scales, a[b].bsums, scale16);
    int32_t lanes[kLanes] = {};
    accumulate_lanes(values, scale16, a[b].qs, lanes);
    scale_lanes(fp16_to_fp32(w[b].d) * a[b].d, lanes, lane_sums);
    sum -= fp16_to_fp32(w[b].dmin) * a[b].d * static_cast<float>(min_sum);
  }
  return sum_lanes(sum, lane_sums);
}

float vec_dot_q5_k(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ5_K*>(weight_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  float lane_sums[kLanes] = {};
  float sum = 0.0f;
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
    int32_t lanes[kLanes] = {};
    accumulate_lanes(values, scale16, a[b].qs, lanes);
    scale_lanes(fp16_to_fp32(w[b].d) * a[b].d, lanes, lane_sums);
    sum -= fp16_to_fp32(w[b].dmin) * a[b].d * static_cast<float>(min_sum);
  }
  return sum_lanes(sum, lane_sums);
}

float vec_dot_q6_k(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ6_K*>(weight_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  float lane_sums[kLanes] = {};
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
    int32_t lanes[kLanes] = {};
    accumulate_lanes(values, scale16, a[b].qs, lanes);
    scale_lanes(fp16_to_fp32(w[b].d) * a[b].d, lanes, lane_sums);
  }
  return sum_lanes(0.0f, lane_sums);
}

}  // namespace pagoda::kernels::ref
