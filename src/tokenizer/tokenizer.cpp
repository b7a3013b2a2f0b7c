// Building a Tokenizer from `tokenizer.ggml.*` metadata, with llama.cpp's
// defaults per model type and its by-text detection of end-of-generation tokens.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <set>

#include "base/log.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace pagoda::tokenizer {
namespace {

// llama.cpp's token types as stored in tokenizer.ggml.token_type.
uint32_t attr_from_type(int32_t type) {
  switch (type) {
    case 1: return kAttrNormal;
    case 2: return kAttrUnknown;
    case 3: return kAttrControl;
    case 4: return kAttrUserDefined;
    case 5: return kAttrUnused;
    case 6: return kAttrByte;
    default: return kAttrUndefined;
  }
}

bool contains_any(const std::string& s, std::initializer_list<std::string_view> parts) {
  for (auto p : parts)
    if (s.find(p) != std::string::npos) return true;
  return false;
}

// Token texts llama.cpp treats as end-of-turn / end-of-generation.
const std::string_view kEotTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"};
const std::string_view kEogTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<｜end▁of▁sentence｜>", "[e~["};
// Fill-in-the-middle pad / repo / file-separator tokens also end generation.
const std::string_view kFimEogTexts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
                                         "[PAD]", "<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                         "<REPO>", "<reponame>", "<|file_sep|>"};

void detect_end_of_generation(Tokenizer::Impl& v) {
  auto make_control = [&](int32_t id) {
    if (!(v.tokens[id].attr & kAttrControl)) v.tokens[id].attr |= kAttrControl;
  };
  if (v.eot < 0) {
    for (auto text : kEotTexts) {
      if (const int32_t id = v.find(text); id >= 0) {
        v.eot = id;
        make_control(id);
        break;
      }
    }
  }
  if (v.eom < 0) {
    if (const int32_t id = v.find("<|eom_id|>"); id >= 0) {
      v.eom = id;
      make_control(id);
    }
  }
  // Control tokens named "unused..." are reserved slots.
  for (auto& t : v.tokens) {
    if ((t.attr & kAttrControl) && t.text.find("unused") != std::string::npos) t.attr |= kAttrUnused;
  }
  std::set<int32_t> eog;
  for (auto text : kFimEogTexts) {
    if (const int32_t id = v.find(text); id >= 0) {
      eog.insert(id);
      make_control(id);
    }
  }
  for (auto text : kEogTexts) {
    if (const int32_t id = v.find(text); id >= 0) {
      eog.insert(id);
      make_control(id);
    }
  }
  for (int32_t id : {v.eos, v.eot, v.eom})
    if (id >= 0) eog.insert(id);
  // gpt-oss / solar-open: with <|return|>+<|call|> (or <|calls|>+<|flush|>), <|end|> is
  // a turn separator, not the end of generation.
  const int32_t end = v.find("<|end|>");
  const bool harmony = v.find("<|return|>") >= 0 && v.find("<|call|>") >= 0;
  const bool solar = v.find("<|calls|>") >= 0 && v.find("<|flush|>") >= 0;
  if (end >= 0 && (harmony || solar) && end != v.eos) {
    eog.erase(end);
    v.tokens[end].attr = kAttrUserDefined;
  }
  // gemma4 / paddleocr: </s> is not an end of generation next to <|tool_response>.
  const int32_t s_end = v.find("</s>");
  if (s_end >= 0 && v.find("<|tool_response>") >= 0 && s_end != v.eos) {
    eog.erase(s_end);
    v.tokens[s_end].attr = kAttrNormal;
  }
  // gpt-oss: these are always rendered.
  for (auto text : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {
    if (const int32_t id = v.find(text); id >= 0) v.tokens[id].attr = kAttrUserDefined;
  }
  v.eog.assign(eog.begin(), eog.end());
}

// Per-model strip flags llama.cpp sets by name (they change special-token matching).
void apply_strip_flags(Tokenizer::Impl& v, const VocabSpec& spec) {
  std::string name = spec.name;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto set = [&](std::string_view text, uint32_t bit, bool on) {
    const int32_t id = v.find(text);
    if (id < 0) return;
    if (on) {
      v.tokens[id].attr |= bit;
    } else {
      v.tokens[id].attr &= ~bit;
    }
  };
  if (contains_any(spec.pre, {"jina-v2-de", "jina-v2-es", "jina-v2-code"}) ||
      contains_any(spec.arch, {"nomic-bert-moe", "jina-bert-v3"})) {
    set("<mask>", kAttrLstrip, true);
  } else if (contains_any(name, {"phi-3", "phi3"})) {
    for (int32_t id : v.special_tokens) v.tokens[id].attr |= kAttrRstrip;
    set("</s>", kAttrRstrip, true);
    for (auto text : {"<unk>", "<s>", "<|endoftext|>"}) set(text, kAttrRstrip, false);
  } else if (contains_any(name, {"modern-bert"})) {
    set("[MASK]", kAttrLstrip, true);
  }
}

}  // namespace

int Tokenizer::Impl::merge(std::string_view left, std::string_view right) const {
  thread_local std::string key;
  key.assign(left);
  key.push_back(' ');
  key.append(right);
  auto it = merge_rank.find(key);
  return it == merge_rank.end() ? -1 : it->second;
}

int32_t Tokenizer::Impl::byte_token(uint8_t byte) const {
  if (kind == VocabKind::spm || !pre.byte_encode) {
    static const char* hex = "0123456789ABCDEF";
    const char buf[6] = {'<', '0', 'x', hex[byte >> 4], hex[byte & 15], '>'};
    const int32_t id = find(std::string_view(buf, 6));
    if (id >= 0 || kind != VocabKind::spm) return id;
    return find(std::string_view(reinterpret_cast<const char*>(&byte), 1));
  }
  return find(codepoint_to_utf8(byte_to_codepoint(byte)));
}

std::string Tokenizer::Impl::compute_piece(int32_t id) const {
  const Token& t = tokens[id];
  if (t.attr & (kAttrUnknown | kAttrControl | kAttrUserDefined)) return t.text;
  auto unescape_spaces = [](const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
      if (s.compare(i, 3, "\xE2\x96\x81") == 0) {
        out.push_back(' ');
        i += 2;
      } else {
        out.push_back(s[i]);
      }
    }
    return out;
  };
  if (t.attr & kAttrNormal) {
    if (kind != VocabKind::bpe || pre.escape_whitespaces) return unescape_spaces(t.text);
    std::string out;  // byte-level BPE: every code point stands for one byte
    for (uint32_t cpt : utf8_to_codepoints(t.text)) {
      const int b = codepoint_to_byte(cpt);
      if (b >= 0) {
        out.push_back(static_cast<char>(b));
      } else {
        append_utf8(out, cpt);  // not a byte code point: keep the character itself
      }
    }
    return out;
  }
  if ((t.attr & kAttrByte) && t.text.size() == 6 && t.text.compare(0, 3, "<0x") == 0) {
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    const int hi = hex(t.text[3]), lo = hex(t.text[4]);
    if (hi >= 0 && lo >= 0) return std::string(1, static_cast<char>(hi * 16 + lo));
  }
  return {};
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

Expected<std::unique_ptr<Tokenizer>> Tokenizer::from_spec(VocabSpec spec) {
  auto v = std::make_unique<Impl>();
  if (spec.tokens.empty()) return Error{"tokenizer: the vocabulary has no tokens"};
  if (spec.tokens.size() > static_cast<size_t>(INT32_MAX)) return Error{"tokenizer: too many tokens"};
  const size_t n = spec.tokens.size();
  if (!spec.scores.empty() && spec.scores.size() < n)
    return Error{"tokenizer: " + std::to_string(spec.scores.size()) + " scores for " +
                 std::to_string(n) + " tokens"};
  if (!spec.token_types.empty() && spec.token_types.size() < n)
    return Error{"tokenizer: " + std::to_string(spec.token_types.size()) + " token types for " +
                 std::to_string(n) + " tokens"};

  // Model-type defaults (llama.cpp's llama_vocab::impl::load).
  int32_t bos = -1, eos = -1, unk = -1, sep = -1, pad = -1, mask = -1;
  if (spec.model == "llama") {
    v->kind = VocabKind::spm;
    bos = 1, eos = 2, unk = 0;
    v->add_space_prefix = true;
    v->add_bos = true;
    v->pre.clean_spaces = false;
  } else if (spec.model == "bert") {
    v->kind = VocabKind::wpm;
    bos = 101, unk = 100, sep = 102, pad = 0, mask = 103;
    v->add_bos = true;
    v->add_sep = true;
  } else if (spec.model == "gpt2") {
    v->kind = VocabKind::bpe;
    bos = 11, eos = 11;
    auto pre = pre_tokenizer_config(spec.pre);
    if (!pre) return Error{"tokenizer: " + pre.error().message};
    v->pre = std::move(*pre);
    if (v->pre.add_bos) v->add_bos = *v->pre.add_bos;
    v->add_sep = v->pre.add_sep;
    if (v->pre.no_bos) bos = -1;
    auto splitter = RegexSplitter::create(v->pre.regexes);
    if (!splitter) return Error{"tokenizer: " + splitter.error().message};
    v->splitter = std::move(*splitter);
  } else {
    return Error{"tokenizer: unsupported tokenizer model '" + spec.model +
                 "' (supported: llama, gpt2, bert)"};
  }
  if (spec.add_space_prefix) v->add_space_prefix = *spec.add_space_prefix;
  if (v->kind != VocabKind::spm) v->add_space_prefix = spec.add_space_prefix.value_or(false);

  v->tokens.resize(n);
  v->text_to_id.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    Impl::Token& t = v->tokens[i];
    t.text = std::move(spec.tokens[i]);
    if (t.text.empty()) t.text = "[EMPTY_" + std::to_string(i) + "]";
    if (!spec.scores.empty()) t.score = spec.scores[i];
    if (!spec.token_types.empty()) t.attr = attr_from_type(spec.token_types[i]);
    if (!v->text_to_id.emplace(t.text, static_cast<int32_t>(i)).second)
      return Error{"tokenizer: duplicate token '" + t.text + "' at ids " +
                   std::to_string(v->text_to_id[t.text]) + " and " + std::to_string(i)};
    v->max_token_len = std::max(v->max_token_len, t.text.size());
  }
  if (v->kind == VocabKind::bpe) {
    if (spec.merges.empty()) return Error{"tokenizer: a gpt2 vocabulary needs tokenizer.ggml.merges"};
    v->merge_rank.reserve(spec.merges.size());
    for (size_t i = 0; i < spec.merges.size(); ++i) {
      const std::string& m = spec.merges[i];
      const size_t space = m.find(' ', 1);
      if (space == std::string::npos) continue;  // malformed line: llama.cpp ignores it too
      v->merge_rank.emplace(m, static_cast<int>(std::min<size_t>(i, INT32_MAX)));
    }
  }

  // Special ids: metadata overrides defaults; out-of-range ids are ignored with a warning.
  auto pick = [&](int32_t from_spec, int32_t fallback, const char* what) {
    auto in_range = [&](int32_t id) { return id >= 0 && static_cast<size_t>(id) < n; };
    if (from_spec >= 0) {
      if (in_range(from_spec)) return from_spec;
      log::warn("tokenizer: {} id {} is out of range (vocab {}), using default", what, from_spec, n);
    }
    return in_range(fallback) ? fallback : -1;
  };
  v->bos = pick(spec.bos, bos, "BOS");
  v->eos = pick(spec.eos, eos, "EOS");
  v->eot = pick(spec.eot, -1, "EOT");
  v->eom = pick(spec.eom, -1, "EOM");
  v->unk = pick(spec.unk, unk, "UNK");
  v->sep = pick(spec.sep, sep, "SEP");
  v->pad = pick(spec.pad, pad, "PAD");
  v->mask = pick(spec.mask, mask, "MASK");
  if (spec.add_bos) v->add_bos = *spec.add_bos;
  if (spec.add_eos) v->add_eos = *spec.add_eos;
  if (spec.add_sep) v->add_sep = *spec.add_sep;
  if (v->add_bos && v->bos < 0) return Error{"tokenizer: add_bos_token is true but there is no BOS id"};
  if (v->add_eos && v->eos < 0) return Error{"tokenizer: add_eos_token is true but there is no EOS id"};
  if (v->add_sep && v->sep < 0) return Error{"tokenizer: add_sep_token is true but there is no SEP id"};
  v->lowercase = spec.lowercase.value_or(true);
  v->strip_accents = spec.strip_accents.value_or(v->lowercase);

  detect_end_of_generation(*v);
  for (size_t i = 0; i < n; ++i) {
    if (v->tokens[i].attr & (kAttrControl | kAttrUserDefined | kAttrUnknown))
      v->special_tokens.push_back(static_cast<int32_t>(i));
  }
  std::stable_sort(v->special_tokens.begin(), v->special_tokens.end(), [&](int32_t a, int32_t b) {
    return v->tokens[a].text.size() > v->tokens[b].text.size();
  });
  apply_strip_flags(*v, spec);
  if (v->kind == VocabKind::spm) {
    v->spm_words_independent = std::none_of(v->tokens.begin(), v->tokens.end(), [](const auto& t) {
      for (size_t i = t.text.find("\xE2\x96\x81", 1); i != std::string::npos;
           i = t.text.find("\xE2\x96\x81", i + 1)) {
        if (i < 3 || t.text.compare(i - 3, 3, "\xE2\x96\x81") != 0) return true;
      }
      return false;
    });
  }
  v->pieces.resize(n);
  for (size_t i = 0; i < n; ++i) v->pieces[i] = v->compute_piece(static_cast<int32_t>(i));
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(v)));
}

