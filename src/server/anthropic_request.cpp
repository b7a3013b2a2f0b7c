#include "server/anthropic_request.h"

#include <fmt/format.h>

#include <cmath>
#include <map>

namespace pagoda::server {
namespace {

using Json = nlohmann::ordered_json;

// Inside this file a validation failure is thrown and caught at the public edge.
[[noreturn]] void fail(std::string message, std::string param) {
  throw bad_request(std::move(message), std::move(param));
}

const Json* field(const Json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string block_type(const Json& block, const std::string& where) {
  if (!block.is_object()) fail(where + ": each content block must be an object", where);
  const Json* type = field(block, "type");
  if (!type || !type->is_string()) fail(where + ": each content block needs a string 'type'", where);
  return type->get<std::string>();
}

[[noreturn]] void refuse_media(const std::string& type, const std::string& where) {
  fail(fmt::format("{}: '{}' content blocks are not supported: this model takes text only", where, type),
       where);
}

std::string text_of(const Json& block, const std::string& where) {
  const Json* text = field(block, "text");
  if (!text || !text->is_string()) fail(where + ": a 'text' block needs a string 'text'", where);
  return text->get<std::string>();
}

// A string, or a list of text blocks joined by "\n" (system prompts, tool results).
std::string text_content(const Json& content, const std::string& where) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) fail(where + " must be a string or a list of content blocks", where);
  std::string out;
  for (const Json& block : content) {
    const std::string type = block_type(block, where);
    if (type == "image" || type == "document") refuse_media(type, where);
    if (type != "text") fail(fmt::format("{}: unsupported content block type '{}'", where, type), where);
    if (!out.empty()) out += '\n';
    out += text_of(block, where);
  }
  return out;
}

// Converts one Anthropic message into one or more OpenAI messages. `tool_names` maps the ids of
// earlier tool_use blocks to their function names (tool messages carry the name for templates).
void convert_message(const Json& m, size_t index, Json& out, std::map<std::string, std::string>& tool_names) {
  const std::string where = fmt::format("messages.{}", index);
  if (!m.is_object()) fail(where + " must be an object", "messages");
  const Json* role = field(m, "role");
  if (!role || !role->is_string() || (*role != "user" && *role != "assistant"))
    fail(where + ".role must be \"user\" or \"assistant\"", "messages");
  const Json* content = field(m, "content");
  if (!content) fail(where + ".content: Field required", "messages");
  const bool user = *role == "user";
  if (content->is_string()) {
    out.push_back({{"role", *role}, {"content", *content}});
    return;
  }
  if (!content->is_array()) fail(where + ".content must be a string or a list of content blocks", "messages");

  std::string text;
  bool has_text = false;
  Json calls = Json::array();
  for (size_t b = 0; b < content->size(); ++b) {
    const Json& block = (*content)[b];
    const std::string at = fmt::format("{}.content.{}", where, b);
    const std::string type = block_type(block, at);
    if (type == "text") {
      if (has_text) text += '\n';
      text += text_of(block, at);
      has_text = true;
    } else if (type == "image" || type == "document") {
      refuse_media(type, at);
    } else if (type == "tool_use") {
      if (user) fail(at + ": 'tool_use' blocks belong to assistant messages", "messages");
      const Json* id = field(block, "id");
      const Json* name = field(block, "name");
      const Json* input = field(block, "input");
      if (!id || !id->is_string() || !name || !name->is_string())
        fail(at + ": a 'tool_use' block needs string 'id' and 'name'", "messages");
      if (input && !input->is_object()) fail(at + ".input must be an object", "messages");
      tool_names[id->get<std::string>()] = name->get<std::string>();
      calls.push_back({{"id", *id},
                       {"type", "function"},
                       {"function", {{"name", *name}, {"arguments", (input ? *input : Json::object()).dump()}}}});
    } else if (type == "tool_result") {
      if (!user) fail(at + ": 'tool_result' blocks belong to user messages", "messages");
      const Json* id = field(block, "tool_use_id");
      if (!id || !id->is_string()) fail(at + ": a 'tool_result' block needs a string 'tool_use_id'", "messages");
      const Json* result = field(block, "content");
      std::string result_text = result ? text_content(*result, at + ".content") : "";
      if (const Json* is_error = field(block, "is_error"); is_error && !is_error->is_boolean())
        fail(at + ".is_error must be a boolean", "messages");
      Json tool = {{"role", "tool"}, {"tool_call_id", *id}, {"content", result_text}};
      if (auto name = tool_names.find(id->get<std::string>()); name != tool_names.end())
        tool["name"] = name->second;
      out.push_back(std::move(tool));
    } else if (type == "thinking" || type == "redacted_thinking") {
      if (user) fail(fmt::format("{}: '{}' blocks belong to assistant messages", at, type), "messages");
    } else {
      fail(fmt::format("{}: unsupported content block type '{}'", at, type), "messages");
    }
  }
  if (user) {
    if (has_text) out.push_back({{"role", "user"}, {"content", text}});
    return;
  }
  Json assistant = {{"role", "assistant"}, {"content", has_text || calls.empty() ? Json(text) : Json(nullptr)}};
  if (!calls.empty()) assistant["tool_calls"] = std::move(calls);
  out.push_back(std::move(assistant));
}

Json convert_tools(const Json& tools) {
  if (!tools.is_array()) fail("tools must be a list", "tools");
  Json out = Json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const Json& t = tools[i];
    const std::string at = fmt::format("tools.{}", i);
    if (!t.is_object()) fail(at + " must be an object", "tools");
    if (const Json* type = field(t, "type"); type && *type != "custom")
      fail(fmt::format("{}: tool type {} is not supported (only custom tools with an input_schema)", at,
                       type->dump()),
           "tools");
    const Json* name = field(t, "name");
    if (!name || !name->is_string() || name->get<std::string>().empty())
      fail(at + ".name: Field required (a non-empty string)", "tools");
    const Json* schema = field(t, "input_schema");
    if (!schema || !schema->is_object()) fail(at + ".input_schema: Field required (a JSON Schema object)", "tools");
    Json fn = {{"name", *name}};
    if (const Json* d = field(t, "description")) {
      if (!d->is_string()) fail(at + ".description must be a string", "tools");
      fn["description"] = *d;
    }
    fn["parameters"] = *schema;
    out.push_back({{"type", "function"}, {"function", std::move(fn)}});
  }
  return out;
}

