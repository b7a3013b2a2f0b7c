// `pagoda make-model`: the demo model is deterministic, complete (tokenizer,
// chat template, every tensor) and the mixes follow `pagoda quantize`'s rules.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/run_binary.h"
#include "gguf/gguf.h"

namespace pagoda {
namespace {

namespace fs = std::filesystem;
using test::run_pagoda;

class MakeModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pagoda_make_model_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(MakeModelTest, DemoIsDeterministicAndComplete) {
  ASSERT_EQ(run_pagoda("make-model -o " + path("a.gguf")).status, 0);
  ASSERT_EQ(run_pagoda("make-model -o " + path("b.gguf") + " --threads 1").status, 0);
  ASSERT_EQ(run_pagoda("make-model -o " + path("c.gguf") + " --seed 7").status, 0);
  const auto a = test::read_file_bytes(path("a.gguf"));
  EXPECT_EQ(a, test::read_file_bytes(path("b.gguf"))) << "same seed, other thread count";
  EXPECT_NE(a, test::read_file_bytes(path("c.gguf"))) << "another seed";

  auto f = gguf::File::open(path("a.gguf"));
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ((*f)->get_string("general.architecture"), "llama");
  EXPECT_NE((*f)->get_string("general.name")->find("random"), std::string::npos);
  EXPECT_TRUE((*f)->get_string("tokenizer.chat_template").has_value());
  const auto* tokens = (*f)->get_array("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  EXPECT_GE(tokens->size(), 256u + 3u);
  EXPECT_GT((*f)->get_array("tokenizer.ggml.merges")->size(), 50u);
  // 4 layers x 9 tensors + embedding, output norm, output.
  EXPECT_EQ((*f)->tensors().size(), 4u * 9u + 3u);
  EXPECT_EQ((*f)->find_tensor("blk.0.attn_q.weight")->type, TensorType::F16);
  EXPECT_EQ((*f)->find_tensor("blk.0.attn_norm.weight")->type, TensorType::F32);
}

TEST_F(MakeModelTest, MixesFollowQuantizeRules) {
  ASSERT_EQ(run_pagoda("make-model -o " + path("q.gguf") + " --type Q4_K_M").status, 0);
  auto f = gguf::File::open(path("q.gguf"));
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ((*f)->get_int("general.file_type"), 15);
  EXPECT_EQ((*f)->find_tensor("blk.1.attn_q.weight")->type, TensorType::Q4_K);
  EXPECT_EQ((*f)->find_tensor("output.weight")->type, TensorType::Q6_K);
}

TEST_F(MakeModelTest, DemoModelGeneratesAndChats) {
  ASSERT_EQ(run_pagoda("make-model -o " + path("d.gguf")).status, 0);
  auto r = run_pagoda("run -m " + path("d.gguf") + " -p 'Once upon a time' -n 8 --temp 0");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Once upon a time", 0), 0u) << r.out;
  EXPECT_GT(r.out.size(), std::string("Once upon a time").size());
  {
    std::ofstream(path("m.json")) << R"([{"role":"user","content":"Hi"}])";
  }
  r = run_pagoda("render-template -m " + path("d.gguf") + " --messages " + path("m.json") +
                 " --add-generation-prompt");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST_F(MakeModelTest, RejectsUnknownShapeAndType) {
  auto r = run_pagoda("make-model -o " + path("x.gguf") + " --shape llama-99b");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("unknown shape 'llama-99b'"), std::string::npos) << r.err;
  r = run_pagoda("make-model -o " + path("x.gguf") + " --type Q9_X");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("unknown weight type 'Q9_X'"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("x.gguf")));
}

}  // namespace
}  // namespace pagoda
