#pragma once
// Small random Llama-family models written with gguf::Writer (F32 weights), and
// an independent, deliberately plain f32 reference forward (llama2.c style:
// one token at a time, every loop spelled out) to check model::Model against.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"

namespace pagoda::test {

struct TinySpec {
  std::string arch = "llama";
  int n_vocab = 67;
  int n_embd = 32;
  int n_layer = 2;
  int n_head = 4;
  int n_kv_head = 2;
  int head_dim = 0;  // 0: n_embd / n_head, without the key_length key
  int n_ff = 48;
  int n_ctx = 64;
  int n_rot = 0;     // 0: head_dim, without the rope.dimension_count key
  float rms_eps = 1e-5f;
  float rope_base = 10000.0f;
  float rope_scale = 0.0f;  // rope.scaling.factor (0: absent)
  bool tied = false;        // no output.weight
  bool qkv_bias = false;    // attn_{q,k,v}.bias
  bool qk_norm = false;     // attn_{q,k}_norm.weight
  bool rope_freqs = false;  // rope_freqs.weight (Llama 3 style factors)
  // Granite multipliers (written only when arch == "granite").
  float embedding_scale = 1.0f, residual_scale = 1.0f, logit_scale = 1.0f, attention_scale = 0.0f;
  uint32_t seed = 1;

  int resolved_head_dim() const { return head_dim > 0 ? head_dim : n_embd / n_head; }
  int resolved_n_rot() const { return n_rot > 0 ? n_rot : resolved_head_dim(); }
};

// A generated model: its GGUF bytes and the f32 tensors they hold.
struct TinyModel {
  TinySpec spec;
  std::shared_ptr<std::vector<uint8_t>> bytes;    // the GGUF file
  std::map<std::string, std::vector<float>> tensors;  // by GGUF name

  const std::vector<float>& t(const std::string& name) const { return tensors.at(name); }
};

// Random weights for `spec`; `drop` names a tensor to leave out, `reshape`
// one to write with a wrong shape (for error tests).
TinyModel make_tiny_model(const TinySpec& spec, const std::string& drop = "",
                          const std::string& reshape = "");
// Writes `m` to a file under the temp directory and returns its path.
std::string write_tiny_model(const TinyModel& m, const std::string& file_name);
// Loads `m` from its bytes (which the returned model keeps alive through `m`).
Expected<std::unique_ptr<model::Model>> load_tiny_model(const TinyModel& m);

// Reference logits [tokens.size(), n_vocab] of one sequence, all f32.
std::vector<float> reference_logits(const TinyModel& m, const std::vector<int32_t>& tokens);

}  // namespace pagoda::test
