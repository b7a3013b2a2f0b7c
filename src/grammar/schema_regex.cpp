// JSON Schema `pattern` (an ECMAScript regex, practical subset) -> GBNF for the contents of a
// JSON string. Each regex character becomes its canonical JSON encoding (schema_text.cpp).
#include <fmt/format.h>

#include "base/expected.h"
#include "grammar/schema_parts.h"

namespace pagoda::grammar::schema {
namespace {

constexpr int kMaxDepth = 32;

std::vector<CodeRange> digit_ranges() {
  return {{'0', '9'}};
}
std::vector<CodeRange> word_ranges() {
  return normalize_ranges({{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}});
}
std::vector<CodeRange> space_ranges() {
  return normalize_ranges({{'\t', '\r'},
                           {' ', ' '},
                           {0xA0, 0xA0},
                           {0x1680, 0x1680},
                           {0x2000, 0x200A},
                           {0x2028, 0x2029},
                           {0x202F, 0x202F},
                           {0x205F, 0x205F},
                           {0x3000, 0x3000},
                           {0xFEFF, 0xFEFF}});
}

class RegexConverter {
 public:
  explicit RegexConverter(std::string_view p) : p_(p) {}

  std::string convert() {
    size_t end = p_.size();
    const bool anchored_start = !p_.empty() && p_[0] == '^';
    if (anchored_start) pos_ = 1;
    // A final '$' anchors unless it is escaped (an odd number of backslashes before it).
    bool anchored_end = false;
    if (end > pos_ && p_[end - 1] == '$') {
      size_t backslashes = 0;
      while (end - 1 - backslashes > pos_ && p_[end - 2 - backslashes] == '\\') ++backslashes;
      if (backslashes % 2 == 0) anchored_end = true, --end;
    }
    p_ = p_.substr(0, end);
    std::string body = parse_alternatives(0);
    if (pos_ < p_.size()) fail(fmt::format("unmatched '{}'", p_[pos_]));
    std::string out;
    if (!anchored_start) out += std::string(kJsonChar) + "* ";
    out += "(" + body + ")";
    if (!anchored_end) out += std::string(" ") + kJsonChar + "*";
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Exception(fmt::format("unsupported regex in 'pattern' at offset {}: {}", pos_, what));
  }
  bool at_end() const { return pos_ >= p_.size(); }
  char peek(size_t ahead = 0) const { return pos_ + ahead < p_.size() ? p_[pos_ + ahead] : '\0'; }

  std::string parse_alternatives(int depth) {
    if (depth > kMaxDepth) fail("groups nested too deep");
    std::string out = parse_sequence(depth);
    while (peek() == '|') {
      ++pos_;
      out += " | " + parse_sequence(depth);
    }
    return out;
  }

  std::string parse_sequence(int depth) {
    std::string out;
    while (!at_end() && peek() != '|' && peek() != ')') {
      std::string atom = parse_atom(depth);
      atom = parse_quantifier(atom);
      out += (out.empty() ? "" : " ") + atom;
    }
    return out.empty() ? "\"\"" : out;
  }

  std::string parse_atom(int depth) {
    const char c = peek();
    if (c == '(') {
      ++pos_;
      if (peek() == '?') {
        if (peek(1) == ':') {
          pos_ += 2;
        } else if (peek(1) == '<' && peek(2) != '=' && peek(2) != '!') {
          const size_t close = p_.find('>', pos_);
          if (close == std::string_view::npos) fail("unterminated group name");
          pos_ = close + 1;
        } else {
          fail("lookaround and group flags '(?...' are not supported");
        }
      }
      std::string inner = parse_alternatives(depth + 1);
      if (peek() != ')') fail("missing ')'");
      ++pos_;
      return "(" + inner + ")";
    }
    if (c == '[') return json_char_in(parse_class());
    if (c == '.') {
      ++pos_;
      return json_char_in(complement_ranges(normalize_ranges({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}})));
    }
    if (c == '\\') return json_char_in(parse_escape(false));
    if (c == '^' || c == '$') fail(fmt::format("'{}' is supported only at the start / end of the pattern", c));
    if (c == '*' || c == '+' || c == '?') fail(fmt::format("'{}' has nothing to repeat", c));
    if (c == '{' && quantifier_at(pos_)) fail("'{' has nothing to repeat");
    return json_char_in({{next_code_point(), 0}}, true);
  }

