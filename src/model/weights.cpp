// Tensor binding: names and shapes as llama.cpp's converters write them.
#include "model/weights.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "base/half.h"
#include "quant/codec.h"

namespace pagoda::model {

namespace {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Looks tensors up and records every problem instead of stopping at the first.
class Binder {
 public:
  explicit Binder(const gguf::File& file) : file_(file) {}

  // A tensor of exactly `shape` (GGUF order), or nullptr (problem recorded
  // unless optional and absent).
  const gguf::TensorInfo* find(const std::string& name, const std::vector<int64_t>& shape,
                               bool optional = false) {
    const gguf::TensorInfo* t = file_.find_tensor(name);
    if (!t) {
      if (!optional) problems_.push_back(fmt::format("missing tensor '{}'", name));
      return nullptr;
    }
    if (t->shape != shape) {
      problems_.push_back(fmt::format("tensor '{}' has shape {}, expected {}", name,
                                      shape_str(t->shape), shape_str(shape)));
      return nullptr;
    }
    return t;
  }

  // A matrix [rows][cols] (GGUF shape {cols, rows}) usable by matmul.
  kernels::WeightView matrix(const std::string& name, int64_t cols, int64_t rows,
                             bool optional = false) {
    const gguf::TensorInfo* t = find(name, {cols, rows}, optional);
    if (!t) return {};
    if (!kernels::supports_weight_type(t->type)) {
      problems_.push_back(fmt::format("tensor '{}' has type {}, which matmul does not support",
                                      name, tensor_type_name(t->type)));
      return {};
    }
    auto stride = row_bytes(t->type, cols);
    if (!stride) {
      problems_.push_back(fmt::format("tensor '{}': {} columns are not whole {} blocks", name,
                                      cols, tensor_type_name(t->type)));
      return {};
    }
    return kernels::WeightView{t->type, t->data, cols, rows, *stride};
  }

  // A vector of n values (F32 or F16 in the file) copied to f32; empty if absent.
  std::vector<float> vector(const std::string& name, int64_t n, bool optional = false) {
    const gguf::TensorInfo* t = find(name, {n}, optional);
    if (!t) return {};
    std::vector<float> out(static_cast<size_t>(n));
    if (t->type == TensorType::F32) {
      std::memcpy(out.data(), t->data, out.size() * sizeof(float));
    } else if (t->type == TensorType::F16) {
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, t->data + 2 * i, 2);
        out[static_cast<size_t>(i)] = fp16_to_fp32(h);
      }
    } else {
      problems_.push_back(fmt::format("tensor '{}' has type {}, expected f32 or f16", name,
                                      tensor_type_name(t->type)));
      return {};
    }
    return out;
  }

  void problem(std::string p) { problems_.push_back(std::move(p)); }
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  const gguf::File& file_;
  std::vector<std::string> problems_;
};

}  // namespace

Expected<Weights> bind_weights(const gguf::File& file, HParams& hp) {
  Binder b(file);
  Weights w;
  const int64_t n_embd = hp.n_embd;

  // Vocabulary size comes from the embedding matrix itself.
  const gguf::TensorInfo* embd = file.find_tensor("token_embd.weight");
  if (!embd) return Error{file.name() + ": missing tensor 'token_embd.weight'"};
  if (embd->shape.size() != 2 || embd->shape[0] != n_embd || embd->shape[1] < 1 ||
      embd->shape[1] >= (int64_t{1} << 24))
    return Error{fmt::format("{}: tensor 'token_embd.weight' has shape {}, expected [{}, n_vocab]",
                             file.name(), shape_str(embd->shape), n_embd)};
  // The metadata's vocabulary count is advisory; the matrix decides.
  hp.n_vocab = static_cast<int>(embd->shape[1]);
  w.n_vocab_local = hp.n_vocab;
  if (!quant::can_dequantize(embd->type))
    b.problem(fmt::format("tensor 'token_embd.weight' has type {}, which cannot be dequantized",
                          tensor_type_name(embd->type)));
  w.token_embd = embd;
  if (auto rb = row_bytes(embd->type, n_embd)) w.token_embd_row_bytes = *rb;
  else b.problem("tensor 'token_embd.weight': rows are not whole blocks");

  w.output_norm = b.vector("output_norm.weight", n_embd);
  if (file.find_tensor("output.weight")) {
    w.output = b.matrix("output.weight", n_embd, hp.n_vocab);
  } else {
    hp.tied_output = true;
    w.output = b.matrix("token_embd.weight", n_embd, hp.n_vocab);
  }
  if (file.find_tensor("rope_freqs.weight"))
    w.rope_factors = b.vector("rope_freqs.weight", hp.n_rot / 2);

  const int64_t q_dim = hp.q_dim(), kv_dim = hp.kv_dim(), n_ff = hp.n_ff;
  const bool qk_norm = hp.arch == Arch::qwen3;
  w.layers.resize(static_cast<size_t>(hp.n_layer));
  for (int i = 0; i < hp.n_layer; ++i) {
    LayerWeights& l = w.layers[static_cast<size_t>(i)];
    const std::string p = fmt::format("blk.{}.", i);
    l.attn_norm = b.vector(p + "attn_norm.weight", n_embd);
    l.wq = b.matrix(p + "attn_q.weight", n_embd, q_dim);
    l.wk = b.matrix(p + "attn_k.weight", n_embd, kv_dim);
    l.wv = b.matrix(p + "attn_v.weight", n_embd, kv_dim);
    l.wo = b.matrix(p + "attn_output.weight", q_dim, n_embd);
    l.bq = b.vector(p + "attn_q.bias", q_dim, true);
    l.bk = b.vector(p + "attn_k.bias", kv_dim, true);
    l.bv = b.vector(p + "attn_v.bias", kv_dim, true);
    l.bo = b.vector(p + "attn_output.bias", n_embd, true);
    if (qk_norm) {
      l.q_norm = b.vector(p + "attn_q_norm.weight", hp.head_dim);
      l.k_norm = b.vector(p + "attn_k_norm.weight", hp.head_dim);
    }
    l.ffn_norm = b.vector(p + "ffn_norm.weight", n_embd);
    l.w_gate = b.matrix(p + "ffn_gate.weight", n_embd, n_ff);
    l.w_up = b.matrix(p + "ffn_up.weight", n_embd, n_ff);
    l.w_down = b.matrix(p + "ffn_down.weight", n_ff, n_embd);
  }
  if (hp.arch == Arch::qwen2) {
    // Qwen2 always carries Q/K/V biases; their absence means a broken file.
    for (int i = 0; i < hp.n_layer; ++i)
      for (const char* name : {"attn_q.bias", "attn_k.bias", "attn_v.bias"})
        if (!file.find_tensor(fmt::format("blk.{}.{}", i, name)))
          b.problem(fmt::format("missing tensor 'blk.{}.{}'", i, name));
  }

  const auto& problems = b.problems();
  if (!problems.empty()) {
    std::string msg = fmt::format("{}: {} problem(s) binding {} weights:", file.name(),
                                  problems.size(), hp.arch_str);
    const size_t shown = std::min<size_t>(problems.size(), 20);
    for (size_t i = 0; i < shown; ++i) msg += "\n  " + problems[i];
    if (shown < problems.size()) msg += fmt::format("\n  ... and {} more", problems.size() - shown);
    return Error{msg};
  }
  return w;
}

}  // namespace pagoda::model
