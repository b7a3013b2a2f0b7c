#include "tools/python_literal.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "tools/json_scan.h"

namespace pagoda::tools {
namespace {

using Json = nlohmann::ordered_json;

// Thrown inside the reader; parse_python_calls() turns them into its result.
struct Incomplete {};
struct Invalid {};

constexpr int kMaxDepth = 64;

bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_ident_char(char c) {
  return is_ident_start(c) || (c >= '0' && c <= '9');
}
bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int hex_value(char c) {
  return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) throw Invalid{};  // not encodable as UTF-8
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Reader {
 public:
  explicit Reader(std::string_view text) : t_(text) {}

  void calls(std::vector<PythonCall>& out) {
    space();
    expect('[');
    space();
    if (peek() == ']') {
      ++i_;
    } else {
      for (;;) {
        out.push_back(call());
        if (!separator(']')) break;
      }
    }
    space();
    if (i_ != t_.size()) throw Invalid{};  // the list must be the whole text
  }

 private:
  char peek() const {
    if (i_ >= t_.size()) throw Incomplete{};
    return t_[i_];
  }
  void expect(char c) {
    if (peek() != c) throw Invalid{};
    ++i_;
  }
  void space() {
    while (i_ < t_.size() && is_space(t_[i_])) ++i_;
  }
  // After an item: "," (optionally followed by the closer) or the closer. True when another item
  // follows.
  bool separator(char closer) {
    space();
    const char c = peek();
    ++i_;
    if (c == closer) return false;
    if (c != ',') throw Invalid{};
    space();
    if (peek() == closer) {
      ++i_;
      return false;
    }
    return true;
  }

  std::string word(bool name) {
    if (!is_ident_start(peek())) throw Invalid{};
    const size_t start = i_;
    while (i_ < t_.size() && (is_ident_char(t_[i_]) || (name && (t_[i_] == '.' || t_[i_] == '-'))))
      ++i_;
    if (i_ == t_.size()) throw Incomplete{};  // the word may go on
    return std::string(t_.substr(start, i_ - start));
  }

  PythonCall call() {
    PythonCall c;
    c.name = word(/*name=*/true);
    space();
    expect('(');
    c.arguments = Json::object();
    space();
    if (peek() == ')') {
      ++i_;
      return c;
    }
    for (;;) {
      std::string key = word(/*name=*/false);  // positional arguments have no JSON form
      space();
      expect('=');
      space();
      if (c.arguments.contains(key)) throw Invalid{};  // Python: repeated keyword argument
      c.arguments[key] = value(1);
      if (!separator(')')) break;
    }
    return c;
  }

  Json value(int depth) {
    if (depth > kMaxDepth) throw Invalid{};
    const char c = peek();
    if (c == '"' || c == '\'' || is_string_prefix()) return Json(strings());
    if (c == '[') return sequence(']', depth);
    if (c == '(') return sequence(')', depth);
    if (c == '{') return dict(depth);
    if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.') return number();
    const std::string w = word(false);
    if (w == "True" || w == "true") return true;
    if (w == "False" || w == "false") return false;
    if (w == "None" || w == "null") return nullptr;
    throw Invalid{};  // a name or a nested call: not a literal
  }

  // r"…", u'…', R"…": the prefixes of str literals (b and f strings are not JSON values).
  bool is_string_prefix() const {
    if (i_ >= t_.size()) return false;
    const char c = t_[i_];
    if (c != 'r' && c != 'R' && c != 'u' && c != 'U') return false;
    if (i_ + 1 >= t_.size()) throw Incomplete{};
    return t_[i_ + 1] == '"' || t_[i_ + 1] == '\'';
  }

  // One string literal, or several written next to each other ("a" "b" is "ab").
  std::string strings() {
    std::string out = string();
    for (;;) {
      const size_t save = i_;
      space();
      if (i_ < t_.size() && (t_[i_] == '"' || t_[i_] == '\'' || is_string_prefix())) {
        out += string();
      } else {
        i_ = save;
        return out;
      }
    }
  }

  std::string string() {
    bool raw = false;
    if (peek() != '"' && peek() != '\'') {
      raw = t_[i_] == 'r' || t_[i_] == 'R';
      ++i_;
    }
    const char q = peek();
    size_t n = 0;
    while (n < 3 && i_ + n < t_.size() && t_[i_ + n] == q) ++n;
    if (n < 3 && i_ + n == t_.size()) throw Incomplete{};  // "" or the start of """
    std::string out;
    if (n == 2) {
      i_ += 2;
      return out;
    }
    const bool triple = n == 3;
    i_ += triple ? 3 : 1;
    for (;;) {
      const char c = peek();
      if (c == q) {
        if (!triple) {
          ++i_;
          return out;
        }
        if (i_ + 3 > t_.size()) throw Incomplete{};
        if (t_[i_ + 1] == q && t_[i_ + 2] == q) {
          i_ += 3;
          return out;
        }
        out += c;
        ++i_;
      } else if (c == '\n' && !triple) {
        throw Invalid{};
      } else if (c == '\\') {
        ++i_;
        if (raw) {
          out += '\\';
          out += peek();  // a raw string keeps the backslash and the byte after it
          ++i_;
        } else {
          escape(out);
        }
      } else {
        out += c;
        ++i_;
      }
    }
  }

  uint32_t hex_digits(int count) {
    uint32_t v = 0;
    for (int k = 0; k < count; ++k) {
      const char c = peek();
      if (!is_hex(c)) throw Invalid{};
      v = v * 16 + hex_value(c);
      ++i_;
    }
    return v;
  }

  void escape(std::string& out) {
    const char c = peek();
    ++i_;
    switch (c) {
      case '\n':
        return;  // line continuation
      case '\\':
        out += '\\';
        return;
      case '\'':
        out += '\'';
        return;
      case '"':
        out += '"';
        return;
      case 'n':
        out += '\n';
        return;
      case 't':
        out += '\t';
        return;
      case 'r':
        out += '\r';
        return;
      case 'a':
        out += '\a';
        return;
      case 'b':
        out += '\b';
        return;
      case 'f':
        out += '\f';
        return;
      case 'v':
        out += '\v';
        return;
      case 'x':
        append_utf8(out, hex_digits(2));
        return;
      case 'u':
        append_utf8(out, hex_digits(4));
        return;
      case 'U':
        append_utf8(out, hex_digits(8));
        return;
      case 'N':
        throw Invalid{};  // \N{name}: no name table here
      default:
        break;
    }
    if (c >= '0' && c <= '7') {
      uint32_t v = c - '0';
      for (int k = 0; k < 2 && peek() >= '0' && peek() <= '7'; ++k) v = v * 8 + (t_[i_++] - '0');
      append_utf8(out, v);
      return;
    }
    out += '\\';  // Python keeps unknown escapes as written
    out += c;
  }

  Json number() {
    const size_t start = i_;
    if (t_[i_] == '-' || t_[i_] == '+') ++i_;
    while (i_ < t_.size()) {
      const char c = t_[i_];
      const bool exp_sign = (c == '-' || c == '+') && (t_[i_ - 1] == 'e' || t_[i_ - 1] == 'E') &&
                            !(t_.substr(start).find_first_of("xX") != std::string_view::npos);
      if (!(is_ident_char(c) || c == '.' || exp_sign)) break;
      ++i_;
    }
    if (i_ == t_.size()) throw Incomplete{};  // more digits may follow
    std::string s;
    for (char c : t_.substr(start, i_ - start))
      if (c != '_') s += c;
    const bool negative = s[0] == '-';
    const size_t body = (s[0] == '-' || s[0] == '+') ? 1 : 0;
    if (body == s.size()) throw Invalid{};
    int base = 10;
    if (s.size() > body + 1 && s[body] == '0' &&
        std::string_view("xXoObB").find(s[body + 1]) != std::string_view::npos) {
      base = (s[body + 1] | 0x20) == 'x' ? 16 : (s[body + 1] | 0x20) == 'o' ? 8 : 2;
      return integer(s.substr(body + 2), base, negative);
    }
    if (s.find_first_of(".eE", body) != std::string::npos) {
      char* end = nullptr;
      const double d = std::strtod(s.c_str(), &end);
      if (end != s.c_str() + s.size() || !std::isfinite(d) ||
          s.find_first_of("xXjJ") != std::string::npos)
        throw Invalid{};
      return d;
    }
    if (s.size() > body + 1 && s[body] == '0' &&
        s.find_first_not_of('0', body) != std::string::npos)
      throw Invalid{};  // Python 3 has no leading-zero decimals
    return integer(s.substr(body), 10, negative);
  }

  static Json integer(const std::string& digits, int base, bool negative) {
    if (digits.empty()) throw Invalid{};
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
    if (end != digits.data() + digits.size()) throw Invalid{};
    if (ec == std::errc::result_out_of_range) {
      // Python ints are unbounded; JSON numbers this large can only be approximated.
      double d = 0;
      for (char c : digits) d = d * base + hex_value(c);
      return negative ? -d : d;
    }
    if (!negative) return v;
    if (v <= static_cast<uint64_t>(INT64_MAX)) return -static_cast<int64_t>(v);
    if (v == static_cast<uint64_t>(INT64_MAX) + 1) return INT64_MIN;
    return -static_cast<double>(v);
  }

  Json sequence(char closer, int depth) {
    ++i_;
    Json out = Json::array();
    space();
    if (peek() == closer) {
      ++i_;
      return out;
    }
    bool comma_after_last = false;
    for (;;) {
      out.push_back(value(depth + 1));
      space();
      if (peek() != ',') {
        expect(closer);
        break;
      }
      ++i_;
      space();
      if (peek() == closer) {
        ++i_;
        comma_after_last = true;
        break;
      }
    }
    // (x) is x itself; (x,) and (x, y) are tuples.
    if (closer == ')' && out.size() == 1 && !comma_after_last) return out[0];
    return out;
  }

  Json dict(int depth) {
    ++i_;
    Json out = Json::object();
    space();
    if (peek() == '}') {
      ++i_;
      return out;
    }
    for (;;) {
      Json key = value(depth + 1);
      std::string k;
      if (key.is_string()) {
        k = key.get<std::string>();
      } else if (key.is_number() || key.is_boolean() || key.is_null()) {
        k = key.dump();  // what json.dumps makes of such keys
      } else {
        throw Invalid{};  // lists are not hashable
      }
      space();
      expect(':');
      space();
      out[k] = value(depth + 1);
      if (!separator('}')) break;
    }
    return out;
  }

  std::string_view t_;
  size_t i_ = 0;
};

}  // namespace

PythonParse parse_python_calls(std::string_view text, std::vector<PythonCall>& calls) {
  calls.clear();
  try {
    Reader(text).calls(calls);
    return PythonParse::ok;
  } catch (const Incomplete&) {
    calls.clear();
    return PythonParse::incomplete;
  } catch (const Invalid&) {
    calls.clear();
    return PythonParse::invalid;
  } catch (const std::exception&) {  // nlohmann on a value it cannot hold
    calls.clear();
    return PythonParse::invalid;
  }
}

}  // namespace pagoda::tools
