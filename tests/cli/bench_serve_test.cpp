// `pagoda bench serve`: the pure pieces (percentiles, summary, SSE parsing,
// stream bookkeeping, base URLs, datasets, arrivals) and end to end against a
// `pagoda serve` child on a demo model written by `pagoda make-model`.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "cli/bench_serve/inputs.h"
#include "cli/bench_serve/sse.h"
#include "cli/bench_serve/stats.h"
#include "common/run_binary.h"
#include "common/serve_process.h"
#include "server/http_client.h"

namespace pagoda::cli::bench_serve {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// ---- statistics -------------------------------------------------------------

TEST(BenchServeStats, PercentileInterpolatesLikeNumpy) {
  const std::vector<double> v = {5, 1, 4, 2, 3};  // any order
  EXPECT_DOUBLE_EQ(percentile(v, 0), 1);
  EXPECT_DOUBLE_EQ(percentile(v, 50), 3);
  EXPECT_DOUBLE_EQ(percentile(v, 90), 4.6);
  EXPECT_DOUBLE_EQ(percentile(v, 99), 4.96);
  EXPECT_DOUBLE_EQ(percentile(v, 100), 5);
  EXPECT_DOUBLE_EQ(percentile({1, 2, 3, 4}, 50), 2.5);
  EXPECT_DOUBLE_EQ(percentile({7}, 99), 7);
  EXPECT_DOUBLE_EQ(percentile({}, 50), 0);
  EXPECT_DOUBLE_EQ(mean({1, 2, 6}), 3);
  EXPECT_DOUBLE_EQ(mean({}), 0);
}

TEST(BenchServeStats, DistributionInMilliseconds) {
  const Distribution d = distribution_ms({0.001, 0.002, 0.003, 0.010});
  EXPECT_EQ(d.count, 4u);
  EXPECT_NEAR(d.mean_ms, 4.0, 1e-9);
  EXPECT_NEAR(d.median_ms, 2.5, 1e-9);
  EXPECT_NEAR(d.p90_ms, 7.9, 1e-9);
  EXPECT_LE(d.median_ms, d.p90_ms);
  EXPECT_LE(d.p90_ms, d.p99_ms);
  EXPECT_EQ(distribution_ms({}).count, 0u);
}

RequestResult ok(double ttft, double e2e, int64_t in, int64_t out, std::vector<double> itl) {
  RequestResult r;
  r.success = true;
  r.ttft_s = ttft;
  r.e2e_s = e2e;
  r.prompt_tokens = in;
  r.output_tokens = out;
  r.itl_s = std::move(itl);
  return r;
}

RequestResult failed(const std::string& why) {
  RequestResult r;
  r.error = why;
  return r;
}

TEST(BenchServeStats, TpotNeedsTwoTokens) {
  EXPECT_DOUBLE_EQ(tpot_s(ok(0.1, 0.5, 4, 5, {})), 0.1);
  EXPECT_LT(tpot_s(ok(0.1, 0.1, 4, 1, {})), 0);
  EXPECT_LT(tpot_s(failed("x")), 0);
}

TEST(BenchServeStats, SummaryCountsSuccessesAndGroupsErrors) {
  const std::vector<RequestResult> results = {
      ok(0.1, 0.5, 10, 5, {0.1, 0.1, 0.1, 0.1}), ok(0.2, 0.4, 20, 3, {0.1, 0.1}),
      ok(0.3, 0.3, 30, 1, {}),  // one token: no TPOT, no ITL
      failed("HTTP 503: busy"), failed("timed out"), failed("HTTP 503: busy")};
  const Summary s = summarize(results, 2.0);
  EXPECT_EQ(s.completed, 3);
  EXPECT_EQ(s.failed, 3);
  EXPECT_EQ(s.total_input_tokens, 60);
  EXPECT_EQ(s.total_output_tokens, 9);
  EXPECT_DOUBLE_EQ(s.request_throughput, 1.5);
  EXPECT_DOUBLE_EQ(s.output_throughput, 4.5);
  EXPECT_DOUBLE_EQ(s.total_token_throughput, 34.5);
  EXPECT_EQ(s.ttft.count, 3u);
  EXPECT_NEAR(s.ttft.mean_ms, 200, 1e-9);
  EXPECT_EQ(s.tpot.count, 2u);
  EXPECT_NEAR(s.tpot.mean_ms, 100, 1e-9);
  EXPECT_EQ(s.itl.count, 6u);
  EXPECT_NEAR(s.itl.median_ms, 100, 1e-9);
  EXPECT_NEAR(s.e2el.median_ms, 400, 1e-9);
  ASSERT_EQ(s.errors.size(), 2u);
  EXPECT_EQ(s.errors[0].first, "HTTP 503: busy");
  EXPECT_EQ(s.errors[0].second, 2);
  EXPECT_EQ(s.errors[1].first, "timed out");

  const auto j = summary_json(s, 1);
  for (const char* key : {"completed", "failed", "duration", "total_input_tokens", "total_output_tokens",
                          "request_throughput", "output_throughput", "total_token_throughput", "mean_ttft_ms",
                          "median_ttft_ms", "p90_ttft_ms", "p99_ttft_ms", "mean_tpot_ms", "median_tpot_ms",
                          "p99_tpot_ms", "mean_itl_ms", "p90_itl_ms", "mean_e2el_ms", "p99_e2el_ms"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["errors"].size(), 1u);
  EXPECT_EQ(j["errors"][0]["count"], 2);
}

TEST(BenchServeStats, EmptyRunIsAllZeros) {
  const Summary s = summarize({}, 0);
  EXPECT_EQ(s.completed, 0);
  EXPECT_EQ(s.request_throughput, 0);
  EXPECT_EQ(s.ttft.p99_ms, 0);
  const Summary f = summarize({failed("")}, 1.0);
  EXPECT_EQ(f.failed, 1);
  EXPECT_EQ(f.errors.at(0).first, "unknown error");
}

// ---- SSE --------------------------------------------------------------------

std::vector<std::string> events_of(const std::vector<std::string>& pieces) {
  SseParser p;
  std::vector<std::string> out;
  auto take = [&](std::string_view d) {
    out.emplace_back(d);
    return true;
  };
  for (const auto& piece : pieces) p.feed(piece, take);
  p.finish(take);
  return out;
}

TEST(BenchServeSse, SplitsEventsAcrossArbitraryPieces) {
  const std::string stream = "data: {\"a\":1}\n\n: keep-alive\n\ndata: {\"b\":2}\r\n\r\nevent: x\nid: 3\ndata:[DONE]\n\n";
  const std::vector<std::string> want = {"{\"a\":1}", "{\"b\":2}", "[DONE]"};
  EXPECT_EQ(events_of({stream}), want);
  for (size_t cut = 0; cut <= stream.size(); ++cut)
    EXPECT_EQ(events_of({stream.substr(0, cut), stream.substr(cut)}), want) << cut;
  std::vector<std::string> bytes;
  for (char c : stream) bytes.emplace_back(1, c);
  EXPECT_EQ(events_of(bytes), want);
}

TEST(BenchServeSse, MultiLineDataAndUnterminatedTail) {
  EXPECT_EQ(events_of({"data: one\ndata: two\n\n"}), std::vector<std::string>{"one\ntwo"});
  EXPECT_EQ(events_of({"data: tail-without-blank-line"}), std::vector<std::string>{"tail-without-blank-line"});
  EXPECT_TRUE(events_of({"\n\n: only a comment\n\n"}).empty());
}

TEST(BenchServeSse, StopsWhenTheHandlerSaysSo) {
  SseParser p;
  int seen = 0;
  EXPECT_FALSE(p.feed("data: 1\n\ndata: 2\n\n", [&](std::string_view) { return ++seen < 1; }));
  EXPECT_EQ(seen, 1);
}

TEST(BenchServeStream, CompletionChunksWithUsage) {
  StreamAccumulator a;
  EXPECT_TRUE(a.on_event(R"({"choices":[{"index":0,"text":"Hel"}]})", 0.10));
  EXPECT_TRUE(a.on_event(R"({"choices":[{"index":0,"text":"lo"}]})", 0.15));
  EXPECT_TRUE(a.on_event(R"({"choices":[{"index":0,"text":"!","finish_reason":"length"}]})", 0.25));
  EXPECT_TRUE(a.on_event(R"({"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":4}})", 0.26));
  EXPECT_TRUE(a.on_event("[DONE]", 0.27));
  const RequestResult r = a.finish(0.30, 6);
  EXPECT_TRUE(r.success) << r.error;
  EXPECT_DOUBLE_EQ(r.ttft_s, 0.10);
  ASSERT_EQ(r.itl_s.size(), 2u);
  EXPECT_NEAR(r.itl_s[0], 0.05, 1e-12);
  EXPECT_NEAR(r.itl_s[1], 0.10, 1e-12);
  EXPECT_EQ(r.output_tokens, 4);  // usage wins over the 3 chunks
  EXPECT_EQ(r.prompt_tokens, 6);  // the benchmark's own count wins
  EXPECT_EQ(a.finish(0.30, -1).prompt_tokens, 7);
}

TEST(BenchServeStream, ChatChunksWithoutUsageCountContent) {
  StreamAccumulator a;
  EXPECT_TRUE(a.on_event(R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})", 0.01));
  EXPECT_TRUE(a.on_event(R"({"choices":[{"index":0,"delta":{"content":"a"}}]})", 0.20));
  EXPECT_TRUE(a.on_event(R"({"choices":[{"index":0,"delta":{"content":"b"}}]})", 0.30));
  EXPECT_TRUE(a.on_event(R"({"choices":[{"index":0,"delta":{},"finish_reason":"length"}]})", 0.31));
  EXPECT_TRUE(a.on_event("[DONE]", 0.32));
  const RequestResult r = a.finish(0.35, 3);
  EXPECT_TRUE(r.success) << r.error;
  EXPECT_DOUBLE_EQ(r.ttft_s, 0.20);  // the role-only chunk is not content
  EXPECT_EQ(r.output_tokens, 2);
  EXPECT_DOUBLE_EQ(tpot_s(r), 0.15);
}

TEST(BenchServeStream, FailuresAreRecorded) {
  StreamAccumulator bad;
  EXPECT_FALSE(bad.on_event("{not json", 0.1));
  EXPECT_FALSE(bad.finish(0.2, 1).success);
  EXPECT_NE(bad.finish(0.2, 1).error.find("malformed"), std::string::npos);

  StreamAccumulator err;
  EXPECT_FALSE(err.on_event(R"({"error":{"message":"engine failed","type":"server_error"}})", 0.1));
  EXPECT_EQ(err.finish(0.2, 1).error, "error event: engine failed");

  StreamAccumulator cut;
  EXPECT_TRUE(cut.on_event(R"({"choices":[{"text":"x"}]})", 0.1));
  EXPECT_EQ(cut.finish(0.2, 1).error, "stream ended without data: [DONE]");
  EXPECT_EQ(cut.finish(0.2, 1, "read response body: end of stream").error, "read response body: end of stream");

  StreamAccumulator empty;
  EXPECT_TRUE(empty.on_event("[DONE]", 0.1));
  EXPECT_EQ(empty.finish(0.2, 1).error, "no content in the stream");

  // Tokens with empty text (special tokens, random weights) still finish: the
  // finishing chunk stands for the first token.
  StreamAccumulator silent;
  EXPECT_TRUE(silent.on_event(R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})", 0.1));
  EXPECT_TRUE(silent.on_event(R"({"choices":[{"index":0,"delta":{},"finish_reason":"length"}]})", 0.3));
  EXPECT_TRUE(silent.on_event(R"({"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":8}})", 0.31));
  EXPECT_TRUE(silent.on_event("[DONE]", 0.32));
  const auto r = silent.finish(0.4, -1);
  EXPECT_EQ(r.error, "");
  EXPECT_DOUBLE_EQ(r.ttft_s, 0.3);
  EXPECT_EQ(r.output_tokens, 8);
}

// ---- inputs -----------------------------------------------------------------

TEST(BenchServeInputs, BaseUrls) {
  std::string err;
  auto a = parse_base_url("http://127.0.0.1:8000/v1", err);
  ASSERT_TRUE(a) << err;
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8000);
  EXPECT_EQ(a->root, "");
  EXPECT_EQ(a->target("/v1/completions"), "/v1/completions");
  EXPECT_EQ(a->target("/tokenize"), "/tokenize");
  EXPECT_EQ(a->host_header(), "127.0.0.1:8000");

  auto b = parse_base_url("http://localhost/proxy/llm/v1/", err);
  ASSERT_TRUE(b) << err;
  EXPECT_EQ(b->port, 80);
  EXPECT_EQ(b->root, "/proxy/llm");
  EXPECT_EQ(b->target("/v1/models"), "/proxy/llm/v1/models");
  EXPECT_EQ(b->host_header(), "localhost");

  auto c = parse_base_url("http://[::1]:9000", err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->host_header(), "[::1]:9000");
  EXPECT_EQ(parse_base_url("http://127.0.0.1:8000/", err)->root, "");

  for (const char* bad : {"https://127.0.0.1", "127.0.0.1:8000", "http://:80", "http://h:0", "http://h:99999",
                          "http://h:8x", "http://h:", "http://[::1"})
    EXPECT_FALSE(parse_base_url(bad, err)) << bad;
}

TEST(BenchServeInputs, JsonlDataset) {
  const Dataset d = parse_dataset(
      "{\"prompt\": \"a\", \"output_len\": 7}\n\n{\"prompt\": \"b\"}\n{\"nothing\": 1}\n"
      "{\"conversations\": [{\"from\": \"human\", \"value\": \"c\"}, {\"from\": \"gpt\", \"value\": \"d e\"}]}\n");
  ASSERT_TRUE(d.error.empty()) << d.error;
  ASSERT_EQ(d.entries.size(), 3u);
  EXPECT_EQ(d.skipped, 1u);
  EXPECT_EQ(d.entries[0].prompt, "a");
  EXPECT_EQ(d.entries[0].output_len, 7);
  EXPECT_EQ(d.entries[1].output_len, -1);
  EXPECT_EQ(d.entries[2].prompt, "c");
  EXPECT_EQ(d.entries[2].reference, "d e");
}

TEST(BenchServeInputs, ShareGptDataset) {
  const Dataset d = parse_dataset(R"([
    {"id": "x", "conversations": [{"from": "system", "value": "s"}, {"from": "human", "value": "hi"},
                                   {"from": "gpt", "value": "hello there"}]},
    {"id": "y", "conversations": []},
    {"id": "z", "conversations": [{"from": "human", "value": "only a question"}]}])");
  ASSERT_TRUE(d.error.empty()) << d.error;
  ASSERT_EQ(d.entries.size(), 2u);
  EXPECT_EQ(d.skipped, 1u);
  EXPECT_EQ(d.entries[0].prompt, "hi");
  EXPECT_EQ(d.entries[0].reference, "hello there");
  EXPECT_EQ(d.entries[1].reference, "");
}

