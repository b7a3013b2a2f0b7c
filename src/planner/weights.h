#pragma once
// The bytes of a model's weights, tensor by tensor: as a GGUF file stores
// them, as `pagoda quantize` would write them under a mix, or as a model shape
// would take under a mix (llama.cpp's per-tensor rules from quant/mix.h, so a
// Q4_K_M estimate has the Q6_K output and ffn_down layers of a real Q4_K_M file).
#include <cstdint>
#include <string>
#include <vector>

#include "base/expected.h"
#include "base/tensor_type.h"
#include "gguf/gguf.h"
#include "planner/model_shape.h"
#include "quant/mix.h"

namespace pagoda::planner {

struct WeightTensor {
  std::string name;
  TensorType type = TensorType::F32;
  std::vector<int64_t> shape;  // GGUF order: shape[0] is the row length
  uint64_t bytes = 0;          // data bytes in `type`

  uint64_t n_elements() const;
};

// Totals for one tensor type.
struct TypeTotal {
  TensorType type = TensorType::F32;
  int n_tensors = 0;
  uint64_t params = 0;
  uint64_t bytes = 0;
};

struct WeightsPlan {
  std::string label;  // "Q4_K_M", or the file's type description
  std::vector<WeightTensor> tensors;

  uint64_t bytes() const;
  uint64_t params() const;
  double bits_per_weight() const { return params() ? 8.0 * static_cast<double>(bytes()) / params() : 0.0; }
  // One entry per type, most bytes first.
  std::vector<TypeTotal> by_type() const;
  // Bytes of the 1-D tensors (norms, biases) the model copies to f32 when it binds the weights.
  uint64_t f32_copy_bytes() const;
};

// The file's tensors as stored (exact: each tensor's data bytes).
WeightsPlan weights_of_file(const gguf::File& file, std::string label);
// The file's tensors as `pagoda quantize FILE OUT mix` would write them.
WeightsPlan weights_of_file(const gguf::File& file, const quant::Mix& mix);
// Every tensor pagoda binds for `shape` (the layout make-model writes), typed by `mix`.
// The shape must be valid and have a vocabulary (n_vocab > 0).
WeightsPlan weights_of_shape(const ModelShape& shape, const quant::Mix& mix);

// Bytes of `t` one device holds when the model is split `tp` ways as vLLM's
// tensor parallelism does: matrices (embeddings and output by vocabulary,
// attention by heads, FFN by columns) are divided, norms are replicated, and
// K/V projections are replicated per device when there are fewer KV heads
// than devices. kv_heads_per_device: max(1, n_head_kv / tp).
uint64_t device_bytes(const WeightTensor& t, int tp, int64_t n_head_kv, int64_t kv_heads_per_device);

}  // namespace pagoda::planner
