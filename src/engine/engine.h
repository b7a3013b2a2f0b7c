#pragma once
// The thread-safe engine: one background thread runs EngineCore's step loop;
// any thread may submit, abort or read metrics. Submitting and aborting only
// take a short lock on an inbox, so callers never wait for a step and a step
// never waits for a caller.
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/engine_core.h"

namespace pagoda::engine {

class Engine {
 public:
  // Builds the core (see EngineCore::create) and starts the loop thread.
  // With `tp`: rank 0 of a tensor-parallel job (see EngineCore::create); every MPI call then
  // comes from the loop thread, and the workers are stopped when the engine goes.
  static Expected<std::unique_ptr<Engine>> create(model::Model& model, const tokenizer::Tokenizer& tok,
                                                  const EngineConfig& config, ThreadPool& pool,
                                                  dist::Communicator* tp = nullptr);
  // Aborts whatever is still running and joins the loop thread.
  ~Engine();

  // Validates the request and queues it; the returned stream yields its
  // outputs (the last with finished = true). `notify` (optional) runs on the
  // engine thread after each output is pushed. Errors: invalid request.
  Expected<std::shared_ptr<RequestStream>> submit(GenerationRequest request, std::function<void()> notify = {});
  // Aborts a request (its stream gets a final "abort" output); unknown or
  // finished ids are ignored. Never blocks on a step.
  void abort(RequestId id);

  const PoolPlan& pool_plan() const { return core_->pool_plan(); }
  const EngineConfig& config() const { return core_->config(); }
  // Counters as of the end of the last step.
  MetricsSnapshot metrics() const;

 private:
  explicit Engine(std::unique_ptr<EngineCore> core);
  void loop();

  std::unique_ptr<EngineCore> core_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  struct Submission {
    RequestId id;
    GenerationRequest request;
    std::shared_ptr<RequestStream> stream;
  };
  std::vector<Submission> inbox_;
  std::vector<RequestId> aborts_;
  bool stop_ = false;
  std::atomic<RequestId> next_id_{1};
  MetricsSnapshot metrics_;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace pagoda::engine