void convert_tool_choice(const Json& choice, Json& chat) {
  if (!choice.is_object()) fail("tool_choice must be an object such as {\"type\": \"auto\"}", "tool_choice");
  const Json* type = field(choice, "type");
  if (!type || !type->is_string()) fail("tool_choice.type: Field required", "tool_choice");
  if (const Json* d = field(choice, "disable_parallel_tool_use")) {
    if (!d->is_boolean()) fail("tool_choice.disable_parallel_tool_use must be a boolean", "tool_choice");
    chat["parallel_tool_calls"] = !d->get<bool>();
  }
  const std::string t = type->get<std::string>();
  if (t == "auto") {
    chat["tool_choice"] = "auto";
  } else if (t == "any") {
    chat["tool_choice"] = "required";
  } else if (t == "none") {
    chat["tool_choice"] = "none";
  } else if (t == "tool") {
    const Json* name = field(choice, "name");
    if (!name || !name->is_string()) fail("tool_choice.name: Field required for type \"tool\"", "tool_choice");
    chat["tool_choice"] = {{"type", "function"}, {"function", {{"name", *name}}}};
  } else {
    fail("tool_choice.type must be one of \"auto\", \"any\", \"tool\", \"none\"", "tool_choice");
  }
}

void copy_unit_number(const Json& body, const char* name, Json& chat, bool zero_allowed) {
  const Json* v = field(body, name);
  if (!v) return;
  if (!v->is_number()) fail(fmt::format("{}: must be a number", name), name);
  const double x = v->get<double>();
  if (!std::isfinite(x) || x > 1.0 || (zero_allowed ? x < 0.0 : x <= 0.0))
    fail(fmt::format("{}: must be in {}0, 1], got {}", name, zero_allowed ? "[" : "(", x), name);
  chat[name] = *v;
}

