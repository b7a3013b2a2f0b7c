#pragma once
// Shared helpers of the matmul/vec_dot tests: random weight rows of every
// supported type (valid scales, every other bit random), random activations,
// and the exact "dequantize, then dot in double" comparison value.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "base/expected.h"
#include "base/half.h"
#include "base/tensor_type.h"
#include "kernels/matmul.h"
#include "quant/blocks.h"
#include "quant/codec.h"

namespace pagoda::kernels::test {

inline constexpr TensorType kFloatTypes[] = {TensorType::F32, TensorType::F16, TensorType::BF16};
inline constexpr TensorType kLegacyTypes[] = {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,
                                              TensorType::Q5_1, TensorType::Q8_0};
inline constexpr TensorType kKQuantTypes[] = {TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K,
                                              TensorType::Q5_K, TensorType::Q6_K};

inline std::vector<TensorType> all_supported_types() {
  std::vector<TensorType> types(std::begin(kFloatTypes), std::end(kFloatTypes));
  types.insert(types.end(), std::begin(kLegacyTypes), std::end(kLegacyTypes));
  types.insert(types.end(), std::begin(kKQuantTypes), std::end(kKQuantTypes));
  return types;
}

inline std::vector<float> random_floats(std::mt19937& rng, int64_t n, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = dist(rng);
  return v;
}

inline size_t bytes_of(TensorType t, int64_t n) {
  return *row_bytes(t, n);
}

// Overwrites the fp16 scale fields of every block with random finite values in
// (-scale, scale) so random block bytes decode to sane numbers.
inline void set_block_scales(TensorType t, uint8_t* data, int64_t n, std::mt19937& rng,
                             float scale) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<size_t> offsets;
  switch (t) {
    case TensorType::Q4_0:
      offsets = {offsetof(quant::BlockQ4_0, d)};
      break;
    case TensorType::Q4_1:
      offsets = {offsetof(quant::BlockQ4_1, d), offsetof(quant::BlockQ4_1, m)};
      break;
    case TensorType::Q5_0:
      offsets = {offsetof(quant::BlockQ5_0, d)};
      break;
    case TensorType::Q5_1:
      offsets = {offsetof(quant::BlockQ5_1, d), offsetof(quant::BlockQ5_1, m)};
      break;
    case TensorType::Q8_0:
      offsets = {offsetof(quant::BlockQ8_0, d)};
      break;
    case TensorType::Q2_K:
      offsets = {offsetof(quant::BlockQ2_K, d), offsetof(quant::BlockQ2_K, dmin)};
      break;
    case TensorType::Q3_K:
      offsets = {offsetof(quant::BlockQ3_K, d)};
      break;
    case TensorType::Q4_K:
      offsets = {offsetof(quant::BlockQ4_K, d), offsetof(quant::BlockQ4_K, dmin)};
      break;
    case TensorType::Q5_K:
      offsets = {offsetof(quant::BlockQ5_K, d), offsetof(quant::BlockQ5_K, dmin)};
      break;
    case TensorType::Q6_K:
      offsets = {offsetof(quant::BlockQ6_K, d)};
      break;
    default:
      return;
  }
  const auto& tr = traits(t);
  for (int64_t b = 0; b < n / tr.block_size; ++b)
    for (size_t off : offsets) {
      const uint16_t h = fp32_to_fp16(dist(rng));
      std::memcpy(data + b * tr.block_bytes + off, &h, sizeof(h));
    }
}

