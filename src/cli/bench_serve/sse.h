#pragma once
// `pagoda bench serve`: incremental server-sent-events parsing and the
// per-request bookkeeping of an OpenAI streaming response. Pure, header-only.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "cli/bench_serve/stats.h"

namespace pagoda::cli::bench_serve {

// Splits a byte stream into SSE events. Bytes may arrive in any pieces; each
// complete event's data (its `data:` lines joined with '\n') is handed to
// `on_event`. Comments (":..."), other fields and events without data are skipped.
class SseParser {
 public:
  // Feeds bytes; calls on_event(std::string_view data) once per finished event.
  // Stops early (returning false) when on_event returns false.
  template <class F>
  bool feed(std::string_view bytes, F&& on_event) {
    pending_.append(bytes.data(), bytes.size());
    size_t pos = 0;
    bool keep_going = true;
    while (keep_going) {
      const size_t nl = pending_.find('\n', pos);
      if (nl == std::string::npos) break;
      std::string_view line(pending_.data() + pos, nl - pos);
      pos = nl + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      keep_going = take_line(line, on_event);
    }
    pending_.erase(0, pos);
    if (pending_.size() > kMaxLine) {  // a "line" this long is not SSE
      overflow_ = true;
      return false;
    }
    return keep_going;
  }
  // At end of stream: dispatches an event left without its closing blank line.
  template <class F>
  bool finish(F&& on_event) {
    bool ok = true;
    if (!pending_.empty()) {
      std::string line = std::move(pending_);
      pending_.clear();
      if (!line.empty() && line.back() == '\r') line.pop_back();
      ok = take_line(line, on_event);
    }
    if (ok && has_data_) ok = dispatch(on_event);
    return ok;
  }
  bool overflowed() const { return overflow_; }

 private:
  static constexpr size_t kMaxLine = 16u << 20;

  template <class F>
  bool take_line(std::string_view line, F& on_event) {
    if (line.empty()) return has_data_ ? dispatch(on_event) : true;
    if (line.front() == ':') return true;  // comment / keep-alive
    const size_t colon = line.find(':');
    std::string_view field = line.substr(0, colon), value;
    if (colon != std::string_view::npos) {
      value = line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (field == "data") {
      if (has_data_) data_ += '\n';
      data_.append(value.data(), value.size());
      has_data_ = true;
    }
    return true;
  }
  template <class F>
  bool dispatch(F& on_event) {
    std::string data = std::move(data_);
    data_.clear();
    has_data_ = false;
    return on_event(std::string_view(data));
  }

  std::string pending_, data_;
  bool has_data_ = false, overflow_ = false;
};

// Follows one streamed completion or chat completion: event payloads with the
// seconds since the request was sent, then finish() with the end time.
class StreamAccumulator {
 public:
  // Returns false (and records the error) on malformed data or an error event.
  bool on_event(std::string_view data, double t_s) {
    if (!error_.empty()) return false;
    if (done_) return true;  // nothing counts after [DONE]
    if (data == "[DONE]") {
      done_ = true;
      return true;
    }
    const nlohmann::json j = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      error_ = "malformed SSE data: " + clip(data);
      return false;
    }
    if (auto e = j.find("error"); e != j.end() && !e->is_null()) {
      const nlohmann::json* msg = e->is_object() && e->contains("message") ? &(*e)["message"] : &*e;
      error_ = "error event: " + (msg->is_string() ? msg->get<std::string>() : clip(msg->dump()));
      return false;
    }
    if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
      if (auto c = u->find("completion_tokens"); c != u->end() && c->is_number_integer())
        usage_completion_ = c->get<int64_t>();
      if (auto p = u->find("prompt_tokens"); p != u->end() && p->is_number_integer())
        usage_prompt_ = p->get<int64_t>();
    }
    if (finish_s_ < 0 && has_finish_reason(j)) finish_s_ = t_s;
    if (has_content(j)) {
      if (chunks_ == 0)
        ttft_s_ = t_s;
      else
        itl_s_.push_back(t_s - last_s_);
      last_s_ = t_s;
      ++chunks_;
    }
    return true;
  }

  // The request's result. `prompt_tokens` < 0: take usage.prompt_tokens.
  RequestResult finish(double e2e_s, int64_t prompt_tokens, std::string transport_error = {}) const {
    RequestResult r;
    r.e2e_s = e2e_s;
    // Tokens whose text is empty (special or incomplete bytes, as random-weight
    // models produce) still finish the request: time to first token is then the
    // finishing chunk's.
    r.ttft_s = chunks_ == 0 && finish_s_ >= 0 ? finish_s_ : ttft_s_;
    r.itl_s = itl_s_;
    r.prompt_tokens = prompt_tokens >= 0 ? prompt_tokens : std::max<int64_t>(usage_prompt_, 0);
    r.output_tokens = usage_completion_ >= 0 ? usage_completion_ : chunks_;
    if (!error_.empty())
      r.error = error_;
    else if (!transport_error.empty())
      r.error = transport_error;
    else if (!done_)
      r.error = "stream ended without data: [DONE]";
    else if (chunks_ == 0 && finish_s_ < 0)
      r.error = "no content in the stream";
    r.success = r.error.empty();
    return r;
  }

  const std::string& error() const { return error_; }
  bool done() const { return done_; }
  int64_t chunks() const { return chunks_; }

 private:
  static std::string clip(std::string_view s) {
    return s.size() <= 120 ? std::string(s) : std::string(s.substr(0, 120)) + "...";
  }
  // Whether the chunk's first choice carries text (completions) or delta content (chat).
  static bool has_content(const nlohmann::json& j) {
    auto choices = j.find("choices");
    if (choices == j.end() || !choices->is_array() || choices->empty()) return false;
    const nlohmann::json& c = (*choices)[0];
    if (!c.is_object()) return false;
    auto nonempty = [](const nlohmann::json& obj, const char* key) {
      auto it = obj.find(key);
      return it != obj.end() && it->is_string() && !it->get_ref<const std::string&>().empty();
    };
    if (nonempty(c, "text")) return true;
    if (auto d = c.find("delta"); d != c.end() && d->is_object())
      return nonempty(*d, "content") || nonempty(*d, "reasoning_content") || nonempty(*d, "reasoning");
    return false;
  }

  // Whether the chunk's first choice carries a finish_reason.
  static bool has_finish_reason(const nlohmann::json& j) {
    auto choices = j.find("choices");
    if (choices == j.end() || !choices->is_array() || choices->empty() || !(*choices)[0].is_object()) return false;
    auto f = (*choices)[0].find("finish_reason");
    return f != (*choices)[0].end() && f->is_string();
  }

  std::string error_;
  bool done_ = false;
  int64_t chunks_ = 0;
  double ttft_s_ = 0, last_s_ = 0;
  double finish_s_ = -1;  // when the first finish_reason arrived
  std::vector<double> itl_s_;
  int64_t usage_completion_ = -1, usage_prompt_ = -1;
};

}  // namespace pagoda::cli::bench_serve
