// `pagoda estimate` end to end: the 70B table, JSON figures against the GGUF
// files and against config.json, flag spellings and errors; and `pagoda
// serve`'s start-up memory line and /metrics capacity from the same planner.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "common/fixtures.h"
#include "common/run_binary.h"
#include "common/serve_process.h"
#include "gguf/gguf.h"
#include "server/http_client.h"

namespace pagoda {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json estimate_json(const std::string& args) {
  const auto r = test::run_pagoda("estimate " + args + " --json");
  EXPECT_EQ(r.status, 0) << r.err;
  json j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out;
  return j;
}

TEST(Estimate, Llama70bTableWithTensorParallelism) {
  const json t = estimate_json("--table --preset llama-3.1-70b --memory 48GiB --tensor-parallel-size 2");
  EXPECT_EQ(t["ctx"], 32768);
  EXPECT_EQ(t["kv_bytes_per_token"], 320 * 1024);
  EXPECT_EQ(t["kv_bytes"], 10ull << 30);
  EXPECT_EQ(t["tensor_parallel_size"], 2);
  const std::map<std::string, double> gb = {{"F16", 141},   {"Q8_0", 75},   {"Q6_K", 58}, {"Q5_K_M", 50},
                                            {"Q4_K_M", 43}, {"Q3_K_M", 34}, {"Q2_K", 26}};
  ASSERT_EQ(t["rows"].size(), gb.size());
  for (const auto& row : t["rows"]) {
    const std::string mix = row["weights_type"];
    EXPECT_NEAR(row["weights_bytes"].get<double>() / 1e9, gb.at(mix), 0.6) << mix;
    // Two 48 GiB devices hold everything but F16 (70.6 GB of weights each).
    EXPECT_EQ(row["fits"], mix != "F16") << mix;
  }
  // The text table has the same rows.
  const auto r = test::run_pagoda("estimate --table --preset llama-3.1-70b --memory 48GiB -tp 2");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("320.00 KiB per token"), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(Q4_K_M +4\.8\d +42\.\d)"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(F16 +16\.00 +141\.1 .* no)"))) << r.out;
  // q8_0 KV: 34 bytes per 32 values, 5.3 GiB at 32K.
  const json q8 = estimate_json("--preset llama-3.1-70b --ctx 32k --kv-cache-dtype q8_0 --memory 1TiB");
  EXPECT_NEAR(q8["kv_bytes"].get<double>() / (1ull << 30), 5.3125, 1e-9);
}

TEST(Estimate, GgufFixtureFiguresAreTheFilesAndThePools) {
  PAGODA_REQUIRE_FIXTURE("models/llama-spm-q4_k_m.gguf");
  const std::string path = test::fixture("models/llama-spm-q4_k_m.gguf");
  auto file = gguf::File::open(path);
  ASSERT_TRUE(file.ok());
  uint64_t tensor_bytes = 0;
  for (const auto& t : (*file)->tensors()) tensor_bytes += t.n_bytes;
  const json j = estimate_json(path + " --ctx 1k --concurrency 3 -ctk q8_0 -ctv f16 --memory 1GiB -t 4");
  EXPECT_EQ(j["weights_bytes"], tensor_bytes);
  EXPECT_EQ(j["weights_exact"], true);
  EXPECT_EQ(j["ctx"], 1024);
  EXPECT_EQ(j["concurrency"], 3);
  EXPECT_EQ(j["cache_type_k"], "q8_0");
  EXPECT_EQ(j["cache_type_v"], "f16");
  // 4 layers x (K: 64 values = 2 q8_0 blocks of 34 bytes; V: 64 f16 values).
  EXPECT_EQ(j["kv_bytes_per_token"], 4 * (2 * 34 + 64 * 2));
  EXPECT_EQ(j["kv_bytes"], 3 * (1024 / 16) * j["kv_bytes_per_block"].get<uint64_t>());
  EXPECT_EQ(j["total_bytes"].get<uint64_t>(), j["weights_bytes"].get<uint64_t>() + j["kv_bytes"].get<uint64_t>() +
                                                  j["scratch_bytes"].get<uint64_t>() +
                                                  j["overhead_bytes"].get<uint64_t>());
  EXPECT_EQ(j["fits"], true);
  EXPECT_GT(j["max_context"].get<int64_t>(), 1024);
  EXPECT_GE(j["max_concurrency"].get<int64_t>(), 3);
  // --weights re-plans the file under another mix: the F16 fixture as Q8_0 is the Q8_0 fixture.
  PAGODA_REQUIRE_FIXTURE("models/llama-spm-q8_0.gguf");
  const json planned = estimate_json(test::fixture("models/llama-spm-f16.gguf") + " --weights q8_0");
  const json real = estimate_json(test::fixture("models/llama-spm-q8_0.gguf"));
  EXPECT_EQ(planned["weights_bytes"], real["weights_bytes"]);
  EXPECT_EQ(planned["weights_exact"], false);
}

