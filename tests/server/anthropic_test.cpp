// The Anthropic front-end without a server: request conversion to the shared chat form, error
// shapes, and the message / stream events built from fake engine outputs.
#include <gtest/gtest.h>

#include "server/anthropic_request.h"
#include "server/anthropic_response.h"
#include "server/openai_request.h"

namespace pagoda::server {
namespace {

using Json = nlohmann::ordered_json;

Json convert_ok(const Json& body, AnthropicEndpoint endpoint = AnthropicEndpoint::messages) {
  auto chat = anthropic_to_chat_body(body, endpoint);
  EXPECT_TRUE(chat.ok()) << (chat.ok() ? "" : chat.error().message);
  return chat.ok() ? *chat : Json();
}

std::string convert_error(const Json& body, AnthropicEndpoint endpoint = AnthropicEndpoint::messages) {
  auto chat = anthropic_to_chat_body(body, endpoint);
  EXPECT_FALSE(chat.ok()) << body.dump();
  if (chat.ok()) return "";
  EXPECT_EQ(chat.error().status, 400);
  return chat.error().message;
}

Json user(Json content) {
  return {{"role", "user"}, {"content", std::move(content)}};
}

TEST(AnthropicRequest, SystemAndTextBlocksBecomeChatMessages) {
  const Json chat = convert_ok({{"model", "m"},
                                {"max_tokens", 10},
                                {"system", Json::array({{{"type", "text"}, {"text", "Be brief."}},
                                                        {{"type", "text"}, {"text", "Be kind."}}})},
                                {"messages", Json::array({user(Json::array({{{"type", "text"}, {"text", "a"}},
                                                                           {{"type", "text"}, {"text", "b"}}}))})}});
  EXPECT_EQ(chat["model"], "m");
  EXPECT_EQ(chat["max_tokens"], 10);
  ASSERT_EQ(chat["messages"].size(), 2u);
  EXPECT_EQ(chat["messages"][0], (Json{{"role", "system"}, {"content", "Be brief.\nBe kind."}}));
  EXPECT_EQ(chat["messages"][1], (Json{{"role", "user"}, {"content", "a\nb"}}));
  EXPECT_FALSE(chat.contains("continue_final_message"));
  // The converted body parses as a chat request.
  auto parsed = parse_chat_request(chat);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->max_tokens, 10);
}

TEST(AnthropicRequest, ToolUseAndToolResultBecomeToolCallsAndToolMessages) {
  const Json body = {
      {"max_tokens", 5},
      {"tools", Json::array({{{"name", "get_weather"},
                              {"description", "Weather"},
                              {"input_schema", {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}}})},
      {"messages",
       Json::array({user("Weather in Paris?"),
                    {{"role", "assistant"},
                     {"content", Json::array({{{"type", "thinking"}, {"thinking", "hmm"}, {"signature", "x"}},
                                              {{"type", "text"}, {"text", "Checking."}},
                                              {{"type", "tool_use"},
                                               {"id", "toolu_1"},
                                               {"name", "get_weather"},
                                               {"input", {{"city", "Paris"}}}}})}},
                    user(Json::array({{{"type", "tool_result"},
                                       {"tool_use_id", "toolu_1"},
                                       {"content", Json::array({{{"type", "text"}, {"text", "21C"}}})}},
                                      {{"type", "text"}, {"text", "Thanks"}}}))})}};
  const Json chat = convert_ok(body);
  const Json& m = chat["messages"];
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[1]["role"], "assistant");
  EXPECT_EQ(m[1]["content"], "Checking.");
  ASSERT_EQ(m[1]["tool_calls"].size(), 1u);
  EXPECT_EQ(m[1]["tool_calls"][0]["id"], "toolu_1");
  EXPECT_EQ(m[1]["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_EQ(Json::parse(m[1]["tool_calls"][0]["function"]["arguments"].get<std::string>()),
            (Json{{"city", "Paris"}}));
  EXPECT_EQ(m[2], (Json{{"role", "tool"}, {"tool_call_id", "toolu_1"}, {"content", "21C"}, {"name", "get_weather"}}));
  EXPECT_EQ(m[3], (Json{{"role", "user"}, {"content", "Thanks"}}));
  ASSERT_EQ(chat["tools"].size(), 1u);
  EXPECT_EQ(chat["tools"][0]["type"], "function");
  EXPECT_EQ(chat["tools"][0]["function"]["name"], "get_weather");
  EXPECT_EQ(chat["tools"][0]["function"]["parameters"]["type"], "object");
  EXPECT_FALSE(chat.contains("tool_choice"));  // the chat default with tools: auto
}

TEST(AnthropicRequest, AssistantWithOnlyToolUseHasNullContent) {
  const Json chat = convert_ok(
      {{"max_tokens", 5},
       {"messages", Json::array({user("q"),
                                 {{"role", "assistant"},
                                  {"content", Json::array({{{"type", "tool_use"}, {"id", "t"}, {"name", "f"}, {"input", Json::object()}}})}},
                                 user(Json::array({{{"type", "tool_result"}, {"tool_use_id", "t"}, {"content", "ok"}}}))})}});
  EXPECT_TRUE(chat["messages"][1]["content"].is_null());
  EXPECT_EQ(chat["messages"][1]["tool_calls"][0]["function"]["arguments"], "{}");
  EXPECT_EQ(chat["messages"].size(), 3u);  // no empty user message after the tool result
}

TEST(AnthropicRequest, ToolChoiceMapsToTheChatForms) {
  const Json tools = Json::array({{{"name", "f"}, {"input_schema", {{"type", "object"}}}}});
  auto with = [&](Json choice) {
    return convert_ok({{"max_tokens", 1}, {"tools", tools}, {"tool_choice", choice}, {"messages", Json::array({user("x")})}});
  };
  EXPECT_EQ(with({{"type", "auto"}})["tool_choice"], "auto");
  EXPECT_EQ(with({{"type", "any"}})["tool_choice"], "required");
  EXPECT_EQ(with({{"type", "none"}})["tool_choice"], "none");
  const Json named = with({{"type", "tool"}, {"name", "f"}, {"disable_parallel_tool_use", true}});
  EXPECT_EQ(named["tool_choice"], (Json{{"type", "function"}, {"function", {{"name", "f"}}}}));
  EXPECT_EQ(named["parallel_tool_calls"], false);
  EXPECT_EQ(with({{"type", "any"}, {"disable_parallel_tool_use", false}})["parallel_tool_calls"], true);
  // The converted forms are what the chat parser understands.
  auto parsed = parse_chat_request(named);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->structured.tool_choice, ToolChoice::named);
  EXPECT_EQ(parsed->structured.tool_choice_name, "f");
  EXPECT_FALSE(parsed->structured.parallel_tool_calls);
}

TEST(AnthropicRequest, SamplingStopAndMetadataFields) {
  const Json chat = convert_ok({{"max_tokens", 7},
                                {"temperature", 0},
                                {"top_p", 0.5},
                                {"top_k", 20},
                                {"stop_sequences", Json::array({"END", "\n\n"})},
                                {"stream", true},
                                {"metadata", {{"user_id", "u-1"}}},
                                {"thinking", {{"type", "enabled"}, {"budget_tokens", 1024}}},
                                {"messages", Json::array({user("x")})}});
  auto parsed = parse_chat_request(chat);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->params.temperature, 0.0f);
  EXPECT_FLOAT_EQ(parsed->params.top_p, 0.5f);
  EXPECT_EQ(parsed->params.top_k, 20);
  EXPECT_EQ(parsed->params.stop, (std::vector<std::string>{"END", "\n\n"}));
  EXPECT_TRUE(parsed->stream);
  EXPECT_EQ(parsed->user, "u-1");
  EXPECT_EQ(parsed->template_kwargs, (Json{{"enable_thinking", true}}));
}

