#include "sampling/stop_checker.h"

#include <algorithm>
#include <utility>

namespace pagoda::sampling {
namespace {

// Length of the UTF-8 sequence a lead byte announces (1 for ASCII and for stray bytes, which
// are passed through rather than held forever).
size_t utf8_sequence_length(unsigned char lead) {
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

// Bytes at the end of text that form the start of a UTF-8 sequence still missing bytes.
size_t incomplete_utf8_tail(std::string_view text) {
  const size_t n = text.size();
  for (size_t back = 1; back <= std::min<size_t>(n, 4); ++back) {
    const auto byte = static_cast<unsigned char>(text[n - back]);
    if ((byte & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    return utf8_sequence_length(byte) > back ? back : 0;
  }
  return 0;
}

}  // namespace

const char* to_string(FinishReason reason) {
  switch (reason) {
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::none: break;
  }
  return "";
}

StopChecker::StopChecker(const SamplingParams& params, std::vector<TokenId> eog_ids)
    : max_tokens_(params.max_tokens), stop_strings_(params.stop) {
  if (!params.ignore_eos) stop_ids_ = std::move(eog_ids);
  stop_ids_.insert(stop_ids_.end(), params.stop_token_ids.begin(), params.stop_token_ids.end());
  std::erase_if(stop_strings_, [](const std::string& s) { return s.empty(); });
}

bool StopChecker::is_stop_token(TokenId id) const {
  return std::find(stop_ids_.begin(), stop_ids_.end(), id) != stop_ids_.end();
}

size_t StopChecker::held_back_length() const {
  const std::string_view text = pending_;
  size_t hold = 0;
  // The longest tail of text that is a proper prefix of some stop string (a full match was
  // already ruled out by the caller).
  for (const auto& stop : stop_strings_) {
    const size_t longest = std::min(text.size(), stop.size() - 1);
    for (size_t len = longest; len > hold; --len) {
      if (text.substr(text.size() - len) == std::string_view(stop).substr(0, len)) {
        hold = len;
        break;
      }
    }
  }
  return std::max(hold, incomplete_utf8_tail(text));
}

std::string StopChecker::on_token(TokenId id, std::string_view piece) {
  if (finished()) return {};
  ++n_generated_;
  if (is_stop_token(id)) {
    matched_stop_token_ = id;
    reason_ = FinishReason::stop;
    return std::exchange(pending_, {});
  }

  pending_.append(piece);
  // Earliest stop string occurrence wins; earlier text never holds one (it was checked).
  size_t first = std::string::npos;
  for (const auto& stop : stop_strings_) {
    const size_t at = pending_.find(stop);
    if (at < first) {
      first = at;
      matched_stop_string_ = stop;
    }
  }
  if (first != std::string::npos) {
    reason_ = FinishReason::stop;
    std::string out = pending_.substr(0, first);
    pending_.clear();
    return out;
  }

  if (n_generated_ >= max_tokens_) {
    reason_ = FinishReason::length;
    return std::exchange(pending_, {});
  }
  const size_t emit = pending_.size() - held_back_length();
  std::string out = pending_.substr(0, emit);
  pending_.erase(0, emit);
  return out;
}

std::string StopChecker::finish() {
  if (!finished()) reason_ = FinishReason::length;
  return std::exchange(pending_, {});
}

}  // namespace pagoda::sampling
