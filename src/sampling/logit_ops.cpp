#include "sampling/logit_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pagoda::sampling {

int32_t argmax(std::span<const float> logits) {
  int32_t best = -1;
  float best_logit = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < logits.size(); ++i) {
    // Strict '>' keeps the lowest id on ties; NaN compares false and is never chosen.
    if (logits[i] > best_logit) {
      best_logit = logits[i];
      best = static_cast<int32_t>(i);
    }
  }
  return best;
}

double log_sum_exp(std::span<const float> logits) {
  const int32_t best = argmax(logits);
  if (best < 0) return -std::numeric_limits<double>::infinity();
  const double max_logit = logits[best];
  double sum = 0.0;
  for (float x : logits)
    if (x > -std::numeric_limits<float>::infinity()) sum += std::exp(static_cast<double>(x) - max_logit);
  return max_logit + std::log(sum);
}

void log_softmax(std::span<const float> logits, std::span<float> out) {
  const double lse = log_sum_exp(logits);
  for (size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<float>(static_cast<double>(logits[i]) - lse);
}

void softmax(std::span<const float> logits, std::span<float> out) {
  const double lse = log_sum_exp(logits);
  for (size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<float>(std::exp(static_cast<double>(logits[i]) - lse));
}

std::vector<TokenLogit> top_n(std::span<const float> logits, int32_t n) {
  std::vector<TokenLogit> all;
  all.reserve(logits.size());
  for (size_t i = 0; i < logits.size(); ++i)
    if (!std::isnan(logits[i])) all.push_back({static_cast<int32_t>(i), logits[i]});
  const size_t keep = std::min(all.size(), static_cast<size_t>(std::max(n, 0)));
  if (keep < all.size()) {
    std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(), ranks_before);
    all.resize(keep);
  }
  std::sort(all.begin(), all.end(), ranks_before);
  return all;
}

}  // namespace pagoda::sampling
