#pragma once
// Working memory of the forward pass and the engine around it, derived from
// what they allocate: model/forward.h's Scratch (grown to the largest batch),
// kernels/matmul.cpp's prepared activations (one buffer on the calling thread),
// kernels/attention.h's per-thread AttentionScratch, the engine's logits rows
// and each running sequence's sampler row.
#include <cstdint>

#include "planner/model_shape.h"
#include "planner/weights.h"

namespace pagoda::planner {

struct ScratchParams {
  int64_t batch_tokens = 2048;  // tokens per engine step (--max-num-batched-tokens)
  int64_t n_seqs = 1;           // sequences running at once (--max-num-seqs / --concurrency)
  int64_t ctx = 4096;           // longest sequence (attention scores per thread)
  int threads = 1;              // worker threads (one AttentionScratch each)
  int tp = 1;                   // devices the heads and FFN are split over
};

struct ScratchBytes {
  uint64_t activations = 0;  // Scratch's per-token buffers, the prepared-activation buffer, tile scratch
  uint64_t attention = 0;    // AttentionScratch of every thread
  uint64_t logits = 0;       // logits rows of one step, and the log-prob row
  uint64_t sampling = 0;     // each sequence's adjusted row and one candidate list

  uint64_t total() const { return activations + attention + logits + sampling; }
};

// The scratch one device needs for `p` (q/k/v/FFN widths divided by p.tp).
// Pure arithmetic; weights' types decide the prepared-activation rows.
ScratchBytes scratch_bytes(const ModelShape& shape, const WeightsPlan& weights, const ScratchParams& p);

}  // namespace pagoda::planner
