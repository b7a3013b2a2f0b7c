#include "chat/jinja_strings.h"

#include <algorithm>
#include <cctype>

#include "chat/jinja_interpreter.h"

namespace pagoda::chat::jinja {

bool py_is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1f);
}

std::string py_strip(std::string_view s, const std::string* chars, bool left, bool right) {
  auto strip_char = [&](unsigned char c) {
    return chars ? chars->find(static_cast<char>(c)) != std::string::npos : py_is_space(c);
  };
  size_t b = 0, e = s.size();
  if (left)
    while (b < e && strip_char(s[b])) ++b;
  if (right)
    while (e > b && strip_char(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

std::vector<std::string> py_split(std::string_view s, std::string_view sep, int64_t maxsplit, bool from_right) {
  std::vector<std::string> parts;
  if (!from_right) {
    size_t start = 0;
    for (int64_t n = 0; maxsplit < 0 || n < maxsplit; ++n) {
      size_t p = s.find(sep, start);
      if (p == std::string_view::npos) break;
      parts.emplace_back(s.substr(start, p - start));
      start = p + sep.size();
    }
    parts.emplace_back(s.substr(start));
    return parts;
  }
  size_t end = s.size();
  for (int64_t n = 0; maxsplit < 0 || n < maxsplit; ++n) {
    if (end < sep.size()) break;
    size_t p = s.rfind(sep, end - sep.size());
    if (p == std::string_view::npos) break;
    parts.emplace_back(s.substr(p + sep.size(), end - p - sep.size()));
    end = p;
  }
  parts.emplace_back(s.substr(0, end));
  std::reverse(parts.begin(), parts.end());
  return parts;
}

std::vector<std::string> py_split_whitespace(std::string_view s, int64_t maxsplit, bool from_right) {
  std::vector<std::string> parts;
  if (!from_right) {
    size_t i = 0;
    while (true) {
      while (i < s.size() && py_is_space(s[i])) ++i;
      if (i >= s.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
        size_t e = s.size();
        while (e > i && py_is_space(s[e - 1])) --e;
        parts.emplace_back(s.substr(i, e - i));
        break;
      }
      size_t j = i;
      while (j < s.size() && !py_is_space(s[j])) ++j;
      parts.emplace_back(s.substr(i, j - i));
      i = j;
    }
    return parts;
  }
  size_t e = s.size();
  while (true) {
    while (e > 0 && py_is_space(s[e - 1])) --e;
    if (e == 0) break;
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
      size_t b = 0;
      while (b < e && py_is_space(s[b])) ++b;
      parts.emplace_back(s.substr(b, e - b));
      break;
    }
    size_t b = e;
    while (b > 0 && !py_is_space(s[b - 1])) --b;
    parts.emplace_back(s.substr(b, e - b));
    e = b;
  }
  std::reverse(parts.begin(), parts.end());
  return parts;
}

std::vector<std::string> py_splitlines(std::string_view s, bool keepends) {
  std::vector<std::string> lines;
  size_t start = 0, i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    size_t brk = 0;  // length of the line break at i
    if (c == '\r') brk = (i + 1 < s.size() && s[i + 1] == '\n') ? 2 : 1;
    else if (c == '\n' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e)) brk = 1;
    else if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x85) brk = 2;
    else if (c == 0xe2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
             (static_cast<unsigned char>(s[i + 2]) == 0xa8 || static_cast<unsigned char>(s[i + 2]) == 0xa9))
      brk = 3;
    if (!brk) {
      ++i;
      continue;
    }
    lines.emplace_back(s.substr(start, (keepends ? i + brk : i) - start));
    i += brk;
    start = i;
  }
  if (start < s.size()) lines.emplace_back(s.substr(start));
  return lines;
}

std::string py_replace(Interpreter& in, std::string_view s, std::string_view old_s, std::string_view new_s,
                       int64_t count) {
  std::string out;
  if (old_s.empty()) {
    // Python inserts `new` before every character and at the end.
    auto chars = utf8_chars(s);
    int64_t n = 0;
    for (const auto& c : chars) {
      if (count < 0 || n < count) out += new_s, ++n;
      out += c;
      in.check_string_size(out.size());
    }
    if (count < 0 || n < count) out += new_s;
    return out;
  }
  size_t start = 0;
  for (int64_t n = 0; count < 0 || n < count; ++n) {
    size_t p = s.find(old_s, start);
    if (p == std::string_view::npos) break;
    out.append(s.substr(start, p - start));
    out.append(new_s);
    in.check_string_size(out.size());
    start = p + old_s.size();
  }
  out.append(s.substr(start));
  in.check_string_size(out.size());
  return out;
}

std::string ascii_upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string ascii_lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string py_title(std::string_view s) {
  std::string out(s);
  bool previous_cased = false;
  for (char& ch : out) {
    unsigned char c = ch;
    if (std::isalpha(c)) {
      ch = static_cast<char>(previous_cased ? std::tolower(c) : std::toupper(c));
      previous_cased = true;
    } else {
      previous_cased = c >= 0x80;  // treat non-ASCII letters as part of the word
    }
  }
  return out;
}

std::string py_capitalize(std::string_view s) {
  std::string out = ascii_lower(std::string(s));
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

std::string jinja_title(std::string_view s) {
  auto is_sep = [](unsigned char c) { return py_is_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<'; };
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    bool sep = is_sep(s[i]);
    while (j < s.size() && is_sep(s[j]) == sep) ++j;
    std::string piece(s.substr(i, j - i));
    if (!sep) piece = py_capitalize(piece);
    else piece[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(piece[0])));
    out += piece;
    i = j;
  }
  return out;
}

std::string py_justify(std::string_view s, int64_t width, std::string_view fill, char where) {
  int64_t len = static_cast<int64_t>(utf8_length(s));
  if (width <= len) return std::string(s);
  int64_t margin = width - len;
  int64_t left = where == '<' ? 0 : where == '>' ? margin : margin / 2 + (margin & width & 1);
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += s;
  for (int64_t i = 0; i < margin - left; ++i) out += fill;
  return out;
}

}  // namespace pagoda::chat::jinja
