#pragma once
// The element types a KV cache can store, independent of the GGUF tensor
// types: K and V each pick one. Block types (q8_0, q4_0) store a row of n
// values as ceil(n / 32) blocks, the last one zero-padded.
#include <cstdint>
#include <optional>
#include <string_view>

#include "base/tensor_type.h"

namespace pagoda {

enum class KvType : uint8_t { f32, f16, bf16, q8_0, q4_0, fp8_e4m3, fp8_e5m2 };

// Every KvType, in declaration order (for loops in tools and tests).
inline constexpr KvType kAllKvTypes[] = {KvType::f32,  KvType::f16,      KvType::bf16,
                                         KvType::q8_0, KvType::q4_0,     KvType::fp8_e4m3,
                                         KvType::fp8_e5m2};

// "f32", "f16", "bf16", "q8_0", "q4_0", "fp8_e4m3", "fp8_e5m2"; "?" for a value
// outside the enumeration.
std::string_view kv_type_name(KvType t);
// Parses a name above, case-insensitively; "fp8" means fp8_e4m3. "auto" is not
// a type (callers map it to f16). nullopt for anything else.
std::optional<KvType> parse_kv_type(std::string_view name);
// The accepted names, comma-separated, for error messages ("f32, f16, ...").
std::string_view kv_type_names();

// Elements per block and bytes per block.
struct KvTypeGeometry {
  uint32_t block_size;
  uint32_t block_bytes;
};

// Geometry of t: f32 {1,4}, f16/bf16 {1,2}, fp8 {1,1}, q8_0 {32,34}, q4_0 {32,18}
// ({0,0} for a value outside the enumeration). Constant time, no allocation.
constexpr KvTypeGeometry kv_type_geometry(KvType t) {
  switch (t) {
    case KvType::f32: return {1, 4};
    case KvType::f16: return {1, 2};
    case KvType::bf16: return {1, 2};
    case KvType::q8_0: return {32, 34};
    case KvType::q4_0: return {32, 18};
    case KvType::fp8_e4m3: return {1, 1};
    case KvType::fp8_e5m2: return {1, 1};
  }
  return {0, 0};
}

// True for a value of the enumeration (a cast from an untrusted integer may not be).
constexpr bool is_valid(KvType t) { return kv_type_geometry(t).block_size != 0; }

// The GGUF tensor type with the same storage (F32/F16/BF16/Q8_0/Q4_0); nullopt
// for the fp8 types, which GGUF has no type for.
std::optional<TensorType> kv_tensor_type(KvType t);

}  // namespace pagoda
