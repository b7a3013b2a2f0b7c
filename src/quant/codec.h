#pragma once
// Scalar conversion between f32 and every storage type pagoda reads: the
// reference ("truth") codecs, bit-exact with ggml's scalar code, including
// llama.cpp's reference quantizers (no importance matrix).
#include <cstdint>

#include "base/tensor_type.h"

namespace pagoda::quant {

// True when dequantize_row handles type t.
bool can_dequantize(TensorType t);
// True when quantize_row handles type t.
bool can_quantize(TensorType t);

// Converts n elements of type t at src into floats at dst. n must be a multiple
// of t's block size and can_dequantize(t) must hold (checked: throws
// pagoda::Exception otherwise). Thread-safe, allocation-free.
void dequantize_row(TensorType t, const void* src, float* dst, int64_t n);

// Encodes n floats at src as type t into dst (row_bytes(t, n) bytes) with
// llama.cpp's reference quantizer for t, byte for byte. Same preconditions and
// error behaviour as dequantize_row. Thread-safe, allocation-free.
void quantize_row(TensorType t, const float* src, void* dst, int64_t n);

// Per-type entry points (n a multiple of the block size; not checked).
void dequantize_row_q4_0(const void* src, float* dst, int64_t n);
void dequantize_row_q4_1(const void* src, float* dst, int64_t n);
void dequantize_row_q5_0(const void* src, float* dst, int64_t n);
void dequantize_row_q5_1(const void* src, float* dst, int64_t n);
void dequantize_row_q8_0(const void* src, float* dst, int64_t n);
void dequantize_row_q8_1(const void* src, float* dst, int64_t n);
void dequantize_row_q2_k(const void* src, float* dst, int64_t n);
void dequantize_row_q3_k(const void* src, float* dst, int64_t n);
void dequantize_row_q4_k(const void* src, float* dst, int64_t n);
void dequantize_row_q5_k(const void* src, float* dst, int64_t n);
void dequantize_row_q6_k(const void* src, float* dst, int64_t n);
void dequantize_row_q8_k(const void* src, float* dst, int64_t n);

void quantize_row_q4_0(const float* src, void* dst, int64_t n);
void quantize_row_q4_1(const float* src, void* dst, int64_t n);
void quantize_row_q5_0(const float* src, void* dst, int64_t n);
void quantize_row_q5_1(const float* src, void* dst, int64_t n);
void quantize_row_q8_0(const float* src, void* dst, int64_t n);
void quantize_row_q8_1(const float* src, void* dst, int64_t n);
void quantize_row_q2_k(const float* src, void* dst, int64_t n);
void quantize_row_q3_k(const float* src, void* dst, int64_t n);
void quantize_row_q4_k(const float* src, void* dst, int64_t n);
void quantize_row_q5_k(const float* src, void* dst, int64_t n);
void quantize_row_q6_k(const float* src, void* dst, int64_t n);
void quantize_row_q8_k(const float* src, void* dst, int64_t n);

}  // namespace pagoda::quant
