#include "chat/jinja_lexer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "chat/jinja_value.h"

namespace pagoda::chat::jinja {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Jinja2 splits templates on \r\n, \r and \n and joins with "\n", dropping
// one trailing newline (keep_trailing_newline is off).
std::string normalize_newlines(std::string_view src) {
  std::string out;
  out.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == '\r') {
      if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
      out += '\n';
    } else {
      out += src[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp > 0x10ffff) cp = 0xfffd;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

class Lexer {
 public:
  explicit Lexer(std::string src) : src_(std::move(src)) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i)
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
  }

  std::vector<Token> run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < src_.size()) {
      size_t start = find_tag(pos);
      if (start == std::string::npos) {
        emit_text(src_.substr(pos), pos);
        break;
      }
      std::string text = src_.substr(pos, start - pos);
      char kind = src_[start + 1];
      char sign = start + 2 < src_.size() && (src_[start + 2] == '-' || src_[start + 2] == '+')
                      ? src_[start + 2]
                      : 0;
      strip_before_tag(text, sign, kind != '{', line_starting);
      emit_text(std::move(text), pos);
      size_t inner = start + 2 + (sign ? 1 : 0);
      if (kind == '#') {
        pos = lex_comment(start, inner);
      } else if (kind == '%' && is_raw_begin(inner)) {
        pos = lex_raw(start, inner);
      } else {
        pos = lex_tag(start, inner, kind == '%');
      }
      line_starting = pos > 0 && src_[pos - 1] == '\n';
    }
    Token eof;
    eof.type = TokenType::eof;
    locate(eof, src_.size());
    tokens_.push_back(std::move(eof));
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail(size_t offset, const std::string& message) {
    JinjaError err("TemplateSyntaxError", message);
    Token t;
    locate(t, offset);
    err.set_location(t.line, t.column);
    throw err;
  }

  void locate(Token& t, size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line = static_cast<size_t>(it - line_starts_.begin());
    t.line = static_cast<int>(line);
    t.column = static_cast<int>(offset - line_starts_[line - 1] + 1);
  }

  size_t find_tag(size_t pos) const {
    for (size_t i = src_.find('{', pos); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#'))
        return i;
    }
    return std::string::npos;
  }

  // `-` strips all whitespace before the tag; lstrip_blocks strips the spaces
  // between a line start and a block or comment tag unless `+` says otherwise.
  static void strip_before_tag(std::string& text, char sign, bool is_block_or_comment,
                               bool line_starting) {
    if (sign == '-') {
      size_t end = text.size();
      while (end > 0 && is_space(text[end - 1])) --end;
      text.resize(end);
    } else if (sign != '+' && is_block_or_comment) {
      size_t nl = text.rfind('\n');
      size_t line_pos = nl == std::string::npos ? 0 : nl + 1;
      if (line_pos > 0 || line_starting) {
        bool blank = std::all_of(text.begin() + static_cast<std::ptrdiff_t>(line_pos), text.end(),
                                 [](char c) { return is_space(c); });
        if (blank) text.resize(line_pos);
      }
    }
  }

  void emit_text(std::string text, size_t offset) {
    if (text.empty()) return;
    Token t;
    t.type = TokenType::text;
    t.text = std::move(text);
    locate(t, offset);
    tokens_.push_back(std::move(t));
  }

  // After a closing marker: `-` eats all following whitespace, a plain block
  // or comment end eats one newline (trim_blocks).
  size_t after_tag_end(size_t pos, char sign, bool trim_newline) const {
    if (sign == '-') {
      while (pos < src_.size() && is_space(src_[pos])) ++pos;
    } else if (sign != '+' && trim_newline && pos < src_.size() && src_[pos] == '\n') {
      ++pos;
    }
    return pos;
  }

  size_t lex_comment(size_t start, size_t inner) {
    size_t end = src_.find("#}", inner);
    if (end == std::string::npos) fail(start, "unclosed comment: missing '#}'");
    char sign = end > inner && (src_[end - 1] == '-' || src_[end - 1] == '+') ? src_[end - 1] : 0;
    return after_tag_end(end + 2, sign, true);
  }

  // Matches `\s*raw\s*(-|+)?%}` at `inner`.
  bool match_keyword_tag(size_t inner, std::string_view word, size_t* after, char* end_sign) const {
    size_t p = inner;
    while (p < src_.size() && is_space(src_[p])) ++p;
    if (src_.compare(p, word.size(), word) != 0) return false;
    p += word.size();
    if (p < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[p])) || src_[p] == '_'))
      return false;
    while (p < src_.size() && is_space(src_[p])) ++p;
    char sign = 0;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) sign = src_[p++];
    if (src_.compare(p, 2, "%}") != 0) return false;
    *after = p + 2;
    *end_sign = sign;
    return true;
  }

  bool is_raw_begin(size_t inner) const {
    size_t after = 0;
    char sign = 0;
    return match_keyword_tag(inner, "raw", &after, &sign);
  }

  size_t lex_raw(size_t start, size_t inner) {
    size_t after = 0;
    char sign = 0;
    match_keyword_tag(inner, "raw", &after, &sign);
    size_t body_start = sign == '-' ? after_tag_end(after, '-', false) : after;
    for (size_t p = src_.find("{%", body_start); p != std::string::npos; p = src_.find("{%", p + 1)) {
      char open_sign = p + 2 < src_.size() && (src_[p + 2] == '-' || src_[p + 2] == '+') ? src_[p + 2] : 0;
      size_t end_after;
      char end_sign;
      if (!match_keyword_tag(p + 2 + (open_sign ? 1 : 0), "endraw", &end_after, &end_sign)) continue;
      std::string body = src_.substr(body_start, p - body_start);
      bool line_starting = body_start > 0 && src_[body_start - 1] == '\n';
      strip_before_tag(body, open_sign, true, line_starting);
      emit_text(std::move(body), body_start);
      return after_tag_end(end_after, end_sign, true);
    }
    fail(start, "missing '{% endraw %}' for this raw block");
  }

  size_t lex_tag(size_t start, size_t inner, bool is_block) {
    Token begin;
    begin.type = is_block ? TokenType::block_begin : TokenType::var_begin;
    locate(begin, start);
    tokens_.push_back(std::move(begin));
    int depth = 0;  // brackets: a closing marker inside them is an operator
    size_t p = inner;
    char prev_nonspace = 0;
    while (true) {
      while (p < src_.size() && is_space(src_[p])) ++p;
      if (p >= src_.size())
        fail(start, is_block ? "unclosed block tag: missing '%}'" : "unclosed expression: missing '}}'");
      // Closing marker, optionally with whitespace control.
      if (depth == 0) {
        char sign = (src_[p] == '-' || (is_block && src_[p] == '+')) ? src_[p] : 0;
        size_t q = p + (sign ? 1 : 0);
        if (src_.compare(q, 2, is_block ? "%}" : "}}") == 0) {
          Token end;
          end.type = is_block ? TokenType::block_end : TokenType::var_end;
          locate(end, p);
          tokens_.push_back(std::move(end));
          return after_tag_end(q + 2, sign, is_block);
        }
      }
      Token t;
      locate(t, p);
      char c = src_[p];
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t q = p;
        while (q < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[q])) || src_[q] == '_')) ++q;
        t.type = TokenType::name;
        t.text = src_.substr(p, q - p);
        p = q;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        p = lex_number(p, t, prev_nonspace == '.');
      } else if (c == '\'' || c == '"') {
        p = lex_string(p, t);
      } else {
        static const char* kTwo[] = {"//", "**", "==", "!=", "<=", ">="};
        std::string op;
        for (const char* two : kTwo)
          if (src_.compare(p, 2, two) == 0) op = two;
        if (op.empty()) {
          if (std::string_view("+-*/%~()[]{},.:|=<>").find(c) == std::string_view::npos)
            fail(p, fmt::format("unexpected character '{}'", c));
          op = std::string(1, c);
        }
        if (op == "(" || op == "[" || op == "{") ++depth;
        if ((op == ")" || op == "]" || op == "}") && depth > 0) --depth;
        t.type = TokenType::op;
        t.text = op;
        p += op.size();
      }
      prev_nonspace = src_[p - 1];
      tokens_.push_back(std::move(t));
    }
  }

  size_t lex_number(size_t p, Token& t, bool after_dot) {
    auto digits = [&](size_t q) {
      while (q < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[q])) ||
                                 (src_[q] == '_' && q + 1 < src_.size() &&
                                  std::isdigit(static_cast<unsigned char>(src_[q + 1])))))
        ++q;
      return q;
    };
    size_t q = digits(p);
    bool is_float = false;
    if (!after_dot) {
      if (q + 1 < src_.size() && src_[q] == '.' && std::isdigit(static_cast<unsigned char>(src_[q + 1]))) {
        q = digits(q + 1);
        is_float = true;
      }
      if (q < src_.size() && (src_[q] == 'e' || src_[q] == 'E')) {
        size_t e = q + 1;
        if (e < src_.size() && (src_[e] == '+' || src_[e] == '-')) ++e;
        if (e < src_.size() && std::isdigit(static_cast<unsigned char>(src_[e]))) {
          q = digits(e);
          is_float = true;
        }
      }
    }
    std::string spelled;
    for (size_t i = p; i < q; ++i)
      if (src_[i] != '_') spelled += src_[i];
    if (is_float) {
      t.type = TokenType::floating;
      t.float_value = std::strtod(spelled.c_str(), nullptr);
    } else {
      t.type = TokenType::integer;
      errno = 0;
      unsigned long long v = std::strtoull(spelled.c_str(), nullptr, 10);
      if (errno == ERANGE || v > static_cast<unsigned long long>(INT64_MAX))
        fail(p, "integer literal too large: " + spelled);
      t.int_value = static_cast<int64_t>(v);
    }
    t.text = spelled;
    return q;
  }

  size_t lex_string(size_t p, Token& t) {
    char quote = src_[p];
    std::string out;
    size_t q = p + 1;
    while (true) {
      if (q >= src_.size()) fail(p, "unterminated string literal");
      char c = src_[q];
      if (c == quote) break;
      if (c != '\\') {
        out += c;
        ++q;
        continue;
      }
      if (q + 1 >= src_.size()) fail(p, "unterminated string literal");
      char e = src_[q + 1];
      q += 2;
      switch (e) {
        case '\n': break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        case 'x':
        case 'u':
        case 'U': {
          size_t n = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
          if (q + n > src_.size()) fail(q - 2, "truncated \\" + std::string(1, e) + " escape");
          uint32_t cp = 0;
          for (size_t i = 0; i < n; ++i) {
            char h = src_[q + i];
            if (!std::isxdigit(static_cast<unsigned char>(h)))
              fail(q - 2, "truncated \\" + std::string(1, e) + " escape");
            cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h))
                                                     ? h - '0'
                                                     : std::tolower(static_cast<unsigned char>(h)) - 'a' + 10);
          }
          q += n;
          append_utf8(out, cp);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int i = 0; i < 2 && q < src_.size() && src_[q] >= '0' && src_[q] <= '7'; ++i, ++q)
              cp = cp * 8 + static_cast<uint32_t>(src_[q] - '0');
            append_utf8(out, cp);
          } else {
            out += '\\';
            out += e;
          }
      }
    }
    t.type = TokenType::string;
    t.text = std::move(out);
    return q + 1;
  }

  std::string src_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(normalize_newlines(source)).run(); }

}  // namespace pagoda::chat::jinja
