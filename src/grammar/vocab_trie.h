#pragma once
// Every matchable token's bytes in one trie, laid out in preorder so that a node's subtree is a
// contiguous range of nodes, and the tokens ending in that subtree a contiguous range of ids.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pagoda::grammar {

struct TrieNode {
  uint32_t subtree_end = 0;  // one past the last node of this node's subtree
  uint32_t tok_begin = 0;    // first entry of VocabTrie::tok_ids for tokens ending here
  uint8_t byte = 0;          // the edge from the parent (unused for the root)
};

enum class TokenKind : uint8_t {
  never,  // control, unused, unknown or empty: grammar text never contains it
  text,   // its piece is matched byte by byte
  eog,    // end of generation: allowed exactly when the grammar may end
};

struct VocabTrie {
  int32_t n_vocab = 0;
  // [n_nodes + 1]: node 0 is the root (empty prefix); the last is a sentinel holding the end of
  // tok_ids. Children of node i: i + 1, then each next child at the previous one's subtree_end.
  std::vector<TrieNode> nodes;
  std::vector<int32_t> tok_ids;       // token ids, grouped by the node they end at, in node order
  std::vector<TokenKind> kind;        // [n_vocab]
  std::vector<uint32_t> piece_begin;  // [n_vocab + 1] into pieces
  std::string pieces;                 // every text token's bytes
  std::vector<int32_t> eog;           // end-of-generation ids
  // Nodes whose subtree is large enough for a one-check accept (fill_allowed): an index into
  // subtree_bytes, or 0xFFFFFFFF.
  std::vector<uint32_t> summary_of;                    // [n_nodes]
  std::vector<std::array<uint64_t, 4>> subtree_bytes;  // bytes on the edges below such a node
  // Whether every token below such a node continues with well-formed UTF-8 characters only
  // (then a state that loops on every non-ASCII character accepts all of them).
  std::vector<uint8_t> subtree_utf8;

  uint32_t n_nodes() const { return static_cast<uint32_t>(nodes.size() - 1); }
  std::string_view piece(int32_t id) const {
    return std::string_view(pieces).substr(
        piece_begin[static_cast<size_t>(id)],
        piece_begin[static_cast<size_t>(id) + 1] - piece_begin[static_cast<size_t>(id)]);
  }
};

// Builds the trie from pieces[id] (bytes) and kinds[id].
VocabTrie build_vocab_trie(const std::vector<std::string>& pieces, std::vector<TokenKind> kinds);

}  // namespace pagoda::grammar
