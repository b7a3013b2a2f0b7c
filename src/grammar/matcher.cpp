// GrammarMatcher: the parse state of one sequence, advanced token by token.
#include "grammar/matcher_state.h"
#include "grammar/vocab_trie.h"

namespace pagoda::grammar {

bool GrammarMatcher::advance(std::string_view bytes) {
  State& st = *state_;
  if (st.finished) return bytes.empty();
  if (bytes.empty()) return true;
  auto& sc = st.scratch;
  sc.stacks.assign(st.stacks);
  std::vector<Config>& cur = sc.configs;
  cur.assign(st.configs.begin(), st.configs.end());
  if (sc.levels.empty()) sc.levels.resize(1);
  std::vector<Config>& next = sc.levels[0];
  bool complete = st.can_end;
  for (char ch : bytes) {
    sc.stacks.step(cur, static_cast<uint8_t>(ch), next);
    if (next.empty()) return false;
    complete = sc.stacks.expand(next);
    cur.swap(next);
  }
  std::swap(st.stacks, sc.stacks);
  st.configs.swap(cur);
  st.can_end = complete;
  st.stacks.compact(st.configs);
  return true;
}

GrammarMatcher::GrammarMatcher(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenVocabulary> vocab)
    : grammar_(std::move(grammar)), vocab_(std::move(vocab)), state_(std::make_unique<State>()) {
  const CompiledGrammar& g = grammar_->compiled();
  state_->stacks = Stacks(&g);
  state_->configs = {{g.root_start, kDead}};
  state_->can_end = state_->stacks.expand(state_->configs);
  state_->stacks.compact(state_->configs);
}

GrammarMatcher::GrammarMatcher(const GrammarMatcher& o)
    : grammar_(o.grammar_), vocab_(o.vocab_), state_(std::make_unique<State>(*o.state_)) {}

GrammarMatcher& GrammarMatcher::operator=(const GrammarMatcher& o) {
  if (this != &o) {
    grammar_ = o.grammar_;
    vocab_ = o.vocab_;
    state_ = std::make_unique<State>(*o.state_);
  }
  return *this;
}

GrammarMatcher::GrammarMatcher(GrammarMatcher&&) noexcept = default;
GrammarMatcher& GrammarMatcher::operator=(GrammarMatcher&&) noexcept = default;
GrammarMatcher::~GrammarMatcher() = default;

bool GrammarMatcher::accept_token(int32_t id) {
  const VocabTrie& t = vocab_->trie();
  if (id < 0 || id >= t.n_vocab) return false;
  switch (t.kind[static_cast<size_t>(id)]) {
    case TokenKind::never:
      return false;
    case TokenKind::eog:
      if (state_->finished || !state_->can_end) return false;
      state_->finished = true;
      state_->configs.clear();
      return true;
    case TokenKind::text:
      break;
  }
  return advance(t.piece(id));
}

bool GrammarMatcher::accept_text(std::string_view text) {
  return advance(text);
}

bool GrammarMatcher::can_end() const {
  return state_->finished || state_->can_end;
}

bool GrammarMatcher::must_end() const {
  return state_->finished || (state_->can_end && state_->configs.empty());
}

}  // namespace pagoda::grammar
