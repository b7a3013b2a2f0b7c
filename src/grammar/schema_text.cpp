// GBNF text pieces: escaping, JSON-encoded character sets, formats, integer ranges.
#include <fmt/format.h>

#include <algorithm>

#include "base/expected.h"
#include "grammar/schema_parts.h"

namespace pagoda::grammar::schema {
namespace {

std::string escape_code_point(uint32_t cp, bool in_class) {
  switch (cp) {
    case '\n':
      return "\\n";
    case '\t':
      return "\\t";
    case '\r':
      return "\\r";
    case '\\':
      return "\\\\";
    case '"':
      return "\\\"";
    default:
      break;
  }
  if (in_class && (cp == ']' || cp == '[' || cp == '-' || cp == '^')) return std::string("\\") + static_cast<char>(cp);
  if (cp < 0x20 || cp == 0x7F) return fmt::format("\\x{:02X}", cp);
  if (cp < 0x80) return std::string(1, static_cast<char>(cp));
  if (cp <= 0xFFFF) return fmt::format("\\u{:04X}", cp);
  return fmt::format("\\U{:08X}", cp);
}

// ranges ∩ [lo, hi]
std::vector<CodeRange> intersect(const std::vector<CodeRange>& ranges, uint32_t lo, uint32_t hi) {
  std::vector<CodeRange> out;
  for (const auto& [a, b] : ranges)
    if (a <= hi && b >= lo) out.push_back({std::max(a, lo), std::min(b, hi)});
  return out;
}

bool contains(const std::vector<CodeRange>& ranges, uint32_t cp) {
  return std::any_of(ranges.begin(), ranges.end(), [&](const CodeRange& r) { return r.first <= cp && cp <= r.second; });
}

std::string join_alternatives(const std::vector<std::string>& parts) {
  if (parts.size() == 1) return parts[0];
  std::string out = "(";
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? " | " : "") + parts[i];
  return out + ")";
}

std::string pow10_string(int zeros, char digit) {
  return std::string(static_cast<size_t>(zeros), digit);
}

// Decimal strings of equal length x <= y: every number between them, digit by digit.
std::string same_length_range(const std::string& x, const std::string& y) {
  if (x == y) return gbnf_literal(x);
  const size_t n = x.size();
  if (n == 1) return fmt::format("[{}-{}]", x[0], y[0]);
  if (x[0] == y[0]) return fmt::format("\"{}\" {}", x[0], same_length_range(x.substr(1), y.substr(1)));
  const std::string rest_x = x.substr(1), rest_y = y.substr(1);
  const bool x_full = rest_x == pow10_string(static_cast<int>(n - 1), '0');
  const bool y_full = rest_y == pow10_string(static_cast<int>(n - 1), '9');
  std::vector<std::string> parts;
  if (!x_full)
    parts.push_back(
        fmt::format("\"{}\" {}", x[0], same_length_range(rest_x, pow10_string(static_cast<int>(n - 1), '9'))));
  const char mid_lo = x_full ? x[0] : static_cast<char>(x[0] + 1);
  const char mid_hi = y_full ? y[0] : static_cast<char>(y[0] - 1);
  if (mid_lo <= mid_hi) parts.push_back(fmt::format("[{}-{}] [0-9]{{{}}}", mid_lo, mid_hi, n - 1));
  if (!y_full)
    parts.push_back(
        fmt::format("\"{}\" {}", y[0], same_length_range(pow10_string(static_cast<int>(n - 1), '0'), rest_y)));
  return join_alternatives(parts);
}

// Every non-negative integer in [a, b], without leading zeros.
std::string non_negative_range(uint64_t a, uint64_t b) {
  std::vector<std::string> parts;
  uint64_t low = 0, high = 9;  // numbers with n digits: [low, high]
  for (int n = 1; n <= 19 && a <= b; ++n) {
    if (a <= high) {
      const uint64_t hi = std::min(b, high);
      parts.push_back(same_length_range(std::to_string(std::max(a, low)), std::to_string(hi)));
      a = hi + 1;
    }
    low = high + 1;
    high = high * 10 + 9;
  }
  return join_alternatives(parts);
}

}  // namespace

std::string gbnf_literal(std::string_view utf8) {
  std::string out = "\"";
  for (size_t i = 0; i < utf8.size();) {
    auto [cp, n] = decode_utf8(utf8, i);
    if (n == 0) throw Exception("a string in the schema is not valid UTF-8");
    out += cp < 0x80 ? escape_code_point(cp, false) : std::string(utf8.substr(i, static_cast<size_t>(n)));
    i += static_cast<size_t>(n);
  }
  return out + "\"";
}

