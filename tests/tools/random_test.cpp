// Seeded random outputs in every format (valid ones, to check the calls come out exactly, and
// random markup soup, to check nothing breaks the stream's contract).
#include "tool_test_util.h"
#include "tools/json_scan.h"

namespace pagoda::tools::test {
namespace {

using Json = nlohmann::ordered_json;

const std::vector<std::string> kStrings = {"café",        "😀 ok", "中文",        "say \"hi\"",
                                           "back\\slash", "}{][", "<tool_call>", "[TOOL_CALLS]",
                                           "line\nbreak", "",     "f(a=1)",      "</tool_call>"};
const std::vector<std::string> kKeys = {"city", "n", "flag", "data", "query"};
const std::vector<std::string> kNames = {"get_weather", "search", "write_file", "f"};

Json random_value(std::mt19937& rng, int depth) {
  const int kind = std::uniform_int_distribution<int>(0, depth > 2 ? 4 : 6)(rng);
  switch (kind) {
    case 0:
      return kStrings[rng() % kStrings.size()];
    case 1:
      return static_cast<int64_t>(rng() % 2001) - 1000;
    case 2:
      return (static_cast<int>(rng() % 17) - 8) / 4.0;  // exact in binary
    case 3:
      return rng() % 2 == 0;
    case 4:
      return nullptr;
    case 5: {
      Json a = Json::array();
      for (int i = rng() % 4; i > 0; --i) a.push_back(random_value(rng, depth + 1));
      return a;
    }
    default: {
      Json o = Json::object();
      for (int i = rng() % 4; i > 0; --i)
        o[kKeys[rng() % kKeys.size()]] = random_value(rng, depth + 1);
      return o;
    }
  }
}

Json random_args(std::mt19937& rng) {
  Json o = Json::object();
  for (int i = rng() % 4; i > 0; --i) o[kKeys[rng() % kKeys.size()]] = random_value(rng, 1);
  return o;
}

std::string dump(const Json& j, std::mt19937& rng) {
  return rng() % 2 ? j.dump() : j.dump(2);
}

// The Python spelling of a JSON value, as Llama writes call arguments.
std::string python(const Json& j) {
  if (j.is_null()) return "None";
  if (j.is_boolean()) return j.get<bool>() ? "True" : "False";
  if (j.is_number()) return j.dump();
  if (j.is_string()) {
    std::string out = "'";
    for (char c : j.get<std::string>()) {
      if (c == '\'' || c == '\\') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    return out + "'";
  }
  std::string out = j.is_array() ? "[" : "{";
  bool first = true;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!first) out += ", ";
    first = false;
    if (j.is_object()) out += "'" + it.key() + "': ";
    out += python(*it);
  }
  return out + (j.is_array() ? "]" : "}");
}

struct Case {
  std::string text;
  std::optional<std::string> content;
  std::vector<std::pair<std::string, Json>> calls;
};

Case make_case(const std::string& format, std::mt19937& rng) {
  Case c;
  const int n = format == "named_json" ? 1 : 1 + rng() % 3;
  for (int i = 0; i < n; ++i) c.calls.push_back({kNames[rng() % kNames.size()], random_args(rng)});
  if (format == "named_json") c.calls[0].first = "f";
  const std::vector<std::string> prefixes = {"", "Sure.", "Let me check 😀 <tool", "a < b and [x] ",
                                             "\n"};
  const std::string prefix = prefixes[rng() % prefixes.size()];
  auto object = [&](const std::pair<std::string, Json>& call, const char* key) {
    Json o = Json::object();
    o["name"] = call.first;
    o[key] = call.second;
    return o;
  };
  std::string& t = c.text;
  if (format == "hermes" || format == "mistral" || format == "granite") {
    t = prefix;
    std::string trimmed = prefix;
    while (!trimmed.empty() && is_space(trimmed.back())) trimmed.pop_back();
    if (!trimmed.empty()) c.content = trimmed;
  }
  if (format == "hermes") {
    for (const auto& call : c.calls)
      t += "<tool_call>\n" + dump(object(call, "arguments"), rng) + "\n</tool_call>\n";
  } else if (format == "granite" || format == "required_json" ||
             (format == "mistral" && rng() % 2)) {
    Json list = Json::array();
    for (const auto& call : c.calls)
      list.push_back(object(call, format == "required_json" ? "parameters" : "arguments"));
    t += format == "granite" ? "<|tool_call|>" : format == "mistral" ? "[TOOL_CALLS]" : "";
    t += dump(list, rng);
  } else if (format == "mistral") {
    for (const auto& call : c.calls)
      t += "[TOOL_CALLS]" + call.first + (rng() % 2 ? "[ARGS]" : "") + dump(call.second, rng);
  } else if (format == "llama3_json") {
    if (rng() % 2) t += "<|python_tag|>";
    for (size_t i = 0; i < c.calls.size(); ++i)
      t += (i ? "; " : "") + dump(object(c.calls[i], "parameters"), rng);
  } else if (format == "pythonic") {
    t = "[";
    for (size_t i = 0; i < c.calls.size(); ++i) {
      t += (i ? ", " : "") + c.calls[i].first + "(";
      bool first = true;
      for (auto it = c.calls[i].second.begin(); it != c.calls[i].second.end(); ++it, first = false)
        t += (first ? "" : ", ") + it.key() + "=" + python(*it);
      t += ")";
    }
    t += "]";
  } else if (format == "named_json") {
    t = " " + dump(c.calls[0].second, rng);
  }
  return c;
}

TEST(RandomOutputs, ValidCallsComeOutExactly) {
  for (const std::string format :
       {"hermes", "llama3_json", "mistral", "granite", "pythonic", "required_json", "named_json"}) {
    std::mt19937 rng(1234);
    ParserOptions options;
    options.forced_name = "f";
    for (int i = 0; i < 60; ++i) {
      const Case c = make_case(format, rng);
      SCOPED_TRACE(format + " case " + std::to_string(i) + ": " + c.text);
      const auto out = check_consistent(format, c.text, options);
      EXPECT_EQ(out.content, c.content);
      ASSERT_EQ(out.calls.size(), c.calls.size());
      for (size_t k = 0; k < c.calls.size(); ++k) {
        EXPECT_EQ(out.calls[k].name, c.calls[k].first);
        EXPECT_EQ(json_of(out.calls[k].arguments), c.calls[k].second);
      }
    }
  }
}

TEST(RandomOutputs, MarkupSoupKeepsTheContract) {
  const std::vector<std::string> atoms = {"<tool_call>",
                                          "</tool_call>",
                                          "<|tool_call|>",
                                          "[TOOL_CALLS]",
                                          "<|python_tag|>",
                                          "<|python_start|>",
                                          "[ARGS]",
                                          "{",
                                          "}",
                                          "[",
                                          "]",
                                          "(",
                                          ")",
                                          "\"name\"",
                                          "\"arguments\"",
                                          "\"parameters\"",
                                          ":",
                                          ",",
                                          ";",
                                          "\"f\"",
                                          "f",
                                          "a=1",
                                          "null",
                                          "1",
                                          " ",
                                          "\n",
                                          "é",
                                          "\\",
                                          "\"",
                                          "'",
                                          "<tool",
                                          "text"};
  std::mt19937 rng(99);
  for (const std::string format :
       {"hermes", "llama3_json", "mistral", "granite", "pythonic", "required_json", "named_json"}) {
    ParserOptions options;
    options.forced_name = "f";
    int with_calls = 0;
    for (int i = 0; i < 400; ++i) {
      std::string text;
      if (i % 2) {
        for (int k = rng() % 24; k > 0; --k) text += atoms[rng() % atoms.size()];
      } else {
        // A valid output cut short, or with an atom dropped in somewhere.
        text = make_case(format, rng).text;
        const size_t at = rng() % (text.size() + 1);
        while (at < text.size() && !is_utf8_start(text[at])) text.erase(at, 1);
        if (rng() % 2) {
          text.resize(at);
        } else {
          text.insert(at, atoms[rng() % atoms.size()]);
        }
      }
      SCOPED_TRACE(format + ": " + text);
      auto parser = make(format, options);
      const ParsedOutput parsed = parser->parse(text);
      if (parsed.calls.empty()) expect_all_content(parsed, text);
      with_calls += !parsed.calls.empty();
      for (const auto& pieces :
           {std::vector<std::string>{text}, split_chars(text), split_random(text, i)}) {
        auto p = make(format, options);
        const StreamResult r = run_stream(*p, pieces);
        if (!r.saw_calls) {
          EXPECT_EQ(r.content, text) << "without calls the stream is the text";
        }
        if (parsed.calls.empty()) continue;
        // Calls in parse() mean nothing failed: the stream must say the same.
        EXPECT_EQ(r.content, parsed.content.value_or(""));
        ASSERT_EQ(r.calls.size(), parsed.calls.size());
        for (size_t k = 0; k < r.calls.size(); ++k) {
          EXPECT_EQ(r.calls[k].name, parsed.calls[k].name);
          EXPECT_EQ(json_of(r.calls[k].arguments), json_of(parsed.calls[k].arguments));
        }
      }
    }
    EXPECT_GT(with_calls, 10) << format << ": the mutated outputs should still hold calls often";
  }
}

}  // namespace
}  // namespace pagoda::tools::test
