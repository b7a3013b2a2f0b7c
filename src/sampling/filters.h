#pragma once
// The individual sampling stages, as free functions so each can be tested on hand-made
// distributions. Sampler chains them; see sampler.h for the order.
//
// Stages that edit a full logits row work in place on [n_vocab] floats. Stages that narrow the
// choice work on a Candidates list; every filter keeps at least one token.
#include <cstdint>
#include <map>
#include <random>
#include <span>
#include <vector>

#include "sampling/logit_ops.h"
#include "sampling/sampling_params.h"

namespace pagoda::sampling {

// The tokens still in the running, with their current logits.
struct Candidates {
  std::vector<TokenLogit> items;
  // True when items are in ranks_before order (logit desc, id asc).
  bool sorted = false;
};

// Adds bias[id] to logits[id] for every id in range; -inf bans the token. O(|bias|).
void apply_logit_bias(std::span<float> logits, const std::map<TokenId, float>& bias);

// Applies the repetition / presence / frequency penalties of params to every token occurring in
// the last params.penalty_last_n ids of history (all of it for -1, none for 0). Ids outside the
// row are ignored. O(w log w) for a window of w ids.
void apply_penalties(std::span<float> logits, std::span<const TokenId> history, const SamplingParams& params);

// Sets logits[id] = -inf for every listed id in range (min_tokens suppression of EOG ids).
void ban_tokens(std::span<float> logits, std::span<const TokenId> ids);

// Every token whose logit is a number above -inf, in id order (unsorted).
Candidates make_candidates(std::span<const float> logits);

// Keeps the k best candidates and leaves them sorted; k <= 0 or k >= size keeps all.
// O(n + k log k) via nth_element.
void filter_top_k(Candidates& c, int32_t k);

// Locally typical filter: keeps the candidates whose surprisal is closest to the entropy until
// their probabilities sum past p (llama.cpp's rule: cumulative > p). p >= 1 keeps all.
void filter_typical(Candidates& c, float p);

// Nucleus filter: keeps the most likely candidates until their probabilities reach p
// (cumulative >= p). Sorts only as much of the list as needed (progressive partial sort).
void filter_top_p(Candidates& c, float p);

// Keeps candidates with probability >= p × the largest probability, i.e.
// logit >= max_logit + log(p). Preserves the list order. p <= 0 keeps all.
void filter_min_p(Candidates& c, float p);

// Divides every candidate logit by t (> 0).
void apply_temperature(Candidates& c, float t);

// Draws one candidate with probability softmax(logit), using 53 random bits of rng so the
// result depends only on the generator state (not on the standard library's distributions).
// The candidate list must be non-empty.
TokenId draw(const Candidates& c, std::mt19937_64& rng);

}  // namespace pagoda::sampling
