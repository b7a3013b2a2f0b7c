// WordPiece encoding as llama.cpp does it for BERT vocabularies: normalise
// (NFD first code point, drop accents, lowercase), split on white space and
// around punctuation / CJK, then greedy longest-match per word with a leading ▁
// (the GGUF converter stored word-initial pieces as "▁x" and "##x" as "x").
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace pagoda::tokenizer {
namespace {

bool is_chinese_char(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) ||
         (c >= 0x2B920 && c <= 0x2CEAF) ||  // 0x2B920 (not 0x2B820) as in HF's Rust code
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

std::vector<std::string> split_words(const Tokenizer::Impl& vocab, std::string_view text) {
  std::vector<std::string> words(1);
  for (uint32_t cpt : utf8_to_codepoints(text)) {
    if (vocab.strip_accents) cpt = nfd_first(cpt);
    const CodepointFlags flags = codepoint_flags(cpt);
    if (flags.is_whitespace()) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    if (cpt == 0 || cpt == 0xFFFD || flags.is_control()) continue;
    if (vocab.strip_accents && flags.is_accent_mark()) continue;
    const uint32_t c = vocab.lowercase ? to_lower(cpt) : cpt;
    if (flags.is_punctuation() || (cpt < 0x7F && flags.is_symbol()) || is_chinese_char(cpt)) {
      if (!words.back().empty()) words.emplace_back();
      append_utf8(words.back(), c);  // a word of its own
      words.emplace_back();
    } else {
      append_utf8(words.back(), c);
    }
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

}  // namespace

void wpm_encode(const Tokenizer::Impl& vocab, std::string_view text, std::vector<int32_t>& out) {
  for (const std::string& w : split_words(vocab, text)) {
    const std::string word = "\xE2\x96\x81" + w;  // phantom space
    const size_t n = word.size();
    const size_t first = out.size();
    for (size_t i = 0; i < n; ++i) {
      bool matched = false;
      for (size_t j = std::min(n, i + vocab.max_token_len + 1); j > i; --j) {
        if (const int32_t id = vocab.find(std::string_view(word).substr(i, j - i)); id >= 0) {
          out.push_back(id);
          matched = true;
          i = j - 1;
          break;
        }
      }
      if (!matched) {  // one unmatched position discards the whole word
        out.resize(first);
        break;
      }
    }
    if (out.size() == first && vocab.unk >= 0) out.push_back(vocab.unk);
  }
}

}  // namespace pagoda::tokenizer
