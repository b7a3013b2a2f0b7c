#pragma once
// The engine loop's body, without threads: requests in, one step at a time,
// outputs pushed to each request's stream.
//
//   Scheduler::schedule() → StepPlan
//   Runner (here: run_plan) → Batch → Model::forward over the paged cache → logits rows
//   Sampler per sequence → token ids; StopChecker + detokenizer → text deltas
//   Scheduler::on_computed / finish → blocks committed to the prefix cache or freed
//
// Every output is bit-identical to the request run alone: the forward pass is
// batch-invariant, recomputed K/V equal the evicted ones, and each sequence
// samples with its own RNG. Not thread-safe (see Engine for the threaded API).
#include <chrono>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "base/thread_pool.h"
#include "engine/config.h"
#include "engine/metrics.h"
#include "engine/request.h"
#include "engine/scheduler.h"
#include "engine/tp_step.h"
#include "kv/paged_cache.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::grammar {
class TokenVocabulary;
}
namespace pagoda::dist {
class Communicator;
}

namespace pagoda::engine {

class EngineCore {
 public:
  // Sizes the pool (see plan_pool), allocates it and logs it. The model,
  // tokenizer and pool must outlive the core. Errors: bad config, a
  // --max-model-len that cannot fit, allocation failure.
  // With `tp` (rank 0 of a tensor-parallel job, model a shard): the pool's geometry and then
  // every step are broadcast to the other ranks (engine/tp_step.h); the destructor, or a
  // failed create, tells them to stop. `tp` must outlive the core.
  static Expected<std::unique_ptr<EngineCore>> create(model::Model& model, const tokenizer::Tokenizer& tok,
                                                      const EngineConfig& config, ThreadPool& pool,
                                                      dist::Communicator* tp = nullptr);
  ~EngineCore();

  const PoolPlan& pool_plan() const { return plan_; }
  const EngineConfig& config() const { return config_; }
  const tokenizer::Tokenizer& tokenizer() const { return tok_; }

  // Checks a request (prompt length against max_model_len, sampling params,
  // n, logprobs) without queueing it.
  Expected<void> validate(const GenerationRequest& request) const;
  // Validates and queues a request; outputs go to `stream`. Errors as validate.
  Expected<void> add(RequestId id, GenerationRequest request, std::shared_ptr<RequestStream> stream);
  // Ends a request now (any state): its blocks are freed and its stream gets a
  // final output with finish "abort". Unknown ids are ignored.
  void abort(RequestId id);
  // Aborts every request (shutdown).
  void abort_all();
  // True while some request is waiting or running.
  bool has_work() const { return !requests_.empty(); }
  size_t n_requests() const { return requests_.size(); }
  // Runs one step. Returns false when there was nothing to do.
  bool step();

  // Current counters (cheap copy).
  MetricsSnapshot metrics() const;
  // Throws on a broken scheduler / pool invariant (tests).
  void check_invariants() const { scheduler_->check_invariants(); }

 private:
  struct Sequence;
  struct Active;
  EngineCore(model::Model& model, const tokenizer::Tokenizer& tok, const EngineConfig& config, ThreadPool& pool);
  static Expected<std::unique_ptr<EngineCore>> create_alone(model::Model& model, const tokenizer::Tokenizer& tok,
                                                            const EngineConfig& config, ThreadPool& pool);
  Expected<void> run_plan(const StepPlan& plan);
  // Tensor parallelism: sends this step to the other ranks (tp_ only).
  void broadcast_step(const StepPlan& plan);
  void sample_completed(const StepPlan& plan);
  void sample_one(Sequence& seq, std::span<const float> logits);
  // The grammar-masked copy of a row (masked_), or nullopt when no token may follow.
  std::optional<std::span<const float>> grammar_row(Sequence& seq, std::span<const float> logits);
  // Ends a constrained sequence whose grammar is complete (or stuck): held-back text is released.
  void finish_by_grammar(Sequence& seq);
  void finish_sequence(Sequence& seq, Finish why);
  void fail_request(Active& a, const std::string& message);
  void flush_outputs();

  model::Model& model_;
  const tokenizer::Tokenizer& tok_;
  EngineConfig config_;
  ThreadPool& threads_;
  dist::Communicator* tp_ = nullptr;  // rank 0 of a tensor-parallel job; null when alone
  PoolPlan plan_;
  uint64_t kv_salt_ = 0;
  std::unique_ptr<kv::PagedKvCache> cache_;
  std::unique_ptr<kv::BlockManager> blocks_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unordered_map<RequestId, std::unique_ptr<Active>> requests_;
  std::vector<Active*> touched_;  // requests with news this step
  uint64_t next_order_ = 0;
  model::Batch batch_;
  TpStep tp_step_;                 // the step broadcast to the other ranks (tp_ only)
  std::vector<uint8_t> tp_bytes_;  // its encoding
  std::vector<float> logits_;      // [n_completing, n_vocab]
  std::vector<float> logprobs_;    // [n_vocab] scratch
  // Constrained decoding: the vocabulary's token bytes, built on the first grammar request.
  std::shared_ptr<const grammar::TokenVocabulary> grammar_vocab_;
  std::vector<uint8_t> allowed_;  // [tokenizer n_vocab] grammar mask scratch
  std::vector<float> masked_;     // [n_vocab] the row with disallowed tokens at -inf
  MetricsSnapshot metrics_;
};

}  // namespace pagoda::engine
