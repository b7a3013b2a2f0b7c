// libFuzzer target: arbitrary JSON as a JSON Schema. Conversion and compilation end in an Error
// value or a grammar; a walk of allowed tokens that completes must be JSON that parses.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/vocab_trie.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pagoda::grammar;
  static const auto vocab = [] {
    std::vector<std::string> pieces;
    for (int c = 0x20; c < 0x7F; ++c) pieces.push_back(std::string(1, static_cast<char>(c)));
    for (const char* p : {"\n", "é", "\xC3", "\xA9", "\"", "{\"", "\":", "true", "null", "<eog>"}) pieces.push_back(p);
    const auto eog = static_cast<int32_t>(pieces.size() - 1);
    return TokenVocabulary::from_pieces(std::move(pieces), {eog});
  }();
  nlohmann::json schema;
  try {
    schema = nlohmann::json::parse(reinterpret_cast<const char*>(data), reinterpret_cast<const char*>(data) + size);
  } catch (const std::exception&) {
    return 0;
  }
  auto g = Grammar::from_json_schema(schema);
  if (!g) return 0;
  GrammarMatcher m(*g, vocab);
  std::vector<uint8_t> allowed;
  std::string generated;
  for (size_t step = 0; step < 256 && !m.must_end(); ++step) {
    m.fill_allowed(allowed);
    std::vector<int32_t> ids;
    for (size_t i = 0; i < allowed.size(); ++i)
      if (allowed[i] && !vocab->is_eog(static_cast<int32_t>(i))) ids.push_back(static_cast<int32_t>(i));
    if (ids.empty()) break;
    // Prefer closing characters as the walk grows, so that some walks complete.
    int32_t id = ids[(step * 2654435761u + size) % ids.size()];
    if (step > 64)
      for (int32_t c : ids)
        if (vocab->trie().piece(c).find_first_of("\"]}") != std::string::npos) id = c;
    if (!m.accept_token(id)) __builtin_trap();
    generated += vocab->trie().piece(id);
  }
  if (m.can_end() && !nlohmann::json::accept(generated)) __builtin_trap();
  return 0;
}
