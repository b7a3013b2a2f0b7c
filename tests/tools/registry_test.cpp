// Parser names, the factory, call ids and the JSON helpers under the formats.
#include <set>
#include <thread>

#include "tool_test_util.h"
#include "tools/json_scan.h"

namespace pagoda::tools::test {
namespace {

TEST(Registry, NamesAndErrors) {
  EXPECT_EQ(parser_names(),
            (std::vector<std::string>{"hermes", "llama3_json", "mistral", "granite", "pythonic"}));
  for (const auto& name : parser_names()) EXPECT_TRUE(make_parser(name, {}).ok()) << name;
  EXPECT_TRUE(make_parser("required_json", {}).ok());
  auto bad = make_parser("qwen3_xml", {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("qwen3_xml"), std::string::npos);
  EXPECT_NE(bad.error().message.find("hermes"), std::string::npos) << "lists the known names";
}

TEST(Registry, RandomIdsHaveTheirFormatsAndDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string a = random_tool_call_id(), b = random_mistral_call_id();
    EXPECT_TRUE(is_openai_id(a)) << a;
    EXPECT_TRUE(is_mistral_id(b)) << b;
    seen.insert(a);
    seen.insert(b);
  }
  EXPECT_EQ(seen.size(), 400u);
  std::string other;
  std::thread t([&] { other = random_tool_call_id(); });  // thread-local generators, no data race
  t.join();
  EXPECT_TRUE(is_openai_id(other));
}

TEST(JsonScan, FindsTheEndOfAValue) {
  JsonValueScanner s;
  const std::string text = R"({"a": "}\"{", "b": [1, {"c": "\\"}]}, "next")";
  EXPECT_EQ(s.feed(text.substr(0, 10)), 10u);
  EXPECT_EQ(s.state(), JsonValueScanner::State::running);
  const size_t n = s.feed(text.substr(10));
  EXPECT_EQ(s.state(), JsonValueScanner::State::done);
  EXPECT_EQ(text.substr(0, 10 + n), R"({"a": "}\"{", "b": [1, {"c": "\\"}]})");

  JsonValueScanner wrong;
  wrong.feed("{\"a\": [1}");
  EXPECT_EQ(wrong.state(), JsonValueScanner::State::bad);
  JsonValueScanner control;
  control.feed("\"a\nb\"");
  EXPECT_EQ(control.state(), JsonValueScanner::State::bad);
  JsonValueScanner scalar;
  EXPECT_EQ(scalar.feed("null,"), 4u);
  EXPECT_EQ(scalar.state(), JsonValueScanner::State::done);
}

TEST(JsonScan, LiteralsAndPartialSuffixes) {
  EXPECT_EQ(match_literal("<tool", "<tool_call>"), Match::partial);
  EXPECT_EQ(match_literal("", "<tool_call>"), Match::partial);
  EXPECT_EQ(match_literal("<tool_call>x", "<tool_call>"), Match::yes);
  EXPECT_EQ(match_literal("<tools", "<tool_call>"), Match::no);
  EXPECT_EQ(partial_suffix("abc <tool_c", {"<tool_call>"}), 7u);
  EXPECT_EQ(partial_suffix("abc <", {"<tool_call>", "<|tool_call|>"}), 1u);
  EXPECT_EQ(partial_suffix("abc", {"<tool_call>"}), 0u);
  EXPECT_EQ(partial_suffix("<tool_call>", {"<tool_call>"}), 0u)
      << "a whole trigger is not a partial one";
  EXPECT_EQ(compact_json_object(" {\"b\": 1,  \"a\": [ ]} ").value_or(""), R"({"b":1,"a":[]})");
  EXPECT_FALSE(compact_json_object("[1]"));
  EXPECT_FALSE(compact_json_object("{\"a\": 1} x"));
}

}  // namespace
}  // namespace pagoda::tools::test
