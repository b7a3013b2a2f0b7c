#pragma once
// Helpers for engine tests: load a model + tokenizer, run requests through an
// EngineCore step by step, and collect each request's tokens.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "engine/engine_core.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::test {

struct LoadedModel {
  std::unique_ptr<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tok;
};

inline LoadedModel load_model(const std::string& path) {
  LoadedModel m;
  auto model = model::Model::load(path);
  EXPECT_TRUE(model.ok()) << model.error().message;
  if (!model) return m;
  m.model = std::move(*model);
  auto tok = tokenizer::Tokenizer::from_gguf(m.model->file());
  EXPECT_TRUE(tok.ok()) << tok.error().message;
  if (tok) m.tok = std::move(*tok);
  return m;
}

// Greedy request: `prompt`, exactly `max_tokens` new tokens (EOG ignored).
inline engine::GenerationRequest greedy_request(std::vector<int32_t> prompt, int max_tokens) {
  engine::GenerationRequest r;
  r.prompt = std::move(prompt);
  r.params = sampling::greedy_params();
  r.params.max_tokens = max_tokens;
  r.params.ignore_eos = true;
  return r;
}

inline std::vector<int32_t> random_tokens(std::mt19937& rng, int n, int n_vocab) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back(static_cast<int32_t>(rng() % static_cast<unsigned>(n_vocab)));
  return t;
}

// What a request produced: tokens and text per sample, finish reasons.
struct Result {
  std::vector<std::vector<int32_t>> tokens;  // [n]
  std::vector<std::string> text;             // [n]
  std::vector<engine::Finish> finish;        // [n]
  std::string error;
  int n_cached_tokens = 0;
};

// Runs requests through `core`: request i is added at step arrive_step[i] (all
// at step 0 when empty). Steps until all finish, checking invariants each step.
inline std::vector<Result> run_requests(engine::EngineCore& core, const std::vector<engine::GenerationRequest>& reqs,
                                        std::vector<int> arrive_step = {}, int max_steps = 1000000) {
  std::vector<std::shared_ptr<engine::RequestStream>> streams;
  std::vector<Result> results(reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    streams.push_back(std::make_shared<engine::RequestStream>(i));
    results[i].tokens.resize(static_cast<size_t>(reqs[i].n));
    results[i].text.resize(static_cast<size_t>(reqs[i].n));
    results[i].finish.resize(static_cast<size_t>(reqs[i].n), engine::Finish::none);
  }
  static uint64_t next_id = 1000;
  const uint64_t base = next_id;
  next_id += reqs.size();
  size_t added = 0;
  auto drain = [&] {
    for (size_t i = 0; i < added; ++i)
      while (auto out = streams[i]->try_next()) {
        if (!out->error.empty()) results[i].error = out->error;
        results[i].n_cached_tokens = out->n_cached_tokens;
        for (const auto& d : out->deltas) {
          auto& t = results[i].tokens[static_cast<size_t>(d.index)];
          t.insert(t.end(), d.tokens.begin(), d.tokens.end());
          results[i].text[static_cast<size_t>(d.index)] += d.text;
          if (d.finish != engine::Finish::none) results[i].finish[static_cast<size_t>(d.index)] = d.finish;
        }
      }
  };
  for (int step = 0; step < max_steps; ++step) {
    for (size_t i = 0; i < reqs.size(); ++i)
      if (i >= added && (arrive_step.empty() ? 0 : arrive_step[i]) <= step && i == added) {
        auto ok = core.add(base + i, reqs[i], streams[i]);
        EXPECT_TRUE(ok.ok()) << ok.error().message;
        ++added;
      }
    core.step();
    core.check_invariants();
    drain();
    if (added == reqs.size() && !core.has_work()) break;
  }
  EXPECT_FALSE(core.has_work()) << "requests still running after " << max_steps << " steps";
  return results;
}

inline std::unique_ptr<engine::EngineCore> make_core(LoadedModel& m, engine::EngineConfig config, ThreadPool& pool) {
  auto core = engine::EngineCore::create(*m.model, *m.tok, config, pool);
  EXPECT_TRUE(core.ok()) << core.error().message;
  return core ? std::move(*core) : nullptr;
}

}  // namespace pagoda::test
