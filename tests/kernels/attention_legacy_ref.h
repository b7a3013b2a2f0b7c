#pragma once
// The attention numerics from before K and V types became independent (one
// TensorType for both, head_dim % 32 == 0), kept verbatim as a test oracle:
// the f16/f16, f32/f32 and quantized block-aligned paths must still give these
// exact bits, because the llama.cpp trace fixtures depend on them.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "base/half.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "quant/codec.h"

namespace pagoda::kernels::legacy {

// K/V of one head: position p at base + p * row_bytes + head_offset.
struct Rows {
  TensorType type;
  const uint8_t* base;
  size_t row_bytes, head_offset;
  const uint8_t* at(int64_t p) const { return base + p * row_bytes + head_offset; }
};

inline double reduce_lanes(const float* acc) {
  float x[32];
  for (int i = 0; i < 32; ++i) x[i] = acc[i];
  for (int l = 0; l < 8; ++l) {
    x[l] += x[16 + l];
    x[8 + l] += x[24 + l];
  }
  for (int l = 0; l < 8; ++l) x[l] += x[8 + l];
  float t[4];
  for (int l = 0; l < 4; ++l) t[l] = x[l] + x[l + 4];
  return static_cast<double>((t[0] + t[1]) + (t[2] + t[3]));
}

inline float dot_f16(const float* a, const uint16_t* b, int64_t n) {
  float acc[32] = {};
  const int64_t np = n & ~int64_t{31};
  for (int64_t i = 0; i < np; ++i) acc[i % 32] = std::fma(a[i], fp16_to_fp32(b[i]), acc[i % 32]);
  double sum = reduce_lanes(acc);
  for (int64_t i = np; i < n; ++i) sum += static_cast<double>(a[i] * fp16_to_fp32(b[i]));
  return static_cast<float>(sum);
}

inline void attend(const float* q, int64_t hd, const Rows& k, const Rows& v, int64_t n_kv,
                   float scale, float* out) {
  std::vector<float> scores(static_cast<size_t>(n_kv));
  if (k.type == TensorType::F16) {
    std::vector<float> qr(static_cast<size_t>(hd)), lanes(static_cast<size_t>(hd * 32), 0.0f);
    for (int64_t d = 0; d < hd; ++d) qr[d] = round_fp16(q[d]);
    for (int64_t j = 0; j < n_kv; ++j)
      scores[j] = dot_f16(qr.data(), reinterpret_cast<const uint16_t*>(k.at(j)), hd);
    softmax_row(scores.data(), n_kv, scale);
    for (int64_t j = 0; j < n_kv; ++j) {
      const float p = round_fp16(scores[j]);
      const auto* vv = reinterpret_cast<const uint16_t*>(v.at(j));
      for (int64_t d = 0; d < hd; ++d)
        lanes[d * 32 + j % 32] = std::fma(p, fp16_to_fp32(vv[d]), lanes[d * 32 + j % 32]);
    }
    for (int64_t d = 0; d < hd; ++d) out[d] = static_cast<float>(reduce_lanes(&lanes[d * 32]));
  } else if (k.type == TensorType::F32) {
    for (int64_t j = 0; j < n_kv; ++j) {
      const auto* kk = reinterpret_cast<const float*>(k.at(j));
      float dot = 0.0f;
      for (int64_t d = 0; d < hd; ++d) dot += q[d] * kk[d];
      scores[j] = dot;
    }
    softmax_row(scores.data(), n_kv, scale);
    for (int64_t d = 0; d < hd; ++d) out[d] = 0.0f;
    for (int64_t j = 0; j < n_kv; ++j) {
      const auto* vv = reinterpret_cast<const float*>(v.at(j));
      for (int64_t d = 0; d < hd; ++d) out[d] += scores[j] * vv[d];
    }
  } else {
    std::vector<uint8_t> query(activation_row_bytes(k.type, hd));
    prepare_activation_row(k.type, q, query.data(), hd);
    std::vector<float> acc(static_cast<size_t>(hd), 0.0f), vrow(static_cast<size_t>(hd));
    float mx = -std::numeric_limits<float>::infinity(), sum = 0.0f;
    for (int64_t j = 0; j < n_kv; ++j) {
      const float s = vec_dot(k.type, hd, k.at(j), query.data()) * scale;
      float rescale = 1.0f, w = 1.0f;
      if (s > mx) {
        const float old = mx;
        mx = s;
        rescale = std::exp(old - mx);
        for (float& a : acc) a *= rescale;
      } else {
        w = std::exp(s - mx);
      }
      quant::dequantize_row(v.type, v.at(j), vrow.data(), hd);
      for (int64_t d = 0; d < hd; ++d) acc[d] += vrow[d] * w;
      sum = sum * rescale + w;
    }
    const float inv = sum == 0.0f ? 0.0f : 1.0f / sum;
    for (int64_t d = 0; d < hd; ++d) out[d] = acc[d] * inv;
  }
}

}  // namespace pagoda::kernels::legacy
