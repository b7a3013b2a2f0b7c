// `pagoda tokenize`: runs the built binary on llama.cpp's vocab goldens
// (--test-file output must equal the .out files byte for byte), on a model,
// on a vocabulary written by the test itself, and on bad input.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/fixtures.h"
#include "gguf/gguf.h"

namespace pagoda {
namespace {

namespace fs = std::filesystem;

struct TokenizeRun {
  int status = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class TokenizeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pagoda_tokenize_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `pagoda tokenize <args>` (args are shell-quoted by the caller).
  TokenizeRun run(const std::string& args) {
    const auto out = dir_ / "stdout", err = dir_ / "stderr";
    const std::string cmd = std::string("'") + PAGODA_BINARY + "' tokenize " + args + " >'" +
                            out.string() + "' 2>'" + err.string() + "'";
    TokenizeRun r;
    const int raw = std::system(cmd.c_str());
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  fs::path dir_;
};

class TokenizeGolden : public TokenizeCli, public ::testing::WithParamInterface<const char*> {};

TEST_P(TokenizeGolden, TestFileOutputEqualsLlamaCppOut) {
  const std::string rel = std::string("vocab/ggml-vocab-") + GetParam() + ".gguf";
  PAGODA_REQUIRE_FIXTURE(rel);
  const std::string path = test::fixture(rel);
  const TokenizeRun r = run("-m '" + path + "' --test-file '" + path + ".inp'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, slurp(path + ".out"));
}

INSTANTIATE_TEST_SUITE_P(Vocabs, TokenizeGolden,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "starcoder", "falcon",
                                           "deepseek-coder", "deepseek-llm", "bert-bge"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

TEST_F(TokenizeCli, IdsListMatchesLlamaCppPrompt) {
  PAGODA_REQUIRE_FIXTURE("models/llama-spm-f16.gguf");
  const TokenizeRun r = run("-m '" + test::fixture("models/llama-spm-f16.gguf") +
                            "' --ids 'The capital of France is'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "[1, 450, 7483, 310, 3444, 338]\n");
  const TokenizeRun no_bos = run("-m '" + test::fixture("models/llama-spm-f16.gguf") +
                                 "' --ids --no-bos 'The capital of France is'");
  EXPECT_EQ(no_bos.out, "[450, 7483, 310, 3444, 338]\n");
}

// A vocabulary written here with our GGUF writer: works without fixtures.
TEST_F(TokenizeCli, OwnVocabularyPiecesAndSpecialParsing) {
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string("llama"));
  w.set("tokenizer.ggml.model", gguf::Value::string("llama"));
  // SPM merges need every intermediate piece: ▁ + h -> ▁h, ▁h + i -> ▁hi.
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "h", "i",
                                     "\xE2\x96\x81h", "\xE2\x96\x81hi"};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    tokens.push_back(buf);
  }
  std::vector<int32_t> types = {2, 3, 3, 1, 1, 1, 1, 1};  // then 256 byte tokens from id 8
  types.resize(tokens.size(), 6);
  w.set("tokenizer.ggml.tokens", gguf::Value::string_array(tokens));
  w.set("tokenizer.ggml.scores", gguf::Value::f32_array(std::vector<float>(tokens.size(), 0.0f)));
  w.set("tokenizer.ggml.token_type", gguf::Value::i32_array(types));
  const auto path = (dir_ / "vocab.gguf").string();
  ASSERT_TRUE(w.write_file(path).ok());

  const TokenizeRun r = run("-m '" + path + "' 'hi hi'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "     1 -> '<s>'\n     7 -> ' hi'\n     7 -> ' hi'\n");
  EXPECT_EQ(run("-m '" + path + "' --ids --no-bos 'hi</s>'").out,
            "[7, 68, 55, 123, 70]\n");  // </s> stays text: bytes < / s >
  EXPECT_EQ(run("-m '" + path + "' --ids --no-bos --parse-special 'hi</s>'").out, "[7, 2]\n");
}

TEST_F(TokenizeCli, BadInputIsAnErrorNotACrash) {
  const auto junk = (dir_ / "junk.gguf").string();
  std::ofstream(junk) << "this is not a gguf file";
  const TokenizeRun bad = run("-m '" + junk + "' hello");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("junk.gguf"), std::string::npos) << bad.err;
  EXPECT_NE(run("hello").status, 0);  // -m is required
  const TokenizeRun missing = run("-m '" + (dir_ / "absent.gguf").string() + "' hello");
  EXPECT_EQ(missing.status, 1);
  // A GGUF without a tokenizer: the message names the missing key.
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string("llama"));
  const auto no_vocab = (dir_ / "no_vocab.gguf").string();
  ASSERT_TRUE(w.write_file(no_vocab).ok());
  const TokenizeRun r = run("-m '" + no_vocab + "' hello");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("tokenizer.ggml.model"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace pagoda
