// GBNF text -> rule trees. llama.cpp's syntax, plus two leniencies that no valid llama.cpp
// grammar can notice: `_` in rule names, and a rule may continue on the next line (a line that
// does not start a new `name ::=` rule continues the previous one).
#include <fmt/format.h>

#include <algorithm>

#include "grammar/gbnf_ast.h"

namespace pagoda::grammar {
namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Parser {
 public:
  Parser(std::string_view text, const GrammarLimits& limits) : s_(text), limits_(limits) {}

  ParsedGrammar parse() {
    if (s_.size() > limits_.max_text_bytes)
      throw Exception(fmt::format("the grammar is {} bytes; the limit is {}", s_.size(), limits_.max_text_bytes));
    skip_blank();
    while (pos_ < s_.size()) {
      parse_rule();
      skip_blank();
    }
    for (const RuleAst& r : g_.rules)
      if (!r.defined) fail(r.offset, fmt::format("undefined rule '{}'", r.name));
    return std::move(g_);
  }

 private:
  [[noreturn]] void fail(size_t at, const std::string& message) const {
    throw Exception(fmt::format("{}: {}", line_col(s_, at), message));
  }
  char peek(size_t ahead = 0) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0'; }
  bool at_end() const { return pos_ >= s_.size(); }

  // Spaces, tabs and comments on the current line, from `at`; returns where they end.
  size_t inline_end(size_t at) const {
    while (at < s_.size()) {
      const char c = s_[at];
      if (c == ' ' || c == '\t') {
        ++at;
      } else if (c == '#') {
        while (at < s_.size() && s_[at] != '\n' && s_[at] != '\r') ++at;
      } else {
        break;
      }
    }
    return at;
  }
  // Spaces, comments and line breaks, from `at`.
  size_t blank_end(size_t at) const {
    while (true) {
      at = inline_end(at);
      if (at < s_.size() && (s_[at] == '\n' || s_[at] == '\r'))
        ++at;
      else
        return at;
    }
  }
  void skip_inline() { pos_ = inline_end(pos_); }
  void skip_blank() { pos_ = blank_end(pos_); }
  // At a line break ending a top-level sequence: does the rule go on after it? It does unless
  // what comes next is the end, or a new `name ::=`.
  bool rule_continues() const {
    size_t at = blank_end(pos_);
    if (at >= s_.size()) return false;
    if (!is_name_char(s_[at])) return true;
    while (at < s_.size() && is_name_char(s_[at])) ++at;
    at = inline_end(at);
    return s_.substr(at, 3) != "::=";
  }
  // Between elements: blank space; at top level a line break ends the sequence unless the rule
  // continues. Returns false when the sequence ends here.
  bool skip_between(bool nested) {
    skip_inline();
    if (peek() != '\n' && peek() != '\r') return true;
    if (nested || rule_continues()) {
      skip_blank();
      return true;
    }
    return false;
  }

  std::string parse_name() {
    const size_t start = pos_;
    while (is_name_char(peek())) ++pos_;
    if (pos_ == start) fail(start, "expected a rule name");
    return std::string(s_.substr(start, pos_ - start));
  }

  uint32_t rule_index(const std::string& name, size_t at) {
    auto it = g_.index.find(name);
    if (it != g_.index.end()) return it->second;
    if (g_.rules.size() >= limits_.max_rules)
      fail(at, fmt::format("the grammar has more than {} rules", limits_.max_rules));
    RuleAst r;
    r.name = name;
    r.offset = static_cast<uint32_t>(at);
    g_.rules.push_back(std::move(r));
    const auto id = static_cast<uint32_t>(g_.rules.size() - 1);
    g_.index.emplace(name, id);
    return id;
  }

  void parse_rule() {
    const size_t start = pos_;
    const std::string name = parse_name();
    skip_inline();
    if (s_.substr(pos_, 3) != "::=") fail(pos_, fmt::format("expected '::=' after rule name '{}'", name));
    pos_ += 3;
    skip_blank();
    Node body = parse_alternatives(false, 0);
    skip_inline();
    if (!at_end() && peek() != '\n' && peek() != '\r')
      fail(pos_, fmt::format("unexpected '{}' in rule '{}'", describe(pos_), name));
    const uint32_t id = rule_index(name, start);
    RuleAst& r = g_.rules[id];
    if (r.defined) fail(start, fmt::format("rule '{}' is defined twice (first at {})", name, line_col(s_, r.offset)));
    r.defined = true;
    r.offset = static_cast<uint32_t>(start);
    r.body = std::move(body);
  }

  // The character at `at`, for messages.
  std::string describe(size_t at) const {
    auto [cp, n] = decode_utf8(s_, at);
    if (n == 0) return fmt::format("\\x{:02X}", static_cast<uint8_t>(s_[at]));
    return std::string(s_.substr(at, static_cast<size_t>(n)));
  }

  Node parse_alternatives(bool nested, int depth) {
    const size_t start = pos_;
    std::vector<Node> alts;
    alts.push_back(parse_sequence(nested, depth));
    while (peek() == '|') {
      ++pos_;
      skip_blank();
      alts.push_back(parse_sequence(nested, depth));
    }
    if (alts.size() == 1) return std::move(alts[0]);
    Node n;
    n.kind = Node::Kind::alt;
    n.offset = static_cast<uint32_t>(start);
    n.children = std::move(alts);
    return n;
  }

  Node parse_sequence(bool nested, int depth) {
    Node seq;
    seq.kind = Node::Kind::seq;
    seq.offset = static_cast<uint32_t>(pos_);
    while (skip_between(nested) && !at_end()) {
      const char c = peek();
      const size_t start = pos_;
      Node element;
      if (c == '"') {
        element = parse_literal();
      } else if (c == '[') {
        element = parse_class();
      } else if (c == '.') {
        ++pos_;
        element.kind = Node::Kind::cclass;
        element.ranges = normalize_ranges({{0, kMaxCodePoint}});
      } else if (c == '(') {
        if (depth + 1 > limits_.max_nesting)
          fail(pos_, fmt::format("groups are nested deeper than {}", limits_.max_nesting));
        ++pos_;
        skip_blank();
        element = parse_alternatives(true, depth + 1);
        skip_blank();
        if (peek() != ')') fail(pos_, fmt::format("expected ')' to close the group opened at {}", line_col(s_, start)));
        ++pos_;
      } else if (is_name_char(c)) {
        const std::string name = parse_name();
        element.kind = Node::Kind::ref;
        element.rule = rule_index(name, start);
      } else if (c == '*' || c == '+' || c == '?' || c == '{') {
        fail(pos_, fmt::format("'{}' must follow an element", c));
      } else {
        break;
      }
      element.offset = static_cast<uint32_t>(start);
      parse_postfix(element);
      seq.children.push_back(std::move(element));
    }
    if (seq.children.size() == 1) return std::move(seq.children[0]);
    return seq;
  }

  void parse_postfix(Node& element) {
    // Stacked operators (x*+?...) nest the tree; a few are harmless, thousands would recurse deep.
    for (int stacked = 0;; ++stacked) {
      skip_inline();
      const char c = peek();
      uint32_t min = 0, max = 0;
      if (c == '*') {
        min = 0, max = kUnbounded;
        ++pos_;
      } else if (c == '+') {
        min = 1, max = kUnbounded;
        ++pos_;
      } else if (c == '?') {
        min = 0, max = 1;
        ++pos_;
      } else if (c == '{') {
        parse_braces(min, max);
      } else {
        return;
      }
      if (stacked == 4) fail(element.offset, "more than 4 repetition operators in a row");
      Node r;
      r.kind = Node::Kind::repeat;
      r.offset = element.offset;
      r.min = min;
      r.max = max;
      r.children.push_back(std::move(element));
      element = std::move(r);
    }
  }

  // {m} {m,} {m,n} {,n}
  void parse_braces(uint32_t& min, uint32_t& max) {
    const size_t open = pos_;
    ++pos_;
    skip_inline();
    const bool has_min = peek() >= '0' && peek() <= '9';
    min = has_min ? parse_count() : 0;
    skip_inline();
    if (peek() == '}') {
      if (!has_min) fail(pos_, "expected a number in '{}'");
      max = min;
    } else if (peek() == ',') {
      ++pos_;
      skip_inline();
      max = (peek() >= '0' && peek() <= '9') ? parse_count() : kUnbounded;
      skip_inline();
      if (peek() != '}') fail(pos_, "expected '}' to close the repetition");
      if (max != kUnbounded && max < min) fail(open, fmt::format("repetition {{{},{}}} has max below min", min, max));
    } else {
      fail(pos_, "expected ',' or '}' in the repetition");
    }
    ++pos_;
  }

  uint32_t parse_count() {
    const size_t start = pos_;
    uint64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      v = v * 10 + static_cast<uint64_t>(peek() - '0');
      if (v > limits_.max_repeat) fail(start, fmt::format("repetition count exceeds the limit {}", limits_.max_repeat));
      ++pos_;
    }
    return static_cast<uint32_t>(v);
  }