TEST(BenchServeInputs, BadDatasets) {
  EXPECT_FALSE(parse_dataset("").error.empty());
  EXPECT_FALSE(parse_dataset("[{\"prompt\": ").error.empty());
  EXPECT_FALSE(parse_dataset("prompt,output_len\nhi,3\n").error.empty());
  EXPECT_FALSE(parse_dataset("[{\"text\": \"no prompt\"}]").error.empty());
}

TEST(BenchServeInputs, PoissonArrivals) {
  EXPECT_EQ(arrival_offsets(4, std::numeric_limits<double>::infinity(), 1), std::vector<double>(4, 0.0));
  const auto t = arrival_offsets(20000, 50.0, 7);
  EXPECT_EQ(t[0], 0);
  for (size_t i = 1; i < t.size(); ++i) ASSERT_GE(t[i], t[i - 1]);
  EXPECT_NEAR(t.back() / static_cast<double>(t.size() - 1), 1.0 / 50.0, 0.001);  // mean gap 1/rate
  EXPECT_EQ(arrival_offsets(50, 3.0, 9), arrival_offsets(50, 3.0, 9));
  EXPECT_NE(arrival_offsets(50, 3.0, 9), arrival_offsets(50, 3.0, 10));
}

// ---- end to end -------------------------------------------------------------

