// Activation quantizers: every ISA level writes the scalar quantizer's bytes
// (Q8_0: act_quant.cpp's ggml-x86 rounding; Q8_K: quant::quantize_row_q8_k),
// on ordinary rows and on the blocks where a shortcut would differ: ties in
// |x| with opposite signs, halfway products, zeros, huge values, NaN and inf.
#include "kernels/act_quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/matmul.h"
#include "quant/codec.h"

namespace pagoda::kernels {
namespace {

constexpr int64_t kRow = 1024;  // 4 Q8_K blocks, 32 Q8_0 blocks

// Rows that probe each quantizer's corners; every row is kRow floats.
std::vector<std::vector<float>> probe_rows() {
  std::vector<std::vector<float>> rows;
  std::mt19937 rng(99);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float scale : {1.0f, 1e-3f, 1e4f, 1e-30f}) {
    std::vector<float> x(kRow);
    for (float& v : x) v = normal(rng) * scale;
    rows.push_back(x);
  }
  // |x| maxima shared by a positive and a negative value, in both orders: the sign of the
  // first one sets Q8_K's scale.
  std::vector<float> ties(kRow, 0.25f);
  for (int64_t i = 0; i < kRow; i += 256) {
    ties[i + 3] = (i / 256) % 2 == 0 ? 2.0f : -2.0f;
    ties[i + 250] = -ties[i + 3];
    ties[i + 100] = -ties[i + 3];
  }
  rows.push_back(ties);
  // Products exactly halfway between integers (ties to even) and small integers.
  std::vector<float> halves(kRow);
  for (int64_t i = 0; i < kRow; ++i) halves[i] = static_cast<float>(i % 255 - 127) * 0.5f;
  rows.push_back(halves);
  // All-zero blocks, signed zeros, and one lone value per block.
  std::vector<float> sparse(kRow, 0.0f);
  for (int64_t i = 0; i < kRow; i += 64) sparse[i] = -0.0f;
  for (int64_t i = 256; i < kRow; i += 37) sparse[i] = static_cast<float>(i) * -0.01f;
  rows.push_back(sparse);
  // Non-finite values in some blocks, ordinary ones in the others.
  std::vector<float> bad(kRow);
  for (float& v : bad) v = normal(rng);
  bad[5] = std::numeric_limits<float>::quiet_NaN();
  bad[300] = std::numeric_limits<float>::infinity();
  bad[600] = -std::numeric_limits<float>::infinity();
  bad[900] = std::numeric_limits<float>::max();
  rows.push_back(bad);
  return rows;
}

void expect_same_bytes(TensorType type, Isa isa) {
  const ActQuantFn scalar = act_quant_kernel(type, Isa::kScalar);
  const ActQuantFn simd = act_quant_kernel(type, isa);
  ASSERT_NE(scalar, nullptr);
  ASSERT_NE(simd, nullptr);
  const size_t bytes = activation_row_bytes(type == TensorType::Q8_K ? TensorType::Q4_K : TensorType::Q4_0, kRow);
  int row_index = 0;
  for (const std::vector<float>& x : probe_rows()) {
    std::vector<uint8_t> want(bytes, 0x5A), got(bytes, 0xA5);
    scalar(x.data(), want.data(), kRow);
    simd(x.data(), got.data(), kRow);
    EXPECT_EQ(std::memcmp(want.data(), got.data(), bytes), 0)
        << tensor_type_name(type) << " " << isa_name(isa) << " row " << row_index;
    ++row_index;
  }
}

TEST(ActQuant, ScalarQ8KIsTheReferenceQuantizer) {
  EXPECT_EQ(act_quant_kernel(TensorType::Q8_K, Isa::kScalar), &quant::quantize_row_q8_k);
  EXPECT_EQ(act_quant_kernel(TensorType::Q4_K, Isa::kScalar), nullptr);
}

TEST(ActQuant, EveryLevelWritesTheScalarBytes) {
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_available(isa)) {
      std::printf("[  SKIPPED ] this CPU has no %s\n", isa_name(isa));
      continue;
    }
    expect_same_bytes(TensorType::Q8_0, isa);
    expect_same_bytes(TensorType::Q8_K, isa);
  }
}

// The dispatching entry points use the active level and agree with the scalar bytes.
TEST(ActQuant, ActiveLevelMatchesScalar) {
  const std::vector<float> x = probe_rows().front();
  for (TensorType type : {TensorType::Q8_0, TensorType::Q8_K}) {
    const size_t bytes = activation_row_bytes(type == TensorType::Q8_K ? TensorType::Q4_K : TensorType::Q4_0, kRow);
    std::vector<uint8_t> want(bytes), got(bytes);
    act_quant_kernel(type, Isa::kScalar)(x.data(), want.data(), kRow);
    (type == TensorType::Q8_0 ? quantize_act_q8_0 : quantize_act_q8_k)(x.data(), got.data(), kRow);
    EXPECT_EQ(std::memcmp(want.data(), got.data(), bytes), 0) << tensor_type_name(type);
  }
}

}  // namespace
}  // namespace pagoda::kernels
