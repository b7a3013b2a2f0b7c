// Scalar row operations; the rounding follows ggml-cpu's ops.cpp / vec.h.
#include "kernels/ops.h"

#include <cmath>
#include <limits>

namespace pagoda::kernels {

void rmsnorm_row(const float* x, const float* w, float* y, int64_t n, float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  if (w) {
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * scale) * w[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
  }
}

void rope_cos_sin(const RopeConfig& cfg, int64_t pos, float* cos_sin) {
  const float theta_scale = std::pow(cfg.base, -2.0f / static_cast<float>(cfg.n_rot));
  float theta = static_cast<float>(pos);
  for (int i0 = 0; i0 < cfg.n_rot; i0 += 2) {
    const float factor = cfg.freq_factors ? cfg.freq_factors[i0 / 2] : 1.0f;
    const float angle = cfg.freq_scale * (theta / factor);
    cos_sin[i0] = std::cos(angle);
    cos_sin[i0 + 1] = std::sin(angle);
    theta *= theta_scale;
  }
}

void rope_apply(const RopeConfig& cfg, const float* cos_sin, float* head) {
  // Adjacent pairs (2i, 2i+1), or NeoX halves (i, i + n_rot/2); pair i uses cos_sin[2i..].
  const int half = cfg.n_rot / 2;
  for (int i = 0; i < half; ++i) {
    const int a = cfg.neox ? i : 2 * i;
    const int b = cfg.neox ? i + half : 2 * i + 1;
    const float c = cos_sin[2 * i];
    const float s = cos_sin[2 * i + 1];
    const float x0 = head[a];
    const float x1 = head[b];
    head[a] = x0 * c - x1 * s;
    head[b] = x0 * s + x1 * c;
  }
}

void softmax_row(float* x, int64_t n, float scale) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) {
    x[i] *= scale;
    if (x[i] > max) max = x[i];
  }
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float e = std::exp(x[i] - max);
    sum += static_cast<double>(e);
    x[i] = e;
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void swiglu_row(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = (g / (1.0f + std::exp(-g))) * up[i];
  }
}

}  // namespace pagoda::kernels
