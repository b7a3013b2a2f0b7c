// mistral ([TOOL_CALLS][…] and [TOOL_CALLS]name{…}) and granite (<|tool_call|>[…]).
#include "tool_test_util.h"

namespace pagoda::tools::test {
namespace {

const std::vector<std::string> kMistralMarkup = {"[TOOL_CALLS]", "[ARGS]", "[CALL_ID]", "\"name\""};

TEST(Mistral, OldFormatJsonList) {
  const std::string text =
      "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}, "
      "{\"name\": \"get_time\", \"arguments\": {}, \"id\": \"abcdefghi\"}]";
  const auto out = check_consistent("mistral", text);
  ASSERT_EQ(out.calls.size(), 2u);
  EXPECT_EQ(out.calls[0].name, "get_weather");
  EXPECT_EQ(out.calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(out.calls[1].name, "get_time");
  EXPECT_EQ(out.calls[1].arguments, "{}");
  for (const auto& call : out.calls) EXPECT_TRUE(is_mistral_id(call.id)) << call.id;
  EXPECT_NE(out.calls[0].id, out.calls[1].id);
  EXPECT_FALSE(out.content.has_value());
}

TEST(Mistral, NewFormatRepeatedAndWithMarkers) {
  const std::string text =
      "I will look.\n[TOOL_CALLS]get_weather{\"city\": \"Zürich\", \"note\": \"a \\\"quoted\\\" "
      "}\"}"
      "[TOOL_CALLS]get_time[ARGS]{}[TOOL_CALLS]note[CALL_ID]a1B2c3D4e[ARGS]{\"text\": \"日本語 "
      "🎌\"}";
  const auto out = check_consistent("mistral", text);
  ASSERT_EQ(out.calls.size(), 3u);
  EXPECT_EQ(out.content.value_or(""), "I will look.");
  EXPECT_EQ(json_of(out.calls[0].arguments)["note"], "a \"quoted\" }");
  EXPECT_EQ(out.calls[1].name, "get_time");
  EXPECT_EQ(out.calls[1].arguments, "{}");
  EXPECT_EQ(out.calls[2].name, "note");
  EXPECT_EQ(json_of(out.calls[2].arguments)["text"], "日本語 🎌");
  for (const auto& call : out.calls) EXPECT_TRUE(is_mistral_id(call.id)) << call.id;
  expect_no_markup(out.content, kMistralMarkup);
}

TEST(Mistral, StreamsSplitTagAndArguments) {
  auto p = make("mistral");
  auto d = p->push("Ok [TOOL_");
  EXPECT_EQ(d.content, "Ok");
  EXPECT_TRUE(p->push("CALLS]get_wea").empty()) << "the name is sent only when complete";
  d = p->push("ther{\"city\": \"Li");
  ASSERT_EQ(d.calls.size(), 1u);
  EXPECT_EQ(d.calls[0].name.value_or(""), "get_weather");
  EXPECT_EQ(d.calls[0].arguments, "{\"city\": \"Li");
  d = p->push("ma\"}");
  ASSERT_EQ(d.calls.size(), 1u);
  EXPECT_EQ(d.calls[0].arguments, "ma\"}");
  EXPECT_TRUE(p->finish().empty());
}

TEST(Mistral, NotCalls) {
  ParserOptions o;
  o.tool_names = {"get_weather"};
  for (const std::string text :
       {"no calls here [TOOL", "[TOOL_CALLS]", "[TOOL_CALLS] []", "[TOOL_CALLS]get weather{}",
        "[TOOL_CALLS]{\"a\": 1}", "[TOOL_CALLS]unknown_fn{\"a\": 1}",
        "[TOOL_CALLS]get_weather[OOPS]{}", "[TOOL_CALLS]get_wea",
        "[TOOL_CALLS] [{\"name\": \"unknown_fn\", \"arguments\": {}}]", "[TOOLS] [1, 2]"}) {
    SCOPED_TRACE(text);
    expect_all_content(check_consistent("mistral", text, o), text);
  }
}

TEST(Granite, ListAfterEitherTag) {
  const std::string text =
      "<|tool_call|>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Boston\"}}, "
      "{\"name\": \"get_time\", "
      "\"arguments\": {\"tz\": \"EST\"}}]";
  auto out = check_consistent("granite", text);
  ASSERT_EQ(out.calls.size(), 2u);
  EXPECT_EQ(out.calls[1].arguments, R"({"tz":"EST"})");
  EXPECT_FALSE(out.content.has_value());
  EXPECT_TRUE(is_openai_id(out.calls[0].id));

  out = check_consistent(
      "granite", "Checking. <tool_call>[{\"name\": \"f\", \"arguments\": {\"s\": \"ü\\n\"}}]");
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.content.value_or(""), "Checking.");
  EXPECT_EQ(json_of(out.calls[0].arguments)["s"], "ü\n");
  expect_no_markup(out.content, {"<tool_call>", "<|tool_call|>", "[", "]"});
}

TEST(Granite, NotCalls) {
  for (const std::string text :
       {"<|tool_call|>[]", "<|tool_call|>{\"name\": \"f\"}", "<|tool_call|>[{\"nam", "<|tool_",
        "plain", "<|tool_call|>[{\"arguments\": {}}]"}) {
    SCOPED_TRACE(text);
    expect_all_content(check_consistent("granite", text), text);
  }
}

TEST(Granite, UnknownSecondCallAfterACommit) {
  // The stream cannot take back the first call; the rejected one is shown as text from its start.
  ParserOptions o;
  o.tool_names = {"a"};
  const std::string text =
      "<|tool_call|>[{\"name\": \"a\", \"arguments\": {}}, {\"name\": \"zz\", \"arguments\": {}}]";
  auto p = make("granite", o);
  const auto r = run_stream(*p, split_chars(text));
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].arguments, "{}");
  EXPECT_EQ(r.content, "{\"name\": \"zz\", \"arguments\": {}}]");
  expect_all_content(make("granite", o)->parse(text), text);
}

}  // namespace
}  // namespace pagoda::tools::test
