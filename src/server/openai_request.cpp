#include "server/openai_request.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace pagoda::server {
namespace {

using Json = nlohmann::ordered_json;

// Inside this file a validation failure is thrown and caught at the public edge.
[[noreturn]] void fail(std::string message, std::string param) {
  throw bad_request(std::move(message), std::move(param));
}

const Json* field(const Json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<double> number(const Json& body, const char* name) {
  const Json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number()) fail(fmt::format("'{}' must be a number", name), name);
  return v->get<double>();
}

std::optional<int64_t> integer(const Json& body, const char* name, int64_t lo, int64_t hi) {
  const Json* v = field(body, name);
  if (!v) return std::nullopt;
  bool integral = v->is_number_integer();
  if (v->is_number_float()) {
    const double d = v->get<double>();
    integral = std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15;
  }
  if (!integral) fail(fmt::format("'{}' must be an integer", name), name);
  int64_t x = 0;
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    x = u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
            ? std::numeric_limits<int64_t>::max()
            : static_cast<int64_t>(u);
  } else if (v->is_number_integer()) {
    x = v->get<int64_t>();
  } else {
    x = static_cast<int64_t>(v->get<double>());
  }
  if (x < lo || x > hi)
    fail(fmt::format("'{}' must be in [{}, {}], got {}", name, lo, hi, x), name);
  return x;
}

std::optional<bool> boolean(const Json& body, const char* name) {
  const Json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) fail(fmt::format("'{}' must be a boolean", name), name);
  return v->get<bool>();
}

float in_range(const Json& body, const char* name, float fallback, double lo, double hi,
               bool lo_open = false) {
  auto v = number(body, name);
  if (!v) return fallback;
  const bool ok = std::isfinite(*v) && (lo_open ? *v > lo : *v >= lo) && *v <= hi;
  if (!ok)
    fail(fmt::format("'{}' must be in {}{}, {}], got {}", name, lo_open ? "(" : "[", lo, hi, *v),
         name);
  return static_cast<float>(*v);
}

