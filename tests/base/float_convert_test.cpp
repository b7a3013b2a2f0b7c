// fp8 (e4m3, e5m2) and bf16 conversions: exhaustive decoding, round trips,
// round-to-nearest-even against a brute-force search, saturation and NaN.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "base/fp8.h"
#include "base/half.h"

namespace pagoda {
namespace {

struct Format {
  const char* name;
  float (*decode)(uint8_t);
  uint8_t (*encode)(float);
  int exp_bits, man_bits, bias;
  bool ieee;  // all-ones exponent = inf/NaN (e5m2); else only S.1111.111 is NaN (e4m3)
  float max_finite;
};

const Format kFormats[] = {
    {"e4m3", fp8_e4m3_to_fp32, fp32_to_fp8_e4m3, 4, 3, 7, false, 448.0f},
    {"e5m2", fp8_e5m2_to_fp32, fp32_to_fp8_e5m2, 5, 2, 15, true, 57344.0f},
};

// The value of a code from the format's definition, in double.
double definition(const Format& f, int code) {
  const int sign = code >> 7, e = (code >> f.man_bits) & ((1 << f.exp_bits) - 1);
  const int m = code & ((1 << f.man_bits) - 1);
  const double frac = static_cast<double>(m) / (1 << f.man_bits);
  const double v = e == 0 ? std::ldexp(frac, 1 - f.bias) : std::ldexp(1.0 + frac, e - f.bias);
  return sign ? -v : v;
}

bool is_nan_code(const Format& f, int code) {
  const int low = code & 0x7f;
  return f.ieee ? low > (((1 << f.exp_bits) - 1) << f.man_bits) : low == 0x7f;
}

TEST(Fp8, DecodesEveryCodeAsDefined) {
  for (const Format& f : kFormats) {
    for (int c = 0; c < 256; ++c) {
      const float got = f.decode(static_cast<uint8_t>(c));
      if (is_nan_code(f, c)) {
        EXPECT_TRUE(std::isnan(got)) << f.name << " code " << c;
      } else if (f.ieee && (c & 0x7f) == 0x7c) {
        EXPECT_EQ(got, (c & 0x80) ? -INFINITY : INFINITY) << f.name;
      } else {
        EXPECT_EQ(got, static_cast<float>(definition(f, c))) << f.name << " code " << c;
        EXPECT_EQ(std::signbit(got), (c & 0x80) != 0) << f.name << " code " << c;
      }
    }
  }
}

TEST(Fp8, KnownValues) {
  EXPECT_EQ(fp8_e4m3_to_fp32(0x7e), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_fp32(0x38), 1.0f);
  EXPECT_EQ(fp8_e4m3_to_fp32(0x08), 0.015625f);    // smallest normal 2^-6
  EXPECT_EQ(fp8_e4m3_to_fp32(0x01), 0.001953125f); // smallest subnormal 2^-9
  EXPECT_EQ(fp8_e4m3_to_fp32(0xc0), -2.0f);
  EXPECT_EQ(fp8_e5m2_to_fp32(0x7b), 57344.0f);
  EXPECT_EQ(fp8_e5m2_to_fp32(0x3c), 1.0f);
  EXPECT_EQ(fp8_e5m2_to_fp32(0x04), 0x1p-14f);
  EXPECT_EQ(fp8_e5m2_to_fp32(0x01), 0x1p-16f);
  EXPECT_EQ(fp32_to_fp8_e4m3(1.0f), 0x38);
  EXPECT_EQ(fp32_to_fp8_e4m3(-448.0f), 0xfe);
  EXPECT_EQ(fp32_to_fp8_e4m3(0.3f), 0x2a);  // 0.3 -> 0.3125 (1.25 * 2^-2)
  EXPECT_EQ(fp32_to_fp8_e5m2(1.0f), 0x3c);
  EXPECT_EQ(fp32_to_fp8_e5m2(-57344.0f), 0xfb);
  EXPECT_EQ(fp32_to_fp8_e4m3(-0.0f), 0x80);
  EXPECT_EQ(fp32_to_fp8_e5m2(0.0f), 0x00);
}

TEST(Fp8, EveryFiniteCodeRoundTrips) {
  for (const Format& f : kFormats)
    for (int c = 0; c < 256; ++c) {
      const float v = f.decode(static_cast<uint8_t>(c));
      if (std::isnan(v)) continue;
      EXPECT_EQ(f.encode(v), c) << f.name << " code " << c << " value " << v;
    }
}

// Brute force: the finite code nearest to x, ties to the even code (the one
// whose last mantissa bit is 0); values past the largest finite by more than
// half a step overflow (-1).
int nearest_code(const Format& f, double x) {
  int best = -1;
  double best_err = INFINITY;
  for (int c = 0; c < 256; ++c) {
    if (is_nan_code(f, c) || (f.ieee && (c & 0x7f) == 0x7c)) continue;
    if ((c & 0x80) != (std::signbit(x) ? 0x80 : 0)) continue;
    const double err = std::abs(definition(f, c) - x);
    if (err < best_err || (err == best_err && (c & 1) == 0)) {
      best = c;
      best_err = err;
    }
  }
  const double step = std::ldexp(1.0, ((1 << f.exp_bits) - 2 - (f.ieee ? 1 : 0) + 1) - f.bias -
                                          f.man_bits);  // spacing at the top binade
  if (std::abs(x) >= f.max_finite + step / 2) return -1;
  return best;
}

TEST(Fp8, RoundsToNearestEvenEverywhere) {
  for (const Format& f : kFormats) {
    std::vector<float> probes;
    // Every code's value, the midpoints between neighbours, and 1 ulp around them.
    for (int c = 0; c < 0x80; ++c) {
      if (is_nan_code(f, c) || is_nan_code(f, c + 1)) continue;
      if (f.ieee && c + 1 >= 0x7c) continue;
      const float lo = f.decode(static_cast<uint8_t>(c)), hi = f.decode(static_cast<uint8_t>(c + 1));
      const float mid = static_cast<float>((double{lo} + hi) / 2);  // exact: few bits
      for (float x : {lo, mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY)}) {
        probes.push_back(x);
        probes.push_back(-x);
      }
    }
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> exp(-20.0f, 17.0f);
    for (int i = 0; i < 20000; ++i) {
      const float x = std::exp2(exp(rng));
      probes.push_back(i % 2 ? x : -x);
    }
    for (float x : probes) {
      const int want = nearest_code(f, x);
      const uint8_t got = f.encode(x);
      if (want < 0) continue;  // overflow: checked below
      EXPECT_EQ(got, want) << f.name << " x " << x;
    }
  }
}

TEST(Fp8, OverflowInfinityAndNaN) {
  // e4m3: finite overflow saturates to +-448; the tie at 464 rounds to even (448).
  for (float x : {449.0f, 464.0f, 479.0f, 480.0f, 1000.0f, 1e30f, std::numeric_limits<float>::max()}) {
    EXPECT_EQ(fp32_to_fp8_e4m3(x), 0x7e) << x;
    EXPECT_EQ(fp32_to_fp8_e4m3(-x), 0xfe) << x;
  }
  EXPECT_EQ(fp32_to_fp8_e4m3(INFINITY), 0x7f);  // no infinity in e4m3: NaN
  EXPECT_EQ(fp32_to_fp8_e4m3(-INFINITY), 0xff);
  EXPECT_EQ(fp32_to_fp8_e4m3(NAN) & 0x7f, 0x7f);
  // e5m2: IEEE-like, rounds to infinity past 57344 + half a step.
  EXPECT_EQ(fp32_to_fp8_e5m2(61439.0f), 0x7b);
  EXPECT_EQ(fp32_to_fp8_e5m2(61440.0f), 0x7c);  // tie -> even -> inf
  EXPECT_EQ(fp32_to_fp8_e5m2(1e30f), 0x7c);
  EXPECT_EQ(fp32_to_fp8_e5m2(-1e30f), 0xfc);
  EXPECT_EQ(fp32_to_fp8_e5m2(INFINITY), 0x7c);
  EXPECT_EQ(fp32_to_fp8_e5m2(-INFINITY), 0xfc);
  EXPECT_TRUE(std::isnan(fp8_e5m2_to_fp32(fp32_to_fp8_e5m2(NAN))));
  // Underflow: below half the smallest subnormal -> signed zero; above -> it.
  EXPECT_EQ(fp32_to_fp8_e4m3(0x1p-10f), 0x00);     // exactly half of 2^-9: tie to even (0)
  EXPECT_EQ(fp32_to_fp8_e4m3(0x1.01p-10f), 0x01);
  EXPECT_EQ(fp32_to_fp8_e4m3(-1e-30f), 0x80);
  EXPECT_EQ(fp32_to_fp8_e5m2(0x1p-17f), 0x00);
  EXPECT_EQ(fp32_to_fp8_e5m2(0x1.8p-16f), 0x02);  // 1.5 steps: tie to even (2)
  EXPECT_EQ(fp32_to_fp8_e5m2(1e-45f), 0x00);      // fp32 subnormal
}

// ggml's fp32 -> bf16: round to nearest even, NaN kept quiet.
TEST(Bf16, RoundsToNearestEvenAndKeepsNaNQuiet) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(fp32_to_bf16(-2.0f), 0xc000);
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie, even stays
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3f808001u)), 0x3f81);
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3f807fffu)), 0x3f80);
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x7f7fffffu)), 0x7f80);  // max float -> inf
  EXPECT_EQ(fp32_to_bf16(INFINITY), 0x7f80);
  // A signalling NaN whose payload lives in the low bits stays NaN (quiet bit set).
  const uint16_t nan = fp32_to_bf16(std::bit_cast<float>(0x7f800001u));
  EXPECT_EQ(nan & 0x7f80, 0x7f80);
  EXPECT_NE(nan & 0x7f, 0);
  EXPECT_NE(nan & 0x40, 0);
  // Exhaustive over bf16 values: decode then encode is the identity (NaNs stay NaN).
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = bf16_to_fp32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(f))));
    } else {
      ASSERT_EQ(fp32_to_bf16(f), h);
    }
  }
  // Random floats: the result is one of the two neighbours, the nearer one.
  std::mt19937 rng(11);
  for (int i = 0; i < 100000; ++i) {
    const float x = std::bit_cast<float>(static_cast<uint32_t>(rng()) & 0xbfffffffu);  // finite
    const uint32_t u = std::bit_cast<uint32_t>(x);
    const float down = std::bit_cast<float>(u & 0xffff0000u);
    const float up = std::bit_cast<float>((u & 0xffff0000u) + 0x10000u);
    const float got = bf16_to_fp32(fp32_to_bf16(x));
    const double dd = std::abs(double{x} - down), du = std::abs(double{x} - up);
    if (dd < du) ASSERT_EQ(got, down) << x;
    else if (du < dd) ASSERT_EQ(got, up) << x;
    else ASSERT_EQ(std::bit_cast<uint32_t>(got) & 0x10000u, 0u) << "tie to even " << x;
  }
}

}  // namespace
}  // namespace pagoda
