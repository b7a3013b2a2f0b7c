// End-to-end batch invariance: every request run through the engine together
// with others — under preemption, prefix-cache hits, chunked prefill of any
// size, n > 1 forks — returns exactly the tokens it returns alone.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "base/log.h"
#include "common/fixtures.h"
#include "common/run_binary.h"
#include "engine_test_util.h"

namespace pagoda::test {
namespace {

// The project's own demo model (written by `pagoda make-model`), so these
// tests run without ../shared/fixtures too.
// One file per test process (ctest runs them in parallel), removed at exit.
struct DemoModel {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("pagoda_engine_demo_" + std::to_string(::getpid()) + ".gguf")).string();
  DemoModel() {
    const CommandResult made = run_pagoda("make-model -o '" + path + "' --seed 11 -t 2");
    EXPECT_EQ(made.status, 0) << made.err;
  }
  ~DemoModel() { std::filesystem::remove(path); }
};

const std::string& demo_model_path() {
  static const DemoModel demo;
  return demo.path;
}

struct Case {
  std::string name;   // fixture-relative path, or "demo"
  KvType kv;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name << " kv " << kv_type_name(c.kv); }

std::string model_path(const Case& c) {
  return c.name == "demo" ? demo_model_path() : fixture(c.name);
}

class Invariance : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (GetParam().name != "demo") {
      if (!std::filesystem::exists(fixture(GetParam().name)))
        GTEST_SKIP() << "fixture " << GetParam().name << " not found under " << fixtures_dir()
                     << " (../shared/fixtures is absent): skipped";
    }
    log::set_level(log::Level::warn);
    m_ = load_model(model_path(GetParam()));
    ASSERT_TRUE(m_.model && m_.tok);
  }

  engine::EngineConfig config(int max_num_seqs, uint64_t kv_bytes, int budget = 2048, bool prefix = true,
                              int max_model_len = 1024) const {
    engine::EngineConfig c;
    c.k_type = GetParam().kv;
    c.v_type = GetParam().kv;
    c.max_num_seqs = max_num_seqs;
    c.kv_cache_memory = kv_bytes;
    c.max_num_batched_tokens = budget;
    c.max_model_len = max_model_len;
    c.prefix_caching = prefix;
    return c;
  }
  // KV bytes of n tokens for this model and KV type.
  uint64_t kv_bytes(int64_t n_tokens) const {
    kv::KvShape s;
    s.n_layer = m_.model->hparams().n_layer;
    s.n_kv_head = m_.model->hparams().n_kv_head;
    s.head_dim = m_.model->hparams().head_dim;
    s.n_seq = 1;
    s.n_ctx = 1;
    s.k_type = s.v_type = GetParam().kv;
    return static_cast<uint64_t>((n_tokens + 15) / 16) * kv::PagedKvCache::bytes_per_block(s, 16);
  }

  // Each request alone, on a fresh engine without prefix caching.
  std::vector<Result> alone(const std::vector<engine::GenerationRequest>& reqs) {
    std::vector<Result> out;
    for (const auto& r : reqs) {
      auto core = make_core(m_, config(r.n, kv_bytes(1024 * r.n), 2048, false), pool_);
      if (!core) return {};
      out.push_back(run_requests(*core, {r})[0]);
    }
    return out;
  }

  void expect_same(const std::vector<Result>& got, const std::vector<Result>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].error, "") << "request " << i;
      EXPECT_EQ(got[i].tokens, want[i].tokens) << "request " << i;
      EXPECT_EQ(got[i].text, want[i].text) << "request " << i;
    }
  }

  LoadedModel m_;
  ThreadPool pool_{2};
};

TEST_P(Invariance, TwentyFourRequestsUnderPreemption) {
  std::mt19937 rng(1234);
  std::vector<engine::GenerationRequest> reqs;
  std::vector<int> arrive;
  int longest = 0;
  for (int i = 0; i < 24; ++i) {
    const int n_prompt = 1 + static_cast<int>(rng() % 90);
    const int n_gen = 4 + static_cast<int>(rng() % 28);
    reqs.push_back(greedy_request(random_tokens(rng, n_prompt, m_.model->n_vocab()), n_gen));
    arrive.push_back(static_cast<int>(rng() % 20));
    longest = std::max(longest, n_prompt + n_gen);
  }
  std::sort(arrive.begin(), arrive.end());
  const auto want = alone(reqs);
  // A pool for ~3 of the longest requests: far too small for all 24 at once.
  auto core = make_core(m_, config(24, kv_bytes(3 * (longest + 16)), 64, true, longest), pool_);
  ASSERT_TRUE(core);
  const auto got = run_requests(*core, reqs, arrive);
  expect_same(got, want);
  EXPECT_GT(core->metrics().preemptions, 0u) << "the pool was meant to force preemption";
  EXPECT_EQ(core->metrics().kv_blocks_in_use, 0);
}

