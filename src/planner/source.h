#pragma once
// What an estimate is about: a model's shape and its weights, from a GGUF file
// (exact tensor bytes from the header alone: the data is mapped, never read)
// or from a shape (preset or config.json) under a quantization mix.
#include <cstdint>
#include <optional>
#include <string>

#include "base/expected.h"
#include "gguf/gguf.h"
#include "planner/model_shape.h"
#include "planner/weights.h"
#include "quant/mix.h"

namespace pagoda::planner {

struct PlannedModel {
  ModelShape shape;
  WeightsPlan weights;
  // GGUF bytes besides the tensor data (header, vocabulary, alignment padding):
  // mapped with the weights, and the tokenizer's source. Exact for a file,
  // estimated from the vocabulary size for a shape.
  uint64_t metadata_bytes = 0;
  bool exact = false;  // weights are a file's own bytes (no --weights conversion)
};

// The model in `file`; with `mix`, as `pagoda quantize` would convert it.
// Errors: the hyper-parameters cannot be read (model::read_hparams' message).
Expected<PlannedModel> model_from_gguf(const gguf::File& file, const std::optional<quant::Mix>& mix);
// A shape under `mix`. Errors: invalid shape, no vocabulary size (the demo shape).
Expected<PlannedModel> model_from_shape(const ModelShape& shape, const quant::Mix& mix);

// Estimated GGUF metadata per vocabulary entry (token string, score, type, a
// BPE merge): llama.cpp's Llama 3 and Qwen2 files carry 50-70 bytes per entry.
inline constexpr uint64_t kMetadataBytesPerToken = 64;

}  // namespace pagoda::planner
