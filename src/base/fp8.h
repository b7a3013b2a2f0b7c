#pragma once
// 8-bit floats (OCP FP8) <-> float32:
//  - e4m3 ("E4M3FN"): 1 sign, 4 exponent (bias 7), 3 mantissa bits; no
//    infinities, NaN is S.1111.111 (0x7f / 0xff), largest finite +-448.
//  - e5m2: 1 sign, 5 exponent (bias 15), 2 mantissa bits, IEEE-like:
//    exponent 31 is +-inf (mantissa 0) or NaN; largest finite +-57344.
// float32 -> fp8 rounds to nearest, ties to even, with subnormals. e4m3
// saturates finite overflow to +-448 and maps +-inf and NaN to NaN (0x7f with
// the sign); e5m2 overflows to +-inf as IEEE does, NaN becomes 0x7e with the sign.
// fp8 -> float32 is a lookup in a 256-entry table (exact). All functions are
// pure, thread-safe and allocation-free.
#include <array>
#include <cstdint>

namespace pagoda {

// Decoded values of every fp8 code, indexed by the code.
extern const std::array<float, 256> kFp8E4m3ToFp32;
extern const std::array<float, 256> kFp8E5m2ToFp32;

inline float fp8_e4m3_to_fp32(uint8_t x) { return kFp8E4m3ToFp32[x]; }
inline float fp8_e5m2_to_fp32(uint8_t x) { return kFp8E5m2ToFp32[x]; }

uint8_t fp32_to_fp8_e4m3(float f);
uint8_t fp32_to_fp8_e5m2(float f);

}  // namespace pagoda