TEST(AnthropicRequest, AFinalAssistantMessageIsContinued) {
  const Json chat = convert_ok({{"max_tokens", 3},
                                {"messages", Json::array({user("x"), {{"role", "assistant"}, {"content", "Once upon"}}})}});
  EXPECT_EQ(chat["continue_final_message"], true);
  auto parsed = parse_chat_request(chat);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_TRUE(parsed->continue_final_message);
  EXPECT_FALSE(parsed->add_generation_prompt);
}

TEST(AnthropicRequest, RefusesWhatAnthropicRefuses) {
  const Json ok_messages = Json::array({user("x")});
  EXPECT_NE(convert_error({{"messages", ok_messages}}).find("max_tokens"), std::string::npos);
  EXPECT_NE(convert_error({{"max_tokens", 0}, {"messages", ok_messages}}).find("max_tokens"), std::string::npos);
  EXPECT_NE(convert_error({{"max_tokens", 1}}).find("messages"), std::string::npos);
  EXPECT_NE(convert_error({{"max_tokens", 1}, {"messages", Json::array()}}).find("messages"), std::string::npos);
  EXPECT_NE(convert_error({{"max_tokens", 1}, {"messages", Json::array({{{"role", "system"}, {"content", "x"}}})}}).find("role"),
            std::string::npos);
  EXPECT_NE(convert_error({{"max_tokens", 1}, {"temperature", 1.5}, {"messages", ok_messages}}).find("temperature"),
            std::string::npos);
  EXPECT_NE(convert_error({{"max_tokens", 1}, {"top_p", 0}, {"messages", ok_messages}}).find("top_p"), std::string::npos);
  EXPECT_NE(convert_error({{"max_tokens", 1}, {"top_k", -1}, {"messages", ok_messages}}).find("top_k"), std::string::npos);
  EXPECT_NE(convert_error({{"max_tokens", 1}, {"stop_sequences", "x"}, {"messages", ok_messages}}).find("stop_sequences"),
            std::string::npos);
  const std::string image = convert_error(
      {{"max_tokens", 1},
       {"messages", Json::array({user(Json::array({{{"type", "image"}, {"source", {{"type", "base64"}}}}}))})}});
  EXPECT_NE(image.find("text only"), std::string::npos) << image;
  EXPECT_NE(convert_error({{"max_tokens", 1},
                           {"messages", Json::array({user(Json::array(
                                            {{{"type", "tool_result"}, {"tool_use_id", "t"},
                                              {"content", Json::array({{{"type", "image"}}})}}}))})}})
                .find("text only"),
            std::string::npos);
  EXPECT_NE(convert_error({{"max_tokens", 1}, {"messages", Json::array({user(Json::array({{{"type", "video"}}}))})}}).find("video"),
            std::string::npos);
  // tool_use in a user message, tool_result in an assistant message.
  EXPECT_FALSE(anthropic_to_chat_body({{"max_tokens", 1},
                                       {"messages", Json::array({user(Json::array({{{"type", "tool_use"}, {"id", "a"}, {"name", "f"}}}))})}},
                                      AnthropicEndpoint::messages)
                   .ok());
  EXPECT_NE(convert_error({{"max_tokens", 1}, {"tools", Json::array({{{"name", "f"}}})}, {"messages", ok_messages}}).find("input_schema"),
            std::string::npos);
  EXPECT_NE(convert_error({{"max_tokens", 1},
                           {"tools", Json::array({{{"type", "web_search_20250305"}, {"name", "web_search"}}})},
                           {"messages", ok_messages}})
                .find("not supported"),
            std::string::npos);
  EXPECT_NE(convert_error({{"max_tokens", 1}, {"tool_choice", {{"type", "any"}}}, {"messages", ok_messages}}).find("tools"),
            std::string::npos);
  EXPECT_NE(convert_error({{"max_tokens", 1},
                           {"tools", Json::array({{{"name", "f"}, {"input_schema", {{"type", "object"}}}}})},
                           {"tool_choice", {{"type", "sometimes"}}},
                           {"messages", ok_messages}})
                .find("tool_choice"),
            std::string::npos);
}

