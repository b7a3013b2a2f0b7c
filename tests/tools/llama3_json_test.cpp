// llama3_json (Llama 3.1–3.3): [<|python_tag|>]{"name": …, "parameters": {…}}; …
#include "tool_test_util.h"

namespace pagoda::tools::test {
namespace {

const std::vector<std::string> kMarkup = {"<|python_tag|>", "\"name\"", "\"parameters\"", ";"};

TEST(Llama3Json, ParametersAsLlamaWritesThem) {
  const std::string text =
      R"({"name": "get_weather", "parameters": {"city": "San Francisco", "days": 3}})";
  const auto out = check_consistent("llama3_json", text);
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.calls[0].name, "get_weather");
  EXPECT_EQ(out.calls[0].arguments, R"({"city":"San Francisco","days":3})");
  EXPECT_FALSE(out.content.has_value());
  EXPECT_TRUE(is_openai_id(out.calls[0].id));
}

TEST(Llama3Json, PythonTagArgumentsAndSeveralCalls) {
  const std::string text =
      "<|python_tag|>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"東京\"}}; "
      "{\"name\": \"get_time\", \"parameters\": {}};\n{\"type\": \"function\", \"name\": \"note\", "
      "\"parameters\": "
      "{\"text\": \"say \\\"hi\\\" \\\\ 😀\"}}";
  const auto out = check_consistent("llama3_json", text);
  ASSERT_EQ(out.calls.size(), 3u);
  EXPECT_EQ(out.calls[0].arguments, R"({"city":"東京"})");
  EXPECT_EQ(out.calls[1].name, "get_time");
  EXPECT_EQ(out.calls[1].arguments, "{}");
  EXPECT_EQ(json_of(out.calls[2].arguments)["text"], "say \"hi\" \\ 😀");
  EXPECT_FALSE(out.content.has_value());
}

TEST(Llama3Json, LeadingWhitespaceAndTrailingText) {
  const auto out = check_consistent(
      "llama3_json", "\n {\"name\": \"f\", \"parameters\": {\"a\": 1}}\nThat is all.");
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.content.value_or(""), "That is all.");
  expect_no_markup(out.content, kMarkup);
}

TEST(Llama3Json, OnlyOutputThatStartsWithACallHoldsCalls) {
  for (const std::string text :
       {"The call would be {\"name\": \"f\", \"parameters\": {}}", "{\"answer\": 42}", "{\"nam",
        "  {\"parameters\": {}}", "<|python_tag|>print('hi')", "<|python_ta", "{}", "{ not json }",
        "Plain answer.", "   ", "{\"parameters\": [1], \"name\": \"f\"}"}) {
    SCOPED_TRACE(text);
    expect_all_content(check_consistent("llama3_json", text), text);
  }
}

TEST(Llama3Json, UnknownNameIsContent) {
  ParserOptions o;
  o.tool_names = {"get_weather"};
  const std::string text = R"({"name": "John", "parameters": {"age": 30}})";
  expect_all_content(check_consistent("llama3_json", text, o), text);
  EXPECT_EQ(check_consistent("llama3_json", R"({"name": "get_weather", "parameters": {}})", o)
                .calls.size(),
            1u);
}

TEST(Llama3Json, StreamsNameThenArguments) {
  auto p = make("llama3_json");
  EXPECT_TRUE(p->push("<|python_").empty());
  EXPECT_TRUE(p->push("tag|>{\"name\": \"get_").empty());
  auto d = p->push("weather\", \"parameters\": {\"city\": ");
  ASSERT_EQ(d.calls.size(), 1u);
  EXPECT_EQ(d.calls[0].name.value_or(""), "get_weather");
  EXPECT_EQ(d.calls[0].arguments, "{\"city\": ");
  d = p->push("\"Rome\"}}; ");
  ASSERT_EQ(d.calls.size(), 1u);
  EXPECT_EQ(d.calls[0].arguments, "\"Rome\"}");
  EXPECT_TRUE(p->finish().empty());
  EXPECT_EQ(p->triggers(), (std::vector<std::string>{"<|python_tag|>", "{\"name\""}));
}

}  // namespace
}  // namespace pagoda::tools::test
