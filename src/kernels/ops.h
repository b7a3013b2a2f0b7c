#pragma once
// Row-wise element operations of the transformer forward pass, each with the
// rounding of ggml's CPU backend: RMSNorm, RoPE, softmax, SwiGLU. Every
// function works on one row, in a fixed order, so results never depend on
// batching or threading. All are allocation-free and thread-safe.
#include <cstdint>

#include "kernels/vec_dot.h"

namespace pagoda::kernels {

// y[i] = (x[i] * s) * w[i], s = 1 / sqrtf(mean(x^2) + eps), the sum of squares
// accumulated in double. w may be nullptr (no weight). x and y may alias.
void rmsnorm_row(const float* x, const float* w, float* y, int64_t n, float eps);
// rmsnorm_row on n_rows consecutive rows of n values (x and y [n_rows, n]), the same bits,
// kRmsNormRowsAtOnce rows at a time (callers splitting rows over threads use it as the grain).
constexpr int64_t kRmsNormRowsAtOnce = 4;
void rmsnorm_rows(const float* x, const float* w, float* y, int64_t n_rows, int64_t n, float eps);

// RoPE settings for one model (see ggml_rope_ext).
struct RopeConfig {
  int n_rot = 0;                        // rotated dimensions per head (even)
  float base = 10000.0f;                // theta base
  float freq_scale = 1.0f;              // linear scaling: theta *= freq_scale
  bool neox = false;                    // rotate (i, i + n_rot/2) instead of (2i, 2i+1)
  const float* freq_factors = nullptr;  // [n_rot/2] divisors (Llama 3 rope_freqs) or nullptr
};

// Fills cos_sin [n_rot] with (cos, sin) pairs for position `pos`, computing
// theta iteratively (theta *= base^(-2/n_rot)) exactly as ggml does.
void rope_cos_sin(const RopeConfig& cfg, int64_t pos, float* cos_sin);
// Rotates the first n_rot values of one head in place with a cos_sin table.
void rope_apply(const RopeConfig& cfg, const float* cos_sin, float* head);

// exp(x) computed the way ggml-cpu's AVX2 ggml_v_expf does (a polynomial
// adapted from Arm's optimized routines, max error ~1.5 ulp), one lane in
// scalar code with fused multiply-adds, so every ISA gets ggml's bits.
float ggml_expf(float x);

// In place: x[i] = exp(x[i] * scale - max) / sum, as ggml_soft_max_ext without
// a mask on x86: ggml_expf per element, the sum taken in groups of 8 (each
// group summed in float as an AVX2 horizontal add, the groups in double).
void softmax_row(float* x, int64_t n, float scale);

// out[i] = silu(gate[i]) * up[i], silu(v) = v / (1 + exp(-v)), as ggml's x86
// ggml_vec_swiglu_f32: ggml_expf for the first n - n % 8 elements (the SIMD
// part), libm expf for the rest. out may alias gate. The SIMD part runs on 8 lanes where the CPU
// has AVX2 (bit for bit the scalar code); the Isa overload picks the level (tests).
void swiglu_row(const float* gate, const float* up, float* out, int64_t n);
void swiglu_row(Isa isa, const float* gate, const float* up, float* out, int64_t n);

}  // namespace pagoda::kernels
