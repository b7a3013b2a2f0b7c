// Tokenizer::encode / token_to_piece / decode: special-token partitioning
// (llama.cpp's tokenizer_st_partition) and dispatch to the model's encoder.
#include <cctype>

#include "tokenizer/vocab.h"

namespace pagoda::tokenizer {
namespace {

// A run of raw text [offset, offset + length) or one special token.
struct Fragment {
  int32_t token;  // -1 for raw text
  size_t offset, length;
};

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Splits text around special-token texts, longest tokens first. Without
// parse_special only user-defined tokens are split out (as Hugging Face does).
std::vector<Fragment> partition(const Tokenizer::Impl& v, std::string_view text, bool parse_special) {
  std::vector<Fragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back({-1, 0, text.size()});
  std::vector<Fragment> next;
  for (const int32_t id : v.special_tokens) {
    const auto& tok = v.tokens[id];
    if (!parse_special && (tok.attr & (kAttrControl | kAttrUnknown))) continue;
    const std::string_view needle = tok.text;
    if (text.find(needle) == std::string_view::npos) continue;  // cheap skip
    next.clear();
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t pos = f.offset;
      const size_t end = f.offset + f.length;
      while (pos < end) {
        const size_t match = text.substr(0, end).find(needle, pos);
        if (match == std::string_view::npos) break;
        size_t left_len = match - pos;
        if (tok.attr & kAttrLstrip)
          while (left_len > 0 && is_space(text[pos + left_len - 1])) --left_len;
        if (left_len > 0) next.push_back({-1, pos, left_len});
        next.push_back({id, match, needle.size()});
        pos = match + needle.size();
        if (tok.attr & kAttrRstrip)
          while (pos < end && is_space(text[pos])) ++pos;
      }
      if (pos < end) next.push_back({-1, pos, end - pos});
    }
    fragments.swap(next);
  }
  return fragments;
}

void escape_spaces(std::string& s) {
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  for (char c : s) {
    if (c == ' ') {
      out += "\xE2\x96\x81";
    } else {
      out.push_back(c);
    }
  }
  s.swap(out);
}

// llama.cpp's clean_up_tokenization_spaces: " ?" " !" " ." " ," " ' " " 's" " 'm" " 're" " 've".
std::string clean_spaces(const std::string& in) {
  std::string a;
  for (size_t i = 0; i < in.size(); ++i) {
    const char x = in[i];
    if (i > 0 && in[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) a.pop_back();
    a.push_back(x);
  }
  std::string b;
  for (size_t i = 0; i < a.size(); ++i) {
    const char x = a[i];
    if (i > 0 && x == '\'' && i + 1 < a.size() && a[i - 1] == ' ' && a[i + 1] == ' ') {
      b.pop_back();  // " ' " -> "'"
      b.push_back(x);
      ++i;
      continue;
    }
    b.push_back(x);
  }
  std::string c;
  for (size_t i = 0; i < b.size(); ++i) {
    const char x = b[i];
    if (i > 0 && b[i - 1] == ' ' && x == '\'' && i + 1 < b.size()) {
      const char x1 = b[i + 1];
      const char x2 = i + 2 < b.size() ? b[i + 2] : '\0';
      if (x1 == 's' || x1 == 'm' || (x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) c.pop_back();
    }
    c.push_back(x);
  }
  return c;
}

}  // namespace

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  const Impl& v = *impl_;
  std::vector<int32_t> out;
  const std::vector<Fragment> fragments = partition(v, text, parse_special);
  switch (v.kind) {
    case VocabKind::spm: {
      if (add_special && v.add_bos) out.push_back(v.bos);
      bool prev_special = true;  // the first fragment gets the space prefix
      WordCache cache;
      std::string piece;
      for (const Fragment& f : fragments) {
        if (f.token >= 0) {
          out.push_back(f.token);
          prev_special = true;
          continue;
        }
        piece.clear();
        if (v.add_space_prefix && prev_special) piece.push_back(' ');
        piece.append(text.substr(f.offset, f.length));
        escape_spaces(piece);
        spm_encode(v, piece, out, cache);
        prev_special = false;
      }
      if (add_special && v.add_eos) out.push_back(v.eos);
      break;
    }
    case VocabKind::bpe: {
      if (add_special && v.add_bos) out.push_back(v.bos);
      WordCache cache;
      std::string piece;
      for (const Fragment& f : fragments) {
        if (f.token >= 0) {
          out.push_back(f.token);
          continue;
        }
        piece.assign(text.substr(f.offset, f.length));
        if (v.pre.escape_whitespaces) escape_spaces(piece);
        bpe_encode(v, piece, out, cache);
      }
      if (add_special && v.add_eos) out.push_back(v.eos);
      break;
    }
    case VocabKind::wpm: {
      if (add_special && v.bos >= 0) out.push_back(v.bos);
      for (const Fragment& f : fragments) {
        if (f.token >= 0) {
          out.push_back(f.token);
        } else {
          wpm_encode(v, text.substr(f.offset, f.length), out);
        }
      }
      if (add_special && v.sep >= 0) out.push_back(v.sep);
      break;
    }
  }
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
  const Impl& v = *impl_;
  if (!v.has(id)) return {};
  if (!render_special && (v.attr(id) & (kAttrUnknown | kAttrControl))) return {};
  return v.pieces[id];
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_special) const {
  const Impl& v = *impl_;
  std::string text;
  bool strip_space = v.add_space_prefix;
  for (int32_t id : ids) {
    std::string piece = token_to_piece(id, render_special);
    if (strip_space && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
    strip_space = false;
    text += piece;
  }
  return v.pre.clean_spaces ? clean_spaces(text) : text;
}

}  // namespace pagoda::tokenizer
