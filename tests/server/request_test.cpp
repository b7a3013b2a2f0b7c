// OpenAI request parsing: defaults, every field's validation, prompt shapes.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "server/generation_config.h"
#include "server/openai_request.h"

namespace pagoda::server {
namespace {

using Json = nlohmann::ordered_json;

Json chat_body(Json extra = Json::object()) {
  Json body = {{"model", "m"}, {"messages", Json::array({{{"role", "user"}, {"content", "hi"}}})}};
  for (const auto& [k, v] : extra.items()) body[k] = v;
  return body;
}

ApiError chat_error(Json extra) {
  auto r = parse_chat_request(chat_body(std::move(extra)));
  EXPECT_FALSE(r.ok());
  return r.ok() ? ApiError{} : r.error();
}

TEST(OpenAiRequest, ChatDefaultsAreOpenAisNotPagodaRuns) {
  auto r = parse_chat_request(chat_body());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kind, ApiKind::chat);
  EXPECT_EQ(r->model, "m");
  EXPECT_FLOAT_EQ(r->params.temperature, 1.0f);
  EXPECT_EQ(r->params.top_k, 0);
  EXPECT_FLOAT_EQ(r->params.top_p, 1.0f);
  EXPECT_FLOAT_EQ(r->params.min_p, 0.0f);
  EXPECT_FLOAT_EQ(r->params.repetition_penalty, 1.0f);
  EXPECT_FLOAT_EQ(r->params.presence_penalty, 0.0f);
  EXPECT_FALSE(r->max_tokens.has_value());
  EXPECT_EQ(r->n, 1);
  EXPECT_EQ(r->logprobs, -1);
  EXPECT_FALSE(r->stream);
  EXPECT_TRUE(r->add_generation_prompt);
}

TEST(OpenAiRequest, SamplingFieldsAreTakenAndUnknownFieldsIgnored) {
  auto r = parse_chat_request(chat_body({{"temperature", 0},
                                         {"top_p", 0.5},
                                         {"top_k", 7},
                                         {"min_p", 0.1},
                                         {"presence_penalty", 0.5},
                                         {"frequency_penalty", -0.5},
                                         {"repetition_penalty", 1.1},
                                         {"seed", 123},
                                         {"stop", "END"},
                                         {"stop_token_ids", {5, 6}},
                                         {"logit_bias", {{"42", -100}, {"7", 2.5}}},
                                         {"ignore_eos", true},
                                         {"min_tokens", 3},
                                         {"max_tokens", 10},
                                         {"n", 2},
                                         {"user", "u1"},
                                         {"some_future_field", {{"x", 1}}}}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& p = r->params;
  EXPECT_FLOAT_EQ(p.temperature, 0.0f);
  EXPECT_FLOAT_EQ(p.top_p, 0.5f);
  EXPECT_EQ(p.top_k, 7);
  EXPECT_FLOAT_EQ(p.min_p, 0.1f);
  EXPECT_FLOAT_EQ(p.frequency_penalty, -0.5f);
  EXPECT_FLOAT_EQ(p.repetition_penalty, 1.1f);
  ASSERT_TRUE(p.seed.has_value());
  EXPECT_EQ(*p.seed, 123u);
  EXPECT_EQ(p.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(p.stop_token_ids, (std::vector<int32_t>{5, 6}));
  EXPECT_FLOAT_EQ(p.logit_bias.at(42), -100.0f);
  EXPECT_FLOAT_EQ(p.logit_bias.at(7), 2.5f);
  EXPECT_TRUE(p.ignore_eos);
  EXPECT_EQ(p.min_tokens, 3);
  EXPECT_EQ(r->max_tokens, 10);
  EXPECT_EQ(r->n, 2);
  EXPECT_EQ(r->user, "u1");
}

TEST(OpenAiRequest, TopKMinusOneDisables) {
  auto r = parse_chat_request(chat_body({{"top_k", -1}}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->params.top_k, 0);
}

TEST(OpenAiRequest, MaxCompletionTokensWinsOverMaxTokens) {
  auto r = parse_chat_request(chat_body({{"max_tokens", 10}, {"max_completion_tokens", 20}}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->max_tokens, 20);
}

TEST(OpenAiRequest, InvalidValuesName400Parameters) {
  struct Case {
    Json extra;
    const char* param;
  };
  const Case cases[] = {
      {{{"temperature", -1}}, "temperature"},
      {{{"temperature", "hot"}}, "temperature"},
      {{{"top_p", 0}}, "top_p"},
      {{{"top_p", 1.5}}, "top_p"},
      {{{"top_k", -2}}, "top_k"},
      {{{"top_k", 1.5}}, "top_k"},
      {{{"min_p", 2}}, "min_p"},
      {{{"presence_penalty", 3}}, "presence_penalty"},
      {{{"frequency_penalty", -2.5}}, "frequency_penalty"},
      {{{"repetition_penalty", 0}}, "repetition_penalty"},
      {{{"max_tokens", 0}}, "max_tokens"},
      {{{"max_tokens", "ten"}}, "max_tokens"},
      {{{"max_completion_tokens", -5}}, "max_completion_tokens"},
      {{{"n", 0}}, "n"},
      {{{"n", 100000}}, "n"},
      {{{"stop", 5}}, "stop"},
      {{{"stop", {"a", 1}}}, "stop"},
      {{{"stop_token_ids", {-1}}}, "stop_token_ids"},
      {{{"logit_bias", {{"abc", 1}}}}, "logit_bias"},
      {{{"logit_bias", {{"5", 500}}}}, "logit_bias"},
      {{{"stream", "yes"}}, "stream"},
      {{{"stream_options", {{"include_usage", true}}}}, "stream_options"},
      {{{"top_logprobs", 3}}, "top_logprobs"},
      {{{"logprobs", true}, {"top_logprobs", 50}}, "top_logprobs"},
      {{{"seed", "x"}}, "seed"},
      {{{"min_tokens", 9}, {"max_tokens", 3}}, "min_tokens"},
      {{{"model", 3}}, "model"},
      {{{"messages", "hi"}}, "messages"},
      {{{"messages", Json::array()}}, "messages"},
      {{{"messages", {{{"content", "no role"}}}}}, "messages"},
      {{{"messages", {{{"role", "user"}, {"content", {{{"type", "image_url"}}}}}}}}, "messages"},
  };
  for (const Case& c : cases) {
    const ApiError e = chat_error(c.extra);
    EXPECT_EQ(e.status, 400) << c.extra.dump();
    EXPECT_EQ(e.param.value_or(""), c.param) << c.extra.dump() << ": " << e.message;
    EXPECT_FALSE(e.message.empty());
  }
}

TEST(OpenAiRequest, ChatLogprobsAndStreamOptions) {
  auto r = parse_chat_request(chat_body({{"logprobs", true},
                                         {"top_logprobs", 3},
                                         {"stream", true},
                                         {"stream_options", {{"include_usage", true}}}}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->logprobs, 3);
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  auto plain = parse_chat_request(chat_body({{"logprobs", true}}));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->logprobs, 0);
}

TEST(OpenAiRequest, ContentPartsAreAccepted) {
  Json messages = Json::array({{{"role", "user"},
                                {"content", Json::array({{{"type", "text"}, {"text", "a"}},
                                                         {{"type", "text"}, {"text", "b"}}})}}});
  auto r = parse_chat_request(chat_body({{"messages", messages}}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->messages, messages);
}

TEST(OpenAiRequest, CompletionPromptShapes) {
  auto one = parse_completion_request({{"prompt", "hello"}});
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->prompts.size(), 1u);
  EXPECT_FALSE(one->prompts[0].is_ids);
  EXPECT_EQ(one->prompts[0].text, "hello");

  auto ids = parse_completion_request({{"prompt", {1, 2, 3}}});
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids->prompts.size(), 1u);
  EXPECT_TRUE(ids->prompts[0].is_ids);
  EXPECT_EQ(ids->prompts[0].ids, (std::vector<int32_t>{1, 2, 3}));

  auto many = parse_completion_request({{"prompt", {"a", "b"}}});
  ASSERT_TRUE(many.ok());
  EXPECT_EQ(many->prompts.size(), 2u);

  auto many_ids = parse_completion_request({{"prompt", {{1, 2}, {3}}}});
  ASSERT_TRUE(many_ids.ok());
  ASSERT_EQ(many_ids->prompts.size(), 2u);
  EXPECT_EQ(many_ids->prompts[1].ids, std::vector<int32_t>{3});

  for (Json bad : {Json(5), Json::array(), Json::array({Json::object()}), Json::array({1, "a"})}) {
    auto r = parse_completion_request({{"prompt", bad}});
    ASSERT_FALSE(r.ok()) << bad.dump();
    EXPECT_EQ(r.error().param.value_or(""), "prompt") << bad.dump();
  }
  auto missing = parse_completion_request(Json::object());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().param.value_or(""), "prompt");
}

TEST(OpenAiRequest, CompletionLogprobsEchoAndMaxTokens) {
  auto r = parse_completion_request({{"prompt", "x"}, {"logprobs", 2}, {"max_tokens", 5}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->logprobs, 2);
  EXPECT_EQ(r->max_tokens, 5);
  auto echo = parse_completion_request({{"prompt", "x"}, {"echo", true}});
  ASSERT_TRUE(echo.ok());
  EXPECT_TRUE(echo->echo);
  auto both = parse_completion_request({{"prompt", "x"}, {"echo", true}, {"logprobs", 1}});
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.error().param.value_or(""), "echo");
  auto big = parse_completion_request({{"prompt", "x"}, {"logprobs", 21}});
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().param.value_or(""), "logprobs");
  // max_completion_tokens is a chat field: completions ignore it.
  auto mct = parse_completion_request({{"prompt", "x"}, {"max_completion_tokens", 0}});
  ASSERT_TRUE(mct.ok());
}

TEST(OpenAiRequest, MalformedAndDeepJsonAre400) {
  for (const char* body : {"{", "not json", "[1, 2]", "\"str\"", "{\"a\": }"}) {
    auto r = parse_json_body(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().status, 400);
  }
  std::string deep(100000, '[');
  auto r = parse_json_body("{\"a\": " + deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("nested"), std::string::npos);
  // Brackets inside strings do not count.
  auto s = parse_json_body("{\"a\": \"" + std::string(1000, '[') + "\"}");
  EXPECT_TRUE(s.ok());
}

TEST(OpenAiRequest, EngineErrorsNameTheirParameter) {
  EXPECT_EQ(engine_error("top_p must be in (0, 1], got 2").param.value_or(""), "top_p");
  EXPECT_EQ(engine_error("logit_bias: token id 99999 is outside the vocabulary [0, 300)")
                .param.value_or(""),
            "logit_bias");
  EXPECT_EQ(engine_error("n = 99 exceeds --max-num-seqs 4").param.value_or(""), "n");
  const ApiError ctx = engine_error(
      "this model's maximum context length is 128 tokens; the request asks for 200 tokens (100 in "
      "the prompt, 100 "
      "to generate)");
  EXPECT_EQ(ctx.status, 400);
  EXPECT_EQ(ctx.code.value_or(""), "context_length_exceeded");
  EXPECT_FALSE(ctx.param.has_value());
}

TEST(OpenAiRequest, ErrorJsonShape) {
  ApiError e = bad_request("bad top_p", "top_p");
  const Json j = error_json(e);
  EXPECT_EQ(j["error"]["message"], "bad top_p");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["param"], "top_p");
  EXPECT_TRUE(j["error"]["code"].is_null());
}

}  // namespace
}  // namespace pagoda::server

