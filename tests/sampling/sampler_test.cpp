#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace pagoda::sampling {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

Sampler make_sampler(const SamplingParams& params, int32_t n_vocab, std::vector<TokenId> eog = {}) {
  auto s = Sampler::create(params, std::move(eog), n_vocab);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return std::move(s).value();
}

SamplingParams random_params(uint64_t seed, float temperature = 1.0f) {
  SamplingParams p = greedy_params();
  p.temperature = temperature;
  p.seed = seed;
  return p;
}

// Pearson's chi-square statistic of observed counts against expected probabilities.
double chi_square(const std::vector<int>& observed, const std::vector<double>& probs, int n_draws) {
  double chi2 = 0.0;
  for (size_t i = 0; i < observed.size(); ++i) {
    const double expected = probs[i] * n_draws;
    chi2 += (observed[i] - expected) * (observed[i] - expected) / expected;
  }
  return chi2;
}

TEST(Sampler, GreedyPicksArgmaxAndLowestIdOnTies) {
  Sampler s = make_sampler(greedy_params(), 5);
  EXPECT_EQ(*s.sample(std::vector<float>{0.1f, 0.9f, 0.3f, 0.2f, 0.0f}, {}, 0), 1);
  EXPECT_EQ(*s.sample(std::vector<float>{0.1f, 0.9f, 0.3f, 0.9f, 0.9f}, {}, 0), 1);
  EXPECT_EQ(*s.sample(std::vector<float>{-kInf, -3.0f, -3.0f, -kInf, -5.0f}, {}, 0), 1);
}

TEST(Sampler, GreedyHonoursLogitBiasBan) {
  SamplingParams p = greedy_params();
  p.logit_bias = {{1, -kInf}, {4, 0.75f}};
  Sampler s = make_sampler(p, 5);
  // id 1 is banned; id 4 (0.2 + 0.75 = 0.95) overtakes id 2 (0.9).
  EXPECT_EQ(*s.sample(std::vector<float>{0.1f, 5.0f, 0.9f, 0.3f, 0.2f}, {}, 0), 4);
}

TEST(Sampler, GreedyHonoursRepetitionPenalty) {
  SamplingParams p = greedy_params();
  p.repetition_penalty = 1.5f;
  p.penalty_last_n = 64;
  Sampler s = make_sampler(p, 3);
  const std::vector<float> row = {2.0f, 1.5f, 0.0f};
  EXPECT_EQ(*s.sample(row, std::vector<TokenId>{2}, 0), 0);
  EXPECT_EQ(*s.sample(row, std::vector<TokenId>{0, 2}, 1), 1);  // 2.0 / 1.5 < 1.5
}

TEST(Sampler, MinTokensSuppressesEndOfGeneration) {
  SamplingParams p = greedy_params();
  p.min_tokens = 2;
  p.stop_token_ids = {3};
  Sampler s = make_sampler(p, 4, /*eog=*/{0});
  const std::vector<float> row = {9.0f, 1.0f, 2.0f, 8.0f};  // EOG 0 best, stop id 3 next
  EXPECT_EQ(*s.sample(row, {}, 0), 2);
  EXPECT_EQ(*s.sample(row, {}, 1), 2);
  EXPECT_EQ(*s.sample(row, {}, 2), 0);
}

TEST(Sampler, EverythingBannedIsAnError) {
  SamplingParams greedy = greedy_params();
  greedy.logit_bias = {{0, -kInf}};
  Sampler g = make_sampler(greedy, 2);
  const std::vector<float> row = {1.0f, -kInf};
  EXPECT_FALSE(g.sample(row, {}, 0).ok());

  SamplingParams random = random_params(1);
  random.logit_bias = {{0, -kInf}};
  Sampler r = make_sampler(random, 2);
  auto result = r.sample(row, {}, 0);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("banned"), std::string::npos);
  EXPECT_FALSE(r.sample(std::vector<float>{NAN, NAN}, {}, 0).ok());
}

TEST(Sampler, CreateRejectsInvalidParams) {
  SamplingParams p = random_params(1);
  p.top_p = 0.0f;
  auto s = Sampler::create(p, {}, 10);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("top_p"), std::string::npos);
  p = random_params(1);
  p.logit_bias = {{10, 1.0f}};
  EXPECT_FALSE(Sampler::create(p, {}, 10).ok());
  EXPECT_FALSE(Sampler::create(random_params(1), {}, 0).ok());
}

std::vector<TokenId> draw_sequence(uint64_t seed, int n) {
  SamplingParams p = random_params(seed);
  p.top_k = 50;
  p.top_p = 0.9f;
  p.min_p = 0.01f;
  Sampler s = make_sampler(p, 100);
  std::vector<float> row(100);
  for (int i = 0; i < 100; ++i) row[i] = std::sin(static_cast<float>(i)) * 2.0f;
  std::vector<TokenId> out;
  for (int i = 0; i < n; ++i) out.push_back(*s.sample(row, out, static_cast<int32_t>(out.size())));
  return out;
}

