#pragma once
// Prompt text and token ids for a request: chat messages rendered with the
// model's template (the way `pagoda run --chat` does it), completion prompts
// tokenized with the vocab's BOS. Thread-safe (reads the model only).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/api_error.h"
#include "server/openai_request.h"
#include "server/served_model.h"

namespace pagoda::server {

// The rendered chat prompt; 400 when the model has no template or rendering fails.
ApiResult<std::string> render_chat_prompt(const ServedModel& model,
                                          const nlohmann::ordered_json& messages,
                                          const nlohmann::ordered_json& tools,
                                          const nlohmann::ordered_json& template_kwargs,
                                          bool add_generation_prompt);
// The rendered prompt of a parsed chat request, cut right after the final message's content
// when the request continues it (continue_final_message); 400 when the template does not show
// that content verbatim.
ApiResult<std::string> render_request_prompt(const ServedModel& model, const OpenAiRequest& request);
// Token ids of a rendered chat prompt: special tokens parsed, a BOS added only
// when the vocab wants one and the rendering does not already start with it.
std::vector<int32_t> chat_prompt_ids(const ServedModel& model, const std::string& rendered);
// Token ids of a completion prompt (ids are taken as they are).
std::vector<int32_t> completion_prompt_ids(const ServedModel& model, const PromptInput& prompt,
                                           bool add_special_tokens);

}  // namespace pagoda::server
