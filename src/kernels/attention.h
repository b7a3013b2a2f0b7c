#pragma once
// Causal attention of one query head over one sequence's cached keys and
// values, with llama.cpp's CPU numerics:
//  - F16 / F32 cache (llama.cpp's default, non-flash path): the query is
//    rounded to the cache type, scores = q.k, scaled, softmax (see ops.h),
//    probabilities rounded to the cache type and dotted with V; for f16 the
//    dot products follow ggml's x86 ggml_vec_dot_f16 summation order.
//  - Q8_0 / Q4_0 cache (llama.cpp's flash-attention path): the query is
//    quantized to Q8_0, scores by the type's vec_dot, online softmax, V rows
//    dequantized and accumulated in f32.
// Keys are visited 0 .. n_kv-1 in order, so the result for a token never
// depends on its batch or thread.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/tensor_type.h"

namespace pagoda::kernels {

// One head's slice of cached rows: position p starts at
// blocks[p / block_rows] + (p % block_rows) * row_bytes + head_offset.
struct HeadRows {
  TensorType type = TensorType::F16;
  const uint8_t* const* blocks = nullptr;
  int64_t block_rows = 0;
  size_t row_bytes = 0;
  size_t head_offset = 0;

  const uint8_t* at(int64_t pos) const {
    return blocks[pos / block_rows] + static_cast<size_t>(pos % block_rows) * row_bytes +
           head_offset;
  }
};

// Per-thread work buffers, grown on demand and reused across calls.
struct AttentionScratch {
  std::vector<float> scores;      // [n_kv]
  std::vector<uint16_t> half;     // [max(n_kv, head_dim)] fp16 staging
  std::vector<uint8_t> query;     // quantized query row
  std::vector<float> values;      // [head_dim] a dequantized V row
  std::vector<float> accum;       // [head_dim]
  std::vector<float> lanes;       // [head_dim, 32] f16 dot accumulators

  // Sizes every buffer for n_kv keys of head_dim values (no-op when large enough).
  void reserve(int64_t n_kv, int64_t head_dim);
};

// True when `type` can be read by attend_head.
bool attention_supports(TensorType type);

// out [head_dim] = softmax(scale * q.K[0..n_kv)) . V[0..n_kv) for query q [head_dim].
// K and V must have the same type; n_kv >= 1; scratch reserved for (n_kv, head_dim)
// (reserve is called if needed). Thread-safe with distinct scratch and out.
void attend_head(const float* q, int64_t head_dim, const HeadRows& keys, const HeadRows& values,
                 int64_t n_kv, float scale, float* out, AttentionScratch& scratch);

}  // namespace pagoda::kernels
