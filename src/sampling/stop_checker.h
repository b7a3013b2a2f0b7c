#pragma once
// StopChecker: decides when a generation ends and which text may be shown so far.
//
// Text arrives as detokenized pieces, one per generated token. Stop strings may span pieces, so
// the checker holds back any tail that could still grow into a stop string and releases it once
// it cannot (or when generation ends otherwise). A completed stop string is never emitted, nor is
// anything after it. One per request; not thread-safe.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sampling/sampling_params.h"

namespace pagoda::sampling {

enum class FinishReason {
  none,    // still generating
  stop,    // an end-of-generation id, a stop token id or a stop string
  length,  // max_tokens reached
};

// "stop", "length", or "" for none (the OpenAI finish_reason strings).
const char* to_string(FinishReason reason);

class StopChecker {
 public:
  // Takes max_tokens, ignore_eos, stop_token_ids and stop from params (assumed validated);
  // eog_ids are the vocabulary's end-of-generation ids.
  StopChecker(const SamplingParams& params, std::vector<TokenId> eog_ids);

  // Records one generated token and its text piece; returns the text that is safe to emit now
  // (possibly empty). The piece of a token that ends generation (EOG / stop id) is not emitted.
  // Once finished(), returns "" and ignores further calls.
  std::string on_token(TokenId id, std::string_view piece);

  // Ends the generation for an outside reason (context full, cancelled): returns all held-back
  // text, and marks the checker finished (reason "length" unless already finished).
  std::string finish();

  bool finished() const { return reason_ != FinishReason::none; }
  FinishReason reason() const { return reason_; }
  int32_t n_generated() const { return n_generated_; }
  // The stop string that ended generation, if one did.
  const std::optional<std::string>& matched_stop_string() const { return matched_stop_string_; }
  // The token id (EOG or stop_token_ids) that ended generation, if one did.
  const std::optional<TokenId>& matched_stop_token() const { return matched_stop_token_; }

 private:
  bool is_stop_token(TokenId id) const;
  // Bytes at the end of pending_ that must wait: a possible stop-string start or an unfinished
  // UTF-8 sequence.
  size_t held_back_length() const;

  int32_t max_tokens_;
  std::vector<TokenId> stop_ids_;  // eog ids (unless ignore_eos) + stop_token_ids
  std::vector<std::string> stop_strings_;
  std::string pending_;  // text received but not yet emitted
  int32_t n_generated_ = 0;
  FinishReason reason_ = FinishReason::none;
  std::optional<std::string> matched_stop_string_;
  std::optional<TokenId> matched_stop_token_;
};

}  // namespace pagoda::sampling
