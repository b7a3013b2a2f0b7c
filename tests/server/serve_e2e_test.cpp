// End to end: starts `pagoda serve` on a demo model written by `pagoda make-model`
// (and on ../shared/fixtures' stories260K when present), then talks HTTP to it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "common/fixtures.h"
#include "common/run_binary.h"
#include "common/serve_process.h"
#include "server/http_client.h"

namespace pagoda::test {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
const std::map<std::string, std::string> kAuth = {{"Authorization", "Bearer sekret"}};

class ServeE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("pagoda_serve_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    const auto made = run_pagoda("make-model -t 2 -o '" + (dir_ / "demo.gguf").string() + "'");
    ASSERT_EQ(made.status, 0) << made.err;
    server_ = new ServeProcess;
    ASSERT_TRUE(server_->start({(dir_ / "demo.gguf").string(), "--port", "0", "--api-key", "sekret",
                                "-t", "2", "--max-model-len", "4096", "--kv-cache-memory", "64MiB",
                                "--max-num-seqs", "8", "--served-model-name", "demo"},
                               dir_ / "serve.log"))
        << server_->log();
  }
  static void TearDownTestSuite() {
    if (server_) {
      EXPECT_EQ(server_->stop(SIGTERM), 0) << "SIGTERM must exit 0\n" << server_->log();
      delete server_;
      server_ = nullptr;
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void SetUp() override {
    if (!server_ || server_->port() == 0) GTEST_SKIP() << "the server did not start";
  }

  static HttpResult post(const std::string& path, const Json& body) {
    return http_call(server_->port(), http::verb::post, path, body.dump(), kAuth);
  }
  static HttpResult get(const std::string& path,
                        const std::map<std::string, std::string>& headers = kAuth) {
    return http_call(server_->port(), http::verb::get, path, "", headers);
  }
  static double metric(const std::string& name) {
    const std::string text = get("/metrics").body;
    const std::regex re(name + "\\{[^}]*\\} ([0-9.e+-]+)");
    std::smatch m;
    if (!std::regex_search(text, m, re)) return -1.0;
    return std::stod(m[1]);
  }

  static fs::path dir_;
  static ServeProcess* server_;
};
fs::path ServeE2E::dir_;
ServeProcess* ServeE2E::server_ = nullptr;

Json chat(const std::string& content, Json extra = Json::object()) {
  Json body = {{"model", "demo"}, {"messages", {{{"role", "user"}, {"content", content}}}}};
  for (auto& [k, v] : extra.items()) body[k] = v;
  return body;
}

TEST_F(ServeE2E, HealthVersionModels) {
  EXPECT_EQ(get("/health", {}).status, 200);
  EXPECT_EQ(get("/version", {}).status, 200);
  const HttpResult models = get("/v1/models");
  ASSERT_EQ(models.status, 200) << models.body;
  const Json j = models.json();
  EXPECT_EQ(j["object"], "list");
  ASSERT_EQ(j["data"].size(), 1u);
  EXPECT_EQ(j["data"][0]["id"], "demo");
  EXPECT_EQ(j["data"][0]["object"], "model");
  EXPECT_EQ(j["data"][0]["max_model_len"], 4096);
  EXPECT_EQ(get("/v1/models/demo").status, 200);
  EXPECT_EQ(get("/v1/models/other").status, 404);
}

TEST_F(ServeE2E, AuthUnknownModelAndBadRequests) {
  const HttpResult none = get("/v1/models", {});
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.json()["error"]["code"], "invalid_api_key");
  EXPECT_EQ(get("/v1/models", {{"Authorization", "Bearer wrong"}}).status, 401);
  EXPECT_EQ(http_call(server_->port(), http::verb::post, "/v1/chat/completions", chat("hi").dump())
                .status,
            401);

  const HttpResult unknown = post("/v1/chat/completions", chat("hi", {{"model", "gpt-9"}}));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.json()["error"]["param"], "model");

  const HttpResult malformed = http_call(server_->port(), http::verb::post, "/v1/chat/completions",
                                         "{\"messages\": [", kAuth);
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(malformed.json()["error"]["type"], "invalid_request_error");

  const HttpResult top_p = post("/v1/chat/completions", chat("hi", {{"top_p", 5}}));
  EXPECT_EQ(top_p.status, 400);
  EXPECT_EQ(top_p.json()["error"]["param"], "top_p");

