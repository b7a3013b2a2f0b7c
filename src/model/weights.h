#pragma once
// Views of a model's tensors, bound by GGUF name and checked against the
// hyper-parameters. Matrices stay in the mmapped file in their storage type;
// only the small vectors (norms, biases, rope factors) are copied to f32.
#include <memory>
#include <vector>

#include "base/expected.h"
#include "gguf/gguf.h"
#include "kernels/matmul.h"
#include "model/hparams.h"

namespace pagoda::model {

struct LayerWeights {
  std::vector<float> attn_norm;  // [n_embd]
  kernels::WeightView wq;        // [n_embd] -> [q_dim]
  kernels::WeightView wk;        // [n_embd] -> [kv_dim]
  kernels::WeightView wv;        // [n_embd] -> [kv_dim]
  kernels::WeightView wo;        // [q_dim] -> [n_embd]
  std::vector<float> bq, bk, bv, bo;  // [q_dim], [kv_dim], [kv_dim], [n_embd]; empty if absent
  std::vector<float> q_norm, k_norm;  // [head_dim] per-head norms (qwen3); empty if absent
  std::vector<float> ffn_norm;   // [n_embd]
  kernels::WeightView w_gate;    // [n_embd] -> [n_ff]
  kernels::WeightView w_up;      // [n_embd] -> [n_ff]
  kernels::WeightView w_down;    // [n_ff] -> [n_embd]
  // Tensor parallelism, when splitting attn_output / ffn_down by columns would cut a
  // quantization block: the matrix stays whole on every rank and its input is all-gathered.
  bool wo_whole = false, down_whole = false;
};

struct Weights {
  const gguf::TensorInfo* token_embd = nullptr;  // [n_vocab, n_embd] rows, any dequantizable type
  size_t token_embd_row_bytes = 0;
  std::vector<float> output_norm;  // [n_embd]
  kernels::WeightView output;      // [n_embd] -> [n_vocab] (token_embd when tied)
  std::vector<float> rope_factors; // [n_rot / 2] Llama 3 frequency divisors; empty if absent
  std::vector<LayerWeights> layers;
  // Tensor parallelism (model/shard.h): this rank's vocabulary rows of token_embd and output,
  // and the column slices it copied out of the file (attn_output, ffn_down per layer).
  int64_t vocab_first = 0;
  int64_t n_vocab_local = 0;  // set by bind_weights to n_vocab (the whole vocabulary)
  std::vector<std::vector<uint8_t>> owned;
  // The matrices rearranged for the kernels (interleave_matrices): one anonymous mapping in
  // huge pages where the kernel gives them, unmapped with the last copy of this pointer.
  std::shared_ptr<void> interleaved;
};

// Binds every tensor `hp` needs. Sets hp.n_vocab (from token_embd) and
// hp.tied_output. The error lists every missing, mis-shaped or unsupported
// tensor at once.
Expected<Weights> bind_weights(const gguf::File& file, HParams& hp);

// Moves every matrix that the active CPU level's kernels read faster rearranged
// (kernels::interleaved_weight_bytes: Q4_0 and Q8_0 on AVX-512) into a 64-byte
// aligned copy in that layout (WeightView::interleaved), and gives back the
// pages it came from: the file's or an owned column slice. A tied output stays
// as it is (token_embd lookups read its rows). Returns the bytes copied.
uint64_t interleave_matrices(Weights& w, bool tied_output);

// Drops the mapped file's pages of [data, data + bytes) from this process
// (rounded inward to whole pages, so neighbouring tensors keep theirs). The
// file is mapped read-only: the pages stay in the page cache and would fault
// back in if read again, which nothing does after this.
void release_file_pages(const void* data, size_t bytes);

}  // namespace pagoda::model
