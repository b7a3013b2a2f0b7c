#pragma once
// Small text helpers shared by the tool-call formats: whitespace, literal matching against text
// that may still be arriving, and an incremental scanner that finds where one JSON value ends.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pagoda::tools {

inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Where `text` stands against a literal that should come next: it starts with the whole literal
// (yes), it is a proper prefix of it so more text may still complete it (partial, also for
// empty text), or it has diverged (no).
enum class Match { yes, partial, no };
Match match_literal(std::string_view text, std::string_view literal);

// Length of the longest proper suffix of `text` that is a prefix of one of `literals`: the bytes
// that must wait because they may still become one of them.
size_t partial_suffix(std::string_view text, const std::vector<std::string>& literals);

// Finds the end of one JSON value in text fed in pieces. It tracks strings, escapes and bracket
// nesting (so braces inside strings do not count), and rejects what can never be JSON (a closer
// of the wrong kind, a raw control character in a string). It does not validate numbers or
// literals: the finished value is checked by nlohmann. The value must start at the first byte
// fed (no leading whitespace). A bare number or literal ends at the first byte that cannot
// continue it, which is then not consumed.
class JsonValueScanner {
 public:
  enum class State { running, done, bad };
  // Consumes bytes of `text` that belong to the value; stops at its end or at an error.
  // Returns the number of bytes consumed.
  size_t feed(std::string_view text);
  State state() const { return state_; }

 private:
  State state_ = State::running;
  bool started_ = false;
  bool in_string_ = false;
  bool escape_ = false;
  bool scalar_ = false;        // a top-level number or literal
  std::vector<char> closers_;  // expected closing brackets, innermost last
};

// The decoded text of a complete JSON string literal ("\"a\\n\"" -> "a\n"), or nullopt.
std::optional<std::string> decode_json_string(std::string_view literal);

// The compact serialisation (key order kept) of a JSON object text, or nullopt when the text is
// not exactly one JSON object.
std::optional<std::string> compact_json_object(std::string_view text);

}  // namespace pagoda::tools
