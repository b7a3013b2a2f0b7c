#pragma once
// A loaded Llama-family model (llama, qwen2, qwen3, granite) and its forward
// pass over a flat, ragged batch of tokens from several sequences.
//
// Batch invariance: a token's logits depend only on its sequence's tokens,
// never on which other tokens or sequences share its batch nor on how its
// prompt was split into forward calls - bit for bit.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/expected.h"
#include "base/kv_type.h"
#include "base/tensor_type.h"
#include "base/thread_pool.h"
#include "gguf/gguf.h"
#include "kv/kv_store.h"
#include "model/hparams.h"
#include "model/shard.h"

namespace pagoda::dist {
class Communicator;
}

namespace pagoda::model {

// Tokens from several sequences evaluated together. Row i is token tokens[i] of
// sequence seq[i] at position pos[i]. For each sequence, its rows (in batch
// order) must continue it: positions length, length+1, ... where length is the
// sequence's current KV-cache length.
struct Batch {
  std::vector<int32_t> tokens;       // [n]
  std::vector<int32_t> pos;          // [n] position within its sequence
  std::vector<int32_t> seq;          // [n] sequence slot in the KV cache
  std::vector<uint8_t> want_logits;  // [n] 1: this row produces a logits row

  size_t size() const { return tokens.size(); }
  // Appends one token.
  void add(int32_t token, int32_t position, int32_t sequence, bool logits) {
    tokens.push_back(token);
    pos.push_back(position);
    seq.push_back(sequence);
    want_logits.push_back(logits ? 1 : 0);
  }
  void clear() {
    tokens.clear();
    pos.clear();
    seq.clear();
    want_logits.clear();
  }
};

struct Weights;  // bound tensor views (model/weights.h)
struct Scratch;  // per-batch buffers (model/forward.h)

class Model {
 public:
  // Opens, maps and binds a GGUF model. Errors: unreadable file, unsupported
  // architecture, missing or mis-shaped tensors (all listed), unsupported types.
  static Expected<std::unique_ptr<Model>> load(const std::string& path);
  // Binds an already opened file (taking ownership).
  static Expected<std::unique_ptr<Model>> from_file(std::unique_ptr<gguf::File> file);
  // This rank's shard of a tensor-parallel model (model/shard.h): hparams() then gives the
  // rank's local head and FFN counts, make_kv_cache holds only its KV heads, and forward()
  // runs in lockstep with the other ranks through `comm` (which must outlive the model; every
  // rank calls forward with the same batch). Logits land on rank 0 only.
  static Expected<std::unique_ptr<Model>> load_shard(const std::string& path, dist::Communicator& comm);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const HParams& hparams() const { return hparams_; }
  const TensorParallel& tensor_parallel() const { return tp_; }
  const ShardPlan& shard() const { return shard_; }
  const gguf::File& file() const { return *file_; }
  int n_vocab() const { return hparams_.n_vocab; }
  // Bytes of weights this model reads (a shard: its slices, mapped or copied), matrices and
  // embedding rows: what a rank needs in memory, and what a decode step streams.
  uint64_t weight_bytes() const;
  // Of those, the bytes held rearranged for the CPU's kernels (model/weights.h's
  // interleave_matrices): one anonymous mapping, whose file pages were given back.
  uint64_t interleaved_bytes() const { return interleaved_bytes_; }

  // The KV shape of this model's layers and (this rank's) KV heads: n_seq sequences of n_ctx
  // positions, keys stored as k, values as v. Every cache of this model, contiguous or paged,
  // has it.
  kv::KvShape kv_shape(int n_seq, int n_ctx, KvType k, KvType v) const;

  // A contiguous KV cache for this model's layers and heads: n_seq sequences of
  // n_ctx positions (n_ctx <= 0: the training context), keys stored as k,
  // values as v (any KvType, any head size; f16/f16 is llama.cpp's default).
  // Errors name the problem (n_ctx above the training context, bad type, out
  // of memory).
  Expected<std::unique_ptr<kv::KvCache>> make_kv_cache(int n_seq, int n_ctx,
                                                       KvType k = KvType::f16,
                                                       KvType v = KvType::f16) const;

  // Evaluates `batch`, writing each row's K/V into `cache` and extending its
  // sequence. logits_out becomes [n_want, n_vocab]: one row per batch row with
  // want_logits, in batch order. On error (bad token id, position not
  // continuing its sequence, position >= the cache's n_ctx, unknown seq, cache
  // of another shape) nothing is written and the cache is unchanged.
  // Not thread-safe: one forward at a time per Model (it owns the scratch).
  Expected<void> forward(const Batch& batch, kv::KvCache& cache, ThreadPool& pool,
                         std::vector<float>& logits_out);

 private:
  Model();
  // Binds without rearranging any matrix (load_shard slices them first).
  static Expected<std::unique_ptr<Model>> bind_file(std::unique_ptr<gguf::File> file);
  // Moves the matrices the kernels read faster rearranged (interleave_matrices) and logs it.
  Expected<void> interleave();
  uint64_t interleaved_bytes_ = 0;
  std::unique_ptr<gguf::File> file_;
  HParams hparams_;
  std::unique_ptr<Weights> weights_;
  std::unique_ptr<Scratch> scratch_;
  dist::Communicator* comm_ = nullptr;  // tensor parallelism; null when alone
  TensorParallel tp_;
  ShardPlan shard_;
};

}  // namespace pagoda::model
