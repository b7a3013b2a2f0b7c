#pragma once
// Sampler: one per request. Turns a logits row into the next token id.
//
// Order of operations (llama.cpp's default chain, "penalties;top_k;typ_p;top_p;min_p;temperature",
// preceded by its logit-bias stage):
//   1. logit_bias            (adds; -inf bans)
//   2. penalties             (repetition, then frequency / presence, over the history window)
//   3. min_tokens            (EOG ids and stop_token_ids banned while fewer tokens are generated)
//   4. temperature == 0  →   greedy argmax, ties → lowest id; no randomness consumed
//      otherwise         →   top-k → typical-p → top-p → min-p → temperature → softmax → draw
// Each Sampler owns its std::mt19937_64, so a request's tokens depend only on its own seed and
// logits, never on what else is in the batch.
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "base/expected.h"
#include "sampling/filters.h"
#include "sampling/sampling_params.h"

namespace pagoda::sampling {

class Sampler {
 public:
  // Validates params against n_vocab and builds a sampler; eog_ids are the vocabulary's
  // end-of-generation ids (EOS, EOT, ...), suppressed until min_tokens tokens are generated.
  static Expected<Sampler> create(SamplingParams params, std::vector<TokenId> eog_ids, int32_t n_vocab);

  // Picks the next token from logits [n_vocab] given history = prompt + generated ids, of which
  // the last n_generated were generated. Does not modify logits. Fails only when every token
  // is banned (by logit_bias / min_tokens) or the row holds no number. Not thread-safe; cost
  // O(n_vocab) plus the filters' sorting of the surviving candidates.
  Expected<TokenId> sample(std::span<const float> logits, std::span<const TokenId> history, int32_t n_generated);

  // The seed in use (the given one, or the one drawn from std::random_device).
  uint64_t seed() const { return seed_; }

  const SamplingParams& params() const { return params_; }

 private:
  Sampler(SamplingParams params, std::vector<TokenId> eog_ids, uint64_t seed);

  SamplingParams params_;
  std::vector<TokenId> suppressed_before_min_tokens_;  // eog ids + stop_token_ids
  uint64_t seed_;
  std::mt19937_64 rng_;
  std::vector<float> adjusted_;  // [n_vocab] working copy of the row, reused across calls
};

}  // namespace pagoda::sampling
