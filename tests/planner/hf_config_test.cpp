// A Hugging Face config.json gives the same shape, and so the same figures,
// as the built-in preset of the same model. The configs are the published
// ones (unrelated fields trimmed).
#include <gtest/gtest.h>

#include <string>

#include "planner/estimate.h"

namespace pagoda::planner {
namespace {

struct Config {
  const char* preset;
  const char* json;
};

const Config kConfigs[] = {
    {"llama-3.1-8b", R"({"architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 128000,
      "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu", "hidden_size": 4096,
      "intermediate_size": 14336, "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama",
      "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "pretraining_tp": 1,
      "rms_norm_eps": 1e-05, "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
      "original_max_position_embeddings": 8192, "rope_type": "llama3"}, "rope_theta": 500000.0,
      "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 128256})"},
    {"llama-3.1-70b", R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 8192, "intermediate_size": 28672,
      "max_position_embeddings": 131072, "model_type": "llama", "num_attention_heads": 64,
      "num_hidden_layers": 80, "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
      "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 128256})"},
    {"llama-3.2-1b", R"({"architectures": ["LlamaForCausalLM"], "head_dim": 64, "hidden_size": 2048,
      "intermediate_size": 8192, "max_position_embeddings": 131072, "model_type": "llama",
      "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8, "rms_norm_eps": 1e-05,
      "rope_scaling": {"factor": 32.0, "rope_type": "llama3"}, "rope_theta": 500000.0,
      "tie_word_embeddings": true, "torch_dtype": "bfloat16", "vocab_size": 128256})"},
    {"llama-3.2-3b", R"({"architectures": ["LlamaForCausalLM"], "head_dim": 128, "hidden_size": 3072,
      "intermediate_size": 8192, "max_position_embeddings": 131072, "model_type": "llama",
      "num_attention_heads": 24, "num_hidden_layers": 28, "num_key_value_heads": 8, "rms_norm_eps": 1e-05,
      "rope_theta": 500000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16", "vocab_size": 128256})"},
    {"mistral-7b", R"({"architectures": ["MistralForCausalLM"], "hidden_act": "silu", "hidden_size": 4096,
      "intermediate_size": 14336, "max_position_embeddings": 32768, "model_type": "mistral",
      "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05,
      "rope_theta": 1000000.0, "sliding_window": null, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
      "vocab_size": 32768})"},
    {"qwen2.5-7b", R"({"architectures": ["Qwen2ForCausalLM"], "hidden_size": 3584, "intermediate_size": 18944,
      "max_position_embeddings": 32768, "max_window_layers": 28, "model_type": "qwen2",
      "num_attention_heads": 28, "num_hidden_layers": 28, "num_key_value_heads": 4, "rms_norm_eps": 1e-06,
      "rope_theta": 1000000.0, "sliding_window": 131072, "tie_word_embeddings": false,
      "torch_dtype": "bfloat16", "use_sliding_window": false, "vocab_size": 152064})"},
    {"qwen2.5-32b", R"({"architectures": ["Qwen2ForCausalLM"], "hidden_size": 5120, "intermediate_size": 27648,
      "max_position_embeddings": 32768, "model_type": "qwen2", "num_attention_heads": 40,
      "num_hidden_layers": 64, "num_key_value_heads": 8, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
      "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 152064})"},
    {"qwen2.5-72b", R"({"architectures": ["Qwen2ForCausalLM"], "hidden_size": 8192, "intermediate_size": 29568,
      "max_position_embeddings": 32768, "model_type": "qwen2", "num_attention_heads": 64,
      "num_hidden_layers": 80, "num_key_value_heads": 8, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
      "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 152064})"},
    {"tinyllama-1.1b", R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 2048, "intermediate_size": 5632,
      "max_position_embeddings": 2048, "model_type": "llama", "num_attention_heads": 32,
      "num_hidden_layers": 22, "num_key_value_heads": 4, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
      "tie_word_embeddings": false, "torch_dtype": "float32", "vocab_size": 32000})"},
};

