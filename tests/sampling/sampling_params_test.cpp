#include "sampling/sampling_params.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

namespace pagoda::sampling {
namespace {

// Expects validate() to fail with a message naming `field` after `mutate` is applied.
void expect_rejected(const std::function<void(SamplingParams&)>& mutate, const std::string& field) {
  SamplingParams p;
  mutate(p);
  auto result = validate(p, 100);
  ASSERT_FALSE(result.ok()) << field;
  EXPECT_NE(result.error().message.find(field), std::string::npos) << result.error().message;
}

TEST(SamplingParams, DefaultsAndGreedyAreValid) {
  EXPECT_TRUE(validate(SamplingParams{}).ok());
  EXPECT_TRUE(validate(greedy_params(), 10).ok());
  EXPECT_EQ(greedy_params().temperature, 0.0f);
}

TEST(SamplingParams, RejectsOutOfRangeValues) {
  expect_rejected([](auto& p) { p.temperature = -0.1f; }, "temperature");
  expect_rejected([](auto& p) { p.temperature = NAN; }, "temperature");
  expect_rejected([](auto& p) { p.top_k = -2; }, "top_k");
  expect_rejected([](auto& p) { p.top_p = 0.0f; }, "top_p");
  expect_rejected([](auto& p) { p.top_p = 1.5f; }, "top_p");
  expect_rejected([](auto& p) { p.min_p = -0.1f; }, "min_p");
  expect_rejected([](auto& p) { p.min_p = 1.1f; }, "min_p");
  expect_rejected([](auto& p) { p.typical_p = 0.0f; }, "typical_p");
  expect_rejected([](auto& p) { p.repetition_penalty = 0.0f; }, "repetition_penalty");
  expect_rejected([](auto& p) { p.penalty_last_n = -2; }, "penalty_last_n");
  expect_rejected([](auto& p) { p.presence_penalty = 2.5f; }, "presence_penalty");
  expect_rejected([](auto& p) { p.frequency_penalty = -3.0f; }, "frequency_penalty");
  expect_rejected([](auto& p) { p.logit_bias = {{100, 1.0f}}; }, "logit_bias");
  expect_rejected([](auto& p) { p.logit_bias = {{-1, 1.0f}}; }, "logit_bias");
  expect_rejected([](auto& p) { p.logit_bias = {{3, INFINITY}}; }, "logit_bias");
  expect_rejected([](auto& p) { p.max_tokens = 0; }, "max_tokens");
  expect_rejected([](auto& p) { p.min_tokens = 1000; }, "min_tokens");
  expect_rejected([](auto& p) { p.stop_token_ids = {100}; }, "stop_token_ids");
  expect_rejected([](auto& p) { p.stop = {"ok", ""}; }, "stop strings");
}

TEST(SamplingParams, AcceptsBoundaryValues) {
  SamplingParams p;
  p.top_p = 1.0f;
  p.min_p = 1.0f;
  p.top_k = -1;
  p.penalty_last_n = -1;
  p.presence_penalty = -2.0f;
  p.frequency_penalty = 2.0f;
  p.logit_bias = {{0, -INFINITY}, {99, 5.0f}};
  p.min_tokens = p.max_tokens;
  EXPECT_TRUE(validate(p, 100).ok());
}

}  // namespace
}  // namespace pagoda::sampling
