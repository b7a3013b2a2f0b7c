// render_chat: how OpenAI-style requests become template variables.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"

namespace {

using nlohmann::ordered_json;
using pagoda::chat::render_chat;
using pagoda::chat::render_chat_ordered;

std::string must(const pagoda::Expected<std::string>& out) {
  EXPECT_TRUE(out.ok()) << out.error().message;
  return out.ok() ? *out : std::string();
}

TEST(RenderChat, TokensGenerationPromptAndDate) {
  const std::string tpl =
      "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{{ eos_token }}{% endfor %}"
      "{% if add_generation_prompt %}<assistant>{% endif %}{{ strftime_now('%d %B %Y') }}";
  auto messages = ordered_json::parse(R"([{"role": "user", "content": "Hi"}])");
  EXPECT_EQ(must(render_chat_ordered(tpl, messages, nullptr, true, "<s>", "</s>", "2024-07-26")),
            "<s><user>Hi</s><assistant>26 July 2024");
  EXPECT_EQ(must(render_chat_ordered(tpl, messages, nullptr, false, "B", "E", "2023-01-02")),
            "B<user>HiE02 January 2023");
}

TEST(RenderChat, ToolsAreUndefinedWhenAbsent) {
  const std::string tpl = "{{ tools is defined }}{% if tools %}:{{ tools | length }}{% endif %}";
  auto messages = ordered_json::array();
  EXPECT_EQ(must(render_chat_ordered(tpl, messages, nullptr, false, "", "", std::nullopt)), "False");
  auto tools = ordered_json::parse(R"([{"type": "function", "function": {"name": "f"}}])");
  EXPECT_EQ(must(render_chat_ordered(tpl, messages, tools, false, "", "", std::nullopt)), "True:1");
}

TEST(RenderChat, TextPartsAreJoinedUnlessTheTemplateLoopsOverContent) {
  auto messages = ordered_json::parse(
      R"([{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}])");
  EXPECT_EQ(must(render_chat_ordered("{{ messages[0].content }}", messages, nullptr, false, "", "", std::nullopt)),
            "a\nb");
  const std::string looping =
      "{% for m in messages %}{% for part in m['content'] %}[{{ part.text }}]{% endfor %}{% endfor %}";
  EXPECT_EQ(must(render_chat_ordered(looping, messages, nullptr, false, "", "", std::nullopt)), "[a][b]");
  // Non-text parts are left for the template to handle.
  auto image = ordered_json::parse(R"([{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}])");
  EXPECT_EQ(must(render_chat_ordered("{{ messages[0].content[0].type }}", image, nullptr, false, "", "",
                                     std::nullopt)),
            "image_url");
}

TEST(RenderChat, ToolCallArgumentsAreDecodedKeepingKeyOrder) {
  auto messages = ordered_json::parse(R"([{"role": "assistant", "tool_calls": [
      {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{\"zeta\": 1, \"alpha\": {\"y\": 2, \"x\": 3}}"}},
      {"id": "2", "type": "function", "function": {"name": "g", "arguments": "[1, 2"}}]}])");
  const std::string tpl =
      "{% for c in messages[0].tool_calls %}{{ c.function.arguments | tojson }};{% endfor %}"
      "{{ messages[0].tool_calls[0].function.arguments.alpha.x }}";
  EXPECT_EQ(must(render_chat_ordered(tpl, messages, nullptr, false, "", "", std::nullopt)),
            R"({"zeta": 1, "alpha": {"y": 2, "x": 3}};"[1, 2";3)");
}

TEST(RenderChat, MessageKeyOrderIsKept) {
  auto messages = ordered_json::parse(R"([{"role": "user", "content": "c", "name": "n", "a": 1}])");
  EXPECT_EQ(must(render_chat_ordered("{{ messages[0] | tojson }}", messages, nullptr, false, "", "", std::nullopt)),
            R"({"role": "user", "content": "c", "name": "n", "a": 1})");
}

TEST(RenderChat, ExtraContextAddsVariables) {
  auto extra = ordered_json::parse(R"({"enable_thinking": false, "bos_token": "override"})");
  EXPECT_EQ(must(render_chat_ordered("{{ enable_thinking }} {{ bos_token }}", ordered_json::array(), nullptr, false,
                                     "<s>", "", std::nullopt, extra)),
            "False override");
}

TEST(RenderChat, PlainJsonOverloadWorks) {
  nlohmann::json messages = nlohmann::json::parse(R"([{"role": "user", "content": "x"}])");
  EXPECT_EQ(must(render_chat("{{ messages[0].content }}{{ eos_token }}", messages, nullptr, false, "", "E",
                             std::nullopt)),
            "xE");
}

TEST(RenderChat, ErrorsAreValues) {
  auto out = render_chat_ordered("{{ raise_exception('System role not supported') }}", ordered_json::array(), nullptr,
                                 false, "", "", std::nullopt);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().message.find("System role not supported"), std::string::npos);
  out = render_chat_ordered("{% if %}", ordered_json::array(), nullptr, false, "", "", std::nullopt);
  EXPECT_FALSE(out.ok());
  out = render_chat_ordered("x", ordered_json::object(), nullptr, false, "", "", std::nullopt);
  EXPECT_FALSE(out.ok());
}

}  // namespace
