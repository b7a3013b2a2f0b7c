// `pagoda info`: runs the built binary on our own small GGUF, on fixtures and
// on a malformed file, and checks its JSON and text output and exit status.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "common/fixtures.h"
#include "common/run_binary.h"
#include "gguf/gguf.h"

namespace pagoda {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using RunResult = test::CommandResult;


class InfoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pagoda_info_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `pagoda info <args>`, capturing stdout, stderr and the exit status.
  RunResult info(const std::string& args) { return test::run_pagoda("info " + args); }

  // A two-tensor model of our own: 32x4 f32 embedding and a 64x2 q8_0 matrix.
  std::string write_small_model() {
    static const std::vector<uint8_t> data(4096, 0);
    gguf::Writer w;
    w.set("general.architecture", gguf::Value::string("llama"));
    w.set("general.file_type", gguf::Value::u32(7));
    std::vector<std::string> tokens;
    for (int i = 0; i < 100; ++i) tokens.push_back("tok" + std::to_string(i));
    w.set("tokenizer.ggml.tokens", gguf::Value::string_array(tokens));
    w.set("tokenizer.chat_template", gguf::Value::string(std::string(500, 'x')));
    w.add_tensor("token_embd.weight", TensorType::F32, {32, 4}, data.data());
    w.add_tensor("blk.0.attn_q.weight", TensorType::Q8_0, {64, 2}, data.data());
    const std::string path = (dir_ / "small.gguf").string();
    EXPECT_TRUE(w.write_file(path).ok());
    return path;
  }

  fs::path dir_;
};

TEST_F(InfoTest, JsonDescribesOurOwnModel) {
  const auto r = info(write_small_model() + " --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["n_params"], 32 * 4 + 64 * 2);
  EXPECT_EQ(j["file_type"]["id"], 7);
  EXPECT_EQ(j["file_type"]["name"], "Q8_0");
  // 512 f32 bytes + 4 q8_0 blocks of 34 bytes over 256 weights.
  EXPECT_DOUBLE_EQ(j["bits_per_weight"].get<double>(), 8.0 * (512 + 136) / 256);
  const json& tokens = j["metadata"]["tokenizer.ggml.tokens"];
  EXPECT_EQ(tokens["count"], 100);
  EXPECT_EQ(tokens["elem_type"], "string");
  ASSERT_EQ(tokens["items"].size(), 8u);
  EXPECT_EQ(tokens["items"][1], "tok1");
  EXPECT_EQ(tokens["truncated"], true);
  ASSERT_EQ(j["tensors"].size(), 2u);
  EXPECT_EQ(j["tensors"][1]["name"], "blk.0.attn_q.weight");
  EXPECT_EQ(j["tensors"][1]["type"], "q8_0");
  EXPECT_EQ(j["tensors"][1]["shape"], json::array({64, 2}));
  EXPECT_EQ(j["tensors"][1]["bytes"], 136);
  EXPECT_EQ(j["bytes_by_type"]["f32"]["bytes"], 512);
}

TEST_F(InfoTest, TextSummarisesLongValues) {
  const auto r = info(write_small_model() + " --max-items 3");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("architecture:    llama"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("file type:       7 (Q8_0)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[\"tok0\", \"tok1\", \"tok2\", ... (100 items)]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("... (500 bytes)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(std::string(200, 'x')), std::string::npos) << "chat template not shortened";
  EXPECT_NE(r.out.find("[64, 2]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bits per weight: 20.250"), std::string::npos) << r.out;
}

TEST_F(InfoTest, MalformedFileFailsWithMessage) {
  const auto path = dir_ / "bad.gguf";
  std::ofstream(path, std::ios::binary).write("GGUF\x01\x00\x00\x00", 8);
  const auto r = info(path.string() + " --json");
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find(path.string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("header version at byte 4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("GGUF v1 is not supported"), std::string::npos) << r.err;

  const auto missing = info((dir_ / "missing.gguf").string());
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("missing.gguf"), std::string::npos) << missing.err;
}

TEST_F(InfoTest, FixtureModels) {
  PAGODA_REQUIRE_FIXTURE("models/llama-spm-q4_k_m.gguf");
  const auto r = info(test::fixture("models/llama-spm-q4_k_m.gguf") + " --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["file_type"]["id"], 15);
  EXPECT_EQ(j["file_type"]["name"], "Q4_K - Medium");
  EXPECT_EQ(j["metadata"]["llama.embedding_length"], 256);
  EXPECT_EQ(j["metadata"]["tokenizer.ggml.tokens"]["count"], 32000);
  bool found = false;
  uint64_t n_params = 0;
  for (const auto& t : j["tensors"]) {
    uint64_t n = 1;
    for (const auto& d : t["shape"]) n *= d.get<uint64_t>();
    n_params += n;
    if (t["name"] == "token_embd.weight") {
      found = true;
      EXPECT_EQ(t["shape"], json::array({256, 32000}));
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(j["n_params"], n_params);
  EXPECT_GT(j["bits_per_weight"].get<double>(), 4.0);
  EXPECT_LT(j["bits_per_weight"].get<double>(), 6.0);

  PAGODA_REQUIRE_FIXTURE("models/stories260K.gguf");
  const auto s = info(test::fixture("models/stories260K.gguf") + " --json");
  ASSERT_EQ(s.status, 0) << s.err;
  const json js = json::parse(s.out);
  EXPECT_EQ(js["metadata"]["llama.block_count"], 5);
  EXPECT_EQ(js["bytes_by_type"].contains("f32"), true);
}

}  // namespace
}  // namespace pagoda