  // One code point of a literal or class, escapes included; pos_ is past it afterwards.
  uint32_t parse_char(const char* what) {
    const size_t start = pos_;
    if (peek() != '\\') {
      auto [cp, n] = decode_utf8(s_, pos_);
      if (n == 0) fail(pos_, fmt::format("invalid UTF-8 in {}", what));
      pos_ += static_cast<size_t>(n);
      return cp;
    }
    ++pos_;
    const char e = peek();
    ++pos_;
    switch (e) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case '\\':
      case '"':
      case '[':
      case ']':
      case '-':
      case '^':
      case '/':
      case '\'':
        return static_cast<uint8_t>(e);
      case 'x':
        return parse_hex(2, start);
      case 'u':
        return parse_hex(4, start);
      case 'U':
        return parse_hex(8, start);
      default:
        if (e == '\0' && at_end()) fail(start, fmt::format("unterminated {}", what));
        fail(start, fmt::format("unknown escape '\\{}'", describe(pos_ - 1)));
    }
  }

  uint32_t parse_hex(int digits, size_t start) {
    uint64_t v = 0;
    for (int i = 0; i < digits; ++i) {
      const int h = hex_value(peek());
      if (h < 0) fail(start, fmt::format("expected {} hex digits after '{}'", digits, s_.substr(start, 2)));
      v = v * 16 + static_cast<uint64_t>(h);
      ++pos_;
    }
    if (v > kMaxCodePoint || (v >= 0xD800 && v <= 0xDFFF))
      fail(start, fmt::format("escape '{}' is not a Unicode scalar value", s_.substr(start, pos_ - start)));
    return static_cast<uint32_t>(v);
  }

  Node parse_literal() {
    const size_t open = pos_;
    ++pos_;
    Node n;
    n.kind = Node::Kind::literal;
    while (true) {
      if (at_end() || peek() == '\n' || peek() == '\r') fail(open, "unterminated string literal");
      if (peek() == '"') break;
      append_utf8(n.bytes, parse_char("string literal"));
    }
    ++pos_;
    return n;
  }

  Node parse_class() {
    const size_t open = pos_;
    ++pos_;
    const bool negated = peek() == '^';
    if (negated) ++pos_;
    std::vector<CodeRange> ranges;
    while (true) {
      if (at_end() || peek() == '\n' || peek() == '\r') fail(open, "unterminated character class");
      if (peek() == ']') break;
      const size_t item = pos_;
      const uint32_t lo = parse_char("character class");
      uint32_t hi = lo;
      if (peek() == '-' && peek(1) != ']' && pos_ + 1 < s_.size()) {
        ++pos_;
        if (at_end() || peek() == '\n' || peek() == '\r') fail(open, "unterminated character class");
        hi = parse_char("character class");
        if (hi < lo) fail(item, "character range is out of order");
      }
      ranges.push_back({lo, hi});
    }
    ++pos_;
    if (ranges.empty() && !negated) fail(open, "empty character class");
    Node n;
    n.kind = Node::Kind::cclass;
    n.ranges = normalize_ranges(std::move(ranges));
    if (negated) n.ranges = complement_ranges(n.ranges);
    return n;
  }

  std::string_view s_;
  const GrammarLimits& limits_;
  size_t pos_ = 0;
  ParsedGrammar g_;
};

}  // namespace

std::string line_col(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i)
    if (text[i] == '\n') ++line, line_start = i + 1;
  int col = 1;
  for (size_t i = line_start; i < offset; ++i)
    if ((static_cast<uint8_t>(text[i]) & 0xC0) != 0x80) ++col;
  return fmt::format("{}:{}", line, col);
}

Expected<ParsedGrammar> parse_gbnf(std::string_view text, const GrammarLimits& limits) {
  return capture([&] { return Parser(text, limits).parse(); });
}

}  // namespace pagoda::grammar
