#pragma once
// Internal: the SIMD vec_dot kernels, one namespace per instruction set, with
// the same contract as their ref:: counterparts (kernels/ref/vec_dot_ref.h).
// Only call them when isa_available() says the CPU runs that ISA.
#include <cstddef>
#include <cstdint>

#include "kernels/vec_dot.h"

namespace pagoda::kernels {

// This thread's scratch for the tile kernels: at least `bytes`, 64-byte
// aligned, valid until the next call on this thread. Defined in matmul.cpp
// (baseline x86-64), so that no std:: template is instantiated under SIMD
// flags in the ISA translation units, whose weak copies the linker could pick.
uint8_t* tile_scratch(size_t bytes);

}  // namespace pagoda::kernels

namespace pagoda::kernels::avx2 {

float vec_dot_f32(int64_t n, const void* weight_row, const void* act_row);
float vec_dot_f16(int64_t n, const void* weight_row, const void* act_row);
float vec_dot_bf16(int64_t n, const void* weight_row, const void* act_row);
float vec_dot_q4_0(int64_t n, const void* weight_row, const void* act_row);
float vec_dot_q4_1(int64_t n, const void* weight_row, const void* act_row);
float vec_dot_q5_0(int64_t n, const void* weight_row, const void* act_row);
float vec_dot_q5_1(int64_t n, const void* weight_row, const void* act_row);
float vec_dot_q8_0(int64_t n, const void* weight_row, const void* act_row);
float vec_dot_q2_k(int64_t n, const void* weight_row, const void* act_row);
float vec_dot_q3_k(int64_t n, const void* weight_row, const void* act_row);
float vec_dot_q4_k(int64_t n, const void* weight_row, const void* act_row);
float vec_dot_q5_k(int64_t n, const void* weight_row, const void* act_row);
float vec_dot_q6_k(int64_t n, const void* weight_row, const void* act_row);

// The tile kernel matching this level's vec_dot bits, nullptr when none
// (matmul_tile_avx2.cpp), and the tile_scratch it grows to for a call of
// n_tokens tokens over n_rows rows of n values.
VecDotTileFn tile_kernel(TensorType weight);
size_t tile_scratch_bytes(TensorType weight, int64_t n, int64_t n_rows, int64_t n_tokens);

}  // namespace pagoda::kernels::avx2

namespace pagoda::kernels::avx512 {

// AVX-512 (F/BW/VL/DQ) + VNNI versions; other types use the avx2 kernels.
float vec_dot_q8_0(int64_t n, const void* weight_row, const void* act_row);
float vec_dot_q4_0(int64_t n, const void* weight_row, const void* act_row);

// Tile kernels with VNNI integer steps, bit-identical to this level's vec_dot
// (matmul_tile_avx512.cpp); nullptr when none. Scratch as avx2::tile_scratch_bytes.
VecDotTileFn tile_kernel(TensorType weight);
size_t tile_scratch_bytes(TensorType weight, int64_t n, int64_t n_rows, int64_t n_tokens);

// Q4_0, Q8_0, Q4_K, Q5_K and Q6_K rows interleaved by 16 (matmul_tile_q4_0_wide.h,
// matmul_tile_q8_0_wide.h, matmul_tile_q4_k_wide.h, matmul_tile_q6_k_wide.h),
// made once by the model: the layout's bytes (0 for other types), the bytes of one group of 16
// rows, the layout written from rows in file order, and matmul's product over rows [0, n_rows)
// of it (`groups` at the group of the first row). The product also reads per-block terms of each
// token (its ActBlocks, act_blocks: n_tokens * interleaved_act_bytes), which the call prepares
// once for all its rows and threads: prepare_interleaved_act writes those of token `token` of
// the call's n_tokens into act_blocks, where the kernels look for them.
size_t interleaved_bytes(TensorType weight, int64_t n, int64_t n_rows);
size_t interleaved_group_bytes(TensorType weight, int64_t n);
void interleave(TensorType weight, int64_t n, const void* rows, size_t row_stride, int64_t n_rows, void* out);
size_t interleaved_act_bytes(TensorType weight, int64_t n);
void prepare_interleaved_act(TensorType weight, int64_t n, const void* act_row, int64_t token, int64_t n_tokens,
                             void* act_blocks);
void multiply_interleaved(TensorType weight, int64_t n, const void* groups, int64_t n_rows, const void* acts,
                          size_t act_stride, const void* act_blocks, int64_t n_tokens, float* y, int64_t y_stride);

// Activation quantizers with the scalar ones' bytes (act_quant_avx512.cpp).
void quantize_act_q8_0(const float* x, void* dst, int64_t n);
void quantize_act_q8_k(const float* x, void* dst, int64_t n);

}  // namespace pagoda::kernels::avx512
