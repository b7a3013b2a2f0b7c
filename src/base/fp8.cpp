// FP8 conversions: bit arithmetic for encoding, constant tables for decoding.
#include "base/fp8.h"

#include <array>
#include <bit>
#include <cstddef>
#include <limits>

namespace pagoda {

namespace {

// Format parameters: exponent bits, mantissa bits, bias, and whether the
// all-ones exponent is reserved for inf/NaN (e5m2) or only S.1111.111 is NaN (e4m3).
struct Fp8Format {
  int exp_bits;
  int man_bits;
  int bias;
  bool ieee;
};
constexpr Fp8Format kE4m3{4, 3, 7, false};
constexpr Fp8Format kE5m2{5, 2, 15, true};

constexpr float pow2(int e) {  // 2^e for a normal float exponent
  return std::bit_cast<float>(static_cast<uint32_t>(e + 127) << 23);
}

constexpr float decode(uint8_t code, Fp8Format f) {
  const bool negative = (code & 0x80) != 0;
  const int exp_field = (code >> f.man_bits) & ((1 << f.exp_bits) - 1);
  const int man = code & ((1 << f.man_bits) - 1);
  const int exp_max = (1 << f.exp_bits) - 1;
  float v = 0.0f;
  if (f.ieee && exp_field == exp_max) {
    v = man == 0 ? std::numeric_limits<float>::infinity()
                 : std::numeric_limits<float>::quiet_NaN();
  } else if (!f.ieee && exp_field == exp_max && man == (1 << f.man_bits) - 1) {
    v = std::numeric_limits<float>::quiet_NaN();
  } else if (exp_field == 0) {  // subnormal: man * 2^(1 - bias - man_bits)
    v = static_cast<float>(man) * pow2(1 - f.bias - f.man_bits);
  } else {  // (2^man_bits + man) * 2^(exp - bias - man_bits)
    v = static_cast<float>((1 << f.man_bits) + man) * pow2(exp_field - f.bias - f.man_bits);
  }
  return negative ? -v : v;
}

constexpr std::array<float, 256> make_table(Fp8Format f) {
  std::array<float, 256> t{};
  for (int i = 0; i < 256; ++i) t[static_cast<std::size_t>(i)] = decode(static_cast<uint8_t>(i), f);
  return t;
}

// x >> r rounded to nearest, ties to even (r >= 1).
uint32_t shift_round_even(uint32_t x, int r) {
  if (r >= 32) return 0;
  const uint32_t q = x >> r;
  const uint32_t rem = x & ((1u << r) - 1);
  const uint32_t half = 1u << (r - 1);
  return rem > half || (rem == half && (q & 1u)) ? q + 1 : q;
}

uint8_t encode(float value, Fp8Format f) {
  const uint32_t u = std::bit_cast<uint32_t>(value);
  const auto sign = static_cast<uint8_t>((u >> 24) & 0x80u);
  const uint32_t abs = u & 0x7fffffffu;
  const auto nan = static_cast<uint8_t>(sign | (f.ieee ? 0x7e : 0x7f));
  if (abs > 0x7f800000u) return nan;
  const int exp_max = (1 << f.exp_bits) - 1;
  // Largest finite code and what overflow becomes.
  const uint32_t max_finite = f.ieee ? (static_cast<uint32_t>(exp_max) << f.man_bits) - 1 : 0x7eu;
  const uint32_t overflow = f.ieee ? static_cast<uint32_t>(exp_max) << f.man_bits : 0x7eu;
  if (abs == 0x7f800000u) return f.ieee ? static_cast<uint8_t>(sign | overflow) : nan;
  const int exp = static_cast<int>(abs >> 23) - 127;  // unbiased; fp32 subnormals read as -127
  const uint32_t man = abs & 0x7fffffu;
  const int min_normal_exp = 1 - f.bias;
  uint32_t code = 0;
  if (exp < min_normal_exp) {
    // Subnormal (or zero) in fp8: a multiple of 2^(min_normal_exp - man_bits).
    // A carry to 2^man_bits lands exactly on the smallest normal code.
    if (exp == -127) return sign;  // fp32 zero or subnormal: far below half the smallest fp8
    const uint32_t significand = man | 0x800000u;
    code = shift_round_even(significand, 23 + min_normal_exp - f.man_bits - exp);
  } else if (exp + f.bias > exp_max) {
    code = max_finite + 1;  // overflow, whatever the rounding
  } else {
    // Biased exponent and mantissa as one integer: rounding may carry into the exponent.
    const uint32_t combined = (static_cast<uint32_t>(exp + f.bias) << 23) | man;
    code = shift_round_even(combined, 23 - f.man_bits);
  }
  if (code > max_finite) code = overflow;
  return static_cast<uint8_t>(sign | code);
}

}  // namespace

// Built at compile time (constinit: no static-initialisation order issue).
constinit const std::array<float, 256> kFp8E4m3ToFp32 = make_table(kE4m3);
constinit const std::array<float, 256> kFp8E5m2ToFp32 = make_table(kE5m2);

uint8_t fp32_to_fp8_e4m3(float f) { return encode(f, kE4m3); }
uint8_t fp32_to_fp8_e5m2(float f) { return encode(f, kE5m2); }

}  // namespace pagoda
