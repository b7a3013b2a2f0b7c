// required_json and named_json: what the server constrains generation to for tool_choice.
#include "tool_test_util.h"

namespace pagoda::tools::test {
namespace {

ParserOptions forced(const std::string& name) {
  ParserOptions o;
  o.tool_names = {"get_weather", "get_time"};
  o.forced_name = name;
  return o;
}

TEST(RequiredJson, ArrayOfCalls) {
  ParserOptions o;
  o.tool_names = {"get_weather", "get_time"};
  const std::string text =
      "[{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Kraków\", \"q\": \"\\\"\\\\\"}}, "
      "{\"name\": "
      "\"get_time\", \"arguments\": {}}]";
  const auto out = check_consistent("required_json", text, o);
  ASSERT_EQ(out.calls.size(), 2u);
  EXPECT_EQ(json_of(out.calls[0].arguments)["city"], "Kraków");
  EXPECT_EQ(json_of(out.calls[0].arguments)["q"], "\"\\");
  EXPECT_EQ(out.calls[1].arguments, "{}");
  EXPECT_FALSE(out.content.has_value());
  EXPECT_TRUE(is_openai_id(out.calls[1].id));
  EXPECT_EQ(check_consistent("required_json", "  [ {\"name\":\"get_time\"} ]  ", o).calls.size(),
            1u);
}

TEST(RequiredJson, NotCalls) {
  ParserOptions o;
  o.tool_names = {"get_weather"};
  for (const std::string text :
       {"[]", "{\"name\": \"get_weather\", \"parameters\": {}}", "text", "",
        "[{\"name\": \"other\", \"parameters\": {}}]", "[{\"name\": \"get_we", "[1]"}) {
    SCOPED_TRACE(text);
    expect_all_content(check_consistent("required_json", text, o), text);
  }
}

TEST(NamedJson, TheOutputIsTheArguments) {
  const std::string text =
      " {\"city\": \"Paris\", \"when\": {\"day\": \"lundi\", \"list\": [1, \"]}\"]}}";
  const auto out = check_consistent("named_json", text, forced("get_weather"));
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.calls[0].name, "get_weather");
  EXPECT_EQ(out.calls[0].arguments, R"({"city":"Paris","when":{"day":"lundi","list":[1,"]}"]}})");
  EXPECT_FALSE(out.content.has_value());
  EXPECT_EQ(check_consistent("named_json", "{}", forced("get_time")).calls.at(0).arguments, "{}");
}

TEST(NamedJson, StreamsFromTheFirstBrace) {
  auto p = make("named_json", forced("get_weather"));
  EXPECT_TRUE(p->push("  ").empty());
  auto d = p->push("{\"ci");
  ASSERT_EQ(d.calls.size(), 1u);
  EXPECT_EQ(d.calls[0].name.value_or(""), "get_weather");
  EXPECT_EQ(d.calls[0].arguments, "{\"ci");
  d = p->push("ty\": 1}");
  EXPECT_EQ(d.calls.at(0).arguments, "ty\": 1}");
  EXPECT_TRUE(p->finish().empty());
}

TEST(NamedJson, NotCallsAndOptions) {
  for (const std::string text : {"[1]", "plain", "", "   "}) {
    SCOPED_TRACE(text);
    expect_all_content(check_consistent("named_json", text, forced("get_weather")), text);
  }
  const std::string text = "{\"a\": 1}";
  expect_all_content(check_consistent("named_json", text, forced("not_offered")), text);
  auto p = make_parser("named_json", ParserOptions{});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("forced"), std::string::npos);
}

}  // namespace
}  // namespace pagoda::tools::test
