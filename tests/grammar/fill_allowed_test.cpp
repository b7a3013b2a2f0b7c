// fill_allowed against the brute-force reference (accept every token on a copy), over random
// grammars, random states and vocabularies with long shared prefixes (the trie's shortcuts).
#include <gtest/gtest.h>

#include "grammar/grammar.h"
#include "grammar_test_util.h"
#include "random_grammar.h"

namespace pagoda::test {
namespace {

using grammar::Grammar;
using grammar::GrammarMatcher;
using grammar::TokenVocabulary;

// Walks `steps` random allowed tokens, checking fill_allowed against the reference at each
// state. Returns the number of states checked.
int check_walk(const std::shared_ptr<const Grammar>& g, const std::shared_ptr<const TokenVocabulary>& vocab,
               std::mt19937& rng, int steps) {
  GrammarMatcher m(g, vocab);
  std::vector<uint8_t> allowed;
  int checked = 0;
  for (int s = 0; s < steps; ++s) {
    m.fill_allowed(allowed);
    const auto expected = brute_force_allowed(m, vocab->n_vocab());
    EXPECT_EQ(allowed, expected) << "state after " << s << " tokens of\n" << g->gbnf();
    if (allowed != expected) return checked;
    ++checked;
    std::vector<int32_t> ids;
    for (size_t i = 0; i < allowed.size(); ++i)
      if (allowed[i] && !vocab->is_eog(static_cast<int32_t>(i))) ids.push_back(static_cast<int32_t>(i));
    if (ids.empty()) break;
    EXPECT_TRUE(m.accept_token(ids[rng() % ids.size()]));
  }
  return checked;
}

TEST(FillAllowed, MatchesBruteForceOnRandomGrammars) {
  std::mt19937 rng(1234);
  auto vocab = small_vocab();
  int compiled = 0, states = 0;
  for (int i = 0; i < 300; ++i) {
    const std::string text = RandomGbnf(rng).make();
    auto g = Grammar::from_gbnf(text);
    if (!g) continue;  // left recursion, no finite sentence...
    ++compiled;
    states += check_walk(*g, vocab, rng, 12);
  }
  EXPECT_GT(compiled, 100);
  EXPECT_GT(states, 500);
}

TEST(FillAllowed, MatchesBruteForceWithLongTokensAndSharedPrefixes) {
  // Long random pieces make subtrees big enough for the byte-summary shortcut.
  std::mt19937 rng(99);
  auto pieces = random_pieces(rng, 3000, 24);
  for (const auto& p : small_pieces()) pieces.push_back(p);
  pieces.push_back("<eog>");
  auto vocab = TokenVocabulary::from_pieces(pieces, {static_cast<int32_t>(pieces.size() - 1)});
  for (const char* text : {R"(root ::= "\"" [^"\\]* "\"" "}")", R"(root ::= ([a-c0-9 ] | "é" | "日")* "}")",
                           R"(root ::= "{" ( [^}]* "}" )+)", R"(root ::= (. | "😀")*)"}) {
    auto g = gbnf(text);
    ASSERT_TRUE(g);
    EXPECT_GT(check_walk(g, vocab, rng, 6), 0);
  }
  for (int i = 0; i < 40; ++i) {
    auto g = Grammar::from_gbnf(RandomGbnf(rng).make());
    if (g) check_walk(*g, vocab, rng, 4);
  }
}

TEST(FillAllowed, MatchesBruteForceOnJsonSchemaGrammars) {
  std::mt19937 rng(7);
  auto vocab = small_vocab();
  const nlohmann::json schema = {
      {"type", "object"},
      {"properties",
       {{"name", {{"type", "string"}, {"maxLength", 5}}},
        {"age", {{"type", "integer"}, {"minimum", 0}, {"maximum", 130}}},
        {"tags", {{"type", "array"}, {"items", {{"enum", {"a", "b", "é"}}}}, {"maxItems", 3}}},
        {"extra", nlohmann::json::object()}}},
      {"required", {"name"}}};
  auto g = Grammar::from_json_schema(schema);
  ASSERT_TRUE(g.ok()) << g.error().message;
  for (int i = 0; i < 10; ++i) check_walk(*g, vocab, rng, 30);
  check_walk(Grammar::any_json_object(), vocab, rng, 40);
}

TEST(FillAllowed, EogOnlyWhenTheGrammarCanEnd) {
  auto vocab = small_vocab();
  const auto eog = static_cast<int32_t>(small_pieces().size() - 1);
  GrammarMatcher m(gbnf(R"(root ::= "a"+)"), vocab);
  std::vector<uint8_t> allowed;
  m.fill_allowed(allowed);
  EXPECT_EQ(allowed[static_cast<size_t>(eog)], 0);
  ASSERT_TRUE(m.accept_text("a"));
  m.fill_allowed(allowed);
  EXPECT_EQ(allowed[static_cast<size_t>(eog)], 1);
}

}  // namespace
}  // namespace pagoda::test
