#pragma once
// The ggml tensor element types as numbered in GGUF files, with their block
// geometry. Shared by gguf/ (size validation) and quant/ (the codecs).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace pagoda {

enum class TensorType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

struct TensorTypeTraits {
  std::string_view name;  // as llama.cpp prints it: "q4_K", "f16", ...
  uint32_t block_size;    // elements per block
  uint32_t block_bytes;   // bytes per block
};

// Geometry of a known type, or nullopt for an id no GGUF writer uses.
std::optional<TensorTypeTraits> tensor_type_traits(uint32_t type_id);
// Geometry of a TensorType enumerator (never null for a named enumerator).
const TensorTypeTraits* tensor_type_traits_ref(TensorType t);
inline const TensorTypeTraits& traits(TensorType t) { return *tensor_type_traits_ref(t); }

std::string_view tensor_type_name(TensorType t);
// Parses "q4_K", "Q4_K", "f16", ... (case-insensitive); nullopt if unknown.
std::optional<TensorType> parse_tensor_type(std::string_view name);

// Bytes of a row of `n` elements; nullopt when n is not a multiple of the block size.
std::optional<size_t> row_bytes(TensorType t, int64_t n);

}  // namespace pagoda
