#pragma once
// Pieces of GBNF text that the JSON Schema converter assembles: escaped literals and classes,
// JSON-string-encoded character sets, `pattern` regexes, `format`s and integer ranges.
// Internal to the grammar library; functions that read schema input throw pagoda::Exception.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/utf8.h"

namespace pagoda::grammar::schema {

// Names of the shared rules the parts below refer to (defined by the converter).
inline constexpr const char* kJsonChar = "json-char";  // one character of a JSON string, escapes included

// "..." matching exactly the UTF-8 text (escaping quotes, backslashes and control characters).
std::string gbnf_literal(std::string_view utf8);
// [...] matching exactly the code points of normalized ranges.
std::string gbnf_class(const std::vector<CodeRange>& ranges);
// One JSON-string character whose decoded value lies in ranges, written the canonical way: raw
// when JSON allows it, else as the short escape (\" \\ \n ...) or \u00XX. Empty ranges: throws.
std::string json_char_in(const std::vector<CodeRange>& ranges);

// The contents of a JSON string (between the quotes) matching an ECMAScript regex: literals,
// classes (\d \w \s and negations), ., groups (capturing, (?:), named), alternation, the
// quantifiers ? * + {m} {m,} {m,n} (lazy forms too), and ^ / $ at the ends. A pattern without
// ^ (or $) may have any text before (or after) its match, as JSON Schema says. Anything else
// throws, naming it. Repetition bounds above kMaxCount are treated as unbounded.
std::string regex_to_gbnf(std::string_view pattern);

// The contents of a JSON string in a supported `format` (date, time, date-time, uuid, email);
// nullopt for other formats (which JSON Schema treats as annotations).
std::optional<std::string> format_to_gbnf(std::string_view format);

// A JSON integer in [lo, hi] (each optional), at most kMaxIntDigits digits, as a GBNF expression.
// Throws when the range is empty.
std::string integer_range_gbnf(std::optional<int64_t> lo, std::optional<int64_t> hi);

inline constexpr uint32_t kMaxCount = 1000;  // exact bounds for counts (items, lengths, {m,n})
inline constexpr int kMaxIntDigits = 16;     // digits of an integer part
inline constexpr int kMaxFracDigits = 16;    // digits of a fraction

}  // namespace pagoda::grammar::schema
