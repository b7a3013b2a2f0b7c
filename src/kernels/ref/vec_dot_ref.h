#pragma once
// Scalar reference vec_dot kernels: the numerical truth every SIMD kernel is
// tested against. Each follows ggml's definition of the same dot product
// (integer sums per block, then the block scales); Q4_0, Q8_0 and the
// K-quants use the float order (8 FMA lanes, AVX2 horizontal add) of ggml's
// x86 kernels and of ours, so every ISA gives their bits. Thread-safe, allocation-free;
// n must be a multiple of the weight type's block size.
#include <cstdint>

namespace pagoda::kernels::ref {

// Float weights: products summed in double, as ggml's ggml_float accumulator.
float vec_dot_f32(int64_t n, const void* weight_row, const void* act_row);   // f32 . f32
float vec_dot_f16(int64_t n, const void* weight_row, const void* act_row);   // f16 . f16
float vec_dot_bf16(int64_t n, const void* weight_row, const void* act_row);  // bf16 . bf16

// Legacy 32-element blocks.
float vec_dot_q4_0(int64_t n, const void* weight_row, const void* act_row);  // q4_0 . q8_0
float vec_dot_q4_1(int64_t n, const void* weight_row, const void* act_row);  // q4_1 . q8_1
float vec_dot_q5_0(int64_t n, const void* weight_row, const void* act_row);  // q5_0 . q8_0
float vec_dot_q5_1(int64_t n, const void* weight_row, const void* act_row);  // q5_1 . q8_1
float vec_dot_q8_0(int64_t n, const void* weight_row, const void* act_row);  // q8_0 . q8_0

// K-quants against Q8_K (256-element super-blocks).
float vec_dot_q2_k(int64_t n, const void* weight_row, const void* act_row);
float vec_dot_q3_k(int64_t n, const void* weight_row, const void* act_row);
float vec_dot_q4_k(int64_t n, const void* weight_row, const void* act_row);
float vec_dot_q5_k(int64_t n, const void* weight_row, const void* act_row);
float vec_dot_q6_k(int64_t n, const void* weight_row, const void* act_row);

}  // namespace pagoda::kernels::ref
