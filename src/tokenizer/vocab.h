#pragma once
// Internal: the loaded vocabulary shared by the SPM, BPE and WordPiece encoders.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::tokenizer {

// llama.cpp's token attribute bits (a token can be e.g. control + unused).
enum AttrBits : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1 << 0,
  kAttrUnused = 1 << 1,
  kAttrNormal = 1 << 2,
  kAttrControl = 1 << 3,
  kAttrUserDefined = 1 << 4,
  kAttrByte = 1 << 5,
  kAttrLstrip = 1 << 7,  // spaces before the token's text are dropped when it is matched
  kAttrRstrip = 1 << 8,  // spaces after it are dropped
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

struct Tokenizer::Impl {
  struct Token {
    std::string text;
    float score = 0.0f;
    uint32_t attr = kAttrNormal;
  };

  VocabKind kind = VocabKind::spm;
  std::vector<Token> tokens;           // [n_vocab]
  StringMap text_to_id;                // token text -> id
  StringMap merge_rank;                // "left right" -> rank (BPE)
  std::vector<std::string> pieces;     // [n_vocab] token_to_piece(id, true), precomputed
  std::vector<int32_t> special_tokens; // control/user-defined/unknown ids, longest text first
  std::vector<int32_t> eog;            // sorted ids that end generation
  std::unique_ptr<RegexSplitter> splitter;  // BPE only
  PreTokenizerConfig pre;

  int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, sep = -1, pad = -1, mask = -1;
  bool add_bos = false, add_eos = false, add_sep = false, add_space_prefix = false;
  bool lowercase = true, strip_accents = true;  // WordPiece normaliser
  size_t max_token_len = 0;                     // bytes
  // SPM: no token has "x▁" inside (x not ▁), so no merge crosses the start of a
  // ▁-word and words can be encoded one by one (and memoised) with identical results.
  bool spm_words_independent = false;

  int32_t find(std::string_view text) const {
    auto it = text_to_id.find(text);
    return it == text_to_id.end() ? -1 : it->second;
  }
  bool has(int32_t id) const { return id >= 0 && static_cast<size_t>(id) < tokens.size(); }
  uint32_t attr(int32_t id) const { return tokens[id].attr; }
  // Rank of merging `left` and `right`, or -1.
  int merge(std::string_view left, std::string_view right) const;
  // Byte-fallback token of a byte (SPM <0xXX>, byte-level BPE code point), or -1.
  int32_t byte_token(uint8_t byte) const;
  // The bytes a token stands for, ignoring render rules (used to fill `pieces`).
  std::string compute_piece(int32_t id) const;
};

// Per-call memo of word -> ids, so repeated words are merged once.
using WordCache = std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>>;

// Encoders for one fragment of raw text (no special tokens inside), appending ids.
// `text` for SPM is already space-prefixed and ▁-escaped.
void spm_encode(const Tokenizer::Impl& vocab, std::string_view text, std::vector<int32_t>& out,
                WordCache& cache);
void bpe_encode(const Tokenizer::Impl& vocab, std::string_view text, std::vector<int32_t>& out,
                WordCache& cache);
void wpm_encode(const Tokenizer::Impl& vocab, std::string_view text, std::vector<int32_t>& out);

}  // namespace pagoda::tokenizer
