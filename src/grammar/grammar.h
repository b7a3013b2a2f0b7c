#pragma once
// Constrained decoding: a grammar over UTF-8 text, compiled once per request, and a
// matcher that says which vocabulary tokens keep the output valid.
//
//   Grammar         immutable; from GBNF text or from a JSON Schema (shared by a request's n samples)
//   TokenVocabulary immutable; every token's bytes in a trie, built once per model
//   GrammarMatcher  one per sequence; copyable (a fork copies the parse state)
//
// GBNF is llama.cpp's grammar syntax: `name ::= alternatives`, "literals", [classes],
// [^negated], ., ( groups ), * + ? {m} {m,} {m,n}, # comments. The start rule is `root`.
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"

namespace pagoda::tokenizer {
class Tokenizer;
}

namespace pagoda::grammar {

struct CompiledGrammar;  // rules as byte-level DFAs with call edges (grammar_rules.h)

class Grammar {
 public:
  // Parses GBNF; an Error gives line:column and what was expected. Rejects undefined rules,
  // left recursion, and grammars over the size limits (rules, nesting, repetition expansion).
  static Expected<std::shared_ptr<const Grammar>> from_gbnf(std::string_view text, std::string_view root = "root");
  // JSON Schema → grammar for one JSON value valid against it (whitespace allowed as JSON does,
  // bounded so generation cannot loop on spaces). An unsupported feature is an Error naming it
  // (e.g. "unsupported JSON Schema keyword 'patternProperties'").
  static Expected<std::shared_ptr<const Grammar>> from_json_schema(const nlohmann::json& schema);
  // The same, keeping the schema's key order: nlohmann::json sorts object keys, so with the
  // overload above properties appear in alphabetical order; here in the order they were parsed.
  static Expected<std::shared_ptr<const Grammar>> from_json_schema_ordered(const nlohmann::ordered_json& schema);
  // Any JSON object (response_format json_object).
  static std::shared_ptr<const Grammar> any_json_object();

  // The grammar as GBNF text (for logs, tests and --grammar-file round trips).
  const std::string& gbnf() const;
  const CompiledGrammar& compiled() const { return *compiled_; }

  explicit Grammar(std::shared_ptr<const CompiledGrammar> compiled);

 private:
  std::shared_ptr<const CompiledGrammar> compiled_;
};

// JSON Schema → GBNF text (what from_json_schema compiles).
Expected<std::string> json_schema_to_gbnf(const nlohmann::json& schema);
Expected<std::string> json_schema_to_gbnf_ordered(const nlohmann::ordered_json& schema);

struct VocabTrie;  // token bytes in a trie (vocab_trie.h)

class TokenVocabulary {
 public:
  // Every token's bytes (Tokenizer::token_to_piece). Control and unused tokens never match
  // grammar text; end-of-generation ids are allowed exactly when the grammar may end.
  static std::shared_ptr<const TokenVocabulary> build(const tokenizer::Tokenizer& tok);
  // From plain pieces (tests): pieces[id] = bytes, eog = end-of-generation ids; an empty
  // piece never matches.
  static std::shared_ptr<const TokenVocabulary> from_pieces(std::vector<std::string> pieces, std::vector<int32_t> eog);
  int32_t n_vocab() const;
  const VocabTrie& trie() const { return *trie_; }
  bool is_eog(int32_t id) const;

  explicit TokenVocabulary(std::shared_ptr<const VocabTrie> trie);

 private:
  std::shared_ptr<const VocabTrie> trie_;
};

class GrammarMatcher {
 public:
  GrammarMatcher(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenVocabulary> vocab);
  GrammarMatcher(const GrammarMatcher&);
  GrammarMatcher& operator=(const GrammarMatcher&);
  GrammarMatcher(GrammarMatcher&&) noexcept;
  GrammarMatcher& operator=(GrammarMatcher&&) noexcept;
  ~GrammarMatcher();

  // allowed[id] = 1 when token id may come next, else 0; allowed is resized to n_vocab.
  // EOG ids are allowed only when can_end(). Cost: one walk of the vocabulary trie pruned by
  // the grammar (far less than n_vocab × token length). Uses scratch memory inside the matcher:
  // like every method here, call it from one thread at a time per matcher.
  void fill_allowed(std::vector<uint8_t>& allowed) const;
  // Advances over a token's bytes; false (state unchanged) when the token is not allowed.
  // An EOG id is accepted when can_end() and leaves the matcher finished.
  bool accept_token(int32_t id);
  // Advances over text (e.g. a forced prefix); false (state unchanged) when invalid.
  bool accept_text(std::string_view text);
  // The text so far is a complete sentence of the grammar.
  bool can_end() const;
  // Complete and nothing may follow: the only valid continuation is to stop.
  bool must_end() const;

 private:
  struct State;
  // Advances over bytes; unchanged and false when some byte is rejected.
  bool advance(std::string_view bytes);
  std::shared_ptr<const Grammar> grammar_;
  std::shared_ptr<const TokenVocabulary> vocab_;
  std::unique_ptr<State> state_;
};

}  // namespace pagoda::grammar
