// NFA -> checked, determinized rules. Steps:
//   1. productive rules (can derive some finite text) and nullable rules (can derive "")
//   2. left recursion: a rule that can call itself before consuming a byte is an error
//   3. byte classes: bytes no edge distinguishes share one column of the table
//   4. per rule, subset construction over bytes and calls, then trimming of states that can no
//      longer reach the rule's end, so every live configuration can still finish
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <unordered_map>

#include "grammar/grammar_rules.h"
#include "grammar/nfa.h"

namespace pagoda::grammar {
namespace {

using Edge = Nfa::Edge;
using EdgeKind = Nfa::EdgeKind;

// Which rules reach their accept state when bytes may (productive) or may not (nullable) be
// consumed, calls passing through rules already known to qualify. A worklist resumes a rule's
// search when a callee it waits on qualifies, so the cost is linear in the NFA.
std::vector<char> rules_reaching_accept(const Nfa& nfa, bool through_bytes) {
  const size_t n_rules = nfa.rules.size();
  std::vector<char> ok(n_rules, 0);
  std::vector<char> seen(nfa.n_states, 0);
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> waiting(n_rules);  // callee -> (rule, state)
  std::vector<std::pair<uint32_t, uint32_t>> work;
  for (uint32_t r = 0; r < n_rules; ++r) work.push_back({r, nfa.rules[r].start});
  while (!work.empty()) {
    const auto [r, s] = work.back();
    work.pop_back();
    if (seen[s]) continue;
    seen[s] = 1;
    if (s == nfa.rules[r].accept && !ok[r]) {
      ok[r] = 1;
      for (const auto& w : waiting[r]) work.push_back(w);
      waiting[r].clear();
    }
    for (const Edge& e : nfa.out(s)) {
      if (e.kind == EdgeKind::eps || (e.kind == EdgeKind::bytes && through_bytes)) {
        work.push_back({r, e.to});
      } else if (e.kind == EdgeKind::call) {
        if (ok[e.rule])
          work.push_back({r, e.to});
        else
          waiting[e.rule].push_back({r, e.to});
      }
    }
  }
  return ok;
}

const std::string& rule_name(const ParsedGrammar& g, const Nfa& nfa, uint32_t r) {
  return g.rules[nfa.rules[r].ast_rule].name;
}

// Rule a -> rule b when a may call b before consuming a byte; a cycle is left recursion.
void check_left_recursion(const ParsedGrammar& g, const Nfa& nfa, const std::vector<char>& nullable) {
  const size_t n_rules = nfa.rules.size();
  std::vector<std::vector<uint32_t>> left(n_rules);
  std::vector<uint32_t> mark(nfa.n_states, 0xFFFFFFFF);
  std::vector<uint32_t> work;
  for (uint32_t r = 0; r < n_rules; ++r) {
    work.assign(1, nfa.rules[r].start);
    while (!work.empty()) {
      const uint32_t s = work.back();
      work.pop_back();
      if (mark[s] == r) continue;
      mark[s] = r;
      for (const Edge& e : nfa.out(s)) {
        if (e.kind == EdgeKind::eps) work.push_back(e.to);
        if (e.kind != EdgeKind::call) continue;
        left[r].push_back(e.rule);
        if (nullable[e.rule]) work.push_back(e.to);
      }
    }
    std::sort(left[r].begin(), left[r].end());
    left[r].erase(std::unique(left[r].begin(), left[r].end()), left[r].end());
  }
  // Iterative DFS with colours; a grey successor closes a cycle.
  std::vector<uint8_t> colour(n_rules, 0);
  std::vector<std::pair<uint32_t, size_t>> stack;
  for (uint32_t start = 0; start < n_rules; ++start) {
    if (colour[start]) continue;
    stack.push_back({start, 0});
    colour[start] = 1;
    while (!stack.empty()) {
      auto& [v, i] = stack.back();
      if (i < left[v].size()) {
        const uint32_t w = left[v][i++];
        if (colour[w] == 0) {
          colour[w] = 1;
          stack.push_back({w, 0});
        } else if (colour[w] == 1) {
          std::string cycle;
          size_t k = 0;
          while (stack[k].first != w) ++k;
          for (; k < stack.size(); ++k) cycle += rule_name(g, nfa, stack[k].first) + " -> ";
          throw Exception(fmt::format("left recursion: {}{} (a rule may not call itself before consuming input)", cycle,
                                      rule_name(g, nfa, w)));
        }
        continue;
      }
      colour[v] = 2;
      stack.pop_back();
    }
  }
}

// Splits 0..255 into classes: a boundary wherever some byte edge starts or ends.
uint32_t byte_classes(const Nfa& nfa, std::array<uint8_t, 256>& cls) {
  std::array<bool, 257> boundary{};
  boundary[0] = true;
  for (const Edge& e : nfa.edges)
    if (e.kind == EdgeKind::bytes) {
      boundary[e.lo] = true;
      boundary[e.hi + 1] = true;
    }
  int c = -1;
  for (int b = 0; b < 256; ++b) {
    if (boundary[b]) ++c;
    cls[b] = static_cast<uint8_t>(c);
  }
  return static_cast<uint32_t>(c + 1);
}

struct SetHash {
  size_t operator()(const std::vector<uint32_t>& v) const {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ v.size();
    for (uint32_t x : v) h = (h ^ x) * 0x100000001B3ull;
    return static_cast<size_t>(h ^ (h >> 29));
  }
};

// One rule's DFA before it joins the global table.
struct LocalDfa {
  std::vector<uint32_t> next;                                     // [n, n_classes] local ids or kDead
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> calls;  // [n] (callee rule, local target)
  std::vector<char> accepting;
  uint32_t n = 0;
};

class DfaBuilder {
 public:
  DfaBuilder(const ParsedGrammar& g, const Nfa& nfa, const std::vector<char>& productive, const GrammarLimits& limits)
      : g_(g),
        nfa_(nfa),
        productive_(productive),
        limits_(limits),
        stamp_(nfa.n_states, 0),
        important_(nfa.n_states, 0) {
    // A DFA state is identified by its NFA states that consume, call or accept: states with only
    // epsilon edges change nothing, and leaving them out merges equivalent DFA states.
    for (uint32_t s = 0; s < nfa.n_states; ++s)
      for (const Edge& e : nfa.out(s))
        if (e.kind != EdgeKind::eps) important_[s] = 1;
    for (const Nfa::Rule& r : nfa.rules) important_[r.accept] = 1;
  }

