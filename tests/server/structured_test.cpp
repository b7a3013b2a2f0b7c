// tools / tool_choice / response_format / grammar: request validation, the grammar they turn
// into, and tool calls in responses and stream chunks.
#include <gtest/gtest.h>

#include "grammar/grammar.h"
#include "server/openai_request.h"
#include "server/openai_response.h"
#include "server/structured_output.h"

namespace pagoda::server {
namespace {

using Json = nlohmann::ordered_json;

Json body_with(Json extra) {
  Json body = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  for (auto it = extra.begin(); it != extra.end(); ++it) body[it.key()] = it.value();
  return body;
}

Json weather_tool() {
  return Json::parse(R"({"type": "function", "function": {"name": "get_weather", "parameters": {
      "type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
      "required": ["city", "unit"], "additionalProperties": false}}})");
}

ApiError chat_error(Json extra) {
  auto r = parse_chat_request(body_with(std::move(extra)));
  EXPECT_FALSE(r.ok());
  return r.ok() ? ApiError{} : r.error();
}

TEST(StructuredRequest, ToolChoiceDefaultsFollowOpenAi) {
  auto none = parse_chat_request(body_with({}));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->structured.tool_choice, ToolChoice::none);
  auto with_tools = parse_chat_request(body_with({{"tools", {weather_tool()}}}));
  ASSERT_TRUE(with_tools.ok());
  EXPECT_EQ(with_tools->structured.tool_choice, ToolChoice::auto_);
  ASSERT_EQ(with_tools->structured.tools.size(), 1u);
  EXPECT_EQ(with_tools->structured.tools[0].name, "get_weather");
  auto named = parse_chat_request(
      body_with({{"tools", {weather_tool()}}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "get_weather"}}}}}}));
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->structured.tool_choice, ToolChoice::named);
  EXPECT_EQ(named->structured.tool_choice_name, "get_weather");
}

TEST(StructuredRequest, InvalidFieldsAre400sNamingThem) {
  EXPECT_EQ(chat_error({{"tools", "x"}}).param, "tools");
  EXPECT_EQ(chat_error({{"tools", {{{"type", "function"}, {"function", {{"name", ""}}}}}}}).param, "tools");
  EXPECT_EQ(chat_error({{"tools", {weather_tool(), weather_tool()}}}).param, "tools");  // listed twice
  EXPECT_EQ(chat_error({{"tool_choice", "required"}}).param, "tool_choice");            // no tools
  EXPECT_EQ(chat_error({{"tools", {weather_tool()}}, {"tool_choice", "always"}}).param, "tool_choice");
  EXPECT_EQ(chat_error({{"tools", {weather_tool()}}, {"tool_choice", {{"function", {{"name", "other"}}}}}}).param,
            "tool_choice");
  EXPECT_EQ(chat_error({{"parallel_tool_calls", 1}}).param, "parallel_tool_calls");
  EXPECT_EQ(chat_error({{"response_format", {{"type", "yaml"}}}}).param, "response_format");
  EXPECT_EQ(chat_error({{"response_format", {{"type", "json_schema"}}}}).param, "response_format");
  EXPECT_EQ(chat_error({{"grammar", 5}}).param, "grammar");
  EXPECT_EQ(chat_error({{"grammar", "root ::= \"a\""}, {"response_format", {{"type", "json_object"}}}}).param, "grammar");
}

TEST(StructuredOutput, AutoToolChoiceNeedsTheServerFlags) {
  auto r = parse_chat_request(body_with({{"tools", {weather_tool()}}}));
  ASSERT_TRUE(r.ok());
  auto plan = plan_output(r->structured, ToolCallingOptions{});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().param, "tool_choice");
  EXPECT_NE(plan.error().message.find("--enable-auto-tool-choice"), std::string::npos);
  auto ok = plan_output(r->structured, ToolCallingOptions{true, "hermes"});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->grammar, nullptr);
  ASSERT_TRUE(ok->make_parser);
  EXPECT_NE(ok->make_parser(), nullptr);
}

