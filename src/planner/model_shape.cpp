// The preset table and shapes from config.json / GGUF hyper-parameters.
#include "planner/model_shape.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "model/hparams.h"

namespace pagoda::planner {

Expected<void> ModelShape::validate() const {
  auto bad = [&](const char* field, int64_t v) {
    return Error{fmt::format("model shape '{}': {} must be positive, got {}", name, field, v)};
  };
  if (n_embd <= 0) return bad("hidden size", n_embd);
  if (n_layer <= 0) return bad("layer count", n_layer);
  if (n_head <= 0) return bad("attention head count", n_head);
  if (n_head_kv <= 0) return bad("KV head count", n_head_kv);
  if (n_ff <= 0) return bad("feed-forward size", n_ff);
  if (n_ctx <= 0) return bad("context length", n_ctx);
  if (n_vocab < 0) return bad("vocabulary size", n_vocab);
  if (head_size() <= 0) return bad("head size", head_size());
  if (n_head % n_head_kv != 0)
    return Error{fmt::format("model shape '{}': {} attention heads do not divide into {} KV heads", name, n_head,
                             n_head_kv)};
  if (arch != "llama" && arch != "qwen2" && arch != "qwen3" && arch != "granite")
    return Error{fmt::format("model shape '{}': architecture '{}' is not one pagoda runs (llama, qwen2, qwen3, "
                             "granite)",
                             name, arch)};
  return {};
}

const std::vector<ModelShape>& model_shapes() {
  // Hyper-parameters as the published config.json files give them.
  static const std::vector<ModelShape> shapes = {
      // name, arch, vocab, embd, layer, head, kv, ff, ctx, rope, eps, tied, bias
      {"demo", "llama", 0, 256, 4, 8, 2, 768, 4096, 10000.0f, 1e-5f, false, false},
      {"smollm2-135m", "llama", 49152, 576, 30, 9, 3, 1536, 8192, 100000.0f, 1e-5f, true, false},
      {"qwen2.5-0.5b", "qwen2", 151936, 896, 24, 14, 2, 4864, 32768, 1000000.0f, 1e-6f, true, true},
      {"tinyllama-1.1b", "llama", 32000, 2048, 22, 32, 4, 5632, 2048, 10000.0f, 1e-5f, false, false},
      {"llama-3.2-1b", "llama", 128256, 2048, 16, 32, 8, 8192, 131072, 500000.0f, 1e-5f, true, false},
      {"qwen2.5-1.5b", "qwen2", 151936, 1536, 28, 12, 2, 8960, 32768, 1000000.0f, 1e-6f, true, true},
      {"llama-3.2-3b", "llama", 128256, 3072, 28, 24, 8, 8192, 131072, 500000.0f, 1e-5f, true, false},
      {"qwen2.5-3b", "qwen2", 151936, 2048, 36, 16, 2, 11008, 32768, 1000000.0f, 1e-6f, true, true},
      {"llama-2-7b", "llama", 32000, 4096, 32, 32, 32, 11008, 4096, 10000.0f, 1e-5f, false, false},
      {"mistral-7b", "llama", 32768, 4096, 32, 32, 8, 14336, 32768, 1000000.0f, 1e-5f, false, false},
      {"qwen2.5-7b", "qwen2", 152064, 3584, 28, 28, 4, 18944, 32768, 1000000.0f, 1e-6f, false, true},
      {"llama-3.1-8b", "llama", 128256, 4096, 32, 32, 8, 14336, 131072, 500000.0f, 1e-5f, false, false},
      {"qwen2.5-14b", "qwen2", 152064, 5120, 48, 40, 8, 13824, 32768, 1000000.0f, 1e-5f, false, true},
      {"qwen2.5-32b", "qwen2", 152064, 5120, 64, 40, 8, 27648, 32768, 1000000.0f, 1e-6f, false, true},
      {"llama-3.1-70b", "llama", 128256, 8192, 80, 64, 8, 28672, 131072, 500000.0f, 1e-5f, false, false},
      {"qwen2.5-72b", "qwen2", 152064, 8192, 80, 64, 8, 29568, 32768, 1000000.0f, 1e-6f, false, true},
  };
  return shapes;
}

const ModelShape* find_model_shape(std::string_view name) {
  for (const auto& s : model_shapes())
    if (s.name == name) return &s;
  return nullptr;
}

std::string model_shape_names() {
  std::string s;
  for (const auto& m : model_shapes()) s += (s.empty() ? "" : ", ") + m.name;
  return s;
}

namespace {

using nlohmann::json;

// A positive integer field; `fallback` when absent (nullopt: required).
Expected<int64_t> count_field(const json& j, const char* key, std::optional<int64_t> fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (fallback) return *fallback;
    return Error{fmt::format("config.json: '{}' is missing", key)};
  }
  if (!it->is_number_integer() || it->get<int64_t>() <= 0 || it->get<int64_t>() > (int64_t{1} << 40))
    return Error{fmt::format("config.json: '{}' must be a positive integer, got {}", key, it->dump())};
  return it->get<int64_t>();
}

float float_field(const json& j, const char* key, float fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<float>() : fallback;
}

}  // namespace

