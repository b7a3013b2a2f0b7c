#pragma once
// What a request asks of the sampler and of the stop conditions: one plain struct,
// validated once at the edge (CLI / server) so the hot path can trust it.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/expected.h"

namespace pagoda::sampling {

using TokenId = int32_t;

struct SamplingParams {
  // Logits are divided by this before the softmax; 0 means greedy (argmax, ties → lowest id).
  float temperature = 0.8f;
  // Keep only the k highest logits; 0 (or >= n_vocab) disables.
  int32_t top_k = 40;
  // Keep the smallest set of most likely tokens whose probability sums to >= top_p; 1 disables.
  float top_p = 0.95f;
  // Keep tokens whose probability is >= min_p × the most likely token's; 0 disables.
  float min_p = 0.05f;
  // Locally typical sampling (Meister et al. 2022); 1 disables.
  float typical_p = 1.0f;

  // Repetition penalty over the last penalty_last_n history tokens: positive logits are
  // divided by it, negative ones multiplied (llama.cpp / CTRL semantics); 1 disables.
  float repetition_penalty = 1.0f;
  // Window for all three penalties: 0 disables them, -1 means the whole history.
  int32_t penalty_last_n = 64;
  // OpenAI semantics: logit -= presence_penalty once if the token occurs in the window, and
  // frequency_penalty × its count in the window.
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;

  // Added to the logit of each listed id before anything else; -inf bans the token.
  std::map<TokenId, float> logit_bias;

  // Same seed, same logits → same tokens. Unset: seeded from std::random_device.
  std::optional<uint64_t> seed;

  // Generation stops after this many new tokens (finish reason "length").
  int32_t max_tokens = 256;
  // End-of-generation ids are suppressed until this many tokens are generated.
  int32_t min_tokens = 0;
  // Do not stop at end-of-generation ids (they may still be sampled and are emitted as text).
  bool ignore_eos = false;
  // Extra ids that end generation like EOS does (not subject to ignore_eos).
  std::vector<TokenId> stop_token_ids;
  // Generation stops when the detokenized text contains one of these; it is not emitted.
  std::vector<std::string> stop;
};

// Returns an error naming the first out-of-range field (e.g. "top_p must be in (0, 1], got 1.5"),
// or success. Token ids in logit_bias / stop_token_ids are checked against n_vocab when it is > 0.
Expected<void> validate(const SamplingParams& params, int32_t n_vocab = 0);

// Parameters for plain greedy decoding: temperature 0, every filter and penalty off.
SamplingParams greedy_params();

}  // namespace pagoda::sampling
