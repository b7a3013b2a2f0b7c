// The engine under tensor parallelism: `pagoda run -tp 2` and `pagoda serve -tp 2` under
// `mpirun -np 2` (rank 0 schedules and samples, rank 1 mirrors the paged KV cache and runs its
// shard). Greedy text equals TP = 1's; a request's output does not depend on what shares its
// steps (batch invariance at TP = 2, chunked prompts, prefix-cache hits, n > 1 forks); a rank
// that dies ends the job with a message instead of a hang.
// Skipped with a message where mpirun or the fixtures are missing.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "common/fixtures.h"
#include "common/mpi_run.h"
#include "common/run_binary.h"
#include "common/serve_process.h"
#include "server/http_client.h"

namespace pagoda::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

TEST(TensorParallelEngine, RunGreedyEqualsTp1) {
  PAGODA_REQUIRE_MPIRUN();
  PAGODA_REQUIRE_FIXTURE("models/stories260K.gguf");
  const std::string args = "run -m '" + fixture("models/stories260K.gguf") +
                           "' -p 'Once upon a time, there was a little' -n 96 --temp 0 -t 1 --ignore-eos";
  const CommandResult one = run_pagoda(args);
  ASSERT_EQ(one.status, 0) << one.err;
  const CommandResult two = run_mpi(2, args + " -tp 2");
  ASSERT_EQ(two.status, 0) << two.err;
  EXPECT_GT(one.out.size(), 200u) << one.out;
  EXPECT_EQ(two.out, one.out);
  // The same with a quantized KV cache and the prompt evaluated in chunks of 4.
  const CommandResult q1 = run_pagoda(args + " --kv-cache-dtype q8_0 -b 4");
  const CommandResult q2 = run_mpi(2, args + " --kv-cache-dtype q8_0 -b 4 -tp 2");
  ASSERT_EQ(q1.status, 0) << q1.err;
  ASSERT_EQ(q2.status, 0) << q2.err;
  EXPECT_EQ(q2.out, q1.out);
}

TEST(TensorParallelEngine, BenchReportsAllReduceTime) {
  PAGODA_REQUIRE_MPIRUN();
  PAGODA_REQUIRE_FIXTURE("models/stories260K.gguf");
  const CommandResult r =
      run_mpi(2, "bench -m '" + fixture("models/stories260K.gguf") + "' -p 32 -n 8 -r 1 -t 1 -o json -tp 2");
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_array()) << r.out;
  ASSERT_EQ(j.size(), 2u);
  for (const json& t : j) {
    EXPECT_EQ(t["n_tensor_parallel"], 2);
    EXPECT_GT(t["avg_ts"].get<double>(), 0.0);
    EXPECT_GT(t["comm_ms_per_token"].get<double>(), 0.0);
    EXPECT_GT(t["weight_bytes_per_rank"].get<uint64_t>(), 0u);
  }
}

json completion(uint16_t port, const std::string& prompt, int max_tokens, double temperature, int n = 1) {
  json body = {{"model", "m"},        {"prompt", prompt}, {"max_tokens", max_tokens},
               {"temperature", temperature}, {"seed", 7},      {"n", n}};
  const HttpResult r = http_call(port, http::verb::post, "/v1/completions", body.dump());
  if (r.status != 200) return json{{"status", r.status}, {"body", r.body}};
  return r.json();
}

std::vector<std::string> texts(const json& response) {
  std::vector<std::string> out;
  if (!response.contains("choices")) return {"<error: " + response.dump() + ">"};
  for (const json& c : response["choices"]) out.push_back(c["text"].get<std::string>());
  return out;
}

