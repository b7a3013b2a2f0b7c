#include "engine/request.h"

namespace pagoda::engine {

const char* to_string(Finish f) {
  switch (f) {
    case Finish::stop: return "stop";
    case Finish::length: return "length";
    case Finish::abort: return "abort";
    case Finish::error: return "error";
    case Finish::none: break;
  }
  return "";
}

void RequestStream::push(RequestOutput out) {
  {
    std::lock_guard lock(mutex_);
    if (final_pushed_) return;
    final_pushed_ = out.finished;
    queue_.push_back(std::move(out));
  }
  cv_.notify_all();
  if (notify_) notify_();
}

std::optional<RequestOutput> RequestStream::next() {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return !queue_.empty() || final_taken_; });
  if (queue_.empty()) return std::nullopt;
  RequestOutput out = std::move(queue_.front());
  queue_.pop_front();
  if (out.finished) final_taken_ = true;
  return out;
}

std::optional<RequestOutput> RequestStream::try_next() {
  std::lock_guard lock(mutex_);
  if (queue_.empty()) return std::nullopt;
  RequestOutput out = std::move(queue_.front());
  queue_.pop_front();
  if (out.finished) final_taken_ = true;
  return out;
}

bool RequestStream::done() const {
  std::lock_guard lock(mutex_);
  return final_taken_;
}

}  // namespace pagoda::engine
