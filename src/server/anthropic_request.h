#pragma once
// The Anthropic Messages API's request side: a /v1/messages (or /v1/messages/count_tokens) body
// is validated and converted to the equivalent OpenAI chat body, which then takes the one chat
// path every front-end shares (parse_chat_request → prepare_generation). Errors go out in
// Anthropic's shape. Pure: no model, no I/O.
//
//   system (string | text blocks)      → a leading "system" message
//   user text blocks                   → a "user" message (blocks joined by "\n")
//   user tool_result blocks            → "tool" messages (tool_call_id, name, text content)
//   assistant text / tool_use blocks   → an "assistant" message with content and tool_calls
//   thinking / redacted_thinking       → dropped (they are not re-sent to the model)
//   image / document                   → 400: the model takes text only
//   tools {name, description, input_schema} → function tools
//   tool_choice auto | any | tool(name) | none, disable_parallel_tool_use
//                                      → "auto" | "required" | {function: name} | "none",
//                                        parallel_tool_calls
//   a final assistant message (text) → continue_final_message: the reply continues it (prefill)
//   stop_sequences → stop, metadata.user_id → user, thinking.type → chat_template_kwargs
//                    {"enable_thinking": enabled}
#include <nlohmann/json.hpp>
#include <string>

#include "server/api_error.h"
#include "server/http_session.h"

namespace pagoda::server {

enum class AnthropicEndpoint { messages, count_tokens };

// The OpenAI chat body equivalent to an Anthropic request body; 400 (message naming the field)
// for what Anthropic would refuse: a missing max_tokens (messages only), a bad role or block,
// a value out of Anthropic's ranges (temperature and top_p in [0, 1]).
ApiResult<nlohmann::ordered_json> anthropic_to_chat_body(const nlohmann::ordered_json& body,
                                                         AnthropicEndpoint endpoint);

// {"type": "error", "error": {"type": …, "message": …}}: the error type follows the status
// (400 invalid_request_error, 401 authentication_error, 403 permission_error, 404
// not_found_error, 413 request_too_large, 429 rate_limit_error, 503/529 overloaded_error,
// 500 api_error).
nlohmann::ordered_json anthropic_error_json(const ApiError& e);
// The error as an HTTP response; a 503 (busy, loading, shutting down) becomes Anthropic's 529.
HttpResponse anthropic_error_response(const ApiError& e);

}  // namespace pagoda::server
