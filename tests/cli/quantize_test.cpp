// `pagoda quantize` end to end: reproduces llama.cpp's quantized fixtures from
// the F16 model (bytes, per-tensor types, error vs F16), handles models whose
// rows do not fit the blocks, and refuses bad requests without leaving files.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "common/fixtures.h"
#include "gguf/gguf.h"
#include "quant/codec.h"

namespace pagoda {
namespace {

namespace fs = std::filesystem;

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs `pagoda quantize ARGS`, capturing stdout and stderr.
CommandResult run_pagoda(const std::string& args) {
  CommandResult r;
  const std::string cmd = std::string(PAGODA_BINARY) + " quantize " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// A fresh directory per test, removed afterwards.
class QuantizeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("pagoda-quantize-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

std::vector<float> decode(const gguf::TensorInfo& t) {
  std::vector<float> out(t.n_elements);
  const int64_t n_cols = t.ne(0);
  const size_t stride = *row_bytes(t.type, n_cols);
  for (int64_t r = 0; r < t.n_rows(); ++r)
    quant::dequantize_row(t.type, t.data + r * stride, out.data() + r * n_cols, n_cols);
  return out;
}

double rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return std::sqrt(s / static_cast<double>(a.size()));
}

std::vector<char> read_all(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void expect_matches_llama_cpp(const std::string& ours_path, const std::string& ref_rel,
                              const std::string& label) {
  const std::string ref_path = test::fixture(ref_rel);
  auto ours = gguf::File::open(ours_path);
  auto ref = gguf::File::open(ref_path);
  auto f16 = gguf::File::open(test::fixture("models/llama-spm-f16.gguf"));
  ASSERT_TRUE(ours.ok()) << ours.error().message;
  ASSERT_TRUE(ref.ok() && f16.ok());
  const bool identical_file = read_all(ours_path) == read_all(ref_path);
  ASSERT_EQ(ours.value()->tensors().size(), ref.value()->tensors().size());
  EXPECT_EQ(ours.value()->get_int("general.file_type"), ref.value()->get_int("general.file_type"));
  size_t blocks = 0, same_blocks = 0;
  for (size_t i = 0; i < ref.value()->tensors().size(); ++i) {
    const auto& r = ref.value()->tensors()[i];
    const auto& o = ours.value()->tensors()[i];
    SCOPED_TRACE(r.name);
    ASSERT_EQ(o.name, r.name);  // same order
    ASSERT_EQ(o.type, r.type);
    ASSERT_EQ(o.n_bytes, r.n_bytes);
    const uint32_t bb = traits(r.type).block_bytes;
    for (uint64_t b = 0; b < r.n_bytes / bb; ++b) {
      ++blocks;
      same_blocks += std::memcmp(o.data + b * bb, r.data + b * bb, bb) == 0;
    }
    const auto* src = f16.value()->find_tensor(r.name);
    ASSERT_NE(src, nullptr);
    const std::vector<float> truth = decode(*src);
    const double e_ours = rmse(decode(o), truth), e_ref = rmse(decode(r), truth);
    EXPECT_LE(std::fabs(e_ours - e_ref), 0.01 * e_ref + 1e-12)
        << "RMSE vs f16: ours " << e_ours << ", llama.cpp " << e_ref;
  }
  const double pct = 100.0 * same_blocks / std::max<size_t>(blocks, 1);
  std::printf("[ quantize ] %-7s file bytes %s llama.cpp's; blocks identical %zu/%zu (%.3f%%)\n",
              label.c_str(), identical_file ? "identical to" : "DIFFER from", same_blocks, blocks, pct);
  EXPECT_GE(pct, 99.0);
  EXPECT_TRUE(identical_file);
}

TEST_F(QuantizeCli, ReproducesLlamaCppQ8_0) {
  PAGODA_REQUIRE_FIXTURE("models/llama-spm-q8_0.gguf");
  const auto r = run_pagoda(test::fixture("models/llama-spm-f16.gguf") + " " + path("q8.gguf") + " Q8_0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("fallbacks: none"), std::string::npos) << r.output;
  expect_matches_llama_cpp(path("q8.gguf"), "models/llama-spm-q8_0.gguf", "Q8_0");
}

TEST_F(QuantizeCli, ReproducesLlamaCppQ4_0) {
  PAGODA_REQUIRE_FIXTURE("models/llama-spm-q4_0.gguf");
  const auto r = run_pagoda(test::fixture("models/llama-spm-f16.gguf") + " " + path("q4.gguf") + " q4_0 --threads 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_matches_llama_cpp(path("q4.gguf"), "models/llama-spm-q4_0.gguf", "Q4_0");
}

TEST_F(QuantizeCli, ReproducesLlamaCppQ4_K_M) {
  PAGODA_REQUIRE_FIXTURE("models/llama-spm-q4_k_m.gguf");
  const auto r = run_pagoda(test::fixture("models/llama-spm-f16.gguf") + " " + path("q4km.gguf") + " Q4_K_M");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_matches_llama_cpp(path("q4km.gguf"), "models/llama-spm-q4_k_m.gguf", "Q4_K_M");
}

// stories260K's FFN rows of 172 fit no block: llama.cpp refuses, we fall back.
TEST_F(QuantizeCli, Stories260KFallsBackForRowsOf172AndLoads) {
  PAGODA_REQUIRE_FIXTURE("models/stories260K.gguf");
  for (const char* type : {"Q8_0", "Q4_0", "Q4_K_M"}) {
    SCOPED_TRACE(type);
    const std::string out = path(std::string("stories-") + type + ".gguf");
    const auto r = run_pagoda(test::fixture("models/stories260K.gguf") + " " + out + " " + type);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("blk.0.ffn_down.weight: rows of 172"), std::string::npos) << r.output;
    auto file = gguf::File::open(out);
    ASSERT_TRUE(file.ok()) << file.error().message;
    EXPECT_EQ(file.value()->find_tensor("blk.0.ffn_down.weight")->type, TensorType::F16);
    EXPECT_EQ(file.value()->get_string("general.architecture"), "llama");
    EXPECT_EQ(file.value()->get_int("llama.feed_forward_length"), 172);
    EXPECT_TRUE(file.value()->get_array("tokenizer.ggml.tokens"));
    auto in = gguf::File::open(test::fixture("models/stories260K.gguf"));
    for (const auto& t : file.value()->tensors()) {
      const std::vector<float> got = decode(t);
      const std::vector<float> want = decode(*in.value()->find_tensor(t.name));
      double ref = 0;
      for (float v : want) ref += double(v) * v;
      EXPECT_LT(rmse(got, want), 0.15 * std::sqrt(ref / want.size()) + 1e-6) << t.name;
    }
  }
  EXPECT_FALSE(fs::exists(path("stories-Q8_0.gguf.tmp")));
}

TEST_F(QuantizeCli, RefusesUnknownTypeAndOverwritingTheInput) {
  PAGODA_REQUIRE_FIXTURE("models/stories260K.gguf");
  fs::copy_file(test::fixture("models/stories260K.gguf"), path("in.gguf"));
  const auto before = read_all(path("in.gguf"));

  auto r = run_pagoda(path("in.gguf") + " " + path("out.gguf") + " Q4_K");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("unknown type 'Q4_K'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Q4_K_M"), std::string::npos) << r.output;  // lists the choices
  EXPECT_FALSE(fs::exists(path("out.gguf")));

  r = run_pagoda(path("in.gguf") + " " + path("in.gguf") + " Q8_0");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("refusing to overwrite the input"), std::string::npos) << r.output;

  // The same file through another spelling, and through a hard link.
  fs::create_directories(path("sub"));
  r = run_pagoda(path("in.gguf") + " " + path("sub/../in.gguf") + " Q8_0");
  EXPECT_NE(r.exit_code, 0) << r.output;
  fs::create_hard_link(path("in.gguf"), path("link.gguf"));
  r = run_pagoda(path("in.gguf") + " " + path("link.gguf") + " Q8_0");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_all(path("in.gguf")), before);

  r = run_pagoda(path("missing.gguf") + " " + path("out.gguf") + " Q8_0");
  EXPECT_NE(r.exit_code, 0);
  r = run_pagoda(path("in.gguf") + " " + path("out.gguf") + " Q8_0 --threads 0");
  EXPECT_NE(r.exit_code, 0);
  r = run_pagoda(path("in.gguf"));
  EXPECT_NE(r.exit_code, 0);
}

TEST_F(QuantizeCli, MalformedInputAndUnwritableOutputFailCleanly) {
  { std::ofstream(path("bad.gguf"), std::ios::binary) << "GGUF\x03\0\0\0garbage"; }
  auto r = run_pagoda(path("bad.gguf") + " " + path("out.gguf") + " Q8_0");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("bad.gguf"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(path("out.gguf")));

  PAGODA_REQUIRE_FIXTURE("models/stories260K.gguf");
  r = run_pagoda(test::fixture("models/stories260K.gguf") + " " + path("no/such/dir/out.gguf") + " Q8_0");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("cannot create"), std::string::npos) << r.output;
}

// SIGTERM while writing removes OUT.tmp. If the run finishes before the signal
// could be sent, the cleanup path was not exercised and the test says so.
TEST_F(QuantizeCli, SigtermRemovesThePartialFile) {
  PAGODA_REQUIRE_FIXTURE("models/llama-spm-f16.gguf");
  const std::string out = path("killed.gguf");
  const std::string tmp = out + ".tmp";
  const std::string in = test::fixture("models/llama-spm-f16.gguf");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::freopen("/dev/null", "w", stderr);
    std::freopen("/dev/null", "w", stdout);
    execl(PAGODA_BINARY, PAGODA_BINARY, "quantize", in.c_str(), out.c_str(), "Q4_K_M", "--threads",
          "1", static_cast<char*>(nullptr));
    _exit(127);
  }
  bool signalled = false;
  for (int i = 0; i < 20000 && !signalled; ++i) {
    if (fs::exists(tmp)) {
      kill(pid, SIGTERM);
      signalled = true;
    } else {
      int status;
      if (waitpid(pid, &status, WNOHANG) == pid) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!signalled || !WIFSIGNALED(status)) GTEST_SKIP() << "quantize finished before SIGTERM";
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_FALSE(fs::exists(tmp));
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace pagoda