std::string gbnf_class(const std::vector<CodeRange>& ranges) {
  std::string out = "[";
  for (const auto& [lo, hi] : ranges) {
    out += escape_code_point(lo, true);
    if (hi > lo) {
      out += '-';
      out += escape_code_point(hi, true);
    }
  }
  return out + "]";
}

std::string json_char_in(const std::vector<CodeRange>& ranges) {
  std::vector<std::string> parts;
  // Raw: everything but controls, '"', '\' and DEL.
  std::vector<CodeRange> raw;
  for (const CodeRange& r :
       {CodeRange{0x20, 0x21}, CodeRange{0x23, 0x5B}, CodeRange{0x5D, 0x7E}, CodeRange{0x80, kMaxCodePoint}})
    for (const CodeRange& x : intersect(ranges, r.first, r.second)) raw.push_back(x);
  raw = normalize_ranges(std::move(raw));
  if (raw.size() == 1 && raw[0].first == raw[0].second) {
    std::string one;
    append_utf8(one, raw[0].first);
    parts.push_back(gbnf_literal(one));
  } else if (!raw.empty()) {
    parts.push_back(gbnf_class(raw));
  }
  if (contains(ranges, '"')) parts.push_back("\"\\\\\\\"\"");
  if (contains(ranges, '\\')) parts.push_back("\"\\\\\\\\\"");
  const auto controls = intersect(ranges, 0, 0x1F);
  if (controls.size() == 1 && controls[0] == CodeRange{0, 0x1F}) {
    parts.push_back("\"\\\\\" [btnfr]");
    parts.push_back("\"\\\\u00\" [01] [0-9a-fA-F]");
  } else {
    for (const auto& [lo, hi] : controls)
      for (uint32_t c = lo; c <= hi; ++c) {
        static constexpr const char* kShort[] = {"b", "t", "n", nullptr, "f", "r"};
        if (c >= 8 && c <= 13 && kShort[c - 8])
          parts.push_back(fmt::format("\"\\\\{}\"", kShort[c - 8]));
        else
          parts.push_back(fmt::format("\"\\\\u00{:02x}\"", c));
      }
  }
  if (contains(ranges, 0x7F)) parts.push_back("\"\\\\u007f\"");
  if (parts.empty()) throw Exception("a character class matches no character");
  return join_alternatives(parts);
}

std::optional<std::string> format_to_gbnf(std::string_view format) {
  static const std::string kDate = R"([0-9]{4} "-" ("0" [1-9] | "1" [0-2]) "-" ("0" [1-9] | [12] [0-9] | "3" [01]))";
  static const std::string kTime =
      R"(([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,9})? ("Z" | [+-] ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9]))";
  if (format == "date") return kDate;
  if (format == "time") return kTime;
  if (format == "date-time") return kDate + " \"T\" " + kTime;
  if (format == "uuid")
    return R"([0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12})";
  if (format == "email")
    return R"([a-zA-Z0-9_%+-]{1,64} ("." [a-zA-Z0-9_%+-]{1,64}){0,3} "@" [a-zA-Z0-9] [a-zA-Z0-9-]{0,62} ("." [a-zA-Z0-9] [a-zA-Z0-9-]{0,62}){1,3})";
  return std::nullopt;
}

std::string integer_range_gbnf(std::optional<int64_t> lo, std::optional<int64_t> hi) {
  constexpr int64_t kMax = 9999999999999999;  // kMaxIntDigits nines
  static_assert(kMaxIntDigits == 16);
  const int64_t l = std::clamp<int64_t>(lo.value_or(-kMax), -kMax, kMax);
  const int64_t h = std::clamp<int64_t>(hi.value_or(kMax), -kMax, kMax);
  if (l > h) throw Exception(fmt::format("the integer range [{}, {}] is empty", lo.value_or(-kMax), hi.value_or(kMax)));
  std::vector<std::string> parts;
  if (l < 0) {
    const int64_t neg_hi = std::min<int64_t>(h, -1);  // negatives l .. neg_hi
    parts.push_back("\"-\" " + non_negative_range(static_cast<uint64_t>(-neg_hi), static_cast<uint64_t>(-l)));
  }
  if (h >= 0)
    parts.push_back(non_negative_range(static_cast<uint64_t>(std::max<int64_t>(l, 0)), static_cast<uint64_t>(h)));
  return join_alternatives(parts);
}

}  // namespace pagoda::grammar::schema