  std::shared_ptr<CompiledGrammar> build(std::string gbnf) {
    auto out = std::make_shared<CompiledGrammar>();
    out->gbnf = std::move(gbnf);
    out->n_classes = byte_classes(nfa_, out->byte_class);
    n_classes_ = out->n_classes;
    byte_class_ = out->byte_class;
    const size_t n_rules = nfa_.rules.size();
    std::vector<uint32_t> start_of(n_rules, kDead);
    std::vector<std::pair<size_t, uint32_t>> pending_calls;  // (index in out->calls, callee rule)
    std::vector<uint32_t> queue{0};
    std::vector<char> queued(n_rules, 0);
    queued[0] = 1;
    for (size_t qi = 0; qi < queue.size(); ++qi) {
      const uint32_t r = queue[qi];
      LocalDfa d = determinize(r);
      const std::vector<uint32_t> id = trim(d, out->n_states);
      start_of[r] = id[0];
      out->rule_names.push_back(rule_name(g_, nfa_, r));
      const auto rule_idx = static_cast<uint32_t>(out->rule_names.size() - 1);
      for (uint32_t s = 0; s < d.n; ++s) {
        if (id[s] == kDead) continue;
        uint8_t flags = d.accepting[s] ? kAccepting : 0;
        for (uint32_t c = 0; c < n_classes_; ++c) {
          const uint32_t t = d.next[static_cast<size_t>(s) * n_classes_ + c];
          const uint32_t g = t == kDead ? kDead : id[t];
          out->next.push_back(g);
          if (g != kDead) flags |= kHasBytes;
        }
        out->call_begin.push_back(static_cast<uint32_t>(out->calls.size()));
        for (const auto& [callee, t] : d.calls[s]) {
          if (id[t] == kDead) continue;
          pending_calls.push_back({out->calls.size(), callee});
          out->calls.push_back({kDead, id[t]});
          flags |= kHasCalls;
          if (!queued[callee]) {
            queued[callee] = 1;
            queue.push_back(callee);
          }
        }
        out->flags.push_back(flags);
        out->rule_of_state.push_back(rule_idx);
      }
      out->n_states +=
          static_cast<uint32_t>(std::count_if(id.begin(), id.end(), [](uint32_t x) { return x != kDead; }));
    }
    out->call_begin.push_back(static_cast<uint32_t>(out->calls.size()));
    for (const auto& [i, callee] : pending_calls) out->calls[i].callee_start = start_of[callee];
    out->root_start = start_of[0];
    compute_self_loops(*out);
    return out;
  }

