#pragma once
// Seed files for fuzz_gguf_reader: a handful of small, valid GGUF files made
// with our own Writer, covering every value type, nested arrays, tokenizer-like
// arrays, several tensor types and alignments, and both GGUF versions.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gguf/gguf.h"

namespace pagoda::fuzz {

// A named seed: file name and its bytes.
struct Seed {
  std::string name;
  std::vector<uint8_t> bytes;
};

inline std::vector<uint8_t> serialize(const gguf::Writer& w) { return std::move(*w.write_memory()); }

// Builds the seeds in memory (a few KiB in all).
inline std::vector<Seed> make_gguf_seeds() {
  using gguf::Array;
  using gguf::Value;
  using gguf::ValueType;
  std::vector<Seed> seeds;
  seeds.push_back({"empty.gguf", serialize(gguf::Writer{})});

  gguf::Writer scalars;
  scalars.set("general.architecture", Value::string("llama"));
  scalars.set("u8", Value::u8(1));
  scalars.set("i8", Value::i8(-2));
  scalars.set("u16", Value::u16(3));
  scalars.set("i16", Value::i16(-4));
  scalars.set("u32", Value::u32(5));
  scalars.set("i32", Value::i32(-6));
  scalars.set("f32", Value::f32(7.5f));
  scalars.set("bool", Value::boolean(true));
  scalars.set("u64", Value::u64(9));
  scalars.set("i64", Value::i64(-10));
  scalars.set("f64", Value::f64(11.25));
  Array inner, outer;
  inner.elem_type = ValueType::UINT16;
  inner.uints = {1, 2};
  outer.elem_type = ValueType::ARRAY;
  outer.arrays = {Value::array(inner), Value::array(inner)};
  scalars.set("nested", Value::array(outer));
  seeds.push_back({"values.gguf", serialize(scalars)});

  gguf::Writer vocab;
  vocab.set("tokenizer.ggml.model", Value::string("gpt2"));
  vocab.set("tokenizer.ggml.tokens", Value::string_array({"<s>", "</s>", "a", "b", "ab", "\xc4\xa0"}));
  vocab.set("tokenizer.ggml.scores", Value::f32_array({0, 0, -1, -2, -3, -4}));
  vocab.set("tokenizer.ggml.token_type", Value::i32_array({3, 3, 1, 1, 1, 1}));
  vocab.set("tokenizer.ggml.merges", Value::string_array({"a b"}));
  vocab.set("tokenizer.chat_template", Value::string("{% for m in messages %}{{ m.content }}{% endfor %}"));
  seeds.push_back({"vocab.gguf", serialize(vocab)});

  static const std::vector<uint8_t> data(512, 0x3c);
  gguf::Writer tensors;
  tensors.set("general.architecture", Value::string("llama"));
  tensors.add_tensor("token_embd.weight", TensorType::F16, {8, 4}, data.data());
  tensors.add_tensor("blk.0.attn_q.weight", TensorType::Q4_0, {32, 2}, data.data());
  tensors.add_tensor("blk.0.ffn_up.weight", TensorType::Q8_0, {64, 1}, data.data());
  tensors.add_tensor("blk.0.ffn_down.weight", TensorType::Q4_K, {256}, data.data());
  tensors.add_tensor("output_norm.weight", TensorType::F32, {8}, data.data());
  seeds.push_back({"tensors.gguf", serialize(tensors)});

  tensors.set("general.alignment", Value::u32(64));
  seeds.push_back({"aligned64.gguf", serialize(tensors)});

  gguf::Writer v2;
  v2.set("general.name", Value::string("v2"));
  v2.add_tensor("w", TensorType::BF16, {4, 2, 1, 1}, data.data());
  auto v2_bytes = serialize(v2);
  v2_bytes[4] = 2;  // the version field; v2 and v3 share the layout
  seeds.push_back({"v2.gguf", std::move(v2_bytes)});
  return seeds;
}

// Writes the seeds into `dir` (created if needed); returns false and says why on failure.
inline bool write_gguf_seeds(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    fmt::print(stderr, "{}: cannot create: {}\n", dir, ec.message());
    return false;
  }
  for (const auto& seed : make_gguf_seeds()) {
    const auto path = std::filesystem::path(dir) / seed.name;
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(seed.bytes.data()), static_cast<std::streamsize>(seed.bytes.size()));
    if (!out) {
      fmt::print(stderr, "{}: write failed\n", path.string());
      return false;
    }
  }
  return true;
}

}  // namespace pagoda::fuzz