Expected<ModelShape> shape_from_hf_config(std::string_view json_text, std::string name) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Error{"config.json: not a JSON object"};
  // Multimodal configs nest the language model's config.
  if (j.contains("text_config") && j["text_config"].is_object() && !j.contains("hidden_size")) j = j["text_config"];
  ModelShape s;
  s.name = std::move(name);
  auto type_field = j.find("model_type");
  if (type_field != j.end() && !type_field->is_string())
    return Error{fmt::format("config.json: 'model_type' must be a string, got {}", type_field->dump())};
  const std::string type = type_field != j.end() ? type_field->get<std::string>() : "llama";
  // Mistral's and Llama's tensors are the same; GGUF calls both "llama".
  if (type == "llama" || type == "mistral") s.arch = "llama";
  else if (type == "qwen2" || type == "qwen3" || type == "granite") s.arch = type;
  else
    return Error{fmt::format("config.json: model_type '{}' is not one pagoda runs (llama, mistral, qwen2, qwen3, "
                             "granite)",
                             type)};
  auto field = [&](const char* key, std::optional<int64_t> fallback, int64_t& out) -> Expected<void> {
    auto v = count_field(j, key, fallback);
    if (!v) return v.error();
    out = *v;
    return {};
  };
  for (auto ok : {field("hidden_size", std::nullopt, s.n_embd), field("num_hidden_layers", std::nullopt, s.n_layer),
                  field("num_attention_heads", std::nullopt, s.n_head),
                  field("intermediate_size", std::nullopt, s.n_ff), field("vocab_size", std::nullopt, s.n_vocab)})
    if (!ok) return ok.error();
  if (auto ok = field("num_key_value_heads", s.n_head, s.n_head_kv); !ok) return ok.error();
  if (auto ok = field("max_position_embeddings", 4096, s.n_ctx); !ok) return ok.error();
  // head_dim only when it differs from hidden_size / heads (Qwen3, Gemma-style).
  if (auto ok = field("head_dim", s.n_embd / s.n_head, s.head_dim); !ok) return ok.error();
  if (s.head_dim == s.n_embd / s.n_head) s.head_dim = 0;
  s.rope_base = float_field(j, "rope_theta", 10000.0f);
  s.rms_eps = float_field(j, "rms_norm_eps", 1e-5f);
  auto tied = j.find("tie_word_embeddings");
  s.tied_embeddings = tied != j.end() && tied->is_boolean() && tied->get<bool>();
  // Qwen2 always has Q/K/V biases; others say so with attention_bias.
  auto bias = j.find("attention_bias");
  s.qkv_bias = s.arch == "qwen2" || (bias != j.end() && bias->is_boolean() && bias->get<bool>());
  if (auto ok = s.validate(); !ok) return ok.error();
  return s;
}

ModelShape shape_from_hparams(const model::HParams& hp, std::string name, bool tied_embeddings, bool qkv_bias) {
  ModelShape s;
  s.name = std::move(name);
  s.arch = hp.arch_str;
  s.n_vocab = hp.n_vocab;
  s.n_embd = hp.n_embd;
  s.n_layer = hp.n_layer;
  s.n_head = hp.n_head;
  s.n_head_kv = hp.n_kv_head;
  s.n_ff = hp.n_ff;
  s.n_ctx = hp.n_ctx_train;
  s.rope_base = hp.rope_base;
  s.rms_eps = hp.rms_eps;
  s.tied_embeddings = tied_embeddings;
  s.qkv_bias = qkv_bias;
  s.head_dim = hp.n_head > 0 && hp.head_dim == hp.n_embd / hp.n_head ? 0 : hp.head_dim;
  return s;
}

}  // namespace pagoda::planner
