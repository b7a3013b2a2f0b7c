// IncrementalDetokenizer: holds back bytes until they form complete UTF-8.
#include "tokenizer/tokenizer.h"

namespace pagoda::tokenizer {
namespace {

const char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 sequence starting at s[0] (1..4), 0 if it is a
// valid but incomplete prefix (more bytes may complete it), or -1 if s[0]
// starts no valid sequence (the maximal invalid subpart is one byte, or the
// bytes up to the first that breaks the sequence: see `invalid_length`).
struct Scan {
  int status;  // >0: complete sequence of that length, 0: incomplete prefix, <0: invalid
  size_t invalid_length;  // for status < 0: bytes to replace with one U+FFFD
};

Scan scan_utf8(const unsigned char* s, size_t n) {
  const unsigned char b = s[0];
  if (b < 0x80) return {1, 0};
  int need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b >= 0xC2 && b <= 0xDF) {
    need = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    need = 3;
    if (b == 0xE0) lo = 0xA0;  // no overlongs
    if (b == 0xED) hi = 0x9F;  // no surrogates
  } else if (b >= 0xF0 && b <= 0xF4) {
    need = 4;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
  } else {
    return {-1, 1};
  }
  for (int i = 1; i < need; ++i) {
    if (static_cast<size_t>(i) >= n) return {0, 0};
    const unsigned char c = s[i];
    const bool ok = i == 1 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF);
    if (!ok) return {-1, static_cast<size_t>(i)};
  }
  return {need, 0};
}

}  // namespace

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer, bool render_special)
    : tokenizer_(tokenizer), render_special_(render_special) {}

std::string IncrementalDetokenizer::push(int32_t id) {
  pending_ += tokenizer_.token_to_piece(id, render_special_);
  std::string out;
  const auto* s = reinterpret_cast<const unsigned char*>(pending_.data());
  size_t i = 0;
  while (i < pending_.size()) {
    const Scan scan = scan_utf8(s + i, pending_.size() - i);
    if (scan.status == 0) break;  // wait for the rest of this character
    if (scan.status > 0) {
      out.append(pending_, i, scan.status);
      i += scan.status;
    } else {
      out += kReplacement;
      i += scan.invalid_length;
    }
  }
  pending_.erase(0, i);
  return out;
}

std::string IncrementalDetokenizer::flush() {
  std::string out = pending_.empty() ? std::string() : std::string(kReplacement);
  pending_.clear();
  return out;
}

}  // namespace pagoda::tokenizer
