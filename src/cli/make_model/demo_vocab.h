#pragma once
// The vocabulary pagoda's demo models carry: byte-level BPE (GPT-2 style) with
// all 256 bytes, merges learned from a short built-in English text, ChatML
// special tokens and a ChatML chat template. It is ours, so a fresh clone has
// a complete tokenizer without any download.
#include <cstdint>
#include <string>
#include <vector>

namespace pagoda::cli {

struct DemoVocab {
  std::vector<std::string> tokens;  // [n_vocab] GPT-2 byte-unicode text
  std::vector<int32_t> token_types; // [n_vocab] 1 normal, 3 control
  std::vector<std::string> merges;  // "left right", highest priority first
  int32_t bos = -1;                 // <|endoftext|>
  int32_t eos = -1;                 // <|im_end|>: the end of an assistant turn
  int32_t im_start = -1;
  std::string chat_template;        // ChatML
};

// Builds the vocabulary with `n_merges` learned merges (fewer if the text runs
// out of repeated pairs), then pads with plain word pieces (" p0", " p1", ...) up
// to `n_vocab` when it is larger (benchmark shapes with published vocab sizes).
DemoVocab build_demo_vocab(int n_merges, int64_t n_vocab);

}  // namespace pagoda::cli