  // json_char_in for a single code point given as {cp, unused}.
  std::string json_char_in(std::vector<CodeRange> ranges, bool single = false) {
    if (single) ranges[0].second = ranges[0].first;
    return schema::json_char_in(normalize_ranges(std::move(ranges)));
  }

  uint32_t next_code_point() {
    auto [cp, n] = decode_utf8(p_, pos_);
    if (n == 0) fail("invalid UTF-8");
    pos_ += static_cast<size_t>(n);
    return cp;
  }

  // Is there a {m}, {m,} or {m,n} at `at`? (Otherwise '{' is a literal, as in ECMAScript.)
  bool quantifier_at(size_t at) const {
    if (at >= p_.size() || p_[at] != '{') return false;
    size_t i = at + 1;
    const size_t digits_start = i;
    while (i < p_.size() && p_[i] >= '0' && p_[i] <= '9') ++i;
    if (i == digits_start) return false;
    if (i < p_.size() && p_[i] == ',') {
      ++i;
      while (i < p_.size() && p_[i] >= '0' && p_[i] <= '9') ++i;
    }
    return i < p_.size() && p_[i] == '}';
  }

  uint32_t parse_number() {
    uint64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      v = std::min<uint64_t>(v * 10 + static_cast<uint64_t>(peek() - '0'), uint64_t{1} << 32);
      ++pos_;
    }
    return static_cast<uint32_t>(std::min<uint64_t>(v, 0xFFFFFFFE));
  }

  std::string parse_quantifier(const std::string& atom) {
    uint32_t min = 0, max = 0;
    bool unbounded = false;
    const char c = peek();
    if (c == '*') {
      ++pos_, unbounded = true;
    } else if (c == '+') {
      ++pos_, min = 1, unbounded = true;
    } else if (c == '?') {
      ++pos_, max = 1;
    } else if (quantifier_at(pos_)) {
      ++pos_;
      min = parse_number();
      max = min;
      if (peek() == ',') {
        ++pos_;
        if (peek() == '}')
          unbounded = true;
        else
          max = parse_number();
      }
      ++pos_;  // '}'
      if (!unbounded && max < min) fail("repetition {m,n} with n < m");
    } else {
      return atom;
    }
    if (peek() == '?') ++pos_;  // lazy: same language
    if (peek() == '+') fail("possessive quantifiers are not supported");
    if (peek() == '*' || peek() == '+' || peek() == '?' || quantifier_at(pos_)) fail("nested quantifier");
    if (min > kMaxCount) fail(fmt::format("repetition count {} exceeds {}", min, kMaxCount));
    if (!unbounded && max > kMaxCount) unbounded = true;  // documented approximation
    const std::string a = "(" + atom + ")";
    if (unbounded) {
      if (min == 0) return a + "*";
      if (min == 1) return a + "+";
      return fmt::format("{}{{{},}}", a, min);
    }
    if (min == 0 && max == 1) return a + "?";
    if (min == max) return fmt::format("{}{{{}}}", a, min);
    return fmt::format("{}{{{},{}}}", a, min, max);
  }

