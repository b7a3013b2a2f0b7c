// Hostile and malformed templates end with a clear error: bounded steps,
// depth and output; syntax errors carry line and column.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "chat/jinja_template.h"

namespace {

using pagoda::chat::jinja::RenderOptions;
using pagoda::chat::jinja::Template;

pagoda::Expected<std::string> render(const std::string& source, const RenderOptions& options = {},
                                     const nlohmann::ordered_json& context = nlohmann::ordered_json::object()) {
  auto t = Template::parse(source);
  if (!t) return t.error();
  return t->render(context, options);
}

void expect_error_containing(const pagoda::Expected<std::string>& out, const std::string& needle) {
  ASSERT_FALSE(out.ok()) << "rendered: " << out.value().substr(0, 200);
  EXPECT_NE(out.error().message.find(needle), std::string::npos) << out.error().message;
}

TEST(JinjaLimits, InfiniteMacroRecursionIsAnError) {
  expect_error_containing(render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"), "RecursionError");
}

TEST(JinjaLimits, MutualRecursionIsAnError) {
  expect_error_containing(
      render("{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}"),
      "RecursionError");
}

TEST(JinjaLimits, HugeOutputFromNestedLoopsIsAnError) {
  RenderOptions options;
  options.limits.max_output_bytes = 1 << 16;
  expect_error_containing(
      render("{% for i in range(1000) %}{% for j in range(1000) %}xxxxxxxxxx{% endfor %}{% endfor %}", options),
      "output exceeds");
}

TEST(JinjaLimits, StringRepetitionBomb) {
  RenderOptions options;
  options.limits.max_output_bytes = 1 << 16;
  expect_error_containing(render("{{ 'x' * 1000000000000 }}", options), "LimitError");
  expect_error_containing(render("{% set s = 'ab' %}{% for i in range(40) %}{% set s = s ~ s %}{% endfor %}", options),
                          "LimitError");
}

TEST(JinjaLimits, ListBombs) {
  expect_error_containing(render("{{ range(10000000000) | length }}"), "LimitError");
  expect_error_containing(render("{{ ([1] * 100000000000) | length }}"), "LimitError");
}

TEST(JinjaLimits, StepLimitStopsLongLoops) {
  RenderOptions options;
  options.limits.max_steps = 20000;
  expect_error_containing(
      render("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", options),
      "evaluation steps");
}

TEST(JinjaLimits, DeepNestingIsRejectedByTheParser) {
  std::string deep = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
  expect_error_containing(render(deep), "nested deeper");
  std::string deep_list = "{{ " + std::string(5000, '[') + std::string(5000, ']') + " }}";
  expect_error_containing(render(deep_list), "nested deeper");
  std::string deep_ifs;
  for (int i = 0; i < 3000; ++i) deep_ifs += "{% if true %}";
  expect_error_containing(render(deep_ifs), "nested deeper");
  std::string nots = "{{ " ;
  for (int i = 0; i < 5000; ++i) nots += "not ";
  expect_error_containing(render(nots + "1 }}"), "nested deeper");
}

TEST(JinjaLimits, ModerateNestingStillWorks) {
  std::string nested = "{{ " + std::string(50, '(') + "1" + std::string(50, ')') + " }}";
  auto out = render(nested);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, "1");
}

TEST(JinjaLimits, SelfContainingListPrintsAnErrorNotACrash) {
  auto out = render("{% set l = [] %}{% set _ = l.append(l) %}{{ l }}");
  expect_error_containing(out, "RecursionError");
  out = render("{% set l = [] %}{% set _ = l.append(l) %}{{ l | tojson }}");
  expect_error_containing(out, "RecursionError");
}

TEST(JinjaErrors, SyntaxErrorsReportLineAndColumn) {
  expect_error_containing(render("line one\n{% if %}"), "line 2");
  expect_error_containing(render("{{ 1 + }}"), "TemplateSyntaxError");
  expect_error_containing(render("{% for x in y %}no end"), "endfor");
  expect_error_containing(render("{{ 'unterminated }}"), "unterminated string");
  expect_error_containing(render("{{ x"), "missing '}}'");
  expect_error_containing(render("{# never closed"), "unclosed comment");
  expect_error_containing(render("{% raw %}never closed"), "endraw");
  expect_error_containing(render("{% break %}"), "outside of a loop");
  expect_error_containing(render("{% include 'x' %}"), "unsupported tag 'include'");
  expect_error_containing(render("{{ 99999999999999999999999 }}"), "too large");
  expect_error_containing(render("{{ a $ b }}"), "unexpected character");
}

TEST(JinjaErrors, RuntimeErrorsReportLineAndColumn) {
  auto out = render("ok\n  {{ missing.attr }}");
  expect_error_containing(out, "UndefinedError: 'missing' is undefined");
  expect_error_containing(out, "line 2, column 6");
}

TEST(JinjaErrors, ArithmeticEdgeCases) {
  expect_error_containing(render("{{ 9223372036854775807 + 1 }}"), "OverflowError");
  expect_error_containing(render("{{ 2 ** 64 }}"), "OverflowError");
  expect_error_containing(render("{{ 5 // 0 }}"), "ZeroDivisionError");
  expect_error_containing(render("{{ 5 % 0 }}"), "ZeroDivisionError");
  expect_error_containing(render("{{ 'abc'[::0] }}"), "slice step cannot be zero");
  expect_error_containing(render("{{ -(-9223372036854775807 - 1) }}"), "OverflowError");
}

TEST(JinjaErrors, BadFormatStrings) {
  expect_error_containing(render("{{ '%' % 1 }}"), "incomplete format");
  expect_error_containing(render("{{ '%s %s' % (1,) }}"), "not enough arguments");
  expect_error_containing(render("{{ '{' .format(1) }}"), "Single '{'");
  expect_error_containing(render("{{ '{5}'.format(1) }}"), "IndexError");
}

TEST(JinjaErrors, HugeSliceStepsDoNotOverflow) {
  auto out = render("{{ 'abcdef'[1::9223372036854775807] }}|{{ [1, 2, 3][::-9223372036854775807] }}|"
                    "{{ 'abc'[-9223372036854775807:9223372036854775807] }}");
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, "b|[3]|abc");
}

TEST(JinjaErrors, UnhashableKeysAreTypeErrors) {
  expect_error_containing(render("{{ {[1]: 2} }}"), "unhashable type: 'list'");
  expect_error_containing(render("{{ [1] in {'a': 1} }}"), "unhashable type");
}

TEST(JinjaContext, NonObjectContextIsAnError) {
  auto t = Template::parse("x");
  ASSERT_TRUE(t.ok());
  auto out = t->render(nlohmann::ordered_json::array());
  EXPECT_FALSE(out.ok());
}

TEST(JinjaContext, PinnedDateMustBeValid) {
  RenderOptions options;
  options.pinned_date = "2024-13-99";
  expect_error_containing(render("{{ strftime_now('%Y') }}", options), "YYYY-MM-DD");
  options.pinned_date = "2024-02-29";
  auto out = render("{{ strftime_now('%d %b %Y') }}", options);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, "29 Feb 2024");
}

}  // namespace
