// Prometheus text rendering of engine metrics under vLLM's names.
#include "server/prometheus.h"

#include <gtest/gtest.h>

namespace pagoda::server {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}

TEST(Prometheus, GaugesCountersAndHelp) {
  engine::MetricsSnapshot m;
  m.n_running = 3;
  m.n_waiting = 2;
  m.kv_blocks_total = 100;
  m.kv_blocks_in_use = 25;
  m.prefix_query_tokens = 640;
  m.prefix_hit_tokens = 320;
  m.preemptions = 1;
  m.prompt_tokens = 1000;
  m.generation_tokens = 50;
  const std::string t = render_prometheus(m, "demo");
  EXPECT_TRUE(has_line(t, "# TYPE vllm:num_requests_running gauge"));
  EXPECT_TRUE(has_line(t, "vllm:num_requests_running{model_name=\"demo\"} 3"));
  EXPECT_TRUE(has_line(t, "vllm:num_requests_waiting{model_name=\"demo\"} 2"));
  EXPECT_TRUE(has_line(t, "vllm:gpu_cache_usage_perc{model_name=\"demo\"} 0.25"));
  EXPECT_TRUE(has_line(t, "pagoda:kv_cache_usage_perc{model_name=\"demo\"} 0.25"));
  EXPECT_TRUE(has_line(t, "# TYPE vllm:prefix_cache_queries_total counter"));
  EXPECT_TRUE(has_line(t, "vllm:prefix_cache_queries_total{model_name=\"demo\"} 640"));
  EXPECT_TRUE(has_line(t, "vllm:prefix_cache_hits_total{model_name=\"demo\"} 320"));
  EXPECT_TRUE(has_line(t, "vllm:num_preemptions_total{model_name=\"demo\"} 1"));
  EXPECT_TRUE(has_line(t, "vllm:prompt_tokens_total{model_name=\"demo\"} 1000"));
  EXPECT_TRUE(has_line(t, "vllm:generation_tokens_total{model_name=\"demo\"} 50"));
  EXPECT_NE(t.find("# HELP vllm:num_requests_running "), std::string::npos);
  EXPECT_EQ(t.back(), '\n');
  // Every sample line has a TYPE line for its metric family before it.
  size_t samples = 0;
  for (size_t pos = 0; pos < t.size();) {
    const size_t end = t.find('\n', pos);
    const std::string line = t.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    ++samples;
    std::string family = line.substr(0, line.find('{'));
    for (const char* suffix : {"_bucket", "_sum", "_count"})
      if (family.ends_with(suffix) && t.find("# TYPE " + family + " ") == std::string::npos)
        family = family.substr(0, family.size() - std::string(suffix).size());
    EXPECT_NE(t.find("# TYPE " + family + " "), std::string::npos) << line;
  }
  EXPECT_GT(samples, 20u);
}

TEST(Prometheus, HistogramBucketsAreCumulative) {
  engine::MetricsSnapshot m;
  m.time_to_first_token = engine::Histogram({0.1, 1.0});
  m.time_to_first_token.observe(0.05);
  m.time_to_first_token.observe(0.5);
  m.time_to_first_token.observe(0.7);
  m.time_to_first_token.observe(5.0);
  const std::string t = render_prometheus(m, "demo");
  EXPECT_TRUE(has_line(t, "# TYPE vllm:time_to_first_token_seconds histogram"));
  EXPECT_TRUE(
      has_line(t, "vllm:time_to_first_token_seconds_bucket{model_name=\"demo\",le=\"0.1\"} 1"));
  EXPECT_TRUE(
      has_line(t, "vllm:time_to_first_token_seconds_bucket{model_name=\"demo\",le=\"1\"} 3"));
  EXPECT_TRUE(
      has_line(t, "vllm:time_to_first_token_seconds_bucket{model_name=\"demo\",le=\"+Inf\"} 4"));
  EXPECT_TRUE(has_line(t, "vllm:time_to_first_token_seconds_count{model_name=\"demo\"} 4"));
  EXPECT_TRUE(has_line(t, "vllm:time_to_first_token_seconds_sum{model_name=\"demo\"} 6.25"));
  EXPECT_NE(t.find("# TYPE vllm:time_per_output_token_seconds histogram"), std::string::npos);
  EXPECT_NE(t.find("# TYPE vllm:e2e_request_latency_seconds histogram"), std::string::npos);
}

TEST(Prometheus, LabelsAreEscaped) {
  EXPECT_EQ(prometheus_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  const std::string t = render_prometheus({}, "we\"ird");
  EXPECT_NE(t.find("model_name=\"we\\\"ird\""), std::string::npos);
}

}  // namespace
}  // namespace pagoda::server
