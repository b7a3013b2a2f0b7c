#include "grammar/nfa.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

namespace pagoda::grammar {
namespace {

constexpr uint64_t kSaturated = uint64_t{1} << 62;
constexpr uint64_t kInlineMaxWeight = 256;  // NFA states a rule may cost to be inlined
constexpr int kInlineMaxDepth = 8;          // inlined rules within inlined rules
// An inlined copy is made per repetition, so a site inside {0,200} inlines only small rules:
// rule weight x copies at the site must stay within this (else the site calls the rule).
constexpr uint64_t kInlineSiteBudget = 1024;
constexpr uint64_t kInlineAlwaysWeight = 24;   // tiny rules ("true" | "false") are always inlined
constexpr uint64_t kInlineTotalBudget = 2048;  // weight x uses for the others

uint64_t add_sat(uint64_t a, uint64_t b) {
  return std::min(kSaturated, a + b);
}
uint64_t mul_sat(uint64_t a, uint64_t b) {
  if (a == 0 || b == 0) return 0;
  return a > kSaturated / b ? kSaturated : a * b;
}

void collect_refs(const Node& n, std::vector<uint32_t>& out) {
  if (n.kind == Node::Kind::ref) out.push_back(n.rule);
  for (const Node& c : n.children) collect_refs(c, out);
}

struct RuleInfo {
  bool reachable = false;
  bool recursive = false;
  bool inline_ok = false;
  uint64_t weight = 0;  // NFA states of the body, with the inlined rules in it
  int depth = 0;        // inlining depth of the body
};

class Builder {
 public:
  Builder(const ParsedGrammar& g, uint32_t root, const GrammarLimits& limits) : g_(g), root_(root), limits_(limits) {}

  Nfa build() {
    analyze();
    uint64_t total = 0;
    for (size_t r = 0; r < g_.rules.size(); ++r)
      if (info_[r].reachable && !info_[r].inline_ok) total = add_sat(total, info_[r].weight + 2);
    if (total > limits_.max_nfa_states)
      throw Exception(fmt::format(
          "the grammar expands to about {} automaton states, over the limit of {} (repetitions {{m,n}} copy "
          "their element n times)",
          total >= kSaturated ? std::string("2^62") : std::to_string(total), limits_.max_nfa_states));
    compiled_index(root_);
    for (size_t i = 0; i < nfa_.rules.size(); ++i) {
      Nfa::Rule& r = nfa_.rules[i];
      r.start = new_state();
      r.accept = new_state();
      const uint32_t ast = r.ast_rule;
      fragment(g_.rules[ast].body, nfa_.rules[i].start, nfa_.rules[i].accept, 0, 1);
    }
    finish();
    return std::move(nfa_);
  }

 private:
  // Reachability, recursion (Tarjan's SCCs), weights and which rules to inline.
  void analyze() {
    const size_t n = g_.rules.size();
    info_.assign(n, {});
    refs_.resize(n);
    for (size_t r = 0; r < n; ++r) collect_refs(g_.rules[r].body, refs_[r]);
    // Iterative Tarjan from the root: SCCs come out callees first.
    std::vector<int> index(n, -1), low(n, 0);
    std::vector<char> on_stack(n, 0);
    std::vector<uint32_t> stack;
    struct Frame {
      uint32_t rule;
      size_t next;
    };
    std::vector<Frame> dfs{{root_, 0}};
    std::vector<std::vector<uint32_t>> sccs;  // callees first
    int counter = 0;
    index[root_] = low[root_] = counter++;
    stack.push_back(root_);
    on_stack[root_] = 1;
    while (!dfs.empty()) {
      Frame& f = dfs.back();
      const uint32_t v = f.rule;
      if (f.next < refs_[v].size()) {
        const uint32_t w = refs_[v][f.next++];
        if (index[w] < 0) {
          index[w] = low[w] = counter++;
          stack.push_back(w);
          on_stack[w] = 1;
          dfs.push_back({w, 0});
        } else if (on_stack[w]) {
          low[v] = std::min(low[v], index[w]);
        }
        continue;
      }
      dfs.pop_back();
      if (!dfs.empty()) low[dfs.back().rule] = std::min(low[dfs.back().rule], low[v]);
      if (low[v] != index[v]) continue;
      std::vector<uint32_t> scc;
      uint32_t w;
      do {
        w = stack.back();
        stack.pop_back();
        on_stack[w] = 0;
        scc.push_back(w);
      } while (w != v);
      const bool self_ref = std::find(refs_[v].begin(), refs_[v].end(), v) != refs_[v].end();
      for (uint32_t r : scc) {
        info_[r].reachable = true;
        info_[r].recursive = scc.size() > 1 || self_ref;
      }
      sccs.push_back(std::move(scc));
    }
    // How many copies of each rule inlining everywhere would make.
    sites_.assign(n, 0);
    for (size_t r = 0; r < n; ++r)
      if (info_[r].reachable) count_sites(g_.rules[r].body, 1);
    for (const auto& scc : sccs)
      for (uint32_t r : scc) {
        int depth = 0;
        RuleInfo& ri = info_[r];
        ri.weight = weight(g_.rules[r].body, depth, 1);
        ri.depth = depth;
        // Inline small rules, and mid-sized ones used in few places: a rule used everywhere
        // (whitespace, scalars in any-value) is cheaper to call than to copy into every caller.
        const bool small = ri.weight <= kInlineAlwaysWeight;
        const bool few = ri.weight <= kInlineMaxWeight && mul_sat(ri.weight, sites_[r]) <= kInlineTotalBudget;
        ri.inline_ok = !ri.recursive && r != root_ && (small || few) && depth < kInlineMaxDepth;
      }
  }