namespace pagoda::server {
namespace {

// --generation-config: defaults come from a generation_config.json; request fields still win.
TEST(GenerationConfig, FileDefaultsApplyAndRequestFieldsWin) {
  const auto dir = std::filesystem::temp_directory_path() / ("pagoda_gencfg_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "generation_config.json") << R"({"temperature": 0.6, "top_p": 0.9, "top_k": 20, "repetition_penalty": 1.05})";
  }
  auto d = load_generation_defaults(dir.string(), nullptr);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_FLOAT_EQ(d->params.temperature, 0.6f);
  EXPECT_FLOAT_EQ(d->params.top_p, 0.9f);
  EXPECT_EQ(d->params.top_k, 20);
  EXPECT_FLOAT_EQ(d->params.repetition_penalty, 1.05f);
  EXPECT_EQ(d->params.min_p, 0.0f);  // not given: OpenAI's default
  auto req = parse_chat_request(nlohmann::ordered_json::parse(R"({"messages": [{"role": "user", "content": "x"}], "top_k": 5})"),
                                d->params);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->params.top_k, 5);
  EXPECT_FLOAT_EQ(req->params.temperature, 0.6f);
  {
    std::ofstream(dir / "generation_config.json") << R"({"top_p": 3.0})";
  }
  auto bad = load_generation_defaults(dir.string(), nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("top_p"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(load_generation_defaults((dir / "absent.json").string(), nullptr).ok());
  std::filesystem::remove_all(dir);
}

TEST(GenerationConfig, VllmAndAutoWithoutRecommendationAreOpenAiDefaults) {
  for (const char* mode : {"vllm", "auto"}) {
    auto d = load_generation_defaults(mode, nullptr);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->params.temperature, 1.0f);
    EXPECT_EQ(d->params.top_k, 0);
    EXPECT_EQ(d->summary, "");
  }
}

}  // namespace
}  // namespace pagoda::server

namespace pagoda::server {
namespace {

TEST(OpenAiRequest, ContinueFinalMessageNeedsAFinalAssistantMessage) {
  const Json prefill = Json::array({{{"role", "user"}, {"content", "hi"}}, {{"role", "assistant"}, {"content", "Once"}}});
  auto r = parse_chat_request(chat_body({{"messages", prefill}, {"continue_final_message", true}}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->continue_final_message);
  EXPECT_FALSE(r->add_generation_prompt);
  // The last message is the user's: nothing to continue.
  EXPECT_EQ(chat_error({{"continue_final_message", true}}).param, "continue_final_message");
  // Both asked for explicitly: contradictory.
  EXPECT_EQ(chat_error({{"messages", prefill}, {"continue_final_message", true}, {"add_generation_prompt", true}}).param,
            "continue_final_message");
  EXPECT_EQ(chat_error({{"continue_final_message", "yes"}}).param, "continue_final_message");
}

}  // namespace
}  // namespace pagoda::server