TEST(AnthropicRequest, CountTokensNeedsNoMaxTokens) {
  const Json chat = convert_ok({{"messages", Json::array({user("x")})}}, AnthropicEndpoint::count_tokens);
  EXPECT_FALSE(chat.contains("max_tokens"));
}

TEST(AnthropicErrors, TypesFollowTheStatus) {
  auto type_of = [](int status) {
    ApiError e = bad_request("m");
    e.status = status;
    return anthropic_error_json(e)["error"]["type"].get<std::string>();
  };
  EXPECT_EQ(type_of(400), "invalid_request_error");
  EXPECT_EQ(type_of(401), "authentication_error");
  EXPECT_EQ(type_of(403), "permission_error");
  EXPECT_EQ(type_of(404), "not_found_error");
  EXPECT_EQ(type_of(413), "request_too_large");
  EXPECT_EQ(type_of(429), "rate_limit_error");
  EXPECT_EQ(type_of(500), "api_error");
  EXPECT_EQ(type_of(503), "overloaded_error");
  ApiError busy = bad_request("busy");
  busy.status = 503;
  const HttpResponse r = anthropic_error_response(busy);
  EXPECT_EQ(r.status, 529u);
  EXPECT_EQ(Json::parse(r.body), (Json{{"type", "error"}, {"error", {{"type", "overloaded_error"}, {"message", "busy"}}}}));
}

