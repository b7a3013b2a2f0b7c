#pragma once
// Row-wise element operations of the transformer forward pass, each with the
// rounding of ggml's CPU backend: RMSNorm, RoPE, softmax, SwiGLU. Every
// function works on one row, in a fixed order, so results never depend on
// batching or threading. All are allocation-free and thread-safe.
#include <cstdint>

namespace pagoda::kernels {

// y[i] = (x[i] * s) * w[i], s = 1 / sqrtf(mean(x^2) + eps), the sum of squares
// accumulated in double. w may be nullptr (no weight). x and y may alias.
void rmsnorm_row(const float* x, const float* w, float* y, int64_t n, float eps);

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

// In place: x[i] = exp(x[i] * scale - max) / sum, expf per element and the sum
// accumulated in double (ggml_soft_max_ext without a mask).
void softmax_row(float* x, int64_t n, float scale);

// out[i] = silu(gate[i]) * up[i], silu(v) = v / (1 + expf(-v)). out may alias gate.
void swiglu_row(const float* gate, const float* up, float* out, int64_t n);

}  // namespace pagoda::kernels