class BenchServeE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("pagoda_bench_serve_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    const auto made = test::run_pagoda("make-model -t 2 -o '" + (dir_ / "demo.gguf").string() + "'");
    ASSERT_EQ(made.status, 0) << made.err;
    server_ = new test::ServeProcess;
    ASSERT_TRUE(server_->start({(dir_ / "demo.gguf").string(), "--port", "0", "--api-key", "sekret", "-t", "2",
                                "--max-model-len", "512", "--kv-cache-memory", "32MiB", "--max-num-seqs", "8",
                                "--served-model-name", "demo"},
                               dir_ / "serve.log"))
        << server_->log();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void SetUp() override {
    if (!server_ || server_->port() == 0) GTEST_SKIP() << "the server did not start";
  }
  static std::string url(const std::string& suffix = "") {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + suffix;
  }
  // Runs `pagoda bench serve ARGS --json` and parses stdout.
  static Json bench(const std::string& args, test::CommandResult* out = nullptr) {
    const auto r = test::run_pagoda("bench serve --json " + args);
    if (out) *out = r;
    const Json j = Json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "stdout: " << r.out << "\nstderr: " << r.err;
    return j.is_discarded() ? Json::object() : j;
  }
  static void expect_ordered(const Json& j) {
    for (const char* m : {"ttft", "tpot", "itl", "e2el"}) {
      const std::string n = m;
      const double p50 = j["median_" + n + "_ms"], p90 = j["p90_" + n + "_ms"], p99 = j["p99_" + n + "_ms"];
      EXPECT_GE(p50, 0) << n;
      EXPECT_LE(p50, p90) << n;
      EXPECT_LE(p90, p99) << n;
    }
    EXPECT_GT(j["request_throughput"].get<double>(), 0);
    EXPECT_GT(j["output_throughput"].get<double>(), 0);
    EXPECT_GT(j["total_token_throughput"].get<double>(), 0);
    EXPECT_GT(j["duration"].get<double>(), 0);
  }

  static fs::path dir_;
  static test::ServeProcess* server_;
};
fs::path BenchServeE2E::dir_;
test::ServeProcess* BenchServeE2E::server_ = nullptr;

