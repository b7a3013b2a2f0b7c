// libFuzzer target: compile arbitrary GBNF text, then drive a matcher over a small vocabulary.
// Every input must end in an Error value or a working matcher: no crash, hang or sanitizer
// report; every text the matcher was led through is accepted again by a fresh matcher.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/vocab_trie.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pagoda::grammar;
  static const auto vocab = [] {
    std::vector<std::string> pieces;
    for (int c = 0x20; c < 0x7F; ++c) pieces.push_back(std::string(1, static_cast<char>(c)));
    for (const char* p : {"\n", "é", "\xC3", "\xA9", "日本", "\xE6\x97", "\xA5", "\"", "{\"", "\":", "ab", "", "<eog>"})
      pieces.push_back(p);
    const auto eog = static_cast<int32_t>(pieces.size() - 1);
    return TokenVocabulary::from_pieces(std::move(pieces), {eog});
  }();
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto g = Grammar::from_gbnf(text);
  if (!g) return 0;
  GrammarMatcher m(*g, vocab);
  std::vector<uint8_t> allowed;
  std::string generated;
  for (size_t step = 0; step < 64 && !m.must_end(); ++step) {
    m.fill_allowed(allowed);
    std::vector<int32_t> ids;
    for (size_t i = 0; i < allowed.size(); ++i)
      if (allowed[i] && !vocab->is_eog(static_cast<int32_t>(i))) ids.push_back(static_cast<int32_t>(i));
    if (ids.empty()) break;
    const int32_t id = ids[(step * 2654435761u + size) % ids.size()];
    if (!m.accept_token(id)) __builtin_trap();  // fill_allowed promised it
    generated += vocab->trie().piece(id);
  }
  GrammarMatcher fresh(*g, vocab);
  if (!fresh.accept_text(generated)) __builtin_trap();
  return 0;
}
