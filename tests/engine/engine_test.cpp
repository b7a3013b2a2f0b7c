// Engine behaviour beyond invariance: prefix-cache accounting on a long shared
// prefix, aborts, the threaded API, request validation and pool sizing.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <thread>

#include "base/log.h"
#include "common/fixtures.h"
#include "engine/engine.h"
#include "engine_test_util.h"

namespace pagoda::test {
namespace {

class EngineStories : public ::testing::Test {
 protected:
  void SetUp() override {
    PAGODA_REQUIRE_FIXTURE("models/stories260K.gguf");
    log::set_level(log::Level::warn);
    m_ = load_model(fixture("models/stories260K.gguf"));
    ASSERT_TRUE(m_.model && m_.tok);
  }
  engine::EngineConfig config(bool prefix = true) const {
    engine::EngineConfig c;
    c.kv_cache_memory = 64ull << 20;
    c.max_num_seqs = 8;
    c.max_model_len = 2048;
    c.prefix_caching = prefix;
    return c;
  }
  LoadedModel m_;
  ThreadPool pool_{2};
};

TEST_F(EngineStories, SecondRequestOnA600TokenPrefixComputesOnlyItsNewTokens) {
  std::mt19937 rng(3);
  const auto prefix = random_tokens(rng, 600, m_.model->n_vocab());
  auto a = prefix, b = prefix;
  for (int32_t t : random_tokens(rng, 10, m_.model->n_vocab())) a.push_back(t);
  for (int32_t t : random_tokens(rng, 13, m_.model->n_vocab())) b.push_back(t);
  const int n_gen = 8;

  auto cached = make_core(m_, config(true), pool_);
  ASSERT_TRUE(cached);
  const auto ra = run_requests(*cached, {greedy_request(a, n_gen)});
  const uint64_t before = cached->metrics().computed_tokens;
  const auto rb = run_requests(*cached, {greedy_request(b, n_gen)});
  const uint64_t computed_b = cached->metrics().computed_tokens - before;
  // 600 tokens hold 37 full blocks of 16 = 592 tokens.
  EXPECT_EQ(rb[0].n_cached_tokens, 592);
  // The rest of the prompt, then one token per step for all but the last sampled token.
  EXPECT_EQ(computed_b, static_cast<uint64_t>(b.size() - 592 + n_gen - 1));
  EXPECT_EQ(cached->metrics().prefix_hit_tokens, 592u);

  auto plain = make_core(m_, config(false), pool_);
  ASSERT_TRUE(plain);
  const auto pb = run_requests(*plain, {greedy_request(b, n_gen)});
  EXPECT_EQ(rb[0].tokens, pb[0].tokens);
  EXPECT_EQ(rb[0].text, pb[0].text);
  EXPECT_EQ(pb[0].n_cached_tokens, 0);
  EXPECT_EQ(plain->metrics().prefix_hit_tokens, 0u);
}

TEST_F(EngineStories, AFullyCachedPromptStillRecomputesItsLastToken) {
  std::mt19937 rng(4);
  const auto prompt = random_tokens(rng, 64, m_.model->n_vocab());  // exactly 4 blocks
  auto core = make_core(m_, config(true), pool_);
  ASSERT_TRUE(core);
  const auto first = run_requests(*core, {greedy_request(prompt, 5)});
  const auto second = run_requests(*core, {greedy_request(prompt, 5)});
  EXPECT_EQ(second[0].n_cached_tokens, 48);  // the block holding the last token is recomputed
  EXPECT_EQ(first[0].tokens, second[0].tokens);
}

TEST_F(EngineStories, AbortFreesBlocksAtOnce) {
  std::mt19937 rng(5);
  auto core = make_core(m_, config(true), pool_);
  ASSERT_TRUE(core);
  auto stream = std::make_shared<engine::RequestStream>(1);
  ASSERT_TRUE(core->add(1, greedy_request(random_tokens(rng, 100, m_.model->n_vocab()), 500), stream).ok());
  for (int i = 0; i < 5; ++i) core->step();
  EXPECT_GT(core->metrics().kv_blocks_in_use, 0);
  core->abort(1);
  EXPECT_EQ(core->metrics().kv_blocks_in_use, 0);
  EXPECT_FALSE(core->has_work());
  core->check_invariants();
  engine::Finish last = engine::Finish::none;
  while (auto out = stream->try_next())
    for (const auto& d : out->deltas)
      if (d.finish != engine::Finish::none) last = d.finish;
  EXPECT_EQ(last, engine::Finish::abort);
  EXPECT_TRUE(stream->done());
  // Aborting a waiting request (never scheduled) works too.
  auto waiting = std::make_shared<engine::RequestStream>(2);
  ASSERT_TRUE(core->add(2, greedy_request({1, 2, 3}, 4), waiting).ok());
  core->abort(2);
  auto out = waiting->try_next();
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->finished);
  core->abort(12345);  // unknown: ignored
}

TEST_F(EngineStories, InvalidRequestsAreClearErrors) {
  auto core = make_core(m_, config(true), pool_);
  ASSERT_TRUE(core);
  auto err = [&](engine::GenerationRequest r) {
    auto ok = core->validate(r);
    return ok ? std::string() : ok.error().message;
  };
  EXPECT_NE(err(greedy_request({}, 4)).find("empty"), std::string::npos);
  EXPECT_NE(err(greedy_request(std::vector<int32_t>(2048, 1), 4)).find("2048"), std::string::npos);
  EXPECT_NE(err(greedy_request({1, 2}, 4000)).find("maximum context length"), std::string::npos);
  EXPECT_NE(err(greedy_request({1, 99999}, 4)).find("vocabulary"), std::string::npos);
  auto many = greedy_request({1, 2}, 4);
  many.n = 9;
  EXPECT_NE(err(many).find("max-num-seqs"), std::string::npos);
  auto bad = greedy_request({1, 2}, 4);
  bad.params.top_p = 2.0f;
  EXPECT_NE(err(bad).find("top_p"), std::string::npos);
  EXPECT_EQ(err(greedy_request({1, 2}, 4)), "");
}

TEST_F(EngineStories, ThreadedEngineServesConcurrentCallers) {
  std::mt19937 rng(6);
  std::vector<engine::GenerationRequest> reqs;
  for (int i = 0; i < 8; ++i)
    reqs.push_back(greedy_request(random_tokens(rng, 5 + 9 * i, m_.model->n_vocab()), 6 + i));
  std::vector<std::vector<int32_t>> want;
  for (const auto& r : reqs) {
    auto core = make_core(m_, config(false), pool_);
    want.push_back(run_requests(*core, {r})[0].tokens[0]);
  }
  auto engine = engine::Engine::create(*m_.model, *m_.tok, config(true), pool_);
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  std::vector<std::vector<int32_t>> got(reqs.size());
  std::vector<std::thread> callers;
  for (size_t i = 0; i < reqs.size(); ++i)
    callers.emplace_back([&, i] {
      auto stream = (*engine)->submit(reqs[i]);
      ASSERT_TRUE(stream.ok());
      while (auto out = (*stream)->next())
        for (const auto& d : out->deltas) got[i].insert(got[i].end(), d.tokens.begin(), d.tokens.end());
    });
  for (auto& t : callers) t.join();
  EXPECT_EQ(got, want);
  // An abort from another thread ends a long request.
  auto stream = (*engine)->submit(greedy_request({1, 2, 3}, 1500));
  ASSERT_TRUE(stream.ok());
  (*engine)->abort((*stream)->id());
  bool aborted = false;
  while (auto out = (*stream)->next())
    for (const auto& d : out->deltas) aborted |= d.finish == engine::Finish::abort;
  EXPECT_TRUE(aborted);
  auto bad = (*engine)->submit(greedy_request({}, 3));
  EXPECT_FALSE(bad.ok());
}

TEST(EngineConfig, MemorySizes) {
  EXPECT_EQ(*engine::parse_memory_size("4GiB"), 4ull << 30);
  EXPECT_EQ(*engine::parse_memory_size("4G"), 4ull << 30);
  EXPECT_EQ(*engine::parse_memory_size("512MiB"), 512ull << 20);
  EXPECT_EQ(*engine::parse_memory_size("512m"), 512ull << 20);
  EXPECT_EQ(*engine::parse_memory_size("2GB"), 2000000000ull);
  EXPECT_EQ(*engine::parse_memory_size("1.5GiB"), 3ull << 29);
  EXPECT_EQ(*engine::parse_memory_size("1048576"), 1048576ull);
  for (const char* bad : {"", "GiB", "4XB", "-1G", "1e99", "4 G B", "0"})
    EXPECT_FALSE(engine::parse_memory_size(bad).ok()) << bad;
}

TEST(EngineConfig, PoolPlanning) {
  engine::EngineConfig c;
  c.kv_cache_memory = 1ull << 20;  // 1 MiB
  c.block_size = 16;
  // 1 KiB per token: 1024 tokens = 64 blocks.
  auto p = engine::plan_pool(c, 1024, 4096, 0);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->n_blocks, 64);
  EXPECT_EQ(p->max_model_len, 1024);  // the training context does not fit: capped
  EXPECT_EQ(p->full_length_sequences(), 1);
  c.max_model_len = 256;
  p = engine::plan_pool(c, 1024, 4096, 0);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->full_length_sequences(), 4);
  c.max_model_len = 2000;
  auto too_long = engine::plan_pool(c, 1024, 4096, 0);
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.error().message.find("largest that fits is 1024"), std::string::npos) << too_long.error().message;
  c.max_model_len = 8192;
  EXPECT_FALSE(engine::plan_pool(c, 1024, 4096, 0).ok());  // above the training context
  c.max_model_len = 0;
  c.kv_cache_memory = 100;  // not one block
  EXPECT_FALSE(engine::plan_pool(c, 1024, 4096, 0).ok());
  // Default budget: capped at what max_num_seqs sequences of the longest length use.
  engine::EngineConfig d;
  d.max_num_seqs = 2;
  d.max_model_len = 100;
  auto dp = engine::plan_pool(d, 1024, 4096, 0);
  ASSERT_TRUE(dp.ok());
  EXPECT_EQ(dp->n_blocks, 2 * 7);
}

}  // namespace
}  // namespace pagoda::test