  const HttpResult overflow =
      post("/v1/completions", {{"prompt", "hello"}, {"max_tokens", 100000}});
  EXPECT_EQ(overflow.status, 400);
  const std::string message = overflow.json()["error"]["message"];
  EXPECT_NE(message.find("4096"), std::string::npos) << message;
  EXPECT_NE(message.find("100000"), std::string::npos) << message;

  EXPECT_EQ(post("/v1/nothing", Json::object()).status, 404);
  EXPECT_EQ(post("/v1/completions", {{"prompt", {999999}}, {"max_tokens", 1}}).status, 400);
}

TEST_F(ServeE2E, OversizedBodyIs413) {
  net::io_context ioc;
  tcp::socket socket(ioc);
  ASSERT_TRUE(connect_local(socket, server_->port()));
  const std::string head =
      "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sekret\r\n"
      "Content-Type: application/json\r\nContent-Length: 9000000\r\n\r\n";
  net::write(socket, net::buffer(head));
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  boost::system::error_code ec;
  http::read(socket, buffer, res, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result_int(), 413u);
  EXPECT_EQ(Json::parse(res.body())["error"]["code"], "request_too_large");
}

TEST_F(ServeE2E, ChatCompletionShapeAndUsage) {
  const HttpResult r =
      post("/v1/chat/completions", chat("Hello there", {{"temperature", 0}, {"max_tokens", 12}}));
  ASSERT_EQ(r.status, 200) << r.body;
  const Json j = r.json();
  EXPECT_TRUE(j["id"].get<std::string>().starts_with("chatcmpl-"));
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "demo");
  EXPECT_TRUE(j["created"].is_number_integer());
  EXPECT_TRUE(j.contains("system_fingerprint"));
  ASSERT_EQ(j["choices"].size(), 1u);
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_TRUE(j["choices"][0]["message"]["content"].is_string());
  const std::string finish = j["choices"][0]["finish_reason"];
  EXPECT_TRUE(finish == "stop" || finish == "length") << finish;
  const Json& u = j["usage"];
  EXPECT_GT(u["prompt_tokens"].get<int>(), 3);
  EXPECT_LE(u["completion_tokens"].get<int>(), 12);
  EXPECT_EQ(u["total_tokens"].get<int>(),
            u["prompt_tokens"].get<int>() + u["completion_tokens"].get<int>());
  EXPECT_TRUE(u["prompt_tokens_details"]["cached_tokens"].is_number_integer());
  // One access-log line per request, with its token counts.
  bool logged = false;
  for (int i = 0; i < 40 && !logged; ++i) {
    logged = server_->log().find("POST /v1/chat/completions 200 prompt=") != std::string::npos;
    if (!logged) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(logged) << server_->log();
}

TEST_F(ServeE2E, StreamedChatEqualsNonStreamedAtTemperatureZero) {
  const Json base =
      chat("Tell me a story", {{"temperature", 0}, {"max_tokens", 24}, {"ignore_eos", true}});
  const HttpResult whole = post("/v1/chat/completions", base);
  ASSERT_EQ(whole.status, 200) << whole.body;
  Json streamed = base;
  streamed["stream"] = true;
  streamed["stream_options"] = {{"include_usage", true}};
  const HttpResult s = post("/v1/chat/completions", streamed);
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(s.headers.at("Content-Type"), "text/event-stream");
  bool done = false;
  const auto events = sse_events(s.body, &done);
  EXPECT_TRUE(done);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events[0]["object"], "chat.completion.chunk");
  EXPECT_EQ(events[0]["choices"][0]["delta"]["role"], "assistant");
  std::string text, finish;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    const Json& c = events[i]["choices"][0];
    if (c["delta"].contains("content")) text += c["delta"]["content"].get<std::string>();
    if (!c["finish_reason"].is_null()) finish = c["finish_reason"];
  }
  EXPECT_EQ(text, whole.json()["choices"][0]["message"]["content"]);
  EXPECT_EQ(finish, "length");
  const Json& last = events.back();
  EXPECT_TRUE(last["choices"].empty());
  EXPECT_EQ(last["usage"]["completion_tokens"], 24);
}

