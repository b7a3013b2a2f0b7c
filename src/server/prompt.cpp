#include "server/prompt.h"

#include "chat/chat_template.h"

namespace pagoda::server {

ApiResult<std::string> render_chat_prompt(const ServedModel& model,
                                          const nlohmann::ordered_json& messages,
                                          const nlohmann::ordered_json& tools,
                                          const nlohmann::ordered_json& template_kwargs,
                                          bool add_generation_prompt) {
  if (model.chat_template.empty())
    return bad_request(
        "this model has no chat template; use /v1/completions or start the server with "
        "--chat-template FILE",
        "messages");
  // render_chat_ordered normalizes the messages (content parts, tool-call arguments) itself.
  auto rendered =
      chat::render_chat_ordered(model.chat_template, messages, tools, add_generation_prompt,
                                model.bos_text, model.eos_text, std::nullopt, template_kwargs);
  if (!rendered) return bad_request("chat template: " + rendered.error().message, "messages");
  return std::move(*rendered);
}

ApiResult<std::string> render_request_prompt(const ServedModel& model, const OpenAiRequest& r) {
  auto rendered =
      render_chat_prompt(model, r.messages, r.tools, r.template_kwargs, r.add_generation_prompt);
  if (!rendered || !r.continue_final_message) return rendered;
  // The template closes the final turn (an end-of-turn token and more): cut after its content.
  const std::string content = r.messages.back()["content"].get<std::string>();
  const size_t at = content.empty() ? std::string::npos : rendered->rfind(content);
  if (at == std::string::npos)
    return bad_request(
        "continue_final_message: the chat template does not render the final message's content "
        "verbatim, so it cannot be continued",
        "messages");
  return rendered->substr(0, at + content.size());
}

std::vector<int32_t> chat_prompt_ids(const ServedModel& model, const std::string& rendered) {
  const bool has_bos = !model.bos_text.empty() && rendered.starts_with(model.bos_text);
  return model.tok->encode(rendered, /*add_special=*/!has_bos, /*parse_special=*/true);
}

std::vector<int32_t> completion_prompt_ids(const ServedModel& model, const PromptInput& prompt,
                                           bool add_special_tokens) {
  if (prompt.is_ids) return prompt.ids;
  return model.tok->encode(prompt.text, add_special_tokens, /*parse_special=*/true);
}

}  // namespace pagoda::server
