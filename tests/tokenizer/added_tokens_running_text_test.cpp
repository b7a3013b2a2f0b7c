// Added tokens inside running text, on every llama.cpp fixture vocabulary: user-defined tokens
// are matched verbatim whether or not special tokens are parsed; control tokens only when they
// are (parse_special=true). This is what keeps a tool-call tag such as <tool_call> one token in
// a model's prompt while a user cannot inject <|im_start|>.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "common/fixtures.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/fixture_tokenizer.h"

namespace pagoda::tokenizer {
namespace {

using test_support::load;

bool contains(const std::vector<int32_t>& ids, int32_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

std::string show(const std::vector<int32_t>& ids) {
  std::ostringstream out;
  for (size_t i = 0; i < ids.size(); ++i) out << (i ? " " : "") << ids[i];
  return out.str();
}

// Up to `n` ids spread over the list (first, last and evenly between), so long lists of added
// tokens are sampled across their whole range.
std::vector<int32_t> spread(const std::vector<int32_t>& ids, size_t n) {
  if (ids.size() <= n) return ids;
  std::vector<int32_t> out;
  for (size_t k = 0; k < n; ++k) out.push_back(ids[k * (ids.size() - 1) / (n - 1)]);
  return out;
}

// Whether another added token's text occurs inside `text` around the token under test, which
// would make the expected id depend on which match wins.
bool overlaps_other(const Tokenizer& tok, const std::vector<int32_t>& added, int32_t self,
                    const std::string& text) {
  const std::string_view piece = tok.token_text(self);
  for (int32_t other : added) {
    if (other == self) continue;
    const std::string_view t = tok.token_text(other);
    if (t.empty() || t.size() <= piece.size()) continue;
    if (t.find(piece) != std::string_view::npos && text.find(t) != std::string::npos) return true;
  }
  return false;
}

class AddedTokensInRunningText : public testing::TestWithParam<std::string> {};

TEST_P(AddedTokensInRunningText, UserDefinedAlwaysControlOnlyWhenParsed) {
  const std::string rel = "vocab/ggml-vocab-" + GetParam() + ".gguf";
  PAGODA_REQUIRE_FIXTURE(rel);
  auto tok = load(rel);
  ASSERT_TRUE(tok);

  std::vector<int32_t> user, control, added;
  for (int32_t id = 0; id < tok->n_vocab(); ++id) {
    if (tok->token_text(id).empty()) continue;
    if (tok->attr(id) == TokenAttr::user_defined) user.push_back(id);
    if (tok->attr(id) == TokenAttr::control) control.push_back(id);
    if (tok->attr(id) == TokenAttr::user_defined || tok->attr(id) == TokenAttr::control)
      added.push_back(id);
  }
  RecordProperty("user_defined", static_cast<int>(user.size()));
  RecordProperty("control", static_cast<int>(control.size()));
  if (user.empty() && control.empty()) GTEST_SKIP() << rel << " has no added tokens";

  const std::vector<std::pair<std::string, std::string>> contexts = {
      {"abc", " def"}, {"", "xyz"}, {"Hello ", ""}, {"1 + ", "\n\n"}};
  int checked = 0;
  for (int32_t id : spread(user, 12)) {
    const std::string piece(tok->token_text(id));
    for (const auto& [before, after] : contexts) {
      const std::string text = before + piece + after;
      if (overlaps_other(*tok, added, id, text)) continue;
      const auto plain = tok->encode(text, false, /*parse_special=*/false);
      const auto parsed = tok->encode(text, false, /*parse_special=*/true);
      EXPECT_TRUE(contains(plain, id))
          << rel << ": user-defined token " << id << " '" << piece << "' not matched in '" << text
          << "' without parse_special: ids " << show(plain);
      EXPECT_TRUE(contains(parsed, id))
          << rel << ": user-defined token " << id << " '" << piece << "' not matched in '" << text
          << "' with parse_special: ids " << show(parsed);
      ++checked;
    }
    // Twice in a row, glued: both occurrences are the token.
    const std::string twice = "x" + piece + piece + "y";
    if (!overlaps_other(*tok, added, id, twice)) {
      const auto ids = tok->encode(twice, false, false);
      EXPECT_EQ(std::count(ids.begin(), ids.end(), id), 2)
          << rel << ": '" << twice << "' gave " << show(ids);
    }
  }
  for (int32_t id : spread(control, 12)) {
    const std::string piece(tok->token_text(id));
    for (const auto& [before, after] : contexts) {
      const std::string text = before + piece + after;
      if (overlaps_other(*tok, added, id, text)) continue;
      const auto plain = tok->encode(text, false, /*parse_special=*/false);
      const auto parsed = tok->encode(text, false, /*parse_special=*/true);
      EXPECT_FALSE(contains(plain, id))
          << rel << ": control token " << id << " '" << piece << "' produced from '" << text
          << "' without parse_special: ids " << show(plain);
      EXPECT_TRUE(contains(parsed, id))
          << rel << ": control token " << id << " '" << piece << "' not matched in '" << text
          << "' with parse_special: ids " << show(parsed);
      ++checked;
    }
  }
  // Every added token once, in the plainest running text (the loops above sample them).
  int checked_all = 0;
  for (const auto* ids : {&user, &control}) {
    for (int32_t id : *ids) {
      const std::string text = "abc" + std::string(tok->token_text(id)) + " def";
      if (overlaps_other(*tok, added, id, text)) continue;
      const bool always = tok->attr(id) == TokenAttr::user_defined;
      const auto plain = tok->encode(text, false, false);
      EXPECT_EQ(contains(plain, id), always)
          << rel << ": token " << id << " '" << tok->token_text(id) << "' ("
          << (always ? "user-defined" : "control") << ") in '" << text
          << "' without parse_special: ids " << show(plain);
      EXPECT_TRUE(contains(tok->encode(text, false, true), id))
          << rel << ": token " << id << " in '" << text << "'";
      ++checked_all;
    }
  }
  RecordProperty("checked_all", checked_all);
  EXPECT_GE(checked_all, static_cast<int>(added.size()) / 2)
      << "most added tokens overlap no other";
  // A user-defined and a control token in the same text: only the first without parse_special.
  if (!user.empty() && !control.empty()) {
    const int32_t u = user.front(), c = control.back();
    const std::string text =
        "see " + std::string(tok->token_text(u)) + " and " + std::string(tok->token_text(c)) + ".";
    if (!overlaps_other(*tok, added, u, text) && !overlaps_other(*tok, added, c, text)) {
      const auto plain = tok->encode(text, false, false);
      const auto parsed = tok->encode(text, false, true);
      EXPECT_TRUE(contains(plain, u) && !contains(plain, c))
          << rel << ": '" << text << "' gave " << show(plain);
      EXPECT_TRUE(contains(parsed, u) && contains(parsed, c))
          << rel << ": '" << text << "' gave " << show(parsed);
    }
  }
  EXPECT_GT(checked, 0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, AddedTokensInRunningText,
                         testing::Values("bert-bge", "deepseek-coder", "deepseek-llm", "falcon",
                                         "gpt-2", "llama-spm", "phi-3", "starcoder"));

TEST(AddedTokensInRunningText, Phi3EndIsControlAndSlashSIsTreatedAsControl) {
  PAGODA_REQUIRE_FIXTURE("vocab/ggml-vocab-phi-3.gguf");
  auto tok = load("vocab/ggml-vocab-phi-3.gguf");
  ASSERT_TRUE(tok);
  const int32_t end = tok->find_token("<|end|>");
  ASSERT_GE(end, 0);
  const std::string text = "The answer is 4.<|end|> Then</s> more";
  const auto plain = tok->encode(text, false, false);
  EXPECT_FALSE(contains(plain, end)) << show(plain);
  EXPECT_FALSE(contains(plain, 2))
      << "</s> ends generation, so llama.cpp treats it as control: " << show(plain);
  const auto parsed = tok->encode(text, false, true);
  EXPECT_TRUE(contains(parsed, end)) << show(parsed);
  EXPECT_TRUE(contains(parsed, 2)) << show(parsed);
  // Phi-3's other added pieces (<|user|>, <|assistant|>, …) follow the same rule as their type.
  for (const char* name : {"<|user|>", "<|assistant|>", "<|system|>"}) {
    const int32_t id = tok->find_token(name);
    if (id < 0) continue;
    const std::string t = std::string("hi ") + name + " there";
    const bool always = tok->attr(id) == TokenAttr::user_defined;
    EXPECT_EQ(contains(tok->encode(t, false, false), id), always)
        << name << " attr " << static_cast<int>(tok->attr(id));
    EXPECT_TRUE(contains(tok->encode(t, false, true), id)) << name;
  }
}

TEST(AddedTokensInRunningText, DeepseekAddedPiecesInsideWords) {
  PAGODA_REQUIRE_FIXTURE("vocab/ggml-vocab-deepseek-coder.gguf");
  auto tok = load("vocab/ggml-vocab-deepseek-coder.gguf");
  ASSERT_TRUE(tok);
  const int32_t o_tilde = tok->find_token("\xC3\xB5");  // õ, user-defined
  ASSERT_EQ(o_tilde, 32000);
  ASSERT_EQ(tok->attr(o_tilde), TokenAttr::user_defined);
  // Inside a word, with no spaces around: still the added token, on both paths.
  const std::string word = "p\xC3\xB5ndas";
  EXPECT_TRUE(contains(tok->encode(word, false, false), o_tilde))
      << show(tok->encode(word, false, false));
  EXPECT_TRUE(contains(tok->encode(word, false, true), o_tilde));
  const int32_t begin = tok->find_token(
      "<\xEF\xBD\x9C"
      "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>");
  if (begin >= 0) {
    const std::string text =
        "x<\xEF\xBD\x9C"
        "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>y";
    EXPECT_EQ(contains(tok->encode(text, false, false), begin),
              tok->attr(begin) == TokenAttr::user_defined);
    EXPECT_TRUE(contains(tok->encode(text, false, true), begin));
  }
}

}  // namespace
}  // namespace pagoda::tokenizer
