#include "server/prometheus.h"

#include <fmt/format.h>

#include <cmath>

namespace pagoda::server {
namespace {

// Prometheus number: integers without a fraction, +Inf spelled out.
std::string num(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  return fmt::format("{}", v);
}

class Writer {
 public:
  explicit Writer(const std::string& model)
      : label_(fmt::format("model_name=\"{}\"", prometheus_label(model))) {}

  void header(const char* name, const char* type, const char* help) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void sample(const char* name, double value) {
    out_ += fmt::format("{}{{{}}} {}\n", name, label_, num(value));
  }
  void gauge(const char* name, const char* help, double value) {
    header(name, "gauge", help);
    sample(name, value);
  }
  void counter(const char* name, const char* help, double value) {
    header(name, "counter", help);
    sample(name, value);
  }
  void histogram(const char* name, const char* help, const engine::Histogram& h) {
    header(name, "histogram", help);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < h.bounds.size(); ++i) {
      cumulative += i < h.counts.size() ? h.counts[i] : 0;
      out_ +=
          fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", name, label_, num(h.bounds[i]), cumulative);
    }
    out_ += fmt::format("{}_bucket{{{},le=\"+Inf\"}} {}\n", name, label_, h.count);
    out_ += fmt::format("{}_sum{{{}}} {}\n", name, label_, num(h.sum));
    out_ += fmt::format("{}_count{{{}}} {}\n", name, label_, h.count);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string label_;
  std::string out_;
};

}  // namespace

std::string prometheus_label(const std::string& value) {
  std::string s;
  for (char c : value) {
    if (c == '\\')
      s += "\\\\";
    else if (c == '"')
      s += "\\\"";
    else if (c == '\n')
      s += "\\n";
    else
      s += c;
  }
  return s;
}

std::string render_prometheus(const engine::MetricsSnapshot& m, const std::string& model_name) {
  Writer w(model_name);
  w.gauge("vllm:num_requests_running", "Number of requests in model execution batches.",
          m.n_running);
  w.gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", m.n_waiting);
  w.gauge("vllm:gpu_cache_usage_perc",
          "KV-cache usage. 1 means 100 percent usage (CPU memory here).", m.kv_usage());
  w.gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", m.kv_usage());
  w.gauge("pagoda:kv_cache_usage_perc", "Share of KV blocks in use by running requests (0..1).",
          m.kv_usage());
  w.gauge("pagoda:kv_cache_blocks_total", "KV blocks in the pool.", m.kv_blocks_total);
  w.gauge("pagoda:kv_cache_capacity_blocks", "KV blocks the pool was sized to hold (pagoda estimate's arithmetic).",
          m.kv_blocks_total);
  w.gauge("pagoda:kv_cache_capacity_tokens", "Tokens the KV pool holds (blocks x block size).",
          double(m.kv_blocks_total) * m.kv_block_size);
  w.gauge("pagoda:kv_cache_blocks_cached", "KV blocks holding prefix-cache content.",
          m.kv_blocks_cached);
  w.counter("vllm:prefix_cache_queries_total",
            "Prefix cache queries, in terms of number of queried tokens.",
            static_cast<double>(m.prefix_query_tokens));
  w.counter("vllm:prefix_cache_hits_total",
            "Prefix cache hits, in terms of number of cached tokens.",
            static_cast<double>(m.prefix_hit_tokens));
  w.counter("vllm:num_preemptions_total", "Cumulative number of preemptions from the engine.",
            static_cast<double>(m.preemptions));
  w.counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.",
            static_cast<double>(m.prompt_tokens));
  w.counter("vllm:generation_tokens_total", "Number of generation tokens processed.",
            static_cast<double>(m.generation_tokens));
  w.counter("pagoda:computed_tokens_total",
            "Tokens run through the model (prompt, recompute, decode).",
            static_cast<double>(m.computed_tokens));
  w.counter("pagoda:requests_finished_total", "Requests that finished.",
            static_cast<double>(m.requests_finished));
  w.counter("pagoda:requests_aborted_total", "Requests aborted (client gone, shutdown).",
            static_cast<double>(m.requests_aborted));
  w.counter("pagoda:engine_steps_total", "Engine steps run.", static_cast<double>(m.steps));
  w.histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
              m.time_to_first_token);
  w.histogram("vllm:time_per_output_token_seconds",
              "Histogram of time per output token (inter-token) in seconds.",
              m.inter_token_latency);
  w.histogram("vllm:e2e_request_latency_seconds",
              "Histogram of end to end request latency in seconds.", m.e2e_latency);
  return w.take();
}

}  // namespace pagoda::server
