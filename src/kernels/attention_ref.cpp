// The scalar attention that defines the bits of every attention kernel
// (attention_ref.h): attention.cpp as it was before the SIMD kernels, with
// its scratch replaced by local buffers.
#include "kernels/attention_ref.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "base/half.h"
#include "kernels/kv_rows.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "quant/codec.h"

namespace pagoda::kernels::ref {

namespace {

// The buffers the former AttentionScratch held.
struct Scratch {
  std::vector<float> scores, accum, keys, values, lanes;
  std::vector<uint8_t> query;

  Scratch(int64_t n_kv, int64_t head_dim)
      : scores(static_cast<size_t>(n_kv)),
        accum(static_cast<size_t>(head_dim)),
        keys(static_cast<size_t>(head_dim)),
        values(static_cast<size_t>(head_dim)),
        lanes(static_cast<size_t>(head_dim * 32)) {
    if (head_dim % 32 == 0) query.resize(activation_row_bytes(TensorType::Q8_0, head_dim));
  }
};

// ggml's x86 (AVX2) ggml_vec_dot_f16 order: element i goes to accumulator
// (i / 8) % 4, lane i % 8, each an FMA chain over steps of 32 elements; the 4
// accumulators are added (0+2, 1+3, then 0+1), the 8 lanes reduced as
// (l0+l4 + l1+l5) + (l2+l6 + l3+l7); elements past the last full step of 32
// are added in double, one by one.
struct F16DotLanes {
  float acc[32];

  void clear() {
    for (float& a : acc) a = 0.0f;
  }
  double reduce() const {
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
};

float dot_f16_ggml(const float* a, const uint16_t* b, int64_t n) {
  F16DotLanes lanes;
  lanes.clear();
  const int64_t np = n & ~int64_t{31};
  for (int64_t i = 0; i < np; ++i)
    lanes.acc[i % 32] = std::fma(a[i], fp16_to_fp32(b[i]), lanes.acc[i % 32]);
  double sum = lanes.reduce();
  for (int64_t i = np; i < n; ++i) sum += static_cast<double>(a[i] * fp16_to_fp32(b[i]));
  return static_cast<float>(sum);
}

// Non-flash path over an f16 cache: the dot products in ggml's order. ggml pads
// the keys to a multiple of 32 with zero probabilities, so the V product has
// no scalar tail.
void attend_f16(const float* q, int64_t head_dim, const HeadRows& keys, const HeadRows& values,
                int64_t n_kv, float scale, float* out, Scratch& s) {
  float* q_rounded = s.accum.data();  // [head_dim] q as the dot product sees it
  for (int64_t d = 0; d < head_dim; ++d) q_rounded[d] = round_fp16(q[d]);
  float* scores = s.scores.data();  // [n_kv]
  for (int64_t j = 0; j < n_kv; ++j)
    scores[j] = dot_f16_ggml(q_rounded, reinterpret_cast<const uint16_t*>(keys.at(j)), head_dim);
  softmax_row(scores, n_kv, scale);
  float* lanes = s.lanes.data();  // [head_dim][32]
  for (int64_t k = 0; k < head_dim * 32; ++k) lanes[k] = 0.0f;
  for (int64_t j = 0; j < n_kv; ++j) {
    const float p = round_fp16(scores[j]);
    const auto* v = reinterpret_cast<const uint16_t*>(values.at(j));
    const int64_t lane = j % 32;
    for (int64_t d = 0; d < head_dim; ++d)
      lanes[d * 32 + lane] = std::fma(p, fp16_to_fp32(v[d]), lanes[d * 32 + lane]);
  }
  for (int64_t d = 0; d < head_dim; ++d) {
    F16DotLanes l;
    for (int i = 0; i < 32; ++i) l.acc[i] = lanes[d * 32 + i];
    out[d] = static_cast<float>(l.reduce());
  }
}

// Non-flash path over an f32 cache: no rounding anywhere.
void attend_f32(const float* q, int64_t head_dim, const HeadRows& keys, const HeadRows& values,
                int64_t n_kv, float scale, float* out, Scratch& s) {
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

bool is_block_type(KvType t) {
  return kv_type_geometry(t).block_size > 1;
}

// Online-softmax path for every other (K, V) pair (see attention.h).
void attend_online(const float* q, int64_t head_dim, const HeadRows& keys, const HeadRows& values,
                   int64_t n_kv, float scale, float* out, Scratch& s) {
  const bool quantized_scores =
      is_block_type(keys.type) && head_dim % 32 == 0 && keys.block_aligned();
  const TensorType k_tensor_type = kv_tensor_type(keys.type).value_or(TensorType::F32);
  if (quantized_scores) prepare_activation_row(k_tensor_type, q, s.query.data(), head_dim);
  float* acc = s.accum.data();    // [head_dim] running sum of weighted V rows
  float* krow = s.keys.data();    // [head_dim]
  float* vrow = s.values.data();  // [head_dim]
  for (int64_t d = 0; d < head_dim; ++d) acc[d] = 0.0f;
  float running_max = -std::numeric_limits<float>::infinity();
  float running_sum = 0.0f;
  for (int64_t j = 0; j < n_kv; ++j) {
    float score;
    if (quantized_scores) {
      score = vec_dot(k_tensor_type, head_dim, keys.at(j), s.query.data()) * scale;
    } else {
      decode_kv_elements(keys.type, keys.row(j), keys.first, head_dim, krow);
      double dot = 0.0;  // exact products, summed in element order
      for (int64_t d = 0; d < head_dim; ++d)
        dot += static_cast<double>(q[d]) * static_cast<double>(krow[d]);
      score = static_cast<float>(dot) * scale;
    }
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
    decode_kv_elements(values.type, values.row(j), values.first, head_dim, vrow);
    for (int64_t d = 0; d < head_dim; ++d) acc[d] += vrow[d] * weight;
    running_sum = running_sum * rescale + weight;
  }
  const float inv = running_sum == 0.0f ? 0.0f : 1.0f / running_sum;
  for (int64_t d = 0; d < head_dim; ++d) out[d] = acc[d] * inv;
}

}  // namespace

void attend_head(const float* q, int64_t head_dim, const HeadRows& keys, const HeadRows& values,
                 int64_t n_kv, float scale, float* out) {
  Scratch scratch(n_kv, head_dim);
  if (keys.type == KvType::f16 && values.type == KvType::f16)
    attend_f16(q, head_dim, keys, values, n_kv, scale, out, scratch);
  else if (keys.type == KvType::f32 && values.type == KvType::f32)
    attend_f32(q, head_dim, keys, values, n_kv, scale, out, scratch);
  else
    attend_online(q, head_dim, keys, values, n_kv, scale, out, scratch);
}

}  // namespace pagoda::kernels::ref
