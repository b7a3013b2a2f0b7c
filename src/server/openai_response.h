#pragma once
// Builds OpenAI response bodies and stream chunks from engine outputs:
// chat.completion / chat.completion.chunk / text_completion, logprobs in
// both APIs' shapes, usage, SSE framing. Pure: fed RequestOutputs, no I/O.
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/request.h"
#include "server/openai_request.h"
#include "server/responder.h"
#include "tools/tool_parser.h"

namespace pagoda::server {

struct ResponseMeta {
  ApiKind kind = ApiKind::chat;
  std::string id;           // chatcmpl-… / cmpl-…
  std::string model;        // the served name
  int64_t created = 0;      // Unix seconds
  std::string fingerprint;  // system_fingerprint
  int n = 1;                // choices per prompt
  int n_prompts = 1;        // choice index = prompt * n + sample
  int logprobs = -1;        // alternatives per token; -1: none
  bool include_usage = false;
  std::vector<std::string> echo;  // completion + echo: the text of each prompt
  // Chat with tool calling: a fresh parser per choice splits the text into content and
  // tool_calls; null when the request has no tools (or tool_choice "none").
  std::function<std::unique_ptr<tools::ToolCallParser>()> make_tool_parser;
  bool forced_function = false;  // named tool_choice: finish_reason "stop", not "tool_calls"
};

// The bytes a token id stands for (logprobs' "token" and "bytes").
using PieceFn = std::function<std::string(int32_t)>;

class ResponseBuilder {
 public:
  ResponseBuilder(ResponseMeta meta, PieceFn piece);

  // The chunks a stream opens with: role "assistant" with content "" (chat) or
  // the echoed prompt (completions with echo), one per choice.
  std::vector<nlohmann::ordered_json> start_chunks();
  // Records one output of prompt `prompt`; returns the stream chunks it yields
  // (content deltas, then a chunk with finish_reason per finished choice).
  std::vector<nlohmann::ordered_json> add(int prompt, const engine::RequestOutput& out);
  // The whole non-streamed response.
  nlohmann::ordered_json response() const;
  // The stream's last chunk when include_usage: choices [] and usage.
  nlohmann::ordered_json usage_chunk() const;
  Usage usage() const;
  // First-token latency of the earliest prompt, -1 before any token.
  double ttft_ms() const;
  // True once every prompt's final output was added.
  bool finished() const;
  // The first error an output carried ("" if none).
  const std::string& error() const { return error_; }
  const ResponseMeta& meta() const { return meta_; }

 private:
  struct Choice {
    std::string text;
    std::string finish;               // "" while running
    nlohmann::ordered_json logprobs;  // chat: {"content": [...]}; completion: {tokens, ...}
    int64_t text_offset = 0;          // completion logprobs' running offset
    std::shared_ptr<tools::ToolCallParser> parser;  // chat with tools; streaming state
  };
  struct PromptState {
    int n_prompt = 0, n_cached = 0, n_generated = 0;
    double ttft_ms = -1.0;
    bool finished = false;
  };
  nlohmann::ordered_json chunk(nlohmann::ordered_json choices) const;
  nlohmann::ordered_json logprobs_of(Choice& c, const engine::SequenceDelta& d);
  nlohmann::ordered_json usage_json() const;
  nlohmann::ordered_json top_entry(int32_t id, float logprob) const;
  // Streamed chat deltas of one engine delta through the choice's tool parser.
  void add_parsed(std::vector<nlohmann::ordered_json>& chunks, size_t index, Choice& c,
                  const engine::SequenceDelta& d, nlohmann::ordered_json logprobs);
  nlohmann::ordered_json message_of(const Choice& c, std::string& finish) const;

  ResponseMeta meta_;
  PieceFn piece_;
  std::vector<Choice> choices_;       // [n_prompts * n]
  std::vector<PromptState> prompts_;  // [n_prompts]
  std::string error_;
};

// ApiResponder for /v1/chat/completions and /v1/completions: a ResponseBuilder with OpenAI's
// SSE framing ("data: {...}", "data: [DONE]") and error shape.
class OpenAiResponder : public ApiResponder {
 public:
  explicit OpenAiResponder(ResponseBuilder builder) : builder_(std::move(builder)) {}
  std::string stream_start() override;
  std::string add(int prompt, const engine::RequestOutput& out) override;
  std::string stream_end() override;
  HttpResponse response() const override;
  HttpResponse error(const ApiError& e) const override { return error_response(e); }
  bool finished() const override { return builder_.finished(); }
  Usage usage() const override { return builder_.usage(); }
  double ttft_ms() const override { return builder_.ttft_ms(); }

 private:
  ResponseBuilder builder_;
};

// One server-sent event: "data: <json>\n\n".
std::string sse_data(const nlohmann::ordered_json& j);
// The stream terminator "data: [DONE]\n\n".
std::string sse_done();
// The finish_reason OpenAI clients know for an engine finish ("stop", "length", ...).
std::string finish_reason(engine::Finish f);

}  // namespace pagoda::server
