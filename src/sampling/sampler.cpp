#include "sampling/sampler.h"

#include <fmt/format.h>

#include <algorithm>

namespace pagoda::sampling {

Expected<Sampler> Sampler::create(SamplingParams params, std::vector<TokenId> eog_ids, int32_t n_vocab) {
  if (n_vocab <= 0) return Error{fmt::format("sampler: vocabulary size must be > 0, got {}", n_vocab)};
  if (auto ok = validate(params, n_vocab); !ok) return ok.error();
  uint64_t seed = 0;
  if (params.seed) {
    seed = *params.seed;
  } else {
    std::random_device device;
    seed = (static_cast<uint64_t>(device()) << 32) ^ device();
  }
  return Sampler(std::move(params), std::move(eog_ids), seed);
}

Sampler::Sampler(SamplingParams params, std::vector<TokenId> eog_ids, uint64_t seed)
    : params_(std::move(params)), suppressed_before_min_tokens_(std::move(eog_ids)), seed_(seed), rng_(seed) {
  suppressed_before_min_tokens_.insert(suppressed_before_min_tokens_.end(), params_.stop_token_ids.begin(),
                                       params_.stop_token_ids.end());
}

Expected<TokenId> Sampler::sample(std::span<const float> logits, std::span<const TokenId> history,
                                  int32_t n_generated) {
  adjusted_.assign(logits.begin(), logits.end());
  std::span<float> row(adjusted_);
  apply_logit_bias(row, params_.logit_bias);
  apply_penalties(row, history, params_);
  if (n_generated < params_.min_tokens) ban_tokens(row, suppressed_before_min_tokens_);

  if (params_.temperature == 0.0f) {
    const int32_t best = argmax(row);
    if (best < 0) return Error{"sampler: every token is banned or the logits hold no number"};
    return best;
  }

  Candidates c = make_candidates(row);
  if (c.items.empty()) return Error{"sampler: every token is banned or the logits hold no number"};
  filter_top_k(c, params_.top_k);
  filter_typical(c, params_.typical_p);
  filter_top_p(c, params_.top_p);
  filter_min_p(c, params_.min_p);
  apply_temperature(c, params_.temperature);
  return draw(c, rng_);
}

}  // namespace pagoda::sampling
