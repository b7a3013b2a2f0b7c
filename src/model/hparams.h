#pragma once
// Hyper-parameters of a Llama-family model, read from GGUF metadata with the
// same keys and defaults llama.cpp uses.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/expected.h"

namespace pagoda::gguf {
class File;
}

namespace pagoda::model {

enum class Arch { llama, qwen2, qwen3, granite };

// GGUF `general.architecture` spelling.
std::string_view arch_name(Arch arch);

enum class RopeStyle {
  adjacent,  // rotates pairs (x[2i], x[2i+1]) - Llama
  neox,      // rotates (x[i], x[i + n_rot/2]) - Qwen2/Qwen3
};

struct HParams {
  Arch arch = Arch::llama;
  std::string arch_str;  // as stored in the file
  int n_vocab = 0;
  int n_ctx_train = 0;
  int n_embd = 0;
  int n_layer = 0;
  int n_head = 0;
  int n_kv_head = 0;  // < n_head: grouped-query attention (1: multi-query)
  int head_dim = 0;   // {arch}.attention.key_length, else n_embd / n_head
  int n_ff = 0;
  float rms_eps = 1e-5f;

  // RoPE: theta_i = pos * freq_scale * base^(-2i/n_rot) / freq_factor[i].
  RopeStyle rope_style = RopeStyle::adjacent;
  int n_rot = 0;  // rotated dimensions per head (<= head_dim)
  float rope_base = 10000.0f;
  float rope_freq_scale = 1.0f;  // 1 / linear scaling factor

  // Granite multipliers (1 or 0 = unused for other archs).
  float embedding_scale = 1.0f;  // embeddings *= this
  float residual_scale = 1.0f;   // each block output *= this before the residual add
  float logit_scale = 1.0f;      // logits /= this
  float attention_scale = 0.0f;  // 0: use 1/sqrt(head_dim)

  bool tied_output = false;  // output projection is token_embd (set by weight binding)

  int q_dim() const { return n_head * head_dim; }
  int kv_dim() const { return n_kv_head * head_dim; }
  float kq_scale() const;
};

// Reads and validates the hyper-parameters of `file`. Errors name the missing or
// inconsistent key, or the unsupported architecture / rope scaling.
Expected<HParams> read_hparams(const gguf::File& file);

}  // namespace pagoda::model
