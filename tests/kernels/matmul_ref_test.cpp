// The scalar reference kernels against "decode both rows, dot in double".
#include <gtest/gtest.h>

#include "kernels/matmul.h"
#include "kernels/vec_dot.h"
#include "matmul_test_util.h"

namespace pagoda::kernels {
namespace {

using test::all_supported_types;

TEST(MatmulTypes, VecDotTypeFollowsGgml) {
  EXPECT_EQ(vec_dot_type(TensorType::F32), TensorType::F32);
  EXPECT_EQ(vec_dot_type(TensorType::F16), TensorType::F16);
  EXPECT_EQ(vec_dot_type(TensorType::BF16), TensorType::BF16);
  for (TensorType t : {TensorType::Q4_0, TensorType::Q5_0, TensorType::Q8_0})
    EXPECT_EQ(vec_dot_type(t), TensorType::Q8_0) << tensor_type_name(t);
  for (TensorType t : {TensorType::Q4_1, TensorType::Q5_1})
    EXPECT_EQ(vec_dot_type(t), TensorType::Q8_1) << tensor_type_name(t);
  for (TensorType t : test::kKQuantTypes)
    EXPECT_EQ(vec_dot_type(t), TensorType::Q8_K) << tensor_type_name(t);
}

TEST(MatmulTypes, SupportedTypes) {
  for (TensorType t : all_supported_types()) {
    EXPECT_TRUE(supports_weight_type(t)) << tensor_type_name(t);
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512})
      EXPECT_NE(vec_dot_kernel(t, isa), nullptr) << tensor_type_name(t) << " " << isa_name(isa);
  }
  for (TensorType t : {TensorType::IQ2_XXS, TensorType::IQ4_NL, TensorType::IQ4_XS,
                       TensorType::Q8_1, TensorType::Q8_K, TensorType::I32, TensorType::MXFP4}) {
    EXPECT_FALSE(supports_weight_type(t)) << tensor_type_name(t);
    EXPECT_THROW(vec_dot_type(t), Exception) << tensor_type_name(t);
  }
}

TEST(MatmulTypes, ActivationRowBytes) {
  EXPECT_EQ(activation_row_bytes(TensorType::F32, 10), 40u);
  EXPECT_EQ(activation_row_bytes(TensorType::F16, 10), 20u);
  EXPECT_EQ(activation_row_bytes(TensorType::Q4_0, 64), 2u * 34u);
  EXPECT_EQ(activation_row_bytes(TensorType::Q5_1, 64), 2u * 36u);
  EXPECT_EQ(activation_row_bytes(TensorType::Q6_K, 512), 2u * 292u);
  EXPECT_THROW(activation_row_bytes(TensorType::Q4_K, 300), Exception);
  EXPECT_THROW(activation_row_bytes(TensorType::Q8_0, 0), Exception);
}

TEST(MatmulTypes, PreparedF16AndBf16RowsAreRoundedInputs) {
  const float x[4] = {1.0f, 0.1f, -3.14159f, 65504.0f};
  uint16_t h[4];
  prepare_activation_row(TensorType::F16, x, h, 4);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(h[i], fp32_to_fp16(x[i]));
  prepare_activation_row(TensorType::BF16, x, h, 4);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(h[i], fp32_to_bf16(x[i]));
}

// Checks the scalar kernel of `type` on random rows against the exact dot.
void check_scalar_against_decoded(TensorType type, bool from_quantizer) {
  std::mt19937 rng(1234 + static_cast<int>(type));
  const VecDotFn kernel = vec_dot_kernel(type, Isa::kScalar);
  ASSERT_NE(kernel, nullptr);
  for (int64_t n : test::test_lengths(type)) {
    for (int trial = 0; trial < 3; ++trial) {
      const auto w = test::random_weight_row(type, n, rng, from_quantizer);
      const auto a = test::random_activation_row(type, n, rng);
      const test::ExactDot exact = test::exact_dot(type, w.data(), a.data(), n);
      const float got = kernel(n, w.data(), a.data());
      EXPECT_NEAR(got, exact.value, 1e-5 * exact.abs_terms + 1e-30)
          << tensor_type_name(type) << " n=" << n << " trial=" << trial;
      // The public entry point is the active kernel: same numbers up to rounding.
      EXPECT_NEAR(vec_dot(type, n, w.data(), a.data()), got, 1e-5 * exact.abs_terms + 1e-30);
    }
  }
}

TEST(VecDotScalar, MatchesDecodedDotOnQuantizedRows) {
  for (TensorType t : all_supported_types()) check_scalar_against_decoded(t, true);
}

TEST(VecDotScalar, MatchesDecodedDotOnRandomBlockBytes) {
  for (TensorType t : all_supported_types()) check_scalar_against_decoded(t, false);
}

// A hand-checkable case: Q8_0 x Q8_0 with one block of ones times twos.
TEST(VecDotScalar, Q8_0HandComputed) {
  quant::BlockQ8_0 w{}, a{};
  w.d = fp32_to_fp16(0.5f);
  a.d = fp32_to_fp16(0.25f);
  for (int j = 0; j < 32; ++j) {
    w.qs[j] = 1;
    a.qs[j] = static_cast<int8_t>(j % 2 == 0 ? 2 : -1);
  }
  // sum = 16 * 2 - 16 = 16; times 0.5 * 0.25.
  EXPECT_FLOAT_EQ(vec_dot_kernel(TensorType::Q8_0, Isa::kScalar)(32, &w, &a), 2.0f);
}

}  // namespace
}  // namespace pagoda::kernels