std::vector<int32_t> token_ids(const Json& v, const char* name) {
  std::vector<int32_t> ids;
  for (const Json& t : v) {
    if (!t.is_number_integer()) fail(fmt::format("'{}' must hold integer token ids", name), name);
    const int64_t id = t.get<int64_t>();
    if (id < 0 || id > std::numeric_limits<int32_t>::max())
      fail(fmt::format("'{}': token id {} is out of range", name, id), name);
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

// Fields chat and completions share: sampling, n, stream, max_tokens.
void parse_common(const Json& body, OpenAiRequest& r) {
  if (const Json* m = field(body, "model")) {
    if (!m->is_string()) fail("'model' must be a string", "model");
    r.model = m->get<std::string>();
  }
  sampling::SamplingParams& p = r.params;
  p.temperature = in_range(body, "temperature", p.temperature, 0.0, 100.0);
  p.top_p = in_range(body, "top_p", p.top_p, 0.0, 1.0, /*lo_open=*/true);
  if (auto k = integer(body, "top_k", -1, std::numeric_limits<int32_t>::max()))
    p.top_k = *k < 0 ? 0 : int32_t(*k);
  p.min_p = in_range(body, "min_p", p.min_p, 0.0, 1.0);
  p.presence_penalty = in_range(body, "presence_penalty", p.presence_penalty, -2.0, 2.0);
  p.frequency_penalty = in_range(body, "frequency_penalty", p.frequency_penalty, -2.0, 2.0);
  p.repetition_penalty =
      in_range(body, "repetition_penalty", p.repetition_penalty, 0.0, 100.0, true);
  if (auto s = integer(body, "seed", std::numeric_limits<int64_t>::min(),
                       std::numeric_limits<int64_t>::max()))
    p.seed = static_cast<uint64_t>(*s);
  if (const Json* s = field(body, "stop")) {
    if (s->is_string()) {
      p.stop.push_back(s->get<std::string>());
    } else if (s->is_array()) {
      for (const Json& x : *s) {
        if (!x.is_string()) fail("'stop' must be a string or a list of strings", "stop");
        p.stop.push_back(x.get<std::string>());
      }
    } else {
      fail("'stop' must be a string or a list of strings", "stop");
    }
    std::erase_if(p.stop, [](const std::string& x) { return x.empty(); });
    if (p.stop.size() > 64) fail("'stop' may hold at most 64 strings", "stop");
  }
  if (const Json* s = field(body, "stop_token_ids")) {
    if (!s->is_array()) fail("'stop_token_ids' must be a list of token ids", "stop_token_ids");
    p.stop_token_ids = token_ids(*s, "stop_token_ids");
  }
  if (const Json* b = field(body, "logit_bias")) {
    if (!b->is_object())
      fail("'logit_bias' must be an object mapping token ids to numbers", "logit_bias");
    for (const auto& [key, value] : b->items()) {
      int64_t id = -1;
      size_t used = 0;
      try {
        id = std::stoll(key, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != key.size() || key.empty() || id < 0 || id > std::numeric_limits<int32_t>::max())
        fail(fmt::format("'logit_bias' key '{}' is not a token id", key), "logit_bias");
      if (!value.is_number()) fail("'logit_bias' values must be numbers", "logit_bias");
      const double bias = value.get<double>();
      if (!(bias >= -100.0 && bias <= 100.0))
        fail(fmt::format("'logit_bias' values must be in [-100, 100], got {}", bias), "logit_bias");
      p.logit_bias[static_cast<int32_t>(id)] = static_cast<float>(bias);
    }
  }
  if (auto v = boolean(body, "ignore_eos")) p.ignore_eos = *v;
  if (auto v = integer(body, "min_tokens", 0, std::numeric_limits<int32_t>::max()))
    p.min_tokens = int32_t(*v);
  auto max_tokens = integer(body, "max_tokens", 1, std::numeric_limits<int32_t>::max());
  if (r.kind == ApiKind::chat) {
    if (auto v = integer(body, "max_completion_tokens", 1, std::numeric_limits<int32_t>::max()))
      max_tokens = v;
  }
  if (max_tokens) r.max_tokens = static_cast<int>(*max_tokens);
  if (r.max_tokens && p.min_tokens > *r.max_tokens)
    fail(fmt::format("'min_tokens' ({}) must not exceed max_tokens ({})", p.min_tokens,
                     *r.max_tokens),
         "min_tokens");
  if (auto v = integer(body, "n", 1, kMaxN)) r.n = static_cast<int>(*v);
  if (auto v = boolean(body, "stream")) r.stream = *v;
  if (const Json* o = field(body, "stream_options")) {
    if (!o->is_object()) fail("'stream_options' must be an object", "stream_options");
    if (!r.stream) fail("'stream_options' is only allowed when 'stream' is true", "stream_options");
    if (auto v = boolean(*o, "include_usage")) r.include_usage = *v;
  }
  if (const Json* u = field(body, "user")) {
    if (!u->is_string()) fail("'user' must be a string", "user");
    r.user = u->get<std::string>();
  }
}

void check_messages(const Json& messages) {
  if (!messages.is_array() || messages.empty())
    fail("'messages' must be a non-empty list", "messages");
  for (const Json& m : messages) {
    if (!m.is_object()) fail("each message must be an object", "messages");
    auto role = m.find("role");
    if (role == m.end() || !role->is_string())
      fail("each message needs a string 'role'", "messages");
    auto content = m.find("content");
    if (content == m.end() || content->is_null() || content->is_string()) continue;
    if (!content->is_array())
      fail("message 'content' must be a string or a list of parts", "messages");
    for (const Json& part : *content) {
      auto type = part.is_object() ? part.find("type") : part.end();
      if (type == part.end() || !type->is_string() || *type != "text")
        fail("only content parts of type 'text' are supported", "messages");
      auto text = part.find("text");
      if (text == part.end() || !text->is_string())
        fail("a 'text' content part needs a string 'text'", "messages");
    }
  }
}

template <typename Fn>
ApiResult<OpenAiRequest> guarded(Fn&& fn) {
  try {
    return fn();
  } catch (const ApiError& e) {
    return e;
  } catch (const std::exception& e) {
    return bad_request(std::string("invalid request: ") + e.what());
  }
}

}  // namespace

sampling::SamplingParams openai_default_params() {
  sampling::SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.typical_p = 1.0f;
  p.repetition_penalty = 1.0f;
  p.presence_penalty = 0.0f;
  p.frequency_penalty = 0.0f;
  p.penalty_last_n = -1;
  p.max_tokens = 1;
  return p;
}

ApiResult<nlohmann::ordered_json> parse_json_body(std::string_view body) {
  // nlohmann's parser is iterative, but copies of the value recurse: bound the nesting first.
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        return bad_request(fmt::format("JSON nested deeper than {} levels", kMaxJsonDepth));
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  Json j;
  try {
    j = Json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    return bad_request(std::string("malformed JSON body: ") + e.what());
  }
  if (!j.is_object()) return bad_request("the request body must be a JSON object");
  return j;
}

ApiResult<OpenAiRequest> parse_chat_request(const nlohmann::ordered_json& body,
                                            const sampling::SamplingParams& defaults) {
  return guarded([&] {
    OpenAiRequest r;
    r.kind = ApiKind::chat;
    r.params = defaults;
    auto messages = body.find("messages");
    if (messages == body.end()) fail("'messages' is required", "messages");
    check_messages(*messages);
    r.messages = *messages;
    if (const Json* t = field(body, "tools")) {
      if (!t->is_array()) fail("'tools' must be a list", "tools");
      if (!t->empty()) r.tools = *t;
    }
    if (const Json* k = field(body, "chat_template_kwargs")) {
      if (!k->is_object()) fail("'chat_template_kwargs' must be an object", "chat_template_kwargs");
      r.template_kwargs = *k;
    }
    if (auto v = boolean(body, "add_generation_prompt")) r.add_generation_prompt = *v;
    if (auto v = boolean(body, "continue_final_message")) r.continue_final_message = *v;
    if (r.continue_final_message) {
      if (r.add_generation_prompt && field(body, "add_generation_prompt"))
        fail("'continue_final_message' and 'add_generation_prompt' cannot both be true",
             "continue_final_message");
      r.add_generation_prompt = false;
      const Json& last = r.messages.back();
      if (last.value("role", "") != "assistant" || !last.contains("content") ||
          !last["content"].is_string())
        fail("'continue_final_message' needs a final assistant message with string content",
             "continue_final_message");
    }
    parse_common(body, r);
    r.structured = parse_structured_request(body, /*chat=*/true);
    const bool logprobs = boolean(body, "logprobs").value_or(false);
    auto top = integer(body, "top_logprobs", 0, kMaxLogprobs);
    if (top && !logprobs) fail("'top_logprobs' needs 'logprobs': true", "top_logprobs");
    if (logprobs) r.logprobs = static_cast<int>(top.value_or(0));
    return r;
  });
}

ApiResult<OpenAiRequest> parse_completion_request(const nlohmann::ordered_json& body,
                                                  const sampling::SamplingParams& defaults) {
  return guarded([&] {
    OpenAiRequest r;
    r.kind = ApiKind::completion;
    r.params = defaults;
    const Json* prompt = field(body, "prompt");
    if (!prompt) fail("'prompt' is required", "prompt");
    const char* shape = "'prompt' must be a string, a list of token ids, or a list of either";
    if (prompt->is_string()) {
      r.prompts.push_back({false, prompt->get<std::string>(), {}});
    } else if (prompt->is_array()) {
      if (prompt->empty()) fail("'prompt' must not be empty", "prompt");
      if ((*prompt)[0].is_number()) {
        r.prompts.push_back({true, {}, token_ids(*prompt, "prompt")});
      } else {
        for (const Json& x : *prompt) {
          if (x.is_string())
            r.prompts.push_back({false, x.get<std::string>(), {}});
          else if (x.is_array() && !x.empty())
            r.prompts.push_back({true, {}, token_ids(x, "prompt")});
          else
            fail(shape, "prompt");
        }
      }
    } else {
      fail(shape, "prompt");
    }
    if (r.prompts.size() > 64) fail("'prompt' may hold at most 64 prompts", "prompt");
    if (auto v = boolean(body, "add_special_tokens")) r.add_special_tokens = *v;
    parse_common(body, r);
    r.structured = parse_structured_request(body, /*chat=*/false);
    if (auto v = integer(body, "logprobs", 0, kMaxLogprobs)) r.logprobs = static_cast<int>(*v);
    if (auto v = boolean(body, "echo")) r.echo = *v;
    if (r.echo && r.logprobs >= 0)
      fail("'echo' together with 'logprobs' is not supported (no prompt logprobs yet)", "echo");
    if (field(body, "suffix")) fail("'suffix' is not supported", "suffix");
    if (auto best_of = integer(body, "best_of", 1, kMaxN); best_of && *best_of != r.n)
      fail("'best_of' other than n is not supported", "best_of");
    return r;
  });
}

ApiError engine_error(const std::string& message) {
  ApiError e = bad_request(message);
  static const char* kFields[] = {"temperature",
                                  "top_k",
                                  "top_p",
                                  "min_p",
                                  "typical_p",
                                  "repetition_penalty",
                                  "presence_penalty",
                                  "frequency_penalty",
                                  "logit_bias",
                                  "max_tokens",
                                  "min_tokens",
                                  "stop_token_ids",
                                  "stop",
                                  "n",
                                  "top_logprobs"};
  for (const char* f : kFields) {
    const std::string_view name = f;
    if (message.starts_with(name) && message.size() > name.size() &&
        (message[name.size()] == ' ' || message[name.size()] == ':')) {
      e.param = std::string(name);
      break;
    }
  }
  if (message.find("maximum context length") != std::string::npos ||
      message.find("maximum model length") != std::string::npos) {
    e.code = "context_length_exceeded";
  }
  return e;
}

}  // namespace pagoda::server
