// Scalar causal attention for one head (see attention.h for the numerics).
#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "base/half.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "quant/codec.h"

namespace pagoda::kernels {

void AttentionScratch::reserve(int64_t n_kv, int64_t head_dim) {
  const auto kv = static_cast<size_t>(n_kv);
  const auto hd = static_cast<size_t>(head_dim);
  if (scores.size() < kv) scores.resize(kv);
  if (half.size() < std::max(kv, hd)) half.resize(std::max(kv, hd));
  // A quantized query exists only for head sizes a quantized cache accepts.
  if (head_dim % 32 == 0) {
    const size_t query_bytes = activation_row_bytes(TensorType::Q8_0, head_dim);
    if (query.size() < query_bytes) query.resize(query_bytes);
  }
  if (values.size() < hd) values.resize(hd);
  if (accum.size() < hd) accum.resize(hd);
}

bool attention_supports(TensorType type) {
  return type == TensorType::F32 || type == TensorType::F16 || type == TensorType::Q8_0 ||
         type == TensorType::Q4_0;
}

namespace {

// Non-flash path over an f16 cache.
void attend_f16(const float* q, int64_t head_dim, const HeadRows& keys, const HeadRows& values,
                int64_t n_kv, float scale, float* out, AttentionScratch& s) {
  uint16_t* q16 = s.half.data();  // [head_dim]
  float* q_rounded = s.accum.data();  // [head_dim] q as the dot product sees it
  for (int64_t d = 0; d < head_dim; ++d) {
    q16[d] = fp32_to_fp16(q[d]);
    q_rounded[d] = fp16_to_fp32(q16[d]);
  }
  float* scores = s.scores.data();  // [n_kv]
  for (int64_t j = 0; j < n_kv; ++j) {
    const auto* k = reinterpret_cast<const uint16_t*>(keys.at(j));
    float dot = 0.0f;
    for (int64_t d = 0; d < head_dim; ++d) dot += q_rounded[d] * fp16_to_fp32(k[d]);
    scores[j] = dot;
  }
  softmax_row(scores, n_kv, scale);
  for (int64_t d = 0; d < head_dim; ++d) out[d] = 0.0f;
  for (int64_t j = 0; j < n_kv; ++j) {
    const float p = round_fp16(scores[j]);
    const auto* v = reinterpret_cast<const uint16_t*>(values.at(j));
    for (int64_t d = 0; d < head_dim; ++d) out[d] += p * fp16_to_fp32(v[d]);
  }
}

// Non-flash path over an f32 cache: no rounding anywhere.
void attend_f32(const float* q, int64_t head_dim, const HeadRows& keys, const HeadRows& values,
                int64_t n_kv, float scale, float* out, AttentionScratch& s) {
  float* scores = s.scores.data();  // [n_kv]
  for (int64_t j = 0; j < n_kv; ++j) {
    const auto* k = reinterpret_cast<const float*>(keys.at(j));
    float dot = 0.0f;
    for (int64_t d = 0; d < head_dim; ++d) dot += q[d] * k[d];
    scores[j] = dot;
  }
  softmax_row(scores, n_kv, scale);
  for (int64_t d = 0; d < head_dim; ++d) out[d] = 0.0f;
  for (int64_t j = 0; j < n_kv; ++j) {
    const float p = scores[j];
    const auto* v = reinterpret_cast<const float*>(values.at(j));
    for (int64_t d = 0; d < head_dim; ++d) out[d] += p * v[d];
  }
}

// Flash-attention path over a quantized cache: online softmax, V in f32.
void attend_quantized(const float* q, int64_t head_dim, const HeadRows& keys,
                      const HeadRows& values, int64_t n_kv, float scale, float* out,
                      AttentionScratch& s) {
  prepare_activation_row(keys.type, q, s.query.data(), head_dim);
  float* acc = s.accum.data();   // [head_dim] running sum of weighted V rows
  float* vrow = s.values.data(); // [head_dim]
  for (int64_t d = 0; d < head_dim; ++d) acc[d] = 0.0f;
  float running_max = -std::numeric_limits<float>::infinity();
  float running_sum = 0.0f;
  for (int64_t j = 0; j < n_kv; ++j) {
    const float score = vec_dot(keys.type, head_dim, keys.at(j), s.query.data()) * scale;
    float rescale = 1.0f;  // factor for what was accumulated so far
    float weight = 1.0f;   // exp(score - running_max) for this key
    if (score > running_max) {
      const float old_max = running_max;
      running_max = score;
      rescale = std::exp(old_max - running_max);
      for (int64_t d = 0; d < head_dim; ++d) acc[d] *= rescale;
    } else {
      weight = std::exp(score - running_max);
    }
    quant::dequantize_row(values.type, values.at(j), vrow, head_dim);
    for (int64_t d = 0; d < head_dim; ++d) acc[d] += vrow[d] * weight;
    running_sum = running_sum * rescale + weight;
  }
  const float inv = running_sum == 0.0f ? 0.0f : 1.0f / running_sum;
  for (int64_t d = 0; d < head_dim; ++d) out[d] = acc[d] * inv;
}

}  // namespace

void attend_head(const float* q, int64_t head_dim, const HeadRows& keys, const HeadRows& values,
                 int64_t n_kv, float scale, float* out, AttentionScratch& scratch) {
  scratch.reserve(n_kv, head_dim);
  switch (keys.type) {
    case TensorType::F16:
      attend_f16(q, head_dim, keys, values, n_kv, scale, out, scratch);
      return;
    case TensorType::F32:
      attend_f32(q, head_dim, keys, values, n_kv, scale, out, scratch);
      return;
    default:
      attend_quantized(q, head_dim, keys, values, n_kv, scale, out, scratch);
      return;
  }
}

}  // namespace pagoda::kernels
