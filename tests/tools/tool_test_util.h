#pragma once
// Helpers for the tool-call parser tests: run a parser over pieces of text, check the stream's
// invariants, and compare a stream with parse() of the same text.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "tools/tool_parser.h"

namespace pagoda::tools::test {

struct StreamResult {
  std::string content;
  std::vector<ToolCall> calls;  // arguments = fragments concatenated
  bool saw_calls = false;
  std::vector<StreamDelta> deltas;
};

inline std::unique_ptr<ToolCallParser> make(std::string_view name, ParserOptions options = {}) {
  auto p = make_parser(name, std::move(options));
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
  return p.ok() ? std::move(*p) : nullptr;
}

inline bool is_utf8_start(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
}

// One piece per UTF-8 character (the detokenizer never splits a character).
inline std::vector<std::string> split_chars(const std::string& text) {
  std::vector<std::string> out;
  for (size_t i = 0; i < text.size();) {
    size_t j = i + 1;
    while (j < text.size() && !is_utf8_start(text[j])) ++j;
    out.push_back(text.substr(i, j - i));
    i = j;
  }
  return out;
}

// Pieces of 1 to 8 characters, cut at random character boundaries.
inline std::vector<std::string> split_random(const std::string& text, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> out;
  const auto chars = split_chars(text);
  for (size_t i = 0; i < chars.size();) {
    const size_t n = std::uniform_int_distribution<size_t>(1, 8)(rng);
    std::string piece;
    for (size_t k = 0; k < n && i < chars.size(); ++k) piece += chars[i++];
    out.push_back(piece);
  }
  return out;
}

// Pushes the pieces, then finish(); checks that each call's first delta carries index, id and the
// whole name, that later deltas carry neither, and that indices count up from 0.
inline StreamResult run_stream(ToolCallParser& p, const std::vector<std::string>& pieces) {
  StreamResult r;
  auto take = [&](StreamDelta d) {
    r.content += d.content;
    for (const ToolCallDelta& call : d.calls) {
      if (call.name) {
        EXPECT_EQ(call.index, static_cast<int>(r.calls.size()))
            << "a new call must take the next index";
        EXPECT_TRUE(call.id.has_value() && !call.id->empty()) << "first delta without id";
        EXPECT_FALSE(call.name->empty());
        r.calls.push_back({call.id.value_or(""), *call.name, call.arguments});
      } else {
        EXPECT_FALSE(call.id.has_value()) << "id on a later delta";
        EXPECT_EQ(call.index, static_cast<int>(r.calls.size()) - 1)
            << "fragment for a call that is not the last one";
        if (!r.calls.empty()) r.calls.back().arguments += call.arguments;
      }
    }
    r.deltas.push_back(std::move(d));
  };
  for (const auto& piece : pieces) take(p.push(piece));
  take(p.finish());
  r.saw_calls = p.saw_calls();
  return r;
}

inline nlohmann::ordered_json json_of(const std::string& text) {
  auto value = nlohmann::ordered_json::parse(text, nullptr, false);
  EXPECT_FALSE(value.is_discarded()) << "not JSON: " << text;
  return value;
}

// parse() of the text, after checking that streaming it whole, one character at a time and in
// seeded random pieces gives the same content, the same calls (names, arguments as JSON values)
// and the same saw_calls().
inline ParsedOutput check_consistent(std::string_view parser, const std::string& text,
                                     ParserOptions options = {}) {
  auto whole_parser = make(parser, options);
  if (!whole_parser) return {};
  const ParsedOutput parsed = whole_parser->parse(text);
  EXPECT_FALSE(parsed.content && parsed.content->empty()) << "empty content must be nullopt";
  for (const auto& call : parsed.calls) {
    EXPECT_TRUE(json_of(call.arguments).is_object()) << call.arguments;
    EXPECT_EQ(json_of(call.arguments).dump(), call.arguments)
        << "parse() arguments are compact JSON";
  }
  std::vector<std::pair<std::string, std::vector<std::string>>> modes = {
      {"whole", {text}}, {"chars", split_chars(text)}};
  for (uint32_t seed = 1; seed <= 6; ++seed)
    modes.push_back({"random seed " + std::to_string(seed), split_random(text, seed)});
  for (const auto& [mode, pieces] : modes) {
    SCOPED_TRACE(std::string(parser) + " streamed " + mode);
    auto p = make(parser, options);
    if (!p) return parsed;
    const StreamResult r = run_stream(*p, pieces);
    EXPECT_EQ(r.content, parsed.content.value_or(""));
    EXPECT_EQ(r.saw_calls, !parsed.calls.empty());
    EXPECT_EQ(p->saw_calls(), r.saw_calls);
    if (r.calls.size() != parsed.calls.size()) {
      ADD_FAILURE() << "streamed " << r.calls.size() << " calls, parse() found "
                    << parsed.calls.size();
      continue;
    }
    for (size_t i = 0; i < r.calls.size(); ++i) {
      EXPECT_EQ(r.calls[i].name, parsed.calls[i].name);
      EXPECT_EQ(json_of(r.calls[i].arguments), json_of(parsed.calls[i].arguments))
          << "streamed " << r.calls[i].arguments << " vs " << parsed.calls[i].arguments;
    }
  }
  return parsed;
}

// A parse result that must be plain content: the whole text, no calls.
inline void expect_all_content(const ParsedOutput& out, const std::string& text) {
  EXPECT_TRUE(out.calls.empty());
  if (text.empty()) {
    EXPECT_FALSE(out.content.has_value());
  } else {
    EXPECT_EQ(out.content.value_or("<nullopt>"), text);
  }
}

inline void expect_no_markup(const std::optional<std::string>& content,
                             const std::vector<std::string>& markup) {
  if (!content) return;
  for (const auto& m : markup)
    EXPECT_EQ(content->find(m), std::string::npos) << "markup '" << m << "' in content";
}

// "chatcmpl-tool-" + 32 lowercase hex digits.
inline bool is_openai_id(const std::string& id) {
  const std::string prefix = "chatcmpl-tool-";
  if (id.size() != prefix.size() + 32 || id.compare(0, prefix.size(), prefix) != 0) return false;
  return std::all_of(id.begin() + prefix.size(), id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}
// 9 ASCII letters or digits.
inline bool is_mistral_id(const std::string& id) {
  return id.size() == 9 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
         });
}

}  // namespace pagoda::tools::test