  void count_sites(const Node& n, uint64_t mult) {
    if (n.kind == Node::Kind::ref) sites_[n.rule] = add_sat(sites_[n.rule], mult);
    if (n.kind == Node::Kind::repeat) mult = mul_sat(mult, n.max == kUnbounded ? uint64_t{n.min} + 1 : uint64_t{n.max});
    for (const Node& c : n.children) count_sites(c, mult);
  }

  bool inline_at(uint32_t rule, uint64_t mult) const {
    return info_[rule].inline_ok && mul_sat(info_[rule].weight, mult) <= kInlineSiteBudget;
  }

  // NFA states n costs at a site repeated `mult` times (an upper bound of what fragment adds).
  uint64_t weight(const Node& n, int& depth, uint64_t mult) const {
    switch (n.kind) {
      case Node::Kind::literal:
        return n.bytes.size() + 1;
      case Node::Kind::cclass: {
        std::vector<ByteSeq> seqs;
        for (const auto& [lo, hi] : n.ranges) utf8_sequences(lo, hi, seqs);
        uint64_t w = 2;
        for (const ByteSeq& s : seqs) w += static_cast<uint64_t>(s.n - 1);
        return w;
      }
      case Node::Kind::ref: {
        const RuleInfo& callee = info_[n.rule];
        if (!inline_at(n.rule, mult)) return 2;
        depth = std::max(depth, callee.depth + 1);
        return callee.weight;
      }
      case Node::Kind::seq:
      case Node::Kind::alt: {
        uint64_t w = 2;
        for (const Node& c : n.children) w = add_sat(w, 1 + weight(c, depth, mult));
        return w;
      }
      case Node::Kind::repeat: {
        const uint64_t copies = n.max == kUnbounded ? uint64_t{n.min} + 1 : uint64_t{n.max};
        return add_sat(2 + copies, mul_sat(weight(n.children[0], depth, mul_sat(mult, copies)), copies));
      }
    }
    return 0;
  }

  uint32_t compiled_index(uint32_t ast_rule) {
    auto it = compiled_.find(ast_rule);
    if (it != compiled_.end()) return it->second;
    const auto id = static_cast<uint32_t>(nfa_.rules.size());
    nfa_.rules.push_back({ast_rule, 0, 0});
    compiled_.emplace(ast_rule, id);
    return id;
  }

  uint32_t new_state() {
    if (nfa_.n_states >= limits_.max_nfa_states)
      throw Exception(fmt::format("the grammar expands to more than {} automaton states", limits_.max_nfa_states));
    return nfa_.n_states++;
  }
  void edge(uint32_t from, Nfa::Edge e) { raw_.push_back({from, e}); }
  void eps(uint32_t from, uint32_t to) { edge(from, {to, 0, Nfa::EdgeKind::eps, 0, 0}); }
  void byte_edge(uint32_t from, uint32_t to, uint8_t lo, uint8_t hi) {
    edge(from, {to, 0, Nfa::EdgeKind::bytes, lo, hi});
  }