TEST_F(ServeE2E, StreamedCompletionEqualsNonStreamedAndNoUsageUnlessAsked) {
  const Json base = {
      {"prompt", "Once upon a time"}, {"temperature", 0}, {"max_tokens", 20}, {"ignore_eos", true}};
  const HttpResult whole = post("/v1/completions", base);
  ASSERT_EQ(whole.status, 200) << whole.body;
  EXPECT_EQ(whole.json()["object"], "text_completion");
  EXPECT_TRUE(whole.json()["id"].get<std::string>().starts_with("cmpl-"));
  Json streamed = base;
  streamed["stream"] = true;
  const HttpResult s = post("/v1/completions", streamed);
  bool done = false;
  const auto events = sse_events(s.body, &done);
  EXPECT_TRUE(done);
  std::string text;
  for (const Json& e : events) {
    EXPECT_FALSE(e.contains("usage")) << e.dump();
    ASSERT_EQ(e["choices"].size(), 1u);
    text += e["choices"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(text, whole.json()["choices"][0]["text"]);
}

TEST_F(ServeE2E, TwoChoicesAndLogprobs) {
  const HttpResult r = post("/v1/chat/completions", chat("Hi", {{"temperature", 0},
                                                                {"max_tokens", 8},
                                                                {"n", 2},
                                                                {"ignore_eos", true},
                                                                {"logprobs", true},
                                                                {"top_logprobs", 2}}));
  ASSERT_EQ(r.status, 200) << r.body;
  const Json j = r.json();
  ASSERT_EQ(j["choices"].size(), 2u);
  EXPECT_EQ(j["choices"][0]["index"], 0);
  EXPECT_EQ(j["choices"][1]["index"], 1);
  EXPECT_EQ(j["choices"][0]["message"]["content"],
            j["choices"][1]["message"]["content"]);  // greedy
  EXPECT_EQ(j["usage"]["completion_tokens"], 16);
  const Json& content = j["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 8u);
  EXPECT_LE(content[0]["logprob"].get<double>(), 0.0);
  EXPECT_EQ(content[0]["top_logprobs"].size(), 2u);
  EXPECT_TRUE(content[0]["bytes"].is_array());

  const HttpResult c = post("/v1/completions", {{"prompt", {"a b", "c d"}},
                                                {"max_tokens", 4},
                                                {"logprobs", 1},
                                                {"ignore_eos", true},
                                                {"seed", 7}});
  ASSERT_EQ(c.status, 200) << c.body;
  ASSERT_EQ(c.json()["choices"].size(), 2u);
  EXPECT_EQ(c.json()["choices"][1]["logprobs"]["tokens"].size(), 4u);
}

TEST_F(ServeE2E, StopStringEndsTheText) {
  const Json base = {
      {"prompt", "The cat"}, {"temperature", 0}, {"max_tokens", 40}, {"ignore_eos", true}};
  const std::string full = post("/v1/completions", base).json()["choices"][0]["text"];
  ASSERT_GE(full.size(), 16u) << full;
  // A stop string of whole characters from the middle of the greedy text.
  auto boundary = [&](size_t i) {
    while (i < full.size() && (static_cast<unsigned char>(full[i]) & 0xC0) == 0x80) ++i;
    return i;
  };
  const size_t begin = boundary(8), end = boundary(begin + 3);
  ASSERT_LT(end, full.size());
  const std::string stop = full.substr(begin, end - begin);
  Json with_stop = base;
  with_stop["stop"] = {stop};
  const Json j = post("/v1/completions", with_stop).json();
  EXPECT_EQ(j["choices"][0]["text"], full.substr(0, full.find(stop)));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
}

TEST_F(ServeE2E, RepeatedLongPromptIsCached) {
  std::string prompt;
  for (int i = 0; i < 25; ++i) prompt += "the quick brown fox " + std::to_string(i) + " ";
  const Json body = {{"prompt", prompt}, {"max_tokens", 2}, {"temperature", 0}};
  const HttpResult first = post("/v1/completions", body);
  ASSERT_EQ(first.status, 200) << first.body;
  const HttpResult second = post("/v1/completions", body);
  ASSERT_EQ(second.status, 200) << second.body;
  const Json u = second.json()["usage"];
  EXPECT_GT(u["prompt_tokens"].get<int>(), 64);
  EXPECT_GE(u["prompt_tokens_details"]["cached_tokens"].get<int>(), 48);
}

TEST_F(ServeE2E, TokenizeDetokenizeMetrics) {
  const HttpResult t = post("/tokenize", {{"prompt", "hello world"}});
  ASSERT_EQ(t.status, 200) << t.body;
  const Json tj = t.json();
  EXPECT_EQ(tj["count"].get<size_t>(), tj["tokens"].size());
  EXPECT_EQ(tj["max_model_len"], 4096);
  const HttpResult d = post("/detokenize", {{"tokens", tj["tokens"]}});
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_NE(d.json()["prompt"].get<std::string>().find("hello world"), std::string::npos);
  const HttpResult chat_tokens =
      post("/tokenize", {{"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  ASSERT_EQ(chat_tokens.status, 200) << chat_tokens.body;
  EXPECT_GT(chat_tokens.json()["count"].get<int>(), 3);

  ASSERT_EQ(post("/v1/completions", {{"prompt", "hi"}, {"max_tokens", 2}}).status, 200);
  const HttpResult m = get("/metrics", {});
  ASSERT_EQ(m.status, 200);
  for (const char* name :
       {"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:gpu_cache_usage_perc",
        "vllm:prefix_cache_queries", "vllm:prompt_tokens_total", "vllm:generation_tokens_total",
        "vllm:time_to_first_token_seconds_bucket", "vllm:e2e_request_latency_seconds_count"})
    EXPECT_NE(m.body.find(name), std::string::npos) << name;
  EXPECT_GT(metric("vllm:prompt_tokens_total"), 0.0);
}

// A client that goes away mid-request: its engine request is aborted and its KV blocks freed.
TEST_F(ServeE2E, DisconnectAbortsTheRequest) {
  for (bool streaming : {true, false}) {
    const double aborted_before = metric("pagoda:requests_aborted_total");
    {
      net::io_context ioc;
      tcp::socket socket(ioc);
      ASSERT_TRUE(connect_local(socket, server_->port()));
      Json body = {{"prompt", "A long story"},
                   {"max_tokens", 4000},
                   {"ignore_eos", true},
                   {"stream", streaming}};
      http::request<http::string_body> req{http::verb::post, "/v1/completions", 11};
      req.set(http::field::host, "127.0.0.1");
      req.set(http::field::authorization, "Bearer sekret");
      req.body() = body.dump();
      req.prepare_payload();
      http::write(socket, req);
      if (streaming) {
        std::string seen;
        char buf[512];
        while (seen.find("data: ") == std::string::npos) {
          boost::system::error_code ec;
          const size_t n = socket.read_some(net::buffer(buf), ec);
          ASSERT_FALSE(ec) << ec.message();
          seen.append(buf, n);
        }
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
      }
      // The engine publishes metrics after each step: wait until it shows the request running.
      auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (std::chrono::steady_clock::now() < until && metric("vllm:num_requests_running") < 1.0)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      ASSERT_GE(metric("vllm:num_requests_running"), 1.0);
    }  // the socket closes here
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline &&
           (metric("pagoda:requests_aborted_total") < aborted_before + 1.0 ||
            metric("vllm:num_requests_running") != 0.0 ||
            metric("pagoda:kv_cache_usage_perc") != 0.0))
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(metric("vllm:num_requests_running"), 0.0)
        << (streaming ? "streaming" : "non-streaming");
    EXPECT_EQ(metric("pagoda:kv_cache_usage_perc"), 0.0);
    EXPECT_EQ(metric("pagoda:requests_aborted_total"), aborted_before + 1.0);
  }
}

// The llama.cpp fixture model (no chat template in the file: one is given with --chat-template).
TEST(ServeFixture, Stories260K) {
  PAGODA_REQUIRE_FIXTURE("models/stories260K.gguf");
  const fs::path dir =
      fs::temp_directory_path() / ("pagoda_serve_fx_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "chatml.jinja")
      << "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
         "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>"
         "assistant\n{% endif %}";
  ServeProcess server;
  ASSERT_TRUE(server.start(
      {"-m", fixture("models/stories260K.gguf"), "--port", "0", "-t", "2", "--chat-template",
       (dir / "chatml.jinja").string(), "--kv-cache-memory", "32MiB"},
      dir / "serve.log"))
      << server.log();
  const HttpResult r = http_call(
      server.port(), http::verb::post, "/v1/completions",
      Json{{"prompt", "Once upon a time"}, {"max_tokens", 16}, {"temperature", 0}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.json()["choices"][0]["text"].get<std::string>().empty());
  EXPECT_EQ(r.json()["model"], "stories260K");
  const HttpResult c = http_call(server.port(), http::verb::post, "/v1/chat/completions",
                                 chat("Hi", {{"model", nullptr}, {"max_tokens", 8}}).dump());
  EXPECT_EQ(c.status, 200) << c.body;
  EXPECT_EQ(server.stop(SIGINT), 0) << server.log();
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace pagoda::test
