// Scalar row operations; the rounding follows ggml-cpu's ops.cpp / vec.h.
#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/ops_isa.h"

namespace pagoda::kernels {

// Functions marked PAGODA_FMA_CLONES are built twice, for baseline x86-64 and with FMA, and
// the loader picks one by CPU (GCC/Clang target_clones). std::fma is exact in both, so the bits
// are the same; the baseline copy's fmaf calls were 2% of a decode profile, the issue's "scalar
// library call in an inner loop". Sanitizer builds (PAGODA_SANITIZED) keep one copy: the ifunc
// resolver would run before the sanitizer runtime starts.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(PAGODA_SANITIZED)
#define PAGODA_FMA_CLONES __attribute__((target_clones("fma", "default")))
#else
#define PAGODA_FMA_CLONES
#endif

namespace {

// y = (x * s) * w (or x * s) with s from the row's sum of squares.
void scale_row(const float* x, const float* w, float* y, int64_t n, float eps, double sum) {
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  if (w) {
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * scale) * w[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
  }
}

}  // namespace

void rmsnorm_row(const float* x, const float* w, float* y, int64_t n, float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  scale_row(x, w, y, n, eps, sum);
}

void rmsnorm_rows(const float* x, const float* w, float* y, int64_t n_rows, int64_t n, float eps) {
  // Four rows' sums side by side: four independent chains of dependent double adds instead of
  // one, each still in its row's order (a 2048-wide row's chain is ~7000 cycles of latency).
  constexpr int kRows = static_cast<int>(kRmsNormRowsAtOnce);
  int64_t r = 0;
  for (; r + kRows <= n_rows; r += kRows) {
    double sum[kRows] = {};
    for (int64_t i = 0; i < n; ++i)
      for (int k = 0; k < kRows; ++k) {
        const float v = x[(r + k) * n + i];
        sum[k] += static_cast<double>(v * v);
      }
    for (int k = 0; k < kRows; ++k) scale_row(x + (r + k) * n, w, y + (r + k) * n, n, eps, sum[k]);
  }
  for (; r < n_rows; ++r) rmsnorm_row(x + r * n, w, y + r * n, n, eps);
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

PAGODA_FMA_CLONES void rope_apply(const RopeConfig& cfg, const float* cos_sin, float* head) {
  // Adjacent pairs (2i, 2i+1), or NeoX halves (i, i + n_rot/2); pair i uses cos_sin[2i..].
  const int half = cfg.n_rot / 2;
  for (int i = 0; i < half; ++i) {
    const int a = cfg.neox ? i : 2 * i;
    const int b = cfg.neox ? i + half : 2 * i + 1;
    const float c = cos_sin[2 * i];
    const float s = cos_sin[2 * i + 1];
    const float x0 = head[a];
    const float x1 = head[b];
    // ggml's rotate_pairs as GCC/Clang contract it when FMA is available
    // (x86 builds with -march=native): the left product fused, the right rounded.
    head[a] = std::fma(x0, c, -(x1 * s));
    head[b] = std::fma(x0, s, x1 * c);
  }
}

namespace {

float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}
uint32_t float_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

// Sum of 8 floats in the order of an AVX2 horizontal add:
// (v0+v4 + v2+v6) + (v1+v5 + v3+v7).
float hsum8(const float* v) {
  float r[4];
  for (int i = 0; i < 4; ++i) r[i] = v[i + 4] + v[i];
  return (r[0] + r[2]) + (r[1] + r[3]);
}

// ggml_expf's body, inlined into each caller below. Its std::fma calls are correctly rounded
// either way: a libm call in the baseline clones, one instruction in the FMA clones.
inline float expf_impl(float x) {
  // x = n ln2 + b with n integral; exp(x) = 2^n (1 + poly(b)).
  const float r = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, r);
  const float n = z - r;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  const uint32_t e = float_to_bits(z) << 23;
  const float k = bits_to_float(e + float_to_bits(1.0f));
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                    std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           u, 0x1.ffffecp-1f * b);
  if (!(std::fabs(n) > 126.0f)) return std::fma(j, k, k);
  // 2^n out of the normal range: split the scale in two factors.
  const uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
  const float s1 = bits_to_float(g + 0x7f000000u);
  const float s2 = bits_to_float(e - g);
  if (std::fabs(n) > 192.0f) return s1 * s1;
  return std::fma(s2, j, s2) * s1;
}

}  // namespace


PAGODA_FMA_CLONES float ggml_expf(float x) {
  return expf_impl(x);
}

PAGODA_FMA_CLONES void softmax_row(float* x, int64_t n, float scale) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) {
    x[i] *= scale;
    if (x[i] > max) max = x[i];
  }
  // ggml's rows are padded (masked keys give exp = 0), so every element goes
  // through the SIMD exp and the groups of 8 are complete.
  double sum = 0.0;
  for (int64_t i0 = 0; i0 < n; i0 += 8) {
    float group[8] = {};
    for (int64_t i = i0; i < std::min(n, i0 + 8); ++i) group[i - i0] = x[i] = expf_impl(x[i] - max);
    sum += static_cast<double>(hsum8(group));
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

PAGODA_FMA_CLONES void swiglu_row(Isa isa, const float* gate, const float* up, float* out, int64_t n) {
  const int64_t n_simd = n - n % 8;
  int64_t i = 0;
  if (isa >= Isa::kAvx2) {
    avx2::swiglu_lanes(gate, up, out, n_simd);
    i = n_simd;
  }
  for (; i < n; ++i) {
    const float g = gate[i];
    const float e = i < n_simd ? expf_impl(-g) : std::exp(-g);
    out[i] = (g / (1.0f + e)) * up[i];
  }
}

void swiglu_row(const float* gate, const float* up, float* out, int64_t n) {
  swiglu_row(active_isa(), gate, up, out, n);
}

}  // namespace pagoda::kernels
