#pragma once
// Causal attention of one query head over one sequence's cached keys and
// values, for every (K type, V type) pair of KvType. Three paths:
//  - K f16 and V f16 (llama.cpp's default, non-flash path): the query is
//    rounded to f16, scores = q.k in ggml's x86 ggml_vec_dot_f16 summation
//    order, scaled, softmax (see ops.h), probabilities rounded to f16 and
//    dotted with V in the same lane order.
//  - K f32 and V f32 (non-flash): the same without any rounding.
//  - Everything else: one online-softmax loop (llama.cpp's flash-attention
//    shape) over keys 0 .. n_kv-1, V decoded to f32 per key and accumulated
//    in f32, acc = acc * rescale + v * weight. Scores:
//      * K q8_0/q4_0 with the head on a block boundary and head_dim % 32 == 0
//        (llama.cpp's flash path): the query quantized to Q8_0 once, scores by
//        the type's vec_dot (identical bits on every ISA);
//      * otherwise (f16/bf16/fp8/f32 K, or a q8_0/q4_0 block shared by
//        several heads): the K head slice decoded to f32, q.k summed in double
//        in element order, rounded to float, times scale.
// Keys are visited in order and nothing depends on the thread, the batch or
// the ISA, so the result for a token is reproducible bit for bit.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/kv_type.h"

namespace pagoda::kernels {

// One head's slice of cached rows: row p starts at
// blocks[p / block_rows] + (p % block_rows) * row_bytes and holds the row's
// elements in `type` (kv_rows.h layout); the head is elements
// [first, first + head_dim) of it.
struct HeadRows {
  KvType type = KvType::f16;
  const uint8_t* const* blocks = nullptr;  // [n_blocks] block base pointers
  int64_t block_rows = 0;                  // positions per block
  size_t row_bytes = 0;                    // bytes per position
  int64_t first = 0;                       // the head's first element within the row

  const uint8_t* row(int64_t pos) const {
    return blocks[pos / block_rows] + static_cast<size_t>(pos % block_rows) * row_bytes;
  }
  // True when the head starts on a block boundary (always for one-element types).
  bool block_aligned() const { return first % kv_type_geometry(type).block_size == 0; }
  // The head's first byte in row `pos`; only meaningful when block_aligned().
  const uint8_t* at(int64_t pos) const {
    const KvTypeGeometry g = kv_type_geometry(type);
    return row(pos) + static_cast<size_t>(first / g.block_size) * g.block_bytes;
  }
};

// Per-thread work buffers, grown on demand and reused across calls.
struct AttentionScratch {
  std::vector<float> scores;      // [n_kv]
  std::vector<uint16_t> half;     // [max(n_kv, head_dim)] fp16 staging
  std::vector<uint8_t> query;     // quantized query row
  std::vector<float> keys;        // [head_dim] a decoded K head slice
  std::vector<float> values;      // [head_dim] a decoded V head slice
  std::vector<float> accum;       // [head_dim]
  std::vector<float> lanes;       // [head_dim, 32] f16 dot accumulators

  // Sizes every buffer for n_kv keys of head_dim values (no-op when large enough).
  void reserve(int64_t n_kv, int64_t head_dim);
};

// out [head_dim] = softmax(scale * q.K[0..n_kv)) . V[0..n_kv) for query q [head_dim].
// K and V may have any KvType each; n_kv >= 1; the scratch is grown as needed.
// Thread-safe with distinct scratch and out; allocation-free once the scratch
// has grown to (n_kv, head_dim).
void attend_head(const float* q, int64_t head_dim, const HeadRows& keys, const HeadRows& values,
                 int64_t n_kv, float scale, float* out, AttentionScratch& scratch);

}  // namespace pagoda::kernels