engine::RequestOutput output(std::string text, engine::Finish finish, int generated) {
  engine::RequestOutput o;
  engine::SequenceDelta d;
  d.text = std::move(text);
  d.tokens = {1};
  d.finish = finish;
  o.deltas.push_back(d);
  o.finished = finish != engine::Finish::none;
  o.n_prompt_tokens = 30;
  o.n_cached_tokens = 16;
  o.n_generated_tokens = generated;
  o.time_to_first_token_ms = 5.0;
  return o;
}

AnthropicMeta meta() {
  AnthropicMeta m;
  m.id = "msg_1";
  m.model = "demo";
  m.prompt_tokens = 30;
  return m;
}

std::vector<std::string> names(const std::vector<SseEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.name);
  return out;
}

TEST(AnthropicResponse, TextStreamAndMessage) {
  AnthropicBuilder b(meta());
  const auto start = b.start_events();
  EXPECT_EQ(names(start), (std::vector<std::string>{"message_start", "ping"}));
  EXPECT_EQ(start[0].data["message"]["usage"]["input_tokens"], 30);
  EXPECT_TRUE(start[0].data["message"]["content"].empty());

  auto first = b.add(output("Hel", engine::Finish::none, 1));
  EXPECT_EQ(names(first), (std::vector<std::string>{"content_block_start", "content_block_delta"}));
  EXPECT_EQ(first[1].data["delta"], (Json{{"type", "text_delta"}, {"text", "Hel"}}));
  auto last = b.add(output("lo", engine::Finish::length, 2));
  EXPECT_EQ(names(last), (std::vector<std::string>{"content_block_delta", "content_block_stop"}));
  EXPECT_TRUE(b.finished());
  const auto end = b.end_events();
  EXPECT_EQ(names(end), (std::vector<std::string>{"message_delta", "message_stop"}));
  EXPECT_EQ(end[0].data["delta"]["stop_reason"], "max_tokens");
  EXPECT_EQ(end[0].data["usage"]["output_tokens"], 2);
  EXPECT_EQ(end[0].data["usage"]["cache_read_input_tokens"], 16);

  const Json m = b.message();
  EXPECT_EQ(m["content"], (Json::array({{{"type", "text"}, {"text", "Hello"}}})));
  EXPECT_EQ(m["stop_reason"], "max_tokens");
  EXPECT_TRUE(m["stop_sequence"].is_null());
  EXPECT_EQ(m["usage"], (Json{{"input_tokens", 30}, {"cache_creation_input_tokens", 0},
                               {"cache_read_input_tokens", 16}, {"output_tokens", 2}}));
}

TEST(AnthropicResponse, StopSequenceAndEndTurn) {
  AnthropicBuilder b(meta());
  auto out = output("abc", engine::Finish::stop, 3);
  out.deltas[0].stop_string = "END";
  b.add(out);
  EXPECT_EQ(b.message()["stop_reason"], "stop_sequence");
  EXPECT_EQ(b.message()["stop_sequence"], "END");
  EXPECT_EQ(b.end_events()[0].data["delta"]["stop_sequence"], "END");

  AnthropicBuilder eos(meta());
  eos.add(output("abc", engine::Finish::stop, 3));
  EXPECT_EQ(eos.message()["stop_reason"], "end_turn");
}

