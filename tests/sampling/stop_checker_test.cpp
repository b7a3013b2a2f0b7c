#include "sampling/stop_checker.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace pagoda::sampling {
namespace {

constexpr TokenId kEos = 2;
constexpr TokenId kText = 100;  // any ordinary token

SamplingParams params_with(std::vector<std::string> stop, int32_t max_tokens = 100) {
  SamplingParams p;
  p.stop = std::move(stop);
  p.max_tokens = max_tokens;
  return p;
}

// Feeds pieces as ordinary tokens; returns what was emitted after each piece.
std::vector<std::string> feed(StopChecker& checker, const std::vector<std::string>& pieces) {
  std::vector<std::string> emitted;
  for (const auto& piece : pieces) emitted.push_back(checker.on_token(kText, piece));
  return emitted;
}

std::string concat(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += p;
  return out;
}

TEST(StopChecker, StopStringAcrossPieceBoundaries) {
  StopChecker checker(params_with({"###"}), {kEos});
  const auto emitted = feed(checker, {"Hel", "lo ##", "#END"});
  EXPECT_EQ(emitted[0], "Hel");
  EXPECT_EQ(emitted[1], "lo ");  // "##" could start "###": held back
  EXPECT_EQ(emitted[2], "");     // "###" completed: neither it nor "END" is emitted
  EXPECT_TRUE(checker.finished());
  EXPECT_EQ(checker.reason(), FinishReason::stop);
  EXPECT_STREQ(to_string(checker.reason()), "stop");
  ASSERT_TRUE(checker.matched_stop_string().has_value());
  EXPECT_EQ(*checker.matched_stop_string(), "###");
  EXPECT_EQ(checker.on_token(kText, "more"), "");  // finished: ignored
}

TEST(StopChecker, HeldTextIsReleasedWhenTheStopDoesNotComplete) {
  StopChecker checker(params_with({"###"}), {kEos});
  const auto emitted = feed(checker, {"a #", "#", "b"});
  EXPECT_EQ(emitted[0], "a ");
  EXPECT_EQ(emitted[1], "");
  EXPECT_EQ(emitted[2], "##b");
  EXPECT_FALSE(checker.finished());
}

TEST(StopChecker, EarliestOfSeveralStopStringsWins) {
  StopChecker checker(params_with({"world", "lo w", "xyz"}), {kEos});
  const auto emitted = feed(checker, {"hel", "lo wor", "ld"});
  EXPECT_EQ(concat(emitted), "hel");
  EXPECT_EQ(*checker.matched_stop_string(), "lo w");
}

TEST(StopChecker, StopStringAtTheStart) {
  StopChecker checker(params_with({"User:"}), {kEos});
  EXPECT_EQ(checker.on_token(kText, "User:"), "");
  EXPECT_TRUE(checker.finished());
  EXPECT_EQ(checker.reason(), FinishReason::stop);
}

TEST(StopChecker, StopStringInsideOnePieceCutsTheRest) {
  StopChecker checker(params_with({"\n\n"}), {kEos});
  EXPECT_EQ(checker.on_token(kText, "line one\n\nline two"), "line one");
  EXPECT_TRUE(checker.finished());
}

TEST(StopChecker, LengthFlushesHeldBackText) {
  StopChecker checker(params_with({"###"}, /*max_tokens=*/2), {kEos});
  EXPECT_EQ(checker.on_token(kText, "ab"), "ab");
  EXPECT_FALSE(checker.finished());
  // The last token ends in "#", a possible stop start, but there will be no more tokens.
  EXPECT_EQ(checker.on_token(kText, "c#"), "c#");
  EXPECT_TRUE(checker.finished());
  EXPECT_EQ(checker.reason(), FinishReason::length);
  EXPECT_STREQ(to_string(checker.reason()), "length");
  EXPECT_FALSE(checker.matched_stop_string().has_value());
}

TEST(StopChecker, StopStringCompletingOnTheLastAllowedTokenIsAStop) {
  StopChecker checker(params_with({"##"}, /*max_tokens=*/2), {kEos});
  EXPECT_EQ(checker.on_token(kText, "x#"), "x");
  EXPECT_EQ(checker.on_token(kText, "#y"), "");
  EXPECT_EQ(checker.reason(), FinishReason::stop);
}

TEST(StopChecker, FinishReleasesHeldTextForOutsideEnds) {
  StopChecker checker(params_with({"<|end|>"}), {kEos});
  EXPECT_EQ(checker.on_token(kText, "answer <|e"), "answer ");
  EXPECT_EQ(checker.finish(), "<|e");
  EXPECT_EQ(checker.reason(), FinishReason::length);
}

TEST(StopChecker, EndOfGenerationTokenStopsAndIsNotEmitted) {
  StopChecker checker(params_with({"###"}), {kEos, 7});
  EXPECT_EQ(checker.on_token(kText, "done #"), "done ");
  EXPECT_EQ(checker.on_token(7, "<|eot|>"), "#");  // held text flushed, the EOT piece is not
  EXPECT_EQ(checker.reason(), FinishReason::stop);
  ASSERT_TRUE(checker.matched_stop_token().has_value());
  EXPECT_EQ(*checker.matched_stop_token(), 7);
  EXPECT_EQ(checker.n_generated(), 2);
}

TEST(StopChecker, IgnoreEosKeepsGoingButExtraStopIdsStillStop) {
  SamplingParams p = params_with({}, 10);
  p.ignore_eos = true;
  p.stop_token_ids = {9};
  StopChecker checker(p, {kEos});
  EXPECT_EQ(checker.on_token(kEos, ""), "");
  EXPECT_FALSE(checker.finished());
  EXPECT_EQ(checker.on_token(kText, "x"), "x");
  EXPECT_EQ(checker.on_token(9, ""), "");
  EXPECT_TRUE(checker.finished());
  EXPECT_EQ(*checker.matched_stop_token(), 9);
}

TEST(StopChecker, MaxTokensWithoutStopStrings) {
  StopChecker checker(params_with({}, 3), {kEos});
  EXPECT_EQ(concat(feed(checker, {"a", "b", "c"})), "abc");
  EXPECT_EQ(checker.reason(), FinishReason::length);
}

TEST(StopChecker, Utf8SequencesAreNeverSplit) {
  StopChecker checker(params_with({}), {kEos});
  // "é" = C3 A9 and "🌍" = F0 9F 8C 8D arriving byte-split across tokens.
  EXPECT_EQ(checker.on_token(kText, "caf\xC3"), "caf");
  EXPECT_EQ(checker.on_token(kText, "\xA9 \xF0\x9F"), "\xC3\xA9 ");
  EXPECT_EQ(checker.on_token(kText, "\x8C"), "");
  EXPECT_EQ(checker.on_token(kText, "\x8D!"), "\xF0\x9F\x8C\x8D!");
}

TEST(StopChecker, MultiByteStopStringAcrossPieces) {
  StopChecker checker(params_with({"→END"}), {kEos});
  EXPECT_EQ(checker.on_token(kText, "go \xE2\x86"), "go ");
  EXPECT_EQ(checker.on_token(kText, "\x92"), "");
  EXPECT_EQ(checker.on_token(kText, "EN"), "");
  EXPECT_EQ(checker.on_token(kText, "D tail"), "");
  EXPECT_EQ(checker.reason(), FinishReason::stop);
}

}  // namespace
}  // namespace pagoda::sampling
