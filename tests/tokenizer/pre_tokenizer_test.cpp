// RegexSplitter: the hand-written GPT-2 / Llama-3 splitters must agree with the
// same regexes run through PCRE2, and PCRE2 stages must split like llama.cpp.
#include <gtest/gtest.h>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/unicode.h"

namespace pagoda::tokenizer {
namespace {

const char* const kGpt2 =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const char* const kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

std::vector<std::string> words(const RegexSplitter& s, const std::string& text) {
  const auto cpts = utf8_to_codepoints(text);
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t len : s.split(cpts)) {
    std::string w;
    for (size_t i = start; i < start + len; ++i) append_utf8(w, cpts[i]);
    out.push_back(w);
    start += len;
  }
  EXPECT_EQ(start, cpts.size());
  return out;
}

const char* const kSamples[] = {
    "Hello world",
    "  leading and trailing  ",
    "I'm sure they'LL say \"it's 12345 dollars\"!!\n\n\tok",
    "don't  \n  stop\r\n\r\nnow",
    "Γειά σου κόσμε — 你好，世界 🌍 and émojis 3.14159",
    "tabs\t\tand\u00a0no-break\u3000ideographic spaces",
    "x=1+2; y=[a,b]... ¿qué? ¡sí! 1234567",
    "   ",
    "\n",
    "",
};

TEST(RegexSplitter, CustomGpt2MatchesPcre2) {
  auto custom = RegexSplitter::create({kGpt2});
  // `|(?!)` never matches but makes the string differ, forcing the PCRE2 path.
  auto pcre = RegexSplitter::create({std::string(kGpt2) + "|(?!)"});
  ASSERT_TRUE(custom.ok() && pcre.ok());
  for (const char* s : kSamples) EXPECT_EQ(words(**custom, s), words(**pcre, s)) << s;
  EXPECT_EQ(words(**custom, "Hello world's end"),
            (std::vector<std::string>{"Hello", " world", "'s", " end"}));
}

TEST(RegexSplitter, CustomLlama3MatchesPcre2) {
  auto custom = RegexSplitter::create({kLlama3});
  auto pcre = RegexSplitter::create({std::string(kLlama3) + "|(?!)"});
  ASSERT_TRUE(custom.ok() && pcre.ok());
  for (const char* s : kSamples) EXPECT_EQ(words(**custom, s), words(**pcre, s)) << s;
  EXPECT_EQ(words(**custom, "abc 1234567 X'LL"),
            (std::vector<std::string>{"abc", " ", "123", "456", "7", " X", "'LL"}));
}

TEST(RegexSplitter, StagesSplitPiecesFurther) {
  // Falcon's first stage groups punctuation, the last splits digits by three.
  auto s = RegexSplitter::create(
      {"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2, "[0-9][0-9][0-9]"});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(words(**s, "a,b 1234567"),
            (std::vector<std::string>{"a", ",", "b", " ", "123", "456", "7"}));
}

TEST(RegexSplitter, EmptyMatchesSplitLikeStdRegex) {
  // superbpe: a zero-width lookahead splits digits into groups of three from the right.
  auto s = RegexSplitter::create({"\\p{N}+", "(?=(\\d{3})+(?!\\d))"});
  ASSERT_TRUE(s.ok());
  std::vector<std::string> nonempty;
  for (auto& w : words(**s, "1234567")) if (!w.empty()) nonempty.push_back(w);
  EXPECT_EQ(nonempty, (std::vector<std::string>{"1", "234", "567"}));
}

TEST(RegexSplitter, DollarIsEndOfPiece) {
  auto s = RegexSplitter::create({"[\r\n]", "\\s+$"});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(words(**s, "a  \nb  "), (std::vector<std::string>{"a", "  ", "\n", "b", "  "}));
}

TEST(RegexSplitter, BadRegexIsAnError) {
  auto s = RegexSplitter::create({"[unclosed"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("[unclosed"), std::string::npos);
}

TEST(PreTokenizerConfig, KnownAndUnknownNames) {
  for (const char* name : {"", "default", "gpt-2", "llama-bpe", "qwen2", "deepseek-llm",
                           "deepseek-coder", "falcon", "starcoder", "refact", "mpt", "smollm",
                           "command-r", "olmo", "dbrx", "stablelm2", "jais", "chatglm-bpe",
                           "viking", "tekken", "gpt-4o", "bloom", "poro-chat", "exaone",
                           "minerva-7b", "chameleon", "codeshell", "superbpe", "deepseek-v3",
                           "bailingmoe", "seed-coder", "trillion"}) {
    auto c = pre_tokenizer_config(name);
    ASSERT_TRUE(c.ok()) << name;
    EXPECT_FALSE(c->regexes.empty()) << name;
    auto splitter = RegexSplitter::create(c->regexes);
    EXPECT_TRUE(splitter.ok()) << name << ": " << (splitter.ok() ? "" : splitter.error().message);
  }
  EXPECT_FALSE(pre_tokenizer_config("made-up").ok());
  EXPECT_TRUE(pre_tokenizer_config("llama-bpe")->ignore_merges);
}

}  // namespace
}  // namespace pagoda::tokenizer
