// KV element type names and their GGUF equivalents.
#include "base/kv_type.h"

#include <cctype>
#include <string>

namespace pagoda {

std::string_view kv_type_name(KvType t) {
  switch (t) {
    case KvType::f32: return "f32";
    case KvType::f16: return "f16";
    case KvType::bf16: return "bf16";
    case KvType::q8_0: return "q8_0";
    case KvType::q4_0: return "q4_0";
    case KvType::fp8_e4m3: return "fp8_e4m3";
    case KvType::fp8_e5m2: return "fp8_e5m2";
  }
  return "?";
}

std::optional<KvType> parse_kv_type(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "fp8") return KvType::fp8_e4m3;
  for (KvType t : kAllKvTypes)
    if (lower == kv_type_name(t)) return t;
  return std::nullopt;
}

std::string_view kv_type_names() { return "f32, f16, bf16, q8_0, q4_0, fp8 (= fp8_e4m3), fp8_e4m3, fp8_e5m2"; }

std::optional<TensorType> kv_tensor_type(KvType t) {
  switch (t) {
    case KvType::f32: return TensorType::F32;
    case KvType::f16: return TensorType::F16;
    case KvType::bf16: return TensorType::BF16;
    case KvType::q8_0: return TensorType::Q8_0;
    case KvType::q4_0: return TensorType::Q4_0;
    case KvType::fp8_e4m3:
    case KvType::fp8_e5m2: return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace pagoda
