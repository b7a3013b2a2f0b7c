// pythonic (Llama 3.2, Llama 4): [f(a=1), g(b="x")] and the Python literal reader behind it.
#include <cstdint>

#include "tool_test_util.h"
#include "tools/python_literal.h"

namespace pagoda::tools::test {
namespace {

TEST(Pythonic, CallListAsLlamaWritesIt) {
  const std::string text = "[get_weather(city='San Francisco', metric=True, days=3), get_time()]";
  const auto out = check_consistent("pythonic", text);
  ASSERT_EQ(out.calls.size(), 2u);
  EXPECT_EQ(out.calls[0].name, "get_weather");
  EXPECT_EQ(out.calls[0].arguments, R"({"city":"San Francisco","metric":true,"days":3})");
  EXPECT_EQ(out.calls[1].name, "get_time");
  EXPECT_EQ(out.calls[1].arguments, "{}");
  EXPECT_FALSE(out.content.has_value());
  EXPECT_TRUE(is_openai_id(out.calls[0].id));
}

TEST(Pythonic, PythonLiteralsBecomeJson) {
  const std::string text =
      "[f(s='it\\'s \"x\"', d={'a': [1, 2.5, None, False], 3: (1,)}, t=(1, 2), neg=-3, e=1e3, "
      "hex=0xFF, "
      "u=\"caf\\u00e9 \\x41\\q\", raw=r'\\d+', cat='ab' \"cd\", uni='café 😀 中文', "
      "tri='''a\n'b''', "
      "big=123_456, nested=[[[]]], j=true, z=null)]";
  const auto out = check_consistent("pythonic", text);
  ASSERT_EQ(out.calls.size(), 1u) << text;
  const auto args = json_of(out.calls[0].arguments);
  EXPECT_EQ(args["s"], "it's \"x\"");
  EXPECT_EQ(args["d"], json_of(R"({"a": [1, 2.5, null, false], "3": [1]})"));
  EXPECT_EQ(args["t"], json_of("[1, 2]"));
  EXPECT_EQ(args["neg"], -3);
  EXPECT_EQ(args["e"], 1000.0);
  EXPECT_EQ(args["hex"], 255);
  EXPECT_EQ(args["u"], "café A\\q");
  EXPECT_EQ(args["raw"], "\\d+");
  EXPECT_EQ(args["cat"], "abcd");
  EXPECT_EQ(args["uni"], "café 😀 中文");
  EXPECT_EQ(args["tri"], "a\n'b");
  EXPECT_EQ(args["big"], 123456);
  EXPECT_EQ(args["nested"], json_of("[[[]]]"));
  EXPECT_EQ(args["j"], true);
  EXPECT_TRUE(args["z"].is_null());
}

TEST(Pythonic, Llama4WrapperAndWhitespace) {
  auto out = check_consistent("pythonic", "<|python_start|>[search(query=\"x\")]<|python_end|>");
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_FALSE(out.content.has_value());
  out = check_consistent("pythonic", "\n [\n  a(x=1),\n  b(y=[1, 2]),\n]\n");
  ASSERT_EQ(out.calls.size(), 2u);
  EXPECT_EQ(out.calls[1].arguments, R"({"y":[1,2]})");
  EXPECT_FALSE(out.content.has_value());
}

TEST(Pythonic, NotCalls) {
  ParserOptions o;
  o.tool_names = {"get_weather", "f"};
  for (const std::string text :
       {"[1, 2]", "[]", "[Note: nothing to call]", "[f(1)]", "[f(a=b)]", "[f(a=g(x=1))]",
        "[f(a=1, a=2)]", "Sure: [f(a=1)]", "[unknown(a=1)]", "[f(a=1)", "[f(a='unterminated)]",
        "[f(a=1)] trailing", "<|python_start|>text", "plain text", "[f(a={1, 2})]", "[f(a=[1, 2)]",
        "[f(a=01)]", "[f(a=1.2.3)]"}) {
    SCOPED_TRACE(text);
    expect_all_content(check_consistent("pythonic", text, o), text);
  }
}

TEST(Pythonic, ReleasesLookalikesEarlyAndHoldsCallsUntilTheEnd) {
  auto p = make("pythonic");
  EXPECT_TRUE(p->push("[1").content == "[1") << "no function call syntax: released at once";
  EXPECT_EQ(p->push(", 2]").content, ", 2]");
  p = make("pythonic");
  EXPECT_TRUE(p->push("[get_weather(city=").empty());
  EXPECT_TRUE(p->push("'Oslo ]'").empty()) << "a ] inside a string does not close the list";
  EXPECT_TRUE(p->push(")]").empty()) << "only a list that is the whole output holds calls";
  EXPECT_TRUE(p->push(" \n").empty());
  EXPECT_FALSE(p->saw_calls());
  auto d = p->finish();
  ASSERT_EQ(d.calls.size(), 1u);
  EXPECT_EQ(d.calls[0].name.value_or(""), "get_weather");
  EXPECT_EQ(d.calls[0].arguments, R"({"city":"Oslo ]"})");
  EXPECT_TRUE(p->saw_calls());
  EXPECT_EQ(d.content, "");
}

TEST(PythonLiteral, IncompleteVersusInvalid) {
  std::vector<PythonCall> calls;
  for (const char* text : {"[", "[f", "[f(", "[f(a", "[f(a=", "[f(a='x", "[f(a=\"\"", "[f(a=Tru",
                           "[f(a=1", "[f(a=1)", "[f(a=1),", "[f(a=[1, {'k': (2,"}) {
    EXPECT_EQ(parse_python_calls(text, calls), PythonParse::incomplete) << text;
  }
  for (const char* text :
       {"[1", "[f)", "[f(1", "[f(a=x)]", "[f(a=b'x')]", "[f(a=1))", "[f(a=1)] x", "[f(a=1)]]",
        "[f(a=\"\\N{BULLET}\")]", "[f(a=1j)]", "[f(a='\\ud800')]"}) {
    EXPECT_EQ(parse_python_calls(text, calls), PythonParse::invalid) << text;
  }
  EXPECT_EQ(
      parse_python_calls("[f(a=-9223372036854775808, b=18446744073709551615, c=1e999999)]", calls),
      PythonParse::invalid)
      << "inf is no JSON number";
  ASSERT_EQ(parse_python_calls("[f(a=-9223372036854775808, b=18446744073709551615, c=(1))]", calls),
            PythonParse::ok);
  EXPECT_EQ(calls[0].arguments["a"].get<int64_t>(), INT64_MIN);
  EXPECT_EQ(calls[0].arguments["b"].get<uint64_t>(), UINT64_MAX);
  EXPECT_EQ(calls[0].arguments["c"], 1);
  std::string deep = "[f(a=" + std::string(100, '[') + std::string(100, ']') + ")]";
  EXPECT_EQ(parse_python_calls(deep, calls), PythonParse::invalid) << "nesting is bounded";
}

}  // namespace
}  // namespace pagoda::tools::test
