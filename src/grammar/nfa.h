#pragma once
// Rule trees -> one byte-level NFA per compiled rule (Thompson construction). Character classes
// become UTF-8 byte sequences, repetitions are unrolled, and small non-recursive rules are
// inlined; the remaining references are call edges. Internal to the grammar compiler.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/expected.h"
#include "grammar/gbnf_ast.h"

namespace pagoda::grammar {

struct Nfa {
  enum class EdgeKind : uint8_t { eps, bytes, call };
  struct Edge {
    uint32_t to = 0;
    uint32_t rule = 0;  // call: compiled rule index
    EdgeKind kind = EdgeKind::eps;
    uint8_t lo = 0, hi = 0;  // bytes: [lo, hi]
  };
  struct Rule {
    uint32_t ast_rule = 0;  // index in ParsedGrammar::rules
    uint32_t start = 0, accept = 0;
  };

  uint32_t n_states = 0;
  std::vector<uint32_t> offsets;  // [n_states + 1] into edges
  std::vector<Edge> edges;        // grouped by source state
  std::vector<Rule> rules;        // compiled rules; rules[0] is the start rule

  std::span<const Edge> out(uint32_t state) const {
    return {edges.data() + offsets[state], edges.data() + offsets[state + 1]};
  }
};

// Builds the NFA of every rule reachable from `root` that is not inlined. Errors when the
// expansion exceeds limits.max_nfa_states.
Expected<Nfa> build_nfa(const ParsedGrammar& parsed, uint32_t root, const GrammarLimits& limits);

}  // namespace pagoda::grammar
