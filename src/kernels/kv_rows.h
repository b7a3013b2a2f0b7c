#pragma once
// Encoding activations into KV-cache rows and decoding slices of them, for
// every KvType. A row of n values is stored as ceil(n / block_size) blocks of
// the type, the last block zero-padded (kv_type_geometry in base/kv_type.h);
// one-element types are plain arrays. Scalar, thread-safe, allocation-free.
#include <cstdint>

#include "base/kv_type.h"

namespace pagoda::kernels {

// Writes the n floats at src as one row of type t at dst (kv row bytes of n
// values). f16/bf16/fp8 round to nearest even (base/half.h, base/fp8.h);
// q8_0/q4_0 use quant/'s reference quantizers, the padded tail block quantized
// from the tail values followed by zeros. Throws pagoda::Exception for a value
// outside KvType.
void encode_kv_row(KvType t, const float* src, uint8_t* dst, int64_t n);

// Decodes elements [first, first + n) of a row of type t starting at `row`
// into out[0, n). Bit-identical to decoding the whole row and copying the
// slice (each element is exactly its block's d * q, or its float value).
// Throws pagoda::Exception for a value outside KvType.
void decode_kv_elements(KvType t, const uint8_t* row, int64_t first, int64_t n, float* out);

}  // namespace pagoda::kernels
