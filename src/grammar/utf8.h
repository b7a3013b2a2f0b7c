#pragma once
// UTF-8 helpers for the grammar compiler: grammars speak in code points, the matcher in bytes.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pagoda::grammar {

inline constexpr uint32_t kMaxCodePoint = 0x10FFFF;

// A closed range of code points [lo, hi].
using CodeRange = std::pair<uint32_t, uint32_t>;

// One byte-level alternative of a code point range: byte i must lie in [lo[i], hi[i]].
struct ByteSeq {
  int n = 0;
  uint8_t lo[4] = {0, 0, 0, 0};
  uint8_t hi[4] = {0, 0, 0, 0};
};

// Appends the UTF-8 encoding of cp (a scalar value) to out.
void append_utf8(std::string& out, uint32_t cp);

// Decodes one code point at text[pos]; returns {cp, length} or {0, 0} for an invalid or
// truncated sequence (overlong forms and surrogates are invalid).
std::pair<uint32_t, int> decode_utf8(std::string_view text, size_t pos);

// Sorts and merges ranges, then removes surrogates (U+D800..U+DFFF), which have no UTF-8 form.
std::vector<CodeRange> normalize_ranges(std::vector<CodeRange> ranges);

// The complement of normalized ranges within [0, 0x10FFFF] minus surrogates.
std::vector<CodeRange> complement_ranges(const std::vector<CodeRange>& ranges);

// Byte sequences whose union is exactly the UTF-8 encodings of [lo, hi] (no surrogates
// inside). Each sequence's byte ranges are independent (a product), as in regex engines.
void utf8_sequences(uint32_t lo, uint32_t hi, std::vector<ByteSeq>& out);

}  // namespace pagoda::grammar
