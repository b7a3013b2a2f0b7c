// Tile kernels (VecDotTileFn): every output equals the same level's per-output
// vec_dot and the scalar reference bit for bit, for any token count (1 included:
// matmul uses them for decode too), row count and thread count; and matmul still
// gives each token the bits it gets alone.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/expected.h"
#include "base/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/vec_dot.h"
#include "matmul_test_util.h"

namespace pagoda::kernels {
namespace {

// The types the brief asks tile kernels for; every SIMD level must have them.
constexpr TensorType kTileTypes[] = {TensorType::Q4_K, TensorType::Q6_K, TensorType::Q5_K, TensorType::Q8_0,
                                     TensorType::Q4_0, TensorType::Q2_K, TensorType::Q3_K, TensorType::F16,
                                     TensorType::BF16, TensorType::F32};
// Widest tile of any level (AVX-512's 16 tokens of interleaved Q4_0/Q8_0 rows):
// token counts 1 .. 2 * 16 + 1 cover full tiles, two tiles and every narrower tail.
constexpr int64_t kMaxTileTokens = 16;

uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof(b));
  return b;
}

// Weight rows and prepared activation rows, both with padded strides.
struct Operands {
  size_t row_stride = 0, act_stride = 0;
  std::vector<uint8_t> weights;  // [n_rows] rows of row_stride bytes
  std::vector<uint8_t> acts;     // [n_tokens] rows of act_stride bytes
};

Operands random_operands(TensorType t, int64_t n, int64_t n_rows, int64_t n_tokens,
                         std::mt19937& rng) {
  Operands o;
  o.row_stride = test::bytes_of(t, n) + 16;
  o.act_stride = activation_row_bytes(t, n) + 8;
  o.weights.assign(o.row_stride * n_rows, 0xAB);
  o.acts.assign(o.act_stride * n_tokens, 0xCD);
  for (int64_t r = 0; r < n_rows; ++r) {
    const auto row = test::random_weight_row(t, n, rng, /*from_quantizer=*/r % 2 == 0);
    std::memcpy(o.weights.data() + r * o.row_stride, row.data(), row.size());
  }
  for (int64_t k = 0; k < n_tokens; ++k) {
    const auto act = test::random_activation_row(t, n, rng);
    std::memcpy(o.acts.data() + k * o.act_stride, act.data(), act.size());
  }
  return o;
}

// Float types sum in double in the scalar reference and in 32 float lanes on AVX2 and up
// (matmul_simd_test.cpp checks them within a tolerance): their tiles match their level's vec_dot.
bool scalar_has_the_same_bits(TensorType t) {
  return t != TensorType::F32 && t != TensorType::F16 && t != TensorType::BF16;
}

// Runs `tile` on rows x tokens and checks every output against `dot` and (same float order)
// the scalar reference, and that the padding between output rows is untouched.
void expect_tile_matches(TensorType t, Isa isa, int64_t n, const Operands& o, int64_t n_rows,
                         int64_t n_tokens, const std::string& where) {
  const VecDotTileFn tile = vec_dot_tile_kernel(t, isa);
  const VecDotFn dot = vec_dot_kernel(t, isa);
  const VecDotFn scalar = vec_dot_kernel(t, Isa::kScalar);
  const int64_t y_stride = n_rows + 3;
  std::vector<float> y(n_tokens * y_stride, -7.0f);  // [n_tokens][y_stride]
  tile(n, o.weights.data(), o.row_stride, n_rows, o.acts.data(), o.act_stride, n_tokens, y.data(),
       y_stride);
  for (int64_t k = 0; k < n_tokens; ++k) {
    for (int64_t r = 0; r < n_rows; ++r) {
      const void* w = o.weights.data() + r * o.row_stride;
      const void* a = o.acts.data() + k * o.act_stride;
      const float got = y[k * y_stride + r];
      const float want = dot(n, w, a);
      ASSERT_EQ(bits(got), bits(want))
          << where << " token " << k << " row " << r << ": tile " << got << ", vec_dot " << want;
      if (scalar_has_the_same_bits(t)) {
        ASSERT_EQ(bits(got), bits(scalar(n, w, a))) << where << " token " << k << " row " << r;
      }
    }
    for (int64_t r = n_rows; r < y_stride; ++r) ASSERT_EQ(y[k * y_stride + r], -7.0f) << where;
  }
}

class TileKernel : public ::testing::TestWithParam<Isa> {};