  // Adds a path s -> e matching n. Never adds edges into s or out of e, so fragments can share
  // their ends (alternatives, sequences) without leaking into each other.
  void fragment(const Node& n, uint32_t s, uint32_t e, int inline_depth, uint64_t mult) {
    switch (n.kind) {
      case Node::Kind::literal: {
        if (n.bytes.empty()) return eps(s, e);
        uint32_t cur = s;
        for (size_t i = 0; i < n.bytes.size(); ++i) {
          const uint32_t to = i + 1 == n.bytes.size() ? e : new_state();
          const auto b = static_cast<uint8_t>(n.bytes[i]);
          byte_edge(cur, to, b, b);
          cur = to;
        }
        return;
      }
      case Node::Kind::cclass: {
        std::vector<ByteSeq> seqs;
        for (const auto& [lo, hi] : n.ranges) utf8_sequences(lo, hi, seqs);
        for (const ByteSeq& q : seqs) {
          uint32_t cur = s;
          for (int i = 0; i < q.n; ++i) {
            const uint32_t to = i + 1 == q.n ? e : new_state();
            byte_edge(cur, to, q.lo[i], q.hi[i]);
            cur = to;
          }
        }
        return;
      }
      case Node::Kind::ref: {
        if (inline_at(n.rule, mult) && inline_depth < kInlineMaxDepth)
          return fragment(g_.rules[n.rule].body, s, e, inline_depth + 1, mult);
        edge(s, {e, compiled_index(n.rule), Nfa::EdgeKind::call, 0, 0});
        return;
      }
      case Node::Kind::seq: {
        if (n.children.empty()) return eps(s, e);
        uint32_t cur = s;
        for (size_t i = 0; i < n.children.size(); ++i) {
          const uint32_t to = i + 1 == n.children.size() ? e : new_state();
          fragment(n.children[i], cur, to, inline_depth, mult);
          cur = to;
        }
        return;
      }
      case Node::Kind::alt: {
        // Each alternative gets its own entry state so that no alternative's edges touch s's
        // other alternatives (s may be a loop head of an enclosing fragment).
        for (const Node& c : n.children) {
          const uint32_t in = new_state();
          eps(s, in);
          fragment(c, in, e, inline_depth, mult);
        }
        return;
      }
      case Node::Kind::repeat: {
        const Node& child = n.children[0];
        const uint64_t copies = n.max == kUnbounded ? uint64_t{n.min} + 1 : uint64_t{n.max};
        const uint64_t child_mult = mul_sat(mult, copies);
        uint32_t cur = s;
        for (uint32_t i = 0; i < n.min; ++i) {
          const uint32_t to = new_state();
          fragment(child, cur, to, inline_depth, child_mult);
          cur = to;
        }
        if (n.max == kUnbounded) {
          const uint32_t head = new_state(), tail = new_state();
          eps(cur, head);
          fragment(child, head, tail, inline_depth, child_mult);
          eps(tail, head);
          eps(head, e);
          return;
        }
        for (uint32_t i = n.min; i < n.max; ++i) {
          const uint32_t to = new_state();
          eps(cur, e);
          fragment(child, cur, to, inline_depth, child_mult);
          cur = to;
        }
        eps(cur, e);
        return;
      }
    }
  }

  // Raw edges -> grouped by source (counting sort keeps their order).
  void finish() {
    nfa_.offsets.assign(nfa_.n_states + 1, 0);
    for (const auto& [from, e] : raw_) ++nfa_.offsets[from + 1];
    for (uint32_t i = 0; i < nfa_.n_states; ++i) nfa_.offsets[i + 1] += nfa_.offsets[i];
    nfa_.edges.resize(raw_.size());
    std::vector<uint32_t> fill(nfa_.offsets.begin(), nfa_.offsets.end() - 1);
    for (const auto& [from, e] : raw_) nfa_.edges[fill[from]++] = e;
    raw_.clear();
    raw_.shrink_to_fit();
  }

  const ParsedGrammar& g_;
  uint32_t root_;
  const GrammarLimits& limits_;
  std::vector<RuleInfo> info_;
  std::vector<std::vector<uint32_t>> refs_;
  std::vector<uint64_t> sites_;                      // [rules] references, times the repetitions around them
  std::unordered_map<uint32_t, uint32_t> compiled_;  // ast rule -> compiled rule
  std::vector<std::pair<uint32_t, Nfa::Edge>> raw_;
  Nfa nfa_;
};

}  // namespace

Expected<Nfa> build_nfa(const ParsedGrammar& parsed, uint32_t root, const GrammarLimits& limits) {
  return capture([&] { return Builder(parsed, root, limits).build(); });
}

}  // namespace pagoda::grammar
