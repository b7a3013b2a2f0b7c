#include "cli/make_model/random_weights.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "base/half.h"
#include "quant/codec.h"

namespace pagoda::cli {
namespace {

// splitmix64: a tiny, high-quality generator; one independent stream per row
// keeps the weights identical whatever the thread count.
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [-1, 1).
  float uniform() { return static_cast<float>(static_cast<int64_t>(next() >> 40) - (1 << 23)) / (1 << 23); }
};

uint64_t mix_seed(uint64_t seed, size_t tensor, int64_t row) {
  SplitMix64 g{seed ^ (tensor * 0x632be59bd9b4e019ull) ^ (static_cast<uint64_t>(row) * 0x8cb92ba72f3d8dd7ull)};
  return g.next();
}

std::string arch_key(const ModelShape& s, const char* key) { return s.arch + "." + key; }

}  // namespace

void describe_model(gguf::Writer& w, const ModelShape& s, const DemoVocab& v, const quant::Mix& mix) {
  using gguf::Value;
  const bool demo = s.name == "demo";
  w.set("general.architecture", Value::string(s.arch));
  w.set("general.name", Value::string(demo ? "pagoda demo (random weights)" : "pagoda " + s.name + " shape (random weights)"));
  w.set("general.description",
        Value::string("Written by `pagoda make-model` with seeded random weights: the text it generates is "
                      "noise. For trying pagoda out and for benchmarks only."));
  w.set("general.file_type", Value::u32(mix.file_type));
  w.set("general.quantization_version", Value::u32(2));
  w.set(arch_key(s, "context_length"), Value::u32(static_cast<uint32_t>(s.n_ctx)));
  w.set(arch_key(s, "embedding_length"), Value::u32(static_cast<uint32_t>(s.n_embd)));
  w.set(arch_key(s, "block_count"), Value::u32(static_cast<uint32_t>(s.n_layer)));
  w.set(arch_key(s, "feed_forward_length"), Value::u32(static_cast<uint32_t>(s.n_ff)));
  w.set(arch_key(s, "attention.head_count"), Value::u32(static_cast<uint32_t>(s.n_head)));
  w.set(arch_key(s, "attention.head_count_kv"), Value::u32(static_cast<uint32_t>(s.n_head_kv)));
  w.set(arch_key(s, "rope.dimension_count"), Value::u32(static_cast<uint32_t>(s.n_embd / s.n_head)));
  w.set(arch_key(s, "rope.freq_base"), Value::f32(s.rope_base));
  w.set(arch_key(s, "attention.layer_norm_rms_epsilon"), Value::f32(s.rms_eps));
  w.set("tokenizer.ggml.model", Value::string("gpt2"));
  w.set("tokenizer.ggml.pre", Value::string("gpt-2"));
  w.set("tokenizer.ggml.tokens", Value::string_array(v.tokens));
  w.set("tokenizer.ggml.token_type", Value::i32_array(v.token_types));
  w.set("tokenizer.ggml.merges", Value::string_array(v.merges));
  w.set("tokenizer.ggml.bos_token_id", Value::u32(static_cast<uint32_t>(v.bos)));
  w.set("tokenizer.ggml.eos_token_id", Value::u32(static_cast<uint32_t>(v.eos)));
  w.set("tokenizer.ggml.padding_token_id", Value::u32(static_cast<uint32_t>(v.bos)));
  w.set("tokenizer.ggml.add_bos_token", Value::boolean(false));
  w.set("tokenizer.chat_template", Value::string(v.chat_template));
}

