#pragma once
// The ggml quantization blocks exactly as they sit in GGUF files (little-endian,
// no padding). fp16 fields are raw IEEE binary16 bits (see base/half.h).
// Every size is checked against base/tensor_type's block_bytes.
#include <cstddef>
#include <cstdint>

#include "base/tensor_type.h"

namespace pagoda::quant {

inline constexpr int kQK = 32;            // elements per legacy block (Q4_0 ... Q8_1)
inline constexpr int kQK_K = 256;         // elements per K-quant super-block
inline constexpr int kKScaleSize = 12;    // bytes of packed 6-bit scales/mins in Q4_K/Q5_K

// d * q, q in [-8, 7] stored as nibbles + 8. Element j in low nibble of qs[j],
// element j + 16 in the high nibble.
struct BlockQ4_0 {
  uint16_t d;            // fp16 scale
  uint8_t qs[kQK / 2];   // nibbles
};

// d * q + m, q in [0, 15]; nibble order as Q4_0.
struct BlockQ4_1 {
  uint16_t d;  // fp16 scale
  uint16_t m;  // fp16 minimum
  uint8_t qs[kQK / 2];
};

// d * q, q in [-16, 15] stored as 5 bits + 16: low 4 bits as Q4_0, bit 4 of
// element j in bit j of qh (little-endian uint32).
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};

// d * q + m, q in [0, 31]; bit layout as Q5_0.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};

// d * q, q in [-127, 127].
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};

// Q8_0 plus s = d * sum(qs) (fp16), the partner of Q4_1/Q5_1 in dot products.
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[kQK];
};

// 2-bit quants in 16 sub-blocks of 16: scales[i] holds the 4-bit scale (low)
// and 4-bit min (high) of sub-block i; x = d * sc * q - dmin * m.
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];
  uint16_t d;     // fp16 super-block scale for the scales
  uint16_t dmin;  // fp16 super-block scale for the mins
};

// 3-bit quants: low 2 bits in qs, high bit in hmask (set means +0, clear -4);
// 16 sub-blocks of 16 with 6-bit signed scales (biased by 32) packed in 12 bytes.
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];
  uint16_t d;
};

// 4-bit quants in 8 sub-blocks of 32; 6-bit scales and mins packed in 12 bytes
// (see get_scale_min_k4); x = d * sc * q - dmin * m.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qs[kQK_K / 2];
};

// Q4_K plus a fifth bit per element in qh.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};

// 6-bit quants (low 4 in ql, high 2 in qh, biased by 32), 16 sub-blocks of 16
// with signed 8-bit scales; x = d * sc * q.
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};

// Activation format of the K-quant dot products: float scale, int8 quants and
// the sum of each group of 16 quants.
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};

namespace detail {
constexpr uint32_t expected_bytes(TensorType t) {
  switch (t) {
    case TensorType::Q4_0: return 18;
    case TensorType::Q4_1: return 20;
    case TensorType::Q5_0: return 22;
    case TensorType::Q5_1: return 24;
    case TensorType::Q8_0: return 34;
    case TensorType::Q8_1: return 36;
    case TensorType::Q2_K: return 84;
    case TensorType::Q3_K: return 110;
    case TensorType::Q4_K: return 144;
    case TensorType::Q5_K: return 176;
    case TensorType::Q6_K: return 210;
    case TensorType::Q8_K: return 292;
    default: return 0;
  }
}
}  // namespace detail

// These values are the ones in base/tensor_type.cpp's table; the test
// quant.BlockSizesMatchTensorTypeTable checks the two agree at run time.
static_assert(sizeof(BlockQ4_0) == detail::expected_bytes(TensorType::Q4_0));
static_assert(sizeof(BlockQ4_1) == detail::expected_bytes(TensorType::Q4_1));
static_assert(sizeof(BlockQ5_0) == detail::expected_bytes(TensorType::Q5_0));
static_assert(sizeof(BlockQ5_1) == detail::expected_bytes(TensorType::Q5_1));
static_assert(sizeof(BlockQ8_0) == detail::expected_bytes(TensorType::Q8_0));
static_assert(sizeof(BlockQ8_1) == detail::expected_bytes(TensorType::Q8_1));
static_assert(sizeof(BlockQ2_K) == detail::expected_bytes(TensorType::Q2_K));
static_assert(sizeof(BlockQ3_K) == detail::expected_bytes(TensorType::Q3_K));
static_assert(sizeof(BlockQ4_K) == detail::expected_bytes(TensorType::Q4_K));
static_assert(sizeof(BlockQ5_K) == detail::expected_bytes(TensorType::Q5_K));
static_assert(sizeof(BlockQ6_K) == detail::expected_bytes(TensorType::Q6_K));
static_assert(sizeof(BlockQ8_K) == detail::expected_bytes(TensorType::Q8_K));

// Unpacks the 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block:
// sub-blocks 0-3 keep them in the low 6 bits of q[j] and q[j+4]; 4-7 split them
// between nibbles of q[j+4] and the top 2 bits of q[j-4] / q[j].
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Unpacks the 16 signed 6-bit scales of a Q3_K block (range [-32, 31]).
inline void unpack_q3_k_scales(const uint8_t* packed, int8_t* scales16) {
  for (int j = 0; j < 16; ++j) {
    const int low = j < 8 ? (packed[j] & 0xF) : (packed[j - 8] >> 4);
    const int high = (packed[8 + (j % 4)] >> (2 * (j / 4))) & 3;
    scales16[j] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
}

}  // namespace pagoda::quant
