// Weights by tensor: the file's, a mix's (quant/mix.h decides every type), a shape's.
#include "planner/weights.h"

#include <algorithm>
#include <map>

namespace pagoda::planner {
namespace {

uint64_t tensor_bytes(TensorType type, const std::vector<int64_t>& shape) {
  uint64_t rows = 1;
  for (size_t i = 1; i < shape.size(); ++i) rows *= static_cast<uint64_t>(shape[i]);
  // plan_mix only picks types whose blocks divide the row (it falls back otherwise).
  return static_cast<uint64_t>(row_bytes(type, shape.empty() ? 0 : shape[0]).value_or(0)) * rows;
}

// The facts llama.cpp's rules read from the metadata (as `pagoda quantize` reads them).
quant::ModelFacts facts_of(const gguf::File& file) {
  quant::ModelFacts facts;
  facts.arch = file.get_string("general.architecture").value_or("");
  auto get = [&](const char* key) {
    const auto v = file.get_int(facts.arch + "." + key);
    return v && *v > 0 && *v < (1 << 24) ? static_cast<int>(*v) : 0;
  };
  facts.n_layer = get("block_count");
  facts.n_head = get("attention.head_count");
  facts.n_head_kv = get("attention.head_count_kv");
  facts.n_expert = get("expert_count");
  return facts;
}

// Types the mix gives `descs` (already in llama.cpp's order, as plan_mix needs).
WeightsPlan apply_mix(const quant::Mix& mix, const quant::ModelFacts& facts,
                      const std::vector<quant::TensorDesc>& descs) {
  WeightsPlan plan;
  plan.label = std::string(mix.name);
  const auto choices = quant::plan_mix(mix, facts, descs);
  for (size_t i = 0; i < descs.size(); ++i)
    plan.tensors.push_back(
        {descs[i].name, choices[i].type, descs[i].shape, tensor_bytes(choices[i].type, descs[i].shape)});
  return plan;
}

}  // namespace

uint64_t WeightTensor::n_elements() const {
  uint64_t n = shape.empty() ? 0 : 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

uint64_t WeightsPlan::bytes() const {
  uint64_t n = 0;
  for (const auto& t : tensors) n += t.bytes;
  return n;
}

uint64_t WeightsPlan::params() const {
  uint64_t n = 0;
  for (const auto& t : tensors) n += t.n_elements();
  return n;
}

std::vector<TypeTotal> WeightsPlan::by_type() const {
  std::map<TensorType, TypeTotal> totals;
  for (const auto& t : tensors) {
    TypeTotal& tt = totals[t.type];
    tt.type = t.type;
    ++tt.n_tensors;
    tt.params += t.n_elements();
    tt.bytes += t.bytes;
  }
  std::vector<TypeTotal> out;
  for (const auto& [type, tt] : totals) out.push_back(tt);
  std::stable_sort(out.begin(), out.end(), [](const TypeTotal& a, const TypeTotal& b) { return a.bytes > b.bytes; });
  return out;
}

uint64_t WeightsPlan::f32_copy_bytes() const {
  uint64_t n = 0;
  for (const auto& t : tensors)
    if (t.shape.size() == 1) n += t.n_elements() * sizeof(float);
  return n;
}

WeightsPlan weights_of_file(const gguf::File& file, std::string label) {
  WeightsPlan plan;
  plan.label = std::move(label);
  for (const auto& t : file.tensors()) plan.tensors.push_back({t.name, t.type, t.shape, t.n_bytes});
  return plan;
}

WeightsPlan weights_of_file(const gguf::File& file, const quant::Mix& mix) {
  std::vector<quant::TensorDesc> descs;
  for (const auto& t : file.tensors()) descs.push_back({t.name, t.type, t.shape});
  std::vector<quant::TensorDesc> ordered;
  for (size_t i : quant::llama_cpp_tensor_order(descs)) ordered.push_back(descs[i]);
  return apply_mix(mix, facts_of(file), ordered);
}

WeightsPlan weights_of_shape(const ModelShape& s, const quant::Mix& mix) {
  // The tensors pagoda binds (model/weights.cpp) in make-model's layout; weights
  // start as F32 so that the mix decides every matrix and norms stay F32.
  const int64_t e = s.n_embd, q = s.q_dim(), kv = s.kv_dim(), hd = s.head_size();
  std::vector<quant::TensorDesc> descs;
  auto add = [&](std::string name, std::vector<int64_t> shape) {
    descs.push_back({std::move(name), TensorType::F32, std::move(shape)});
  };
  add("token_embd.weight", {e, s.n_vocab});
  add("output_norm.weight", {e});
  if (!s.tied_embeddings) add("output.weight", {e, s.n_vocab});
  for (int64_t l = 0; l < s.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", {e});
    add(p + "attn_q.weight", {e, q});
    add(p + "attn_k.weight", {e, kv});
    add(p + "attn_v.weight", {e, kv});
    if (s.qkv_bias) {
      add(p + "attn_q.bias", {q});
      add(p + "attn_k.bias", {kv});
      add(p + "attn_v.bias", {kv});
    }
    if (s.arch == "qwen3") {
      add(p + "attn_q_norm.weight", {hd});
      add(p + "attn_k_norm.weight", {hd});
    }
    add(p + "attn_output.weight", {q, e});
    add(p + "ffn_norm.weight", {e});
    add(p + "ffn_gate.weight", {e, s.n_ff});
    add(p + "ffn_up.weight", {e, s.n_ff});
    add(p + "ffn_down.weight", {s.n_ff, e});
  }
  std::vector<quant::TensorDesc> ordered;
  for (size_t i : quant::llama_cpp_tensor_order(descs)) ordered.push_back(descs[i]);
  const quant::ModelFacts facts{s.arch, static_cast<int>(s.n_layer), static_cast<int>(s.n_head),
                                static_cast<int>(s.n_head_kv), 0};
  return apply_mix(mix, facts, ordered);
}

uint64_t device_bytes(const WeightTensor& t, int tp, int64_t n_head_kv, int64_t kv_heads_per_device) {
  if (tp <= 1) return t.bytes;
  const bool kv_proj = t.name.find("attn_k.") != std::string::npos || t.name.find("attn_v.") != std::string::npos;
  if (kv_proj && n_head_kv > 0) {
    // Each device holds its KV heads' rows (replicated when heads < devices).
    return (t.bytes * static_cast<uint64_t>(kv_heads_per_device) + static_cast<uint64_t>(n_head_kv) - 1) /
           static_cast<uint64_t>(n_head_kv);
  }
  const bool split = t.shape.size() >= 2 || t.name.find("attn_q.bias") != std::string::npos;
  if (!split) return t.bytes;
  return (t.bytes + static_cast<uint64_t>(tp) - 1) / static_cast<uint64_t>(tp);
}

}  // namespace pagoda::planner
