// Parser names, the factory and call ids.
#include "tools/tool_parser.h"

#include <random>

#include "tools/formats.h"

namespace pagoda::tools {

namespace {

struct Entry {
  const char* name;
  std::unique_ptr<StreamParser> (*make)(ParserOptions);
  bool mistral_ids;
};

const Entry kFormats[] = {
    {"hermes", make_hermes_parser, false},
    {"llama3_json", make_llama3_json_parser, false},
    {"mistral", make_mistral_parser, true},
    {"granite", make_granite_parser, false},
    {"pythonic", make_pythonic_parser, false},
    {"required_json", make_required_json_parser, false},
    {"named_json", make_named_json_parser, false},
};
// The first five are model families (--tool-call-parser); the rest serve tool_choice.
constexpr size_t kFamilies = 5;

std::mt19937_64& rng() {
  thread_local std::mt19937_64 engine{[] {
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device();
  }()};
  return engine;
}

std::string random_chars(std::string_view alphabet, size_t n) {
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::string out(n, ' ');
  for (char& c : out) c = alphabet[pick(rng())];
  return out;
}

}  // namespace

const std::vector<std::string>& parser_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (size_t i = 0; i < kFamilies; ++i) out.emplace_back(kFormats[i].name);
    return out;
  }();
  return names;
}

Expected<std::unique_ptr<ToolCallParser>> make_parser(std::string_view name,
                                                      ParserOptions options) {
  for (const Entry& entry : kFormats) {
    if (name != entry.name) continue;
    if (name == "named_json" && options.forced_name.empty())
      return Error{"tool-call parser named_json needs the name of the forced function"};
    if (!options.make_id)
      options.make_id = entry.mistral_ids ? random_mistral_call_id : random_tool_call_id;
    return std::unique_ptr<ToolCallParser>(entry.make(std::move(options)));
  }
  std::string known;
  for (const Entry& entry : kFormats) known += std::string(known.empty() ? "" : ", ") + entry.name;
  return Error{"unknown tool-call parser '" + std::string(name) + "' (known: " + known + ")"};
}

std::string random_tool_call_id() {
  return "chatcmpl-tool-" + random_chars("0123456789abcdef", 32);
}

std::string random_mistral_call_id() {
  return random_chars("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 9);
}

}  // namespace pagoda::tools
