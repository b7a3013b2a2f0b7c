#include "cli/make_model/demo_vocab.h"

#include <cctype>
#include <map>
#include <string_view>
#include <utility>

namespace pagoda::cli {
namespace {

// Merges are learned from this text: enough common English to make the demo's
// tokenizer behave like a real one (spaces folded into words, frequent words
// whole).
constexpr std::string_view kCorpus =
    "Once upon a time, there was a little girl named Lily. She liked to play in the garden "
    "with her dog. One day, the sun was shining and the birds were singing. Lily saw a big "
    "red ball under the tree. She wanted to play with the ball, so she ran to the tree and "
    "picked it up. Her mother said: \"Be careful, the ball is not yours.\" Lily looked around "
    "and saw a boy who was sad. He said that the ball was his. Lily gave the ball back to the "
    "boy, and he was very happy. They played together all day and became good friends. "
    "The model reads the prompt, then it writes one token at a time. Every token is a piece "
    "of text: a word, a part of a word, a space or a sign. The server answers many users at "
    "once, and each of them gets the same answer they would get alone. What is the time? "
    "It is ten o'clock in the morning. The weather is nice and warm today, isn't it? "
    "I think that we should go for a walk in the park, because it is such a beautiful day. "
    "The quick brown fox jumps over the lazy dog. 0 1 2 3 4 5 6 7 8 9 10 100 1000 2024.\n"
    "def main():\n    print(\"hello, world\")\n    return 0\n";

// GPT-2's reversible map from bytes to printable code points, as UTF-8.
std::vector<std::string> byte_to_unicode_table() {
  std::vector<std::string> table(256);
  auto utf8 = [](uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
  };
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    table[b] = utf8(printable ? b : next++);
  }
  return table;
}

// Splits the corpus into GPT-2-like words: a leading space stays with the word,
// runs of letters, of digits, and single other characters.
std::vector<std::string> pre_tokenize(std::string_view text) {
  auto kind = [](unsigned char c) {
    if (std::isalpha(c)) return 1;
    if (std::isdigit(c)) return 2;
    return 3;
  };
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    if (text[i] == ' ' && i + 1 < text.size() && text[i + 1] != ' ') ++i;
    const int k = kind(static_cast<unsigned char>(text[i]));
    ++i;
    if (k != 3)
      while (i < text.size() && kind(static_cast<unsigned char>(text[i])) == k) ++i;
    words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

}  // namespace

DemoVocab build_demo_vocab(int n_merges, int64_t n_vocab) {
  DemoVocab v;
  const auto byte_text = byte_to_unicode_table();
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back(byte_text[b]);
    v.token_types.push_back(1);
  }

  // Word -> count, each word as a list of symbols (byte-unicode strings).
  std::map<std::vector<std::string>, int> words;
  for (const auto& w : pre_tokenize(kCorpus)) {
    std::vector<std::string> symbols;
    for (unsigned char c : w) symbols.push_back(byte_text[c]);
    ++words[symbols];
  }

  for (int m = 0; m < n_merges; ++m) {
    // Count adjacent pairs; std::map makes ties break the same way every run.
    std::map<std::pair<std::string, std::string>, int> pairs;
    for (const auto& [symbols, count] : words)
      for (size_t i = 0; i + 1 < symbols.size(); ++i) pairs[{symbols[i], symbols[i + 1]}] += count;
    const std::pair<std::string, std::string>* best = nullptr;
    int best_count = 1;  // a pair seen once teaches nothing
    for (const auto& [pair, count] : pairs)
      if (count > best_count) best = &pair, best_count = count;
    if (!best) break;
    const auto [left, right] = *best;
    v.merges.push_back(left + " " + right);
    v.tokens.push_back(left + right);
    v.token_types.push_back(1);

    std::map<std::vector<std::string>, int> merged;
    for (const auto& [symbols, count] : words) {
      std::vector<std::string> out;
      for (size_t i = 0; i < symbols.size(); ++i) {
        if (i + 1 < symbols.size() && symbols[i] == left && symbols[i + 1] == right) {
          out.push_back(left + right);
          ++i;
        } else {
          out.push_back(symbols[i]);
        }
      }
      merged[out] += count;
    }
    words = std::move(merged);
  }

  auto add_control = [&](const std::string& text) {
    v.tokens.push_back(text);
    v.token_types.push_back(3);
    return static_cast<int32_t>(v.tokens.size() - 1);
  };
  v.bos = add_control("<|endoftext|>");
  v.im_start = add_control("<|im_start|>");
  v.eos = add_control("<|im_end|>");
  // Padding up to a published vocab size: plain word pieces (" p0", " p1", ...; "Ġ" is the
  // byte-level space), so a random-weights benchmark model streams visible text. Control padding
  // would render as nothing, and time to first token could not be measured.
  for (int64_t i = 0; static_cast<int64_t>(v.tokens.size()) < n_vocab; ++i) {
    v.tokens.push_back("\u0120p" + std::to_string(i));
    v.token_types.push_back(1);
  }

  v.chat_template =
      "{%- for message in messages %}"
      "{%- if message['content'] is string %}{%- set content = message['content'] %}"
      "{%- else %}{%- set content = message['content'] | map(attribute='text') | join('') %}{%- endif %}"
      "{{- '<|im_start|>' + message['role'] + '\\n' + content + '<|im_end|>\\n' }}"
      "{%- endfor %}"
      "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
  return v;
}

}  // namespace pagoda::cli
