// `pagoda logits`: JSON lines of the top logits per position, checked against
// the model API in-process and against llama.cpp's trace for stories260K.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>

#include "common/fixtures.h"
#include "common/run_binary.h"
#include "gguf/gguf.h"
#include "model/model.h"

namespace pagoda {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using RunResult = test::CommandResult;

class LogitsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pagoda_logits_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `pagoda logits <args>`, capturing stdout, stderr and the exit status.
  RunResult run(const std::string& args) { return test::run_pagoda("logits " + args); }


  // A 2-layer random llama (n_embd 16, 4 heads, 2 kv heads, vocab 40, ctx 8), F32.
  std::string write_random_model() {
    gguf::Writer w;
    w.set("general.architecture", gguf::Value::string("llama"));
    w.set("llama.context_length", gguf::Value::u32(8));
    w.set("llama.embedding_length", gguf::Value::u32(16));
    w.set("llama.block_count", gguf::Value::u32(2));
    w.set("llama.feed_forward_length", gguf::Value::u32(24));
    w.set("llama.attention.head_count", gguf::Value::u32(4));
    w.set("llama.attention.head_count_kv", gguf::Value::u32(2));
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> uni(-0.5f, 0.5f);
    auto add = [&](const std::string& name, std::vector<int64_t> shape, float center) {
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      auto& data = storage_.emplace_back(static_cast<size_t>(n));
      for (float& v : data) v = center + uni(rng);
      w.add_tensor(name, TensorType::F32, shape, reinterpret_cast<const uint8_t*>(data.data()));
    };
    storage_.reserve(32);
    add("token_embd.weight", {16, 40}, 0);
    add("output_norm.weight", {16}, 1);
    add("output.weight", {16, 40}, 0);
    for (int l = 0; l < 2; ++l) {
      const std::string b = "blk." + std::to_string(l) + ".";
      add(b + "attn_norm.weight", {16}, 1);
      add(b + "attn_q.weight", {16, 16}, 0);
      add(b + "attn_k.weight", {16, 8}, 0);
      add(b + "attn_v.weight", {16, 8}, 0);
      add(b + "attn_output.weight", {16, 16}, 0);
      add(b + "ffn_norm.weight", {16}, 1);
      add(b + "ffn_gate.weight", {16, 24}, 0);
      add(b + "ffn_up.weight", {16, 24}, 0);
      add(b + "ffn_down.weight", {24, 16}, 0);
    }
    const std::string path = (dir_ / "random.gguf").string();
    EXPECT_TRUE(w.write_file(path).ok());
    return path;
  }

  fs::path dir_;
  std::vector<std::vector<float>> storage_;
};

std::vector<json> parse_lines(const std::string& out) {
  std::vector<json> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) lines.push_back(json::parse(line));
  return lines;
}

TEST_F(LogitsCli, MatchesTheModelApi) {
  const std::string path = write_random_model();
  const std::vector<int32_t> ids = {1, 5, 39, 0, 7};
  RunResult r = run("-m '" + path + "' --ids 1,5,39,0,7 --top 4 --threads 2");
  ASSERT_EQ(r.status, 0) << r.err;
  auto lines = parse_lines(r.out);
  ASSERT_EQ(lines.size(), ids.size());

  auto model = model::Model::load(path);
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto cache = (*model)->make_kv_cache(1, 8);
  ASSERT_TRUE(cache.ok());
  model::Batch batch;
  for (size_t i = 0; i < ids.size(); ++i) batch.add(ids[i], static_cast<int>(i), 0, true);
  ThreadPool pool(1);
  std::vector<float> logits;
  ASSERT_TRUE((*model)->forward(batch, **cache, pool, logits).ok());
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(lines[i]["pos"], i);
    const auto& top = lines[i]["top"];
    ASSERT_EQ(top.size(), 4u);
    const float* row = &logits[i * 40];
    const float best = *std::max_element(row, row + 40);
    EXPECT_EQ(top[0][1].get<float>(), best);
    for (size_t k = 0; k < top.size(); ++k) {
      const int id = top[k][0];
      EXPECT_EQ(top[k][1].get<float>(), row[id]) << "pos " << i << " rank " << k;
      if (k > 0) {
        EXPECT_LE(top[k][1].get<float>(), top[k - 1][1].get<float>());
      }
    }
  }
}

