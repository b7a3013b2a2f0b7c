#pragma once
// Small, allocation-light helpers over one logits row, shared by the sampler and by the
// `pagoda logits` / perplexity tools.
#include <cstdint>
#include <span>
#include <vector>

namespace pagoda::sampling {

// One candidate token: its id and its (possibly adjusted) logit.
struct TokenLogit {
  int32_t id;
  float logit;
};

// True when a ranks before b: higher logit first, then lower id (a total, deterministic order).
inline bool ranks_before(const TokenLogit& a, const TokenLogit& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

// Index of the largest logit, the lowest index on ties; -1 when the row is empty or holds only
// -inf / NaN. O(n).
int32_t argmax(std::span<const float> logits);

// log(sum(exp(logits))) computed stably (max-shifted, in double); -inf for an empty or all -inf row.
double log_sum_exp(std::span<const float> logits);

// Writes log-softmax of logits into out (same size; may alias logits). O(n).
void log_softmax(std::span<const float> logits, std::span<float> out);

// Writes softmax of logits into out (same size; may alias logits); -inf logits get 0. O(n).
void softmax(std::span<const float> logits, std::span<float> out);

// The n best tokens of the row, sorted by logit descending then id ascending. NaN logits are
// skipped. O(V + n log n) via nth_element, so cheap for a 150k vocabulary.
std::vector<TokenLogit> top_n(std::span<const float> logits, int32_t n);

}  // namespace pagoda::sampling
