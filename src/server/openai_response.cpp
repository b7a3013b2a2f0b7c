#include "server/openai_response.h"

namespace pagoda::server {
namespace {

using Json = nlohmann::ordered_json;

Json bytes_of(const std::string& s) {
  Json b = Json::array();
  for (unsigned char c : s) b.push_back(int{c});
  return b;
}

}  // namespace

std::string finish_reason(engine::Finish f) {
  switch (f) {
    case engine::Finish::stop:
      return "stop";
    case engine::Finish::length:
      return "length";
    case engine::Finish::abort:
      return "abort";
    case engine::Finish::error:
      return "error";
    case engine::Finish::none:
      break;
  }
  return "";
}

ResponseBuilder::ResponseBuilder(ResponseMeta meta, PieceFn piece)
    : meta_(std::move(meta)),
      piece_(std::move(piece)),
      choices_(static_cast<size_t>(meta_.n * meta_.n_prompts)),
      prompts_(static_cast<size_t>(meta_.n_prompts)) {
  for (size_t i = 0; i < choices_.size(); ++i) {
    Choice& c = choices_[i];
    if (meta_.kind == ApiKind::chat && meta_.make_tool_parser) c.parser = meta_.make_tool_parser();
    if (meta_.kind == ApiKind::completion && i / meta_.n < meta_.echo.size()) {
      c.text = meta_.echo[i / meta_.n];
      c.text_offset = static_cast<int64_t>(c.text.size());
    }
    if (meta_.logprobs < 0) continue;
    if (meta_.kind == ApiKind::chat)
      c.logprobs = {{"content", Json::array()}};
    else
      c.logprobs = {{"tokens", Json::array()},
                    {"token_logprobs", Json::array()},
                    {"top_logprobs", Json::array()},
                    {"text_offset", Json::array()}};
  }
}

Json ResponseBuilder::chunk(Json choices) const {
  Json j;
  j["id"] = meta_.id;
  j["object"] = meta_.kind == ApiKind::chat ? "chat.completion.chunk" : "text_completion";
  j["created"] = meta_.created;
  j["model"] = meta_.model;
  j["system_fingerprint"] = meta_.fingerprint;
  j["choices"] = std::move(choices);
  if (meta_.include_usage) j["usage"] = nullptr;
  return j;
}

Json ResponseBuilder::top_entry(int32_t id, float logprob) const {
  const std::string piece = piece_(id);
  return {{"token", piece}, {"logprob", logprob}, {"bytes", bytes_of(piece)}};
}

// Appends the delta's token logprobs to the choice (non-streamed) and returns
// this delta's part alone (streamed), in the API's shape.
Json ResponseBuilder::logprobs_of(Choice& c, const engine::SequenceDelta& d) {
  if (meta_.logprobs < 0) return nullptr;
  const size_t n = std::min(d.tokens.size(), d.info.size());
  if (meta_.kind == ApiKind::chat) {
    Json part = {{"content", Json::array()}};
    for (size_t i = 0; i < n; ++i) {
      Json item = top_entry(d.tokens[i], d.info[i].chosen.value);
      Json top = Json::array();
      for (const auto& t : d.info[i].top) top.push_back(top_entry(t.id, t.value));
      item["top_logprobs"] = std::move(top);
      part["content"].push_back(item);
      c.logprobs["content"].push_back(std::move(item));
    }
    return part;
  }
  Json part = {{"tokens", Json::array()},
               {"token_logprobs", Json::array()},
               {"top_logprobs", Json::array()},
               {"text_offset", Json::array()}};
  for (size_t i = 0; i < n; ++i) {
    const std::string piece = piece_(d.tokens[i]);
    Json top = Json::object();
    for (const auto& t : d.info[i].top) top[piece_(t.id)] = t.value;
    for (Json* target : {&part, &c.logprobs}) {
      (*target)["tokens"].push_back(piece);
      (*target)["token_logprobs"].push_back(d.info[i].chosen.value);
      (*target)["top_logprobs"].push_back(top);
      (*target)["text_offset"].push_back(c.text_offset);
    }
    c.text_offset += static_cast<int64_t>(piece.size());
  }
  return part;
}

std::vector<Json> ResponseBuilder::start_chunks() {
  std::vector<Json> out;
  for (size_t i = 0; i < choices_.size(); ++i) {
    Json choice;
    choice["index"] = i;
    if (meta_.kind == ApiKind::chat) {
      choice["delta"] = {{"role", "assistant"}, {"content", ""}};
    } else {
      if (meta_.echo.empty()) continue;
      choice["text"] = choices_[i].text;
    }
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = nullptr;
    out.push_back(chunk(Json::array({choice})));
  }
  return out;
}

std::vector<Json> ResponseBuilder::add(int prompt, const engine::RequestOutput& out) {
  std::vector<Json> chunks;
  if (prompt < 0 || prompt >= meta_.n_prompts) return chunks;
  PromptState& ps = prompts_[static_cast<size_t>(prompt)];
  ps.n_prompt = out.n_prompt_tokens;
  ps.n_cached = out.n_cached_tokens;
  ps.n_generated = out.n_generated_tokens;
  if (out.time_to_first_token_ms >= 0 && ps.ttft_ms < 0) ps.ttft_ms = out.time_to_first_token_ms;
  if (out.finished) ps.finished = true;
  if (!out.error.empty() && error_.empty()) error_ = out.error;
  for (const engine::SequenceDelta& d : out.deltas) {
    if (d.index < 0 || d.index >= meta_.n) continue;
    const size_t index = static_cast<size_t>(prompt * meta_.n + d.index);
    Choice& c = choices_[index];
    c.text += d.text;
    Json lp = logprobs_of(c, d);
    if (c.parser) {
      add_parsed(chunks, index, c, d, std::move(lp));
      continue;
    }
    const bool has_logprobs = meta_.logprobs >= 0 && !d.tokens.empty();
    if (!d.text.empty() || has_logprobs) {
      Json choice;
      choice["index"] = index;
      if (meta_.kind == ApiKind::chat)
        choice["delta"] = {{"content", d.text}};
      else
        choice["text"] = d.text;
      choice["logprobs"] = std::move(lp);
      choice["finish_reason"] = nullptr;
      chunks.push_back(chunk(Json::array({choice})));
    }
    if (d.finish != engine::Finish::none && c.finish.empty()) {
      c.finish = finish_reason(d.finish);
      Json choice;
      choice["index"] = index;
      if (meta_.kind == ApiKind::chat)
        choice["delta"] = Json::object();
      else
        choice["text"] = "";
      choice["logprobs"] = nullptr;
      choice["finish_reason"] = c.finish;
      chunks.push_back(chunk(Json::array({choice})));
    }
  }
  return chunks;
}

void ResponseBuilder::add_parsed(std::vector<Json>& chunks, size_t index, Choice& c,
                                 const engine::SequenceDelta& d, Json lp) {
  tools::StreamDelta sd = c.parser->push(d.text);
  if (d.finish != engine::Finish::none) {
    tools::StreamDelta tail = c.parser->finish();
    sd.content += tail.content;
    for (auto& call : tail.calls) sd.calls.push_back(std::move(call));
  }
  auto emit = [&](Json delta, Json logprobs) {
    Json choice;
    choice["index"] = index;
    choice["delta"] = std::move(delta);
    choice["logprobs"] = std::move(logprobs);
    choice["finish_reason"] = nullptr;
    chunks.push_back(chunk(Json::array({std::move(choice)})));
  };
  const bool has_logprobs = meta_.logprobs >= 0 && !d.tokens.empty();
  if (!sd.content.empty() || has_logprobs) emit({{"content", sd.content}}, std::move(lp));
  if (!sd.calls.empty()) {
    Json calls = Json::array();
    for (const tools::ToolCallDelta& call : sd.calls) {
      Json item;
      item["index"] = call.index;
      if (call.id) item["id"] = *call.id;
      if (call.name) item["type"] = "function";
      Json fn = Json::object();
      if (call.name) fn["name"] = *call.name;
      fn["arguments"] = call.arguments;
      item["function"] = std::move(fn);
      calls.push_back(std::move(item));
    }
    emit({{"tool_calls", std::move(calls)}}, nullptr);
  }
  if (d.finish != engine::Finish::none && c.finish.empty()) {
    c.finish = finish_reason(d.finish);
    if (c.finish == "stop" && c.parser->saw_calls() && !meta_.forced_function) c.finish = "tool_calls";
    Json choice;
    choice["index"] = index;
    choice["delta"] = Json::object();
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = c.finish;
    chunks.push_back(chunk(Json::array({std::move(choice)})));
  }
}

// The non-streamed assistant message; with a tool parser the whole text is parsed again, so
// the answer does not depend on how the text arrived.
Json ResponseBuilder::message_of(const Choice& c, std::string& finish) const {
  Json message = {{"role", "assistant"}, {"content", c.text}};
  if (!c.parser) return message;
  const tools::ParsedOutput parsed = c.parser->parse(c.text);
  if (parsed.calls.empty()) {
    if (finish == "tool_calls") finish = "stop";
    return message;
  }
  message["content"] = parsed.content ? Json(*parsed.content) : Json(nullptr);
  Json calls = Json::array();
  for (const tools::ToolCall& call : parsed.calls)
    calls.push_back(
        {{"id", call.id}, {"type", "function"}, {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
  message["tool_calls"] = std::move(calls);
  if (finish == "stop" && !meta_.forced_function) finish = "tool_calls";
  return message;
}

Json ResponseBuilder::usage_json() const {
  const Usage u = usage();
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

Json ResponseBuilder::response() const {
  Json j;
  j["id"] = meta_.id;
  j["object"] = meta_.kind == ApiKind::chat ? "chat.completion" : "text_completion";
  j["created"] = meta_.created;
  j["model"] = meta_.model;
  j["system_fingerprint"] = meta_.fingerprint;
  Json choices = Json::array();
  for (size_t i = 0; i < choices_.size(); ++i) {
    const Choice& c = choices_[i];
    Json choice;
    choice["index"] = i;
    std::string finish = c.finish;
    if (meta_.kind == ApiKind::chat)
      choice["message"] = message_of(c, finish);
    else
      choice["text"] = c.text;
    choice["logprobs"] = meta_.logprobs >= 0 ? c.logprobs : Json(nullptr);
    choice["finish_reason"] = finish.empty() ? Json(nullptr) : Json(finish);
    choices.push_back(std::move(choice));
  }
  j["choices"] = std::move(choices);
  j["usage"] = usage_json();
  return j;
}

Json ResponseBuilder::usage_chunk() const {
  Json j = chunk(Json::array());
  j["usage"] = usage_json();
  return j;
}

Usage ResponseBuilder::usage() const {
  Usage u;
  for (const PromptState& p : prompts_) {
    u.prompt_tokens += p.n_prompt;
    u.completion_tokens += p.n_generated;
    u.cached_tokens += p.n_cached;
  }
  return u;
}

double ResponseBuilder::ttft_ms() const {
  double best = -1.0;
  for (const PromptState& p : prompts_)
    if (p.ttft_ms >= 0 && (best < 0 || p.ttft_ms < best)) best = p.ttft_ms;
  return best;
}

bool ResponseBuilder::finished() const {
  for (const PromptState& p : prompts_)
    if (!p.finished) return false;
  return true;
}

std::string OpenAiResponder::stream_start() {
  std::string out;
  for (const auto& chunk : builder_.start_chunks()) out += sse_data(chunk);
  return out;
}

std::string OpenAiResponder::add(int prompt, const engine::RequestOutput& output) {
  std::string out;
  for (const auto& chunk : builder_.add(prompt, output)) out += sse_data(chunk);
  return out;
}

std::string OpenAiResponder::stream_end() {
  std::string out;
  if (!builder_.error().empty()) {
    ApiError e;
    e.status = 500;
    e.type = "server_error";
    e.message = builder_.error();
    out += sse_data(error_json(e));
  }
  if (builder_.meta().include_usage) out += sse_data(builder_.usage_chunk());
  return out + sse_done();
}

HttpResponse OpenAiResponder::response() const {
  if (builder_.error().empty()) return json_response(200, builder_.response());
  ApiError e;
  e.status = 500;
  e.type = "server_error";
  e.message = builder_.error();
  return error_response(e);
}

std::string sse_data(const Json& j) {
  return "data: " + json_text(j) + "\n\n";
}
std::string sse_done() {
  return "data: [DONE]\n\n";
}

}  // namespace pagoda::server
