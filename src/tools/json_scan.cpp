#include "tools/json_scan.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace pagoda::tools {

Match match_literal(std::string_view text, std::string_view literal) {
  const size_t n = std::min(text.size(), literal.size());
  if (text.substr(0, n) != literal.substr(0, n)) return Match::no;
  return text.size() >= literal.size() ? Match::yes : Match::partial;
}

size_t partial_suffix(std::string_view text, const std::vector<std::string>& literals) {
  size_t longest = 0;
  for (const auto& lit : literals) {
    const size_t max_k = std::min(text.size(), lit.empty() ? 0 : lit.size() - 1);
    for (size_t k = max_k; k > longest; --k) {
      if (text.substr(text.size() - k) == std::string_view(lit).substr(0, k)) {
        longest = k;
        break;
      }
    }
  }
  return longest;
}

namespace {
bool continues_scalar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+' ||
         c == '-' || c == '.';
}
}  // namespace

size_t JsonValueScanner::feed(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && state_ == State::running) {
    const char c = text[i];
    if (!started_) {
      started_ = true;
      if (c == '{') {
        closers_.push_back('}');
      } else if (c == '[') {
        closers_.push_back(']');
      } else if (c == '"') {
        in_string_ = true;
      } else if (c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n') {
        scalar_ = true;
      } else {
        state_ = State::bad;
        return i;
      }
      ++i;
      continue;
    }
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
        if (closers_.empty()) state_ = State::done;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        state_ = State::bad;  // JSON strings hold no raw control characters
        return i;
      }
      ++i;
      continue;
    }
    if (scalar_) {
      if (!continues_scalar(c)) {
        state_ = State::done;  // the byte after a bare scalar is not part of it
        return i;
      }
      ++i;
      continue;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{') {
      closers_.push_back('}');
    } else if (c == '[') {
      closers_.push_back(']');
    } else if (c == '}' || c == ']') {
      if (closers_.empty() || closers_.back() != c) {
        state_ = State::bad;
        return i;
      }
      closers_.pop_back();
      if (closers_.empty()) state_ = State::done;
    }
    ++i;
  }
  return i;
}

std::optional<std::string> decode_json_string(std::string_view literal) {
  auto value = nlohmann::json::parse(literal, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_string()) return std::nullopt;
  return value.get<std::string>();
}

std::optional<std::string> compact_json_object(std::string_view text) {
  auto value = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_object()) return std::nullopt;
  // The parser has already rejected invalid UTF-8; replace keeps dump() from ever throwing.
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace pagoda::tools
