// JSON Schema -> grammar: every supported feature, checked by generating random constrained
// outputs, parsing them with nlohmann::json and validating them against the schema by hand;
// plus what each grammar must reject, and the errors for unsupported keywords.
#include <gtest/gtest.h>

#include "grammar/grammar.h"
#include "grammar_test_util.h"
#include "json_validator.h"

namespace pagoda::test {
namespace {

using grammar::Grammar;
using grammar::GrammarMatcher;
using nlohmann::json;

std::shared_ptr<const Grammar> compile(const json& schema) {
  auto g = Grammar::from_json_schema(schema);
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().message) << "\n" << schema.dump();
  return g.ok() ? *g : nullptr;
}

// Generates `n` random outputs; each must complete, parse, and validate. Returns them.
std::vector<json> check_outputs(const json& schema, int n = 25, uint32_t seed = 1) {
  auto g = compile(schema);
  std::vector<json> values;
  if (!g) return values;
  static const auto vocab = small_vocab();
  static const auto pieces = small_pieces();
  std::mt19937 rng(seed);
  for (int i = 0; i < n; ++i) {
    GrammarMatcher m(g, vocab);
    const Walk w = random_walk(m, pieces, rng);
    EXPECT_FALSE(w.dead_end) << w.text;
    EXPECT_TRUE(w.completed) << "incomplete after " << w.steps << " steps: " << w.text;
    if (!w.completed) continue;
    json v;
    try {
      v = json::parse(w.text);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "does not parse: " << e.what() << "\n" << w.text << "\n" << g->gbnf();
      continue;
    }
    const std::string err = validate_json(v, schema, schema);
    EXPECT_EQ(err, "") << w.text << "\n" << g->gbnf();
    values.push_back(v);
  }
  return values;
}

bool accepts(const json& schema, const std::string& text) {
  return matches(compile(schema), text);
}

std::string error_of(const json& schema) {
  auto g = Grammar::from_json_schema(schema);
  EXPECT_FALSE(g.ok()) << schema.dump() << "\n" << (g.ok() ? (*g)->gbnf() : "");
  return g.ok() ? "" : g.error().message;
}

TEST(JsonSchema, Strings) {
  check_outputs({{"type", "string"}});
  const auto v = check_outputs({{"type", "string"}, {"minLength", 2}, {"maxLength", 4}});
  EXPECT_EQ(v.size(), 25u);
  EXPECT_TRUE(accepts({{"type", "string"}}, R"("a\"b\\c\n\u00e9\ud83d")") == false);  // lone surrogate
  EXPECT_TRUE(accepts({{"type", "string"}}, R"("a\"b\\c\n\u00e9 日本")"));
  EXPECT_FALSE(accepts({{"type", "string"}}, "\"a\nb\""));  // raw control character
  EXPECT_FALSE(accepts({{"type", "string"}, {"maxLength", 2}}, R"("abc")"));
  EXPECT_TRUE(accepts({{"type", "string"}, {"maxLength", 2}}, R"("é\n")"));  // code points, not bytes
}

TEST(JsonSchema, Numbers) {
  for (const json& v : check_outputs({{"type", "integer"}})) EXPECT_TRUE(v.is_number_integer()) << v;
  check_outputs({{"type", "number"}});
  check_outputs({{"type", "number"}, {"minimum", 0}});
  EXPECT_FALSE(accepts({{"type", "integer"}}, "01"));
  EXPECT_FALSE(accepts({{"type", "integer"}}, "1.5"));
  EXPECT_FALSE(accepts({{"type", "integer"}}, "12345678901234567"));  // more than 16 digits
  EXPECT_TRUE(accepts({{"type", "number"}}, "-0.125e+10"));
  EXPECT_FALSE(accepts({{"type", "number"}}, "1."));
  EXPECT_FALSE(accepts({{"type", "number"}, {"minimum", 0}}, "-1"));
}

TEST(JsonSchema, IntegerRangesAreExact) {
  struct Case {
    json schema;
    int64_t lo, hi;
  };
  const std::vector<Case> cases = {
      {{{"type", "integer"}, {"minimum", 0}, {"maximum", 130}}, 0, 130},
      {{{"type", "integer"}, {"minimum", -15}, {"maximum", 7}}, -15, 7},
      {{{"type", "integer"}, {"minimum", 95}, {"maximum", 1203}}, 95, 1203},
      {{{"type", "integer"}, {"exclusiveMinimum", -3}, {"exclusiveMaximum", 3}}, -2, 2},
      {{{"type", "integer"}, {"minimum", -250}, {"maximum", -17}}, -250, -17},
  };
  for (const Case& c : cases) {
    auto g = compile(c.schema);
    ASSERT_TRUE(g);
    for (int64_t x = c.lo - 120; x <= c.hi + 120; ++x)
      EXPECT_EQ(matches(g, std::to_string(x)), x >= c.lo && x <= c.hi) << x << " " << c.schema.dump();
    check_outputs(c.schema, 10);
  }
  // Only a lower bound: every larger integer up to 16 digits.
  auto g = compile({{"type", "integer"}, {"minimum", 10}});
  EXPECT_FALSE(matches(g, "9"));
  EXPECT_TRUE(matches(g, "10"));
  EXPECT_TRUE(matches(g, "9999999999999999"));
  EXPECT_FALSE(matches(g, "-1"));
  EXPECT_NE(error_of({{"type", "integer"}, {"minimum", 5}, {"maximum", 4}}).find("empty"), std::string::npos);
}

TEST(JsonSchema, BooleanNullAndTypeLists) {
  EXPECT_TRUE(accepts({{"type", "boolean"}}, "true"));
  EXPECT_FALSE(accepts({{"type", "boolean"}}, "null"));
  EXPECT_TRUE(accepts({{"type", "null"}}, "null"));
  const json both = {{"type", {"string", "null"}}, {"maxLength", 3}};
  EXPECT_TRUE(accepts(both, "null"));
  EXPECT_TRUE(accepts(both, "\"abc\""));
  EXPECT_FALSE(accepts(both, "\"abcd\""));
  EXPECT_FALSE(accepts(both, "1"));
  check_outputs(both);
  EXPECT_TRUE(accepts({{"type", "integer"}, {"nullable", true}}, "null"));
}

TEST(JsonSchema, EnumAndConst) {
  const json e = {{"enum", {"red", 1, nullptr, json{{"a", {1, 2}}}, "é \"q\""}}};
  const auto v = check_outputs(e, 40);
  std::set<std::string> seen;
  for (const json& x : v) seen.insert(x.dump());
  EXPECT_GE(seen.size(), 3u);
  EXPECT_TRUE(accepts(e, R"({"a":[1,2]})"));
  EXPECT_FALSE(accepts(e, R"("blue")"));
  EXPECT_TRUE(accepts({{"const", "x"}}, "\"x\""));
  EXPECT_FALSE(accepts({{"const", "x"}}, "\"y\""));
  check_outputs({{"const", json{{"k", "v"}}}}, 3);
}

TEST(JsonSchema, ObjectsWithRequiredAndOptionalProperties) {
  const json schema = {{"type", "object"},
                       {"properties",
                        {{"a", {{"type", "integer"}}},
                         {"b", {{"type", "string"}}},
                         {"c", {{"type", "boolean"}}},
                         {"d", {{"type", "null"}}}}},
                       {"required", {"b", "d"}}};
  const auto v = check_outputs(schema, 40);
  std::set<size_t> sizes;
  for (const json& x : v) sizes.insert(x.size());
  EXPECT_GT(sizes.size(), 1u);  // optional properties come and go
  EXPECT_TRUE(accepts(schema, R"({"b": "x", "d": null})"));
  EXPECT_TRUE(accepts(schema, R"({"a": 1, "b": "x", "c": true, "d": null})"));
  EXPECT_TRUE(accepts(schema, R"({"a": 1,"b": "x","d": null})"));
  EXPECT_FALSE(accepts(schema, R"({"a": 1, "d": null})"));            // b missing
  EXPECT_FALSE(accepts(schema, R"({"b": "x", "d": null, "e": 1})"));  // strict: no extra keys
  EXPECT_FALSE(accepts(schema, R"({"b": "x", "a": 1, "d": null})"));  // declared order
  EXPECT_FALSE(accepts(schema, R"({"b": "x",, "d": null})"));
  // All optional: the empty object, and no leading comma.
  const json optional = {{"type", "object"},
                         {"properties", {{"a", {{"type", "integer"}}}, {"b", {{"type", "integer"}}}}}};
  EXPECT_TRUE(accepts(optional, "{}"));
  EXPECT_TRUE(accepts(optional, R"({"b": 2})"));
  EXPECT_FALSE(accepts(optional, R"({, "b": 2})"));
  check_outputs(optional);
}

TEST(JsonSchema, AdditionalProperties) {
  const json extra = {{"type", "object"},
                      {"properties", {{"id", {{"type", "integer"}}}}},
                      {"required", {"id"}},
                      {"additionalProperties", {{"type", "string"}}}};
  check_outputs(extra);
  EXPECT_TRUE(accepts(extra, R"({"id": 1, "x": "y", "z": "w"})"));
  EXPECT_FALSE(accepts(extra, R"({"id": 1, "x": 2})"));
  const json open = {
      {"type", "object"}, {"properties", {{"id", {{"type", "integer"}}}}}, {"additionalProperties", true}};
  EXPECT_TRUE(accepts(open, R"({"x": [1, {"y": null}]})"));
  const json closed = {{"type", "object"}, {"additionalProperties", false}};
  EXPECT_TRUE(accepts(closed, "{}"));
  EXPECT_FALSE(accepts(closed, R"({"a": 1})"));
  // No properties, no additionalProperties: any object.
  EXPECT_TRUE(accepts({{"type", "object"}}, R"({"a": {"b": [1, "c"]}})"));
  check_outputs({{"type", "object"}});
}

TEST(JsonSchema, NestedObjectsAndArrays) {
  const json schema = {
      {"type", "object"},
      {"properties",
       {{"user",
         {{"type", "object"},
          {"properties",
           {{"name", {{"type", "string"}}}, {"tags", {{"type", "array"}, {"items", {{"type", "string"}}}}}}},
          {"required", {"name", "tags"}}}},
        {"points",
         {{"type", "array"},
          {"items", {{"type", "array"}, {"items", {{"type", "number"}}}, {"minItems", 2}, {"maxItems", 2}}},
          {"minItems", 1},
          {"maxItems", 3}}}}},
      {"required", {"user", "points"}}};
  check_outputs(schema, 30);
  // nlohmann::json sorts keys: "points" comes before "user".
  EXPECT_TRUE(accepts(schema, R"({"points": [[1, 2]], "user": {"name": "a", "tags": []}})"));
  EXPECT_FALSE(accepts(schema, R"({"points": [], "user": {"name": "a", "tags": []}})"));
  EXPECT_FALSE(accepts(schema, R"({"points": [[1]], "user": {"name": "a", "tags": []}})"));
  EXPECT_FALSE(accepts(schema, R"({"points": [[1,2],[1,2],[1,2],[1,2]], "user": {"name": "a", "tags": []}})"));
}

TEST(JsonSchema, ArrayCountsAndTuples) {
  const json a = {{"type", "array"}, {"items", {{"type", "integer"}}}, {"minItems", 2}, {"maxItems", 4}};
  for (const json& v : check_outputs(a, 30)) EXPECT_TRUE(v.size() >= 2 && v.size() <= 4) << v;
  EXPECT_FALSE(accepts(a, "[1]"));
  EXPECT_TRUE(accepts(a, "[1, 2]"));
  EXPECT_TRUE(accepts({{"type", "array"}, {"maxItems", 0}}, "[]"));
  EXPECT_FALSE(accepts({{"type", "array"}, {"maxItems", 0}}, "[1]"));
  const json tuple = {{"type", "array"},
                      {"prefixItems", {{{"type", "string"}}, {{"type", "integer"}}}},
                      {"items", false},
                      {"minItems", 1}};
  EXPECT_TRUE(accepts(tuple, R"(["a"])"));
  EXPECT_TRUE(accepts(tuple, R"(["a", 1])"));
  EXPECT_FALSE(accepts(tuple, R"(["a", 1, 2])"));
  EXPECT_FALSE(accepts(tuple, R"([])"));
  EXPECT_FALSE(accepts(tuple, R"([1])"));
  check_outputs(tuple);
  check_outputs({{"type", "array"}, {"prefixItems", {{{"const", 0}}}}, {"items", {{"type", "boolean"}}}});
}

TEST(JsonSchema, Combinators) {
  const json any = {{"anyOf",
                     {{{"type", "integer"}},
                      {{"type", "object"}, {"properties", {{"x", {{"type", "string"}}}}}, {"required", {"x"}}}}}};
  check_outputs(any);
  EXPECT_TRUE(accepts(any, "5"));
  EXPECT_TRUE(accepts(any, R"({"x": "y"})"));
  EXPECT_FALSE(accepts(any, R"("s")"));
  const json one = {{"oneOf", {{{"type", "boolean"}}, {{"type", "null"}}}}};
  EXPECT_TRUE(accepts(one, "null"));
  EXPECT_TRUE(accepts({{"allOf", {{{"type", "string"}}}}}, "\"a\""));
  const json merged = {{"allOf",
                        {{{"type", "object"}, {"properties", {{"a", {{"type", "integer"}}}}}, {"required", {"a"}}},
                         {{"properties", {{"b", {{"type", "string"}}}}}, {"required", {"b"}}}}}};
  check_outputs(merged);
  EXPECT_TRUE(accepts(merged, R"({"a": 1, "b": "c"})"));
  EXPECT_FALSE(accepts(merged, R"({"a": 1})"));
}

TEST(JsonSchema, ReferencesIncludingRecursion) {
  const json schema = {
      {"$defs",
       {{"node",
         {{"type", "object"},
          {"properties",
           {{"value", {{"type", "integer"}}},
            {"children", {{"type", "array"}, {"items", {{"$ref", "#/$defs/node"}}}, {"maxItems", 2}}}}},
          {"required", {"value"}}}}}},
      {"$ref", "#/$defs/node"}};
  check_outputs(schema, 30);
  EXPECT_TRUE(accepts(schema, R"({"children": [{"children": [{"value": 3}], "value": 2}], "value": 1})"));
  EXPECT_FALSE(accepts(schema, R"({"children": [{"children": []}], "value": 1})"));
  const json old = {{"definitions", {{"id", {{"type", "string"}, {"maxLength", 3}}}}},
                    {"type", "object"},
                    {"properties", {{"a", {{"$ref", "#/definitions/id"}}}, {"b", {{"$ref", "#/definitions/id"}}}}}};
  check_outputs(old);
  // "#" is the whole schema.
  const json self = {{"type", "object"}, {"properties", {{"next", {{"$ref", "#"}}}}}};
  EXPECT_TRUE(accepts(self, R"({"next": {"next": {}}})"));
}

TEST(JsonSchema, Patterns) {
  struct Case {
    std::string pattern;
    std::vector<std::string> good, bad;
  };
  const std::vector<Case> cases = {
      {"^[a-z]+$", {"abc"}, {"", "aBc", "ab1"}},
      {R"(^\d{3}-\d{4}$)", {"555-1234"}, {"5555-123", "555-12345"}},
      {"^(foo|bar)+$", {"foobarfoo"}, {"fo", "foob"}},
      {"^a.c$", {"abc", "a\\\"c", "aéc"}, {"ac", "a\\nc"}},
      {R"(^[^"\\]{2}\.x?$)", {"ab.", "ab.x"}, {"a\\\".", "ab"}},
      {"abc", {"abc", "xxabcxx"}, {"ab", "xxab"}},  // unanchored: anywhere in the string
      {R"(^\w+@\w+\.com$)", {"a_1@b.com"}, {"a@b.org"}},
      {"^(?:x|y){2,3}z*?$", {"xy", "yxyzz"}, {"x", "xyxyx"}},
  };
  for (const Case& c : cases) {
    const json schema = {{"type", "string"}, {"pattern", c.pattern}};
    for (const auto& s : c.good) EXPECT_TRUE(accepts(schema, "\"" + s + "\"")) << c.pattern << " " << s;
    for (const auto& s : c.bad) EXPECT_FALSE(accepts(schema, "\"" + s + "\"")) << c.pattern << " " << s;
    // Random walks find anchored patterns' ends; an unanchored one needs its match planned.
    if (c.pattern.find('.') == std::string::npos && c.pattern[0] == '^') check_outputs(schema, 10);
  }
  EXPECT_NE(error_of({{"type", "string"}, {"pattern", "(?=a)b"}}).find("lookaround"), std::string::npos);
  EXPECT_NE(error_of({{"type", "string"}, {"pattern", "(a)\\1"}}).find("backreferences"), std::string::npos);
  EXPECT_NE(error_of({{"type", "string"}, {"pattern", "\\bword"}}).find("word boundaries"), std::string::npos);
  EXPECT_NE(error_of({{"type", "string"}, {"pattern", "a^b"}}).find("'^'"), std::string::npos);
  EXPECT_NE(error_of({{"type", "string"}, {"pattern", "\\p{L}"}}).find("property"), std::string::npos);
}

