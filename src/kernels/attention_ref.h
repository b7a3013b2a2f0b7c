#pragma once
// The scalar attention that defines the bits of every attention kernel: the
// implementation attend_head had before its SIMD kernels, kept verbatim
// (std::fma for ggml's FMA lanes, ops.h's softmax_row and ggml_expf, libm
// expf in the online path). Slow and allocating; for tests and benchmarks.
#include <cstdint>

#include "kernels/attention.h"

namespace pagoda::kernels::ref {

// out [head_dim] = attention of query q [head_dim] over keys 0 .. n_kv-1,
// with the numerics attention.h describes; attend_head, attend_heads and every
// ISA level give these bits for each query.
void attend_head(const float* q, int64_t head_dim, const HeadRows& keys, const HeadRows& values,
                 int64_t n_kv, float scale, float* out);

}  // namespace pagoda::kernels::ref
