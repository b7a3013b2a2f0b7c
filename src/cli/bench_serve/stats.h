#pragma once
// `pagoda bench serve`: what one request measured and the summary over a run.
// Pure functions (no I/O), header-only so tests/cli can check them directly.
//
// Definitions (as in vLLM's benchmark_serving):
//   TTFT  time from sending the request to the first chunk with content
//   ITL   each gap between two consecutive content chunks (all requests pooled)
//   TPOT  per request, (e2e - TTFT) / (output tokens - 1); requests with one token have none
//   E2EL  time from sending the request to the end of its stream
// Percentiles interpolate linearly between order statistics (numpy's default).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace pagoda::cli::bench_serve {

struct RequestResult {
  bool success = false;
  std::string error;         // why it failed (empty on success)
  double ttft_s = 0;         // first content chunk
  double e2e_s = 0;          // whole request
  std::vector<double> itl_s; // gaps between content chunks
  int64_t prompt_tokens = 0; // the prompt's length as the benchmark counts it
  int64_t output_tokens = 0; // usage.completion_tokens, else content chunks
};

// The p-th percentile (0..100) of `values` (any order); 0 when empty.
inline double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  p = std::clamp(p, 0.0, 100.0);
  const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  const double frac = rank - static_cast<double>(lo);
  return values[lo] + (values[hi] - values[lo]) * frac;
}

inline double mean(const std::vector<double>& values) {
  if (values.empty()) return 0;
  double s = 0;
  for (double v : values) s += v;
  return s / static_cast<double>(values.size());
}

// Mean, median and tail percentiles of one latency, in milliseconds.
struct Distribution {
  double mean_ms = 0, median_ms = 0, p90_ms = 0, p99_ms = 0, std_ms = 0;
  size_t count = 0;
};

inline Distribution distribution_ms(const std::vector<double>& seconds) {
  Distribution d;
  d.count = seconds.size();
  if (seconds.empty()) return d;
  std::vector<double> ms;
  ms.reserve(seconds.size());
  for (double s : seconds) ms.push_back(s * 1000.0);
  d.mean_ms = mean(ms);
  d.median_ms = percentile(ms, 50);
  d.p90_ms = percentile(ms, 90);
  d.p99_ms = percentile(ms, 99);
  double var = 0;
  for (double v : ms) var += (v - d.mean_ms) * (v - d.mean_ms);
  d.std_ms = std::sqrt(var / static_cast<double>(ms.size()));
  return d;
}

// Time per output token of one request; negative when it has fewer than two tokens.
inline double tpot_s(const RequestResult& r) {
  if (!r.success || r.output_tokens < 2) return -1;
  return (r.e2e_s - r.ttft_s) / static_cast<double>(r.output_tokens - 1);
}

struct Summary {
  int64_t completed = 0, failed = 0;
  double duration_s = 0;
  int64_t total_input_tokens = 0, total_output_tokens = 0;
  double request_throughput = 0, output_throughput = 0, total_token_throughput = 0;
  Distribution ttft, tpot, itl, e2el;
  // The distinct error messages in order of first appearance, with how often each occurred.
  std::vector<std::pair<std::string, int64_t>> errors;
};

// Summarizes a run that took `duration_s` seconds (first send to last completion).
// Token totals and latencies count successful requests only.
inline Summary summarize(const std::vector<RequestResult>& results, double duration_s) {
  Summary s;
  s.duration_s = duration_s;
  std::vector<double> ttft, tpot, itl, e2el;
  std::map<std::string, size_t> error_index;
  for (const RequestResult& r : results) {
    if (!r.success) {
      ++s.failed;
      const std::string msg = r.error.empty() ? std::string("unknown error") : r.error;
      auto [it, fresh] = error_index.emplace(msg, s.errors.size());
      if (fresh) s.errors.emplace_back(msg, 0);
      ++s.errors[it->second].second;
      continue;
    }
    ++s.completed;
    s.total_input_tokens += r.prompt_tokens;
    s.total_output_tokens += r.output_tokens;
    ttft.push_back(r.ttft_s);
    e2el.push_back(r.e2e_s);
    if (const double t = tpot_s(r); t >= 0) tpot.push_back(t);
    itl.insert(itl.end(), r.itl_s.begin(), r.itl_s.end());
  }
  if (duration_s > 0) {
    s.request_throughput = static_cast<double>(s.completed) / duration_s;
    s.output_throughput = static_cast<double>(s.total_output_tokens) / duration_s;
    s.total_token_throughput =
        static_cast<double>(s.total_input_tokens + s.total_output_tokens) / duration_s;
  }
  s.ttft = distribution_ms(ttft);
  s.tpot = distribution_ms(tpot);
  s.itl = distribution_ms(itl);
  s.e2el = distribution_ms(e2el);
  return s;
}

// The summary under vLLM benchmark_serving's key names (plus failed and errors).
inline nlohmann::ordered_json summary_json(const Summary& s, size_t max_errors = 5) {
  nlohmann::ordered_json j;
  j["completed"] = s.completed;
  j["failed"] = s.failed;
  j["duration"] = s.duration_s;
  j["total_input_tokens"] = s.total_input_tokens;
  j["total_output_tokens"] = s.total_output_tokens;
  j["request_throughput"] = s.request_throughput;
  j["output_throughput"] = s.output_throughput;
  j["total_token_throughput"] = s.total_token_throughput;
  const std::pair<const char*, const Distribution*> metrics[] = {
      {"ttft", &s.ttft}, {"tpot", &s.tpot}, {"itl", &s.itl}, {"e2el", &s.e2el}};
  for (const auto& [name, d] : metrics) {
    const std::string n = name;
    j["mean_" + n + "_ms"] = d->mean_ms;
    j["median_" + n + "_ms"] = d->median_ms;
    j["std_" + n + "_ms"] = d->std_ms;
    j["p90_" + n + "_ms"] = d->p90_ms;
    j["p99_" + n + "_ms"] = d->p99_ms;
  }
  nlohmann::ordered_json errors = nlohmann::ordered_json::array();
  for (size_t i = 0; i < s.errors.size() && i < max_errors; ++i)
    errors.push_back({{"message", s.errors[i].first}, {"count", s.errors[i].second}});
  j["errors"] = errors;
  return j;
}

}  // namespace pagoda::cli::bench_serve
