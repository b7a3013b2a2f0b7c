#pragma once
// Seeded random tensors for make-model, generated and quantized row by row
// (in parallel) while the GGUF writer streams them out: a 8B-shaped model never
// needs its full f32 weights in memory.
#include <cstdint>
#include <string>
#include <vector>

#include "base/expected.h"
#include "base/tensor_type.h"
#include "base/thread_pool.h"
#include "cli/make_model/demo_vocab.h"
#include "cli/make_model/shapes.h"
#include "gguf/gguf.h"

namespace pagoda::cli {

// A weight type request: a plain tensor type (F16, Q8_0...) or a llama.cpp
// file-type mix (Q4_K_M...). `name` is as the user wrote it, upper-cased.
struct WeightMix {
  std::string name;
  TensorType base = TensorType::F16;  // the type most 2-D weights get
  uint32_t file_type = 1;              // general.file_type (llama.cpp's LLAMA_FTYPE_*)
};
Expected<WeightMix> parse_weight_mix(const std::string& name);

// Writes the architecture, tokenizer and provenance metadata.
void describe_model(gguf::Writer& writer, const ModelShape& shape, const DemoVocab& vocab,
                    const WeightMix& mix);

class RandomWeights {
 public:
  RandomWeights(const ModelShape& shape, int64_t n_vocab, const WeightMix& mix, uint64_t seed,
                ThreadPool& pool);
  // Declares every tensor (llama.cpp's order) on the writer.
  void declare(gguf::Writer& writer);
  // Bytes of tensor `index`, valid until the next call; shows progress when `tty`.
  Expected<std::span<const uint8_t>> produce(size_t index, bool tty);
  int64_t n_params() const { return n_params_; }

 private:
  struct Spec {
    std::string name;
    std::vector<int64_t> shape;  // GGUF order: shape[0] is the row length
    TensorType type;
    float stddev;  // 0: all ones (norm weights)
  };
  void add(std::string name, std::vector<int64_t> shape, float stddev, int layer);

  ModelShape shape_;
  int64_t n_vocab_;
  WeightMix mix_;
  uint64_t seed_;
  ThreadPool& pool_;
  std::vector<Spec> specs_;
  std::vector<uint8_t> buffer_;
  int64_t n_params_ = 0;
};

}  // namespace pagoda::cli
