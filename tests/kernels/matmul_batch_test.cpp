// matmul: every output equals one vec_dot, bit for bit, whatever the batch it
// shares and however many threads run it; bad shapes are errors, not crashes.
#include <gtest/gtest.h>

#include <cstring>

#include "base/thread_pool.h"
#include "kernels/matmul.h"
#include "matmul_test_util.h"

namespace pagoda::kernels {
namespace {

struct Problem {
  WeightView view;
  std::vector<uint8_t> weights;  // [n_rows] rows of row_stride bytes
};

// A random weight matrix; rows padded by `pad` bytes to exercise row_stride.
Problem random_problem(TensorType t, int64_t n_rows, int64_t n_cols, std::mt19937& rng,
                       size_t pad = 0) {
  Problem p;
  const size_t row = test::bytes_of(t, n_cols);
  p.weights.resize((row + pad) * n_rows);
  for (int64_t r = 0; r < n_rows; ++r) {
    const auto bytes = test::random_weight_row(t, n_cols, rng, /*from_quantizer=*/r % 2 == 0);
    std::memcpy(p.weights.data() + r * (row + pad), bytes.data(), row);
  }
  p.view = WeightView{t, p.weights.data(), n_cols, n_rows, row + pad};
  return p;
}

bool same_bits(float a, float b) {
  return std::memcmp(&a, &b, sizeof(float)) == 0;
}

class MatmulBatch : public ::testing::TestWithParam<TensorType> {};

TEST_P(MatmulBatch, TokenAloneEqualsTokenInBatchAndAcrossThreads) {
  const TensorType t = GetParam();
  std::mt19937 rng(77 + static_cast<int>(t));
  const int64_t n_cols = traits(t).block_size == 1 ? 100 : 2 * int64_t{traits(t).block_size};
  const int64_t n_rows = 45;  // not a multiple of the per-task row count
  const int64_t n_tokens = 8, x_stride = n_cols + 3, y_stride = n_rows + 5;
  Problem p = random_problem(t, n_rows, n_cols, rng, /*pad=*/8);
  std::vector<float> x(n_tokens * x_stride);
  for (float& v : x) v = std::normal_distribution<float>(0, 1)(rng);

  ThreadPool one(1), two(2);
  std::vector<float> batch1(n_tokens * y_stride, -1.0f), batch2(n_tokens * y_stride, -1.0f);
  matmul(p.view, x.data(), n_tokens, x_stride, batch1.data(), y_stride, one);
  matmul(p.view, x.data(), n_tokens, x_stride, batch2.data(), y_stride, two);

  std::vector<uint8_t> act(activation_row_bytes(t, n_cols));
  for (int64_t tok = 0; tok < n_tokens; ++tok) {
    std::vector<float> alone(n_rows);
    matmul(p.view, x.data() + tok * x_stride, 1, x_stride, alone.data(), n_rows, two);
    prepare_activation_row(t, x.data() + tok * x_stride, act.data(), n_cols);
    for (int64_t r = 0; r < n_rows; ++r) {
      const float in_batch = batch1[tok * y_stride + r];
      ASSERT_TRUE(same_bits(in_batch, batch2[tok * y_stride + r]))
          << "token " << tok << " row " << r;
      ASSERT_TRUE(same_bits(in_batch, alone[r])) << "token " << tok << " row " << r;
      const float direct = vec_dot(t, n_cols, p.weights.data() + r * p.view.row_stride, act.data());
      ASSERT_TRUE(same_bits(in_batch, direct)) << "token " << tok << " row " << r;
      // And the value is the right one (not just consistently wrong).
      const auto exact =
          test::exact_dot(t, p.weights.data() + r * p.view.row_stride, act.data(), n_cols);
      ASSERT_NEAR(in_batch, exact.value, 1e-5 * exact.abs_terms + 1e-30);
    }
    // Padding between output rows is left alone.
    for (int64_t r = n_rows; r < y_stride; ++r) EXPECT_EQ(batch1[tok * y_stride + r], -1.0f);
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatmulBatch, ::testing::ValuesIn(test::all_supported_types()),
                         [](const auto& info) {
                           return std::string(tensor_type_name(info.param));
                         });

// matmul_many: three matrices of mixed types (this one, a K-quant, F16) times the same x give
// exactly matmul's bits for each, at 1 and 8 tokens, on 1 and 2 threads.
TEST_P(MatmulBatch, ManyEqualsOneAtATime) {
  const TensorType t = GetParam();
  std::mt19937 rng(91 + static_cast<int>(t));
  const int64_t n_cols = 256;  // a multiple of every block size
  const int64_t x_stride = n_cols + 3;
  Problem a = random_problem(t, 70, n_cols, rng, /*pad=*/8);
  Problem b = random_problem(TensorType::Q6_K, 33, n_cols, rng);
  Problem c = random_problem(TensorType::F16, 40, n_cols, rng, /*pad=*/2);
  ThreadPool one(1), two(2);
  for (const int64_t n_tokens : {int64_t{1}, int64_t{8}}) {
    std::vector<float> x(static_cast<size_t>(n_tokens * x_stride));
    for (float& v : x) v = std::normal_distribution<float>(0, 1)(rng);
    for (ThreadPool* pool : {&one, &two}) {
      std::vector<float> ya(n_tokens * 75, -1.0f), yb(n_tokens * 33, -1.0f), yc(n_tokens * 41, -1.0f);
      const MatmulTarget targets[] = {{&a.view, ya.data(), 75}, {&b.view, yb.data(), 33}, {&c.view, yc.data(), 41}};
      matmul_many(targets, x.data(), n_tokens, x_stride, *pool);
      for (const MatmulTarget& target : targets) {
        std::vector<float> want(static_cast<size_t>(n_tokens * target.y_stride), -1.0f);
        matmul(*target.w, x.data(), n_tokens, x_stride, want.data(), target.y_stride, *pool);
        for (size_t i = 0; i < want.size(); ++i)
          ASSERT_TRUE(same_bits(target.y[i], want[i]))
              << tensor_type_name(target.w->type) << " output " << i << " of " << n_tokens << " tokens: "
              << target.y[i] << " vs " << want[i];
      }
    }
  }
  // Matrices of different widths cannot share x.
  Problem narrow = random_problem(TensorType::F32, 4, 128, rng);
  std::vector<float> x(256), y(70), z(4);
  const MatmulTarget mixed[] = {{&a.view, y.data(), 70}, {&narrow.view, z.data(), 4}};
  EXPECT_THROW(matmul_many(mixed, x.data(), 1, 256, one), Exception);
}

TEST(MatmulErrors, BadShapesThrowWithAMessage) {
  std::mt19937 rng(5);
  Problem p = random_problem(TensorType::Q4_0, 4, 64, rng);
  std::vector<float> x(2 * 64), y(2 * 4);
  ThreadPool pool(1);
  auto expect_error = [&](WeightView w, int64_t n_tokens, int64_t x_stride, int64_t y_stride,
                          const char* needle) {
    try {
      matmul(w, x.data(), n_tokens, x_stride, y.data(), y_stride, pool);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Exception& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  WeightView bad = p.view;
  bad.n_cols = 48;  // not a multiple of 32
  expect_error(bad, 1, 64, 4, "block size");
  bad = p.view;
  bad.type = TensorType::IQ4_XS;
  expect_error(bad, 1, 64, 4, "not supported");
  bad = p.view;
  bad.row_stride = 10;
  expect_error(bad, 1, 64, 4, "row stride");
  bad = p.view;
  bad.row_stride = p.view.row_stride + 1;
  expect_error(bad, 1, 64, 4, "aligned");
  bad = p.view;
  bad.data = nullptr;
  expect_error(bad, 1, 64, 4, "null");
  expect_error(p.view, 1, 32, 4, "x stride");
  expect_error(p.view, 1, 64, 3, "y stride");
  expect_error(p.view, -1, 64, 4, "negative");
  // Zero tokens is a valid no-op.
  EXPECT_NO_THROW(matmul(p.view, x.data(), 0, 64, y.data(), 4, pool));
}

}  // namespace
}  // namespace pagoda::kernels
