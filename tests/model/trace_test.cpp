// Conformance with llama.cpp: every greedy trace in fixtures/refs (prompt ids
// plus 24 steps with llama.cpp's top-5 logits) is reproduced teacher-forced
// in one batch, and by greedy decoding one token per forward.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/fixtures.h"
#include "gguf/gguf.h"
#include "kv/kv_store.h"
#include "model/model.h"

namespace pagoda::test {
namespace {

// tol(v) = abs + rel * |v| for the loosest weight type of a model.
struct Tolerance {
  double abs = 0.02, rel = 0.002;
  double operator()(double v) const { return abs + rel * std::abs(v); }
};

constexpr Tolerance kByRank[] = {{0.02, 0.002}, {0.05, 0.005}, {0.1, 0.01}, {0.2, 0.02}};

// The loosest class of the weights' types: 0 float, 1 q8_0, 2 4..6-bit, 3 2..3-bit.
int weight_rank(const gguf::File& file) {
  int rank = 0;  // 0 float, 1 q8_0, 2 4..6-bit, 3 2..3-bit
  for (const auto& t : file.tensors()) {
    if (t.shape.size() < 2) continue;
    switch (t.type) {
      case TensorType::F32: case TensorType::F16: case TensorType::BF16: break;
      case TensorType::Q8_0: rank = std::max(rank, 1); break;
      case TensorType::Q2_K: case TensorType::Q3_K: rank = std::max(rank, 3); break;
      default: rank = std::max(rank, 2); break;
    }
  }
  return rank;
}

struct Step {
  int32_t id;
  std::vector<std::pair<int32_t, double>> top;  // llama.cpp's top-5, highest first
};
struct Trace {
  std::vector<int32_t> prompt;
  std::vector<Step> steps;
};

std::vector<Trace> read_traces(const std::string& path) {
  std::vector<Trace> traces;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    Trace t;
    t.prompt = j["prompt_ids"].get<std::vector<int32_t>>();
    for (const auto& s : j["steps"]) {
      Step step{s["id"].get<int32_t>(), {}};
      for (const auto& e : s["top"]) step.top.emplace_back(e[0].get<int32_t>(), e[1].get<double>());
      t.steps.push_back(std::move(step));
    }
    traces.push_back(std::move(t));
  }
  return traces;
}

int32_t argmax(const float* row, int32_t n) {
  int32_t best = 0;
  for (int32_t i = 1; i < n; ++i)
    if (row[i] > row[best]) best = i;
  return best;
}

// Checks one logits row against one step; returns the largest |diff| / tol.
double check_step(const float* row, int32_t n_vocab, const Step& step, const Tolerance& tol,
                  const std::string& where) {
  double worst = 0;
  for (const auto& [id, ref] : step.top) {
    const double diff = std::abs(double{row[id]} - ref);
    worst = std::max(worst, diff / tol(ref));
    EXPECT_LE(diff, tol(ref)) << where << ": token " << id << " ours " << row[id]
                              << " llama.cpp " << ref;
  }
  if (std::getenv("PAGODA_TRACE_DETAIL")) std::cout << "  " << where << ": " << worst << "\n";
  const double margin = step.top[0].second - step.top[1].second;
  if (margin > 2 * tol(step.top[0].second)) {
    EXPECT_EQ(argmax(row, n_vocab), step.top[0].first) << where << ": top-1 differs";
  }
  return worst;
}

class Traces : public ::testing::TestWithParam<std::string> {};

TEST_P(Traces, MatchLlamaCpp) {
  const std::string rel = "refs/" + GetParam();
  PAGODA_REQUIRE_FIXTURE(rel);
  const std::string model_name = GetParam().substr(0, GetParam().find(".kv-"));
  const std::string kv_name = GetParam().substr(GetParam().find(".kv-") + 4,
                                                GetParam().size() - GetParam().find(".kv-") - 10);
  PAGODA_REQUIRE_FIXTURE("models/" + model_name + ".gguf");
  auto model = model::Model::load(fixture("models/" + model_name + ".gguf"));
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto kv_type = parse_kv_type(kv_name);
  ASSERT_TRUE(kv_type.has_value()) << kv_name;
  // The tolerances, by the loosest weight type in the file. A quantized
  // KV cache counts as one more quantized type (Q8_0 -> q8_0 class, Q4_0 -> one
  // class looser than 4-bit weights: its 16 levels feed the softmax).
  int rank = weight_rank((*model)->file());
  if (*kv_type == KvType::q8_0) rank = std::max(rank, 1);
  if (*kv_type == KvType::q4_0) rank = std::max(rank, 3);
  const Tolerance tol = kByRank[rank];
  const int32_t n_vocab = (*model)->n_vocab();
  ThreadPool pool(2);
  double worst_forced = 0, worst_greedy = 0;

  const auto traces = read_traces(fixture(rel));
  ASSERT_FALSE(traces.empty());
  for (size_t ti = 0; ti < traces.size(); ++ti) {
    const Trace& tr = traces[ti];
    const int n_prompt = static_cast<int>(tr.prompt.size());
    const int n_steps = static_cast<int>(tr.steps.size());

    // Teacher-forced: prompt + the first n_steps - 1 chosen ids in one batch.
    std::vector<int32_t> ids = tr.prompt;
    for (int s = 0; s + 1 < n_steps; ++s) ids.push_back(tr.steps[static_cast<size_t>(s)].id);
    auto cache = (*model)->make_kv_cache(1, static_cast<int>(ids.size()) + 1, *kv_type, *kv_type);
    ASSERT_TRUE(cache.ok()) << cache.error().message;
    model::Batch batch;
    for (size_t i = 0; i < ids.size(); ++i)
      batch.add(ids[i], static_cast<int>(i), 0, static_cast<int>(i) >= n_prompt - 1);
    std::vector<float> logits;
    auto ok = (*model)->forward(batch, **cache, pool, logits);
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    ASSERT_EQ(logits.size(), static_cast<size_t>(n_steps) * n_vocab);
    for (int s = 0; s < n_steps; ++s)
      worst_forced = std::max(
          worst_forced, check_step(&logits[static_cast<size_t>(s) * n_vocab], n_vocab,
                                   tr.steps[static_cast<size_t>(s)], tol,
                                   "trace " + std::to_string(ti) + " forced step " + std::to_string(s)));

    // Greedy: the prompt in one batch, then one token per forward.
    auto gcache = (*model)->make_kv_cache(1, n_prompt + n_steps, *kv_type, *kv_type);
    ASSERT_TRUE(gcache.ok()) << gcache.error().message;
    batch.clear();
    for (int i = 0; i < n_prompt; ++i) batch.add(tr.prompt[static_cast<size_t>(i)], i, 0, i == n_prompt - 1);
    for (int s = 0; s < n_steps; ++s) {
      ok = (*model)->forward(batch, **gcache, pool, logits);
      ASSERT_TRUE(ok.ok()) << ok.error().message;
      const Step& step = tr.steps[static_cast<size_t>(s)];
      const std::string where = "trace " + std::to_string(ti) + " greedy step " + std::to_string(s);
      worst_greedy = std::max(worst_greedy, check_step(logits.data(), n_vocab, step, tol, where));
      const int32_t chosen = argmax(logits.data(), n_vocab);
      if (chosen != step.id) {
        // Only a near-tie may send us down another path; stop comparing there.
        EXPECT_LE(step.top[0].second - step.top[1].second, 2 * tol(step.top[0].second)) << where;
        break;
      }
      batch.clear();
      batch.add(chosen, n_prompt + s, 0, true);
    }
  }
  std::cout << "[ trace    ] " << GetParam() << ": max |diff|/tol forced " << worst_forced
            << ", greedy " << worst_greedy << " (tol " << tol.abs << " + " << tol.rel << "|v|)\n";
  RecordProperty("max_diff_over_tol", std::to_string(std::max(worst_forced, worst_greedy)));
}

std::vector<std::string> trace_files() {
  std::vector<std::string> names = {
      "llama-spm-f16.kv-f16.jsonl",   "llama-spm-q8_0.kv-f16.jsonl",
      "llama-spm-q4_0.kv-f16.jsonl",  "llama-spm-q4_k_m.kv-f16.jsonl",
      "qwen2-gpt2-f16.kv-f16.jsonl",  "qwen2-gpt2-q8_0.kv-f16.jsonl",
      "stories260K.kv-f16.jsonl",     "stories260K-f16.kv-f16.jsonl",
      "llama-spm-f16.kv-q8_0.jsonl",  "llama-spm-f16.kv-q4_0.jsonl",
      "qwen2-gpt2-f16.kv-q8_0.jsonl", "qwen2-gpt2-f16.kv-q4_0.jsonl",
  };
  return names;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Traces, ::testing::ValuesIn(trace_files()),
                         [](const auto& info) {
                           std::string n = info.param.substr(0, info.param.size() - 6);
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
}  // namespace pagoda::test
