// SentencePiece-style encoding (llama.cpp's llm_tokenizer_spm): start from single
// UTF-8 characters, repeatedly merge the adjacent pair whose concatenation is the
// highest-scoring token, then emit tokens, re-splitting along the recorded merges
// and falling back to <0xXX> byte tokens for text that is no token.
#include <queue>

#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace pagoda::tokenizer {
namespace {

struct Symbol {
  int prev, next;  // neighbours in the live chain, -1 at the ends
  size_t offset;   // into the text
  size_t n;        // bytes; 0 once merged into the left neighbour
};

struct Bigram {
  int left, right;
  float score;
  size_t size;  // bytes of left + right when queued
};

struct BigramOrder {  // best score first; equal scores: leftmost first
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

struct PairHash {
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class SpmSession {
 public:
  SpmSession(const Tokenizer::Impl& vocab, std::string_view text) : vocab_(vocab), text_(text) {}

  void encode(std::vector<int32_t>& out) {
    for (size_t off = 0; off < text_.size();) {
      const size_t n = std::min(utf8_sequence_length(static_cast<uint8_t>(text_[off])),
                                text_.size() - off);
      const int index = static_cast<int>(symbols_.size());
      symbols_.push_back({index - 1, off + n == text_.size() ? -1 : index + 1, off, n});
      off += n;
    }
    for (int i = 1; i < static_cast<int>(symbols_.size()); ++i) try_add_bigram(i - 1, i);

    while (!queue_.empty()) {
      const Bigram b = queue_.top();
      queue_.pop();
      Symbol& left = symbols_[b.left];
      Symbol& right = symbols_[b.right];
      if (left.n == 0 || right.n == 0 || left.n + right.n != b.size) continue;  // stale
      left.n += right.n;
      right.n = 0;
      left.next = right.next;
      if (right.next >= 0) symbols_[right.next].prev = b.left;
      try_add_bigram(left.prev, b.left);
      try_add_bigram(b.left, left.next);
    }
    if (symbols_.empty()) return;
    for (int i = 0; i != -1; i = symbols_[i].next) resegment(symbols_[i], out, 0);
  }

 private:
  std::string_view text_of(const Symbol& s) const { return text_.substr(s.offset, s.n); }

  void try_add_bigram(int left, int right) {
    if (left < 0 || right < 0) return;
    const std::string_view merged = text_.substr(symbols_[left].offset,
                                                 symbols_[left].n + symbols_[right].n);
    const int32_t id = vocab_.find(merged);
    if (id < 0) return;
    queue_.push({left, right, vocab_.tokens[id].score, merged.size()});
    rev_merge_[merged] = {left, right};
  }

  void resegment(const Symbol& s, std::vector<int32_t>& out, int depth) {
    const std::string_view text = text_of(s);
    if (const int32_t id = vocab_.find(text); id >= 0) {
      out.push_back(id);
      return;
    }
    auto it = rev_merge_.find(text);
    // The depth guard only matters for malformed UTF-8 that could make a
    // recorded pair refer back to itself; real merges are shallow.
    if (it == rev_merge_.end() || depth > 64) {
      for (char c : text) {
        const int32_t id = vocab_.byte_token(static_cast<uint8_t>(c));
        if (id >= 0) {
          out.push_back(id);
        } else if (vocab_.unk >= 0) {
          out.push_back(vocab_.unk);
        }
      }
      return;
    }
    const auto [l, r] = it->second;
    resegment(symbols_[l], out, depth + 1);
    resegment(symbols_[r], out, depth + 1);
  }

  const Tokenizer::Impl& vocab_;
  std::string_view text_;
  std::vector<Symbol> symbols_;
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue_;
  std::unordered_map<std::string_view, std::pair<int, int>, PairHash> rev_merge_;
};

}  // namespace

void spm_encode(const Tokenizer::Impl& vocab, std::string_view text, std::vector<int32_t>& out,
                WordCache& cache) {
  if (!vocab.spm_words_independent) {
    SpmSession(vocab, text).encode(out);  // merges may cross words: one session for all
    return;
  }
  // Cut before every ▁ symbol that follows a non-▁ symbol; symbols are stepped
  // exactly as the session splits them, so invalid UTF-8 is cut identically.
  static constexpr std::string_view kSpace = "\xE2\x96\x81";
  auto is_space_at = [&](size_t i) { return text.compare(i, kSpace.size(), kSpace) == 0; };
  size_t start = 0;
  while (start < text.size()) {
    size_t end = start;
    bool prev_space = false;
    while (end < text.size()) {
      const bool space = is_space_at(end);
      if (space && !prev_space && end > start) break;
      prev_space = space;
      end += std::min(utf8_sequence_length(static_cast<uint8_t>(text[end])), text.size() - end);
    }
    const std::string_view word = text.substr(start, end - start);
    if (auto it = cache.find(word); it != cache.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
    } else {
      const size_t first = out.size();
      SpmSession(vocab, word).encode(out);
      cache.emplace(std::string(word), std::vector<int32_t>(out.begin() + first, out.end()));
    }
    start = end;
  }
}

}  // namespace pagoda::tokenizer
