// Special tokens on real vocabularies: control tokens only from parse_special,
// user-defined tokens always (with llama.cpp's per-model strip rules), EOG sets.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/fixtures.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/fixture_tokenizer.h"

namespace pagoda::tokenizer {
namespace {

using test_support::load;

size_t count(const std::vector<int32_t>& ids, int32_t id) {
  return static_cast<size_t>(std::count(ids.begin(), ids.end(), id));
}

TEST(SpecialTokens, LlamaSpmControlTokensNeedParseSpecial) {
  PAGODA_REQUIRE_FIXTURE("vocab/ggml-vocab-llama-spm.gguf");
  auto tok = load("vocab/ggml-vocab-llama-spm.gguf");
  ASSERT_TRUE(tok);
  const std::string user = "Hello</s><s> world";
  const auto plain = tok->encode(user, false, false);
  EXPECT_EQ(count(plain, 1), 0u);
  EXPECT_EQ(count(plain, 2), 0u);
  EXPECT_EQ(tok->decode(plain), user);  // the text survives as text
  const auto parsed = tok->encode(user, true, true);
  ASSERT_GE(parsed.size(), 4u);
  EXPECT_EQ(parsed[0], 1);  // BOS added by add_special
  EXPECT_EQ(count(parsed, 1), 2u);
  EXPECT_EQ(count(parsed, 2), 1u);
  EXPECT_EQ(tok->encode("", true, false), (std::vector<int32_t>{1}));
  EXPECT_TRUE(tok->encode("", false, false).empty());
  EXPECT_TRUE(tok->is_eog(2));
  EXPECT_FALSE(tok->is_eog(1));
}

TEST(SpecialTokens, Gpt2EndOfTextIsControlAndEog) {
  PAGODA_REQUIRE_FIXTURE("models/qwen2-gpt2-f16.gguf");
  auto tok = load("models/qwen2-gpt2-f16.gguf");
  ASSERT_TRUE(tok);
  const int32_t eot = tok->find_token("<|endoftext|>");
  ASSERT_EQ(eot, 50256);
  EXPECT_EQ(tok->attr(eot), TokenAttr::control);
  EXPECT_TRUE(tok->is_eog(eot));
  EXPECT_EQ(tok->eot(), eot);
  const std::string user = "ignore this <|endoftext|> and go on";
  EXPECT_EQ(count(tok->encode(user, false, false), eot), 0u);
  EXPECT_EQ(count(tok->encode(user, false, true), eot), 1u);
  EXPECT_FALSE(tok->add_bos());
  EXPECT_EQ(tok->token_to_piece(eot, false), "");
  EXPECT_EQ(tok->token_to_piece(eot, true), "<|endoftext|>");
}

TEST(SpecialTokens, Phi3SpecialTokensStripFollowingSpaces) {
  PAGODA_REQUIRE_FIXTURE("vocab/ggml-vocab-phi-3.gguf");
  auto tok = load("vocab/ggml-vocab-phi-3.gguf");
  ASSERT_TRUE(tok);
  // </s> is stored as user-defined, but llama.cpp's EOG detection makes it
  // control too, so user text "</s>" stays text unless parse_special.
  EXPECT_EQ(tok->attr(2), TokenAttr::control);
  EXPECT_EQ(count(tok->encode("a</s>b", false, false), 2), 0u);
  // <|end|> is control and ends generation; for Phi-3 llama.cpp drops the
  // spaces after special tokens when it matches them.
  const int32_t end = tok->find_token("<|end|>");
  ASSERT_GE(end, 0);
  EXPECT_TRUE(tok->is_eog(end));
  EXPECT_EQ(count(tok->encode("x<|end|>", false, false), end), 0u);
  const auto parsed = tok->encode("x<|end|>   y", false, true);
  EXPECT_EQ(count(parsed, end), 1u);
  EXPECT_EQ(parsed, tok->encode("x<|end|>y", false, true));
  EXPECT_NE(tok->encode("x<s>   y", false, true), tok->encode("x<s>y", false, true))
      << "<s> is exempt from the strip rule";
  EXPECT_TRUE(tok->is_eog(tok->find_token("<|endoftext|>")));
}

TEST(SpecialTokens, DeepseekUserDefinedPiecesMatchVerbatim) {
  PAGODA_REQUIRE_FIXTURE("vocab/ggml-vocab-deepseek-coder.gguf");
  auto tok = load("vocab/ggml-vocab-deepseek-coder.gguf");
  ASSERT_TRUE(tok);
  const int32_t id = tok->find_token("\xC3\xB5");  // õ, a user-defined token
  ASSERT_EQ(id, 32000);
  EXPECT_EQ(tok->encode("\xC3\xB5", false, false), (std::vector<int32_t>{id}));
  EXPECT_EQ(tok->bos(), 32013);
  EXPECT_TRUE(tok->add_bos());
}

TEST(SpecialTokens, BertAddsClsAndSep) {
  PAGODA_REQUIRE_FIXTURE("vocab/ggml-vocab-bert-bge.gguf");
  auto tok = load("vocab/ggml-vocab-bert-bge.gguf");
  ASSERT_TRUE(tok);
  const auto ids = tok->encode("hello", true, false);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids.front(), 101);
  EXPECT_EQ(ids.back(), 102);
  EXPECT_EQ(count(tok->encode("[CLS] hi", false, false), 101), 0u);
  EXPECT_EQ(count(tok->encode("[CLS] hi", false, true), 101), 1u);
}

}  // namespace
}  // namespace pagoda::tokenizer
