#include "sampling/sampling_params.h"

#include <fmt/format.h>

#include <cmath>

namespace pagoda::sampling {
namespace {

Error out_of_range(const char* field, const char* range, double got) {
  return Error{fmt::format("{} must be {}, got {}", field, range, got)};
}

Expected<void> check_token_id(const char* field, TokenId id, int32_t n_vocab) {
  if (id < 0 || (n_vocab > 0 && id >= n_vocab)) {
    if (n_vocab > 0) return Error{fmt::format("{}: token id {} is outside the vocabulary [0, {})", field, id, n_vocab)};
    return Error{fmt::format("{}: token id {} is negative", field, id)};
  }
  return {};
}

}  // namespace

Expected<void> validate(const SamplingParams& p, int32_t n_vocab) {
  if (!std::isfinite(p.temperature) || p.temperature < 0.0f)
    return out_of_range("temperature", "a finite number >= 0", p.temperature);
  if (p.top_k < -1) return out_of_range("top_k", ">= -1 (0 or -1 disables it)", p.top_k);
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return out_of_range("top_p", "in (0, 1]", p.top_p);
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) return out_of_range("min_p", "in [0, 1]", p.min_p);
  if (!(p.typical_p > 0.0f && p.typical_p <= 1.0f)) return out_of_range("typical_p", "in (0, 1]", p.typical_p);
  if (!std::isfinite(p.repetition_penalty) || p.repetition_penalty <= 0.0f)
    return out_of_range("repetition_penalty", "a finite number > 0", p.repetition_penalty);
  if (p.penalty_last_n < -1) return out_of_range("penalty_last_n", ">= -1 (-1 means the whole history)", p.penalty_last_n);
  if (!(p.presence_penalty >= -2.0f && p.presence_penalty <= 2.0f))
    return out_of_range("presence_penalty", "in [-2, 2]", p.presence_penalty);
  if (!(p.frequency_penalty >= -2.0f && p.frequency_penalty <= 2.0f))
    return out_of_range("frequency_penalty", "in [-2, 2]", p.frequency_penalty);
  for (const auto& [id, bias] : p.logit_bias) {
    if (auto ok = check_token_id("logit_bias", id, n_vocab); !ok) return ok;
    // -inf bans a token; +inf or NaN would make every probability undefined.
    if (std::isnan(bias) || bias == INFINITY)
      return Error{fmt::format("logit_bias for token {} must be a number or -inf, got {}", id, bias)};
  }
  if (p.max_tokens < 1) return out_of_range("max_tokens", ">= 1", p.max_tokens);
  if (p.min_tokens < 0 || p.min_tokens > p.max_tokens)
    return Error{fmt::format("min_tokens must be in [0, max_tokens = {}], got {}", p.max_tokens, p.min_tokens)};
  for (TokenId id : p.stop_token_ids)
    if (auto ok = check_token_id("stop_token_ids", id, n_vocab); !ok) return ok;
  for (const auto& s : p.stop)
    if (s.empty()) return Error{"stop strings must not be empty"};
  return {};
}

SamplingParams greedy_params() {
  SamplingParams p;
  p.temperature = 0.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.typical_p = 1.0f;
  p.repetition_penalty = 1.0f;
  p.presence_penalty = 0.0f;
  p.frequency_penalty = 0.0f;
  return p;
}

}  // namespace pagoda::sampling
