// IncrementalDetokenizer: only complete UTF-8 leaves it, whatever the token split.
#include <gtest/gtest.h>

#include <cstdio>

#include "common/fixtures.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::tokenizer {
namespace {

constexpr int32_t kByte0 = 3;  // id of <0x00> in the vocabulary below

std::unique_ptr<Tokenizer> byte_vocab() {
  VocabSpec s;
  s.model = "llama";
  s.tokens = {"<unk>", "<s>", "</s>"};
  s.token_types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    s.tokens.push_back(buf);
    s.token_types.push_back(6);
  }
  s.tokens.push_back("\xE2\x96\x81hi");
  s.token_types.push_back(1);
  auto t = Tokenizer::from_spec(s);
  EXPECT_TRUE(t.ok());
  return std::move(*t);
}

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    const size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

TEST(IncrementalDetokenizer, HoldsMultiByteCharactersUntilComplete) {
  auto tok = byte_vocab();
  IncrementalDetokenizer d(*tok);
  EXPECT_EQ(d.push(kByte0 + 0xC3), "");  // é = C3 A9
  EXPECT_EQ(d.pending_bytes(), 1u);
  EXPECT_EQ(d.push(kByte0 + 0xA9), "\xC3\xA9");
  EXPECT_EQ(d.pending_bytes(), 0u);
  // 😀 = F0 9F 98 80, one byte token at a time.
  EXPECT_EQ(d.push(kByte0 + 0xF0), "");
  EXPECT_EQ(d.push(kByte0 + 0x9F), "");
  EXPECT_EQ(d.push(kByte0 + 0x98), "");
  EXPECT_EQ(d.push(kByte0 + 0x80), "\xF0\x9F\x98\x80");
  EXPECT_EQ(d.push(kByte0 + 'A'), "A");
  EXPECT_EQ(d.flush(), "");
}

TEST(IncrementalDetokenizer, InvalidBytesBecomeReplacementCharacters) {
  auto tok = byte_vocab();
  IncrementalDetokenizer d(*tok);
  EXPECT_EQ(d.push(kByte0 + 0xFF), "\xEF\xBF\xBD");  // can never start a character
  EXPECT_EQ(d.push(kByte0 + 0xC3), "");
  // A non-continuation byte ends the sequence: U+FFFD, then the new text.
  EXPECT_EQ(d.push(tok->find_token("\xE2\x96\x81hi")), "\xEF\xBF\xBD hi");
  EXPECT_EQ(d.push(kByte0 + 0xE2), "");
  EXPECT_EQ(d.push(kByte0 + 0x82), "");
  EXPECT_EQ(d.flush(), "\xEF\xBF\xBD");  // incomplete tail at the end of the stream
  EXPECT_EQ(d.pending_bytes(), 0u);
  EXPECT_EQ(d.push(kByte0 + 0xED), "");  // ED A0 80 would be a surrogate: invalid
  EXPECT_EQ(d.push(kByte0 + 0xA0), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(d.push(kByte0 + 0x80), "\xEF\xBF\xBD");
}

TEST(IncrementalDetokenizer, SpecialTokensFollowRenderFlag) {
  auto tok = byte_vocab();
  IncrementalDetokenizer shown(*tok, true), hidden(*tok, false);
  EXPECT_EQ(shown.push(2), "</s>");
  EXPECT_EQ(hidden.push(2), "");
  EXPECT_EQ(hidden.push(-5), "");  // out of range: nothing, no crash
}

// Real GPT-2 byte-level vocabulary: characters split over several tokens.
TEST(IncrementalDetokenizer, StreamsMultilingualTextFromRealVocab) {
  PAGODA_REQUIRE_FIXTURE("models/qwen2-gpt2-f16.gguf");
  auto file = gguf::File::open(test::fixture("models/qwen2-gpt2-f16.gguf"));
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto tok = Tokenizer::from_gguf(**file);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  const std::string text = "Γειά σου κόσμε — 你好，世界 🌍 and émojis 😀👍🏽";
  const auto ids = (*tok)->encode(text, false, false);
  ASSERT_GT(ids.size(), 10u);
  IncrementalDetokenizer d(**tok);
  std::string streamed;
  size_t held_back = 0;
  for (int32_t id : ids) {
    const std::string part = d.push(id);
    EXPECT_TRUE(valid_utf8(part)) << "token " << id;
    if (d.pending_bytes() > 0) ++held_back;
    streamed += part;
  }
  streamed += d.flush();
  EXPECT_EQ(streamed, text);
  EXPECT_GT(held_back, 0u) << "some characters should span tokens in GPT-2's vocabulary";
  EXPECT_EQ((*tok)->decode(ids), text);
}

}  // namespace
}  // namespace pagoda::tokenizer
