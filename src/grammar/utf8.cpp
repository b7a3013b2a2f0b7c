#include "grammar/utf8.h"

#include <algorithm>

namespace pagoda::grammar {
namespace {

int encoded_length(uint32_t cp) {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

void encode(uint32_t cp, uint8_t* out) {
  switch (encoded_length(cp)) {
    case 1:
      out[0] = static_cast<uint8_t>(cp);
      break;
    case 2:
      out[0] = static_cast<uint8_t>(0xC0 | (cp >> 6));
      out[1] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
      break;
    case 3:
      out[0] = static_cast<uint8_t>(0xE0 | (cp >> 12));
      out[1] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
      out[2] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
      break;
    default:
      out[0] = static_cast<uint8_t>(0xF0 | (cp >> 18));
      out[1] = static_cast<uint8_t>(0x80 | ((cp >> 12) & 0x3F));
      out[2] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
      out[3] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
  }
}

// [lo, hi] share one encoded length; split until every byte position is an independent range.
void split_aligned(uint32_t lo, uint32_t hi, int n, std::vector<ByteSeq>& out) {
  for (int i = 1; i < n; ++i) {
    const uint32_t m = (1u << (6 * i)) - 1;
    if ((lo & ~m) != (hi & ~m)) {
      if ((lo & m) != 0) {
        split_aligned(lo, lo | m, n, out);
        split_aligned((lo | m) + 1, hi, n, out);
        return;
      }
      if ((hi & m) != m) {
        split_aligned(lo, (hi & ~m) - 1, n, out);
        split_aligned(hi & ~m, hi, n, out);
        return;
      }
    }
  }
  ByteSeq s;
  s.n = n;
  encode(lo, s.lo);
  encode(hi, s.hi);
  out.push_back(s);
}

}  // namespace

void append_utf8(std::string& out, uint32_t cp) {
  uint8_t b[4];
  encode(cp, b);
  out.append(reinterpret_cast<const char*>(b), static_cast<size_t>(encoded_length(cp)));
}

std::pair<uint32_t, int> decode_utf8(std::string_view text, size_t pos) {
  if (pos >= text.size()) return {0, 0};
  const auto b0 = static_cast<uint8_t>(text[pos]);
  if (b0 < 0x80) return {b0, 1};
  int n = 0;
  uint32_t cp = 0;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4;
    cp = b0 & 0x07;
  } else {
    return {0, 0};
  }
  if (pos + static_cast<size_t>(n) > text.size()) return {0, 0};
  for (int i = 1; i < n; ++i) {
    const auto b = static_cast<uint8_t>(text[pos + static_cast<size_t>(i)]);
    if ((b & 0xC0) != 0x80) return {0, 0};
    cp = (cp << 6) | (b & 0x3F);
  }
  if (encoded_length(cp) != n || cp > kMaxCodePoint || (cp >= 0xD800 && cp <= 0xDFFF)) return {0, 0};
  return {cp, n};
}

std::vector<CodeRange> normalize_ranges(std::vector<CodeRange> ranges) {
  for (auto& r : ranges) r.second = std::min(r.second, kMaxCodePoint);
  std::erase_if(ranges, [](const CodeRange& r) { return r.first > r.second; });
  std::sort(ranges.begin(), ranges.end());
  std::vector<CodeRange> merged;
  for (const auto& r : ranges) {
    if (!merged.empty() && r.first <= merged.back().second + 1)
      merged.back().second = std::max(merged.back().second, r.second);
    else
      merged.push_back(r);
  }
  std::vector<CodeRange> out;
  for (const auto& [lo, hi] : merged) {
    if (hi < 0xD800 || lo > 0xDFFF) {
      out.push_back({lo, hi});
      continue;
    }
    if (lo < 0xD800) out.push_back({lo, 0xD7FF});
    if (hi > 0xDFFF) out.push_back({0xE000, hi});
  }
  return out;
}

std::vector<CodeRange> complement_ranges(const std::vector<CodeRange>& ranges) {
  std::vector<CodeRange> out;
  uint32_t next = 0;
  for (const auto& [lo, hi] : ranges) {
    if (lo > next) out.push_back({next, lo - 1});
    next = hi + 1;
  }
  if (next <= kMaxCodePoint) out.push_back({next, kMaxCodePoint});
  return normalize_ranges(std::move(out));
}

void utf8_sequences(uint32_t lo, uint32_t hi, std::vector<ByteSeq>& out) {
  static constexpr uint32_t kLengthEnds[] = {0x7F, 0x7FF, 0xFFFF, kMaxCodePoint};
  hi = std::min(hi, kMaxCodePoint);
  for (int n = 1; n <= 4 && lo <= hi; ++n) {
    const uint32_t end = kLengthEnds[n - 1];
    if (lo > end) continue;
    const uint32_t piece_hi = std::min(hi, end);
    split_aligned(lo, piece_hi, n, out);
    lo = piece_hi + 1;
  }
}

}  // namespace pagoda::grammar