TEST_P(Invariance, PrefixCacheHits) {
  std::mt19937 rng(99);
  std::vector<std::vector<int32_t>> prefixes;
  for (int i = 0; i < 3; ++i) prefixes.push_back(random_tokens(rng, 20 + 23 * i, m_.model->n_vocab()));
  std::vector<engine::GenerationRequest> reqs;
  std::vector<int> arrive;
  for (int i = 0; i < 12; ++i) {
    auto prompt = prefixes[static_cast<size_t>(i) % prefixes.size()];
    auto suffix = random_tokens(rng, static_cast<int>(rng() % 20), m_.model->n_vocab());
    prompt.insert(prompt.end(), suffix.begin(), suffix.end());
    reqs.push_back(greedy_request(prompt, 6 + i % 5));
    arrive.push_back(i * 3);
  }
  const auto want = alone(reqs);
  auto core = make_core(m_, config(8, kv_bytes(4096), 48), pool_);
  ASSERT_TRUE(core);
  const auto got = run_requests(*core, reqs, arrive);
  expect_same(got, want);
  EXPECT_GT(core->metrics().prefix_hit_tokens, 0u);
  int with_hits = 0;
  for (const auto& r : got) with_hits += r.n_cached_tokens > 0;
  EXPECT_GT(with_hits, 3);
}

TEST_P(Invariance, ChunkedPrefillOfEveryChunkSize) {
  std::mt19937 rng(5);
  std::vector<engine::GenerationRequest> reqs;
  for (int n_prompt : {37, 5, 70}) reqs.push_back(greedy_request(random_tokens(rng, n_prompt, m_.model->n_vocab()), 5));
  const auto want = alone(reqs);
#ifdef PAGODA_SANITIZED
  constexpr int kStep = 7;  // sanitizer build: a sample of the sizes (the normal build runs all)
#else
  constexpr int kStep = 1;
#endif
  for (int budget = 1; budget <= 72; budget += kStep) {
    auto core = make_core(m_, config(4, kv_bytes(1024), budget), pool_);
    ASSERT_TRUE(core);
    expect_same(run_requests(*core, reqs), want);
    if (HasFailure()) {
      ADD_FAILURE() << "with --max-num-batched-tokens " << budget;
      return;
    }
  }
}

TEST_P(Invariance, SamplesOfOnePromptShareBlocksAndMatchSingleRuns) {
  std::mt19937 rng(77);
  engine::GenerationRequest r;
  r.prompt = random_tokens(rng, 21, m_.model->n_vocab());  // a partial last block: copy-on-write
  r.params.temperature = 1.0f;
  r.params.top_k = 0;
  r.params.top_p = 1.0f;
  r.params.min_p = 0.0f;
  r.params.seed = 7;
  r.params.max_tokens = 12;
  r.params.ignore_eos = true;
  r.n = 3;
  // Sample i of n is the single request seeded seed + i.
  std::vector<engine::GenerationRequest> singles;
  for (int i = 0; i < 3; ++i) {
    auto s = r;
    s.n = 1;
    s.params.seed = 7 + i;
    singles.push_back(s);
  }
  const auto want = alone(singles);
  auto core = make_core(m_, config(8, kv_bytes(2048), 2048), pool_);
  ASSERT_TRUE(core);
  const auto got = run_requests(*core, {r, singles[1]}, {0, 0});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(got[0].tokens[static_cast<size_t>(i)], want[static_cast<size_t>(i)].tokens[0]) << i;
  EXPECT_EQ(got[1].tokens[0], want[1].tokens[0]);
  EXPECT_NE(got[0].tokens[0], got[0].tokens[1]) << "different seeds should differ";
}

std::vector<Case> cases() {
  return {{"demo", KvType::f16},
          {"demo", KvType::q8_0},
          {"demo", KvType::fp8_e4m3},
          {"models/stories260K.gguf", KvType::f16},
          {"models/stories260K.gguf", KvType::q8_0},  // head size 8: blocks span heads
          {"models/stories260K.gguf", KvType::q4_0},
          {"models/stories260K.gguf", KvType::bf16},
          {"models/llama-spm-q8_0.gguf", KvType::q8_0},
          {"models/qwen2-gpt2-f16.gguf", KvType::f16}};
}

INSTANTIATE_TEST_SUITE_P(Models, Invariance, ::testing::ValuesIn(cases()), [](const auto& info) {
  std::string n = std::filesystem::path(info.param.name).stem().string() + "_" +
                  std::string(kv_type_name(info.param.kv));
  for (char& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
});

}  // namespace
}  // namespace pagoda::test