TEST(JsonSchema, Formats) {
  for (const char* f : {"date", "time", "date-time", "uuid", "email"})
    check_outputs({{"type", "string"}, {"format", f}}, 15);
  EXPECT_TRUE(accepts({{"type", "string"}, {"format", "date"}}, R"("2024-02-29")"));
  EXPECT_FALSE(accepts({{"type", "string"}, {"format", "date"}}, R"("2024-13-01")"));
  EXPECT_TRUE(accepts({{"type", "string"}, {"format", "date-time"}}, R"("2024-01-02T03:04:05.123+01:00")"));
  EXPECT_TRUE(accepts({{"type", "string"}, {"format", "uuid"}}, R"("123e4567-e89b-12d3-a456-426614174000")"));
  EXPECT_TRUE(accepts({{"type", "string"}, {"format", "email"}}, R"("a.b@c.org")"));
  // Other formats are annotations: any string.
  EXPECT_TRUE(accepts({{"type", "string"}, {"format", "uri"}}, R"("not a uri")"));
}

TEST(JsonSchema, EmptySchemaIsAnyValue) {
  for (const json& s : {json::object(), json(true)}) {
    EXPECT_TRUE(accepts(s, R"([1, "a", {"b": null}, true])"));
    EXPECT_TRUE(accepts(s, "-2.5"));
    check_outputs(s, 20);
  }
  EXPECT_TRUE(matches(Grammar::any_json_object(), R"({"a": [1, {"b": "c"}]})"));
  EXPECT_FALSE(matches(Grammar::any_json_object(), "[1]"));
  EXPECT_EQ(Grammar::any_json_object().get(), Grammar::any_json_object().get());  // built once
  // Depth is bounded (16 levels inside the outer object).
  std::string deep = std::string(18, '[') + std::string(18, ']');
  EXPECT_FALSE(matches(Grammar::any_json_object(), "{\"a\": " + deep + "}"));
}

