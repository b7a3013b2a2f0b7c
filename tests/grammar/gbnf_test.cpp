// GBNF: syntax (llama.cpp's), the language each construct accepts, errors with line:column,
// and the limits against hostile grammars.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "grammar/grammar.h"
#include "grammar_test_util.h"

namespace pagoda::test {
namespace {

using grammar::Grammar;

std::string error_of(const std::string& text) {
  auto g = Grammar::from_gbnf(text);
  EXPECT_FALSE(g.ok()) << "accepted:\n" << text;
  return g.ok() ? "" : g.error().message;
}

// llama.cpp's grammars/json.gbnf, as written there (multi-line rules, comments, groups).
constexpr const char* kJsonGbnf = R"(root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws

object ::=
  "{" ws (
            string ":" ws value
    ("," ws string ":" ws value)*
  )? "}" ws

array  ::=
  "[" ws (
            value
    ("," ws value)*
  )? "]" ws

string ::=
  "\"" (
    [^"\\\x7F\x00-\x1F] |
    "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
  )* "\"" ws

number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws

# Optional space: by convention, applied in this grammar after literal chars when allowed
ws ::= | " " | "\n" [ \t]{0,20}
)";

TEST(Gbnf, LlamaCppJsonGrammarParsesAndMatchesJson) {
  auto g = gbnf(kJsonGbnf);
  ASSERT_TRUE(g);
  EXPECT_TRUE(matches(g, R"({"a": [1, 2.5, -3e4, true, null], "b": {"c": "d\n\u00e9"}})"));
  EXPECT_TRUE(matches(g, "{}"));
  EXPECT_TRUE(matches(g, "{\n  \"k\": \"日本語 😀\"\n}\n"));
  EXPECT_FALSE(matches(g, R"({"a": })"));
  EXPECT_FALSE(matches(g, R"({"a": 01})"));
  EXPECT_FALSE(matches(g, "[1]"));  // root is an object
  EXPECT_FALSE(matches(g, "{\"a\": \"\x01\"}"));
  EXPECT_EQ(g->gbnf(), kJsonGbnf);
}

TEST(Gbnf, LiteralsAndEscapes) {
  auto g = gbnf(R"(root ::= "a\n\t\\\"\x41\u00e9\U0001F600\r\]")");
  ASSERT_TRUE(g);
  EXPECT_TRUE(matches(g, "a\n\t\\\"A\xC3\xA9\xF0\x9F\x98\x80\r]"));
  EXPECT_FALSE(matches(g, "a\n\t\\\"A"));
}

TEST(Gbnf, CharacterClasses) {
  auto g = gbnf(R"(root ::= [a-c0-9_] [^"\\] [\-x] [é-ê] .)");
  ASSERT_TRUE(g);
  EXPECT_TRUE(matches(g, "a#-éz"));
  EXPECT_TRUE(matches(g, "_日xê😀"));
  EXPECT_FALSE(matches(g, "d#-éz"));
  EXPECT_FALSE(matches(g, "a\"-éz"));
  EXPECT_FALSE(matches(g, "a#yéz"));
  EXPECT_FALSE(matches(g, "a#-ëz"));
  // '-' first or last is a literal dash; '.' is exactly one code point.
  auto dash = gbnf(R"(root ::= [-a] [b-] .)");
  EXPECT_TRUE(matches(dash, "--é"));
  EXPECT_TRUE(matches(dash, "ab日"));
  EXPECT_FALSE(matches(dash, "abxy"));
}

TEST(Gbnf, RepetitionOperators) {
  auto g = gbnf(R"(root ::= "a"* "b"+ "c"? "d"{2} "e"{1,} "f"{0,2} "g"{,1} ("h" "i"){1,2})");
  ASSERT_TRUE(g);
  EXPECT_TRUE(matches(g, "bddehi"));
  EXPECT_TRUE(matches(g, "aaabbbcddeeeffghihi"));
  EXPECT_FALSE(matches(g, "bddeh"));
  EXPECT_FALSE(matches(g, "bdehi"));       // d{2}
  EXPECT_FALSE(matches(g, "bddfffehi"));   // order
  EXPECT_FALSE(matches(g, "bddefffhi"));   // f{0,2}
  EXPECT_FALSE(matches(g, "bddehihihi"));  // {1,2}
  EXPECT_FALSE(matches(g, "ddehi"));       // b+
}

TEST(Gbnf, RecursionAndAlternatives) {
  auto g = gbnf(R"g(
root ::= expr
expr ::= term ("+" term)*
term ::= num | "(" expr ")"
num  ::= [0-9]+
)g");
  ASSERT_TRUE(g);
  EXPECT_TRUE(matches(g, "1+(2+(3+44))+5"));
  EXPECT_FALSE(matches(g, "1+(2+3"));
  EXPECT_FALSE(matches(g, "1++2"));
  // Balanced parentheses, the empty string included.
  auto p = gbnf(R"g(root ::= ("(" root ")")*)g");
  EXPECT_TRUE(matches(p, ""));
  EXPECT_TRUE(matches(p, "(()())()"));
  EXPECT_FALSE(matches(p, "(()"));
}

TEST(Gbnf, CommentsBlankLinesAndContinuations) {
  auto g = gbnf(R"(# a comment
root ::= a # trailing comment

   | b   # a line starting with '|' continues the rule
a ::= "x"
  "y"   # so does a line that does not start a new rule
b ::= ( "z" # inside a group, line breaks are free
        "w" )
)");
  ASSERT_TRUE(g);
  EXPECT_TRUE(matches(g, "xy"));
  EXPECT_TRUE(matches(g, "zw"));
  EXPECT_FALSE(matches(g, "x"));
}

TEST(Gbnf, RootParameterChoosesTheStartRule) {
  auto g = Grammar::from_gbnf("a ::= \"x\"\nb ::= \"y\"", "b");
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_TRUE(matches(*g, "y"));
  EXPECT_FALSE(matches(*g, "x"));
}

TEST(Gbnf, ErrorsGiveLineAndColumn) {
  EXPECT_EQ(error_of("root ::= \"a\"\nfoo ::= [abc"), "2:9: unterminated character class");
  EXPECT_EQ(error_of("root ::= \"abc"), "1:10: unterminated string literal");
  EXPECT_EQ(error_of("root ::= x\n"), "1:10: undefined rule 'x'");
  EXPECT_EQ(error_of("root ::= \"a\"\nroot ::= \"b\""), "2:1: rule 'root' is defined twice (first at 1:1)");
  EXPECT_EQ(error_of("root ::= (\"a\" \"b\""), "1:18: expected ')' to close the group opened at 1:10");
  EXPECT_EQ(error_of("root ::= \"a\" )"), "1:14: unexpected ')' in rule 'root'");
  EXPECT_EQ(error_of("root = \"a\""), "1:6: expected '::=' after rule name 'root'");
  EXPECT_EQ(error_of("root ::= *"), "1:10: '*' must follow an element");
  EXPECT_EQ(error_of("root ::= \"\\q\""), "1:11: unknown escape '\\q'");
  EXPECT_EQ(error_of("root ::= [z-a]"), "1:11: character range is out of order");
  EXPECT_EQ(error_of("root ::= \"a\"{3,1}"), "1:13: repetition {3,1} has max below min");
  EXPECT_EQ(error_of("root ::= \"\\uD800\""), "1:11: escape '\\uD800' is not a Unicode scalar value");
  // Columns count code points, not bytes.
  EXPECT_EQ(error_of("root ::= \"日本\" ["), "1:15: unterminated character class");
}

TEST(Gbnf, MissingRootAndLeftRecursionAreErrors) {
  EXPECT_EQ(error_of("a ::= \"x\""), "the grammar has no 'root' rule (the start rule)");
  EXPECT_EQ(error_of(""), "the grammar has no 'root' rule (the start rule)");
  EXPECT_NE(error_of("root ::= root \"a\" | \"b\"").find("left recursion: root -> root"), std::string::npos);
  // Through another rule, and through a nullable prefix.
  EXPECT_NE(error_of("root ::= a\na ::= b \"x\" | \"y\"\nb ::= a \"z\"").find("left recursion"), std::string::npos);
  EXPECT_NE(error_of("root ::= e? root \"x\" | \"y\"\ne ::= \"e\"").find("left recursion"), std::string::npos);
  // Recursion after a consumed character is fine.
  EXPECT_TRUE(Grammar::from_gbnf("root ::= \"a\" root | \"b\"").ok());
}

TEST(Gbnf, GrammarsWithoutFiniteSentencesAreErrors) {
  EXPECT_NE(error_of("root ::= \"a\" root").find("cannot produce any finite text"), std::string::npos);
  // A dead alternative alone is pruned, not an error.
  auto g = gbnf("root ::= \"x\" | \"y\" loop\nloop ::= \"z\" loop");
  EXPECT_TRUE(matches(g, "x"));
  EXPECT_FALSE(matches(g, "yz"));
}

TEST(Gbnf, LimitsStopHostileGrammars) {
  // Repetition expansion multiplies: 1000 x 1000 x 1000 copies.
  EXPECT_NE(error_of(R"(root ::= (("a"{1000}){1000}){1000})").find("over the limit"), std::string::npos);
  EXPECT_NE(error_of("root ::= \"a\"{1000000}").find("exceeds the limit"), std::string::npos);
  std::string deep = "root ::= ";
  for (int i = 0; i < 100; ++i) deep += "(";
  deep += "\"a\"";
  for (int i = 0; i < 100; ++i) deep += ")";
  EXPECT_NE(error_of(deep).find("nested deeper than 64"), std::string::npos);
  EXPECT_NE(error_of("root ::= \"a\"" + std::string(2 << 20, ' ')).find("the limit is"), std::string::npos);
  std::string many = "root ::= r0\n";
  for (int i = 0; i < 9000; ++i) many += fmt::format("r{} ::= \"a\"\n", i);
  EXPECT_NE(error_of(many).find("more than 8192 rules"), std::string::npos);
  EXPECT_NE(error_of("root ::= \"a\"******").find("more than 4 repetition operators"), std::string::npos);
}

TEST(Gbnf, RegexLikeBlowUpIsBoundedOrRejected) {
  // (a|b)* a (a|b){n}: the classic exponential DFA. Small n compiles; large n is refused cleanly.
  EXPECT_TRUE(Grammar::from_gbnf(R"(root ::= [ab]* "a" [ab]{8})").ok());
  auto big = Grammar::from_gbnf(R"(root ::= [ab]* "a" [ab]{40})");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message.find("automaton states"), std::string::npos) << big.error().message;
}

}  // namespace
}  // namespace pagoda::test
