#pragma once
// Integer rounding helpers with ggml's exact semantics, made total: inputs
// that are NaN or out of range give a defined (clamped) result instead of UB.
#include <cmath>
#include <cstdint>
#include <cstring>

namespace pagoda::quant::detail {

// Round to nearest, ties to even, via the 1.5 * 2^23 magic constant (as ggml's
// nearest_int). Exact for |v| <= 2^22; larger values wrap the way ggml's do.
inline int nearest_int(float v) {
  const float shifted = v + 12582912.f;
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof(bits));
  return (bits & 0x007fffff) - 0x00400000;
}

// C's (int8_t)v conversion (truncation toward zero) for v in [-128, 128);
// NaN gives 0 and out-of-range values saturate.
inline int trunc_to_int8(float v) {
  if (!(v > -129.f)) return v != v ? 0 : -128;
  if (!(v < 128.f)) return 127;
  return static_cast<int>(v);
}

// C's (uint8_t)v conversion for v in [0, 256); NaN/negative give 0, large saturates.
inline int trunc_to_uint8(float v) {
  if (!(v > -1.f)) return 0;
  if (!(v < 256.f)) return 255;
  return static_cast<int>(v);
}

// roundf (ties away from zero) converted to int8 as C does for in-range values.
inline int8_t round_to_int8(float v) {
  const float r = std::round(v);
  if (!(r >= -128.f)) return r != r ? 0 : -128;
  if (!(r <= 127.f)) return 127;
  return static_cast<int8_t>(r);
}

}  // namespace pagoda::quant::detail
