#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>

namespace pagoda::tokenizer {
namespace {

constexpr uint32_t kMaxCodepoint = 0x110000;
constexpr uint32_t kReplacement = 0xFFFD;

// One byte of class bits per code point: 1.1 MB, built once, O(1) lookups.
const std::vector<uint8_t>& flag_table() {
  static const std::vector<uint8_t> table = [] {
    std::vector<uint8_t> t(kMaxCodepoint, 0);
    using unicode_data::kFlagRangeCount;
    using unicode_data::kFlagRanges;
    for (size_t i = 0; i < kFlagRangeCount; ++i) {
      const uint32_t end = i + 1 < kFlagRangeCount ? kFlagRanges[i + 1].first : kMaxCodepoint;
      std::fill(t.begin() + kFlagRanges[i].first, t.begin() + end, kFlagRanges[i].flags);
    }
    return t;
  }();
  return table;
}

struct ByteMapping {
  std::array<uint32_t, 256> byte_to_cpt{};
  std::array<int16_t, 324> cpt_to_byte{};  // every mapped code point is < 324
};

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes map to themselves, the
// rest to 256, 257, ... in byte order.
const ByteMapping& byte_mapping() {
  static const ByteMapping mapping = [] {
    ByteMapping m;
    m.cpt_to_byte.fill(-1);
    auto printable = [](int b) {
      return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const uint32_t cpt = printable(b) ? static_cast<uint32_t>(b) : next++;
      m.byte_to_cpt[b] = cpt;
      m.cpt_to_byte[cpt] = static_cast<int16_t>(b);
    }
    return m;
  }();
  return mapping;
}

}  // namespace

size_t utf8_sequence_length(uint8_t lead) {
  static constexpr uint8_t kLengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLengths[lead >> 4];
}

std::vector<uint32_t> utf8_to_codepoints(std::string_view text) {
  std::vector<uint32_t> out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  auto continuation = [&](size_t i) { return i < n && (s[i] & 0xC0) == 0x80; };
  size_t i = 0;
  while (i < n) {
    const uint8_t b = s[i];
    if (b < 0x80) {
      out.push_back(b);
      i += 1;
    } else if ((b & 0xE0) == 0xC0 && continuation(i + 1)) {
      out.push_back(((b & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu));
      i += 2;
    } else if ((b & 0xF0) == 0xE0 && continuation(i + 1) && continuation(i + 2)) {
      out.push_back(((b & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu));
      i += 3;
    } else if ((b & 0xF8) == 0xF0 && continuation(i + 1) && continuation(i + 2) &&
               continuation(i + 3)) {
      out.push_back(((b & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) |
                    (s[i + 3] & 0x3Fu));
      i += 4;
    } else {
      // Like llama.cpp: skip one byte and stand in U+FFFD (no overlong/surrogate checks).
      out.push_back(kReplacement);
      i += 1;
    }
  }
  return out;
}

void append_utf8(std::string& out, uint32_t cpt) {
  if (cpt >= kMaxCodepoint) cpt = kReplacement;
  if (cpt < 0x80) {
    out.push_back(static_cast<char>(cpt));
  } else if (cpt < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cpt >> 6)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else if (cpt < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cpt >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cpt >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  }
}

std::string codepoint_to_utf8(uint32_t cpt) {
  std::string s;
  append_utf8(s, cpt);
  return s;
}

CodepointFlags codepoint_flags(uint32_t cpt) {
  if (cpt >= kMaxCodepoint) return {};
  return CodepointFlags{flag_table()[cpt]};
}

uint32_t to_lower(uint32_t cpt) {
  using unicode_data::kLowercase;
  const auto* end = kLowercase + unicode_data::kLowercaseCount;
  const auto* it = std::lower_bound(kLowercase, end, cpt,
                                    [](const auto& pair, uint32_t v) { return pair.from < v; });
  return (it != end && it->from == cpt) ? it->to : cpt;
}

uint32_t nfd_first(uint32_t cpt) {
  using unicode_data::kNfdRanges;
  const auto* end = kNfdRanges + unicode_data::kNfdRangeCount;
  const auto* it = std::upper_bound(kNfdRanges, end, cpt,
                                    [](uint32_t v, const auto& range) { return v < range.first; });
  if (it == kNfdRanges) return cpt;
  --it;
  return (it->first <= cpt && cpt <= it->last) ? it->nfd : cpt;
}

uint32_t byte_to_codepoint(uint8_t byte) { return byte_mapping().byte_to_cpt[byte]; }

int codepoint_to_byte(uint32_t cpt) {
  const auto& m = byte_mapping();
  return cpt < m.cpt_to_byte.size() ? m.cpt_to_byte[cpt] : -1;
}

}  // namespace pagoda::tokenizer
