// Per-tensor type choice of the quantization mixes, checked against what
// llama.cpp's llama-quantize does for the same shapes.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "gguf/file_type.h"
#include "quant/mix.h"

namespace pagoda::quant {
namespace {

// A Llama-shaped model: n_layer blocks, rows of n_embd / n_ff, untied output
// unless `tied`. Order as llama.cpp writes it.
std::vector<TensorDesc> llama_tensors(int n_layer, int64_t n_embd, int64_t n_ff, bool tied = false,
                                      TensorType type = TensorType::F16) {
  std::vector<TensorDesc> t;
  if (!tied) t.push_back({"output.weight", type, {n_embd, 32000}});
  t.push_back({"output_norm.weight", TensorType::F32, {n_embd}});
  t.push_back({"token_embd.weight", type, {n_embd, 32000}});
  for (int l = 0; l < n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    t.push_back({p + "attn_k.weight", type, {n_embd, n_embd / 4}});
    t.push_back({p + "attn_norm.weight", TensorType::F32, {n_embd}});
    t.push_back({p + "attn_output.weight", type, {n_embd, n_embd}});
    t.push_back({p + "attn_q.weight", type, {n_embd, n_embd}});
    t.push_back({p + "attn_v.weight", type, {n_embd, n_embd / 4}});
    t.push_back({p + "ffn_down.weight", type, {n_ff, n_embd}});
    t.push_back({p + "ffn_gate.weight", type, {n_embd, n_ff}});
    t.push_back({p + "ffn_norm.weight", TensorType::F32, {n_embd}});
    t.push_back({p + "ffn_up.weight", type, {n_embd, n_ff}});
  }
  return t;
}

ModelFacts llama_facts(int n_layer) { return {"llama", n_layer, 8, 2, 0}; }

std::map<std::string, TensorChoice> plan_by_name(const char* mix_name, const ModelFacts& facts,
                                                 const std::vector<TensorDesc>& tensors) {
  const auto mix = find_mix(mix_name);
  EXPECT_TRUE(mix.has_value()) << mix_name;
  const auto plan = plan_mix(*mix, facts, tensors);
  std::map<std::string, TensorChoice> out;
  for (size_t i = 0; i < tensors.size(); ++i) out[tensors[i].name] = plan[i];
  return out;
}

TEST(QuantMix, FindsMixesCaseInsensitivelyWithLlamaCppFileTypes) {
  EXPECT_EQ(find_mix("q4_k_m")->file_type, 15u);
  EXPECT_EQ(find_mix("Q8_0")->file_type, 7u);
  EXPECT_EQ(find_mix("Q4_0")->file_type, 2u);
  EXPECT_EQ(find_mix("bf16")->file_type, 32u);
  EXPECT_EQ(find_mix("F32")->default_type, TensorType::F32);
  EXPECT_FALSE(find_mix("Q4_K").has_value());  // llama.cpp wants _S or _M
  EXPECT_FALSE(find_mix("IQ2_XXS").has_value());
  EXPECT_FALSE(find_mix("").has_value());
  // Every mix's general.file_type is the one gguf/file_type.h names the same way.
  for (const auto& m : all_mixes()) {
    const auto info = gguf::file_type_info(m.file_type);
    ASSERT_TRUE(info.has_value()) << m.name;
    EXPECT_EQ(info->short_name, m.name);
  }
  EXPECT_EQ(all_mixes().size(), 17u);
}

// Matches the fixture llama-spm-q4_k_m.gguf (4 layers): more bits for
// attn_v and ffn_down in layers 2 and 3, Q6_K output, norms untouched.
TEST(QuantMix, Q4KMediumGivesMoreBitsToTheUseMoreBitsLayers) {
  const auto tensors = llama_tensors(4, 256, 768);
  auto plan = plan_by_name("Q4_K_M", llama_facts(4), tensors);
  EXPECT_EQ(plan["output.weight"].type, TensorType::Q6_K);
  EXPECT_EQ(plan["token_embd.weight"].type, TensorType::Q4_K);
  EXPECT_EQ(plan["output_norm.weight"].type, TensorType::F32);
  EXPECT_FALSE(plan["output_norm.weight"].convert);
  for (int l = 0; l < 4; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const TensorType more = l >= 2 ? TensorType::Q6_K : TensorType::Q4_K;
    EXPECT_EQ(plan[p + "attn_v.weight"].type, more) << l;
    EXPECT_EQ(plan[p + "ffn_down.weight"].type, more) << l;
    EXPECT_EQ(plan[p + "attn_q.weight"].type, TensorType::Q4_K);
    EXPECT_EQ(plan[p + "ffn_up.weight"].type, TensorType::Q4_K);
    EXPECT_EQ(plan[p + "attn_norm.weight"].type, TensorType::F32);
    EXPECT_TRUE(plan[p + "attn_q.weight"].fallback.empty());
  }
}

TEST(QuantMix, UseMoreBitsPatternOnA32LayerModel) {
  // llama.cpp: i < 4 || i >= 28 || (i - 4) % 3 == 2.
  const auto tensors = llama_tensors(32, 256, 768);
  auto plan = plan_by_name("Q5_K_M", llama_facts(32), tensors);
  for (int l = 0; l < 32; ++l) {
    const bool more = l < 4 || l >= 28 || (l - 4) % 3 == 2;
    EXPECT_EQ(plan["blk." + std::to_string(l) + ".ffn_down.weight"].type,
              more ? TensorType::Q6_K : TensorType::Q5_K) << l;
  }
}

TEST(QuantMix, LegacyMixesKeepOutputRulesOfLlamaCpp) {
  const auto tensors = llama_tensors(2, 256, 768);
  auto q8 = plan_by_name("Q8_0", llama_facts(2), tensors);
  EXPECT_EQ(q8["output.weight"].type, TensorType::Q8_0);
  EXPECT_EQ(q8["token_embd.weight"].type, TensorType::Q8_0);
  EXPECT_EQ(q8["blk.1.ffn_down.weight"].type, TensorType::Q8_0);
  auto q4 = plan_by_name("Q4_0", llama_facts(2), tensors);
  EXPECT_EQ(q4["output.weight"].type, TensorType::Q6_K);
  EXPECT_EQ(q4["token_embd.weight"].type, TensorType::Q4_0);
  EXPECT_EQ(q4["blk.0.attn_v.weight"].type, TensorType::Q4_0);
}

TEST(QuantMix, TiedEmbeddingsAreTreatedAsTheOutput) {
  const auto tensors = llama_tensors(2, 256, 768, /*tied=*/true);
  auto plan = plan_by_name("Q4_0", llama_facts(2), tensors);
  EXPECT_EQ(plan["token_embd.weight"].type, TensorType::Q6_K);
}

TEST(QuantMix, Q3KMixesFollowTheirAttentionRules) {
  const auto tensors = llama_tensors(4, 256, 768);
  auto m = plan_by_name("Q3_K_M", llama_facts(4), tensors);
  EXPECT_EQ(m["blk.0.attn_v.weight"].type, TensorType::Q5_K);
  EXPECT_EQ(m["blk.1.attn_v.weight"].type, TensorType::Q5_K);
  EXPECT_EQ(m["blk.2.attn_v.weight"].type, TensorType::Q4_K);
  EXPECT_EQ(m["blk.0.attn_output.weight"].type, TensorType::Q4_K);
  EXPECT_EQ(m["blk.0.attn_q.weight"].type, TensorType::Q3_K);
  auto l = plan_by_name("Q3_K_L", llama_facts(4), tensors);
  EXPECT_EQ(l["blk.3.attn_v.weight"].type, TensorType::Q5_K);
  EXPECT_EQ(l["blk.3.ffn_down.weight"].type, TensorType::Q5_K);
  auto q2 = plan_by_name("Q2_K", llama_facts(4), tensors);  // n_gqa = 4
  EXPECT_EQ(q2["blk.0.attn_v.weight"].type, TensorType::Q4_K);
  EXPECT_EQ(q2["blk.0.ffn_down.weight"].type, TensorType::Q3_K);
}

// stories260K: n_embd 64, FFN 172 (neither divides 256; 172 does not divide 32).
TEST(QuantMix, RowsThatDoNotFitTheBlockFallBackAndSayWhy) {
  const auto tensors = llama_tensors(5, 64, 172);
  auto q4 = plan_by_name("Q4_0", {"llama", 5, 8, 4, 0}, tensors);
  EXPECT_EQ(q4["blk.0.ffn_gate.weight"].type, TensorType::Q4_0);  // rows of 64
  EXPECT_EQ(q4["blk.0.ffn_down.weight"].type, TensorType::F16);   // rows of 172
  EXPECT_NE(q4["blk.0.ffn_down.weight"].fallback.find("172"), std::string::npos);
  EXPECT_EQ(q4["output.weight"].type, TensorType::Q8_0);  // 64 % 256 -> Q8_0 by the output rule
  auto k = plan_by_name("Q4_K_M", {"llama", 5, 8, 4, 0}, tensors);
  EXPECT_EQ(k["blk.0.attn_q.weight"].type, TensorType::Q5_0);    // Q4_K -> Q5_0
  EXPECT_EQ(k["blk.0.ffn_down.weight"].type, TensorType::F16);   // Q6_K -> Q8_0 -> F16
  EXPECT_EQ(k["blk.1.ffn_down.weight"].type, TensorType::F16);   // Q4_K -> Q5_0 -> F16
  EXPECT_FALSE(k["blk.1.ffn_down.weight"].fallback.empty());
  auto q6 = plan_by_name("Q6_K", {"llama", 5, 8, 4, 0}, tensors);
  EXPECT_EQ(q6["blk.0.attn_q.weight"].type, TensorType::Q8_0);
  auto f32 = plan_by_name("F32", {"llama", 5, 8, 4, 0}, tensors);
  EXPECT_EQ(f32["blk.0.ffn_down.weight"].type, TensorType::F32);
  EXPECT_TRUE(f32["blk.0.ffn_down.weight"].convert);
  EXPECT_TRUE(f32["blk.0.ffn_down.weight"].fallback.empty());
}

TEST(QuantMix, SameTypeIsCopiedAndUnconvertibleInputIsKept) {
  std::vector<TensorDesc> t = {{"blk.0.attn_q.weight", TensorType::Q8_0, {256, 256}},
                               {"blk.0.attn_k.weight", TensorType::IQ2_XXS, {256, 64}},
                               {"blk.0.ffn_gate_inp.weight", TensorType::F16, {256, 8}}};
  const auto plan = plan_mix(*find_mix("Q8_0"), llama_facts(1), t);
  EXPECT_EQ(plan[0].type, TensorType::Q8_0);
  EXPECT_FALSE(plan[0].convert);
  EXPECT_EQ(plan[1].type, TensorType::IQ2_XXS);
  EXPECT_FALSE(plan[1].convert);
  EXPECT_NE(plan[1].fallback.find("cannot be converted"), std::string::npos);
  EXPECT_EQ(plan[2].type, TensorType::F16);  // routers stay as they are
}

TEST(QuantMix, OrdersLikeLlamaCppWithNumericLayers) {
  std::vector<TensorDesc> t = {{"blk.10.a.weight", TensorType::F32, {4}},
                               {"blk.2.b.weight", TensorType::F32, {4}},
                               {"token_embd.weight", TensorType::F32, {4}},
                               {"blk.2.a.weight", TensorType::F32, {4}},
                               {"output.weight", TensorType::F32, {4}}};
  const auto order = llama_cpp_tensor_order(t);
  std::vector<std::string> names;
  for (size_t i : order) names.push_back(t[i].name);
  EXPECT_EQ(names, (std::vector<std::string>{"output.weight", "token_embd.weight", "blk.2.a.weight",
                                             "blk.2.b.weight", "blk.10.a.weight"}));
}

}  // namespace
}  // namespace pagoda::quant
