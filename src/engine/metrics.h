#pragma once
// Counters and latency histograms the engine keeps for /metrics and logs.
#include <cstdint>
#include <vector>

namespace pagoda::engine {

// A Prometheus-style cumulative histogram over fixed upper bounds (seconds).
struct Histogram {
  std::vector<double> bounds;    // ascending upper bounds; +Inf is implicit
  std::vector<uint64_t> counts;  // [bounds.size() + 1] observations per bucket (not cumulative)
  double sum = 0.0;
  uint64_t count = 0;

  explicit Histogram(std::vector<double> upper_bounds = {});
  void observe(double value);
};

// vLLM's bucket bounds for time to first token, inter-token and end-to-end latency.
Histogram ttft_histogram();
Histogram itl_histogram();
Histogram e2e_histogram();

struct MetricsSnapshot {
  int n_running = 0;
  int n_waiting = 0;
  int kv_blocks_total = 0;
  int kv_block_size = 0;  // tokens per block
  int kv_blocks_in_use = 0;
  int kv_blocks_cached = 0;  // holding prefix-cache content (in use or evictable)
  uint64_t prefix_query_tokens = 0;
  uint64_t prefix_hit_tokens = 0;
  uint64_t preemptions = 0;
  uint64_t prompt_tokens = 0;      // prompt tokens of admitted requests
  uint64_t computed_tokens = 0;    // tokens run through the model (prompt, recompute, decode)
  uint64_t generation_tokens = 0;  // tokens sampled
  uint64_t requests_finished = 0;
  uint64_t requests_aborted = 0;
  uint64_t steps = 0;
  Histogram time_to_first_token = ttft_histogram();
  Histogram inter_token_latency = itl_histogram();
  Histogram e2e_latency = e2e_histogram();

  double kv_usage() const { return kv_blocks_total ? double(kv_blocks_in_use) / kv_blocks_total : 0.0; }
};

}  // namespace pagoda::engine
