#pragma once
// Byte-level BPE pre-tokenization: the regex list chosen by `tokenizer.ggml.pre`
// (as llama.cpp maps names to regexes) and the splitter that applies it.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"

namespace pagoda::tokenizer {

// Everything a `tokenizer.ggml.pre` name decides, beyond the vocabulary itself.
struct PreTokenizerConfig {
  std::vector<std::string> regexes;  // applied in order, each splitting the previous pieces
  bool byte_encode = true;           // GPT-2 byte <-> code point mapping of words
  bool ignore_merges = false;        // a word that is a whole token skips merging
  bool clean_spaces = true;          // decode() removes " ," " ." " 's" etc.
  bool escape_whitespaces = false;   // spaces become ▁ before BPE (SPM-style BPE)
  std::optional<bool> add_bos;       // default for add_bos_token when the key is absent
  bool add_sep = false;              // default for add_sep_token
  bool no_bos = false;               // the pre-tokenizer has no BOS (chatglm)
};

// Looks up a pre-tokenizer name ("" and "default" give the default regexes);
// an unknown name is an Error naming it.
Expected<PreTokenizerConfig> pre_tokenizer_config(std::string_view name);

// Splits code points into words with a list of regexes, exactly as llama.cpp's
// unicode_regex_split: every regex splits each current piece into its matches
// and the gaps between them; GPT-2 and Llama-3 regexes use hand-written
// splitters. Immutable after construction; split() is thread-safe.
class RegexSplitter {
 public:
  // Compiles the regexes (PCRE2, UTF + Unicode properties); Error names a bad one.
  static Expected<std::unique_ptr<RegexSplitter>> create(const std::vector<std::string>& regexes);
  ~RegexSplitter();
  RegexSplitter(const RegexSplitter&) = delete;
  RegexSplitter& operator=(const RegexSplitter&) = delete;

  // Returns the word lengths in code points; they sum to cpts.size().
  // Empty words (zero-length matches) are kept, as llama.cpp keeps them.
  std::vector<size_t> split(const std::vector<uint32_t>& cpts) const;

  struct Stage;

 private:
  RegexSplitter() = default;
  std::vector<std::unique_ptr<Stage>> stages_;
};

}  // namespace pagoda::tokenizer
