#pragma once
// Parses and validates OpenAI chat / completion request bodies into what the
// engine needs: prompts, SamplingParams with OpenAI's defaults (no top-k or
// min-p filtering unless asked), n, logprobs and streaming options. Pure
// functions: no model, no I/O; token ids are range-checked later by the engine.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sampling/sampling_params.h"
#include "server/api_error.h"
#include "server/structured_request.h"

namespace pagoda::server {

enum class ApiKind { chat, completion };

// One completion prompt: text, or token ids when `is_ids`.
struct PromptInput {
  bool is_ids = false;
  std::string text;
  std::vector<int32_t> ids;
};

struct OpenAiRequest {
  ApiKind kind = ApiKind::chat;
  std::string model;                       // "" when absent
  nlohmann::ordered_json messages;         // chat: the conversation as sent
  nlohmann::ordered_json tools;            // chat: null when absent
  nlohmann::ordered_json template_kwargs;  // chat: chat_template_kwargs, null when absent
  bool add_generation_prompt = true;       // chat
  // chat: the reply continues the final assistant message (a prefill) instead of opening a new
  // turn; the prompt ends right after that message's content (vLLM's parameter).
  bool continue_final_message = false;
  std::vector<PromptInput> prompts;        // completion: one group of n choices each
  bool add_special_tokens = true;          // completion: BOS per the vocab
  sampling::SamplingParams params;         // OpenAI defaults; max_tokens is set per prompt
  std::optional<int> max_tokens;  // max_completion_tokens or max_tokens; unset: the room left
  int n = 1;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool echo = false;           // completion: prepend the prompt
  int logprobs = -1;           // alternatives per token; -1: no logprobs
  std::string user;
  StructuredRequest structured;  // tools, tool_choice, response_format, grammar
};

// Upper bounds the parser enforces before the engine sees a request.
inline constexpr int kMaxN = 128;
inline constexpr int kMaxLogprobs = 20;
inline constexpr int kMaxJsonDepth = 64;

// SamplingParams with OpenAI's semantics: temperature 1, top_p 1, top_k off,
// min_p 0, penalties off over the whole history, max_tokens unset (1 here).
sampling::SamplingParams openai_default_params();

// Parses a JSON object body; 400 on malformed JSON, nesting deeper than
// kMaxJsonDepth, or a non-object top level.
ApiResult<nlohmann::ordered_json> parse_json_body(std::string_view body);

// Validates a /v1/chat/completions body (unknown fields ignored); 400 naming the parameter.
// Fields the body leaves out take their value from `defaults` (see --generation-config).
ApiResult<OpenAiRequest> parse_chat_request(const nlohmann::ordered_json& body,
                                            const sampling::SamplingParams& defaults = openai_default_params());
// Validates a /v1/completions body (unknown fields ignored); 400 naming the parameter.
ApiResult<OpenAiRequest> parse_completion_request(const nlohmann::ordered_json& body,
                                                  const sampling::SamplingParams& defaults = openai_default_params());

// Turns an engine validation message (e.g. "top_p must be in (0, 1], got 2")
// into a 400 whose param is the field the message starts with, and whose code
// is context_length_exceeded for length errors.
ApiError engine_error(const std::string& message);

}  // namespace pagoda::server