TEST(AnthropicResponse, AnEmptyAnswerStillHasATextBlock) {
  AnthropicBuilder b(meta());
  const auto events = b.add(output("", engine::Finish::stop, 1));
  EXPECT_EQ(names(events), (std::vector<std::string>{"content_block_start", "content_block_stop"}));
  EXPECT_EQ(b.message()["content"], (Json::array({{{"type", "text"}, {"text", ""}}})));
}

TEST(AnthropicResponse, ToolCallsBecomeToolUseBlocks) {
  AnthropicMeta m = meta();
  m.make_tool_parser = []() -> std::unique_ptr<tools::ToolCallParser> {
    tools::ParserOptions o;
    o.tool_names = {"get_weather"};
    o.make_id = random_toolu_id;
    auto parser = tools::make_parser("hermes", std::move(o));
    return parser ? std::move(*parser) : nullptr;
  };
  AnthropicBuilder b(m);
  std::vector<SseEvent> events;
  const std::string text =
      "Let me check.<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
  // Fed in small pieces, as a stream arrives.
  for (size_t i = 0; i < text.size(); i += 5) {
    const bool last = i + 5 >= text.size();
    auto e = b.add(output(text.substr(i, 5), last ? engine::Finish::stop : engine::Finish::none, 1));
    events.insert(events.end(), e.begin(), e.end());
  }
  std::string streamed_text, streamed_json;
  std::vector<Json> starts;
  for (const auto& e : events) {
    if (e.name == "content_block_start") starts.push_back(e.data["content_block"]);
    if (e.name == "content_block_delta" && e.data["delta"]["type"] == "text_delta")
      streamed_text += e.data["delta"]["text"].get<std::string>();
    if (e.name == "content_block_delta" && e.data["delta"]["type"] == "input_json_delta") {
      EXPECT_EQ(e.data["index"], 1);
      streamed_json += e.data["delta"]["partial_json"].get<std::string>();
    }
  }
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[0]["type"], "text");
  EXPECT_EQ(starts[1]["type"], "tool_use");
  EXPECT_EQ(starts[1]["name"], "get_weather");
  EXPECT_TRUE(starts[1]["id"].get<std::string>().starts_with("toolu_"));
  EXPECT_EQ(starts[1]["id"].get<std::string>().size(), 30u);
  EXPECT_EQ(streamed_text, "Let me check.");
  EXPECT_EQ(Json::parse(streamed_json), (Json{{"city", "Paris"}}));
  EXPECT_EQ(b.end_events()[0].data["delta"]["stop_reason"], "tool_use");

  const Json msg = b.message();
  ASSERT_EQ(msg["content"].size(), 2u);
  EXPECT_EQ(msg["content"][0], (Json{{"type", "text"}, {"text", "Let me check."}}));
  EXPECT_EQ(msg["content"][1]["type"], "tool_use");
  EXPECT_EQ(msg["content"][1]["input"], (Json{{"city", "Paris"}}));
  EXPECT_EQ(msg["stop_reason"], "tool_use");
}

TEST(AnthropicResponse, ResponderFramesEventsAndErrors) {
  AnthropicResponder r(meta());
  const std::string start = r.stream_start();
  EXPECT_TRUE(start.starts_with("event: message_start\ndata: {")) << start;
  EXPECT_NE(start.find("\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\n"), std::string::npos);
  EXPECT_EQ(r.keepalive(), "event: ping\ndata: {\"type\":\"ping\"}\n\n");
  auto failed = output("", engine::Finish::error, 0);
  failed.error = "engine failure";
  r.add(0, failed);
  EXPECT_TRUE(r.finished());
  const std::string end = r.stream_end();
  EXPECT_TRUE(end.starts_with("event: error\ndata: ")) << end;
  EXPECT_NE(end.find("api_error"), std::string::npos);
  const HttpResponse whole = r.response();
  EXPECT_EQ(whole.status, 500u);
  EXPECT_EQ(Json::parse(whole.body)["error"]["type"], "api_error");
}

}  // namespace
}  // namespace pagoda::server
