// The figures of the article behind pagoda, computed (not typed in) for
// Llama-3.1-70B: weights per mix from llama.cpp's per-tensor rules, and the
// GQA-correct KV cache.
#include <gtest/gtest.h>

#include <cmath>

#include "planner/estimate.h"

namespace pagoda::planner {
namespace {

PlannedModel llama70b(const char* mix) {
  const ModelShape* s = find_model_shape("llama-3.1-70b");
  EXPECT_NE(s, nullptr);
  auto m = model_from_shape(*s, *quant::find_mix(mix));
  EXPECT_TRUE(m.ok()) << m.error().message;
  return *m;
}

TEST(Llama70b, WeightsPerMix) {
  const struct {
    const char* mix;
    double gb;
  } expected[] = {{"F16", 141}, {"Q8_0", 75}, {"Q6_K", 58}, {"Q5_K_M", 50},
                  {"Q4_K_M", 43}, {"Q3_K_M", 34}, {"Q2_K", 26}};
  for (const auto& x : expected) {
    const PlannedModel m = llama70b(x.mix);
    const double gb = static_cast<double>(m.weights.bytes()) / 1e9;
    EXPECT_NEAR(gb, x.gb, 0.6) << x.mix;
  }
  EXPECT_EQ(llama70b("F16").weights.params(), 70553706496u);
}

TEST(Llama70b, MixesKeepEmbeddingsOutputAndSensitiveLayersAtHigherPrecision) {
  const PlannedModel m = llama70b("Q4_K_M");
  // The common "params x 4.5 bits" figure understates the real file.
  const double uniform = static_cast<double>(m.weights.params()) * 4.5 / 8;
  EXPECT_GT(static_cast<double>(m.weights.bytes()), uniform * 1.05);
  EXPECT_GT(m.weights.bits_per_weight(), 4.8);
  bool saw_q6k = false;
  for (const auto& t : m.weights.tensors) {
    const bool six = t.name == "output.weight" || t.name == "blk.0.ffn_down.weight" || t.name == "blk.0.attn_v.weight";
    if (six) {
      EXPECT_EQ(t.type, TensorType::Q6_K) << t.name;
    }
    if (t.name == "blk.0.attn_norm.weight") {
      EXPECT_EQ(t.type, TensorType::F32) << t.name;
    }
    saw_q6k |= t.type == TensorType::Q6_K;
  }
  EXPECT_TRUE(saw_q6k);
}

TEST(Llama70b, KvCacheIsGqaCorrect) {
  const PlannedModel m = llama70b("Q4_K_M");
  EstimateOptions o;
  o.ctx = 32768;
  auto f16 = estimate(m, o);
  ASSERT_TRUE(f16.ok()) << f16.error().message;
  // 80 layers x 8 KV heads x 128 x 2 (K and V) x 2 bytes.
  EXPECT_EQ(f16->kv_bytes_per_token, 320u * 1024);
  EXPECT_EQ(f16->kv_bytes, 10ull << 30);
  // The often-quoted 2 x layers x hidden x bytes counts all 64 heads: 8x too much.
  EXPECT_EQ(2u * 80 * 8192 * 2, 8 * f16->kv_bytes_per_token);
  o.k_type = o.v_type = KvType::q8_0;
  auto q8 = estimate(m, o);
  ASSERT_TRUE(q8.ok());
  // 34 bytes per 32 values.
  EXPECT_EQ(q8->kv_bytes_per_token, 320u * 1024 * 34 / 64);
  EXPECT_NEAR(static_cast<double>(q8->kv_bytes) / (1ull << 30), 5.3125, 1e-9);
}

TEST(Llama70b, TensorParallelSplitsWeightsAndKv) {
  const PlannedModel m = llama70b("Q4_K_M");
  EstimateOptions o;
  o.ctx = 32768;
  o.memory = 48ull << 30;
  auto one = estimate(m, o);
  o.tp = 2;
  auto two = estimate(m, o);
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_FALSE(one->fits);  // 43 GB + 10 GiB does not fit 48 GiB
  EXPECT_TRUE(two->fits);
  EXPECT_EQ(two->device.kv * 2, one->device.kv);
  EXPECT_NEAR(static_cast<double>(two->device.weights) * 2, static_cast<double>(one->device.weights),
              0.001 * static_cast<double>(one->device.weights));
  EXPECT_EQ(two->kv_bytes, one->kv_bytes);
  // Largest fits are consistent with the budget: one more token or sequence would not fit.
  EXPECT_GE(two->max_context, 32768);
  EXPECT_GE(two->max_concurrency, 1);
  o.ctx = two->max_context;
  EXPECT_TRUE(estimate(m, o)->fits);
  o.ctx = two->max_context + 1;
  EXPECT_FALSE(estimate(m, o)->fits);
  // 8 KV heads over 16 devices: each device keeps one whole head (replicated).
  o.ctx = 32768;
  o.tp = 16;
  auto sixteen = estimate(m, o);
  ASSERT_TRUE(sixteen.ok()) << sixteen.error().message;
  EXPECT_EQ(sixteen->kv_heads_per_device, 1);
  EXPECT_EQ(sixteen->device.kv, one->device.kv / 8);
  o.tp = 3;
  EXPECT_FALSE(estimate(m, o).ok());  // 64 heads do not split 3 ways
}

}  // namespace
}  // namespace pagoda::planner
