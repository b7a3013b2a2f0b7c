// Response and stream-chunk shapes built from fake engine outputs.
#include <gtest/gtest.h>

#include "server/openai_response.h"

namespace pagoda::server {
namespace {

using Json = nlohmann::ordered_json;

std::string piece(int32_t id) {
  std::string s = "t";
  s += std::to_string(id);
  return s;
}

engine::RequestOutput output(std::vector<engine::SequenceDelta> deltas, bool finished,
                             int generated) {
  engine::RequestOutput o;
  o.deltas = std::move(deltas);
  o.finished = finished;
  o.n_prompt_tokens = 10;
  o.n_cached_tokens = 4;
  o.n_generated_tokens = generated;
  o.time_to_first_token_ms = 12.5;
  return o;
}

engine::SequenceDelta delta(int index, std::vector<int32_t> tokens, std::string text,
                            engine::Finish finish = engine::Finish::none) {
  engine::SequenceDelta d;
  d.index = index;
  d.tokens = std::move(tokens);
  d.text = std::move(text);
  d.finish = finish;
  for (int32_t t : d.tokens) {
    engine::TokenInfo info;
    info.chosen = {t, -0.5f};
    info.top = {{t, -0.5f}, {t + 1, -1.5f}};
    d.info.push_back(info);
  }
  return d;
}

ResponseMeta meta(ApiKind kind, int n = 1) {
  ResponseMeta m;
  m.kind = kind;
  m.id = kind == ApiKind::chat ? "chatcmpl-x" : "cmpl-x";
  m.model = "demo";
  m.created = 1700000000;
  m.fingerprint = "fp_pagoda";
  m.n = n;
  return m;
}

TEST(OpenAiResponse, ChatCompletionShape) {
  ResponseBuilder b(meta(ApiKind::chat), piece);
  b.add(0, output({delta(0, {1, 2}, "Hel")}, false, 2));
  EXPECT_FALSE(b.finished());
  b.add(0, output({delta(0, {3}, "lo", engine::Finish::length)}, true, 3));
  EXPECT_TRUE(b.finished());
  const Json r = b.response();
  EXPECT_EQ(r["id"], "chatcmpl-x");
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_EQ(r["created"], 1700000000);
  EXPECT_EQ(r["model"], "demo");
  EXPECT_EQ(r["system_fingerprint"], "fp_pagoda");
  ASSERT_EQ(r["choices"].size(), 1u);
  const Json& c = r["choices"][0];
  EXPECT_EQ(c["index"], 0);
  EXPECT_EQ(c["message"]["role"], "assistant");
  EXPECT_EQ(c["message"]["content"], "Hello");
  EXPECT_TRUE(c["logprobs"].is_null());
  EXPECT_EQ(c["finish_reason"], "length");
  EXPECT_EQ(r["usage"]["prompt_tokens"], 10);
  EXPECT_EQ(r["usage"]["completion_tokens"], 3);
  EXPECT_EQ(r["usage"]["total_tokens"], 13);
  EXPECT_EQ(r["usage"]["prompt_tokens_details"]["cached_tokens"], 4);
}

TEST(OpenAiResponse, ChatStreamChunks) {
  ResponseMeta m = meta(ApiKind::chat, 2);
  m.include_usage = true;
  ResponseBuilder b(m, piece);
  auto start = b.start_chunks();
  ASSERT_EQ(start.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(start[i]["object"], "chat.completion.chunk");
    EXPECT_EQ(start[i]["choices"][0]["index"], i);
    EXPECT_EQ(start[i]["choices"][0]["delta"]["role"], "assistant");
    EXPECT_EQ(start[i]["choices"][0]["delta"]["content"], "");
    EXPECT_TRUE(start[i]["choices"][0]["finish_reason"].is_null());
    EXPECT_TRUE(start[i].contains("usage") && start[i]["usage"].is_null());
  }
  auto chunks = b.add(0, output({delta(0, {1}, "A"), delta(1, {2}, "")}, false, 2));
  ASSERT_EQ(chunks.size(), 1u);  // sample 1's text is held back: nothing to send for it
  EXPECT_EQ(chunks[0]["choices"][0]["delta"]["content"], "A");
  EXPECT_FALSE(chunks[0]["choices"][0]["delta"].contains("role"));
  chunks = b.add(0, output({delta(0, {}, "", engine::Finish::stop),
                            delta(1, {3}, "B", engine::Finish::length)},
                           true, 3));
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0]["choices"][0]["index"], 0);
  EXPECT_EQ(chunks[0]["choices"][0]["finish_reason"], "stop");
  EXPECT_TRUE(chunks[0]["choices"][0]["delta"].empty());
  EXPECT_EQ(chunks[1]["choices"][0]["delta"]["content"], "B");
  EXPECT_EQ(chunks[2]["choices"][0]["index"], 1);
  EXPECT_EQ(chunks[2]["choices"][0]["finish_reason"], "length");
  const Json usage = b.usage_chunk();
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 3);
  EXPECT_EQ(sse_data(Json{{"a", 1}}), "data: {\"a\":1}\n\n");
  EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
}

