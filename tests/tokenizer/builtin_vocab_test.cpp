// Tokenizers built from vocabularies written in the test itself (no fixtures).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace pagoda::tokenizer {
namespace {

constexpr int kByteBase = 3;  // SPM test vocab: <0x00> is id 3

std::string fmt_byte(int b) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
  return buf;
}

// <unk> <s> </s>, 256 byte tokens, then scored pieces (higher score merges first).
VocabSpec spm_spec() {
  VocabSpec s;
  s.model = "llama";
  auto add = [&](std::string text, float score, int32_t type) {
    s.tokens.push_back(std::move(text));
    s.scores.push_back(score);
    s.token_types.push_back(type);
  };
  add("<unk>", 0, 2);
  add("<s>", 0, 3);
  add("</s>", 0, 3);
  for (int b = 0; b < 256; ++b) add(fmt_byte(b), 0, 6);
  const std::pair<const char*, float> pieces[] = {
      {"\xE2\x96\x81", -10}, {"h", -10},  {"e", -10},    {"l", -10},        {"o", -10},
      {"w", -10},            {"r", -10},  {"d", -10},    {"\xE2\x96\x81h", -5},
      {"he", -3},            {"ll", -2},  {"\xE2\x96\x81he", -1}, {"llo", -4},
      {"\xE2\x96\x81hello", 0}, {"\xE2\x96\x81w", -6}, {"or", -2}, {"\xE2\x96\x81wor", -3},
      {"ld", -3},            {"\xE2\x96\x81world", -1}};
  for (const auto& [text, score] : pieces) add(text, score, 1);
  return s;
}

int32_t id_of(const Tokenizer& t, std::string_view text) {
  const int32_t id = t.find_token(text);
  EXPECT_GE(id, 0) << "no token '" << text << "'";
  return id;
}

TEST(BuiltinSpm, MergesByScoreWithSpacePrefix) {
  auto tok = Tokenizer::from_spec(spm_spec());
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  const Tokenizer& t = **tok;
  EXPECT_EQ(t.kind(), VocabKind::spm);
  EXPECT_EQ(t.encode("hello world", false, false),
            (std::vector<int32_t>{id_of(t, "\xE2\x96\x81hello"), id_of(t, "\xE2\x96\x81world")}));
  // "ll" (-2) merges before "he" (-3), then "▁he" (-1); "x" is no token -> byte fallback.
  EXPECT_EQ(t.encode("hellx", false, false),
            (std::vector<int32_t>{id_of(t, "\xE2\x96\x81he"), id_of(t, "ll"), kByteBase + 'x'}));
  EXPECT_EQ(t.encode("\xC3\xA9", false, false),
            (std::vector<int32_t>{id_of(t, "\xE2\x96\x81"), kByteBase + 0xC3, kByteBase + 0xA9}));
}

TEST(BuiltinSpm, MergesAcrossWordsWhenTheVocabularyHasSuch) {
  // "a▁" and "a▁b" span a word start, so words cannot be encoded one by one.
  VocabSpec s;
  s.model = "llama";
  s.tokens = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b", "\xE2\x96\x81" "a",
              "\xE2\x96\x81" "b", "a\xE2\x96\x81", "a\xE2\x96\x81" "b"};
  s.scores = {0, 0, 0, 0, 0, 0, 0, 0, 5, 6};
  s.token_types = {2, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  auto tok = Tokenizer::from_spec(s);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ((*tok)->encode("a b", false, false), (std::vector<int32_t>{3, 9}));
  // Without the spanning pieces the same text splits into ▁a ▁b.
  s.tokens.resize(8), s.scores.resize(8), s.token_types.resize(8);
  auto plain = Tokenizer::from_spec(s);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ((*plain)->encode("a b", false, false), (std::vector<int32_t>{6, 7}));
}

TEST(BuiltinSpm, SpecialTokensAndBos) {
  auto tok = Tokenizer::from_spec(spm_spec());
  ASSERT_TRUE(tok.ok());
  const Tokenizer& t = **tok;
  EXPECT_TRUE(t.add_bos());
  EXPECT_EQ(t.bos(), 1);
  EXPECT_EQ(t.eos(), 2);
  EXPECT_TRUE(t.is_eog(2));
  EXPECT_FALSE(t.is_eog(1));
  const auto with_bos = t.encode("hello", true, false);
  ASSERT_FALSE(with_bos.empty());
  EXPECT_EQ(with_bos.front(), 1);
  // Control-token text in user content stays text unless parse_special.
  const auto plain = t.encode("<s>hello", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 1), 0);
  const auto parsed = t.encode("<s>hello", false, true);
  EXPECT_EQ(parsed, (std::vector<int32_t>{1, id_of(t, "\xE2\x96\x81hello")}));
}

