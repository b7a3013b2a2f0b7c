#pragma once
// What the server serves (the loaded model, its engine and chat template) and
// how it listens. Plain structs shared by the server's files.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "sampling/sampling_params.h"
#include "server/structured_output.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::server {

// A loaded model behind an engine; the pointers must outlive the server's use.
struct ServedModel {
  engine::Engine* engine = nullptr;
  const tokenizer::Tokenizer* tok = nullptr;
  std::vector<std::string> names;  // served model names; names[0] is reported in responses
  std::string path;                // the GGUF file
  std::string chat_template;       // Jinja source; "" when the model has none
  std::string bos_text, eos_text;  // the template's bos_token / eos_token
  int max_model_len = 0;
  int n_vocab = 0;
  int64_t created = 0;  // Unix seconds when loaded
  sampling::SamplingParams defaults;  // for fields a request leaves out (--generation-config)
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8000;
  std::string api_key;        // "": no authentication
  size_t max_waiting = 1024;  // generation requests in flight; more get 503
  size_t max_connections = 4096;
  uint32_t header_limit = 16 * 1024;         // bytes of request line + headers
  uint64_t body_limit = 8ull * 1024 * 1024;  // bytes of a request body (413 beyond)
  size_t max_queued_bytes =
      32ull * 1024 * 1024;  // unsent response bytes before a client counts as stuck
  std::chrono::seconds read_timeout{
      30};  // to receive a whole request (and between keep-alive requests)
  std::chrono::seconds write_timeout{60};  // for one write to make progress
  ToolCallingOptions tools;  // --enable-auto-tool-choice, --tool-call-parser
  std::chrono::seconds drain_timeout{
      10};  // SIGINT/SIGTERM: running requests may finish within this
};

}  // namespace pagoda::server