TEST(JsonSchema, WhitespaceIsBounded) {
  const json s = {{"type", "object"}, {"properties", {{"a", {{"type", "integer"}}}}}};
  EXPECT_TRUE(accepts(s, "{ \"a\" : 1 }"));
  EXPECT_TRUE(accepts(s, "{\n    \"a\": 1\n}"));
  EXPECT_FALSE(accepts(s, "{  \"a\": 1}"));
  EXPECT_FALSE(accepts(s, "{\n" + std::string(25, ' ') + "\"a\": 1}"));
  EXPECT_FALSE(accepts(s, " {\"a\": 1}"));  // nothing before the value
  EXPECT_FALSE(accepts(s, "{\"a\": 1} "));  // nor after it
}

TEST(JsonSchema, OrderedOverloadKeepsDeclaredOrder) {
  const auto ordered = nlohmann::ordered_json::parse(
      R"({"type": "object", "properties": {"zeta": {"type": "integer"}, "alpha": {"type": "integer"}}, "required": ["zeta", "alpha"]})");
  auto g = Grammar::from_json_schema_ordered(ordered);
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_TRUE(matches(*g, R"({"zeta": 1, "alpha": 2})"));
  EXPECT_FALSE(matches(*g, R"({"alpha": 2, "zeta": 1})"));
  // nlohmann::json sorts keys.
  auto sorted = compile(json::parse(ordered.dump()));
  EXPECT_TRUE(matches(sorted, R"({"alpha": 2, "zeta": 1})"));
}