TEST_F(LogitsCli, BadArgumentsAreErrors) {
  const std::string path = write_random_model();
  RunResult r = run("-m '" + path + "' --ids 1,x,3");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("'x' is not a token id"), std::string::npos) << r.err;
  r = run("-m '" + path + "' --ids 1,2 --kv-cache-dtype q5_1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("unknown --kv-cache-dtype 'q5_1'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("auto, f32, f16, bf16, fp8, fp8_e4m3, fp8_e5m2, q8_0, q4_0"),
            std::string::npos)
      << r.err;
  r = run("-m '" + path + "' --ids 1,2,3,4,5,6,7,8,9");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("exceed the model's context of 8"), std::string::npos) << r.err;
  r = run("-m '" + path + "' --ids 1,40");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("outside the vocabulary"), std::string::npos) << r.err;
  r = run("-m '" + path + "' --ids 1,2 --cache-type-v fp16");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("unknown --cache-type-v 'fp16'"), std::string::npos) << r.err;
  r = run("-m '" + path + "' --ids 1,2 --cache-type-k q4_1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("unknown --cache-type-k 'q4_1'"), std::string::npos) << r.err;
  r = run("-m '" + (dir_ / "missing.gguf").string() + "' --ids 1");
  EXPECT_NE(r.status, 0);
  EXPECT_FALSE(r.err.empty());
}

// --kv-cache-dtype sets K and V, --cache-type-k/-v override one side; every
// type works on this model's head size of 4 and matches the model API.
TEST_F(LogitsCli, KvCacheTypeOptionsSelectKAndV) {
  const std::string path = write_random_model();
  auto model = model::Model::load(path);
  ASSERT_TRUE(model.ok()) << model.error().message;
  struct Case {
    std::string args;
    KvType k, v;
  };
  const std::vector<Case> cases = {
      {"", KvType::f16, KvType::f16},
      {"--kv-cache-dtype auto", KvType::f16, KvType::f16},
      {"--kv-cache-dtype q8_0", KvType::q8_0, KvType::q8_0},
      {"--kv-cache-dtype FP8", KvType::fp8_e4m3, KvType::fp8_e4m3},
      {"--kv-cache-dtype bf16 --cache-type-v q4_0", KvType::bf16, KvType::q4_0},
      {"--cache-type-k q4_0 --cache-type-v fp8_e5m2", KvType::q4_0, KvType::fp8_e5m2},
      {"--cache-type-k f32", KvType::f32, KvType::f16},
  };
  for (const Case& c : cases) {
    RunResult r = run("-m '" + path + "' --ids 1,5,39,0,7 --top 3 " + c.args);
    ASSERT_EQ(r.status, 0) << c.args << ": " << r.err;
    auto lines = parse_lines(r.out);
    ASSERT_EQ(lines.size(), 5u) << c.args;
    auto cache = (*model)->make_kv_cache(1, 8, c.k, c.v);
    ASSERT_TRUE(cache.ok());
    model::Batch batch;
    for (int i = 0; i < 5; ++i) batch.add(std::vector<int32_t>{1, 5, 39, 0, 7}[static_cast<size_t>(i)], i, 0, true);
    ThreadPool pool(1);
    std::vector<float> logits;
    ASSERT_TRUE((*model)->forward(batch, **cache, pool, logits).ok());
    for (size_t i = 0; i < 5; ++i) {
      const float* row = &logits[i * 40];
      EXPECT_EQ(lines[i]["top"][0][1].get<float>(), *std::max_element(row, row + 40)) << c.args;
    }
  }
}

TEST_F(LogitsCli, Stories260KMatchesLlamaCppFirstStep) {
  PAGODA_REQUIRE_FIXTURE("refs/stories260K.kv-f16.jsonl");
  std::ifstream in(test::fixture("refs/stories260K.kv-f16.jsonl"));
  std::string first_line;
  std::getline(in, first_line);
  const json trace = json::parse(first_line);
  std::string ids;
  for (int id : trace["prompt_ids"]) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  RunResult r = run("-m '" + test::fixture("models/stories260K.gguf") + "' --ids " + ids);
  ASSERT_EQ(r.status, 0) << r.err;
  auto lines = parse_lines(r.out);
  ASSERT_EQ(lines.size(), trace["prompt_ids"].size());
  const json& ours = lines.back()["top"];
  const json& ref = trace["steps"][0]["top"];
  ASSERT_EQ(ours.size(), 5u);
  for (size_t k = 0; k < 5; ++k) {
    EXPECT_EQ(ours[k][0], ref[k][0]);
    const double v = ref[k][1];
    EXPECT_NEAR(ours[k][1].get<double>(), v, 0.02 + 0.002 * std::abs(v));
  }
}

}  // namespace
}  // namespace pagoda