TEST_P(TileKernel, EveryOutputIsVecDotBitForBit) {
  const Isa isa = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << "this CPU has no " << isa_name(isa) << ": skipped";
  for (TensorType t : kTileTypes) {
    ASSERT_NE(vec_dot_tile_kernel(t, isa), nullptr) << tensor_type_name(t);
    std::mt19937 rng(1234 + static_cast<int>(t));
    for (int64_t n : test::test_lengths(t)) {
      const int64_t n_rows = 3, max_tokens = 2 * kMaxTileTokens + 1;
      const Operands o = random_operands(t, n, n_rows, max_tokens, rng);
      for (int64_t n_tokens = 1; n_tokens <= max_tokens; ++n_tokens)
        expect_tile_matches(t, isa, n, o, n_rows, n_tokens,
                            std::string(tensor_type_name(t)) + " " + isa_name(isa) +
                                " n=" + std::to_string(n) + " tokens=" + std::to_string(n_tokens));
    }
  }
}

// Extreme digits (all weight bits set / clear) against the largest activations.
TEST_P(TileKernel, ExtremeBlocksAreVecDotBitForBit) {
  const Isa isa = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << "this CPU has no " << isa_name(isa) << ": skipped";
  const int64_t n = 512, n_rows = 4, n_tokens = kMaxTileTokens + 3;  // and 1 token (decode)
  std::mt19937 rng(8);
  for (TensorType t : kTileTypes) {
    Operands o = random_operands(t, n, n_rows, n_tokens, rng);
    const uint8_t fills[n_rows] = {0x00, 0xFF, 0x80, 0x7F};
    for (int64_t r = 0; r < n_rows; ++r) {
      uint8_t* row = o.weights.data() + r * o.row_stride;
      std::memset(row, fills[r], test::bytes_of(t, n));
      test::set_block_scales(t, row, n, rng, 1.0f);
    }
    for (int64_t k = 0; k < n_tokens; ++k) {
      std::vector<float> x(n);
      for (int64_t i = 0; i < n; ++i) x[i] = ((i + k) % 3 == 0) ? -1.0f : 1.0f;
      prepare_activation_row(t, x.data(), o.acts.data() + k * o.act_stride, n);
    }
    for (int64_t tokens : {int64_t{1}, n_tokens})
      expect_tile_matches(t, isa, n, o, n_rows, tokens,
                          std::string(tensor_type_name(t)) + " extreme " + isa_name(isa) +
                              " tokens=" + std::to_string(tokens));
  }
}

