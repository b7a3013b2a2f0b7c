// GrammarMatcher::fill_allowed: one depth-first walk of the vocabulary trie, carrying the parse
// configurations down each edge and pruning a subtree as soon as no configuration survives its
// edge. Two things keep it cheap on 150k-token vocabularies:
//   - most steps only change the top state (a table lookup); frames are created only when a
//     rule is entered, and are undone (LIFO arena) when the walk backs out of the subtree;
//   - inside strings and numbers the top state loops on itself: when every byte below a large
//     subtree loops, all its tokens are accepted at once from a precomputed byte summary.
#include "grammar/matcher_state.h"
#include "grammar/vocab_trie.h"

namespace pagoda::grammar {
namespace {

bool is_subset(const std::array<uint64_t, 4>& a, const std::array<uint64_t, 4>& b) {
  return ((a[0] & ~b[0]) | (a[1] & ~b[1]) | (a[2] & ~b[2]) | (a[3] & ~b[3])) == 0;
}

void allow_range(const VocabTrie& t, uint32_t begin, uint32_t end, std::vector<uint8_t>& allowed) {
  for (uint32_t k = begin; k < end; ++k) allowed[static_cast<size_t>(t.tok_ids[k])] = 1;
}

}  // namespace

void GrammarMatcher::fill_allowed(std::vector<uint8_t>& allowed) const {
  const VocabTrie& t = vocab_->trie();
  const CompiledGrammar& g = grammar_->compiled();
  const State& st = *state_;
  allowed.assign(static_cast<size_t>(t.n_vocab), 0);
  if (st.finished || st.can_end)
    for (int32_t id : t.eog) allowed[static_cast<size_t>(id)] = 1;
  if (st.finished || st.configs.empty()) return;

  auto& sc = st.scratch;
  Stacks& ws = sc.stacks;
  ws.assign(st.stacks);
  auto& levels = sc.levels;
  if (levels.size() < 2) levels.resize(2);
  levels[0].assign(st.configs.begin(), st.configs.end());
  auto& walk = sc.walk;  // (node, next child to visit, arena mark to restore when leaving)
  walk.clear();
  walk.push_back({0, 1, static_cast<uint32_t>(ws.mark())});
  while (!walk.empty()) {
    const size_t d = walk.size() - 1;
    const uint32_t node = walk.back()[0];
    const uint32_t j = walk.back()[1];
    if (j >= t.nodes[node].subtree_end) {
      ws.truncate(walk.back()[2]);
      walk.pop_back();
      continue;
    }
    const TrieNode& n = t.nodes[j];
    walk.back()[1] = n.subtree_end;  // the next sibling
    if (levels.size() < d + 2) levels.resize(d + 2);
    const std::vector<Config>& cur = levels[d];
    std::vector<Config>& next = levels[d + 1];
    if (cur.size() == 1) {  // the common case, without the general step's bookkeeping
      const uint32_t to = g.step(cur[0].state, n.byte);
      if (to == kDead) continue;
      next.resize(1);
      next[0] = {to, cur[0].frame};
    } else {
      ws.step(cur, n.byte, next);
      if (next.empty()) continue;  // no configuration takes this byte: prune the subtree
    }
    allow_range(t, n.tok_begin, t.nodes[j + 1].tok_begin, allowed);
    if (n.subtree_end == j + 1) continue;  // a leaf: nothing below to expand for
    const auto mark = static_cast<uint32_t>(ws.mark());
    bool scanning_only = true;
    for (const Config& c : next) scanning_only = scanning_only && !(g.flag(c.state) & (kAccepting | kHasCalls));
    if (!scanning_only) {
      ws.expand(next);
      if (next.empty()) {
        ws.truncate(mark);
        continue;
      }
    }
    if (const uint32_t s = t.summary_of[j]; s != 0xFFFFFFFF) {
      // Non-ASCII bytes pass when they form whole characters and the state loops on all of them.
      const auto& below = t.subtree_bytes[s];
      const std::array<uint64_t, 4> ascii{below[0], below[1], 0, 0};
      const bool non_ascii = (below[2] | below[3]) != 0;
      bool all = false;
      for (const Config& c : next)
        if (non_ascii ? (t.subtree_utf8[s] && g.loops_non_ascii[c.state] && is_subset(ascii, g.self_loop[c.state]))
                      : is_subset(below, g.self_loop[c.state]))
          all = true;
      if (all) {
        allow_range(t, t.nodes[j + 1].tok_begin, t.nodes[n.subtree_end].tok_begin, allowed);
        ws.truncate(mark);
        continue;
      }
    }
    walk.push_back({j, j + 1, mark});
  }
}

}  // namespace pagoda::grammar
