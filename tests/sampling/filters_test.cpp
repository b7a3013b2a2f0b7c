#include "sampling/filters.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace pagoda::sampling {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Logits whose softmax is exactly probs (up to rounding).
std::vector<float> logits_for(const std::vector<double>& probs) {
  std::vector<float> out;
  for (double p : probs) out.push_back(static_cast<float>(std::log(p)));
  return out;
}

std::vector<TokenId> ids_of(const Candidates& c) {
  std::vector<TokenId> ids;
  for (const auto& t : c.items) ids.push_back(t.id);
  return ids;
}

std::vector<TokenId> sorted_ids_of(const Candidates& c) {
  auto ids = ids_of(c);
  std::sort(ids.begin(), ids.end());
  return ids;
}

TEST(Filters, MakeCandidatesSkipsBannedAndNaN) {
  const std::vector<float> row = {1.0f, -kInf, NAN, 0.0f};
  const Candidates c = make_candidates(row);
  EXPECT_EQ(ids_of(c), (std::vector<TokenId>{0, 3}));
  EXPECT_FALSE(c.sorted);
}

TEST(Filters, TopKKeepsBestKSortedWithIdTieBreak) {
  Candidates c = make_candidates(std::vector<float>{0.5f, 2.0f, 1.0f, 2.0f, 3.0f, -1.0f});
  filter_top_k(c, 3);
  EXPECT_EQ(ids_of(c), (std::vector<TokenId>{4, 1, 3}));
  EXPECT_TRUE(c.sorted);
  filter_top_k(c, 0);  // disabled
  EXPECT_EQ(c.items.size(), 3u);
  filter_top_k(c, 10);  // larger than the list
  EXPECT_EQ(c.items.size(), 3u);
  filter_top_k(c, 1);
  EXPECT_EQ(ids_of(c), (std::vector<TokenId>{4}));
}

TEST(Filters, TopPKeepsSmallestNucleus) {
  // probabilities 0.5, 0.25, 0.15, 0.1 (shuffled ids)
  const auto row = logits_for({0.15, 0.5, 0.1, 0.25});
  {
    Candidates c = make_candidates(row);
    filter_top_p(c, 0.7f);  // 0.5 + 0.25 = 0.75 >= 0.7
    EXPECT_EQ(ids_of(c), (std::vector<TokenId>{1, 3}));
    EXPECT_TRUE(c.sorted);
  }
  {
    Candidates c = make_candidates(row);
    filter_top_p(c, 0.45f);  // the top token alone (0.5) reaches 0.45
    EXPECT_EQ(ids_of(c), (std::vector<TokenId>{1}));
  }
  {
    Candidates c = make_candidates(row);
    filter_top_p(c, 0.8f);  // 0.75 < 0.8 → three tokens
    EXPECT_EQ(ids_of(c), (std::vector<TokenId>{1, 3, 0}));
  }
  {
    Candidates c = make_candidates(row);
    filter_top_p(c, 1.0f);  // disabled: untouched, still unsorted
    EXPECT_EQ(c.items.size(), 4u);
    EXPECT_FALSE(c.sorted);
  }
}

TEST(Filters, TopPWidensPartialSortOnFlatLargeVocabulary) {
  // 2000 equal logits: the nucleus for p = 0.9 is 1800 tokens, more than one sort chunk.
  std::vector<float> row(2000, 0.0f);
  Candidates c = make_candidates(row);
  filter_top_p(c, 0.9f);
  ASSERT_EQ(c.items.size(), 1800u);
  for (size_t i = 0; i < c.items.size(); ++i) ASSERT_EQ(c.items[i].id, static_cast<TokenId>(i));
}

TEST(Filters, MinPKeepsTokensAboveFractionOfBest) {
  // probabilities 0.4, 0.3, 0.2, 0.1; min_p 0.5 → threshold 0.2 keeps 0.4, 0.3, 0.2
  const auto row = logits_for({0.1, 0.4, 0.2, 0.3});
  Candidates c = make_candidates(row);
  filter_min_p(c, 0.49f);
  EXPECT_EQ(sorted_ids_of(c), (std::vector<TokenId>{1, 2, 3}));
  filter_min_p(c, 0.6f);  // 0.3 / 0.4 = 0.75 stays, 0.5 goes
  EXPECT_EQ(sorted_ids_of(c), (std::vector<TokenId>{1, 3}));
  filter_min_p(c, 1.0f);
  EXPECT_EQ(sorted_ids_of(c), (std::vector<TokenId>{1}));
}