// Many rows in long rows: AVX-512's Q4_0/Q8_0 tile interleaves 16 rows per group and about
// 256 KB per chunk (16 rows of 8192 values), so 40 rows make three chunks, the last one
// half a group; the other kernels see the same outputs.
TEST_P(TileKernel, RowGroupsAndChunksAreVecDotBitForBit) {
  const Isa isa = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << "this CPU has no " << isa_name(isa) << ": skipped";
  const int64_t n = 8192, n_rows = 40;
  std::mt19937 rng(9);
  for (TensorType t : kTileTypes) {
    const Operands o = random_operands(t, n, n_rows, 17, rng);
    for (int64_t tokens : {1, 3, 4, 16, 17})
      expect_tile_matches(t, isa, n, o, n_rows, tokens,
                          std::string(tensor_type_name(t)) + " " + isa_name(isa) + " rows=40 n=8192 tokens=" +
                              std::to_string(tokens));
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, TileKernel, ::testing::Values(Isa::kAvx2, Isa::kAvx512),
                         [](const auto& info) { return std::string(isa_name(info.param)); });

// A level without its own vec_dot override inherits the lower level's tile; a
// level that overrides vec_dot never runs a tile written for another kernel.
TEST(TileDispatch, TilesBelongToTheirLevelsVecDot) {
  for (TensorType t : test::all_supported_types()) {
    EXPECT_EQ(vec_dot_tile_kernel(t, Isa::kScalar), nullptr) << tensor_type_name(t);
    EXPECT_EQ(active_vec_dot_tile_kernel(t), vec_dot_tile_kernel(t, active_isa()));
  }
}

class MatmulTile : public ::testing::TestWithParam<TensorType> {};

// Through matmul (the active level): any batch, 1 or 2 threads, row count not a
// multiple of the row task, token counts across the 16-token tile boundary.
TEST_P(MatmulTile, BatchesAndThreadsGiveVecDotBits) {
  const TensorType t = GetParam();
  std::mt19937 rng(55 + static_cast<int>(t));
  const int64_t n_cols = 512, n_rows = 45, x_stride = n_cols + 5, y_stride = n_rows + 2;
  const Operands o = random_operands(t, n_cols, n_rows, 0, rng);
  const WeightView w{t, o.weights.data(), n_cols, n_rows, o.row_stride};
  // The rows rearranged as the model holds them where this level has such a layout (Q4_0 on
  // AVX-512; 45 rows: two groups of 16 and a partial one).
  WeightView interleaved;
  struct alignas(64) Line {
    uint8_t bytes[64];
  };
  std::vector<Line> layout((interleaved_weight_bytes(t, n_cols, n_rows) + 63) / 64);
  if (!layout.empty()) {
    interleaved = w;
    interleave_weight(w, layout.data());
    interleaved.interleaved = layout.data();
  }
  ThreadPool one(1), two(2);
  std::vector<uint8_t> act(activation_row_bytes(t, n_cols));
  for (int64_t n_tokens : {1, 2, 3, 4, 5, 7, 8, 9, 12, 16, 17, 33, 40}) {
    std::vector<float> x(n_tokens * x_stride);
    for (float& v : x) v = std::normal_distribution<float>(0, 1)(rng);
    std::vector<float> y1(n_tokens * y_stride, -1.0f), y2(n_tokens * y_stride, -1.0f);
    matmul(w, x.data(), n_tokens, x_stride, y1.data(), y_stride, one);
    matmul(w, x.data(), n_tokens, x_stride, y2.data(), y_stride, two);
    ASSERT_EQ(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)), 0)
        << "1 vs 2 threads, tokens=" << n_tokens;
    if (interleaved.data != nullptr) {  // the model's layout: the same bits
      for (ThreadPool* pool : {&one, &two}) {
        std::vector<float> yi(n_tokens * y_stride, -1.0f);
        matmul(interleaved, x.data(), n_tokens, x_stride, yi.data(), y_stride, *pool);
        ASSERT_EQ(std::memcmp(y1.data(), yi.data(), y1.size() * sizeof(float)), 0)
            << "interleaved rows, " << pool->size() << " threads, tokens=" << n_tokens;
      }
    }
    for (int64_t k = 0; k < n_tokens; ++k) {
      prepare_activation_row(t, x.data() + k * x_stride, act.data(), n_cols);
      for (int64_t r = 0; r < n_rows; ++r) {
        const float want = vec_dot(t, n_cols, o.weights.data() + r * o.row_stride, act.data());
        ASSERT_EQ(bits(y1[k * y_stride + r]), bits(want))
            << tensor_type_name(t) << " tokens=" << n_tokens << " token " << k << " row " << r;
      }
      for (int64_t r = n_rows; r < y_stride; ++r) ASSERT_EQ(y1[k * y_stride + r], -1.0f);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(TileTypes, MatmulTile, ::testing::ValuesIn(kTileTypes),
                         [](const auto& info) {
                           return std::string(tensor_type_name(info.param));
                         });

// Which types have an interleaved layout (Q4_0, Q8_0, Q4_K, Q5_K and Q6_K, on AVX-512 only), and that a layout is
// refused where it is not this level's or not aligned.
TEST(InterleavedWeights, OnlyQ4_0Q8_0Q4_KQ5_KAndQ6_KOnAvx512AndCheckedByMatmul) {
  for (TensorType t : test::all_supported_types()) {
    const bool expected = (t == TensorType::Q4_0 || t == TensorType::Q8_0 || t == TensorType::Q4_K ||
                           t == TensorType::Q5_K || t == TensorType::Q6_K) &&
                          active_isa() == Isa::kAvx512;
    EXPECT_EQ(interleaved_weight_bytes(t, 256, 40) > 0, expected) << tensor_type_name(t);
  }
  std::mt19937 rng(77);
  const Operands o = random_operands(TensorType::Q3_K, 256, 16, 0, rng);
  struct alignas(64) Line {
    uint8_t bytes[64];
  };
  std::vector<Line> layout(1024);
  const WeightView q3{TensorType::Q3_K, o.weights.data(), 256, 16, o.row_stride, layout.data()};
  std::vector<float> x(256, 1.0f), y(16);
  ThreadPool pool(1);
  EXPECT_THROW(matmul(q3, x.data(), 1, 256, y.data(), 16, pool), Exception);
  EXPECT_THROW(interleave_weight({TensorType::Q3_K, o.weights.data(), 256, 16, o.row_stride}, layout.data()),
               Exception);
  if (active_isa() != Isa::kAvx512) GTEST_SKIP() << "no AVX-512: no Q4_0 layout to misalign";
  const Operands q4 = random_operands(TensorType::Q4_0, 256, 16, 0, rng);
  const WeightView misaligned{TensorType::Q4_0, q4.weights.data(), 256, 16, q4.row_stride, layout[0].bytes + 8};
  EXPECT_THROW(matmul(misaligned, x.data(), 1, 256, y.data(), 16, pool), Exception);
}

}  // namespace
}  // namespace pagoda::kernels
