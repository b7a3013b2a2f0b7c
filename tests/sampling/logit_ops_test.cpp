#include "sampling/logit_ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace pagoda::sampling {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(LogitOps, ArgmaxPicksLargestAndLowestIdOnTies) {
  const std::vector<float> row = {0.5f, 2.0f, -1.0f, 2.0f, 1.9f};
  EXPECT_EQ(argmax(row), 1);
  const std::vector<float> with_nan = {NAN, -kInf, 0.25f, NAN};
  EXPECT_EQ(argmax(with_nan), 2);
  const std::vector<float> banned = {-kInf, -kInf};
  EXPECT_EQ(argmax(banned), -1);
  EXPECT_EQ(argmax(std::span<const float>()), -1);
}

TEST(LogitOps, SoftmaxAndLogSoftmaxAgreeWithHandComputedValues) {
  const std::vector<float> row = {1.0f, 2.0f, 3.0f, -kInf};
  std::vector<float> probs(row.size()), logp(row.size());
  softmax(row, probs);
  log_softmax(row, logp);
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(probs[0], std::exp(1.0) / z, 1e-6);
  EXPECT_NEAR(probs[1], std::exp(2.0) / z, 1e-6);
  EXPECT_NEAR(probs[2], std::exp(3.0) / z, 1e-6);
  EXPECT_EQ(probs[3], 0.0f);
  EXPECT_NEAR(logp[2], 3.0 - std::log(z), 1e-6);
  EXPECT_EQ(logp[3], -kInf);
  EXPECT_NEAR(log_sum_exp(row), std::log(z), 1e-9);
}

TEST(LogitOps, SoftmaxIsStableForHugeLogits) {
  std::vector<float> row = {1000.0f, 1000.0f};
  softmax(row, row);  // in place
  EXPECT_FLOAT_EQ(row[0], 0.5f);
  EXPECT_FLOAT_EQ(row[1], 0.5f);
}

TEST(LogitOps, TopNSortsByLogitThenId) {
  const std::vector<float> row = {0.1f, 3.0f, 3.0f, NAN, 2.0f, -kInf, 5.0f};
  const auto top = top_n(row, 4);
  ASSERT_EQ(top.size(), 4u);
  EXPECT_EQ(top[0].id, 6);
  EXPECT_EQ(top[1].id, 1);
  EXPECT_EQ(top[2].id, 2);
  EXPECT_EQ(top[3].id, 4);
  EXPECT_FLOAT_EQ(top[3].logit, 2.0f);
  // Asking for more than exists returns every non-NaN entry, still sorted.
  const auto all = top_n(row, 100);
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all.back().id, 5);
  EXPECT_TRUE(top_n(row, 0).empty());
}

TEST(LogitOps, TopNOnLargeVocabularyMatchesFullSort) {
  std::vector<float> row(150000);
  for (size_t i = 0; i < row.size(); ++i) row[i] = static_cast<float>((i * 7919) % 1000) * 0.01f;
  const auto top = top_n(row, 5);
  ASSERT_EQ(top.size(), 5u);
  // 9.99 is the largest value; ids hitting it ascend.
  for (const auto& t : top) EXPECT_FLOAT_EQ(t.logit, 9.99f);
  for (size_t i = 1; i < top.size(); ++i) EXPECT_LT(top[i - 1].id, top[i].id);
  EXPECT_EQ((static_cast<size_t>(top[0].id) * 7919) % 1000, 999u);
}

}  // namespace
}  // namespace pagoda::sampling
