#pragma once
// Unicode helpers for the tokenizers: UTF-8 decoding the way llama.cpp does it
// (invalid bytes become U+FFFD, one per byte), code point classes (\p{L}, \s...),
// lowercase, first code point of NFD, and GPT-2's byte <-> code point mapping.
// All functions are pure and thread-safe; tables are built once on first use.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pagoda::tokenizer {

// Class bits of one code point (Python `regex` semantics, see gen_unicode_data.py).
struct CodepointFlags {
  enum : uint8_t {
    number = 1 << 0,       // \p{N}
    letter = 1 << 1,       // \p{L}
    separator = 1 << 2,    // \p{Z}
    accent_mark = 1 << 3,  // \p{M}
    punctuation = 1 << 4,  // \p{P}
    symbol = 1 << 5,       // \p{S}
    control = 1 << 6,      // \p{C}
    whitespace = 1 << 7,   // \s
  };
  uint8_t bits = 0;
  bool is_number() const { return bits & number; }
  bool is_letter() const { return bits & letter; }
  bool is_accent_mark() const { return bits & accent_mark; }
  bool is_punctuation() const { return bits & punctuation; }
  bool is_symbol() const { return bits & symbol; }
  bool is_control() const { return bits & control; }
  bool is_whitespace() const { return bits & whitespace; }
  // Any category at all (false only for code points past U+10FFFF).
  bool is_defined() const { return (bits & ~whitespace) != 0; }
};

// Length of the UTF-8 sequence a lead byte announces (1 for continuation bytes).
size_t utf8_sequence_length(uint8_t lead);
// Decodes UTF-8; each byte that does not start a valid sequence becomes U+FFFD.
std::vector<uint32_t> utf8_to_codepoints(std::string_view text);
// Appends the UTF-8 encoding of `cpt` (values past U+10FFFF are encoded as U+FFFD).
void append_utf8(std::string& out, uint32_t cpt);
std::string codepoint_to_utf8(uint32_t cpt);

CodepointFlags codepoint_flags(uint32_t cpt);
uint32_t to_lower(uint32_t cpt);
// First code point of the canonical decomposition (e.g. é -> e).
uint32_t nfd_first(uint32_t cpt);

// GPT-2 byte-level BPE: the printable code point that stands for a byte.
uint32_t byte_to_codepoint(uint8_t byte);
// Inverse of byte_to_codepoint; -1 when `cpt` stands for no byte.
int codepoint_to_byte(uint32_t cpt);

namespace unicode_data {
struct FlagRange {
  uint32_t first;  // flags hold from here up to the next range's first
  uint8_t flags;
};
struct CodepointPair {
  uint32_t from, to;
};
struct NfdRange {
  uint32_t first, last, nfd;
};
extern const FlagRange kFlagRanges[];
extern const size_t kFlagRangeCount;
extern const CodepointPair kLowercase[];  // sorted by `from`
extern const size_t kLowercaseCount;
extern const NfdRange kNfdRanges[];  // sorted by `first`
extern const size_t kNfdRangeCount;
}  // namespace unicode_data

}  // namespace pagoda::tokenizer
