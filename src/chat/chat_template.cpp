#include "chat/chat_template.h"

#include <regex>

#include "chat/jinja_template.h"

namespace pagoda::chat {

bool template_iterates_content(const std::string& template_source) {
  // `{% for part in message['content'] %}`, `for c in message.content`, ...
  static const std::regex loop_over_content(R"(\{%-?\s*for\s+[\w\s,]+\s+in\s+[^%]*content)");
  return std::regex_search(template_source, loop_over_content);
}

nlohmann::ordered_json normalize_messages(const nlohmann::ordered_json& messages, bool template_loops_over_content) {
  if (!messages.is_array()) return messages;
  nlohmann::ordered_json out = messages;
  for (auto& message : out) {
    if (!message.is_object()) continue;
    auto content = message.find("content");
    if (content != message.end() && content->is_array() && !template_loops_over_content) {
      bool text_only = true;
      std::string joined;
      for (const auto& part : *content) {
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
            !part["text"].is_string()) {
          text_only = false;
          break;
        }
        if (!joined.empty()) joined += "\n";
        joined += part["text"].get<std::string>();
      }
      if (text_only) *content = joined;
    }
    auto calls = message.find("tool_calls");
    if (calls == message.end() || !calls->is_array()) continue;
    for (auto& call : *calls) {
      if (!call.is_object() || !call.contains("function") || !call["function"].is_object()) continue;
      auto& fn = call["function"];
      auto args = fn.find("arguments");
      if (args == fn.end() || !args->is_string()) continue;
      auto parsed = nlohmann::ordered_json::parse(args->get<std::string>(), nullptr, /*allow_exceptions=*/false);
      if (parsed.is_object()) *args = std::move(parsed);  // not valid JSON: keep the string
    }
  }
  return out;
}

Expected<std::string> render_chat_ordered(const std::string& template_source,
                                          const nlohmann::ordered_json& messages,
                                          const nlohmann::ordered_json& tools, bool add_generation_prompt,
                                          const std::string& bos_token, const std::string& eos_token,
                                          std::optional<std::string> date,
                                          const nlohmann::ordered_json& extra_context) {
  if (!messages.is_array()) return Error{"messages must be a JSON array"};
  if (!extra_context.is_null() && !extra_context.is_object()) return Error{"extra context must be a JSON object"};
  auto parsed = jinja::Template::parse(template_source);
  if (!parsed) return parsed.error();
  nlohmann::ordered_json context = nlohmann::ordered_json::object();
  context["messages"] = normalize_messages(messages, template_iterates_content(template_source));
  // No tools: the variable stays undefined (templates test `tools is defined`
  // or iterate it; the reference renderings were made that way).
  if (!tools.is_null()) context["tools"] = tools;
  context["add_generation_prompt"] = add_generation_prompt;
  context["bos_token"] = bos_token;
  context["eos_token"] = eos_token;
  if (extra_context.is_object())
    for (const auto& [key, value] : extra_context.items()) context[key] = value;
  jinja::RenderOptions options;
  if (date) options.pinned_date = *date;
  return parsed->render(context, options);
}

Expected<std::string> render_chat(const std::string& template_source, const nlohmann::json& messages,
                                  const nlohmann::json& tools, bool add_generation_prompt,
                                  const std::string& bos_token, const std::string& eos_token,
                                  std::optional<std::string> date, const nlohmann::json& extra_context) {
  return render_chat_ordered(template_source, nlohmann::ordered_json(messages), nlohmann::ordered_json(tools),
                             add_generation_prompt, bos_token, eos_token, std::move(date),
                             nlohmann::ordered_json(extra_context));
}

}  // namespace pagoda::chat