TEST_F(BenchServeE2E, ConcurrencyRunHasExactLengths) {
  test::CommandResult r;
  const Json j = bench("--base-url " + url() +
                           " --api-key sekret --num-prompts 8 --concurrency 4 --input-len 32 --output-len 8",
                       &r);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(j["completed"], 8) << j.dump(2) << r.err;
  EXPECT_EQ(j["failed"], 0) << j.dump(2);
  EXPECT_EQ(j["total_input_tokens"], 256) << r.err;
  EXPECT_EQ(j["total_output_tokens"], 64);
  EXPECT_EQ(j["model"], "demo");
  EXPECT_EQ(j["max_concurrency"], 4);
  EXPECT_GT(j["mean_tpot_ms"].get<double>(), 0);
  EXPECT_GT(j["mean_itl_ms"].get<double>(), 0);
  EXPECT_LE(j["mean_ttft_ms"].get<double>(), j["mean_e2el_ms"].get<double>());
  expect_ordered(j);
  // Not a terminal: progress comes as plain lines, the last one at 100%.
  EXPECT_NE(r.err.find("8/8 requests done"), std::string::npos) << r.err;
}

TEST_F(BenchServeE2E, RequestRateRunWithChatAndV1Prefix) {
  test::CommandResult r;
  const Json j = bench("--base-url " + url("/v1") +
                           " --api-key sekret --endpoint /v1/chat/completions --request-rate 40 --num-prompts 6"
                           " --input-len 16 --output-len 4 --seed 3",
                       &r);
  EXPECT_EQ(j["completed"], 6) << j.dump(2) << r.err;
  EXPECT_EQ(j["total_output_tokens"], 24);
  EXPECT_EQ(j["total_input_tokens"], 96);
  EXPECT_EQ(j["request_rate"], 40.0);
  expect_ordered(j);
}

