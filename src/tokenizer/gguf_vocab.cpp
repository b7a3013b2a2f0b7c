// Tokenizer::from_gguf: reads the `tokenizer.ggml.*` keys into a VocabSpec.
#include "base/log.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::tokenizer {
namespace {

Error key_error(const gguf::File& f, std::string_view key, std::string_view what) {
  return Error{f.name() + ": " + std::string(key) + ": " + std::string(what)};
}

// Reads an optional token id key; returns false with `error` set when it is not
// an integer. Ids outside int32 (e.g. 0xFFFFFFFF for "none") are ignored with a
// warning, so the model type's default applies, as in llama.cpp.
bool read_id(const gguf::File& f, const char* key, int32_t& out, Error& error) {
  const gguf::Value* v = f.find(key);
  if (!v) return true;
  if (!v->is_integer()) {
    error = key_error(f, key, "expected an integer token id");
    return false;
  }
  const auto id = v->as_int();
  if (!id || *id < 0 || *id > INT32_MAX) {
    log::warn("{}: {} = {} is not a token id; using the default", f.name(), key, v->to_string());
    return true;
  }
  out = static_cast<int32_t>(*id);
  return true;
}

bool read_flag(const gguf::File& f, const char* key, std::optional<bool>& out, Error& error) {
  const gguf::Value* v = f.find(key);
  if (!v) return true;
  const auto b = v->as_bool();
  if (!b) {
    error = key_error(f, key, "expected a bool");
    return false;
  }
  out = *b;
  return true;
}

}  // namespace

Expected<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const gguf::File& f) {
  VocabSpec spec;
  const gguf::Value* model = f.find("tokenizer.ggml.model");
  if (!model || !model->as_string())
    return key_error(f, "tokenizer.ggml.model", "missing (the file has no tokenizer)");
  spec.model = *model->as_string();
  if (const gguf::Value* pre = f.find("tokenizer.ggml.pre")) {
    if (!pre->as_string()) return key_error(f, "tokenizer.ggml.pre", "expected a string");
    spec.pre = *pre->as_string();
  }
  if (auto name = f.get_string("general.name")) spec.name = *name;
  if (auto arch = f.get_string("general.architecture")) spec.arch = *arch;

  const gguf::Array* tokens = f.get_array("tokenizer.ggml.tokens");
  if (!tokens || tokens->elem_type != gguf::ValueType::STRING)
    return key_error(f, "tokenizer.ggml.tokens", "missing or not an array of strings");
  spec.tokens = tokens->strings;
  const size_t n = spec.tokens.size();

  if (const gguf::Value* v = f.find("tokenizer.ggml.scores")) {
    const gguf::Array* a = v->as_array();
    if (!a || a->size() < n)
      return key_error(f, "tokenizer.ggml.scores", "expected an array with one score per token");
    spec.scores.resize(n);
    for (size_t i = 0; i < n; ++i) {
      if (a->elem_type == gguf::ValueType::FLOAT32 || a->elem_type == gguf::ValueType::FLOAT64) {
        spec.scores[i] = static_cast<float>(a->floats[i]);
      } else if (a->elem_type == gguf::ValueType::INT32) {
        spec.scores[i] = static_cast<float>(a->ints[i]);
      } else {
        return key_error(f, "tokenizer.ggml.scores", "expected float32 or int32 elements");
      }
    }
  }
  if (const gguf::Value* v = f.find("tokenizer.ggml.token_type")) {
    const gguf::Array* a = v->as_array();
    if (!a || a->size() < n)
      return key_error(f, "tokenizer.ggml.token_type", "expected an array with one type per token");
    spec.token_types.resize(n);
    for (size_t i = 0; i < n; ++i) {
      if (a->elem_type == gguf::ValueType::INT32) {
        spec.token_types[i] = static_cast<int32_t>(a->ints[i]);
      } else if (a->elem_type == gguf::ValueType::UINT32) {
        spec.token_types[i] = static_cast<int32_t>(std::min<uint64_t>(a->uints[i], INT32_MAX));
      } else {
        return key_error(f, "tokenizer.ggml.token_type", "expected int32 elements");
      }
    }
  }
  if (const gguf::Value* v = f.find("tokenizer.ggml.merges")) {
    const gguf::Array* a = v->as_array();
    if (!a || a->elem_type != gguf::ValueType::STRING)
      return key_error(f, "tokenizer.ggml.merges", "expected an array of strings");
    spec.merges = a->strings;
  }

  Error error;
  const bool ok =
      read_id(f, "tokenizer.ggml.bos_token_id", spec.bos, error) &&
      read_id(f, "tokenizer.ggml.eos_token_id", spec.eos, error) &&
      read_id(f, "tokenizer.ggml.eot_token_id", spec.eot, error) &&
      read_id(f, "tokenizer.ggml.eom_token_id", spec.eom, error) &&
      read_id(f, "tokenizer.ggml.unknown_token_id", spec.unk, error) &&
      read_id(f, "tokenizer.ggml.seperator_token_id", spec.sep, error) &&  // sic, as written by llama.cpp
      read_id(f, "tokenizer.ggml.padding_token_id", spec.pad, error) &&
      read_id(f, "tokenizer.ggml.mask_token_id", spec.mask, error) &&
      read_flag(f, "tokenizer.ggml.add_bos_token", spec.add_bos, error) &&
      read_flag(f, "tokenizer.ggml.add_eos_token", spec.add_eos, error) &&
      read_flag(f, "tokenizer.ggml.add_sep_token", spec.add_sep, error) &&
      read_flag(f, "tokenizer.ggml.add_space_prefix", spec.add_space_prefix, error) &&
      read_flag(f, "tokenizer.ggml.normalizer.lowercase", spec.lowercase, error) &&
      read_flag(f, "tokenizer.ggml.normalizer.strip_accents", spec.strip_accents, error);
  if (!ok) return error;

  auto result = from_spec(std::move(spec));
  if (!result) return Error{f.name() + ": " + result.error().message};
  return result;
}

}  // namespace pagoda::tokenizer
