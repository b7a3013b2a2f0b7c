#pragma once
// The vec_dot kernels behind matmul, one per weight type and instruction set.
// Every kernel computes the same ggml-defined dot product of one weight row
// (its GGUF storage type) with one prepared activation row (the weight type's
// vec_dot type); SIMD versions differ from the scalar reference only by float
// rounding. The set used by matmul is chosen once, at first use, from
// cpu_features() (PAGODA_CPU=generic|avx2 caps it for testing fallbacks).
#include <cstddef>
#include <cstdint>

#include "base/tensor_type.h"

namespace pagoda::kernels {

// Dot product of n elements (n a multiple of the weight type's block size).
using VecDotFn = float (*)(int64_t n, const void* weight_row, const void* act_row);

// Many outputs at once: y[t * y_stride + r] = VecDotFn(n, weights + r * row_stride,
// acts + t * act_stride) for r < n_rows, t < n_tokens, bit for bit, whatever
// n_rows and n_tokens are. Each weight block is unpacked once for several tokens.
using VecDotTileFn = void (*)(int64_t n, const void* weights, size_t row_stride, int64_t n_rows,
                              const void* acts, size_t act_stride, int64_t n_tokens, float* y,
                              int64_t y_stride);

// Instruction-set levels, each including the ones before it.
enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// Human-readable name: "scalar", "avx2", "avx512".
const char* isa_name(Isa isa);
// True when this CPU (after the PAGODA_CPU cap) can run kernels of `isa`.
bool isa_available(Isa isa);
// The best level isa_available() allows; fixed for the life of the process.
Isa active_isa();

// The kernel a CPU at level `isa` uses for `weight`: that level's own kernel or,
// when it has none, the next lower level's. nullptr for unsupported weight types.
// Callers must only run it when isa_available(isa).
VecDotFn vec_dot_kernel(TensorType weight, Isa isa);
// vec_dot_kernel(weight, active_isa()), looked up in a table built once.
VecDotFn active_vec_dot_kernel(TensorType weight);

// The tile kernel giving vec_dot_kernel(weight, isa)'s bits, or nullptr when
// that level has none for `weight` (then call the VecDotFn per output).
VecDotTileFn vec_dot_tile_kernel(TensorType weight, Isa isa);
// vec_dot_tile_kernel(weight, active_isa()).
VecDotTileFn active_vec_dot_tile_kernel(TensorType weight);

}  // namespace pagoda::kernels
