#pragma once
// Tensor parallelism's split of one model over N ranks, Megatron-style as vLLM does it:
//
//   attn_q / attn_k / attn_v, ffn_gate / ffn_up   rows (output features) split: rank r computes
//                                                 its heads and its slice of the FFN
//   attn_output, ffn_down                         columns (input features) split: each rank's
//                                                 partial sums are all-reduced, in rank order
//   token_embd, output                            rows (vocabulary) split: an embedding row
//                                                 lives on one rank (the others add zeros),
//                                                 logits are gathered on rank 0
//   norms, biases of replicated outputs           replicated
//
// KV heads are split with their query heads; when there are fewer KV heads than ranks each KV
// head is replicated on tp / n_kv_head ranks. Row slices stay views into the mapped file (only
// their pages are ever read); column slices are copied into memory the shard owns (their bytes
// are strided through every row of the file). A column split that would cut a quantization
// block (a small model's 128-wide slice of Q4_K's 256-value blocks) is not made: that matrix
// stays whole on every rank and its input is all-gathered instead of its output all-reduced.
#include <cstdint>
#include <string>

#include "base/expected.h"
#include "model/hparams.h"

namespace pagoda::model {

struct Weights;

struct TensorParallel {
  int rank = 0;
  int size = 1;
  bool active() const { return size > 1; }
};

// What rank `tp.rank` holds, in global indices.
struct ShardPlan {
  int head_first = 0, n_head = 0;        // query heads [head_first, head_first + n_head)
  int kv_head_first = 0, n_kv_head = 0;  // KV heads
  int64_t ff_first = 0, n_ff = 0;        // FFN features
  int64_t vocab_first = 0, n_vocab = 0;  // vocabulary rows of token_embd and output
};

// The split of `hp` (the whole model's) for `tp`; errors name what does not divide.
Expected<ShardPlan> plan_shard(const HParams& hp, const TensorParallel& tp);

// Cuts whole-model weights down to rank tp.rank's shard and `hp` to its local sizes (n_head,
// n_kv_head, n_ff).
Expected<void> shard_weights(Weights& w, HParams& hp, const TensorParallel& tp, const ShardPlan& plan);

}  // namespace pagoda::model
