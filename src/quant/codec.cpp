// Dispatch for the scalar codecs, plus the plain float formats (F32, F16, BF16).
#include "quant/codec.h"

#include <cstring>
#include <string>

#include "base/expected.h"
#include "base/half.h"

namespace pagoda::quant {
namespace {

using DequantizeFn = void (*)(const void*, float*, int64_t);
using QuantizeFn = void (*)(const float*, void*, int64_t);

struct Codec {
  TensorType type;
  DequantizeFn dequantize;
  QuantizeFn quantize;
};

void dequantize_f32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}
void quantize_f32(const float* src, void* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

// fp16/bf16 fields may sit at any byte offset in a mapped file: read by memcpy.
void dequantize_f16(const void* src, float* dst, int64_t n) {
  const auto* bytes = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, bytes + 2 * i, 2);
    dst[i] = fp16_to_fp32(h);
  }
}
void quantize_f16(const float* src, void* dst, int64_t n) {
  auto* bytes = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = fp32_to_fp16(src[i]);
    std::memcpy(bytes + 2 * i, &h, 2);
  }
}
void dequantize_bf16(const void* src, float* dst, int64_t n) {
  const auto* bytes = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, bytes + 2 * i, 2);
    dst[i] = bf16_to_fp32(h);
  }
}
void quantize_bf16(const float* src, void* dst, int64_t n) {
  auto* bytes = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = fp32_to_bf16(src[i]);
    std::memcpy(bytes + 2 * i, &h, 2);
  }
}

constexpr Codec kCodecs[] = {
    {TensorType::F32, dequantize_f32, quantize_f32},
    {TensorType::F16, dequantize_f16, quantize_f16},
    {TensorType::BF16, dequantize_bf16, quantize_bf16},
    {TensorType::Q4_0, dequantize_row_q4_0, quantize_row_q4_0},
    {TensorType::Q4_1, dequantize_row_q4_1, quantize_row_q4_1},
    {TensorType::Q5_0, dequantize_row_q5_0, quantize_row_q5_0},
    {TensorType::Q5_1, dequantize_row_q5_1, quantize_row_q5_1},
    {TensorType::Q8_0, dequantize_row_q8_0, quantize_row_q8_0},
    {TensorType::Q8_1, dequantize_row_q8_1, quantize_row_q8_1},
    {TensorType::Q2_K, dequantize_row_q2_k, quantize_row_q2_k},
    {TensorType::Q3_K, dequantize_row_q3_k, quantize_row_q3_k},
    {TensorType::Q4_K, dequantize_row_q4_k, quantize_row_q4_k},
    {TensorType::Q5_K, dequantize_row_q5_k, quantize_row_q5_k},
    {TensorType::Q6_K, dequantize_row_q6_k, quantize_row_q6_k},
    {TensorType::Q8_K, dequantize_row_q8_k, quantize_row_q8_k},
};

const Codec* find_codec(TensorType t) {
  for (const auto& c : kCodecs)
    if (c.type == t) return &c;
  return nullptr;
}

// Throws unless the codec exists and n is a whole number of blocks.
const Codec& checked_codec(TensorType t, int64_t n, const char* what) {
  const Codec* codec = find_codec(t);
  if (!codec)
    throw Exception(std::string(what) + ": unsupported tensor type " + std::string(tensor_type_name(t)));
  const auto& tr = traits(t);
  if (n < 0 || n % tr.block_size != 0)
    throw Exception(std::string(what) + ": " + std::to_string(n) + " elements is not a multiple of " +
                    std::string(tr.name) + "'s block size " + std::to_string(tr.block_size));
  return *codec;
}

}  // namespace

bool can_dequantize(TensorType t) { return find_codec(t) != nullptr; }
bool can_quantize(TensorType t) { return find_codec(t) != nullptr; }

void dequantize_row(TensorType t, const void* src, float* dst, int64_t n) {
  checked_codec(t, n, "dequantize_row").dequantize(src, dst, n);
}

void quantize_row(TensorType t, const float* src, void* dst, int64_t n) {
  checked_codec(t, n, "quantize_row").quantize(src, dst, n);
}

}  // namespace pagoda::quant
