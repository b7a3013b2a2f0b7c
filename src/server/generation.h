#pragma once
// POST /v1/chat/completions and /v1/completions: turns a parsed request into
// engine requests (one per prompt), follows their streams on the io_context
// (the engine's notify posts here) and answers with one JSON body or an SSE
// stream. A client that goes away aborts the engine requests at once.
#include <boost/asio/io_context.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "server/http_session.h"
#include "server/openai_request.h"
#include "server/openai_response.h"

namespace pagoda::server {

class Server;
struct ServedModel;

// Handles a generation request body of the given kind: answers errors at once,
// otherwise starts a job that answers when the engine is done (or streams).
void handle_generation(Server& server, std::shared_ptr<HttpSession> session, ApiKind kind,
                       const std::string& body);

class GenerationJob : public std::enable_shared_from_this<GenerationJob> {
 public:
  GenerationJob(Server& server, ServedModel& model, std::shared_ptr<HttpSession> session,
                bool stream, ResponseBuilder builder);
  ~GenerationJob();

  // Submits one engine request per prompt; errors (e.g. context overflow) come back as a 400.
  ApiResult<bool> submit(std::vector<engine::GenerationRequest> requests);
  // Sends the response's beginning (stream) or starts watching the connection (non-stream).
  void begin();
  // Drains the engine streams; finishes the response once every request is done.
  void pump();
  // Asks the engine to stop this job's requests; the response still ends normally (shutdown).
  void abort();
  // Drops the job now: the engine requests are aborted and nothing more is sent (client gone).
  void cancel();

 private:
  void finish();
  void close_signal();

  // Shared with the engine thread's notify callbacks: once closed, they post nothing.
  struct Signal {
    std::mutex mutex;
    bool closed = false;
  };

  Server& server_;
  ServedModel& model_;
  std::shared_ptr<HttpSession> session_;
  bool stream_ = false;
  ResponseBuilder builder_;
  std::vector<std::shared_ptr<engine::RequestStream>> streams_;  // [n_prompts]
  std::shared_ptr<Signal> signal_;
  bool done_ = false;
};

}  // namespace pagoda::server
