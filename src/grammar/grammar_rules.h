#pragma once
// A compiled grammar: every rule is a DFA over bytes whose edges either consume a byte or call
// another rule (a recursive transition network). Small non-recursive rules are inlined into
// their callers, so only recursion (and large shared rules) costs a call at match time.
//
// A parse configuration is a stack of DFA states: the top one scans bytes, the ones below are
// where each pending call returns to. State ids are global across rules.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "grammar/gbnf_ast.h"

namespace pagoda::grammar {

inline constexpr uint32_t kDead = 0xFFFFFFFF;  // no transition / no frame

enum StateFlags : uint8_t {
  kAccepting = 1,  // the rule may end here (return to the caller)
  kHasBytes = 2,   // some byte leads on
  kHasCalls = 4,   // calls leave from here
};

struct CallEdge {
  uint32_t callee_start;  // first state of the called rule
  uint32_t ret;           // where the caller continues once it returns
};

struct CompiledGrammar {
  std::string gbnf;  // the source text (or what a JSON Schema became)
  uint32_t root_start = 0;
  uint32_t n_states = 0;
  uint32_t n_classes = 0;  // bytes that no rule tells apart share a class
  std::array<uint8_t, 256> byte_class{};
  std::vector<uint32_t> next;        // [n_states, n_classes]: next state or kDead
  std::vector<uint8_t> flags;        // [n_states] StateFlags
  std::vector<uint32_t> call_begin;  // [n_states + 1] into calls
  std::vector<CallEdge> calls;
  // [n_states] bytes on which a state with no calls that cannot end steps back to itself
  // (inside a string, a number...): fill_allowed accepts whole vocabulary subtrees made of them.
  std::vector<std::array<uint64_t, 4>> self_loop;
  // [n_states] every well-formed multi-byte UTF-8 character leads from the state back to itself
  // through states that only scan (a string body accepting any non-ASCII character).
  std::vector<uint8_t> loops_non_ascii;
  std::vector<std::string> rule_names;  // [compiled rules], for messages
  std::vector<uint32_t> rule_of_state;  // [n_states]

  uint32_t step(uint32_t state, uint8_t byte) const {
    return next[static_cast<size_t>(state) * n_classes + byte_class[byte]];
  }
  uint8_t flag(uint32_t state) const { return flags[state]; }
};

// Parsed rules -> automata. Errors: missing root, left recursion (naming the cycle), a grammar
// that produces no finite text, and the size limits. `gbnf` is stored as the grammar's text.
Expected<std::shared_ptr<const CompiledGrammar>> compile_grammar(const ParsedGrammar& parsed, std::string_view root,
                                                                 std::string gbnf, const GrammarLimits& limits = {});

}  // namespace pagoda::grammar
