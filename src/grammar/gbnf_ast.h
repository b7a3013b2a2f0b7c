#pragma once
// GBNF as parsed: one expression tree per rule, before it becomes automata (compile.h).
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/expected.h"
#include "grammar/utf8.h"

namespace pagoda::grammar {

inline constexpr uint32_t kUnbounded = 0xFFFFFFFF;  // repeat max for * and + and {m,}

struct Node {
  enum class Kind : uint8_t {
    literal,  // bytes: the UTF-8 of a "string"
    cclass,   // ranges: normalized code point ranges ([...], [^...], .)
    ref,      // rule: another rule by index
    seq,      // children in order (empty = the empty string)
    alt,      // any one child
    repeat,   // children[0] between min and max times (max may be kUnbounded)
  };
  Kind kind = Kind::seq;
  std::string bytes;
  std::vector<CodeRange> ranges;
  uint32_t rule = 0;
  uint32_t min = 0, max = 0;
  std::vector<Node> children;
  uint32_t offset = 0;  // byte offset in the GBNF text where it starts (error messages)
};

struct RuleAst {
  std::string name;
  Node body;
  bool defined = false;
  uint32_t offset = 0;  // of the definition, or of the first reference while undefined
};

struct ParsedGrammar {
  std::vector<RuleAst> rules;
  std::unordered_map<std::string, uint32_t> index;  // name -> rule
};

// Size limits that keep hostile grammars from exhausting memory or time.
struct GrammarLimits {
  size_t max_text_bytes = 1 << 20;  // GBNF source
  size_t max_rules = 8192;
  int max_nesting = 64;               // ( ) depth
  uint32_t max_repeat = 100000;       // m and n in {m,n}
  uint64_t max_nfa_states = 1 << 20;  // after repetition expansion and inlining
  uint64_t max_dfa_states = 1 << 16;
  uint64_t max_table_bytes = 32u << 20;  // transition table
};

// Parses llama.cpp's GBNF. Errors read "L:C: message" (1-based line and column, in code points).
// Checks syntax, duplicate and undefined rules; not left recursion (compile does).
Expected<ParsedGrammar> parse_gbnf(std::string_view text, const GrammarLimits& limits = {});

// "L:C" for a byte offset of text (1-based; the column counts code points).
std::string line_col(std::string_view text, size_t offset);

}  // namespace pagoda::grammar
