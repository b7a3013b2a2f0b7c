// TokenVocabulary: token bytes from the tokenizer, in a preorder trie (vocab_trie.h).
#include <algorithm>
#include <numeric>

#include "grammar/grammar.h"
#include "grammar/utf8.h"
#include "grammar/vocab_trie.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::grammar {
namespace {

// Subtrees at least this big get a byte summary (smaller ones are cheaper to walk).
constexpr uint32_t kSummaryMinNodes = 4;

}  // namespace

VocabTrie build_vocab_trie(const std::vector<std::string>& pieces, std::vector<TokenKind> kinds) {
  VocabTrie t;
  t.n_vocab = static_cast<int32_t>(pieces.size());
  t.kind = std::move(kinds);
  t.piece_begin.reserve(pieces.size() + 1);
  for (size_t id = 0; id < pieces.size(); ++id) {
    if (t.kind[id] == TokenKind::text && pieces[id].empty()) t.kind[id] = TokenKind::never;
    if (t.kind[id] == TokenKind::eog) t.eog.push_back(static_cast<int32_t>(id));
    t.piece_begin.push_back(static_cast<uint32_t>(t.pieces.size()));
    if (t.kind[id] == TokenKind::text) t.pieces += pieces[id];
  }
  t.piece_begin.push_back(static_cast<uint32_t>(t.pieces.size()));

  // Sorted pieces give the trie in preorder: a prefix sorts before its extensions, and
  // std::string_view compares bytes as unsigned.
  std::vector<int32_t> order;
  for (int32_t id = 0; id < t.n_vocab; ++id)
    if (t.kind[static_cast<size_t>(id)] == TokenKind::text) order.push_back(id);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return t.piece(a) < t.piece(b); });

  std::vector<uint32_t> n_tokens{0};  // per node
  std::vector<uint32_t> depth_of{0};  // per node: bytes from the root
  t.nodes.push_back({});
  std::vector<uint32_t> path{0};  // path[d] = node at depth d of the current piece
  std::string_view prev;
  for (int32_t id : order) {
    const std::string_view p = t.piece(id);
    size_t common = 0;
    while (common < p.size() && common < prev.size() && p[common] == prev[common]) ++common;
    while (path.size() > common + 1) {
      t.nodes[path.back()].subtree_end = static_cast<uint32_t>(t.nodes.size());
      path.pop_back();
    }
    for (size_t d = common; d < p.size(); ++d) {
      TrieNode n;
      n.byte = static_cast<uint8_t>(p[d]);
      t.nodes.push_back(n);
      n_tokens.push_back(0);
      depth_of.push_back(static_cast<uint32_t>(d + 1));
      path.push_back(static_cast<uint32_t>(t.nodes.size() - 1));
    }
    ++n_tokens[path.back()];
    t.tok_ids.push_back(id);
    prev = p;
  }
  while (!path.empty()) {
    t.nodes[path.back()].subtree_end = static_cast<uint32_t>(t.nodes.size());
    path.pop_back();
  }
  // tok_ids is already grouped by node in node order; record where each node's group starts.
  uint32_t begin = 0;
  for (size_t i = 0; i < t.nodes.size(); ++i) {
    t.nodes[i].tok_begin = begin;
    begin += n_tokens[i];
  }
  TrieNode sentinel;
  sentinel.tok_begin = begin;
  sentinel.subtree_end = static_cast<uint32_t>(t.nodes.size() + 1);
  t.nodes.push_back(sentinel);

  const uint32_t n_nodes = t.n_nodes();
  t.summary_of.assign(n_nodes, 0xFFFFFFFF);
  for (uint32_t i = 0; i < n_nodes; ++i) {
    if (t.nodes[i].subtree_end - i < kSummaryMinNodes) continue;
    std::array<uint64_t, 4> bytes{0, 0, 0, 0};
    for (uint32_t j = i + 1; j < t.nodes[i].subtree_end; ++j)
      bytes[t.nodes[j].byte >> 6] |= uint64_t{1} << (t.nodes[j].byte & 63);
    t.summary_of[i] = static_cast<uint32_t>(t.subtree_bytes.size());
    t.subtree_bytes.push_back(bytes);
    // The node's depth is its tokens' common prefix length; check the rest of each token.
    bool utf8 = true;
    const uint32_t last = t.nodes[t.nodes[i].subtree_end].tok_begin;
    for (uint32_t k = t.nodes[i + 1].tok_begin; k < last && utf8; ++k) {
      const std::string_view rest = t.piece(t.tok_ids[k]).substr(depth_of[i]);
      for (size_t pos = 0; pos < rest.size() && utf8;) {
        const auto [cp, n] = decode_utf8(rest, pos);
        utf8 = n > 0;
        pos += static_cast<size_t>(n);
      }
    }
    t.subtree_utf8.push_back(utf8 ? 1 : 0);
  }
  return t;
}

TokenVocabulary::TokenVocabulary(std::shared_ptr<const VocabTrie> trie) : trie_(std::move(trie)) {}

std::shared_ptr<const TokenVocabulary> TokenVocabulary::build(const tokenizer::Tokenizer& tok) {
  const int32_t n = tok.n_vocab();
  std::vector<std::string> pieces(static_cast<size_t>(n));
  std::vector<TokenKind> kinds(static_cast<size_t>(n), TokenKind::text);
  for (int32_t id = 0; id < n; ++id) {
    const tokenizer::TokenAttr a = tok.attr(id);
    // Control tokens (<|im_start|>...), reserved slots and <unk> are not text a grammar can
    // describe; user-defined and byte tokens are.
    if (a == tokenizer::TokenAttr::control || a == tokenizer::TokenAttr::unused || a == tokenizer::TokenAttr::unknown)
      kinds[static_cast<size_t>(id)] = TokenKind::never;
    else
      pieces[static_cast<size_t>(id)] = tok.token_to_piece(id, true);
  }
  for (int32_t id : tok.eog_ids())
    if (id >= 0 && id < n) kinds[static_cast<size_t>(id)] = TokenKind::eog;
  return std::make_shared<TokenVocabulary>(
      std::make_shared<const VocabTrie>(build_vocab_trie(pieces, std::move(kinds))));
}

std::shared_ptr<const TokenVocabulary> TokenVocabulary::from_pieces(std::vector<std::string> pieces,
                                                                    std::vector<int32_t> eog) {
  std::vector<TokenKind> kinds(pieces.size(), TokenKind::text);
  for (int32_t id : eog)
    if (id >= 0 && static_cast<size_t>(id) < pieces.size()) kinds[static_cast<size_t>(id)] = TokenKind::eog;
  return std::make_shared<TokenVocabulary>(
      std::make_shared<const VocabTrie>(build_vocab_trie(pieces, std::move(kinds))));
}

int32_t TokenVocabulary::n_vocab() const {
  return trie_->n_vocab;
}

bool TokenVocabulary::is_eog(int32_t id) const {
  return id >= 0 && id < trie_->n_vocab && trie_->kind[static_cast<size_t>(id)] == TokenKind::eog;
}

}  // namespace pagoda::grammar
