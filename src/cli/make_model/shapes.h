#pragma once
// Model shapes `pagoda make-model --shape` knows: the demo model and the
// hyper-parameters of well-known published models (for benchmarks).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pagoda::cli {

struct ModelShape {
  std::string name;
  std::string arch = "llama";  // "llama" or "qwen2"
  int64_t n_vocab = 0;         // 0: exactly the demo vocabulary
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t n_ff = 0;
  int64_t n_ctx = 4096;
  float rope_base = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied_embeddings = false;
  bool qkv_bias = false;  // qwen2
};

// The known shapes, demo first.
const std::vector<ModelShape>& model_shapes();
// nullptr when `name` is unknown.
const ModelShape* find_model_shape(std::string_view name);

}  // namespace pagoda::cli
