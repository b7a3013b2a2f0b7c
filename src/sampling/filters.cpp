#include "sampling/filters.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pagoda::sampling {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

bool in_row(TokenId id, std::span<float> logits) { return id >= 0 && static_cast<size_t>(id) < logits.size(); }

float max_logit(const Candidates& c) {
  if (c.sorted) return c.items.front().logit;
  float best = kNegInf;
  for (const auto& t : c.items) best = std::max(best, t.logit);
  return best;
}

// exp(logit - max) for each candidate, in list order; the caller divides by their sum.
std::vector<double> unnormalized_probs(const Candidates& c, double* total) {
  const double top = max_logit(c);
  std::vector<double> w(c.items.size());
  double sum = 0.0;
  for (size_t i = 0; i < w.size(); ++i) {
    w[i] = std::exp(static_cast<double>(c.items[i].logit) - top);
    sum += w[i];
  }
  *total = sum;
  return w;
}

}  // namespace

void apply_logit_bias(std::span<float> logits, const std::map<TokenId, float>& bias) {
  for (const auto& [id, b] : bias)
    if (in_row(id, logits)) logits[id] += b;
}

void apply_penalties(std::span<float> logits, std::span<const TokenId> history, const SamplingParams& p) {
  const bool neutral = p.repetition_penalty == 1.0f && p.presence_penalty == 0.0f && p.frequency_penalty == 0.0f;
  if (neutral || p.penalty_last_n == 0 || history.empty()) return;
  size_t window = history.size();
  if (p.penalty_last_n > 0) window = std::min(window, static_cast<size_t>(p.penalty_last_n));
  // Count each distinct id of the window: sort a copy, then walk runs of equal ids.
  std::vector<TokenId> ids(history.end() - static_cast<std::ptrdiff_t>(window), history.end());
  std::sort(ids.begin(), ids.end());
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j < ids.size() && ids[j] == ids[i]) ++j;
    const TokenId id = ids[i];
    const auto count = static_cast<float>(j - i);
    i = j;
    if (!in_row(id, logits)) continue;
    float& x = logits[id];
    x = x > 0.0f ? x / p.repetition_penalty : x * p.repetition_penalty;
    x -= count * p.frequency_penalty + p.presence_penalty;
  }
}

void ban_tokens(std::span<float> logits, std::span<const TokenId> ids) {
  for (TokenId id : ids)
    if (in_row(id, logits)) logits[id] = kNegInf;
}

Candidates make_candidates(std::span<const float> logits) {
  Candidates c;
  c.items.reserve(logits.size());
  for (size_t i = 0; i < logits.size(); ++i)
    // '>' is false for NaN and for -inf: neither can be drawn.
    if (logits[i] > kNegInf) c.items.push_back({static_cast<TokenId>(i), logits[i]});
  return c;
}

void filter_top_k(Candidates& c, int32_t k) {
  if (k <= 0 || static_cast<size_t>(k) >= c.items.size()) return;
  const auto kth = c.items.begin() + k;
  if (!c.sorted) {
    std::nth_element(c.items.begin(), kth, c.items.end(), ranks_before);
    c.items.resize(static_cast<size_t>(k));
    std::sort(c.items.begin(), c.items.end(), ranks_before);
    c.sorted = true;
  } else {
    c.items.resize(static_cast<size_t>(k));
  }
}

void filter_typical(Candidates& c, float p) {
  if (p >= 1.0f || c.items.size() <= 1) return;
  double total = 0.0;
  std::vector<double> w = unnormalized_probs(c, &total);
  double entropy = 0.0;
  for (double& x : w) {
    x /= total;
    if (x > 0.0) entropy -= x * std::log(x);
  }
  struct Scored {
    double distance;  // |surprisal - entropy|
    double prob;
    TokenLogit token;
  };
  std::vector<Scored> scored(c.items.size());
  for (size_t i = 0; i < scored.size(); ++i) {
    const double surprisal = w[i] > 0.0 ? -std::log(w[i]) : std::numeric_limits<double>::infinity();
    scored[i] = {std::abs(surprisal - entropy), w[i], c.items[i]};
  }
  std::sort(scored.begin(), scored.end(), [](const Scored& a, const Scored& b) {
    if (a.distance != b.distance) return a.distance < b.distance;
    return ranks_before(a.token, b.token);
  });
  size_t keep = scored.size();
  double cumulative = 0.0;
  for (size_t i = 0; i < scored.size(); ++i) {
    cumulative += scored[i].prob;
    if (cumulative > p) {
      keep = i + 1;
      break;
    }
  }
  c.items.resize(keep);
  for (size_t i = 0; i < keep; ++i) c.items[i] = scored[i].token;
  c.sorted = false;
}

void filter_top_p(Candidates& c, float p) {
  if (p >= 1.0f || c.items.size() <= 1) return;
  const double top = max_logit(c);
  double total = 0.0;
  for (const auto& t : c.items) total += std::exp(static_cast<double>(t.logit) - top);
  const double target = static_cast<double>(p) * total;
  // Sort the best `chunk` first and widen only if their mass falls short of p: the nucleus of
  // a peaked distribution over a large vocabulary is usually a few hundred tokens at most.
  const size_t n = c.items.size();
  size_t sorted_end = c.sorted ? n : 0;
  size_t chunk = std::min<size_t>(n, 256);
  double cumulative = 0.0;
  for (size_t i = 0; i < n; ++i) {
    if (i == sorted_end) {
      const size_t end = std::min(n, sorted_end + chunk);
      std::partial_sort(c.items.begin() + static_cast<std::ptrdiff_t>(sorted_end),
                        c.items.begin() + static_cast<std::ptrdiff_t>(end), c.items.end(), ranks_before);
      sorted_end = end;
      chunk *= 2;
    }
    cumulative += std::exp(static_cast<double>(c.items[i].logit) - top);
    if (cumulative >= target) {
      c.items.resize(i + 1);
      c.sorted = true;
      return;
    }
  }
  // Rounding left the sum just short of target: everything stays, now fully sorted.
  c.sorted = true;
}

void filter_min_p(Candidates& c, float p) {
  if (p <= 0.0f || c.items.size() <= 1) return;
  const float threshold = max_logit(c) + std::log(p);
  std::erase_if(c.items, [threshold](const TokenLogit& t) { return t.logit < threshold; });
}

void apply_temperature(Candidates& c, float t) {
  for (auto& token : c.items) token.logit /= t;
}

TokenId draw(const Candidates& c, std::mt19937_64& rng) {
  double total = 0.0;
  const std::vector<double> w = unnormalized_probs(c, &total);
  // A uniform double in [0, 1) from the top 53 bits.
  const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  const double target = u * total;
  double cumulative = 0.0;
  for (size_t i = 0; i < w.size(); ++i) {
    cumulative += w[i];
    if (target < cumulative) return c.items[i].id;
  }
  return c.items.back().id;  // only reachable through rounding at u close to 1
}

}  // namespace pagoda::sampling