class TensorParallelServe : public ::testing::Test {
 protected:
  void SetUp() override {
    PAGODA_REQUIRE_MPIRUN();
    if (!std::filesystem::exists(fixture("models/stories260K.gguf"))) GTEST_SKIP() << "fixtures absent: skipped";
    log_ = fs::temp_directory_path() / ("pagoda_tp_serve_" + std::to_string(::getpid()) + ".log");
    server_ = std::make_unique<ServeProcess>(mpirun_words(2));
    // Small steps: long prompts are chunked, and concurrent requests share steps.
    ASSERT_TRUE(server_->start({"-m", fixture("models/stories260K.gguf"), "--served-model-name", "m", "--port", "0",
                                "-t", "1", "-tp", "2", "--max-num-batched-tokens", "24", "--max-num-seqs", "8",
                                "--max-model-len", "256"},
                               log_))
        << server_->log();
  }
  void TearDown() override {
    server_.reset();
    fs::remove(log_);
  }
  fs::path log_;
  std::unique_ptr<ServeProcess> server_;
};

TEST_F(TensorParallelServe, OutputsDoNotDependOnTheBatch) {
  const uint16_t port = server_->port();
  const std::string long_prompt =
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her "
      "friends. One day, she saw a big red ball";
  const std::vector<std::string> prompts = {long_prompt, "The cat sat on the mat and", "Tom had a big dog. The dog",
                                            "One day, a bird"};
  // Alone, one at a time: the references (greedy, and seeded sampling with n = 2).
  std::vector<std::vector<std::string>> greedy, sampled;
  for (const std::string& p : prompts) {
    greedy.push_back(texts(completion(port, p, 40, 0.0)));
    sampled.push_back(texts(completion(port, p, 24, 1.0, 2)));
  }
  for (const auto& g : greedy) ASSERT_FALSE(g.empty() || g[0].empty() || g[0].starts_with("<error")) << g[0];
  // All together: chunked prompts, prefix-cache hits on the repeated prompts, shared steps.
  std::vector<std::future<json>> runs;
  for (int round = 0; round < 2; ++round)
    for (size_t i = 0; i < prompts.size(); ++i) {
      runs.push_back(std::async(std::launch::async, [&, i] { return completion(port, prompts[i], 40, 0.0); }));
      runs.push_back(std::async(std::launch::async, [&, i] { return completion(port, prompts[i], 24, 1.0, 2); }));
    }
  for (size_t k = 0; k < runs.size(); ++k) {
    const size_t i = (k / 2) % prompts.size();
    const std::vector<std::string> got = texts(runs[k].get());
    EXPECT_EQ(got, k % 2 == 0 ? greedy[i] : sampled[i]) << "prompt " << i << (k % 2 ? " (sampled, n = 2)" : "");
  }
  // The repeated prompts hit the prefix cache on rank 0, and the workers followed its tables.
  const HttpResult metrics = http_call(port, http::verb::get, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(metrics.body, m, std::regex("vllm:prefix_cache_hits_total\\S* ([0-9.e+]+)")))
      << metrics.body;
  EXPECT_GT(std::stod(m[1]), 0.0);
}

TEST_F(TensorParallelServe, ADeadRankEndsTheJobWithAMessage) {
  // The worker says its pid when its shard is loaded.
  std::smatch m;
  const std::regex worker("rank 1 \\(pid ([0-9]+)\\)");
  std::string log = server_->log();
  ASSERT_TRUE(std::regex_search(log, m, worker)) << log;
  const pid_t pid = static_cast<pid_t>(std::stol(m[1]));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  // A request sent now needs the dead rank: it must fail (or find the server gone), not hang.
  const auto start = std::chrono::steady_clock::now();
  const HttpResult r =
      http_call(server_->port(), http::verb::post, "/v1/completions",
                json{{"model", "m"}, {"prompt", "Once"}, {"max_tokens", 200}, {"temperature", 0}}.dump());
  EXPECT_NE(r.status, 200) << r.body;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20)) << "the client waited";
  const auto status = server_->wait_exit(std::chrono::seconds(30));
  ASSERT_TRUE(status.has_value()) << "the job still runs 30 s after rank 1 died:\n" << server_->log();
  EXPECT_NE(*status, 0);
  log = server_->log();
  // mpirun names the rank that died.
  EXPECT_NE(log.find("rank 1"), std::string::npos) << log;
  EXPECT_TRUE(log.find("exited on signal 9") != std::string::npos || log.find("died") != std::string::npos) << log;
}

}  // namespace
}  // namespace pagoda::test