TEST(Filters, TypicalKeepsTokensNearEntropy) {
  // probabilities 0.5, 0.2, 0.2, 0.1: entropy H ≈ 1.2206 nats; surprisals 0.693, 1.609, 1.609,
  // 2.303 → distances 0.528, 0.389, 0.389, 1.082. Order: id1, id2 (0.2 each), id0 (0.5), id3.
  const auto row = logits_for({0.5, 0.2, 0.2, 0.1});
  {
    Candidates c = make_candidates(row);
    filter_typical(c, 0.3f);  // 0.2 + 0.2 = 0.4 > 0.3
    EXPECT_EQ(sorted_ids_of(c), (std::vector<TokenId>{1, 2}));
  }
  {
    Candidates c = make_candidates(row);
    filter_typical(c, 0.5f);  // 0.4 is not > 0.5; adding 0.5 gives 0.9
    EXPECT_EQ(sorted_ids_of(c), (std::vector<TokenId>{0, 1, 2}));
  }
  {
    Candidates c = make_candidates(row);
    filter_typical(c, 0.1f);  // one token (0.2 > 0.1) is enough
    ASSERT_EQ(c.items.size(), 1u);
    EXPECT_EQ(c.items[0].id, 1);  // tie between ids 1 and 2 broken by the lower id
  }
}

TEST(Filters, TemperatureScalesLogits) {
  Candidates c = make_candidates(std::vector<float>{2.0f, -4.0f});
  apply_temperature(c, 0.5f);
  EXPECT_FLOAT_EQ(c.items[0].logit, 4.0f);
  EXPECT_FLOAT_EQ(c.items[1].logit, -8.0f);
}

TEST(Filters, LogitBiasAddsAndBans) {
  std::vector<float> row = {1.0f, 2.0f, 3.0f};
  apply_logit_bias(row, {{0, 0.5f}, {2, -kInf}, {7, 100.0f}, {-1, 1.0f}});  // out-of-range ids ignored
  EXPECT_FLOAT_EQ(row[0], 1.5f);
  EXPECT_FLOAT_EQ(row[1], 2.0f);
  EXPECT_EQ(row[2], -kInf);
}

TEST(Filters, RepetitionPenaltyDividesPositiveMultipliesNegative) {
  std::vector<float> row = {3.0f, -2.0f, 1.0f, 0.5f};
  SamplingParams p = greedy_params();
  p.repetition_penalty = 2.0f;
  p.penalty_last_n = -1;
  const std::vector<TokenId> history = {0, 1, 1, 99};  // 99 is outside the row: ignored
  apply_penalties(row, history, p);
  EXPECT_FLOAT_EQ(row[0], 1.5f);
  EXPECT_FLOAT_EQ(row[1], -4.0f);  // penalized once, however many times it occurs
  EXPECT_FLOAT_EQ(row[2], 1.0f);
  EXPECT_FLOAT_EQ(row[3], 0.5f);
}

TEST(Filters, PresenceAndFrequencyPenaltiesFollowOpenAI) {
  std::vector<float> row = {1.0f, 1.0f, 1.0f};
  SamplingParams p = greedy_params();
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  p.penalty_last_n = -1;
  const std::vector<TokenId> history = {0, 0, 0, 1};
  apply_penalties(row, history, p);
  EXPECT_FLOAT_EQ(row[0], 1.0f - 3 * 0.25f - 0.5f);
  EXPECT_FLOAT_EQ(row[1], 1.0f - 0.25f - 0.5f);
  EXPECT_FLOAT_EQ(row[2], 1.0f);
}

TEST(Filters, PenaltyWindowCoversOnlyTheLastIds) {
  std::vector<float> row = {1.0f, 1.0f, 1.0f};
  SamplingParams p = greedy_params();
  p.frequency_penalty = 1.0f;
  p.penalty_last_n = 2;
  apply_penalties(row, std::vector<TokenId>{0, 0, 1, 2}, p);
  EXPECT_FLOAT_EQ(row[0], 1.0f);  // outside the window
  EXPECT_FLOAT_EQ(row[1], 0.0f);
  EXPECT_FLOAT_EQ(row[2], 0.0f);
  p.penalty_last_n = 0;  // disabled
  apply_penalties(row, std::vector<TokenId>{0}, p);
  EXPECT_FLOAT_EQ(row[0], 1.0f);
}

TEST(Filters, BanTokensSetsMinusInfinity) {
  std::vector<float> row = {1.0f, 2.0f};
  ban_tokens(row, std::vector<TokenId>{1, 5, -3});
  EXPECT_FLOAT_EQ(row[0], 1.0f);
  EXPECT_EQ(row[1], -kInf);
}

TEST(Filters, DrawIsDeterministicForAGeneratorState) {
  const Candidates c = make_candidates(std::vector<float>{0.0f, 0.1f, 0.2f, 0.3f});
  std::mt19937_64 a(7), b(7);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(draw(c, a), draw(c, b));
  const Candidates single = make_candidates(std::vector<float>{-kInf, 3.0f});
  EXPECT_EQ(draw(single, a), 1);
}

}  // namespace
}  // namespace pagoda::sampling