TEST(Estimate, ConfigJsonGivesThePresetsFigures) {
  const fs::path dir = fs::temp_directory_path() / ("pagoda_estimate_" + std::to_string(::getpid())) / "Llama-3.1-8B";
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 4096,
      "intermediate_size": 14336, "max_position_embeddings": 131072, "model_type": "llama",
      "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05,
      "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 128256})";
  const std::string common = " --weights Q4_K_M --ctx 32k --concurrency 4 --memory 24GiB -t 8";
  const json a = estimate_json((dir / "config.json").string() + common);
  const json b = estimate_json("--preset llama-3.1-8b" + common);
  EXPECT_EQ(a["model"]["name"], "Llama-3.1-8B");
  EXPECT_EQ(a["model"]["source"], "config.json");
  for (const char* key : {"weights_bytes", "kv_bytes_per_token", "kv_bytes", "scratch_bytes", "overhead_bytes",
                          "total_bytes", "fits", "max_context", "max_concurrency"})
    EXPECT_EQ(a[key], b[key]) << key;
  // Without --weights a config.json means its own precision (bfloat16).
  EXPECT_EQ(estimate_json("--config " + (dir / "config.json").string())["weights_type"], "BF16");
  fs::remove_all(dir.parent_path());
}

TEST(Estimate, FlagsAndErrors) {
  // A preset by name, llama.cpp's spellings, a context with a suffix.
  const json j = estimate_json("llama-3.2-1b -ctk q4_0 -ctv q4_0 -np 8 -c 8K --memory 16GB");
  EXPECT_EQ(j["model"]["name"], "llama-3.2-1b");
  EXPECT_EQ(j["ctx"], 8192);
  EXPECT_EQ(j["concurrency"], 8);
  EXPECT_EQ(j["cache_type_k"], "q4_0");
  EXPECT_EQ(j["memory_bytes"], 16000000000ull);
  // 16 layers x 8 KV heads x 64: 512 values = 16 q4_0 blocks of 18 bytes, K and V.
  EXPECT_EQ(j["kv_bytes_per_token"], 16 * 2 * 16 * 18);
  const struct {
    const char* args;
    int status;
    const char* says;
  } bad[] = {
      {"", 2, "name one model"},
      {"--preset nope", 1, "unknown preset 'nope'"},
      {"--preset llama-3.1-8b --weights Q9", 1, "unknown --weights 'Q9'"},
      {"--preset llama-3.1-8b --ctx 12x", 2, "invalid token count '12x'"},
      {"--preset llama-3.1-8b --memory lots", 2, "invalid memory size 'lots'"},
      {"--preset llama-3.1-8b -tp 3", 2, "does not divide the 32 attention heads"},
      {"--preset llama-3.1-8b --kv-cache-dtype q2", 2, "unknown --kv-cache-dtype 'q2'"},
      {"/nonexistent/model.gguf", 1, "/nonexistent/model.gguf"},
  };
  for (const auto& b : bad) {
    const auto r = test::run_pagoda(std::string("estimate ") + b.args);
    EXPECT_EQ(r.status, b.status) << b.args << ": " << r.err;
    EXPECT_NE(r.err.find(b.says), std::string::npos) << b.args << ": " << r.err;
  }
  // A budget nothing fits: fits false, no largest context.
  const json none = estimate_json("--preset llama-3.1-8b --memory 1GiB");
  EXPECT_EQ(none["fits"], false);
  EXPECT_EQ(none["max_context"], 0);
}

TEST(Estimate, ServeLogsTheBreakdownAndExposesItsCapacity) {
  PAGODA_REQUIRE_FIXTURE("models/stories260K.gguf");
  const std::string model = test::fixture("models/stories260K.gguf");
  const fs::path log = fs::temp_directory_path() / ("pagoda_estimate_serve_" + std::to_string(::getpid()) + ".log");
  test::ServeProcess server;
  ASSERT_TRUE(server.start({model, "--port", "0", "--max-model-len", "512", "--max-num-seqs", "4",
                            "--kv-cache-memory", "4MiB", "--kv-cache-dtype", "q8_0", "-t", "2"},
                           log))
      << server.log();
  const std::string text = server.log();
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(memory: weights .* KV pool .* scratch .* overhead .* total)")))
      << text;
  const auto metrics = test::http_call(server.port(), test::http::verb::get, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(metrics.body, m, std::regex(R"(pagoda:kv_cache_capacity_blocks\{[^}]*\} (\d+))")))
      << metrics.body;
  const int64_t blocks = std::stoll(m[1]);
  // The pool is 4 MiB of blocks as the planner counts them.
  const json j = estimate_json(model + " --ctx 512 --concurrency 4 --kv-cache-dtype q8_0");
  EXPECT_EQ(blocks, static_cast<int64_t>((4ull << 20) / j["kv_bytes_per_block"].get<uint64_t>()));
  ASSERT_TRUE(std::regex_search(metrics.body, m, std::regex(R"(pagoda:kv_cache_capacity_tokens\{[^}]*\} (\d+))")))
      << metrics.body;
  EXPECT_EQ(std::stoll(m[1]), blocks * 16) << "blocks of the default 16 tokens";
  EXPECT_EQ(server.stop(), 0);
  fs::remove(log);
}

}  // namespace
}  // namespace pagoda
