#pragma once
// The Anthropic Messages API's response side: engine outputs → a `message` object or the
// stream's events, content split into `text` and `tool_use` blocks by the same tool-call parsers
// the OpenAI front-end uses. Pure: fed RequestOutputs, no I/O.
//
// Stream: message_start, ping, then per block content_block_start, content_block_delta
// (text_delta | input_json_delta) … content_block_stop, and at the end message_delta (stop
// reason, stop sequence, usage) and message_stop; `event: error` when the engine fails.
//
// usage.input_tokens counts the whole prompt, as /v1/messages/count_tokens does;
// cache_read_input_tokens says how many of those came from the prefix cache.
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/request.h"
#include "server/responder.h"
#include "tools/tool_parser.h"

namespace pagoda::server {

struct AnthropicMeta {
  std::string id;             // "msg_…"
  std::string model;          // the served name
  int64_t prompt_tokens = 0;  // known at submit: message_start reports it
  // Requests with tools: a parser that splits the text into text and tool_use blocks.
  std::function<std::unique_ptr<tools::ToolCallParser>()> make_tool_parser;
};

struct SseEvent {
  std::string name;
  nlohmann::ordered_json data;
};

class AnthropicBuilder {
 public:
  explicit AnthropicBuilder(AnthropicMeta meta);

  // message_start (empty content, the prompt's size) and a first ping.
  std::vector<SseEvent> start_events() const;
  // Records one engine output; returns the block events it yields (the open block is closed
  // once the output is final).
  std::vector<SseEvent> add(const engine::RequestOutput& out);
  // message_delta (stop_reason, stop_sequence, usage) and message_stop.
  std::vector<SseEvent> end_events() const;
  // The whole non-streamed message.
  nlohmann::ordered_json message() const;
  nlohmann::ordered_json usage_json() const;
  Usage usage() const;
  double ttft_ms() const { return ttft_ms_; }
  bool finished() const { return finished_; }
  const std::string& error() const { return error_; }

 private:
  enum class Block { none, text, tool_use };
  void open_block(std::vector<SseEvent>& events, nlohmann::ordered_json block, Block kind);
  void close_block(std::vector<SseEvent>& events);
  std::string stop_reason(bool saw_calls) const;

  AnthropicMeta meta_;
  std::unique_ptr<tools::ToolCallParser> parser_;  // null without tools
  std::string text_;                               // everything generated
  engine::Finish finish_ = engine::Finish::none;
  std::optional<std::string> stop_string_;
  int64_t n_prompt_ = 0, n_cached_ = 0, n_generated_ = 0;
  double ttft_ms_ = -1.0;
  bool finished_ = false;
  std::string error_;
  // Stream state: the open block and the index the next one gets.
  Block open_ = Block::none;
  int next_index_ = 0;
};

// ApiResponder for /v1/messages: SSE events "event: NAME\ndata: {...}", pings as keep-alive,
// errors in Anthropic's shape.
class AnthropicResponder : public ApiResponder {
 public:
  explicit AnthropicResponder(AnthropicMeta meta) : builder_(std::move(meta)) {}
  std::string stream_start() override;
  std::string add(int prompt, const engine::RequestOutput& out) override;
  std::string stream_end() override;
  std::string keepalive() override;
  HttpResponse response() const override;
  HttpResponse error(const ApiError& e) const override;
  bool finished() const override { return builder_.finished(); }
  Usage usage() const override { return builder_.usage(); }
  double ttft_ms() const override { return builder_.ttft_ms(); }

 private:
  AnthropicBuilder builder_;
};

// "event: NAME\ndata: JSON\n\n".
std::string sse_event(const SseEvent& e);
// "toolu_" + 24 random base-62 characters, as Anthropic's tool_use ids look.
std::string random_toolu_id();

}  // namespace pagoda::server
