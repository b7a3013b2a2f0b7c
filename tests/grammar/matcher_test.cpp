// GrammarMatcher: token by token acceptance, UTF-8 split over tokens, ending, EOG, copies.
#include <gtest/gtest.h>

#include "grammar/grammar.h"
#include "grammar_test_util.h"

namespace pagoda::test {
namespace {

using grammar::GrammarMatcher;
using grammar::TokenVocabulary;

// Vocabulary: "a", "b", "ab", "\xC3", "\xA9", "é", "\xE6\x97", "\xA5", "", "<eog>", "é\xE6".
std::shared_ptr<const TokenVocabulary> vocab() {
  return TokenVocabulary::from_pieces({"a", "b", "ab", "\xC3", "\xA9", "é", "\xE6\x97", "\xA5", "", "<eog>", "é\xE6"},
                                      {9});
}
enum : int32_t { kA, kB, kAB, kC3, kA9, kE, kE697, kA5, kEmpty, kEog, kEThenE6 };

TEST(Matcher, AcceptsTokensThatKeepTheTextValid) {
  GrammarMatcher m(gbnf(R"(root ::= "a" "b"+)"), vocab());
  EXPECT_FALSE(m.can_end());
  EXPECT_FALSE(m.accept_token(kB));
  EXPECT_TRUE(m.accept_token(kAB));
  EXPECT_TRUE(m.can_end());
  EXPECT_FALSE(m.must_end());
  EXPECT_FALSE(m.accept_token(kA));
  EXPECT_TRUE(m.accept_token(kB));
  EXPECT_TRUE(m.can_end());
}

TEST(Matcher, RejectedTokenLeavesTheStateUnchanged) {
  GrammarMatcher m(gbnf(R"(root ::= "ab" "a")"), vocab());
  EXPECT_TRUE(m.accept_token(kA));
  EXPECT_FALSE(m.accept_token(kAB));  // "a" + "ab" = "aab": the second byte fails
  EXPECT_TRUE(m.accept_token(kB));
  EXPECT_TRUE(m.accept_token(kA));
  EXPECT_TRUE(m.must_end());
}

TEST(Matcher, MultiByteCharactersSplitAcrossTokens) {
  GrammarMatcher m(gbnf(R"(root ::= [é-ê] "日" "a")"), vocab());
  EXPECT_FALSE(m.accept_token(kA9));  // a continuation byte cannot start a character
  EXPECT_TRUE(m.accept_token(kC3));   // first byte of é
  EXPECT_FALSE(m.can_end());
  EXPECT_FALSE(m.accept_token(kC3));
  EXPECT_TRUE(m.accept_token(kA9));    // é complete
  EXPECT_TRUE(m.accept_token(kE697));  // two of 日's three bytes
  EXPECT_FALSE(m.accept_token(kA));
  EXPECT_TRUE(m.accept_token(kA5));
  EXPECT_TRUE(m.accept_token(kA));
  EXPECT_TRUE(m.must_end());

  // A token that completes one character and starts the next.
  GrammarMatcher n(gbnf(R"(root ::= "é日")"), vocab());
  EXPECT_TRUE(n.accept_token(kEThenE6));
  EXPECT_FALSE(n.accept_token(kE697));  // E6 E6 97 is not 日
  EXPECT_FALSE(n.accept_token(kA5));    // E6 A5 is not 日 either (needs 97 first)
}

TEST(Matcher, BytesThatCanNeverFormTheClassAreRejectedEarly) {
  GrammarMatcher m(gbnf(R"(root ::= [a-z]*)"), vocab());
  EXPECT_FALSE(m.accept_token(kC3));  // no ASCII class member starts with C3
  GrammarMatcher any(gbnf(R"(root ::= .)"), vocab());
  EXPECT_TRUE(any.accept_token(kC3));
  EXPECT_FALSE(any.accept_token(kA));
}

TEST(Matcher, EndOfGenerationOnlyWhenTheGrammarCanEnd) {
  GrammarMatcher m(gbnf(R"(root ::= "a" "b"?)"), vocab());
  EXPECT_FALSE(m.accept_token(kEog));
  std::vector<uint8_t> allowed;
  m.fill_allowed(allowed);
  EXPECT_EQ(allowed[kEog], 0);
  EXPECT_TRUE(m.accept_token(kA));
  m.fill_allowed(allowed);
  EXPECT_EQ(allowed[kEog], 1);
  EXPECT_EQ(allowed[kB], 1);
  EXPECT_FALSE(m.must_end());
  EXPECT_TRUE(m.accept_token(kEog));
  EXPECT_TRUE(m.must_end());
  EXPECT_FALSE(m.accept_token(kB));
  EXPECT_FALSE(m.accept_token(kEog));
}

TEST(Matcher, EmptyAndOutOfRangeTokensNeverMatch) {
  GrammarMatcher m(gbnf(R"(root ::= "a"*)"), vocab());
  EXPECT_FALSE(m.accept_token(kEmpty));
  EXPECT_FALSE(m.accept_token(-1));
  EXPECT_FALSE(m.accept_token(1000));
  std::vector<uint8_t> allowed;
  m.fill_allowed(allowed);
  ASSERT_EQ(allowed.size(), 11u);
  EXPECT_EQ(allowed[kEmpty], 0);
}

TEST(Matcher, MustEndWhenNothingMayFollow) {
  GrammarMatcher m(gbnf(R"(root ::= "ab" | "a")"), vocab());
  EXPECT_TRUE(m.accept_token(kA));
  EXPECT_TRUE(m.can_end());
  EXPECT_FALSE(m.must_end());
  EXPECT_TRUE(m.accept_token(kB));
  EXPECT_TRUE(m.must_end());
  std::vector<uint8_t> allowed;
  m.fill_allowed(allowed);
  for (int32_t id = 0; id < 11; ++id) EXPECT_EQ(allowed[static_cast<size_t>(id)], id == kEog ? 1 : 0) << id;
}

TEST(Matcher, CopiesAreIndependent) {
  GrammarMatcher a(gbnf(R"(root ::= ("a" | "b")+)"), vocab());
  ASSERT_TRUE(a.accept_token(kA));
  GrammarMatcher b = a;
  EXPECT_TRUE(b.accept_token(kB));
  EXPECT_TRUE(a.accept_token(kA));
  GrammarMatcher c(gbnf(R"(root ::= "x")"), vocab());
  c = b;
  EXPECT_TRUE(c.accept_token(kAB));
  GrammarMatcher d = std::move(c);
  EXPECT_TRUE(d.accept_token(kEog));
  EXPECT_TRUE(d.must_end());
  EXPECT_FALSE(a.must_end());
}

TEST(Matcher, AcceptTextAdvancesOverAnyBytes) {
  GrammarMatcher m(gbnf(R"(root ::= "{" [a-z]* "}")"), vocab());
  EXPECT_TRUE(m.accept_text("{ab"));
  EXPECT_FALSE(m.accept_text("c}x"));  // rejected as a whole
  EXPECT_TRUE(m.accept_text(""));
  EXPECT_TRUE(m.accept_text("c}"));
  EXPECT_TRUE(m.must_end());
}

TEST(Matcher, AmbiguousRecursiveGrammarStaysBounded) {
  // Every prefix of x^n has ~2^n parses as stacks; dedupe and the cap keep the state small,
  // and the matcher still accepts valid text.
  auto g = gbnf(R"(
root ::= a
a ::= "x" a "y" | "x" b "y" | ""
b ::= "x" a "z" | "x" b "z" | ""
)");
  GrammarMatcher m(g, vocab());
  auto v = TokenVocabulary::from_pieces({"x", "y", "z"}, {});
  GrammarMatcher n(g, v);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(n.accept_token(0));
  std::vector<uint8_t> allowed;
  n.fill_allowed(allowed);
  ASSERT_EQ(allowed.size(), 3u);
  EXPECT_EQ(allowed[0], 1);
  EXPECT_TRUE(allowed[1] || allowed[2]);
  EXPECT_TRUE(n.accept_token(allowed[1] ? 1 : 2));
  EXPECT_EQ(m.can_end(), true);  // the empty string is a sentence
}

}  // namespace
}  // namespace pagoda::test