TEST(OpenAiResponse, ChatLogprobs) {
  ResponseMeta m = meta(ApiKind::chat);
  m.logprobs = 2;
  ResponseBuilder b(m, piece);
  auto chunks = b.add(0, output({delta(0, {7}, "x", engine::Finish::stop)}, true, 1));
  ASSERT_EQ(chunks.size(), 2u);
  const Json& part = chunks[0]["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(part.size(), 1u);
  EXPECT_EQ(part[0]["token"], "t7");
  EXPECT_FLOAT_EQ(part[0]["logprob"].get<float>(), -0.5f);
  EXPECT_EQ(part[0]["bytes"], Json::array({'t', '7'}));
  ASSERT_EQ(part[0]["top_logprobs"].size(), 2u);
  EXPECT_EQ(part[0]["top_logprobs"][1]["token"], "t8");
  const Json r = b.response();
  EXPECT_EQ(r["choices"][0]["logprobs"]["content"], part);
}

TEST(OpenAiResponse, CompletionWithLogprobsAndSeveralPrompts) {
  ResponseMeta m = meta(ApiKind::completion);
  m.n_prompts = 2;
  m.logprobs = 1;
  ResponseBuilder b(m, piece);
  EXPECT_TRUE(b.start_chunks().empty());  // no echo: nothing before the first token
  auto chunks = b.add(1, output({delta(0, {4, 5}, "t4t5", engine::Finish::length)}, true, 2));
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0]["object"], "text_completion");
  EXPECT_EQ(chunks[0]["choices"][0]["index"], 1);
  EXPECT_EQ(chunks[0]["choices"][0]["text"], "t4t5");
  b.add(0, output({delta(0, {9}, "t9", engine::Finish::stop)}, true, 1));
  const Json r = b.response();
  EXPECT_EQ(r["object"], "text_completion");
  ASSERT_EQ(r["choices"].size(), 2u);
  EXPECT_EQ(r["choices"][0]["text"], "t9");
  const Json& lp = r["choices"][1]["logprobs"];
  EXPECT_EQ(lp["tokens"], Json::array({"t4", "t5"}));
  EXPECT_EQ(lp["text_offset"], Json::array({0, 2}));
  EXPECT_FLOAT_EQ(lp["token_logprobs"][1].get<float>(), -0.5f);
  EXPECT_TRUE(lp["top_logprobs"][0].contains("t4"));
  EXPECT_EQ(r["usage"]["prompt_tokens"], 20);  // two prompts of 10
  EXPECT_EQ(r["usage"]["completion_tokens"], 3);
}

TEST(OpenAiResponse, CompletionEcho) {
  ResponseMeta m = meta(ApiKind::completion);
  m.echo = {"Once upon"};
  ResponseBuilder b(m, piece);
  auto start = b.start_chunks();
  ASSERT_EQ(start.size(), 1u);
  EXPECT_EQ(start[0]["choices"][0]["text"], "Once upon");
  b.add(0, output({delta(0, {1}, " a time", engine::Finish::length)}, true, 1));
  EXPECT_EQ(b.response()["choices"][0]["text"], "Once upon a time");
}

TEST(OpenAiResponse, InvalidUtf8IsReplacedNotThrown) {
  Json j = {{"text", std::string("\xe2\x82", 2)}};
  EXPECT_NO_THROW({
    const std::string s = json_text(j);
    EXPECT_NE(s.find("\xef\xbf\xbd"), std::string::npos);
  });
}

}  // namespace
}  // namespace pagoda::server
