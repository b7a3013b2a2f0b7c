#pragma once
// Internal: the buffers one forward call works in, sized once per batch
// (grown, never shrunk) so the layer loop allocates nothing per token.
#include <cstdint>
#include <vector>

#include "kernels/attention.h"
#include "kv/kv_store.h"
#include "model/hparams.h"

namespace pagoda::model {

struct Scratch {
  std::vector<float> x;       // [n, n_embd] residual stream
  std::vector<float> xn;      // [n, n_embd] normalised input of a sub-block
  std::vector<float> q;       // [n, q_dim]
  std::vector<float> k;       // [n, kv_dim]
  std::vector<float> v;       // [n, kv_dim]
  std::vector<float> attn;    // [n, q_dim] attention output, heads concatenated
  std::vector<float> proj;    // [n, n_embd] output of a sub-block before the residual add
  std::vector<float> gate;    // [n, n_ff]
  std::vector<float> up;      // [n, n_ff]
  std::vector<float> rope;    // [n, n_rot] cos/sin per token
  std::vector<float> out_x;   // [n_want, n_embd] final hidden states of logits rows
  std::vector<int32_t> want_rows;  // [n_want] batch rows that produce logits
  std::vector<float> gather_stage;     // tensor parallelism: [ranks, n, cols] all-gathered columns
  std::vector<float> gathered;         // [n, ranks * cols] the same, token-major
  std::vector<float> local_logits;     // tensor parallelism: [n_want, n_vocab_local] this rank's slice
  std::vector<float> gathered_logits;  // rank 0: [rank][n_want][slice] every rank's slice
  std::vector<kernels::AttentionScratch> attention;  // [n_threads]
  std::vector<kv::KvRows> k_views, v_views;  // [n_seq] the current layer's cache rows

  // Grows the buffers for n tokens (n_want of them producing logits).
  void reserve(const HParams& hp, int64_t n, int64_t n_want, int n_threads);
  // Grows the per-sequence view tables for a cache of n_seq sequences.
  void reserve_views(int n_seq);
};

}  // namespace pagoda::model