Json convert(const Json& body, AnthropicEndpoint endpoint) {
  Json chat = Json::object();
  if (const Json* model = field(body, "model")) {
    if (!model->is_string()) fail("model: must be a string", "model");
    chat["model"] = *model;
  }
  if (endpoint == AnthropicEndpoint::messages) {
    const Json* max_tokens = field(body, "max_tokens");
    if (!max_tokens) fail("max_tokens: Field required", "max_tokens");
    if (!max_tokens->is_number_integer() || max_tokens->get<int64_t>() < 1)
      fail("max_tokens: must be an integer of at least 1", "max_tokens");
    chat["max_tokens"] = *max_tokens;
  }

  Json messages = Json::array();
  if (const Json* system = field(body, "system")) {
    const std::string text = text_content(*system, "system");
    if (!text.empty()) messages.push_back({{"role", "system"}, {"content", text}});
  }
  const Json* in = field(body, "messages");
  if (!in) fail("messages: Field required", "messages");
  if (!in->is_array() || in->empty()) fail("messages: must be a non-empty list", "messages");
  std::map<std::string, std::string> tool_names;
  for (size_t i = 0; i < in->size(); ++i) convert_message((*in)[i], i, messages, tool_names);
  if (messages.empty()) fail("messages: nothing to send (every message was empty)", "messages");
  // A final assistant message is a prefill: the reply continues it.
  const Json& last = messages.back();
  if (last["role"] == "assistant" && !last.contains("tool_calls") && last["content"].is_string() &&
      !last["content"].get<std::string>().empty())
    chat["continue_final_message"] = true;
  chat["messages"] = std::move(messages);

  if (const Json* tools = field(body, "tools")) {
    Json converted = convert_tools(*tools);
    if (!converted.empty()) chat["tools"] = std::move(converted);
  }
  if (const Json* choice = field(body, "tool_choice")) {
    convert_tool_choice(*choice, chat);
    if (!chat.contains("tools") && chat["tool_choice"] != "none")
      fail("tool_choice: needs 'tools'", "tool_choice");
  }

  copy_unit_number(body, "temperature", chat, /*zero_allowed=*/true);
  copy_unit_number(body, "top_p", chat, /*zero_allowed=*/false);
  if (const Json* k = field(body, "top_k")) {
    if (!k->is_number_integer() || k->get<int64_t>() < 0) fail("top_k: must be a non-negative integer", "top_k");
    chat["top_k"] = *k;
  }
  if (const Json* stop = field(body, "stop_sequences")) {
    if (!stop->is_array()) fail("stop_sequences: must be a list of strings", "stop_sequences");
    for (const Json& s : *stop)
      if (!s.is_string() || s.get<std::string>().empty())
        fail("stop_sequences: must hold non-empty strings", "stop_sequences");
    if (stop->size() > 64) fail("stop_sequences: at most 64 are allowed", "stop_sequences");
    chat["stop"] = *stop;
  }
  if (const Json* stream = field(body, "stream")) {
    if (!stream->is_boolean()) fail("stream: must be a boolean", "stream");
    chat["stream"] = *stream;
  }
  if (const Json* metadata = field(body, "metadata")) {
    if (!metadata->is_object()) fail("metadata: must be an object", "metadata");
    if (const Json* user = field(*metadata, "user_id")) {
      if (!user->is_string()) fail("metadata.user_id: must be a string", "metadata");
      chat["user"] = *user;
    }
  }
  if (const Json* thinking = field(body, "thinking")) {
    const Json* type = thinking->is_object() ? field(*thinking, "type") : nullptr;
    if (!type || (*type != "enabled" && *type != "disabled" && *type != "adaptive"))
      fail("thinking.type must be \"enabled\", \"adaptive\" or \"disabled\"", "thinking");
    chat["chat_template_kwargs"] = {{"enable_thinking", *type != "disabled"}};
  }
  return chat;
}

}  // namespace

ApiResult<Json> anthropic_to_chat_body(const Json& body, AnthropicEndpoint endpoint) {
  try {
    return convert(body, endpoint);
  } catch (const ApiError& e) {
    return e;
  }
}

Json anthropic_error_json(const ApiError& e) {
  const char* type = "api_error";
  switch (e.status) {
    case 400: case 405: case 422: case 431: type = "invalid_request_error"; break;
    case 401: type = "authentication_error"; break;
    case 403: type = "permission_error"; break;
    case 404: type = "not_found_error"; break;
    case 413: type = "request_too_large"; break;
    case 429: type = "rate_limit_error"; break;
    case 503: case 529: type = "overloaded_error"; break;
    default: break;
  }
  return {{"type", "error"}, {"error", {{"type", type}, {"message", e.message}}}};
}

HttpResponse anthropic_error_response(const ApiError& e) {
  const unsigned status = e.status == 503 ? 529u : static_cast<unsigned>(e.status);
  HttpResponse r = json_response(status, anthropic_error_json(e));
  if (status == 529) r.headers.emplace_back("Retry-After", "1");
  return r;
}

}  // namespace pagoda::server
