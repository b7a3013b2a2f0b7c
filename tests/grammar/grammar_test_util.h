#pragma once
// Helpers for grammar tests: a small vocabulary with split UTF-8 and JSON-ish pieces, string
// matching, brute-force allowed sets and random constrained walks.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "grammar/grammar.h"

namespace pagoda::test {

// Printable ASCII, \n \t, multi-byte characters whole and split into bytes, JSON-ish pieces,
// one empty (never matching) piece and one EOG id (the last).
inline std::vector<std::string> small_pieces() {
  std::vector<std::string> p;
  for (int c = 0x20; c < 0x7F; ++c) p.push_back(std::string(1, static_cast<char>(c)));
  for (const char* s :
       {"\n",       "\t",       "é",    "\xC3", "\xA9",   "日本",      "\xE6", "\x97\xA5", "\xE6\x97", "\xA5",  "😀",
        "\xF0\x9F", "\x98\x80", "\"",   "\":",  "\": \"", "{\"",       "\"}",  "\",",      "\", \"",   "true",  "false",
        "null",     "{}",       "[]",   "12",   "0.5",    "-1",        "ab",   "the",      " the",     "\\n",   "\\u00",
        "\\\"",     "  ",       "\n  ", "{\n",  "}\n",    "},",        "],",   "\"]",      "e+",       "2024-", "00",
        ":",        "T1",       "aé",   "é\"",  "\"name", "\"age\": ", "",     "<eog>"})
    p.push_back(s);
  return p;
}

inline std::shared_ptr<const grammar::TokenVocabulary> small_vocab() {
  auto p = small_pieces();
  const auto eog = static_cast<int32_t>(p.size() - 1);
  return grammar::TokenVocabulary::from_pieces(std::move(p), {eog});
}

inline std::shared_ptr<const grammar::Grammar> gbnf(const std::string& text) {
  auto g = grammar::Grammar::from_gbnf(text);
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().message) << "\n" << text;
  return g.ok() ? *g : nullptr;
}

// Does the grammar accept exactly this text (as one piece of input)?
inline bool matches(const std::shared_ptr<const grammar::Grammar>& g, const std::string& text) {
  static const auto vocab = small_vocab();
  grammar::GrammarMatcher m(g, vocab);
  return m.accept_text(text) && m.can_end();
}

// Reference for fill_allowed: try every token on a copy.
inline std::vector<uint8_t> brute_force_allowed(const grammar::GrammarMatcher& m, int32_t n_vocab) {
  std::vector<uint8_t> allowed(static_cast<size_t>(n_vocab), 0);
  for (int32_t id = 0; id < n_vocab; ++id) {
    grammar::GrammarMatcher copy = m;
    allowed[static_cast<size_t>(id)] = copy.accept_token(id) ? 1 : 0;
  }
  return allowed;
}

struct Walk {
  std::string text;
  bool completed = false;  // ended where the grammar may end
  bool dead_end = false;   // no token was allowed before the grammar could end
  int steps = 0;
};

// Samples allowed tokens at random until the grammar must end (or may end, sometimes), with a
// growing preference for closing punctuation so that walks finish. EOG ids end the walk.
inline Walk random_walk(grammar::GrammarMatcher& m, const std::vector<std::string>& pieces, std::mt19937& rng,
                        int max_steps = 4000) {
  Walk w;
  std::vector<uint8_t> allowed;
  std::vector<int32_t> ids, closing;
  for (; w.steps < max_steps; ++w.steps) {
    if (m.must_end()) break;
    if (m.can_end() && rng() % 4 == 0) break;
    m.fill_allowed(allowed);
    ids.clear();
    closing.clear();
    for (size_t i = 0; i < allowed.size(); ++i) {
      if (!allowed[i]) continue;
      ids.push_back(static_cast<int32_t>(i));
      if (pieces[i].find_first_of("\"]}") != std::string::npos) closing.push_back(static_cast<int32_t>(i));
    }
    if (ids.empty()) {
      w.dead_end = true;
      break;
    }
    // Late in a long walk, prefer tokens after which the text is complete (one-token lookahead).
    if (w.steps > 200 && rng() % 2 == 0) {
      std::vector<int32_t> finishing;
      for (int32_t id : ids) {
        grammar::GrammarMatcher probe = m;
        if (probe.accept_token(id) && probe.can_end() && pieces[static_cast<size_t>(id)] != "<eog>")
          finishing.push_back(id);
      }
      if (!finishing.empty()) closing = finishing;
    }
    const double bias = 0.2 + 0.8 * w.steps / max_steps;
    const auto& from = (!closing.empty() && std::uniform_real_distribution<double>(0, 1)(rng) < bias) ? closing : ids;
    const int32_t id = from[rng() % from.size()];
    EXPECT_TRUE(m.accept_token(id)) << "allowed token " << id << " rejected";
    if (m.must_end() && pieces[static_cast<size_t>(id)] == "<eog>") break;
    w.text += pieces[static_cast<size_t>(id)];
  }
  w.completed = m.can_end();
  return w;
}

}  // namespace pagoda::test
