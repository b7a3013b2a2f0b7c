// Byte-level BPE encoding (llama.cpp's llm_tokenizer_bpe): pre-tokenize into
// words, map each word's bytes to GPT-2 code points, then merge adjacent symbols
// lowest merge rank first.
#include <queue>

#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace pagoda::tokenizer {
namespace {

struct Symbol {
  int prev, next;
  size_t offset, n;  // bytes in the word; n = 0 once merged away
};

struct Bigram {
  int left, right;
  int rank;
  size_t size;
};

struct BigramOrder {  // lowest rank first; equal ranks: leftmost first
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

class WordMerger {
 public:
  explicit WordMerger(const Tokenizer::Impl& vocab) : vocab_(vocab) {}

  // Appends the ids of one (already byte-encoded) word.
  void encode(std::string_view word, std::vector<int32_t>& out) {
    symbols_.clear();
    queue_ = {};
    word_ = word;
    size_t offset = 0;
    if (vocab_.pre.ignore_merges && vocab_.find(word) >= 0) {
      symbols_.push_back({-1, -1, 0, word.size()});
      offset = word.size();
    }
    while (offset < word.size()) {
      const size_t n = std::min(utf8_sequence_length(static_cast<uint8_t>(word[offset])),
                                word.size() - offset);
      const int index = static_cast<int>(symbols_.size());
      symbols_.push_back({index - 1, offset + n == word.size() ? -1 : index + 1, offset, n});
      offset += n;
    }
    for (int i = 1; i < static_cast<int>(symbols_.size()); ++i) add_bigram(i - 1, i);

    while (!queue_.empty()) {
      const Bigram b = queue_.top();
      queue_.pop();
      Symbol& left = symbols_[b.left];
      Symbol& right = symbols_[b.right];
      if (left.n == 0 || right.n == 0 || left.n + right.n != b.size) continue;  // outdated
      left.n += right.n;
      right.n = 0;
      left.next = right.next;
      if (right.next >= 0) symbols_[right.next].prev = b.left;
      add_bigram(left.prev, b.left);
      add_bigram(b.left, left.next);
    }

    for (const Symbol& s : symbols_) {
      if (s.n == 0) continue;
      const std::string_view text = word_.substr(s.offset, s.n);
      if (const int32_t id = vocab_.find(text); id >= 0) {
        out.push_back(id);
        continue;
      }
      // No such token: llama.cpp tries each byte of the piece as a token of its
      // own (byte-encoded vocabularies) or as <0xXX> (raw UTF-8 ones).
      for (char c : text) {
        int32_t id = -1;
        if (vocab_.pre.byte_encode) {
          id = vocab_.find(std::string_view(&c, 1));
        } else {
          id = vocab_.byte_token(static_cast<uint8_t>(c));
        }
        if (id >= 0) out.push_back(id);
      }
    }
  }

 private:
  void add_bigram(int left, int right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols_[left];
    const Symbol& r = symbols_[right];
    const int rank = vocab_.merge(word_.substr(l.offset, l.n), word_.substr(r.offset, r.n));
    if (rank < 0) return;
    queue_.push({left, right, rank, l.n + r.n});
  }

  const Tokenizer::Impl& vocab_;
  std::string_view word_;
  std::vector<Symbol> symbols_;
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue_;
};

}  // namespace

void bpe_encode(const Tokenizer::Impl& vocab, std::string_view text, std::vector<int32_t>& out,
                WordCache& cache) {
  const std::vector<uint32_t> cpts = utf8_to_codepoints(text);
  const std::vector<size_t> lengths = vocab.splitter->split(cpts);
  WordMerger merger(vocab);
  std::string utf8, word;
  size_t start = 0;
  for (size_t len : lengths) {
    // Words are rebuilt from code points, so invalid input bytes arrive as U+FFFD.
    utf8.clear();
    for (size_t i = start; i < start + len; ++i) append_utf8(utf8, cpts[i]);
    start += len;
    if (utf8.empty()) continue;
    if (vocab.pre.byte_encode) {
      word.clear();
      for (char c : utf8) append_utf8(word, byte_to_codepoint(static_cast<uint8_t>(c)));
    } else {
      word = utf8;
    }
    if (auto it = cache.find(word); it != cache.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      continue;
    }
    const size_t first = out.size();
    merger.encode(word, out);
    cache.emplace(word, std::vector<int32_t>(out.begin() + first, out.end()));
  }
}

}  // namespace pagoda::tokenizer
