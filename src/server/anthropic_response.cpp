#include "server/anthropic_response.h"

#include <random>

#include "server/anthropic_request.h"

namespace pagoda::server {
namespace {

using Json = nlohmann::ordered_json;

SseEvent ping() {
  return {"ping", {{"type", "ping"}}};
}

}  // namespace

std::string random_toolu_id() {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<int> pick(0, 61);
  std::string id = "toolu_";
  for (int i = 0; i < 24; ++i) id += kAlphabet[pick(rng)];
  return id;
}

std::string sse_event(const SseEvent& e) {
  return "event: " + e.name + "\ndata: " + json_text(e.data) + "\n\n";
}

AnthropicBuilder::AnthropicBuilder(AnthropicMeta meta) : meta_(std::move(meta)) {
  if (meta_.make_tool_parser) parser_ = meta_.make_tool_parser();
  n_prompt_ = meta_.prompt_tokens;
}

std::vector<SseEvent> AnthropicBuilder::start_events() const {
  Json usage = {{"input_tokens", meta_.prompt_tokens},
                {"cache_creation_input_tokens", 0},
                {"cache_read_input_tokens", 0},
                {"output_tokens", 0}};
  Json message = {{"id", meta_.id},         {"type", "message"},       {"role", "assistant"},
                  {"model", meta_.model},   {"content", Json::array()}, {"stop_reason", nullptr},
                  {"stop_sequence", nullptr}, {"usage", std::move(usage)}};
  return {{"message_start", {{"type", "message_start"}, {"message", std::move(message)}}}, ping()};
}

void AnthropicBuilder::open_block(std::vector<SseEvent>& events, Json block, Block kind) {
  close_block(events);
  events.push_back({"content_block_start",
                    {{"type", "content_block_start"}, {"index", next_index_}, {"content_block", std::move(block)}}});
  open_ = kind;
}

void AnthropicBuilder::close_block(std::vector<SseEvent>& events) {
  if (open_ == Block::none) return;
  events.push_back({"content_block_stop", {{"type", "content_block_stop"}, {"index", next_index_}}});
  open_ = Block::none;
  ++next_index_;
}

std::vector<SseEvent> AnthropicBuilder::add(const engine::RequestOutput& out) {
  std::vector<SseEvent> events;
  n_prompt_ = out.n_prompt_tokens;
  n_cached_ = out.n_cached_tokens;
  n_generated_ = out.n_generated_tokens;
  if (out.time_to_first_token_ms >= 0 && ttft_ms_ < 0) ttft_ms_ = out.time_to_first_token_ms;
  if (!out.error.empty() && error_.empty()) error_ = out.error;
  for (const engine::SequenceDelta& d : out.deltas) {
    if (d.index != 0) continue;
    text_ += d.text;
    tools::StreamDelta sd;
    if (parser_) {
      sd = parser_->push(d.text);
      if (d.finish != engine::Finish::none) {
        tools::StreamDelta tail = parser_->finish();
        sd.content += tail.content;
        for (auto& call : tail.calls) sd.calls.push_back(std::move(call));
      }
    } else {
      sd.content = d.text;
    }
    if (!sd.content.empty()) {
      if (open_ != Block::text) open_block(events, {{"type", "text"}, {"text", ""}}, Block::text);
      events.push_back({"content_block_delta",
                        {{"type", "content_block_delta"},
                         {"index", next_index_},
                         {"delta", {{"type", "text_delta"}, {"text", sd.content}}}}});
    }
    for (const tools::ToolCallDelta& call : sd.calls) {
      if (call.name)
        open_block(events,
                   {{"type", "tool_use"}, {"id", call.id.value_or(random_toolu_id())}, {"name", *call.name},
                    {"input", Json::object()}},
                   Block::tool_use);
      if (!call.arguments.empty() && open_ == Block::tool_use)
        events.push_back({"content_block_delta",
                          {{"type", "content_block_delta"},
                           {"index", next_index_},
                           {"delta", {{"type", "input_json_delta"}, {"partial_json", call.arguments}}}}});
    }
    if (d.finish != engine::Finish::none && finish_ == engine::Finish::none) {
      finish_ = d.finish;
      stop_string_ = d.stop_string;
    }
  }
  if (out.finished && !finished_) {
    finished_ = true;
    // Every message has at least one block, so that content[0] always exists.
    if (next_index_ == 0 && open_ == Block::none && error_.empty())
      open_block(events, {{"type", "text"}, {"text", ""}}, Block::text);
    close_block(events);
  }
  return events;
}

std::string AnthropicBuilder::stop_reason(bool saw_calls) const {
  switch (finish_) {
    case engine::Finish::length:
      return "max_tokens";
    case engine::Finish::stop:
      if (stop_string_) return "stop_sequence";
      return saw_calls ? "tool_use" : "end_turn";
    default:
      return "end_turn";
  }
}

Json AnthropicBuilder::usage_json() const {
  return {{"input_tokens", n_prompt_},
          {"cache_creation_input_tokens", 0},
          {"cache_read_input_tokens", n_cached_},
          {"output_tokens", n_generated_}};
}

std::vector<SseEvent> AnthropicBuilder::end_events() const {
  const bool saw_calls = parser_ && parser_->saw_calls();
  Json delta = {{"stop_reason", stop_reason(saw_calls)},
                {"stop_sequence", stop_reason(saw_calls) == "stop_sequence" ? Json(*stop_string_) : Json(nullptr)}};
  return {{"message_delta", {{"type", "message_delta"}, {"delta", std::move(delta)}, {"usage", usage_json()}}},
          {"message_stop", {{"type", "message_stop"}}}};
}

Json AnthropicBuilder::message() const {
  Json content = Json::array();
  bool saw_calls = false;
  if (parser_) {
    const tools::ParsedOutput parsed = parser_->parse(text_);
    if (parsed.content && !parsed.content->empty())
      content.push_back({{"type", "text"}, {"text", *parsed.content}});
    for (const tools::ToolCall& call : parsed.calls) {
      Json input = Json::parse(call.arguments, nullptr, /*allow_exceptions=*/false);
      if (!input.is_object()) input = Json::object();
      content.push_back({{"type", "tool_use"}, {"id", call.id}, {"name", call.name}, {"input", std::move(input)}});
      saw_calls = true;
    }
  } else if (!text_.empty()) {
    content.push_back({{"type", "text"}, {"text", text_}});
  }
  if (content.empty()) content.push_back({{"type", "text"}, {"text", ""}});
  const std::string reason = stop_reason(saw_calls);
  return {{"id", meta_.id},
          {"type", "message"},
          {"role", "assistant"},
          {"model", meta_.model},
          {"content", std::move(content)},
          {"stop_reason", reason},
          {"stop_sequence", reason == "stop_sequence" ? Json(*stop_string_) : Json(nullptr)},
          {"usage", usage_json()}};
}

Usage AnthropicBuilder::usage() const {
  return {n_prompt_, n_generated_, n_cached_};
}

std::string AnthropicResponder::stream_start() {
  std::string out;
  for (const SseEvent& e : builder_.start_events()) out += sse_event(e);
  return out;
}

std::string AnthropicResponder::add(int prompt, const engine::RequestOutput& output) {
  std::string out;
  if (prompt != 0) return out;
  for (const SseEvent& e : builder_.add(output)) out += sse_event(e);
  return out;
}

std::string AnthropicResponder::stream_end() {
  if (!builder_.error().empty()) {
    ApiError e;
    e.status = 500;
    e.message = builder_.error();
    return sse_event({"error", anthropic_error_json(e)});
  }
  std::string out;
  for (const SseEvent& e : builder_.end_events()) out += sse_event(e);
  return out;
}

std::string AnthropicResponder::keepalive() {
  return sse_event(ping());
}

HttpResponse AnthropicResponder::response() const {
  if (builder_.error().empty()) return json_response(200, builder_.message());
  ApiError e;
  e.status = 500;
  e.message = builder_.error();
  return anthropic_error_response(e);
}

HttpResponse AnthropicResponder::error(const ApiError& e) const {
  return anthropic_error_response(e);
}

}  // namespace pagoda::server