TEST(HfConfig, EachPresetsConfigGivesThePresetsFigures) {
  for (const auto& c : kConfigs) {
    SCOPED_TRACE(c.preset);
    const ModelShape* preset = find_model_shape(c.preset);
    ASSERT_NE(preset, nullptr);
    auto shape = shape_from_hf_config(c.json, c.preset);
    ASSERT_TRUE(shape.ok()) << shape.error().message;
    EXPECT_EQ(shape->arch, preset->arch);
    EXPECT_EQ(shape->n_vocab, preset->n_vocab);
    EXPECT_EQ(shape->n_embd, preset->n_embd);
    EXPECT_EQ(shape->n_layer, preset->n_layer);
    EXPECT_EQ(shape->n_head, preset->n_head);
    EXPECT_EQ(shape->n_head_kv, preset->n_head_kv);
    EXPECT_EQ(shape->n_ff, preset->n_ff);
    EXPECT_EQ(shape->n_ctx, preset->n_ctx);
    EXPECT_EQ(shape->head_size(), preset->head_size());
    EXPECT_EQ(shape->tied_embeddings, preset->tied_embeddings);
    EXPECT_EQ(shape->qkv_bias, preset->qkv_bias);
    EXPECT_FLOAT_EQ(shape->rope_base, preset->rope_base);
    EXPECT_FLOAT_EQ(shape->rms_eps, preset->rms_eps);
    for (const char* mix : {"F16", "Q8_0", "Q4_K_M", "Q2_K"}) {
      auto from_config = model_from_shape(*shape, *quant::find_mix(mix));
      auto from_preset = model_from_shape(*preset, *quant::find_mix(mix));
      ASSERT_TRUE(from_config.ok() && from_preset.ok());
      EstimateOptions o;
      o.ctx = 8192;
      o.concurrency = 2;
      o.memory = 64ull << 30;
      o.k_type = KvType::q8_0;
      auto a = estimate(*from_config, o);
      auto b = estimate(*from_preset, o);
      ASSERT_TRUE(a.ok() && b.ok());
      EXPECT_EQ(a->weights_bytes, b->weights_bytes) << mix;
      EXPECT_EQ(a->kv_bytes_per_token, b->kv_bytes_per_token);
      EXPECT_EQ(a->kv_bytes, b->kv_bytes);
      EXPECT_EQ(a->total_bytes, b->total_bytes);
      EXPECT_EQ(a->max_context, b->max_context);
      EXPECT_EQ(a->max_concurrency, b->max_concurrency);
    }
  }
}

TEST(HfConfig, DefaultsAndErrors) {
  // num_key_value_heads absent: multi-head attention (as transformers defaults it).
  auto mha = shape_from_hf_config(R"({"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32,
      "num_attention_heads": 32, "intermediate_size": 11008, "vocab_size": 32000})",
                                  "llama-2-7b");
  ASSERT_TRUE(mha.ok()) << mha.error().message;
  EXPECT_EQ(mha->n_head_kv, 32);
  EXPECT_EQ(mha->n_ctx, 4096);
  EXPECT_FALSE(mha->tied_embeddings);
  // Qwen3 states its head size, which is not hidden / heads.
  auto qwen3 = shape_from_hf_config(R"({"model_type": "qwen3", "hidden_size": 2560, "num_hidden_layers": 36,
      "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 9728,
      "vocab_size": 151936, "tie_word_embeddings": true})",
                                    "qwen3-4b");
  ASSERT_TRUE(qwen3.ok()) << qwen3.error().message;
  EXPECT_EQ(qwen3->head_size(), 128);
  EXPECT_EQ(qwen3->q_dim(), 4096);
  const auto missing = shape_from_hf_config(R"({"model_type": "llama", "hidden_size": 4096})", "x");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("num_hidden_layers"), std::string::npos) << missing.error().message;
  const auto negative = shape_from_hf_config(R"({"model_type": "llama", "hidden_size": -1, "num_hidden_layers": 2,
      "num_attention_heads": 2, "intermediate_size": 8, "vocab_size": 8})",
                                             "x");
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.error().message.find("hidden_size"), std::string::npos);
  const auto other = shape_from_hf_config(R"({"model_type": "mamba", "hidden_size": 8})", "x");
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.error().message.find("mamba"), std::string::npos);
  const auto typed = shape_from_hf_config(R"({"model_type": 7, "hidden_size": 8})", "x");
  ASSERT_FALSE(typed.ok());
  EXPECT_NE(typed.error().message.find("model_type"), std::string::npos);
  EXPECT_FALSE(shape_from_hf_config("not json", "x").ok());
  EXPECT_FALSE(shape_from_hf_config("[1, 2]", "x").ok());
}

TEST(TokenCount, AcceptsSuffixes) {
  EXPECT_EQ(*parse_token_count("32768"), 32768);
  EXPECT_EQ(*parse_token_count("32k"), 32768);
  EXPECT_EQ(*parse_token_count("128K"), 131072);
  EXPECT_EQ(*parse_token_count("1m"), 1048576);
  for (const char* bad : {"", "k", "32kb", "-1", "1.5k", "32 k", "99999999999999999999"})
    EXPECT_FALSE(parse_token_count(bad).ok()) << bad;
}

}  // namespace
}  // namespace pagoda::planner
