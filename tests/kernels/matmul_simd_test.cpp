// Every SIMD vec_dot kernel against the scalar reference, for every type and
// several row lengths, on quantizer-made and on random-byte weight rows: bit
// for bit where the reference follows the SIMD float order (Q4_0, Q8_0,
// K-quants), else within float rounding.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "kernels/vec_dot.h"
#include "matmul_test_util.h"

namespace pagoda::kernels {
namespace {

class VecDotSimd : public ::testing::TestWithParam<Isa> {};

// Types whose scalar reference follows the AVX2 float order exactly (and
// whose AVX-512 kernel, if any, too): every ISA must give the same bits.
bool same_bits_on_every_isa(TensorType t) {
  switch (t) {
    case TensorType::Q4_0:
    case TensorType::Q8_0:
    case TensorType::Q2_K:
    case TensorType::Q3_K:
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
      return true;
    default:
      return false;
  }
}

// Bit equality for same_bits_on_every_isa types, else the float tolerance.
void expect_matches_scalar(TensorType t, float got, float want, const test::ExactDot& exact,
                           const std::string& where) {
  if (same_bits_on_every_isa(t)) {
    uint32_t got_bits, want_bits;
    std::memcpy(&got_bits, &got, sizeof(got));
    std::memcpy(&want_bits, &want, sizeof(want));
    EXPECT_EQ(got_bits, want_bits) << where << ": got " << got << ", scalar " << want;
  } else {
    EXPECT_NEAR(got, want, 1e-5 * exact.abs_terms + 1e-30) << where;
  }
}

TEST_P(VecDotSimd, MatchesScalarReference) {
  const Isa isa = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << "this CPU has no " << isa_name(isa) << ": skipped";
  for (TensorType t : test::all_supported_types()) {
    std::mt19937 rng(99 + static_cast<int>(t));
    const VecDotFn simd = vec_dot_kernel(t, isa);
    const VecDotFn scalar = vec_dot_kernel(t, Isa::kScalar);
    ASSERT_NE(simd, nullptr);
    for (int64_t n : test::test_lengths(t)) {
      for (int trial = 0; trial < 4; ++trial) {
        const auto w = test::random_weight_row(t, n, rng, /*from_quantizer=*/trial % 2 == 0);
        const auto a = test::random_activation_row(t, n, rng);
        const test::ExactDot exact = test::exact_dot(t, w.data(), a.data(), n);
        const float want = scalar(n, w.data(), a.data());
        const float got = simd(n, w.data(), a.data());
        expect_matches_scalar(t, got, want, exact,
                              std::string(tensor_type_name(t)) + " n=" + std::to_string(n) +
                                  " trial=" + std::to_string(trial) + " isa=" + isa_name(isa));
      }
    }
  }
}

// Extreme digits: every weight bit set / clear, largest activations, so that
// any saturating int16 step or sign trick would show.
TEST_P(VecDotSimd, ExtremeBlocksMatchScalar) {
  const Isa isa = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << "this CPU has no " << isa_name(isa) << ": skipped";
  const int64_t n = 512;
  std::mt19937 rng(3);
  for (TensorType t : test::all_supported_types()) {
    if (traits(t).block_size == 1) continue;
    for (uint8_t fill : {uint8_t{0x00}, uint8_t{0xFF}, uint8_t{0x80}, uint8_t{0x7F}}) {
      std::vector<uint8_t> w(test::bytes_of(t, n), fill);
      test::set_block_scales(t, w.data(), n, rng, 1.0f);
      std::vector<float> x(n);
      for (int64_t i = 0; i < n; ++i) x[i] = (i % 3 == 0) ? -1.0f : 1.0f;
      std::vector<uint8_t> a(activation_row_bytes(t, n));
      prepare_activation_row(t, x.data(), a.data(), n);
      const test::ExactDot exact = test::exact_dot(t, w.data(), a.data(), n);
      const float want = vec_dot_kernel(t, Isa::kScalar)(n, w.data(), a.data());
      EXPECT_NEAR(want, exact.value, 1e-5 * exact.abs_terms + 1e-30) << tensor_type_name(t);
      expect_matches_scalar(t, vec_dot_kernel(t, isa)(n, w.data(), a.data()), want, exact,
                            std::string(tensor_type_name(t)) + " fill=" + std::to_string(fill) +
                                " isa=" + isa_name(isa));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, VecDotSimd, ::testing::Values(Isa::kAvx2, Isa::kAvx512),
                         [](const auto& info) { return std::string(isa_name(info.param)); });

TEST(VecDotDispatch, ActiveIsaIsTheBestAvailable) {
  const Isa active = active_isa();
  EXPECT_TRUE(isa_available(active));
  if (active != Isa::kAvx512) {
    EXPECT_FALSE(isa_available(Isa::kAvx512));
  }
  if (active == Isa::kScalar) {
    EXPECT_FALSE(isa_available(Isa::kAvx2));
  }
  for (TensorType t : test::all_supported_types())
    EXPECT_EQ(active_vec_dot_kernel(t), vec_dot_kernel(t, active)) << tensor_type_name(t);
}

}  // namespace
}  // namespace pagoda::kernels
