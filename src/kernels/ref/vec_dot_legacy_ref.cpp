// Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 against Q8_0/Q8_1: for each 32-element block an
// exact integer dot product, then one float multiply-add with the scales.
#include <cmath>
#include <cstring>

#include "base/half.h"
#include "kernels/ref/vec_dot_ref.h"
#include "quant/blocks.h"

namespace pagoda::kernels::ref {
namespace {

using quant::BlockQ4_0;
using quant::BlockQ4_1;
using quant::BlockQ5_0;
using quant::BlockQ5_1;
using quant::BlockQ8_0;
using quant::BlockQ8_1;
using quant::kQK;

// Fifth bits of a Q5 block: element j's is bit j of the little-endian word.
uint32_t load_high_bits(const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, sizeof(bits));
  return bits;
}

// Sum over one block of (low nibble + offset) * a[j] + (high nibble + offset) * a[j + 16],
// with the fifth bits (already shifted to value 16) added when `high` is given.
int block_dot_nibbles(const uint8_t* qs, uint32_t high, int offset, const int8_t* a) {
  int sum = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    const int low_fifth = static_cast<int>((high >> j) & 1u) << 4;
    const int high_fifth = static_cast<int>((high >> (j + 16)) & 1u) << 4;
    const int v0 = ((qs[j] & 0x0F) | low_fifth) + offset;
    const int v1 = ((qs[j] >> 4) | high_fifth) + offset;
    sum += v0 * a[j] + v1 * a[j + kQK / 2];
  }
  return sum;
}

// Q4_0: one exact integer total per block, then one float chain over the
// blocks, acc = fma(float(isum), d_w * d_a, acc): the order of ggml's
// repacked Q4_0 GEMM/GEMV, which llama.cpp runs for Q4_0 on x86. One float
// lane per output lets the tile kernels put 16 weight rows in one vector
// with no horizontal sum (matmul_tile_q4_0_wide.h). |isum| <= 32 * 8 * 128,
// so float(isum) is exact.
template <typename Values>
float block_fma_chain(int64_t n_blocks, Values block) {
  float acc = 0.0f;
  for (int64_t b = 0; b < n_blocks; ++b) {
    int values[kQK];
    const int8_t* a = nullptr;
    const float d = block(b, values, a);
    int isum = 0;
    for (int j = 0; j < kQK; ++j) isum += values[j] * a[j];
    acc = std::fma(static_cast<float>(isum), d, acc);
  }
  return acc;
}

// Q8_0: ggml's x86 vec_dot order (also its Q8_0 GEMM's): 8 lanes, lane l
// holding the integer dot of elements 4l..4l+3 of each block (values(j) *
// a[j]), each lane a fused multiply-add chain over the blocks with d_w * d_a,
// then the lanes summed as (l0+l4 + l2+l6) + (l1+l5 + l3+l7).
template <typename Values>
float lane_fma_sum(int64_t n_blocks, Values block) {
  float lanes[8] = {};
  for (int64_t b = 0; b < n_blocks; ++b) {
    int values[kQK];
    const int8_t* a = nullptr;
    const float d = block(b, values, a);
    for (int l = 0; l < 8; ++l) {
      int isum = 0;
      for (int j = 4 * l; j < 4 * l + 4; ++j) isum += values[j] * a[j];
      lanes[l] = std::fma(d, static_cast<float>(isum), lanes[l]);
    }
  }
  float r[4];
  for (int i = 0; i < 4; ++i) r[i] = lanes[i] + lanes[i + 4];
  return (r[0] + r[2]) + (r[1] + r[3]);
}

}  // namespace

float vec_dot_q4_0(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ4_0*>(weight_row);
  const auto* a = static_cast<const BlockQ8_0*>(act_row);
  return block_fma_chain(n / kQK, [&](int64_t b, int* values, const int8_t*& act) {
    for (int j = 0; j < kQK / 2; ++j) {
      values[j] = (w[b].qs[j] & 0x0F) - 8;
      values[j + kQK / 2] = (w[b].qs[j] >> 4) - 8;
    }
    act = a[b].qs;
    return fp16_to_fp32(w[b].d) * fp16_to_fp32(a[b].d);
  });
}

float vec_dot_q4_1(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ4_1*>(weight_row);
  const auto* a = static_cast<const BlockQ8_1*>(act_row);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b) {
    const int isum = block_dot_nibbles(w[b].qs, 0, 0, a[b].qs);
    // Q8_1's s = d * sum(qs) carries the min term.
    sum += (fp16_to_fp32(w[b].d) * fp16_to_fp32(a[b].d)) * static_cast<float>(isum) +
           fp16_to_fp32(w[b].m) * fp16_to_fp32(a[b].s);
  }
  return sum;
}

float vec_dot_q5_0(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ5_0*>(weight_row);
  const auto* a = static_cast<const BlockQ8_0*>(act_row);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b) {
    const int isum = block_dot_nibbles(w[b].qs, load_high_bits(w[b].qh), -16, a[b].qs);
    sum += (fp16_to_fp32(w[b].d) * fp16_to_fp32(a[b].d)) * static_cast<float>(isum);
  }
  return sum;
}

float vec_dot_q5_1(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ5_1*>(weight_row);
  const auto* a = static_cast<const BlockQ8_1*>(act_row);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b) {
    const int isum = block_dot_nibbles(w[b].qs, load_high_bits(w[b].qh), 0, a[b].qs);
    sum += (fp16_to_fp32(w[b].d) * fp16_to_fp32(a[b].d)) * static_cast<float>(isum) +
           fp16_to_fp32(w[b].m) * fp16_to_fp32(a[b].s);
  }
  return sum;
}

float vec_dot_q8_0(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ8_0*>(weight_row);
  const auto* a = static_cast<const BlockQ8_0*>(act_row);
  return lane_fma_sum(n / kQK, [&](int64_t b, int* values, const int8_t*& act) {
    for (int j = 0; j < kQK; ++j) values[j] = w[b].qs[j];
    act = a[b].qs;
    return fp16_to_fp32(w[b].d) * fp16_to_fp32(a[b].d);
  });
}

}  // namespace pagoda::kernels::ref
