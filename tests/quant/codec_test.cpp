// Scalar codecs on synthetic data: block geometry, hand-computed goldens,
// round-trip error per type, the activation formats' side sums, bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/expected.h"
#include "base/half.h"
#include "quant/blocks.h"
#include "quant/codec.h"

namespace pagoda::quant {
namespace {

const TensorType kAllTypes[] = {
    TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q4_0, TensorType::Q4_1,
    TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0, TensorType::Q8_1, TensorType::Q2_K,
    TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K, TensorType::Q8_K,
};

std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

std::vector<float> round_trip(TensorType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(*row_bytes(t, static_cast<int64_t>(x.size())));
  quantize_row(t, x.data(), q.data(), static_cast<int64_t>(x.size()));
  std::vector<float> y(x.size());
  dequantize_row(t, q.data(), y.data(), static_cast<int64_t>(x.size()));
  return y;
}

double relative_rmse(const std::vector<float>& got, const std::vector<float>& want) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    err += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    ref += double(want[i]) * want[i];
  }
  return std::sqrt(err / ref);
}

TEST(QuantCodec, BlockSizesMatchTensorTypeTable) {
  EXPECT_EQ(sizeof(BlockQ4_0), traits(TensorType::Q4_0).block_bytes);
  EXPECT_EQ(sizeof(BlockQ4_1), traits(TensorType::Q4_1).block_bytes);
  EXPECT_EQ(sizeof(BlockQ5_0), traits(TensorType::Q5_0).block_bytes);
  EXPECT_EQ(sizeof(BlockQ5_1), traits(TensorType::Q5_1).block_bytes);
  EXPECT_EQ(sizeof(BlockQ8_0), traits(TensorType::Q8_0).block_bytes);
  EXPECT_EQ(sizeof(BlockQ8_1), traits(TensorType::Q8_1).block_bytes);
  EXPECT_EQ(sizeof(BlockQ2_K), traits(TensorType::Q2_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ3_K), traits(TensorType::Q3_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ4_K), traits(TensorType::Q4_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ5_K), traits(TensorType::Q5_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ6_K), traits(TensorType::Q6_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ8_K), traits(TensorType::Q8_K).block_bytes);
  for (TensorType t : kAllTypes) {
    EXPECT_TRUE(can_quantize(t)) << tensor_type_name(t);
    EXPECT_TRUE(can_dequantize(t)) << tensor_type_name(t);
  }
  EXPECT_FALSE(can_dequantize(TensorType::IQ2_XXS));
  EXPECT_FALSE(can_quantize(TensorType::I32));
}

// x[j] = j - 16: the extreme is -16 at j = 0, values worked out by hand.
TEST(QuantCodec, Q8_0GoldenBlock) {
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
  BlockQ8_0 b;
  quantize_row_q8_0(x, &b, 32);
  EXPECT_EQ(b.d, 0x3008);  // fp16(16 / 127) = 2^-3 * (1 + 8/1024)
  EXPECT_EQ(b.qs[0], -127);
  EXPECT_EQ(b.qs[16], 0);
  EXPECT_EQ(b.qs[17], 8);     // 1 * 127/16 = 7.94
  EXPECT_EQ(b.qs[31], 119);   // 15 * 127/16 = 119.06
}

TEST(QuantCodec, Q4_0GoldenBlock) {
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
  BlockQ4_0 b;
  quantize_row_q4_0(x, &b, 32);
  EXPECT_EQ(b.d, 0x4000);      // d = -16 / -8 = 2
  EXPECT_EQ(b.qs[0], 0x80);    // x[0] = -16 -> 0, x[16] = 0 -> 8
  EXPECT_EQ(b.qs[15], 0xF8);   // x[15] = -1 -> 8 (trunc(8.0)), x[31] = 15 -> 16 clamped to 15
  float y[32];
  dequantize_row_q4_0(&b, y, 32);
  EXPECT_EQ(y[0], -16.f);
  EXPECT_EQ(y[16], 0.f);
  EXPECT_EQ(y[31], 14.f);
}

TEST(QuantCodec, FloatFormatsRoundTripExactlyWhenRepresentable) {
  const std::vector<float> x = {0.f, -0.f, 1.f, -2.5f, 65504.f, 0.099975586f, 1e-7f, -3.0e-5f};
  EXPECT_EQ(round_trip(TensorType::F32, x), x);
  const auto h = round_trip(TensorType::F16, x);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(h[i], round_fp16(x[i])) << i;
  EXPECT_EQ(h[5], 0.099975586f);  // exactly representable in fp16
  const auto b = round_trip(TensorType::BF16, x);
  EXPECT_EQ(b[3], -2.5f);
  EXPECT_EQ(b[2], 1.f);
}

TEST(QuantCodec, ZeroInputDecodesToZeroForEveryType) {
  const std::vector<float> zeros(512, 0.f);
  for (TensorType t : kAllTypes) {
    const auto y = round_trip(t, zeros);
    for (float v : y) ASSERT_EQ(v, 0.f) << tensor_type_name(t);
  }
}

struct RmseBand {
  TensorType type;
  double lo, hi;  // relative RMSE on N(0, 1) data
};