TEST(Sampler, SameSeedSameSequenceDifferentSeedsDiffer) {
  const auto a = draw_sequence(42, 64);
  EXPECT_EQ(a, draw_sequence(42, 64));
  EXPECT_NE(a, draw_sequence(43, 64));
  SamplingParams p = random_params(42);
  EXPECT_EQ(make_sampler(p, 4).seed(), 42u);
}

TEST(Sampler, RequestsAreIndependentOfEachOther) {
  // Interleaving two samplers (as a batch would) changes neither's tokens.
  const auto alone = draw_sequence(5, 32);
  SamplingParams p = random_params(5);
  p.top_k = 50;
  p.top_p = 0.9f;
  p.min_p = 0.01f;
  Sampler a = make_sampler(p, 100);
  SamplingParams q = random_params(99);
  Sampler b = make_sampler(q, 100);
  std::vector<float> row(100);
  for (int i = 0; i < 100; ++i) row[i] = std::sin(static_cast<float>(i)) * 2.0f;
  std::vector<TokenId> out, other;
  for (int i = 0; i < 32; ++i) {
    other.push_back(*b.sample(row, other, i));
    out.push_back(*a.sample(row, out, i));
  }
  EXPECT_EQ(out, alone);
}

TEST(Sampler, TemperatureSamplingMatchesSoftmax) {
  const std::vector<float> row = {1.0f, 0.5f, 0.0f, -0.5f, 2.0f, 1.5f, -1.0f, 0.25f};
  const float temperature = 0.7f;
  std::vector<double> probs(row.size());
  double z = 0.0;
  for (size_t i = 0; i < row.size(); ++i) z += probs[i] = std::exp(row[i] / temperature);
  for (double& x : probs) x /= z;

  Sampler s = make_sampler(random_params(1234, temperature), static_cast<int32_t>(row.size()));
  const int n_draws = 20000;
  std::vector<int> counts(row.size(), 0);
  for (int i = 0; i < n_draws; ++i) ++counts[*s.sample(row, {}, 0)];
  // 7 degrees of freedom: P(chi2 > 24.32) = 0.001. The seed is fixed, so this cannot flake.
  EXPECT_LT(chi_square(counts, probs, n_draws), 24.32);
  // The statistic must also detect a wrong distribution (here: temperature ignored).
  std::vector<double> wrong(row.size());
  double zw = 0.0;
  for (size_t i = 0; i < row.size(); ++i) zw += wrong[i] = std::exp(row[i]);
  for (double& x : wrong) x /= zw;
  EXPECT_GT(chi_square(counts, wrong, n_draws), 100.0);
}

TEST(Sampler, TopKSamplingRenormalizesOverTheKept) {
  const std::vector<float> row = {0.0f, 1.0f, 0.5f, 2.0f, -1.0f, 1.8f};
  SamplingParams p = random_params(77);
  p.top_k = 3;  // keeps ids 3, 5, 1
  Sampler s = make_sampler(p, static_cast<int32_t>(row.size()));
  const int n_draws = 20000;
  std::vector<int> counts(row.size(), 0);
  for (int i = 0; i < n_draws; ++i) ++counts[*s.sample(row, {}, 0)];
  EXPECT_EQ(counts[0] + counts[2] + counts[4], 0);
  const double z = std::exp(2.0) + std::exp(1.8) + std::exp(1.0);
  const std::vector<int> kept = {counts[3], counts[5], counts[1]};
  const std::vector<double> probs = {std::exp(2.0) / z, std::exp(1.8) / z, std::exp(1.0) / z};
  // 2 degrees of freedom: P(chi2 > 13.82) = 0.001.
  EXPECT_LT(chi_square(kept, probs, n_draws), 13.82);
}

TEST(Sampler, LargeVocabularyTopKStaysWithinTheBest) {
  const int32_t n_vocab = 150000;
  std::vector<float> row(n_vocab);
  for (int32_t i = 0; i < n_vocab; ++i) row[i] = static_cast<float>((int64_t{i} * 104729) % n_vocab) / 10000.0f;
  SamplingParams p = random_params(3);
  p.top_k = 40;
  p.top_p = 0.95f;
  Sampler s = make_sampler(p, n_vocab);
  const float fortieth_best = static_cast<float>(n_vocab - 40) / 10000.0f;
  for (int i = 0; i < 20; ++i) {
    const TokenId id = *s.sample(row, {}, 0);
    ASSERT_GE(row[id], fortieth_best);
  }
}

}  // namespace
}  // namespace pagoda::sampling