TEST(BuiltinSpm, DecodeRoundTrip) {
  auto tok = Tokenizer::from_spec(spm_spec());
  ASSERT_TRUE(tok.ok());
  const Tokenizer& t = **tok;
  for (const char* text : {"hello world", "hellx wor\xC3\xA9ld", "  two  spaces"}) {
    EXPECT_EQ(t.decode(t.encode(text, false, false)), text);
  }
  EXPECT_EQ(t.token_to_piece(kByteBase + 0x41), "A");
  EXPECT_EQ(t.token_to_piece(id_of(t, "\xE2\x96\x81hello")), " hello");
  EXPECT_EQ(t.token_to_piece(1, true), "<s>");
  EXPECT_EQ(t.token_to_piece(1, false), "");
  EXPECT_EQ(t.token_to_piece(-1), "");
  EXPECT_EQ(t.token_to_piece(1 << 30), "");
  EXPECT_EQ(t.attr(1), TokenAttr::control);
  EXPECT_EQ(t.attr(kByteBase), TokenAttr::byte);
}

// Byte-level BPE: ids 0..255 are the GPT-2 byte code points, then merge results.
VocabSpec bpe_spec() {
  VocabSpec s;
  s.model = "gpt2";
  s.pre = "gpt-2";
  for (int b = 0; b < 256; ++b)
    s.tokens.push_back(codepoint_to_utf8(byte_to_codepoint(static_cast<uint8_t>(b))));
  s.merges = {"h e", "l l", "he ll", "hell o", "\xC4\xA0 w", "o r", "\xC4\xA0w or", "l d",
              "\xC4\xA0wor ld"};
  for (const auto& m : s.merges) {
    std::string merged = m;
    merged.erase(merged.find(' '), 1);
    s.tokens.push_back(merged);
  }
  s.tokens.push_back("<|endoftext|>");
  s.token_types.assign(s.tokens.size(), 1);
  s.token_types.back() = 3;
  s.bos = s.eos = static_cast<int32_t>(s.tokens.size()) - 1;
  return s;
}

TEST(BuiltinBpe, MergesByRankAfterPreTokenizing) {
  auto tok = Tokenizer::from_spec(bpe_spec());
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  const Tokenizer& t = **tok;
  const int32_t hello = id_of(t, "hello"), world = id_of(t, "\xC4\xA0world");
  EXPECT_EQ(t.encode("hello world", false, false), (std::vector<int32_t>{hello, world}));
  // "!" is its own word; the second space stays alone before " world" (\s+(?!\S)).
  EXPECT_EQ(t.encode("hello  world!", false, false),
            (std::vector<int32_t>{hello, id_of(t, "\xC4\xA0"), world, '!'}));
  EXPECT_EQ(t.decode(t.encode("hello  world!", false, false)), "hello  world!");
  // Non-ASCII text falls back to one token per byte.
  const auto e_acute = t.encode("\xC3\xA9", false, false);
  EXPECT_EQ(e_acute.size(), 2u);
  EXPECT_EQ(t.decode(e_acute), "\xC3\xA9");
  const int32_t eot = id_of(t, "<|endoftext|>");
  EXPECT_TRUE(t.is_eog(eot));
  EXPECT_EQ(t.encode("hello<|endoftext|>", false, true), (std::vector<int32_t>{hello, eot}));
  const auto plain = t.encode("hello<|endoftext|>", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), eot), 0);
  EXPECT_FALSE(t.add_bos());  // gpt-2 vocabularies add no BOS by default
}

