#pragma once
// Renders a model's chat template for an OpenAI-style conversation, the way
// transformers' apply_chat_template and vLLM prepare it.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/expected.h"

namespace pagoda::chat {

// Renders `template_source` (Jinja) for `messages` (OpenAI chat messages:
// string content or lists of {type:"text", text} parts, assistant tool_calls
// whose `arguments` JSON strings are decoded to objects, tool results).
// `tools` is null when the request has none (the variable is then undefined).
// `date` ("YYYY-MM-DD") pins strftime_now(); otherwise the current time.
// `extra_context` keys are added last (e.g. enable_thinking). Keys keep their
// order. Thread-safe; returns the template's own error (with line/column) on failure.
Expected<std::string> render_chat(const std::string& template_source, const nlohmann::json& messages,
                                  const nlohmann::json& tools, bool add_generation_prompt,
                                  const std::string& bos_token, const std::string& eos_token,
                                  std::optional<std::string> date, const nlohmann::json& extra_context = {});

// The same with key order preserved from parsed input (the CLI reads files with ordered_json).
Expected<std::string> render_chat_ordered(const std::string& template_source,
                                          const nlohmann::ordered_json& messages,
                                          const nlohmann::ordered_json& tools, bool add_generation_prompt,
                                          const std::string& bos_token, const std::string& eos_token,
                                          std::optional<std::string> date,
                                          const nlohmann::ordered_json& extra_context = {});

// Prepares messages as vLLM does before rendering: decodes tool-call argument
// strings that hold JSON objects, and joins text-only content parts with "\n"
// unless `template_loops_over_content` (the template iterates content itself).
nlohmann::ordered_json normalize_messages(const nlohmann::ordered_json& messages, bool template_loops_over_content);

// True when the template iterates over a message's content (expects content parts).
bool template_iterates_content(const std::string& template_source);

}  // namespace pagoda::chat