RandomWeights::RandomWeights(const ModelShape& shape, int64_t n_vocab, const quant::Mix& mix,
                             uint64_t seed, ThreadPool& pool)
    : shape_(shape), n_vocab_(n_vocab), mix_(mix), seed_(seed), pool_(pool) {
  const int64_t e = shape.n_embd, hd = shape.n_embd / shape.n_head;
  const int64_t q = shape.n_head * hd, kv = shape.n_head_kv * hd;
  // Matrices get stddev 1/sqrt(fan_in) so activations stay O(1) through the layers.
  auto w = [](int64_t fan_in) { return 1.0f / std::sqrt(static_cast<float>(fan_in)); };
  add("token_embd.weight", {e, n_vocab}, 1.0f);
  add("output_norm.weight", {e}, 0.0f);
  if (!shape.tied_embeddings) add("output.weight", {e, n_vocab}, w(e));
  for (int64_t l = 0; l < shape.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", {e}, 0.0f);
    add(p + "attn_q.weight", {e, q}, w(e));
    add(p + "attn_k.weight", {e, kv}, w(e));
    add(p + "attn_v.weight", {e, kv}, w(e));
    if (shape.qkv_bias) {
      add(p + "attn_q.bias", {q}, 0.02f);
      add(p + "attn_k.bias", {kv}, 0.02f);
      add(p + "attn_v.bias", {kv}, 0.02f);
    }
    add(p + "attn_output.weight", {q, e}, w(q));
    add(p + "ffn_norm.weight", {e}, 0.0f);
    add(p + "ffn_gate.weight", {e, shape.n_ff}, w(e));
    add(p + "ffn_up.weight", {e, shape.n_ff}, w(e));
    add(p + "ffn_down.weight", {shape.n_ff, e}, w(shape.n_ff));
  }
  // The same per-tensor rules as `pagoda quantize` (llama.cpp's mixes and fallbacks).
  std::vector<quant::TensorDesc> descs;
  for (const auto& s : specs_) descs.push_back({s.name, TensorType::F32, s.shape});
  quant::ModelFacts facts{shape.arch, static_cast<int>(shape.n_layer), static_cast<int>(shape.n_head),
                          static_cast<int>(shape.n_head_kv), 0};
  const auto choices = quant::plan_mix(mix, facts, descs);
  for (size_t i = 0; i < specs_.size(); ++i) specs_[i].type = choices[i].type;
}

void RandomWeights::add(std::string name, std::vector<int64_t> shape, float stddev) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  n_params_ += n;
  specs_.push_back({std::move(name), std::move(shape), TensorType::F32, stddev});
}

void RandomWeights::declare(gguf::Writer& writer) {
  for (const auto& s : specs_) writer.add_tensor(s.name, s.type, s.shape);
}

Expected<std::span<const uint8_t>> RandomWeights::produce(size_t index, bool tty) {
  const Spec& s = specs_.at(index);
  const int64_t row_len = s.shape[0];
  const int64_t n_rows = s.shape.size() > 1 ? s.shape[1] : 1;
  const size_t rb = *row_bytes(s.type, row_len);
  buffer_.resize(rb * static_cast<size_t>(n_rows));
  // Uniform in [-a, a] has stddev a/sqrt(3).
  const float amplitude = s.stddev * std::sqrt(3.0f);
  std::vector<std::vector<float>> scratch(pool_.size(), std::vector<float>(row_len));
  pool_.parallel_range(n_rows, 16, [&](int64_t begin, int64_t end, int thread) {
    float* row = scratch[thread].data();  // [row_len]
    for (int64_t r = begin; r < end; ++r) {
      SplitMix64 g{mix_seed(seed_, index, r)};
      for (int64_t i = 0; i < row_len; ++i) row[i] = s.stddev == 0.0f ? 1.0f : amplitude * g.uniform();
      quant::quantize_row(s.type, row, buffer_.data() + rb * r, row_len);
    }
  });
  if (tty) {
    std::fprintf(stderr, "\rmake-model: [%zu/%zu] %-28s %-6s", index + 1, specs_.size(), s.name.c_str(),
                 std::string(tensor_type_name(s.type)).c_str());
    std::fflush(stderr);
  }
  return std::span<const uint8_t>(buffer_);
}

}  // namespace pagoda::cli