// One weight row of n elements of type t. Float types hold random normals;
// quantized types hold either llama.cpp-quantized random normals
// (`from_quantizer`) or random bytes with sane scales, which reach every bit
// pattern a file can hold (extreme scales, all high bits set, ...).
inline std::vector<uint8_t> random_weight_row(TensorType t, int64_t n, std::mt19937& rng,
                                              bool from_quantizer) {
  std::vector<uint8_t> row(bytes_of(t, n));
  const std::vector<float> values = random_floats(rng, n);
  switch (t) {
    case TensorType::F32:
      std::memcpy(row.data(), values.data(), row.size());
      return row;
    case TensorType::F16:
    case TensorType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = t == TensorType::F16 ? fp32_to_fp16(values[i]) : fp32_to_bf16(values[i]);
        std::memcpy(row.data() + 2 * i, &h, 2);
      }
      return row;
    default:
      break;
  }
  if (from_quantizer) {
    quant::quantize_row(t, values.data(), row.data(), n);
  } else {
    std::uniform_int_distribution<int> byte(0, 255);
    for (uint8_t& b : row) b = static_cast<uint8_t>(byte(rng));
    set_block_scales(t, row.data(), n, rng, 0.05f);
  }
  return row;
}

// Decodes a row of any supported weight or activation type to floats.
inline std::vector<float> decode_row(TensorType t, const void* data, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  const auto* halves = static_cast<const uint16_t*>(data);
  switch (t) {
    case TensorType::F32:
      std::memcpy(out.data(), data, n * sizeof(float));
      break;
    case TensorType::F16:
      for (int64_t i = 0; i < n; ++i) out[i] = fp16_to_fp32(halves[i]);
      break;
    case TensorType::BF16:
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_fp32(halves[i]);
      break;
    default:
      quant::dequantize_row(t, data, out.data(), n);
  }
  return out;
}

struct ExactDot {
  double value = 0;      // sum of w[i] * a[i] in double
  double abs_terms = 0;  // sum of |w[i] * a[i]|: the scale of rounding errors
};

// The dot product of the decoded weight row and decoded prepared activation row.
inline ExactDot exact_dot(TensorType weight, const void* weight_row, const void* act_row,
                          int64_t n) {
  const std::vector<float> w = decode_row(weight, weight_row, n);
  const std::vector<float> a = decode_row(vec_dot_type(weight), act_row, n);
  ExactDot r;
  for (int64_t i = 0; i < n; ++i) {
    const double term = static_cast<double>(w[i]) * a[i];
    r.value += term;
    r.abs_terms += std::fabs(term);
  }
  if (vec_dot_type(weight) == TensorType::Q8_1) {
    // ggml's min term is m * s with Q8_1's s = fp16(d * sum(q)) rounded to
    // fp16, not m * sum(a): add that defined rounding to the exact value.
    const auto& wt = traits(weight);
    const auto* acts = static_cast<const quant::BlockQ8_1*>(act_row);
    for (int64_t b = 0; b < n / 32; ++b) {
      uint16_t m_bits;  // Q4_1 and Q5_1 both keep m right after d
      std::memcpy(&m_bits, static_cast<const uint8_t*>(weight_row) + b * wt.block_bytes + 2, 2);
      double block_sum = 0;
      for (int j = 0; j < 32; ++j) block_sum += a[b * 32 + j];
      r.value += fp16_to_fp32(m_bits) * (fp16_to_fp32(acts[b].s) - block_sum);
    }
  }
  return r;
}

// Prepared activation row for `weight` from random normals.
inline std::vector<uint8_t> random_activation_row(TensorType weight, int64_t n, std::mt19937& rng) {
  const std::vector<float> x = random_floats(rng, n);
  std::vector<uint8_t> act(activation_row_bytes(weight, n));
  prepare_activation_row(weight, x.data(), act.data(), n);
  return act;
}

// Row lengths worth testing for a type: single blocks, odd block counts and a
// model-sized row; float types also get lengths that are no multiple of any
// SIMD width.
inline std::vector<int64_t> test_lengths(TensorType t) {
  const int64_t block = traits(t).block_size;
  if (block == 1) return {1, 7, 16, 33, 64, 100, 172, 255, 256, 1000, 4096};
  if (block == 32) return {32, 64, 96, 160, 256, 4096};
  return {256, 512, 768, 4096};
}

}  // namespace pagoda::kernels::test
