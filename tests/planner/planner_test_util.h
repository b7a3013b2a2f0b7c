#pragma once
// Helpers for the planner tests: GGUF models written from a shape (zeroed
// weights, typed by a mix), and the heap bytes in use (glibc's counters).
#include <malloc.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "planner/weights.h"

namespace pagoda::test {

// Under the sanitizers ASan's allocator replaces glibc's, whose counters then read 0: the heap
// comparisons run in the normal build only.
#ifdef PAGODA_SANITIZED
inline constexpr bool kHeapCounted = false;
#else
inline constexpr bool kHeapCounted = true;
#endif

// Heap bytes in use: small chunks plus mmapped large ones.
inline size_t heap_in_use() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// Writes `shape` as a GGUF with llama.cpp's keys and the tensors of `weights`
// (all zero), which model::Model loads; the vocabulary is tokens only.
inline Expected<void> write_shape_gguf(const std::string& path, const planner::ModelShape& s,
                                       const planner::WeightsPlan& weights) {
  gguf::Writer w;
  auto key = [&](const char* k) { return s.arch + "." + k; };
  w.set("general.architecture", gguf::Value::string(s.arch));
  w.set(key("context_length"), gguf::Value::u32(static_cast<uint32_t>(s.n_ctx)));
  w.set(key("embedding_length"), gguf::Value::u32(static_cast<uint32_t>(s.n_embd)));
  w.set(key("block_count"), gguf::Value::u32(static_cast<uint32_t>(s.n_layer)));
  w.set(key("feed_forward_length"), gguf::Value::u32(static_cast<uint32_t>(s.n_ff)));
  w.set(key("attention.head_count"), gguf::Value::u32(static_cast<uint32_t>(s.n_head)));
  w.set(key("attention.head_count_kv"), gguf::Value::u32(static_cast<uint32_t>(s.n_head_kv)));
  w.set(key("attention.key_length"), gguf::Value::u32(static_cast<uint32_t>(s.head_size())));
  w.set(key("attention.value_length"), gguf::Value::u32(static_cast<uint32_t>(s.head_size())));
  w.set(key("attention.layer_norm_rms_epsilon"), gguf::Value::f32(s.rms_eps));
  w.set(key("rope.freq_base"), gguf::Value::f32(s.rope_base));
  std::vector<std::string> tokens;
  for (int64_t i = 0; i < s.n_vocab; ++i) tokens.push_back("t" + std::to_string(i));
  w.set("tokenizer.ggml.model", gguf::Value::string("gpt2"));
  w.set("tokenizer.ggml.tokens", gguf::Value::string_array(tokens));
  uint64_t largest = 0;
  for (const auto& t : weights.tensors) largest = std::max(largest, t.bytes);
  static std::vector<uint8_t> zeros;
  zeros.assign(largest, 0);
  for (const auto& t : weights.tensors) w.add_tensor(t.name, t.type, t.shape, zeros.data());
  return w.write_file(path);
}

}  // namespace pagoda::test
