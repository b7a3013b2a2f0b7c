#pragma once
// Activation quantizers for the Q8 vec_dot types, with the semantics of the
// row quantizers llama.cpp's CPU backend actually runs on x86 (AVX/AVX2
// builds of ggml-cpu), which differ from the reference ones in quant/:
//  - Q8_0 / Q8_1: d = amax / 127, multiplier id = 127 / amax (not 1 / d),
//    q = round-half-to-even(x * id); Q8_1 also stores s = d * sum(q).
//  - Q8_K: the reference quantizer (ggml uses quantize_row_q8_K_ref on x86).
// Q8_0 and Q8_K have AVX-512 versions (act_quant_avx512.cpp) picked by CPU,
// with the scalar versions' exact bytes, so prepared activations (and hence
// logits) are identical across ISAs. Weight quantization (`pagoda quantize`)
// keeps quant/'s reference quantizers. Thread-safe, allocation-free; n must be
// a multiple of the block size (not checked).
#include <cstdint>

#include "kernels/vec_dot.h"

namespace pagoda::kernels {

void quantize_act_q8_0(const float* x, void* dst, int64_t n);
void quantize_act_q8_1(const float* x, void* dst, int64_t n);
void quantize_act_q8_k(const float* x, void* dst, int64_t n);

// The portable Q8_0 quantizer (quantize_act_q8_0 on CPUs without AVX-512).
void quantize_act_q8_0_scalar(const float* x, void* dst, int64_t n);

// One level's quantizer for `type` (Q8_0 or Q8_K; nullptr otherwise), for tests and
// benchmarks: every level writes the same bytes. Callers must only run it when isa_available(isa).
using ActQuantFn = void (*)(const float* x, void* dst, int64_t n);
ActQuantFn act_quant_kernel(TensorType type, Isa isa);

}  // namespace pagoda::kernels