TEST_F(BenchServeE2E, DatasetRun) {
  const fs::path data = dir_ / "prompts.jsonl";
  std::ofstream(data) << "{\"prompt\": \"the river and the stone\", \"output_len\": 3}\n"
                         "{\"prompt\": \"a little garden\", \"output_len\": 5}\n";
  test::CommandResult r;
  const Json j = bench("--base-url " + url() + " --api-key sekret --model demo --num-prompts 4 --dataset '" +
                           data.string() + "'",
                       &r);
  EXPECT_EQ(j["completed"], 4) << j.dump(2) << r.err;
  EXPECT_EQ(j["total_output_tokens"], 16);  // each prompt twice
}

TEST_F(BenchServeE2E, FailuresAreReported) {
  // A wrong key: every request is a 401, summarized once.
  test::CommandResult r;
  Json j = bench("--base-url " + url() + " --api-key wrong --model demo --num-prompts 3 --input-len 8 --output-len 2",
                 &r);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(j["completed"], 0);
  EXPECT_EQ(j["failed"], 3);
  ASSERT_EQ(j["errors"].size(), 1u) << j.dump(2);
  EXPECT_EQ(j["errors"][0]["count"], 3);
  EXPECT_NE(j["errors"][0]["message"].get<std::string>().find("HTTP 401"), std::string::npos) << j.dump(2);
  // Text output names the error too.
  const auto text = test::run_pagoda("bench serve --base-url " + url() +
                                     " --api-key wrong --model demo --num-prompts 2 --input-len 8 --output-len 2");
  EXPECT_NE(text.out.find("HTTP 401"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("failed requests"), std::string::npos) << text.out;
}

TEST(BenchServeClosedPort, FailsFastWithoutHanging) {
  // A port nobody listens on: bind one, then close it.
  uint16_t port = 0;
  {
    test::net::io_context ioc;
    test::tcp::acceptor a(ioc, test::tcp::endpoint(test::net::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }
  const auto start = std::chrono::steady_clock::now();
  const auto r = test::run_pagoda("bench serve --json --timeout 10 --base-url http://127.0.0.1:" +
                                  std::to_string(port) + " --num-prompts 5 --concurrency 2 --input-len 8 --output-len 2");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(r.status, 1) << r.err;
  const Json j = Json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out << r.err;
  EXPECT_EQ(j["completed"], 0);
  EXPECT_EQ(j["failed"], 5);
  ASSERT_GE(j["errors"].size(), 1u);
  EXPECT_NE(j["errors"][0]["message"].get<std::string>().find("refused"), std::string::npos) << j.dump(2);
}

// A stand-in server on 127.0.0.1: answers every request with `reply`, or
// (empty reply) reads the request and never answers.
class FakeServer {
 public:
  explicit FakeServer(std::string reply)
      : reply_(std::move(reply)), acceptor_(ioc_, test::tcp::endpoint(test::net::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeServer() {
    stop_ = true;
    test::net::io_context ioc;
    test::tcp::socket poke(ioc);
    test::connect_local(poke, port());  // wakes the blocking accept
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  void serve() {
    while (!stop_) {
      auto socket = std::make_unique<test::tcp::socket>(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(*socket, ec);
      if (ec || stop_) break;
      boost::beast::flat_buffer buffer;
      test::http::request<test::http::string_body> req;
      test::http::read(*socket, buffer, req, ec);
      if (!reply_.empty()) {
        test::net::write(*socket, test::net::buffer(reply_), ec);
        socket->shutdown(test::tcp::socket::shutdown_both, ec);
      } else {
        held_.push_back(std::move(socket));  // silent: keep it open
      }
    }
  }
  std::string reply_;
  test::net::io_context ioc_;
  test::tcp::acceptor acceptor_;
  std::vector<std::unique_ptr<test::tcp::socket>> held_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

Json bench_fake(uint16_t port, const std::string& args, test::CommandResult& r) {
  r = test::run_pagoda("bench serve --json --model m --base-url http://127.0.0.1:" + std::to_string(port) + " " + args);
  const Json j = Json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
  return j.is_discarded() ? Json::object() : j;
}

TEST(BenchServeFake, MalformedSseIsAFailure) {
  FakeServer server(
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
      "data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: {oops\n\n");
  test::CommandResult r;
  const Json j = bench_fake(server.port(), "--num-prompts 3 --input-len 4 --output-len 2", r);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(j["failed"], 3) << j.dump(2);
  ASSERT_EQ(j["errors"].size(), 1u) << j.dump(2);
  EXPECT_NE(j["errors"][0]["message"].get<std::string>().find("malformed SSE"), std::string::npos) << j.dump(2);
}

TEST(BenchServeFake, StreamWithoutDoneAndNon200) {
  {
    FakeServer server(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
        "data: {\"choices\":[{\"text\":\"a\"}]}\n\n");
    test::CommandResult r;
    const Json j = bench_fake(server.port(), "--num-prompts 2 --input-len 4 --output-len 2", r);
    EXPECT_EQ(j["failed"], 2) << j.dump(2);
    EXPECT_NE(j["errors"][0]["message"].get<std::string>().find("[DONE]"), std::string::npos) << j.dump(2);
  }
  {
    const std::string body = R"({"error": {"message": "too busy", "type": "server_error"}})";
    FakeServer server("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    test::CommandResult r;
    const Json j = bench_fake(server.port(), "--num-prompts 2 --input-len 4 --output-len 2", r);
    EXPECT_EQ(j["failed"], 2) << j.dump(2);
    EXPECT_EQ(j["errors"][0]["message"], "HTTP 503: too busy") << j.dump(2);
  }
}

TEST(BenchServeFake, SilentServerTimesOut) {
  FakeServer server("");
  test::CommandResult r;
  const auto start = std::chrono::steady_clock::now();
  const Json j = bench_fake(server.port(), "--timeout 0.5 --num-prompts 4 --input-len 4 --output-len 2", r);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(j["failed"], 4) << j.dump(2);
  EXPECT_EQ(j["errors"][0]["message"], "timed out after 0.5 s") << j.dump(2);
}

TEST(BenchServeCli, BadArguments) {
  EXPECT_NE(test::run_pagoda("bench serve --base-url https://127.0.0.1:1 --num-prompts 1").status, 0);
  EXPECT_NE(test::run_pagoda("bench serve --base-url http://127.0.0.1:1 --request-rate -3").status, 0);
  EXPECT_NE(test::run_pagoda("bench serve --num-prompts 1").status, 0);  // --base-url is required
  const auto help = test::run_pagoda("bench serve --help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("--request-rate"), std::string::npos);
}

}  // namespace
}  // namespace pagoda::cli::bench_serve
