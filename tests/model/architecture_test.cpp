// Each supported architecture variant, on a small random model, against the
// plain f32 reference forward in tiny_model.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "tiny_model.h"

namespace pagoda::test {
namespace {

std::vector<int32_t> some_tokens(int n, int n_vocab, int salt = 0) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back((i * 37 + 11 + salt * 5) % n_vocab);
  return t;
}

// Runs the whole sequence in one batch and returns [n, n_vocab] logits.
std::vector<float> run_model(model::Model& m, const std::vector<int32_t>& tokens, KvType k,
                             KvType v) {
  auto cache = m.make_kv_cache(1, static_cast<int>(tokens.size()), k, v);
  EXPECT_TRUE(cache.ok()) << cache.error().message;
  model::Batch batch;
  for (size_t i = 0; i < tokens.size(); ++i) batch.add(tokens[i], static_cast<int>(i), 0, true);
  ThreadPool pool(2);
  std::vector<float> logits;
  auto ok = m.forward(batch, **cache, pool, logits);
  EXPECT_TRUE(ok.ok()) << ok.error().message;
  return logits;
}

// Largest |ours - reference| over all logits, and the largest |reference|.
std::pair<double, double> compare(const TinySpec& spec, KvType k, KvType v, int n_tokens = 20) {
  TinyModel tm = make_tiny_model(spec);
  auto m = load_tiny_model(tm);
  EXPECT_TRUE(m.ok()) << m.error().message;
  if (!m.ok()) return {1e9, 0};
  auto tokens = some_tokens(n_tokens, spec.n_vocab);
  auto ours = run_model(**m, tokens, k, v);
  auto ref = reference_logits(tm, tokens);
  EXPECT_EQ(ours.size(), ref.size());
  double max_diff = 0, max_abs = 0;
  for (size_t i = 0; i < std::min(ours.size(), ref.size()); ++i) {
    max_diff = std::max(max_diff, std::abs(double{ours[i]} - ref[i]));
    max_abs = std::max(max_abs, std::abs(double{ref[i]}));
  }
  return {max_diff, max_abs};
}

void expect_matches_reference(const TinySpec& spec) {
  auto [diff32, scale32] = compare(spec, KvType::f32, KvType::f32);
  EXPECT_GT(scale32, 0.5) << "logits too small to be a meaningful check";
  EXPECT_LT(diff32, 1e-3) << "f32 KV cache, logits up to " << scale32;
  auto [diff16, scale16] = compare(spec, KvType::f16, KvType::f16);
  EXPECT_LT(diff16, 0.03) << "f16 KV cache, logits up to " << scale16;
}

TEST(Architecture, LlamaGqa) { expect_matches_reference(TinySpec{}); }

TEST(Architecture, LlamaMultiQueryTiedRopeFreqs) {
  TinySpec s;
  s.n_kv_head = 1;
  s.tied = true;
  s.rope_freqs = true;
  s.rope_base = 500.0f;
  expect_matches_reference(s);
}

TEST(Architecture, LlamaLinearRopeScalingPartialRotation) {
  TinySpec s;
  s.rope_scale = 4.0f;
  s.n_rot = 4;
  s.n_kv_head = 4;
  expect_matches_reference(s);
}

TEST(Architecture, Qwen2BiasesNeox) {
  TinySpec s;
  s.arch = "qwen2";
  s.qkv_bias = true;
  s.rope_base = 1000000.0f;
  expect_matches_reference(s);
}

TEST(Architecture, Qwen3QkNormExplicitHeadDim) {
  TinySpec s;
  s.arch = "qwen3";
  s.qk_norm = true;
  s.head_dim = 16;  // q_dim 64 != n_embd 32, as in real Qwen3 models
  s.tied = true;
  expect_matches_reference(s);
}

TEST(Architecture, GraniteMultipliers) {
  TinySpec s;
  s.arch = "granite";
  s.embedding_scale = 3.0f;
  s.residual_scale = 0.5f;
  s.logit_scale = 2.5f;
  s.attention_scale = 0.2f;
  expect_matches_reference(s);
}

TEST(Architecture, QuantizedKvCacheStaysClose) {
  TinySpec s;
  s.n_embd = 64;
  s.n_head = 2;
  s.n_kv_head = 1;  // head_dim 32: one Q8_0/Q4_0 block per head
  auto [diff8, scale8] = compare(s, KvType::q8_0, KvType::q8_0);
  EXPECT_LT(diff8, 0.05 + 0.02 * scale8);
  auto [diff4, scale4] = compare(s, KvType::q4_0, KvType::q4_0);
  EXPECT_LT(diff4, 0.35 * scale4);  // 4-bit K/V: coarse; the fixture traces check it closely
}

// Head size 8 (a q8_0/q4_0 block spans all heads of a row): every K/V type and
// some mixed pairs stay close to the f32 reference, within the type's precision.
TEST(Architecture, EveryKvTypeOnHeadSize8) {
  const TinySpec s;  // head_dim 8, 2 kv heads: a 16-value row, one padded block
  ASSERT_EQ(s.resolved_head_dim(), 8);
  auto bound = [](KvType t) {  // |diff| <= bound * max|logit|
    switch (t) {
      case KvType::f32: return 1e-4;
      case KvType::f16: return 0.01;
      case KvType::bf16: return 0.03;
      case KvType::q8_0: return 0.03;
      case KvType::fp8_e4m3: return 0.15;
      default: return 0.35;  // q4_0, fp8_e5m2: 2-3 significant bits
    }
  };
  for (KvType k : kAllKvTypes) {
    for (KvType v : {k, KvType::f16, KvType::q8_0}) {
      auto [diff, scale] = compare(s, k, v);
      EXPECT_GT(scale, 0.5);
      EXPECT_LT(diff, std::max(bound(k), bound(v)) * scale)
          << "K " << kv_type_name(k) << ", V " << kv_type_name(v);
    }
  }
}

}  // namespace
}  // namespace pagoda::test