TEST(BuiltinWordPiece, NormalisesAndMatchesLongestPieces) {
  VocabSpec s;
  s.model = "bert";
  s.tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "\xE2\x96\x81hello", "\xE2\x96\x81world",
              "\xE2\x96\x81un", "aff", "able", "\xE2\x96\x81,", "\xE2\x96\x81!", "\xE2\x96\x81" "a"};
  s.token_types = {3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1};
  s.pad = 0, s.unk = 1, s.bos = 2, s.sep = 3;
  auto tok = Tokenizer::from_spec(s);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  const Tokenizer& t = **tok;
  EXPECT_EQ(t.encode("H\xC3\xA9llo, World!", false, false), (std::vector<int32_t>{4, 9, 5, 10}));
  EXPECT_EQ(t.encode("unaffable xyz", false, false), (std::vector<int32_t>{6, 7, 8, 1}));
  EXPECT_EQ(t.encode("hello", true, false), (std::vector<int32_t>{2, 4, 3}));  // [CLS] .. [SEP]
  EXPECT_EQ(t.decode(t.encode("hello world", false, false)), " hello world");
}

TEST(BuiltinErrors, BadVocabulariesAreErrors) {
  VocabSpec empty;
  EXPECT_FALSE(Tokenizer::from_spec(empty).ok());
  VocabSpec dup = spm_spec();
  dup.tokens[5] = dup.tokens[6];
  auto d = Tokenizer::from_spec(dup);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("duplicate"), std::string::npos);
  VocabSpec unknown_model = spm_spec();
  unknown_model.model = "t5x";
  EXPECT_FALSE(Tokenizer::from_spec(unknown_model).ok());
  VocabSpec bad_pre = bpe_spec();
  bad_pre.pre = "no-such-pre";
  auto p = Tokenizer::from_spec(bad_pre);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("no-such-pre"), std::string::npos);
  VocabSpec short_scores = spm_spec();
  short_scores.scores.resize(3);
  EXPECT_FALSE(Tokenizer::from_spec(short_scores).ok());
  VocabSpec no_merges = bpe_spec();
  no_merges.merges.clear();
  EXPECT_FALSE(Tokenizer::from_spec(no_merges).ok());
}

TEST(BuiltinRobustness, InvalidUtf8AndControlBytesNeverCrash) {
  auto spm = Tokenizer::from_spec(spm_spec());
  auto bpe = Tokenizer::from_spec(bpe_spec());
  ASSERT_TRUE(spm.ok() && bpe.ok());
  const std::string nasty[] = {std::string("\xFF\xFE\x80", 3), std::string("a\0b", 3),
                               "\xF4\x90\x80\x80", "\xED\xA0\x80", "\xC3", "\xE2\x96"};
  for (const auto& s : nasty) {
    for (const Tokenizer* t : {spm->get(), bpe->get()}) {
      for (int32_t id : t->encode(s, true, true)) {
        EXPECT_GE(id, 0);
        EXPECT_LT(id, t->n_vocab());
      }
    }
  }
}

TEST(BuiltinRobustness, RandomBytesAndIdsRoundTripSafely) {
  auto spm = Tokenizer::from_spec(spm_spec());
  auto bpe = Tokenizer::from_spec(bpe_spec());
  ASSERT_TRUE(spm.ok() && bpe.ok());
  std::mt19937 rng(42);
  const char alphabet[] = "hello world <s></s><|endoftext|>\xC3\xA9\xE2\x96\x81\xF0\x9F\x98\x80\xFF\n\t";
  for (int round = 0; round < 300; ++round) {
    std::string text;
    const size_t len = rng() % 48;
    for (size_t i = 0; i < len; ++i) {
      text.push_back(rng() % 4 == 0 ? static_cast<char>(rng() & 0xFF)
                                    : alphabet[rng() % (sizeof(alphabet) - 1)]);
    }
    for (const Tokenizer* t : {spm->get(), bpe->get()}) {
      const auto ids = t->encode(text, rng() % 2, rng() % 2);
      for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < t->n_vocab());
      // Byte-level BPE keeps any text that decodes without U+FFFD substitutions.
      std::string reencoded;
      for (uint32_t c : utf8_to_codepoints(text)) append_utf8(reencoded, c);
      const auto plain = t->encode(text, false, false);
      if (t == bpe->get() && reencoded == text) {
        EXPECT_EQ(t->decode(plain), text) << "round " << round;
      }
      std::vector<int32_t> random_ids(rng() % 16);
      for (auto& id : random_ids) id = static_cast<int32_t>(rng() % (t->n_vocab() + 10)) - 5;
      IncrementalDetokenizer d(*t);
      std::string streamed;
      for (int32_t id : random_ids) streamed += d.push(id);
      streamed += d.flush();
      (void)t->decode(random_ids);
    }
  }
}

}  // namespace
}  // namespace pagoda::tokenizer
