#pragma once
// What a generation job needs from an API front-end (OpenAI, Anthropic): the bytes of its
// stream or of its whole body, built from engine outputs. The job owns the engine requests,
// the connection and the timing; a responder only formats. Pure: no I/O, no engine calls.
#include <string>

#include "engine/request.h"
#include "server/api_error.h"
#include "server/http_session.h"

namespace pagoda::server {

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
};

class ApiResponder {
 public:
  virtual ~ApiResponder() = default;
  // SSE bytes a stream opens with (may be empty).
  virtual std::string stream_start() = 0;
  // Records one output of prompt `prompt`; returns the SSE bytes it yields when streaming.
  virtual std::string add(int prompt, const engine::RequestOutput& out) = 0;
  // SSE bytes that end a stream: an error event when the engine failed, usage, the terminator.
  virtual std::string stream_end() = 0;
  // SSE bytes sent when a stream has been quiet for a while (Anthropic's ping); "" sends nothing.
  virtual std::string keepalive() { return {}; }
  // The non-streamed answer: the body, or a 500 when the engine failed.
  virtual HttpResponse response() const = 0;
  // An error in this API's shape.
  virtual HttpResponse error(const ApiError& e) const = 0;
  // True once every prompt's final output was added.
  virtual bool finished() const = 0;
  virtual Usage usage() const = 0;
  // First-token latency of the earliest prompt, -1 before any token.
  virtual double ttft_ms() const = 0;
};

}  // namespace pagoda::server
