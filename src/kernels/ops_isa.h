#pragma once
// SIMD parts of ops.h's row operations, reached through ops.cpp's dispatch after the CPU check.
#include <cstdint>

namespace pagoda::kernels::avx2 {

// swiglu_row's SIMD part: out[i] = silu(gate[i]) * up[i] with ggml_expf for i < n, n a
// multiple of 8. out may alias gate.
void swiglu_lanes(const float* gate, const float* up, float* out, int64_t n);

}  // namespace pagoda::kernels::avx2