TEST(StructuredOutput, RequiredCallsAreConstrainedToTheToolsSchemas) {
  auto r = parse_chat_request(body_with({{"tools", {weather_tool()}}, {"tool_choice", "required"}}));
  ASSERT_TRUE(r.ok());
  auto plan = plan_output(r->structured, ToolCallingOptions{});
  ASSERT_TRUE(plan.ok());
  ASSERT_NE(plan->grammar, nullptr);
  auto vocab = grammar::TokenVocabulary::from_pieces({"[", "]", "{", "}", "\"", ",", ":", " "}, {});
  grammar::GrammarMatcher m(plan->grammar, vocab);
  EXPECT_TRUE(m.accept_text(R"([{"name": "get_weather", "parameters": {"city": "Paris", "unit": "c"}}])"));
  EXPECT_TRUE(m.can_end());
  grammar::GrammarMatcher wrong_name(plan->grammar, vocab);
  EXPECT_FALSE(wrong_name.accept_text(R"([{"name": "get_time")"));
  grammar::GrammarMatcher wrong_enum(plan->grammar, vocab);
  EXPECT_FALSE(wrong_enum.accept_text(R"([{"name": "get_weather", "parameters": {"city": "Paris", "unit": "k")"));
}

TEST(StructuredOutput, RequiredSchemaKeepsEachToolsDefinitionsApart) {
  ToolSpec a{"a", Json::parse(R"({"type": "object", "properties": {"x": {"$ref": "#/$defs/v"}},
                                  "required": ["x"], "$defs": {"v": {"enum": [1]}}})")};
  ToolSpec b{"b", Json::parse(R"({"type": "object", "properties": {"y": {"$ref": "#/definitions/v"}},
                                  "required": ["y"], "definitions": {"v": {"enum": [2]}}})")};
  const Json schema = required_calls_schema({a, b}, /*parallel=*/false);
  EXPECT_EQ(schema["maxItems"], 1);
  EXPECT_EQ(schema["$defs"]["tool0_v"]["enum"][0], 1);
  EXPECT_EQ(schema["$defs"]["tool1_v"]["enum"][0], 2);
  auto g = grammar::Grammar::from_json_schema_ordered(schema);
  ASSERT_TRUE(g) << g.error().message;
  auto vocab = grammar::TokenVocabulary::from_pieces({"x"}, {});
  grammar::GrammarMatcher ok(*g, vocab);
  EXPECT_TRUE(ok.accept_text(R"([{"name": "b", "parameters": {"y": 2}}])"));
  grammar::GrammarMatcher crossed(*g, vocab);
  EXPECT_FALSE(crossed.accept_text(R"([{"name": "b", "parameters": {"y": 1)"));
}

TEST(StructuredOutput, PropertiesComeInTheirDeclaredOrder) {
  auto r = parse_chat_request(body_with(Json::parse(R"({"response_format": {"type": "json_schema", "json_schema":
      {"name": "x", "schema": {"type": "object", "properties": {"zeta": {"type": "integer"}, "alpha": {"type": "integer"}},
       "required": ["zeta", "alpha"], "additionalProperties": false}}}})")));
  ASSERT_TRUE(r.ok());
  auto plan = plan_output(r->structured, ToolCallingOptions{});
  ASSERT_TRUE(plan.ok());
  auto vocab = grammar::TokenVocabulary::from_pieces({"x"}, {});
  grammar::GrammarMatcher declared(plan->grammar, vocab);
  EXPECT_TRUE(declared.accept_text(R"({"zeta": 1, "alpha": 2})"));
  grammar::GrammarMatcher sorted(plan->grammar, vocab);
  EXPECT_FALSE(sorted.accept_text(R"({"alpha")"));
}

TEST(StructuredOutput, UnsupportedSchemaFeaturesAre400s) {
  auto r = parse_chat_request(body_with(
      {{"response_format",
        {{"type", "json_schema"}, {"json_schema", {{"name", "x"}, {"schema", {{"type", "object"}, {"patternProperties", {{"a", Json::object()}}}}}}}}}}));
  ASSERT_TRUE(r.ok());
  auto plan = plan_output(r->structured, ToolCallingOptions{});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().param, "response_format");
  EXPECT_NE(plan.error().message.find("patternProperties"), std::string::npos);
  auto bad_grammar = parse_chat_request(body_with({{"grammar", "root ::= missing"}}));
  ASSERT_TRUE(bad_grammar.ok());
  auto plan2 = plan_output(bad_grammar->structured, ToolCallingOptions{});
  ASSERT_FALSE(plan2.ok());
  EXPECT_EQ(plan2.error().param, "grammar");
}