TEST(JsonSchema, UnsupportedKeywordsAreErrorsNamingThem) {
  for (const char* k :
       {"patternProperties", "not", "if", "dependentSchemas", "contains", "propertyNames", "multipleOf"}) {
    const json s = {{"type", "object"}, {k, json::object()}};
    EXPECT_EQ(error_of(s), std::string("unsupported JSON Schema keyword '") + k + "'");
  }
  EXPECT_EQ(error_of({{"type", "array"}, {"uniqueItems", true}}),
            "unsupported JSON Schema keyword 'uniqueItems' (true)");
  EXPECT_TRUE(compile({{"type", "array"}, {"uniqueItems", false}}));
  // Nested too.
  EXPECT_EQ(error_of({{"type", "object"}, {"properties", {{"a", {{"not", {{"type", "string"}}}}}}}}),
            "unsupported JSON Schema keyword 'not'");
  // Descriptive keywords are fine.
  EXPECT_TRUE(compile({{"type", "string"},
                       {"title", "t"},
                       {"description", "d"},
                       {"default", "x"},
                       {"examples", {"a"}},
                       {"$schema", "https://json-schema.org/draft/2020-12/schema"},
                       {"$id", "x"},
                       {"$comment", "c"}}));
}

TEST(JsonSchema, OtherErrors) {
  EXPECT_NE(error_of(json(false)).find("accepts no value"), std::string::npos);
  EXPECT_NE(error_of({{"type", "tuple"}}).find("unsupported JSON Schema type 'tuple'"), std::string::npos);
  EXPECT_NE(error_of({{"$ref", "https://example.com/s.json"}}).find("only references within the schema"),
            std::string::npos);
  EXPECT_NE(error_of({{"$ref", "#/$defs/missing"}}).find("does not resolve"), std::string::npos);
  EXPECT_NE(error_of(json::array()).find("must be an object or a boolean"), std::string::npos);
  EXPECT_NE(error_of({{"$ref", "#"}}).find("left recursion"), std::string::npos);
  EXPECT_NE(error_of({{"type", "array"}, {"minItems", 5000}}).find("minItems"), std::string::npos);
  json deep = {{"type", "string"}};
  for (int i = 0; i < 100; ++i) deep = {{"type", "array"}, {"items", deep}};
  EXPECT_NE(error_of(deep).find("nested deeper"), std::string::npos);
}

TEST(JsonSchema, ToolCallShapeTerminates) {
  // The server's tool_choice "required" schema: an array of {name, parameters} calls.
  const json schema = {
      {"type", "array"},
      {"minItems", 1},
      {"items",
       {{"anyOf",
         {{{"type", "object"},
           {"properties", {{"name", {{"const", "get_weather"}}}, {"parameters", {{"$ref", "#/$defs/tool0_root"}}}}},
           {"required", {"name", "parameters"}},
           {"additionalProperties", false}},
          {{"type", "object"},
           {"properties",
            {{"name", {{"const", "noop"}}}, {"parameters", {{"type", "object"}, {"properties", json::object()}}}}},
           {"required", {"name", "parameters"}},
           {"additionalProperties", false}}}}}},
      {"$defs",
       {{"tool0_root",
         {{"type", "object"},
          {"properties", {{"city", {{"type", "string"}}}, {"unit", {{"enum", {"c", "f"}}}}}},
          {"required", {"city"}}}}}}};
  const auto v = check_outputs(schema, 30);
  EXPECT_EQ(v.size(), 30u);
}

}  // namespace
}  // namespace pagoda::test
