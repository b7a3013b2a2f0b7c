#pragma once
// GrammarMatcher's parse state (shared by matcher.cpp and fill_allowed.cpp).
#include <array>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/stacks.h"

namespace pagoda::grammar {

struct GrammarMatcher::State {
  Stacks stacks;                // frames under the configurations
  std::vector<Config> configs;  // scanning configurations, sorted and unique
  bool can_end = false;         // the text so far is a sentence of the grammar
  bool finished = false;        // an end-of-generation token was accepted

  // Scratch for fill_allowed and accept (never part of the state; not copied).
  struct Scratch {
    Stacks stacks;
    std::vector<std::vector<Config>> levels;  // [depth] configurations at each trie depth
    std::vector<Config> configs;
    std::vector<std::array<uint32_t, 3>> walk;  // fill_allowed's DFS: (node, next child, frame mark)
  };
  mutable Scratch scratch;

  State() = default;
  State(const State& o) : stacks(o.stacks), configs(o.configs), can_end(o.can_end), finished(o.finished) {}
  State& operator=(const State& o) {
    stacks = o.stacks;
    configs = o.configs;
    can_end = o.can_end;
    finished = o.finished;
    return *this;
  }
};

}  // namespace pagoda::grammar