engine::RequestOutput text_output(std::string text, engine::Finish finish) {
  engine::RequestOutput o;
  engine::SequenceDelta d;
  d.tokens = {1};
  d.text = std::move(text);
  d.finish = finish;
  o.deltas.push_back(std::move(d));
  o.finished = finish != engine::Finish::none;
  o.n_prompt_tokens = 5;
  o.n_generated_tokens = 3;
  return o;
}

ResponseMeta tool_meta(const std::string& parser, bool forced = false) {
  ResponseMeta m;
  m.kind = ApiKind::chat;
  m.id = "chatcmpl-x";
  m.model = "demo";
  m.forced_function = forced;
  m.make_tool_parser = [parser] {
    tools::ParserOptions o;
    o.tool_names = {"get_weather"};
    o.forced_name = "get_weather";
    o.make_id = [] { return std::string("call-1"); };
    auto made = tools::make_parser(parser, o);
    return std::unique_ptr<tools::ToolCallParser>(std::move(made.value()));
  };
  return m;
}

TEST(ToolCallResponse, HermesCallsBecomeToolCallsStreamedAndWhole) {
  ResponseBuilder b(tool_meta("hermes"), [](int32_t) { return std::string("x"); });
  std::vector<Json> chunks;
  for (const char* piece : {"Let me check.", "\n<tool_", "call>\n{\"name\": \"get_weather\", \"argu",
                            "ments\": {\"city\": \"Par", "is\"}}\n</tool_call>"}) {
    auto c = b.add(0, text_output(piece, engine::Finish::none));
    chunks.insert(chunks.end(), c.begin(), c.end());
  }
  auto last = b.add(0, text_output("", engine::Finish::stop));
  chunks.insert(chunks.end(), last.begin(), last.end());

  std::string content, arguments, name;
  int firsts = 0;
  std::string finish;
  for (const Json& chunk : chunks) {
    const Json& choice = chunk["choices"][0];
    const Json& delta = choice["delta"];
    if (delta.contains("content")) content += delta["content"].get<std::string>();
    if (delta.contains("tool_calls")) {
      for (const Json& call : delta["tool_calls"]) {
        EXPECT_EQ(call["index"], 0);
        if (call.contains("id")) {
          ++firsts;
          EXPECT_EQ(call["id"], "call-1");
          EXPECT_EQ(call["type"], "function");
          name = call["function"]["name"];
        }
        arguments += call["function"].value("arguments", "");
      }
    }
    if (!choice["finish_reason"].is_null()) finish = choice["finish_reason"];
  }
  EXPECT_EQ(firsts, 1);
  EXPECT_EQ(name, "get_weather");
  EXPECT_EQ(Json::parse(arguments), Json::parse(R"({"city": "Paris"})"));
  EXPECT_EQ(content.find("<tool_call>"), std::string::npos);
  EXPECT_EQ(content.substr(0, 13), "Let me check.");
  EXPECT_EQ(finish, "tool_calls");

  const Json whole = b.response();
  const Json& message = whole["choices"][0]["message"];
  EXPECT_EQ(whole["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_EQ(message["content"], "Let me check.");
  ASSERT_EQ(message["tool_calls"].size(), 1u);
  EXPECT_EQ(message["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_EQ(Json::parse(message["tool_calls"][0]["function"]["arguments"].get<std::string>()),
            Json::parse(R"({"city": "Paris"})"));
}

TEST(ToolCallResponse, PlainTextStaysContent) {
  ResponseBuilder b(tool_meta("hermes"), [](int32_t) { return std::string("x"); });
  b.add(0, text_output("no calls <here>", engine::Finish::stop));
  const Json whole = b.response();
  EXPECT_EQ(whole["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(whole["choices"][0]["message"]["content"], "no calls <here>");
  EXPECT_FALSE(whole["choices"][0]["message"].contains("tool_calls"));
}

TEST(ToolCallResponse, ANamedFunctionEndsWithStop) {
  ResponseBuilder b(tool_meta("named_json", /*forced=*/true), [](int32_t) { return std::string("x"); });
  b.add(0, text_output(R"({"city": "Oslo", "unit": "c"})", engine::Finish::stop));
  const Json whole = b.response();
  EXPECT_EQ(whole["choices"][0]["finish_reason"], "stop");
  const Json& call = whole["choices"][0]["message"]["tool_calls"][0];
  EXPECT_EQ(call["function"]["name"], "get_weather");
  EXPECT_TRUE(whole["choices"][0]["message"]["content"].is_null());
}

}  // namespace
}  // namespace pagoda::server