TEST(QuantCodec, RoundTripErrorIsWithinTheBandOfEachType) {
  // Bands bracket each format's error on Gaussian data (more bits -> lower).
  const RmseBand bands[] = {
      {TensorType::F16, 1e-5, 3e-4},  {TensorType::BF16, 5e-4, 4e-3},
      {TensorType::Q8_0, 2e-3, 8e-3}, {TensorType::Q8_1, 2e-3, 8e-3},
      {TensorType::Q8_K, 2e-3, 1e-2}, {TensorType::Q6_K, 0.01, 0.03},
      {TensorType::Q5_0, 0.03, 0.06}, {TensorType::Q5_1, 0.025, 0.06},
      {TensorType::Q5_K, 0.025, 0.045}, {TensorType::Q4_0, 0.07, 0.12},
      {TensorType::Q4_1, 0.06, 0.11}, {TensorType::Q4_K, 0.05, 0.09},
      {TensorType::Q3_K, 0.09, 0.2},  {TensorType::Q2_K, 0.2, 0.4},
  };
  const std::vector<float> x = gaussian(256 * 64, 1234, 0.02f);
  for (const auto& band : bands) {
    const double e = relative_rmse(round_trip(band.type, x), x);
    std::printf("[ quant    ] %-5s relative RMSE %.5f\n",
                std::string(tensor_type_name(band.type)).c_str(), e);
    EXPECT_GE(e, band.lo) << tensor_type_name(band.type);
    EXPECT_LE(e, band.hi) << tensor_type_name(band.type);
  }
}

TEST(QuantCodec, ActivationFormatsCarryConsistentSums) {
  const std::vector<float> x = gaussian(512, 99);
  std::vector<BlockQ8_K> k(2);
  quantize_row_q8_k(x.data(), k.data(), 512);
  for (const auto& b : k) {
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += b.qs[16 * g + j];
      EXPECT_EQ(b.bsums[g], sum);
    }
    for (int8_t q : b.qs) EXPECT_GE(q, -127);
  }
  std::vector<BlockQ8_1> one(16);
  quantize_row_q8_1(x.data(), one.data(), 512);
  for (const auto& b : one) {
    int sum = 0;
    for (int8_t q : b.qs) sum += q;
    // ggml multiplies by the unrounded f32 scale, so compare within fp16 precision.
    const float want = static_cast<float>(sum) * fp16_to_fp32(b.d);
    EXPECT_NEAR(fp16_to_fp32(b.s), want, std::fabs(want) * 2e-3f + 1e-6f);
  }
}

TEST(QuantCodec, QuantizationIsDeterministicAndRowSplitInvariant) {
  // Quantizing a matrix in one call or row by row gives the same bytes.
  const std::vector<float> x = gaussian(4 * 512, 7);
  for (TensorType t : kAllTypes) {
    const size_t rb = *row_bytes(t, 512);
    std::vector<uint8_t> whole(4 * rb), rows(4 * rb);
    quantize_row(t, x.data(), whole.data(), 4 * 512);
    for (int r = 0; r < 4; ++r) quantize_row(t, x.data() + 512 * r, rows.data() + rb * r, 512);
    EXPECT_EQ(whole, rows) << tensor_type_name(t);
  }
}

TEST(QuantCodec, NonFiniteInputDoesNotCrash) {
  std::vector<float> x = gaussian(256, 5);
  x[3] = std::nanf("");
  x[100] = INFINITY;
  x[200] = -INFINITY;
  for (TensorType t : kAllTypes) {
    std::vector<uint8_t> q(*row_bytes(t, 256));
    quantize_row(t, x.data(), q.data(), 256);
    std::vector<float> y(256);
    dequantize_row(t, q.data(), y.data(), 256);
  }
}

TEST(QuantCodec, RejectsUnsupportedTypesAndPartialBlocks) {
  float x[64] = {};
  uint8_t buf[512];
  EXPECT_THROW(quantize_row(TensorType::IQ2_XXS, x, buf, 256), Exception);
  EXPECT_THROW(dequantize_row(TensorType::I8, buf, x, 64), Exception);
  EXPECT_THROW(quantize_row(TensorType::Q4_0, x, buf, 48), Exception);
  EXPECT_THROW(dequantize_row(TensorType::Q4_K, buf, x, 64), Exception);
  EXPECT_THROW(dequantize_row(TensorType::Q8_0, buf, x, -32), Exception);
  try {
    quantize_row(TensorType::Q4_K, x, buf, 64);
  } catch (const Exception& e) {
    EXPECT_NE(std::string(e.what()).find("block size 256"), std::string::npos) << e.what();
  }
}

TEST(QuantCodec, Q3KScalePackingRoundTrips) {
  // Pack 16 signed 6-bit scales the way the Q3_K quantizer does, then unpack.
  uint8_t packed[12] = {};
  int8_t want[16];
  for (int j = 0; j < 16; ++j) {
    want[j] = static_cast<int8_t>(j * 4 - 32 + (j % 3));
    int l = want[j] + 32;
    if (j < 8) packed[j] = static_cast<uint8_t>(l & 0xF);
    else packed[j - 8] |= static_cast<uint8_t>((l & 0xF) << 4);
    packed[8 + j % 4] |= static_cast<uint8_t>((l >> 4) << (2 * (j / 4)));
  }
  int8_t got[16];
  unpack_q3_k_scales(packed, got);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(got[j], want[j]) << j;
}

}  // namespace
}  // namespace pagoda::quant
