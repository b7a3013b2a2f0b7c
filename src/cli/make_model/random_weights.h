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
#include "quant/mix.h"

namespace pagoda::cli {

// Writes the architecture, tokenizer and provenance metadata.
void describe_model(gguf::Writer& writer, const ModelShape& shape, const DemoVocab& vocab,
                    const quant::Mix& mix);

class RandomWeights {
 public:
  RandomWeights(const ModelShape& shape, int64_t n_vocab, const quant::Mix& mix, uint64_t seed,
                ThreadPool& pool);
  // Declares every tensor (llama.cpp's order, types from the mix) on the writer.
  void declare(gguf::Writer& writer);
  // Bytes of tensor `index`, valid until the next call; shows progress when `tty`.
  Expected<std::span<const uint8_t>> produce(size_t index, bool tty);
  int64_t n_params() const { return n_params_; }

 private:
  struct Spec {
    std::string name;
    std::vector<int64_t> shape;  // GGUF order: shape[0] is the row length
    TensorType type = TensorType::F32;
    float stddev;  // 0: all ones (norm weights)
  };
  void add(std::string name, std::vector<int64_t> shape, float stddev);

  ModelShape shape_;
  int64_t n_vocab_;
  quant::Mix mix_;
  uint64_t seed_;
  ThreadPool& pool_;
  std::vector<Spec> specs_;
  std::vector<uint8_t> buffer_;
  int64_t n_params_ = 0;
};

}  // namespace pagoda::cli
