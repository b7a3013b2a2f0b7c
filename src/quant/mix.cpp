// Per-tensor type choice for quantization mixes, after llama.cpp's
// llama_tensor_get_type / tensor_type_fallback (only the rules that concern
// the mixes we offer: no IQ or MXFP4 types, no importance matrix).
#include "quant/mix.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "quant/codec.h"

namespace pagoda::quant {
namespace {

// llama.cpp's LLAMA_FTYPE numbers (include/llama.h), stored as general.file_type.
namespace ftype {
constexpr uint32_t kAllF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ8_0 = 7, kQ5_0 = 8, kQ5_1 = 9,
                   kQ2_K = 10, kQ3_K_S = 11, kQ3_K_M = 12, kQ3_K_L = 13, kQ4_K_S = 14,
                   kQ4_K_M = 15, kQ5_K_S = 16, kQ5_K_M = 17, kQ6_K = 18, kQ2_K_S = 21, kBF16 = 32;
}

enum class Category {
  kTokenEmbd, kAttnQ, kAttnV, kAttnK, kAttnQkv, kAttnKvB, kAttnOutput,
  kFfnUp, kFfnGate, kFfnDown, kOutput, kOther,
};

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

Category category_of(const std::string& name) {
  if (name == "output.weight") return Category::kOutput;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") return Category::kTokenEmbd;
  if (contains(name, "attn_qkv.weight")) return Category::kAttnQkv;
  if (contains(name, "attn_kv_b.weight")) return Category::kAttnKvB;
  if (contains(name, "attn_v.weight")) return Category::kAttnV;
  if (contains(name, "attn_k.weight")) return Category::kAttnK;
  if (contains(name, "attn_q.weight")) return Category::kAttnQ;
  if (contains(name, "attn_output.weight")) return Category::kAttnOutput;
  if (contains(name, "ffn_up")) return Category::kFfnUp;
  if (contains(name, "ffn_gate")) return Category::kFfnGate;
  if (contains(name, "ffn_down")) return Category::kFfnDown;
  return Category::kOther;
}

// Value tensors (alone or fused) are the most sensitive to quantization.
bool is_attn_v_like(Category c) {
  return c == Category::kAttnV || c == Category::kAttnQkv || c == Category::kAttnKvB;
}

// Dimensions ignoring trailing 1s, as ggml_n_dims.
int n_dims(const std::vector<int64_t>& shape) {
  int n = 1;
  for (int i = 0; i < static_cast<int>(shape.size()); ++i)
    if (shape[i] > 1) n = i + 1;
  return n;
}

// llama.cpp's tensor_allows_quantization for the default parameters: 2-D+
// weights only, never norms, routers, positional/type embeddings or the
// small special-purpose tensors some architectures carry.
bool allows_quantization(const TensorDesc& t) {
  if (n_dims(t.shape) < 2) return false;
  const std::string& name = t.name;
  if (name.size() < 6 || name.compare(name.size() - 6, 6, "weight") != 0) return false;
  static constexpr std::string_view kExcluded[] = {
      "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
      "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight",
      "indexer.q_proj.weight", "time_mix_first.weight", "time_mix_w0.weight",
      "time_mix_w1.weight", "time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight",
      "time_mix_v2.weight", "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight",
      "time_mix_g1.weight", "time_mix_g2.weight", "time_mix_decay_w1.weight",
      "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight",
      ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd",
      ".patch_merger", "a.rvq.codebook", "mm.a.code_embd"};
  for (auto part : kExcluded)
    if (contains(name, part)) return false;
  return name != "position_embd.weight" && name != "token_types.weight";
}

bool is_quantized(TensorType t) {
  return t != TensorType::F32 && t != TensorType::F16 && t != TensorType::BF16;
}

// The block number in "blk.N.", or -1.
int layer_of(const std::string& name) {
  int layer = -1;
  if (std::sscanf(name.c_str(), "blk.%d.", &layer) != 1) return -1;
  return layer;
}

// Layers that get more bits in the *_M mixes: the first and last eighth, and
// every third one in between.
bool use_more_bits(int i_layer, int n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

class Planner {
 public:
  Planner(const Mix& mix, const ModelFacts& facts, const std::vector<TensorDesc>& tensors)
      : ft_(mix.file_type), facts_(facts), falcon_(facts.arch == "falcon") {
    for (const auto& t : tensors) {
      const Category c = category_of(t.name);
      n_attn_v_ += is_attn_v_like(c);
      if (c == Category::kOutput) tied_embeddings_ = false;
      n_ffn_down_seen_ += c == Category::kFfnDown;
    }
    n_ffn_down_ = facts.n_layer > 0 ? facts.n_layer : n_ffn_down_seen_;
    n_gqa_ = facts.n_head_kv > 0 ? facts.n_head / facts.n_head_kv : 1;
    // llama.cpp's LLM_TYPE_70B for Llama: 80 layers (8 query heads share each V head).
    is_70b_ = facts.arch == "llama" && facts.n_layer == 80;
  }

  TensorType choose(const TensorDesc& t, TensorType type) {
    const Category c = category_of(t.name);
    if (c == Category::kOutput || (tied_embeddings_ && c == Category::kTokenEmbd)) {
      const int64_t block = traits(type).block_size;
      if (falcon_ || t.shape[0] % block != 0) return TensorType::Q8_0;
      return type != TensorType::Q8_0 ? TensorType::Q6_K : type;
    }
    if (c == Category::kTokenEmbd) return type;
    if (is_attn_v_like(c)) return attn_v(type);
    if (c == Category::kAttnK) return facts_.n_expert == 8 ? TensorType::Q8_0 : type;
    if (c == Category::kFfnDown) return ffn_down(t, type);
    if (c == Category::kAttnOutput) return attn_output(type);
    return type;
  }

 private:
  TensorType attn_v(TensorType type) {
    if (ft_ == ftype::kQ2_K) type = n_gqa_ >= 4 ? TensorType::Q4_K : TensorType::Q3_K;
    else if (ft_ == ftype::kQ2_K_S && n_gqa_ >= 4) type = TensorType::Q4_K;
    else if (ft_ == ftype::kQ3_K_M) type = i_attn_v_ < 2 ? TensorType::Q5_K : TensorType::Q4_K;
    else if (ft_ == ftype::kQ3_K_L) type = TensorType::Q5_K;
    else if ((ft_ == ftype::kQ4_K_M || ft_ == ftype::kQ5_K_M) && use_more_bits(i_attn_v_, n_attn_v_))
      type = TensorType::Q6_K;
    else if (ft_ == ftype::kQ4_K_S && i_attn_v_ < 4) type = TensorType::Q5_K;
    if (is_70b_ && (type == TensorType::Q3_K || type == TensorType::Q4_K)) type = TensorType::Q5_K;
    if (facts_.n_expert == 8) type = TensorType::Q8_0;
    ++i_attn_v_;
    return type;
  }

  TensorType ffn_down(const TensorDesc& t, TensorType type) {
    int i_layer = i_ffn_down_;
    // Expert tensors are not one per layer in order: read the layer from the name.
    if (facts_.n_expert > 1 && layer_of(t.name) >= 0) i_layer = layer_of(t.name);
    const int n = n_ffn_down_;
    const bool more = use_more_bits(i_layer, n);
    if (ft_ == ftype::kQ2_K) type = TensorType::Q3_K;
    else if (ft_ == ftype::kQ2_K_S) { if (i_layer < n / 8) type = TensorType::Q4_K; }
    else if (ft_ == ftype::kQ3_K_M)
      type = i_layer < n / 16 ? TensorType::Q5_K : (!falcon_ || more) ? TensorType::Q4_K : TensorType::Q3_K;
    else if (ft_ == ftype::kQ3_K_L) type = falcon_ ? TensorType::Q4_K : TensorType::Q5_K;
    else if (ft_ == ftype::kQ4_K_M) {
      if (falcon_) type = i_layer < n / 16 ? TensorType::Q6_K : more ? TensorType::Q5_K : TensorType::Q4_K;
      else if (more) type = TensorType::Q6_K;
    } else if (ft_ == ftype::kQ5_K_M && more) type = TensorType::Q6_K;
    else if (ft_ == ftype::kQ4_K_S && !falcon_ && i_layer < n / 8) type = TensorType::Q5_K;
    ++i_ffn_down_;
    return type;
  }

  TensorType attn_output(TensorType type) const {
    if (falcon_) return ft_ == ftype::kQ3_K_L ? TensorType::Q4_K : type;
    if (facts_.n_expert == 8) {
      const bool bump = ft_ == ftype::kQ2_K || ft_ == ftype::kQ3_K_S || ft_ == ftype::kQ3_K_M ||
                        ft_ == ftype::kQ4_K_S || ft_ == ftype::kQ4_K_M;
      return bump ? TensorType::Q5_K : type;
    }
    if (ft_ == ftype::kQ2_K) return TensorType::Q3_K;
    if (ft_ == ftype::kQ3_K_M) return TensorType::Q4_K;
    if (ft_ == ftype::kQ3_K_L) return TensorType::Q5_K;
    return type;
  }

  uint32_t ft_;
  const ModelFacts& facts_;
  bool falcon_;
  bool tied_embeddings_ = true;  // until an output.weight shows up
  bool is_70b_ = false;
  int n_gqa_ = 1;
  int n_attn_v_ = 0, i_attn_v_ = 0;
  int n_ffn_down_ = 0, n_ffn_down_seen_ = 0, i_ffn_down_ = 0;
};

// A type whose blocks fit rows of `row` elements, in llama.cpp's fallback order
// (K-quant -> 32-block type -> F16); 32-block types go to F16 directly (where
// llama.cpp would refuse the model).
TensorType fallback_for(TensorType type, int64_t row) {
  if (row % traits(type).block_size == 0) return type;
  TensorType next = TensorType::F16;
  switch (type) {
    case TensorType::Q2_K:
    case TensorType::Q3_K: next = TensorType::Q4_0; break;
    case TensorType::Q4_K: next = TensorType::Q5_0; break;
    case TensorType::Q5_K: next = TensorType::Q5_1; break;
    case TensorType::Q6_K: next = TensorType::Q8_0; break;
    default: break;
  }
  return row % traits(next).block_size == 0 ? next : TensorType::F16;
}

std::string upper(std::string_view s) {
  std::string out;
  for (char c : s) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

const std::vector<Mix>& all_mixes() {
  static const std::vector<Mix> mixes = {
      {"F32", ftype::kAllF32, TensorType::F32},     {"F16", ftype::kF16, TensorType::F16},
      {"BF16", ftype::kBF16, TensorType::BF16},     {"Q8_0", ftype::kQ8_0, TensorType::Q8_0},
      {"Q4_0", ftype::kQ4_0, TensorType::Q4_0},     {"Q4_1", ftype::kQ4_1, TensorType::Q4_1},
      {"Q5_0", ftype::kQ5_0, TensorType::Q5_0},     {"Q5_1", ftype::kQ5_1, TensorType::Q5_1},
      {"Q2_K", ftype::kQ2_K, TensorType::Q2_K},     {"Q3_K_S", ftype::kQ3_K_S, TensorType::Q3_K},
      {"Q3_K_M", ftype::kQ3_K_M, TensorType::Q3_K}, {"Q3_K_L", ftype::kQ3_K_L, TensorType::Q3_K},
      {"Q4_K_S", ftype::kQ4_K_S, TensorType::Q4_K}, {"Q4_K_M", ftype::kQ4_K_M, TensorType::Q4_K},
      {"Q5_K_S", ftype::kQ5_K_S, TensorType::Q5_K}, {"Q5_K_M", ftype::kQ5_K_M, TensorType::Q5_K},
      {"Q6_K", ftype::kQ6_K, TensorType::Q6_K},
  };
  return mixes;
}

std::optional<Mix> find_mix(std::string_view name) {
  const std::string wanted = upper(name);
  for (const auto& m : all_mixes())
    if (m.name == wanted) return m;
  return std::nullopt;
}

std::vector<size_t> llama_cpp_tensor_order(const std::vector<TensorDesc>& tensors) {
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const int la = layer_of(tensors[a].name), lb = layer_of(tensors[b].name);
    if (la != lb) return la < lb;
    return tensors[a].name < tensors[b].name;
  });
  return order;
}

std::vector<TensorChoice> plan_mix(const Mix& mix, const ModelFacts& facts,
                                   const std::vector<TensorDesc>& tensors) {
  Planner planner(mix, facts, tensors);
  std::vector<TensorChoice> plan;
  plan.reserve(tensors.size());
  for (const auto& t : tensors) {
    TensorChoice choice;
    choice.type = t.type;
    if (allows_quantization(t) && !t.shape.empty()) {
      TensorType wanted = mix.default_type;
      if (is_quantized(wanted)) wanted = planner.choose(t, wanted);
      const TensorType fitted = fallback_for(wanted, t.shape[0]);
      if (fitted != wanted) {
        choice.fallback = "rows of " + std::to_string(t.shape[0]) + " are not a multiple of " +
                          std::string(tensor_type_name(wanted)) + "'s block of " +
                          std::to_string(traits(wanted).block_size) + " -> " +
                          std::string(tensor_type_name(fitted));
      }
      if (fitted != t.type && !can_dequantize(t.type)) {
        choice.fallback = "input type " + std::string(tensor_type_name(t.type)) +
                          " cannot be converted: copied unchanged";
      } else {
        choice.type = fitted;
      }
    }
    choice.convert = choice.type != t.type;
    plan.push_back(std::move(choice));
  }
  return plan;
}

}  // namespace pagoda::quant
