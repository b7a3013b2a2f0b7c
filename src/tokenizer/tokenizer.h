#pragma once
// Text <-> token ids for GGUF vocabularies, matching llama.cpp token for token:
// SentencePiece-style (`llama`), byte-level BPE (`gpt2`, with the pre-tokenizer
// chosen by `tokenizer.ggml.pre`) and WordPiece (`bert`).
//
// A Tokenizer is immutable after construction; every const method is safe to
// call from many threads at once.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"

namespace pagoda::gguf {
class File;
}

namespace pagoda::tokenizer {

// What kind of token an id is (from `tokenizer.ggml.token_type`).
enum class TokenAttr : uint8_t {
  normal,        // ordinary text piece
  control,       // <s>, </s>, <|im_start|>...: only produced from text when parse_special
  user_defined,  // added tokens matched verbatim in any text, like llama.cpp does
  unknown,       // <unk>
  byte,          // <0xXX> byte-fallback pieces of SentencePiece vocabularies
  unused,        // reserved slots: never produced, rendered as nothing
};

enum class VocabKind : uint8_t { spm, bpe, wpm };

// Everything a tokenizer is built from: the `tokenizer.ggml.*` metadata in plain
// form, so tests and tools can build a vocabulary without a GGUF file.
struct VocabSpec {
  std::string model = "llama";        // tokenizer.ggml.model: "llama", "gpt2", "bert"
  std::string pre;                    // tokenizer.ggml.pre ("" = default)
  std::vector<std::string> tokens;    // [n_vocab] token text as stored in the vocab
  std::vector<float> scores;          // [n_vocab] or empty (SPM merge priorities)
  std::vector<int32_t> token_types;   // [n_vocab] or empty: llama.cpp's 1 normal, 2 unknown,
                                      // 3 control, 4 user defined, 5 unused, 6 byte
  std::vector<std::string> merges;    // BPE merges "left right", highest priority first
  // Special ids (-1 = absent / use the model's default).
  int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, sep = -1, pad = -1, mask = -1;
  std::optional<bool> add_bos, add_eos, add_sep, add_space_prefix;
  std::optional<bool> lowercase;      // WordPiece normaliser (default true)
  std::optional<bool> strip_accents;  // WordPiece normaliser (default: same as lowercase)
  std::string name;               // general.name: llama.cpp keys some token flags on it
  std::string arch;               // general.architecture
};

class Tokenizer {
 public:
  // Reads `tokenizer.ggml.*` from a GGUF file; an Error names the bad key.
  static Expected<std::unique_ptr<Tokenizer>> from_gguf(const gguf::File& file);
  // Builds from plain metadata; an Error names what is inconsistent.
  static Expected<std::unique_ptr<Tokenizer>> from_spec(VocabSpec spec);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Text to ids. add_special: BOS/EOS (and SEP/CLS for WordPiece) as the vocab's
  // add_bos/add_eos say. parse_special: text of control tokens (e.g. <|im_start|>)
  // becomes those tokens; otherwise it is plain text. User-defined tokens always
  // match. Invalid UTF-8 is encoded byte-wise as llama.cpp does. Cost O(text length).
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

  // The bytes one token stands for (SPM ▁ -> space, <0xXX> -> that byte, byte-level
  // BPE code points -> raw bytes). render_special=false renders control tokens as "".
  // Out-of-range ids give "".
  std::string token_to_piece(int32_t id, bool render_special = true) const;
  // Concatenated pieces. When the vocab adds a space prefix (SPM), the first
  // piece loses its leading space, as llama.cpp's llama_detokenize does.
  std::string decode(std::span<const int32_t> ids, bool render_special = true) const;

  VocabKind kind() const;
  int32_t n_vocab() const;
  int32_t bos() const;  // -1 when absent
  int32_t eos() const;  // -1 when absent
  int32_t eot() const;  // -1 when absent
  int32_t unk() const;  // -1 when absent
  int32_t pad() const;  // -1 when absent
  bool add_bos() const;
  bool add_eos() const;
  // End of generation: eos, eot, eom and tokens llama.cpp recognises by text
  // (<|im_end|>, <|eot_id|>, <|end|>, <end_of_turn>, <|endoftext|>...).
  bool is_eog(int32_t id) const;
  // Ids that end generation (sorted), for samplers and stop logic.
  const std::vector<int32_t>& eog_ids() const;
  // Stored token text ("" for out-of-range ids).
  std::string_view token_text(int32_t id) const;
  TokenAttr attr(int32_t id) const;  // `normal` for out-of-range ids
  // Id of an exact token text, or -1.
  int32_t find_token(std::string_view text) const;

  struct Impl;  // defined in vocab.h; public so the algorithm files can use it

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Streams the bytes of decoded tokens, only ever emitting complete UTF-8
// sequences: a multi-byte character split over byte tokens is held until its
// last byte arrives. Bytes that can never form a valid sequence are emitted as
// U+FFFD (one per maximal invalid subpart, as the Unicode standard recommends),
// so the output is always valid UTF-8. Not thread-safe; one per stream.
class IncrementalDetokenizer {
 public:
  // The tokenizer must outlive this object.
  // Pieces are streamed as token_to_piece gives them (no prefix-space removal).
  explicit IncrementalDetokenizer(const Tokenizer& tokenizer, bool render_special = true);
  // Appends one token; returns the newly completed text (possibly empty).
  std::string push(int32_t id);
  // Ends the stream: returns held bytes (an incomplete tail becomes U+FFFD).
  std::string flush();
  // Bytes received but not yet emitted.
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer& tokenizer_;
  bool render_special_;
  std::string pending_;
};

}  // namespace pagoda::tokenizer
