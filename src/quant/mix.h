#pragma once
// Quantization mixes ("Q4_K_M", ...): which storage type each tensor of a
// model gets, following llama.cpp's llama_tensor_get_type (src/llama-quant.cpp)
// so that `pagoda quantize` writes the same files as `llama-quantize`.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/tensor_type.h"

namespace pagoda::quant {

// A named mix and its llama.cpp LLAMA_FTYPE number (stored as general.file_type).
struct Mix {
  std::string_view name;     // "Q4_K_M"
  uint32_t file_type;        // LLAMA_FTYPE_MOSTLY_Q4_K_M = 15
  TensorType default_type;   // type of tensors no rule singles out
};

// The mixes `pagoda quantize` accepts, in the order help text lists them.
const std::vector<Mix>& all_mixes();
// Looks a mix up by name, case-insensitively; nullopt when unknown.
std::optional<Mix> find_mix(std::string_view name);

// Model facts the rules depend on (from GGUF metadata; zero when absent).
struct ModelFacts {
  std::string arch;   // general.architecture
  int n_layer = 0;    // {arch}.block_count
  int n_head = 0;     // {arch}.attention.head_count
  int n_head_kv = 0;  // {arch}.attention.head_count_kv
  int n_expert = 0;   // {arch}.expert_count
};

// One tensor as the planner sees it. shape[0] is the row length.
struct TensorDesc {
  std::string name;
  TensorType type = TensorType::F32;
  std::vector<int64_t> shape;
};

// What happens to one tensor.
struct TensorChoice {
  TensorType type = TensorType::F32;  // type written
  bool convert = false;               // false: the input bytes are copied unchanged
  std::string fallback;               // why the mix's choice was replaced; empty if it was not
};

// Orders tensors as llama.cpp writes them: tensors outside blocks first, then
// by block number, by name within each. Returns indices into `tensors`.
std::vector<size_t> llama_cpp_tensor_order(const std::vector<TensorDesc>& tensors);

// Chooses every tensor's output type. `tensors` must be in output order (the
// per-layer counters of the *_M mixes depend on it). Pure function.
std::vector<TensorChoice> plan_mix(const Mix& mix, const ModelFacts& facts,
                                   const std::vector<TensorDesc>& tensors);

}  // namespace pagoda::quant
