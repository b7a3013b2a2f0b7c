#pragma once
// Generation for every API front-end. A parsed request (OpenAiRequest: the Anthropic front-end
// converts its body to the same form) is prepared into engine requests and an output plan
// (grammar, tool-call parser), then a GenerationJob submits them, follows their streams on the
// io_context (the engine's notify posts here) and answers through the front-end's responder:
// one JSON body or an SSE stream. A client that goes away aborts the engine requests at once.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "server/http_session.h"
#include "server/openai_request.h"
#include "server/responder.h"
#include "server/structured_output.h"

namespace pagoda::server {

class Server;
struct ServedModel;

// POST /v1/chat/completions and /v1/completions: answers errors at once, otherwise starts a job
// that answers when the engine is done (or streams).
void handle_generation(Server& server, std::shared_ptr<HttpSession> session, ApiKind kind,
                       const std::string& body);

// A request ready to submit.
struct PreparedGeneration {
  std::vector<engine::GenerationRequest> requests;  // one per prompt
  OutputPlan plan;                                  // grammar and tool-call parser factory
  std::vector<std::string> echo;                    // completion + echo: each prompt's text
  std::string model;                                // the served name answered with
  int prompt_tokens = 0;                            // all prompts
};

// Checks the model name (404) and the server's load (503), plans the output (400 for a bad
// grammar or tool choice), renders and tokenizes the prompts. `make_call_id` names tool calls
// ("" = the parser's own format).
ApiResult<PreparedGeneration> prepare_generation(Server& server, const OpenAiRequest& request,
                                                 std::function<std::string()> make_call_id = {});

// Submits `prepared` and answers through `responder` (errors such as a prompt that does not
// fit included). `prompt_param` names the request field an error about the prompt points at.
void run_generation(Server& server, std::shared_ptr<HttpSession> session, bool stream,
                    PreparedGeneration prepared, std::unique_ptr<ApiResponder> responder,
                    const char* prompt_param);

class GenerationJob : public std::enable_shared_from_this<GenerationJob> {
 public:
  GenerationJob(Server& server, ServedModel& model, std::shared_ptr<HttpSession> session,
                bool stream, std::unique_ptr<ApiResponder> responder);
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
  void send(std::string bytes);
  void arm_keepalive();

  // Shared with the engine thread's notify callbacks: once closed, they post nothing.
  struct Signal {
    std::mutex mutex;
    bool closed = false;
  };

  Server& server_;
  ServedModel& model_;
  std::shared_ptr<HttpSession> session_;
  bool stream_ = false;
  std::unique_ptr<ApiResponder> responder_;
  std::vector<std::shared_ptr<engine::RequestStream>> streams_;  // [n_prompts]
  std::shared_ptr<Signal> signal_;
  boost::asio::steady_timer keepalive_timer_;
  bool sent_since_keepalive_ = false;
  bool done_ = false;
};

}  // namespace pagoda::server
