// KV row encoding/decoding for every KvType (see kv_rows.h).
#include "kernels/kv_rows.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "base/expected.h"
#include "base/fp8.h"
#include "base/half.h"
#include "quant/blocks.h"
#include "quant/codec.h"

namespace pagoda::kernels {

namespace {

constexpr int64_t kBlock = 32;  // q8_0 / q4_0 block size

[[noreturn]] void bad_type(KvType t) {
  throw Exception("kv rows: unknown element type " + std::to_string(static_cast<int>(t)));
}

// Element i (< 32) of a block, with the dequantizers' exact expressions.
float q8_0_element(const quant::BlockQ8_0& b, int64_t i) {
  return static_cast<float>(b.qs[i]) * fp16_to_fp32(b.d);
}
float q4_0_element(const quant::BlockQ4_0& b, int64_t i) {
  const int q = i < kBlock / 2 ? (b.qs[i] & 0xF) : (b.qs[i - kBlock / 2] >> 4);
  return static_cast<float>(q - 8) * fp16_to_fp32(b.d);
}

template <typename Block, typename Element>
void decode_blocks(TensorType type, const uint8_t* row, int64_t first, int64_t n, float* out,
                   Element element) {
  if (first % kBlock == 0 && n % kBlock == 0) {  // whole blocks: the row dequantizer
    quant::dequantize_row(type, row + first / kBlock * sizeof(Block), out, n);
    return;
  }
  const auto* blocks = reinterpret_cast<const Block*>(row);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t e = first + i;
    out[i] = element(blocks[e / kBlock], e % kBlock);
  }
}

}  // namespace

void encode_kv_row(KvType t, const float* src, uint8_t* dst, int64_t n) {
  switch (t) {
    case KvType::f32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case KvType::f16: {
      auto* h = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(src[i]);
      return;
    }
    case KvType::bf16: {
      auto* h = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_bf16(src[i]);
      return;
    }
    case KvType::fp8_e4m3:
      for (int64_t i = 0; i < n; ++i) dst[i] = fp32_to_fp8_e4m3(src[i]);
      return;
    case KvType::fp8_e5m2:
      for (int64_t i = 0; i < n; ++i) dst[i] = fp32_to_fp8_e5m2(src[i]);
      return;
    case KvType::q8_0:
    case KvType::q4_0: {
      const TensorType type = *kv_tensor_type(t);
      const int64_t n_full = n / kBlock * kBlock;
      if (n_full > 0) quant::quantize_row(type, src, dst, n_full);
      if (n_full < n) {
        float tail[kBlock] = {};  // the last values, then zeros
        std::copy(src + n_full, src + n, tail);
        quant::quantize_row(type, tail, dst + n_full / kBlock * kv_type_geometry(t).block_bytes,
                            kBlock);
      }
      return;
    }
  }
  bad_type(t);
}

void decode_kv_elements(KvType t, const uint8_t* row, int64_t first, int64_t n, float* out) {
  switch (t) {
    case KvType::f32:
      std::memcpy(out, row + first * 4, static_cast<size_t>(n) * sizeof(float));
      return;
    case KvType::f16: {
      const auto* h = reinterpret_cast<const uint16_t*>(row) + first;
      for (int64_t i = 0; i < n; ++i) out[i] = fp16_to_fp32(h[i]);
      return;
    }
    case KvType::bf16: {
      const auto* h = reinterpret_cast<const uint16_t*>(row) + first;
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_fp32(h[i]);
      return;
    }
    case KvType::fp8_e4m3:
      for (int64_t i = 0; i < n; ++i) out[i] = fp8_e4m3_to_fp32(row[first + i]);
      return;
    case KvType::fp8_e5m2:
      for (int64_t i = 0; i < n; ++i) out[i] = fp8_e5m2_to_fp32(row[first + i]);
      return;
    case KvType::q8_0:
      decode_blocks<quant::BlockQ8_0>(TensorType::Q8_0, row, first, n, out, q8_0_element);
      return;
    case KvType::q4_0:
      decode_blocks<quant::BlockQ4_0>(TensorType::Q4_0, row, first, n, out, q4_0_element);
      return;
  }
  bad_type(t);
}

}  // namespace pagoda::kernels
