#pragma once
// Python str operations on UTF-8 text, shared by string methods and filters.
// Case mapping covers ASCII letters only; other characters pass unchanged.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pagoda::chat::jinja {

class Interpreter;

// True for the characters Python's str.split()/strip() treat as whitespace (ASCII subset).
bool py_is_space(unsigned char c);
// str.strip/lstrip/rstrip; `chars` null means whitespace.
std::string py_strip(std::string_view s, const std::string* chars, bool left, bool right);
// str.split(sep, maxsplit) / rsplit when `from_right`.
std::vector<std::string> py_split(std::string_view s, std::string_view sep, int64_t maxsplit, bool from_right);
// str.split() with no separator: runs of whitespace, ends ignored.
std::vector<std::string> py_split_whitespace(std::string_view s, int64_t maxsplit, bool from_right);
// str.splitlines(keepends).
std::vector<std::string> py_splitlines(std::string_view s, bool keepends);
// str.replace(old, new, count); count < 0 replaces all. Checks the output limit.
std::string py_replace(Interpreter& in, std::string_view s, std::string_view old_s, std::string_view new_s,
                       int64_t count);
std::string ascii_upper(std::string s);
std::string ascii_lower(std::string s);
// str.title() and str.capitalize().
std::string py_title(std::string_view s);
std::string py_capitalize(std::string_view s);
// Jinja's `title` filter: each word split at whitespace, '-', '(', '{', '[', '<'.
std::string jinja_title(std::string_view s);
// str.center / ljust / rjust (where: '^', '<', '>'); `fill` is one character.
std::string py_justify(std::string_view s, int64_t width, std::string_view fill, char where);

}  // namespace pagoda::chat::jinja