VocabKind Tokenizer::kind() const { return impl_->kind; }
int32_t Tokenizer::n_vocab() const { return static_cast<int32_t>(impl_->tokens.size()); }
int32_t Tokenizer::bos() const { return impl_->bos; }
int32_t Tokenizer::eos() const { return impl_->eos; }
int32_t Tokenizer::eot() const { return impl_->eot; }
int32_t Tokenizer::unk() const { return impl_->unk; }
int32_t Tokenizer::pad() const { return impl_->pad; }
bool Tokenizer::add_bos() const { return impl_->add_bos; }
bool Tokenizer::add_eos() const { return impl_->add_eos; }
const std::vector<int32_t>& Tokenizer::eog_ids() const { return impl_->eog; }

bool Tokenizer::is_eog(int32_t id) const {
  return std::binary_search(impl_->eog.begin(), impl_->eog.end(), id);
}

std::string_view Tokenizer::token_text(int32_t id) const {
  return impl_->has(id) ? std::string_view(impl_->tokens[id].text) : std::string_view();
}

TokenAttr Tokenizer::attr(int32_t id) const {
  if (!impl_->has(id)) return TokenAttr::normal;
  const uint32_t a = impl_->tokens[id].attr;
  if (a & kAttrUnknown) return TokenAttr::unknown;
  if (a & kAttrUnused) return TokenAttr::unused;
  if (a & kAttrControl) return TokenAttr::control;
  if (a & kAttrUserDefined) return TokenAttr::user_defined;
  if (a & kAttrByte) return TokenAttr::byte;
  return TokenAttr::normal;
}

int32_t Tokenizer::find_token(std::string_view text) const { return impl_->find(text); }

}  // namespace pagoda::tokenizer
