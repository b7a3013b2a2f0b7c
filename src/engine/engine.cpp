// The engine thread: drain the inbox, step, publish metrics, sleep when idle.
#include "engine/engine.h"

#include "base/log.h"

namespace pagoda::engine {

Engine::Engine(std::unique_ptr<EngineCore> core) : core_(std::move(core)) {
  metrics_ = core_->metrics();
  thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Expected<std::unique_ptr<Engine>> Engine::create(model::Model& model, const tokenizer::Tokenizer& tok,
                                                 const EngineConfig& config, ThreadPool& pool,
                                                 dist::Communicator* tp) {
  auto core = EngineCore::create(model, tok, config, pool, tp);
  if (!core) return core.error();
  return std::unique_ptr<Engine>(new Engine(std::move(*core)));
}

Expected<std::shared_ptr<RequestStream>> Engine::submit(GenerationRequest request, std::function<void()> notify) {
  // validate() reads only immutable configuration, so it is safe off the loop thread.
  if (auto ok = core_->validate(request); !ok) return ok.error();
  const RequestId id = next_id_++;
  auto stream = std::make_shared<RequestStream>(id, std::move(notify));
  {
    std::lock_guard lock(mutex_);
    inbox_.push_back({id, std::move(request), stream});
  }
  wake_.notify_all();
  return stream;
}

void Engine::abort(RequestId id) {
  {
    std::lock_guard lock(mutex_);
    aborts_.push_back(id);
  }
  wake_.notify_all();
}

MetricsSnapshot Engine::metrics() const {
  std::lock_guard lock(mutex_);
  return metrics_;
}

void Engine::loop() {
  std::vector<Submission> inbox;
  std::vector<RequestId> aborts;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || !inbox_.empty() || !aborts_.empty() || core_->has_work(); });
      if (stop_) break;
      inbox.swap(inbox_);
      aborts.swap(aborts_);
    }
    for (Submission& s : inbox) {
      auto stream = s.stream;
      if (auto ok = core_->add(s.id, std::move(s.request), s.stream); !ok) {
        RequestOutput out;
        out.id = s.id;
        out.finished = true;
        out.error = ok.error().message;
        stream->push(std::move(out));
      }
    }
    inbox.clear();
    for (RequestId id : aborts) core_->abort(id);
    aborts.clear();
    core_->step();
    std::lock_guard lock(mutex_);
    metrics_ = core_->metrics();
  }
  // Shutting down: every request still open gets a final output.
  std::lock_guard lock(mutex_);
  for (Submission& s : inbox_) {
    RequestOutput out;
    out.id = s.id;
    out.finished = true;
    out.error = "the engine is shutting down";
    s.stream->push(std::move(out));
  }
  inbox_.clear();
  core_->abort_all();
}

}  // namespace pagoda::engine
