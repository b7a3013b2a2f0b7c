// The planner's KV figures equal what the paged pool really allocates, for
// every KV type, head size, KV head count and block size, and plan_pool sizes
// a pool from the same arithmetic.
#include <gtest/gtest.h>

#include "engine/config.h"
#include "kv/paged_cache.h"
#include "planner/estimate.h"

namespace pagoda::planner {
namespace {

PlannedModel small_model(int64_t n_head_kv, int64_t head_dim) {
  ModelShape s;
  s.name = "kv-test";
  s.n_vocab = 256;
  s.n_layer = 3;
  s.n_head = n_head_kv * 2;
  s.n_head_kv = n_head_kv;
  s.head_dim = head_dim;
  s.n_embd = 64;
  s.n_ff = 128;
  s.n_ctx = 4096;
  auto m = model_from_shape(s, *quant::find_mix("F16"));
  EXPECT_TRUE(m.ok()) << m.error().message;
  return *m;
}

TEST(PlannerKv, BytesPerTokenAndPoolBytesEqualThePagedCache) {
  for (KvType k : kAllKvTypes)
    for (KvType v : {KvType::f16, KvType::q8_0, k})
      for (int64_t head_dim : {8, 40, 64, 80, 96, 128, 256})
        for (int64_t n_kv : {1, 2, 4, 8})
          for (int block_size : {1, 16, 32}) {
            SCOPED_TRACE(testing::Message() << kv_type_name(k) << "/" << kv_type_name(v) << " head " << head_dim
                                            << " x " << n_kv << " block " << block_size);
            const PlannedModel m = small_model(n_kv, head_dim);
            EstimateOptions o;
            o.k_type = k;
            o.v_type = v;
            o.ctx = 1000;
            o.concurrency = 3;
            o.block_size = block_size;
            auto e = estimate(m, o);
            ASSERT_TRUE(e.ok()) << e.error().message;
            kv::KvShape shape{3, static_cast<int>(n_kv), static_cast<int>(head_dim), 3, 1000, k, v};
            const int n_blocks = static_cast<int>(3 * ((1000 + block_size - 1) / block_size));
            auto cache = kv::PagedKvCache::create(shape, n_blocks, block_size);
            ASSERT_TRUE(cache.ok()) << cache.error().message;
            EXPECT_EQ(e->kv_bytes_per_token, (*cache)->token_bytes());
            EXPECT_EQ(e->kv.bytes_per_block, (*cache)->block_bytes());
            EXPECT_EQ(e->kv_bytes, (*cache)->memory_bytes());
            EXPECT_EQ(e->device.kv, (*cache)->memory_bytes());
            // GQA-correct by construction: 2 x layers x kv heads x head size x element bytes
            // for the one-element types (rows of quantized types carry block scales).
            const auto g_k = kv_type_geometry(k), g_v = kv_type_geometry(v);
            if (g_k.block_size == 1 && g_v.block_size == 1) {
              EXPECT_EQ(e->kv_bytes_per_token, 3u * n_kv * head_dim * (g_k.block_bytes + g_v.block_bytes));
            }
          }
}

TEST(PlannerKv, QuantizedRowsCarryTheirBlockScales) {
  const PlannedModel m = small_model(8, 128);
  EstimateOptions o;
  o.k_type = o.v_type = KvType::q8_0;
  auto q8 = estimate(m, o);
  o.k_type = o.v_type = KvType::q4_0;
  auto q4 = estimate(m, o);
  ASSERT_TRUE(q8.ok() && q4.ok());
  // 1024 values per row: 32 blocks of 34 (q8_0) or 18 (q4_0) bytes, K and V, 3 layers.
  EXPECT_EQ(q8->kv_bytes_per_token, 3u * 2 * 32 * 34);
  EXPECT_EQ(q4->kv_bytes_per_token, 3u * 2 * 32 * 18);
  // stories260K-like rows of 32 values in 8-value heads: one block per row.
  const PlannedModel tiny = small_model(4, 8);
  o.k_type = o.v_type = KvType::q8_0;
  auto t = estimate(tiny, o);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->kv_bytes_per_token, 3u * 2 * 34);
  // 16 rows of 34 bytes = 544, rounded up to 576 per (layer, K|V) block.
  EXPECT_EQ(t->kv.bytes_per_block, 3u * 2 * 576);
}

TEST(PlannerKv, PlanPoolSizesWithTheSameFootprint) {
  const PlannedModel m = small_model(2, 64);
  EstimateOptions o;
  o.ctx = 500;
  o.concurrency = 4;
  o.k_type = KvType::q8_0;
  auto e = estimate(m, o);
  ASSERT_TRUE(e.ok());
  engine::EngineConfig c;
  c.kv_cache_memory = e->kv_bytes;
  c.max_model_len = 500;
  c.k_type = KvType::q8_0;
  auto plan = engine::plan_pool(c, e->kv, 4096, 0);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_EQ(plan->bytes, e->kv_bytes);
  EXPECT_EQ(plan->full_length_sequences(), 4);
  // The old signature (bytes per token and per block) plans the same pool.
  auto same = engine::plan_pool(c, e->kv.bytes_per_token, 4096, 0, e->kv.bytes_per_block);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->n_blocks, plan->n_blocks);
  // One byte less and the fourth sequence no longer fits.
  c.kv_cache_memory = e->kv_bytes - 1;
  EXPECT_EQ(engine::plan_pool(c, e->kv, 4096, 0)->full_length_sequences(), 3);
  EXPECT_EQ(e->kv.max_seqs(e->kv_bytes, 500), 4);
  EXPECT_EQ(e->kv.max_seqs(e->kv_bytes - 1, 500), 3);
  EXPECT_EQ(e->kv.max_tokens(e->kv_bytes, 4), 512);  // whole blocks of 16
}

}  // namespace
}  // namespace pagoda::planner
