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
//
// The numerics are defined by the scalar ref::attend_head (attention_ref.h).
// The kernels (scalar, AVX2+F16C+FMA, AVX-512) reproduce its bits: the same
// FMA chains (hardware FMA is exactly rounded, as std::fma), lane assignment,
// reduction trees and rounding points, and ggml_expf in SIMD. Query heads
// sharing a kv head (GQA) are processed together so every K and V row is
// read once per group; each head's arithmetic is unchanged by the grouping.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/kv_type.h"
#include "kernels/vec_dot.h"

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
  std::vector<const uint8_t*> rows;  // [2 * n_kv] per-key K and V row pointers
  std::vector<float> scores;         // [n_q, n_kv]
  std::vector<float> work;           // the kernels' staging and lane buffers
  std::vector<uint8_t> query;        // [n_q, Q8_0 row bytes] quantized queries

  // Sizes every buffer for n_q queries over n_kv keys of head_dim values
  // (no-op when large enough).
  void reserve(int64_t n_q, int64_t n_kv, int64_t head_dim);
};

// out [n_q, head_dim] = for each query head i of q [n_q, head_dim] (rows
// head_dim apart): softmax(scale * q_i.K[0..n_kv)) . V[0..n_kv). The heads
// share one kv head (GQA): a tile of K rows is converted once for all of
// them, a V row once per register block of heads.
// Each head's result is exactly attend_head's (ref::attend_head's, see
// attention_ref.h): it never depends on n_q, on the other heads, or on the
// ISA level. K and V may have any KvType each; n_kv >= 1, n_q >= 1. Uses the
// kernels of active_isa(). Thread-safe with distinct scratch and out;
// allocation-free once the scratch has grown to (n_q, n_kv, head_dim).
void attend_heads(const float* q, int64_t n_q, int64_t head_dim, const HeadRows& keys,
                  const HeadRows& values, int64_t n_kv, float scale, float* out,
                  AttentionScratch& scratch);

// The same with the kernels of level `isa`, which must be isa_available():
// for tests and benchmarks (every level gives the same bits).
void attend_heads(Isa isa, const float* q, int64_t n_q, int64_t head_dim, const HeadRows& keys,
                  const HeadRows& values, int64_t n_kv, float scale, float* out,
                  AttentionScratch& scratch);

// One query head: attend_heads with n_q = 1.
void attend_head(const float* q, int64_t head_dim, const HeadRows& keys, const HeadRows& values,
                 int64_t n_kv, float scale, float* out, AttentionScratch& scratch);

}  // namespace pagoda::kernels
