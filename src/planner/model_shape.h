#pragma once
// Model shapes: the hyper-parameters memory depends on, for the built-in
// presets (well-known published models, plus make-model's demo), a Hugging
// Face config.json or a GGUF file. One table serves `pagoda make-model
// --shape` and `pagoda estimate --preset`.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"

namespace pagoda::model {
struct HParams;
}

namespace pagoda::planner {

struct ModelShape {
  std::string name;
  std::string arch = "llama";  // "llama", "qwen2", "qwen3" or "granite"
  int64_t n_vocab = 0;         // 0: exactly make-model's demo vocabulary
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t n_ff = 0;
  int64_t n_ctx = 4096;  // training context
  float rope_base = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied_embeddings = false;
  bool qkv_bias = false;  // qwen2
  int64_t head_dim = 0;   // 0: n_embd / n_head

  int64_t head_size() const { return head_dim > 0 ? head_dim : (n_head > 0 ? n_embd / n_head : 0); }
  int64_t q_dim() const { return n_head * head_size(); }
  int64_t kv_dim() const { return n_head_kv * head_size(); }
  // Checks that every size is positive and consistent (heads divide into
  // groups); the error names the field.
  Expected<void> validate() const;
};

// The known shapes, demo first, in the order help text lists them.
const std::vector<ModelShape>& model_shapes();
// nullptr when `name` is unknown (exact match).
const ModelShape* find_model_shape(std::string_view name);
// "demo, smollm2-135m, ..." for help and error messages.
std::string model_shape_names();

// A shape from a Hugging Face config.json (llama, mistral, qwen2, qwen3,
// granite): hidden_size, num_hidden_layers, num_attention_heads,
// num_key_value_heads, intermediate_size, vocab_size, head_dim,
// max_position_embeddings, tie_word_embeddings, rope_theta, rms_norm_eps.
// Errors name the missing or invalid field. `name` labels the result.
Expected<ModelShape> shape_from_hf_config(std::string_view json_text, std::string name);

// The shape of a model whose hyper-parameters were read from a GGUF file
// (model::read_hparams); tied / bias flags come from the caller, who sees the tensors.
ModelShape shape_from_hparams(const model::HParams& hp, std::string name, bool tied_embeddings, bool qkv_bias);

}  // namespace pagoda::planner
