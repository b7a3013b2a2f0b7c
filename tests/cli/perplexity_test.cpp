// `pagoda perplexity`: llama.cpp's number on stories260K, and the KL-divergence
// round trip (save base log-probs, compare a model against them).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/fixtures.h"
#include "common/run_binary.h"

namespace pagoda {
namespace {

namespace fs = std::filesystem;

using RunResult = test::CommandResult;

class PerplexityCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pagoda_ppl_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `pagoda perplexity <args>`, capturing stdout, stderr and the exit status.
  RunResult run(const std::string& args) { return test::run_pagoda("perplexity " + args); }
  // The number after `label` in text (NaN if absent).
  static double number_after(const std::string& text, const std::string& label) {
    const size_t at = text.find(label);
    if (at == std::string::npos) return std::nan("");
    return std::strtod(text.c_str() + at + label.size(), nullptr);
  }

  fs::path dir_;
};

TEST_F(PerplexityCli, Stories260KMatchesLlamaCpp) {
  PAGODA_REQUIRE_FIXTURE("models/stories260K.gguf");
  const std::string text = test::fixture("text/tinystories-eval.txt");
  for (const char* model : {"models/stories260K.gguf", "models/stories260K-f16.gguf"}) {
    RunResult r = run("-m '" + test::fixture(model) + "' -f '" + text + "' -c 64 -t 2");
    ASSERT_EQ(r.status, 0) << r.err;
    // llama.cpp: PPL = 4.1998 +/- 0.5095 over 7 chunks.
    const double ppl = number_after(r.out, "PPL = ");
    EXPECT_NEAR(ppl, 4.1998, 4.1998 * 0.005) << model << "\n" << r.out;
    EXPECT_NEAR(number_after(r.out, "+/- "), 0.5095, 0.01) << r.out;
    EXPECT_NE(r.out.find("[7]"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("[8]"), std::string::npos) << r.out;
  }
}

TEST_F(PerplexityCli, KlDivergenceRoundTrip) {
  PAGODA_REQUIRE_FIXTURE("models/stories260K.gguf");
  const std::string text = test::fixture("text/tinystories-eval.txt");
  const std::string base = (dir_ / "base.kld").string();
  RunResult r = run("-m '" + test::fixture("models/stories260K.gguf") + "' -f '" + text +
                    "' -c 64 --kl-divergence-base '" + base + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(fs::exists(base));
  // The same model against its own logits: KLD at the storage-rounding floor.
  r = run("-m '" + test::fixture("models/stories260K.gguf") + "' -f '" + text +
          "' --kl-divergence --kl-divergence-base '" + base + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_LT(number_after(r.out, "Mean KLD:"), 1e-4) << r.out;
  EXPECT_DOUBLE_EQ(number_after(r.out, "Same top p:"), 100.0) << r.out;
  EXPECT_NEAR(number_after(r.out, "PPL = "), 4.1998, 4.1998 * 0.005) << r.out;
  // The f16 model with an f32 KV cache: close but not identical; then a
  // truncated base file must be refused.
  r = run("-m '" + test::fixture("models/stories260K-f16.gguf") + "' -f '" + text +
          "' --kl-divergence --kl-divergence-base '" + base + "' --kv-cache-dtype f32");
  ASSERT_EQ(r.status, 0) << r.err;
  const double kld = number_after(r.out, "Mean KLD:");
  EXPECT_GT(kld, 0.0);
  EXPECT_LT(kld, 1e-3);
  fs::resize_file(base, fs::file_size(base) / 2);
  r = run("-m '" + test::fixture("models/stories260K.gguf") + "' -f '" + text +
          "' --kl-divergence --kl-divergence-base '" + base + "'");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
}

TEST_F(PerplexityCli, BadInputsAreErrors) {
  const std::string junk = (dir_ / "junk.kld").string();
  std::ofstream(junk) << "not a base file";
  RunResult r = run("-m /nonexistent.gguf -f /nonexistent.txt");
  EXPECT_NE(r.status, 0);
  EXPECT_FALSE(r.err.empty());
  PAGODA_REQUIRE_FIXTURE("models/stories260K.gguf");
  const std::string model = test::fixture("models/stories260K.gguf");
  const std::string text = test::fixture("text/tinystories-eval.txt");
  r = run("-m '" + model + "' -f '" + text + "' --kl-divergence --kl-divergence-base '" + junk + "'");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("not a pagoda KL-divergence base file"), std::string::npos) << r.err;
  r = run("-m '" + model + "' -f '" + text + "' -c 1024");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("fewer than one chunk"), std::string::npos) << r.err;
  r = run("-m '" + model + "' -f '" + text + "' --kl-divergence");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("needs --kl-divergence-base"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace pagoda