 private:
  // Sorted epsilon closure of `seeds`.
  std::vector<uint32_t> closure(const std::vector<uint32_t>& seeds) {
    ++generation_;
    std::vector<uint32_t> out, work(seeds);
    while (!work.empty()) {
      const uint32_t s = work.back();
      work.pop_back();
      if (stamp_[s] == generation_) continue;
      stamp_[s] = generation_;
      if (important_[s]) out.push_back(s);
      for (const Edge& e : nfa_.out(s))
        if (e.kind == EdgeKind::eps) work.push_back(e.to);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  void count_state() {
    ++total_states_;
    if (total_states_ > limits_.max_dfa_states ||
        total_states_ * n_classes_ * sizeof(uint32_t) > limits_.max_table_bytes)
      throw Exception(fmt::format(
          "the grammar needs more than {} automaton states after determinization",
          std::min<uint64_t>(limits_.max_dfa_states, limits_.max_table_bytes / (n_classes_ * sizeof(uint32_t)))));
  }

  LocalDfa determinize(uint32_t r) {
    LocalDfa d;
    std::unordered_map<std::vector<uint32_t>, uint32_t, SetHash> ids;
    std::vector<std::vector<uint32_t>> sets;
    auto intern = [&](std::vector<uint32_t> set) {
      auto it = ids.find(set);
      if (it != ids.end()) return it->second;
      count_state();
      const auto id = static_cast<uint32_t>(sets.size());
      ids.emplace(set, id);
      sets.push_back(std::move(set));
      return id;
    };
    // Seeds -> state: the same seed set recurs from many states and classes; skip its closure.
    std::unordered_map<std::vector<uint32_t>, uint32_t, SetHash> by_seeds;
    auto target = [&](std::vector<uint32_t>& seeds) {
      std::sort(seeds.begin(), seeds.end());
      seeds.erase(std::unique(seeds.begin(), seeds.end()), seeds.end());
      auto it = by_seeds.find(seeds);
      if (it != by_seeds.end()) return it->second;
      const uint32_t id = intern(closure(seeds));
      by_seeds.emplace(seeds, id);
      return id;
    };
    intern(closure({nfa_.rules[r].start}));
    std::vector<std::vector<uint32_t>> bucket(n_classes_);
    std::map<uint32_t, std::vector<uint32_t>> call_targets;
    for (uint32_t i = 0; i < sets.size(); ++i) {
      for (auto& b : bucket) b.clear();
      call_targets.clear();
      bool accepting = false;
      for (uint32_t s : sets[i]) {
        if (s == nfa_.rules[r].accept) accepting = true;
        for (const Edge& e : nfa_.out(s)) {
          if (e.kind == EdgeKind::bytes) {
            for (uint32_t c = byte_class_[e.lo]; c <= byte_class_[e.hi]; ++c) bucket[c].push_back(e.to);
          } else if (e.kind == EdgeKind::call && productive_[e.rule]) {
            call_targets[e.rule].push_back(e.to);
          }
        }
      }
      d.next.resize(static_cast<size_t>(i + 1) * n_classes_, kDead);
      for (uint32_t c = 0; c < n_classes_; ++c) {
        if (bucket[c].empty()) continue;
        // Classes often share their targets (a wide [^"] edge): reuse the previous class's set.
        if (c > 0 && bucket[c] == bucket[c - 1] && d.next[static_cast<size_t>(i) * n_classes_ + c - 1] != kDead) {
          d.next[static_cast<size_t>(i) * n_classes_ + c] = d.next[static_cast<size_t>(i) * n_classes_ + c - 1];
          continue;
        }
        d.next[static_cast<size_t>(i) * n_classes_ + c] = target(bucket[c]);
      }
      d.calls.emplace_back();
      for (auto& [callee, targets] : call_targets) d.calls[i].push_back({callee, target(targets)});
      d.accepting.push_back(accepting);
    }
    d.n = static_cast<uint32_t>(sets.size());
    d.next.resize(static_cast<size_t>(d.n) * n_classes_, kDead);
    return d;
  }

  // Global ids for the states that can still reach an accepting state (kDead for the others),
  // numbered from `base`. The start state is live for a productive rule.
  std::vector<uint32_t> trim(const LocalDfa& d, uint32_t base) {
    std::vector<std::vector<uint32_t>> preds(d.n);
    for (uint32_t s = 0; s < d.n; ++s) {
      for (uint32_t c = 0; c < n_classes_; ++c) {
        const uint32_t t = d.next[static_cast<size_t>(s) * n_classes_ + c];
        if (t != kDead && (preds[t].empty() || preds[t].back() != s)) preds[t].push_back(s);
      }
      for (const auto& [callee, t] : d.calls[s]) preds[t].push_back(s);
    }
    std::vector<char> live(d.n, 0);
    std::vector<uint32_t> work;
    for (uint32_t s = 0; s < d.n; ++s)
      if (d.accepting[s]) work.push_back(s);
    while (!work.empty()) {
      const uint32_t s = work.back();
      work.pop_back();
      if (live[s]) continue;
      live[s] = 1;
      for (uint32_t p : preds[s]) work.push_back(p);
    }
    std::vector<uint32_t> id(d.n, kDead);
    uint32_t next_id = base;
    for (uint32_t s = 0; s < d.n; ++s)
      if (live[s]) id[s] = next_id++;
    return id;
  }

  static void compute_self_loops(CompiledGrammar& g) {
    g.self_loop.assign(g.n_states, {0, 0, 0, 0});
    g.loops_non_ascii.assign(g.n_states, 0);
    std::vector<ByteSeq> non_ascii;
    utf8_sequences(0x80, 0xD7FF, non_ascii);
    utf8_sequences(0xE000, kMaxCodePoint, non_ascii);
    for (uint32_t s = 0; s < g.n_states; ++s) {
      if (g.flags[s] & (kAccepting | kHasCalls)) continue;
      for (int b = 0; b < 256; ++b)
        if (g.step(s, static_cast<uint8_t>(b)) == s) g.self_loop[s][b >> 6] |= uint64_t{1} << (b & 63);
      g.loops_non_ascii[s] = loops_every(g, s, non_ascii);
    }
  }

  // Does every byte string of seqs lead from s back to s through scan-only states?
  static bool loops_every(const CompiledGrammar& g, uint32_t s, const std::vector<ByteSeq>& seqs) {
    std::vector<uint32_t> cur, next;
    for (const ByteSeq& q : seqs) {
      cur.assign(1, s);
      for (int i = 0; i < q.n; ++i) {
        next.clear();
        for (uint32_t x : cur)
          for (int b = q.lo[i]; b <= q.hi[i]; ++b) {
            const uint32_t t = g.step(x, static_cast<uint8_t>(b));
            if (t == kDead) return false;
            if (i + 1 < q.n && (g.flags[t] & (kAccepting | kHasCalls))) return false;
            if (std::find(next.begin(), next.end(), t) == next.end()) next.push_back(t);
          }
        cur.swap(next);
      }
      if (cur.size() != 1 || cur[0] != s) return false;
    }
    return true;
  }

  const ParsedGrammar& g_;
  const Nfa& nfa_;
  const std::vector<char>& productive_;
  const GrammarLimits& limits_;
  std::vector<uint32_t> stamp_;
  std::vector<char> important_;  // [n_states]
  uint32_t generation_ = 0;
  uint32_t n_classes_ = 0;
  std::array<uint8_t, 256> byte_class_{};
  uint64_t total_states_ = 0;
};

}  // namespace

Expected<std::shared_ptr<const CompiledGrammar>> compile_grammar(const ParsedGrammar& parsed, std::string_view root,
                                                                 std::string gbnf, const GrammarLimits& limits) {
  return capture([&]() -> std::shared_ptr<const CompiledGrammar> {
    auto it = parsed.index.find(std::string(root));
    if (it == parsed.index.end() || !parsed.rules[it->second].defined)
      throw Exception(fmt::format("the grammar has no '{}' rule (the start rule)", root));
    auto nfa = build_nfa(parsed, it->second, limits);
    if (!nfa) throw Exception(nfa.error().message);
    const std::vector<char> nullable = rules_reaching_accept(*nfa, false);
    check_left_recursion(parsed, *nfa, nullable);
    const std::vector<char> productive = rules_reaching_accept(*nfa, true);
    if (!productive[0])
      throw Exception(
          fmt::format("rule '{}' cannot produce any finite text (every alternative recurses forever)", root));
    return DfaBuilder(parsed, *nfa, productive, limits).build(std::move(gbnf));
  });
}

}  // namespace pagoda::grammar