  // After '[': the class's code points (negation applied); pos_ ends past ']'.
  std::vector<CodeRange> parse_class() {
    ++pos_;
    const bool negated = peek() == '^';
    if (negated) ++pos_;
    std::vector<CodeRange> ranges;
    while (true) {
      if (at_end()) fail("unterminated character class");
      if (peek() == ']') break;
      std::vector<CodeRange> item;
      bool is_set = false;
      if (peek() == '\\') {
        item = parse_escape(true);
        is_set = item.size() != 1 || item[0].first != item[0].second;
      } else {
        const uint32_t cp = next_code_point();
        item = {{cp, cp}};
      }
      if (!is_set && peek() == '-' && peek(1) != ']' && pos_ + 1 < p_.size()) {
        ++pos_;
        uint32_t hi = 0;
        if (peek() == '\\') {
          auto h = parse_escape(true);
          if (h.size() != 1 || h[0].first != h[0].second) fail("a class range ends in a set");
          hi = h[0].first;
        } else {
          hi = next_code_point();
        }
        if (hi < item[0].first) fail("class range out of order");
        item[0].second = hi;
      }
      ranges.insert(ranges.end(), item.begin(), item.end());
    }
    ++pos_;
    ranges = normalize_ranges(std::move(ranges));
    if (negated) ranges = complement_ranges(ranges);
    if (ranges.empty()) fail("the character class matches nothing");
    return ranges;
  }

  uint32_t parse_hex(int digits) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      const char h = peek();
      int d = -1;
      if (h >= '0' && h <= '9') d = h - '0';
      if (h >= 'a' && h <= 'f') d = h - 'a' + 10;
      if (h >= 'A' && h <= 'F') d = h - 'A' + 10;
      if (d < 0) fail("bad hex escape");
      v = v * 16 + static_cast<uint32_t>(d);
      ++pos_;
    }
    return v;
  }

  // After '\': the code points the escape stands for.
  std::vector<CodeRange> parse_escape(bool in_class) {
    ++pos_;
    if (at_end()) fail("pattern ends with '\\'");
    const char e = peek();
    ++pos_;
    auto one = [](uint32_t cp) { return std::vector<CodeRange>{{cp, cp}}; };
    switch (e) {
      case 'd':
        return digit_ranges();
      case 'D':
        return complement_ranges(digit_ranges());
      case 'w':
        return word_ranges();
      case 'W':
        return complement_ranges(word_ranges());
      case 's':
        return space_ranges();
      case 'S':
        return complement_ranges(space_ranges());
      case 't':
        return one('\t');
      case 'n':
        return one('\n');
      case 'r':
        return one('\r');
      case 'f':
        return one('\f');
      case 'v':
        return one('\v');
      case '0':
        return one(0);
      case 'x':
        return one(parse_hex(2));
      case 'u': {
        if (peek() == '{') {
          ++pos_;
          uint32_t v = 0;
          int n = 0;
          while (peek() != '}') {
            if (++n > 6) fail("bad \\u{...} escape");
            v = v * 16 + parse_hex(1);
          }
          ++pos_;
          if (v > kMaxCodePoint || (v >= 0xD800 && v <= 0xDFFF)) fail("\\u{...} is not a scalar value");
          return one(v);
        }
        const uint32_t v = parse_hex(4);
        if (v >= 0xD800 && v <= 0xDFFF) fail("surrogate escapes are not supported");
        return one(v);
      }
      case 'b':
        if (in_class) return one('\b');
        fail("word boundaries (\\b) are not supported");
      case 'B':
        fail("word boundaries (\\B) are not supported");
      case 'p':
      case 'P':
        fail("Unicode property classes (\\p{...}) are not supported");
      case 'k':
        fail("backreferences are not supported");
      case 'c':
        fail("control escapes (\\cX) are not supported");
      default:
        break;
    }
    if (e >= '1' && e <= '9') fail("backreferences are not supported");
    if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) fail(fmt::format("unknown escape '\\{}'", e));
    --pos_;
    const uint32_t cp = next_code_point();  // an escaped punctuation mark or other character
    return one(cp);
  }

  std::string_view p_;
  size_t pos_ = 0;
};

}  // namespace

std::string regex_to_gbnf(std::string_view pattern) {
  return RegexConverter(pattern).convert();
}

}  // namespace pagoda::grammar::schema
