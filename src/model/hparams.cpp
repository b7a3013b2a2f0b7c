// Hyper-parameters from GGUF metadata ({arch}.* keys, llama.cpp's defaults).
#include "model/hparams.h"

#include <fmt/format.h>

#include <cmath>
#include <optional>

#include "gguf/gguf.h"

namespace pagoda::model {

std::string_view arch_name(Arch arch) {
  switch (arch) {
    case Arch::llama: return "llama";
    case Arch::qwen2: return "qwen2";
    case Arch::qwen3: return "qwen3";
    case Arch::granite: return "granite";
  }
  return "?";
}

float HParams::kq_scale() const {
  if (attention_scale != 0.0f) return attention_scale;
  return 1.0f / std::sqrt(static_cast<float>(head_dim));
}

namespace {

std::optional<Arch> parse_arch(std::string_view name) {
  if (name == "llama") return Arch::llama;
  if (name == "qwen2") return Arch::qwen2;
  if (name == "qwen3") return Arch::qwen3;
  if (name == "granite") return Arch::granite;
  return std::nullopt;
}

// Reads a per-model integer that some files store as a per-layer array; the
// array form is accepted only when every layer has the same value.
Expected<std::optional<int64_t>> read_uniform_int(const gguf::File& f, const std::string& key) {
  const gguf::Value* v = f.find(key);
  if (!v) return std::optional<int64_t>{};
  if (auto i = v->as_int()) return std::optional<int64_t>{*i};
  if (const gguf::Array* a = v->as_array()) {
    std::optional<int64_t> first;
    const size_t n = a->size();
    for (size_t i = 0; i < n; ++i) {
      int64_t x = 0;
      if (i < a->uints.size()) x = static_cast<int64_t>(a->uints[i]);
      else if (i < a->ints.size()) x = a->ints[i];
      else return Error{fmt::format("metadata '{}' is not an integer array", key)};
      if (first && *first != x)
        return Error{fmt::format("metadata '{}' differs between layers: not supported", key)};
      first = x;
    }
    if (!first) return Error{fmt::format("metadata '{}' is an empty array", key)};
    return first;
  }
  return Error{fmt::format("metadata '{}' is not an integer", key)};
}

// A positive int within [1, limit], required or defaulted.
Expected<int> read_count(const gguf::File& f, const std::string& key, std::optional<int> fallback,
                         int64_t limit) {
  auto v = read_uniform_int(f, key);
  if (!v) return v.error();
  if (!*v) {
    if (fallback) return *fallback;
    return Error{fmt::format("missing metadata '{}'", key)};
  }
  const int64_t x = **v;
  if (x < 1 || x > limit)
    return Error{fmt::format("metadata '{}' = {} is out of range [1, {}]", key, x, limit)};
  return static_cast<int>(x);
}

Expected<float> read_float(const gguf::File& f, const std::string& key, float fallback) {
  const gguf::Value* v = f.find(key);
  if (!v) return fallback;
  auto x = v->as_float();
  if (!x || !std::isfinite(*x)) return Error{fmt::format("metadata '{}' is not a finite number", key)};
  return static_cast<float>(*x);
}

}  // namespace

Expected<HParams> read_hparams(const gguf::File& f) {
  HParams hp;
  auto arch_str = f.get_string("general.architecture");
  if (!arch_str) return Error{f.name() + ": missing metadata 'general.architecture'"};
  auto arch = parse_arch(*arch_str);
  if (!arch)
    return Error{fmt::format(
        "{}: architecture '{}' is not supported (supported: llama, qwen2, qwen3, granite)",
        f.name(), *arch_str)};
  hp.arch = *arch;
  hp.arch_str = *arch_str;
  const std::string p = *arch_str + ".";
  auto fail = [&](const Error& e) { return Error{f.name() + ": " + e.message}; };

  constexpr int64_t kMaxDim = 1 << 20;
  auto n_ctx = read_count(f, p + "context_length", 4096, int64_t{1} << 30);
  auto n_embd = read_count(f, p + "embedding_length", std::nullopt, kMaxDim);
  auto n_layer = read_count(f, p + "block_count", std::nullopt, 4096);
  auto n_ff = read_count(f, p + "feed_forward_length", std::nullopt, kMaxDim);
  auto n_head = read_count(f, p + "attention.head_count", std::nullopt, 65536);
  for (auto* e : {&n_ctx, &n_embd, &n_layer, &n_ff, &n_head})
    if (!*e) return fail(e->error());
  hp.n_ctx_train = *n_ctx;
  hp.n_embd = *n_embd;
  hp.n_layer = *n_layer;
  hp.n_ff = *n_ff;
  hp.n_head = *n_head;
  auto n_kv_head = read_count(f, p + "attention.head_count_kv", hp.n_head, 65536);
  if (!n_kv_head) return fail(n_kv_head.error());
  hp.n_kv_head = *n_kv_head;
  if (hp.n_head % hp.n_kv_head != 0)
    return Error{fmt::format("{}: {} attention heads are not a multiple of {} kv heads", f.name(),
                             hp.n_head, hp.n_kv_head)};

  std::optional<int> default_head_dim;
  if (hp.n_embd % hp.n_head == 0) default_head_dim = hp.n_embd / hp.n_head;
  auto head_dim = read_count(f, p + "attention.key_length", default_head_dim, kMaxDim);
  if (!head_dim) return fail(head_dim.error());
  hp.head_dim = *head_dim;
  auto v_dim = read_count(f, p + "attention.value_length", hp.head_dim, kMaxDim);
  if (!v_dim) return fail(v_dim.error());
  if (*v_dim != hp.head_dim)
    return Error{fmt::format("{}: key length {} != value length {}: not supported", f.name(),
                             hp.head_dim, *v_dim)};

  if (auto experts = f.get_int(p + "expert_count"); experts && *experts > 0)
    return Error{fmt::format("{}: mixture-of-experts models ({} experts) are not supported",
                             f.name(), *experts)};

  auto eps = read_float(f, p + "attention.layer_norm_rms_epsilon", 1e-5f);
  if (!eps) return fail(eps.error());
  hp.rms_eps = *eps;
  if (!(hp.rms_eps >= 0.0f)) return Error{f.name() + ": negative RMSNorm epsilon"};

  // RoPE.
  hp.rope_style = (hp.arch == Arch::qwen2 || hp.arch == Arch::qwen3) ? RopeStyle::neox
                                                                     : RopeStyle::adjacent;
  auto n_rot = read_count(f, p + "rope.dimension_count", hp.head_dim, kMaxDim);
  if (!n_rot) return fail(n_rot.error());
  hp.n_rot = *n_rot;
  if (hp.n_rot > hp.head_dim || hp.n_rot % 2 != 0)
    return Error{fmt::format("{}: rope dimension count {} must be even and <= head size {}",
                             f.name(), hp.n_rot, hp.head_dim)};
  auto base = read_float(f, p + "rope.freq_base", 10000.0f);
  if (!base) return fail(base.error());
  if (!(*base > 0.0f)) return Error{f.name() + ": rope.freq_base must be positive"};
  hp.rope_base = *base;
  if (auto type = f.get_string(p + "rope.scaling.type")) {
    if (*type != "none" && *type != "linear")
      return Error{fmt::format("{}: rope scaling '{}' is not supported (none, linear)", f.name(),
                               *type)};
  }
  auto factor = read_float(f, p + "rope.scaling.factor", 0.0f);
  if (!factor) return fail(factor.error());
  float scale = *factor;
  if (scale == 0.0f) {
    auto linear = read_float(f, p + "rope.scale_linear", 0.0f);
    if (!linear) return fail(linear.error());
    scale = *linear;
  }
  if (scale < 0.0f) return Error{f.name() + ": negative rope scaling factor"};
  hp.rope_freq_scale = scale == 0.0f ? 1.0f : 1.0f / scale;

  // Granite multipliers (ignored by the other architectures, as in llama.cpp).
  if (hp.arch == Arch::granite) {
    auto emb = read_float(f, p + "embedding_scale", 1.0f);
    auto res = read_float(f, p + "residual_scale", 1.0f);
    auto logit = read_float(f, p + "logit_scale", 1.0f);
    auto attn = read_float(f, p + "attention.scale", 0.0f);
    for (auto* e : {&emb, &res, &logit, &attn})
      if (!*e) return fail(e->error());
    hp.embedding_scale = *emb == 0.0f ? 1.0f : *emb;
    hp.residual_scale = *res == 0.0f ? 1.0f : *res;
    hp.logit_scale = *logit == 0.0f ? 1.0f : *logit;
    hp.attention_scale = *attn;
  }

  // Vocabulary size: the explicit key, else the token list (checked against
  // token_embd when the weights are bound).
  if (auto vocab = f.get_int(p + "vocab_size"); vocab && *vocab > 0 && *vocab < (1 << 24)) {
    hp.n_vocab = static_cast<int>(*vocab);
  } else if (const gguf::Array* tokens = f.get_array("tokenizer.ggml.tokens")) {
    hp.n_vocab = static_cast<int>(tokens->size());
  }
  return hp;
}

}  // namespace pagoda::model
