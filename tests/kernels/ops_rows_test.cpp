// RMSNorm, RoPE, softmax and SwiGLU rows against direct double-precision math.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/ops.h"

namespace pagoda::kernels {
namespace {

std::vector<float> random_row(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

TEST(OpsRmsNorm, KnownValuesAndWeights) {
  const std::vector<float> x = {3.0f, 4.0f};
  std::vector<float> y(2);
  rmsnorm_row(x.data(), nullptr, y.data(), 2, 0.0f);
  const double s = 1.0 / std::sqrt(12.5);
  EXPECT_NEAR(y[0], 3 * s, 1e-6);
  EXPECT_NEAR(y[1], 4 * s, 1e-6);
  const std::vector<float> w = {2.0f, -1.0f};
  rmsnorm_row(x.data(), w.data(), y.data(), 2, 0.5f);
  const double s2 = 1.0 / std::sqrt(12.5 + 0.5);
  EXPECT_NEAR(y[0], 6 * s2, 1e-6);
  EXPECT_NEAR(y[1], -4 * s2, 1e-6);
}

// Several rows at a time give each row rmsnorm_row's bits, in place too, whatever the count
// (groups of 4 and the rows after them).
TEST(OpsRmsNorm, RowsGiveEachRowsBits) {
  const int64_t n = 2048 + 5;
  for (int64_t n_rows : {1, 3, 4, 5, 9}) {
    auto x = random_row(static_cast<size_t>(n_rows * n), static_cast<uint32_t>(n_rows), 40.0f);
    x[3] = 1e30f;  // a row whose squares span a wide range
    const auto w = random_row(static_cast<size_t>(n), 99);
    std::vector<float> expected(x.size()), y(x.size());
    for (int64_t r = 0; r < n_rows; ++r) rmsnorm_row(&x[r * n], w.data(), &expected[r * n], n, 1e-5f);
    rmsnorm_rows(x.data(), w.data(), y.data(), n_rows, n, 1e-5f);
    EXPECT_EQ(0, std::memcmp(y.data(), expected.data(), y.size() * sizeof(float))) << n_rows << " rows";
    std::vector<float> in_place = x;
    rmsnorm_rows(in_place.data(), nullptr, in_place.data(), n_rows, n, 1e-5f);
    for (int64_t r = 0; r < n_rows; ++r) rmsnorm_row(&x[r * n], nullptr, &expected[r * n], n, 1e-5f);
    EXPECT_EQ(0, std::memcmp(in_place.data(), expected.data(), x.size() * sizeof(float))) << n_rows << " rows in place";
  }
}

TEST(OpsRmsNorm, InPlaceMatchesOutOfPlace) {
  auto x = random_row(100, 1, 5.0f);
  auto w = random_row(100, 2);
  std::vector<float> y(100);
  rmsnorm_row(x.data(), w.data(), y.data(), 100, 1e-6f);
  rmsnorm_row(x.data(), w.data(), x.data(), 100, 1e-6f);
  EXPECT_EQ(x, y);
}

TEST(OpsRope, PositionZeroIsIdentityAndNormIsPreserved) {
  RopeConfig cfg{8, 10000.0f, 1.0f, false, nullptr};
  std::vector<float> cs(8);
  auto head = random_row(10, 3);
  const auto original = head;
  rope_cos_sin(cfg, 0, cs.data());
  rope_apply(cfg, cs.data(), head.data());
  EXPECT_EQ(head, original);
  rope_cos_sin(cfg, 37, cs.data());
  rope_apply(cfg, cs.data(), head.data());
  double before = 0, after = 0;
  for (int i = 0; i < 8; ++i) before += original[i] * original[i], after += head[i] * head[i];
  EXPECT_NEAR(before, after, 1e-5);
  EXPECT_EQ(head[8], original[8]);  // dimensions past n_rot are untouched
  EXPECT_EQ(head[9], original[9]);
}

TEST(OpsRope, AdjacentAndNeoxPairs) {
  const int pos = 3;
  for (bool neox : {false, true}) {
    RopeConfig cfg{4, 100.0f, 0.5f, neox, nullptr};
    std::vector<float> cs(4);
    rope_cos_sin(cfg, pos, cs.data());
    std::vector<float> head = {1.0f, 2.0f, 3.0f, 4.0f};
    rope_apply(cfg, cs.data(), head.data());
    for (int i = 0; i < 2; ++i) {
      const double angle = pos * 0.5 * std::pow(100.0, -2.0 * i / 4);
      const int a = neox ? i : 2 * i, b = neox ? i + 2 : 2 * i + 1;
      const double x0 = 1.0 + a, x1 = 1.0 + b;
      EXPECT_NEAR(head[a], x0 * std::cos(angle) - x1 * std::sin(angle), 1e-5) << neox;
      EXPECT_NEAR(head[b], x0 * std::sin(angle) + x1 * std::cos(angle), 1e-5) << neox;
    }
  }
}

TEST(OpsRope, FrequencyFactorsDivideTheAngle) {
  const std::vector<float> factors = {2.0f, 4.0f};
  RopeConfig with{4, 10000.0f, 1.0f, false, factors.data()};
  std::vector<float> cs(4);
  rope_cos_sin(with, 10, cs.data());
  EXPECT_NEAR(cs[0], std::cos(5.0), 1e-6);
  EXPECT_NEAR(cs[1], std::sin(5.0), 1e-6);
  EXPECT_NEAR(cs[2], std::cos(10.0 * 0.01 / 4.0), 1e-6);
}

TEST(OpsSoftmax, MatchesReferenceAndIsStable) {
  auto x = random_row(50, 4, 30.0f);
  x[7] = 1000.0f;  // large values must not overflow
  std::vector<double> ref(x.size());
  double max = -1e300, sum = 0;
  for (float v : x) max = std::max(max, 0.5 * v);
  for (size_t i = 0; i < x.size(); ++i) sum += ref[i] = std::exp(0.5 * x[i] - max);
  softmax_row(x.data(), static_cast<int64_t>(x.size()), 0.5f);
  double total = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_NEAR(x[i], ref[i] / sum, 1e-6);
    total += x[i];
  }
  EXPECT_NEAR(total, 1.0, 1e-5);
}

TEST(OpsSwiglu, KnownValues) {
  const std::vector<float> gate = {0.0f, 1.0f, -2.0f, 30.0f};
  const std::vector<float> up = {5.0f, 2.0f, 3.0f, 0.5f};
  std::vector<float> out(4);
  swiglu_row(gate.data(), up.data(), out.data(), 4);
  for (size_t i = 0; i < 4; ++i) {
    const double g = gate[i];
    EXPECT_NEAR(out[i], g / (1 + std::exp(-g)) * up[i], 1e-5);
  }
  EXPECT_EQ(out[0], 0.0f);
}

// Every ISA level's SwiGLU gives the scalar code's bits: lengths with and without a tail past
// the last 8, gates through exp's normal range and both of its out-of-range branches (|g| past
// 87 and past 133), infinities, and out aliasing gate as the forward pass calls it.
TEST(OpsSwiglu, EveryIsaGivesTheScalarBits) {
  for (int64_t n : {1, 7, 8, 13, 64, 5632 + 3}) {
    std::vector<float> gate = random_row(static_cast<size_t>(n), static_cast<uint32_t>(n), 12.0f);
    const std::vector<float> up = random_row(static_cast<size_t>(n), static_cast<uint32_t>(n) + 1, 3.0f);
    const float extremes[] = {90.0f, -90.0f, 100.5f, -120.0f, 150.0f, -160.0f, 400.0f, -400.0f,
                              INFINITY, -INFINITY, 0.0f, -0.0f};
    for (size_t i = 0; i < std::size(extremes) && i * 3 < gate.size(); ++i) gate[i * 3] = extremes[i];
    std::vector<float> expected(gate.size());
    swiglu_row(Isa::kScalar, gate.data(), up.data(), expected.data(), n);
    for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
      if (!isa_available(isa)) continue;
      std::vector<float> out = gate;  // in place, as model/forward.cpp
      swiglu_row(isa, out.data(), up.data(), out.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const auto k = static_cast<size_t>(i);
        ASSERT_EQ(std::isnan(out[k]), std::isnan(expected[k])) << isa_name(isa) << " n " << n << " i " << i;
        if (!std::isnan(out[k])) {
          ASSERT_EQ(out[k], expected[k]) << isa_name(isa) << " n " << n << " i " << i << " gate " << gate[k];
          ASSERT_EQ(std::signbit(out[k]), std::signbit(expected[k])) << isa_name(isa) << " n " << n << " i " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace pagoda::kernels
