// Batch invariance: a token's logits are bit-identical whether its sequence is
// evaluated alone or with others, in one forward or in chunks of any size.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "common/fixtures.h"
#include "tiny_model.h"

namespace pagoda::test {
namespace {

using Sequences = std::vector<std::vector<int32_t>>;

Sequences make_sequences(int n_vocab) {
  const std::vector<int> lengths = {7, 19, 1, 12};
  Sequences seqs;
  std::mt19937 rng(42);
  for (int len : lengths) {
    std::vector<int32_t> s;
    for (int i = 0; i < len; ++i) s.push_back(static_cast<int32_t>(rng() % static_cast<unsigned>(n_vocab)));
    seqs.push_back(s);
  }
  return seqs;
}

// Logits of every token, per sequence ([len, n_vocab] each), evaluating the
// sequences together: at each forward, sequence i contributes its next
// chunk_size(i, step) tokens (rows interleaved with the other sequences').
Sequences::value_type::size_type total(const Sequences& s) {
  size_t n = 0;
  for (const auto& x : s) n += x.size();
  return n;
}

// K and V element types of the cache.
struct KvPair {
  KvType k, v;
};

std::string describe(KvPair kv) {
  return "K " + std::string(kv_type_name(kv.k)) + ", V " + std::string(kv_type_name(kv.v));
}

std::vector<std::vector<float>> evaluate(model::Model& m, const Sequences& seqs, KvPair kv,
                                         const std::function<int(size_t seq, int step)>& chunk,
                                         bool interleave, int threads) {
  const int32_t n_vocab = m.n_vocab();
  auto cache = m.make_kv_cache(static_cast<int>(seqs.size()), 32, kv.k, kv.v);
  EXPECT_TRUE(cache.ok()) << cache.error().message;
  std::vector<std::vector<float>> out(seqs.size());
  std::vector<size_t> done(seqs.size(), 0);
  ThreadPool pool(threads);
  std::vector<float> logits;
  for (int step = 0; total(seqs) > 0; ++step) {
    model::Batch batch;
    std::vector<size_t> row_seq;  // sequence of each logits row
    // Rows of one sequence stay in order; interleaving alternates sequences.
    std::vector<std::vector<int32_t>> pending(seqs.size());
    for (size_t s = 0; s < seqs.size(); ++s) {
      const size_t n = std::min<size_t>(static_cast<size_t>(chunk(s, step)), seqs[s].size() - done[s]);
      for (size_t i = 0; i < n; ++i) pending[s].push_back(static_cast<int32_t>(done[s] + i));
    }
    bool any = false;
    for (size_t round = 0;; ++round) {
      bool added = false;
      for (size_t s = 0; s < seqs.size(); ++s) {
        const size_t begin = interleave ? round : 0;
        const size_t end = interleave ? round + 1 : pending[s].size();
        if (!interleave && round > 0) break;
        for (size_t i = begin; i < std::min(end, pending[s].size()); ++i) {
          const int32_t pos = pending[s][i];
          batch.add(seqs[s][static_cast<size_t>(pos)], pos, static_cast<int32_t>(s), true);
          row_seq.push_back(s);
          added = any = true;
        }
      }
      if (!added) break;
    }
    if (!any) break;
    auto ok = m.forward(batch, **cache, pool, logits);
    EXPECT_TRUE(ok.ok()) << ok.error().message;
    if (!ok) return out;
    for (size_t r = 0; r < row_seq.size(); ++r) {
      auto& dst = out[row_seq[r]];
      dst.insert(dst.end(), logits.begin() + static_cast<ptrdiff_t>(r * n_vocab),
                 logits.begin() + static_cast<ptrdiff_t>((r + 1) * n_vocab));
    }
    for (size_t s = 0; s < seqs.size(); ++s) done[s] += pending[s].size();
    bool finished = true;
    for (size_t s = 0; s < seqs.size(); ++s) finished &= done[s] == seqs[s].size();
    if (finished) break;
  }
  return out;
}

void expect_batch_invariant(model::Model& m, KvPair kv) {
  const Sequences seqs = make_sequences(m.n_vocab());
  // Baseline: each sequence alone, in one forward.
  std::vector<std::vector<float>> alone;
  for (const auto& s : seqs) {
    auto r = evaluate(m, {s}, kv, [](size_t, int) { return 1000; }, false, 1);
    alone.push_back(r[0]);
  }
  struct Variant {
    const char* name;
    std::function<int(size_t, int)> chunk;
    bool interleave;
    int threads;
  };
  const std::vector<Variant> variants = {
      {"all together, one forward", [](size_t, int) { return 1000; }, false, 2},
      {"all together, interleaved rows", [](size_t, int) { return 1000; }, true, 3},
      {"one token per forward", [](size_t, int) { return 1; }, true, 2},
      {"chunks of 5", [](size_t, int) { return 5; }, false, 2},
      {"ragged chunks", [](size_t s, int step) { return 1 + static_cast<int>((s * 3 + step * 7) % 6); }, true, 4},
  };
  for (const auto& v : variants) {
    auto got = evaluate(m, seqs, kv, v.chunk, v.interleave, v.threads);
    for (size_t s = 0; s < seqs.size(); ++s) {
      ASSERT_EQ(got[s].size(), alone[s].size()) << v.name << ", sequence " << s;
      EXPECT_EQ(0, std::memcmp(got[s].data(), alone[s].data(), got[s].size() * sizeof(float)))
          << v.name << ": sequence " << s << " differs from evaluating it alone ("
          << describe(kv) << ")";
    }
  }
}

TEST(BatchInvariance, TinyModelF16Cache) {
  TinyModel tm = make_tiny_model(TinySpec{});
  auto m = load_tiny_model(tm);
  ASSERT_TRUE(m.ok()) << m.error().message;
  expect_batch_invariant(**m, {KvType::f16, KvType::f16});
}

TEST(BatchInvariance, TinyQwen3F32Cache) {
  TinySpec spec;
  spec.arch = "qwen3";
  spec.qk_norm = true;
  spec.head_dim = 16;
  TinyModel tm = make_tiny_model(spec);
  auto m = load_tiny_model(tm);
  ASSERT_TRUE(m.ok()) << m.error().message;
  expect_batch_invariant(**m, {KvType::f32, KvType::f32});
}

TEST(BatchInvariance, TinyModelQ8Cache) {
  TinySpec spec;
  spec.n_embd = 64;
  spec.n_head = 2;  // head_dim 32
  TinyModel tm = make_tiny_model(spec);
  auto m = load_tiny_model(tm);
  ASSERT_TRUE(m.ok()) << m.error().message;
  expect_batch_invariant(**m, {KvType::q8_0, KvType::q8_0});
}

// Every type for K and V alike, plus mixed pairs (both orders of a block type
// with a one-element type, two block types).
std::vector<KvPair> kv_pairs() {
  std::vector<KvPair> pairs;
  for (KvType t : kAllKvTypes) pairs.push_back({t, t});
  pairs.push_back({KvType::q8_0, KvType::q4_0});
  pairs.push_back({KvType::q4_0, KvType::q8_0});
  pairs.push_back({KvType::f16, KvType::q8_0});
  pairs.push_back({KvType::q8_0, KvType::f16});
  pairs.push_back({KvType::bf16, KvType::fp8_e5m2});
  pairs.push_back({KvType::f32, KvType::f16});
  return pairs;
}

// Head size 8: a q8_0/q4_0 block spans every head of a row.
TEST(BatchInvariance, TinyModelHeadSize8EveryKvType) {
  TinyModel tm = make_tiny_model(TinySpec{});
  ASSERT_EQ(tm.spec.resolved_head_dim(), 8);
  auto m = load_tiny_model(tm);
  ASSERT_TRUE(m.ok()) << m.error().message;
  for (KvPair kv : kv_pairs()) {
    SCOPED_TRACE(describe(kv));
    expect_batch_invariant(**m, kv);
  }
}

// Head size 32 with mixed pairs: the block-aligned quantized-K path with other V types.
TEST(BatchInvariance, TinyModelHeadSize32MixedKvTypes) {
  TinySpec spec;
  spec.n_embd = 64;
  spec.n_head = 2;  // head_dim 32
  spec.n_kv_head = 1;
  TinyModel tm = make_tiny_model(spec);
  auto m = load_tiny_model(tm);
  ASSERT_TRUE(m.ok()) << m.error().message;
  for (KvPair kv : kv_pairs()) {
    SCOPED_TRACE(describe(kv));
    expect_batch_invariant(**m, kv);
  }
}

// stories260K: head size 8, 4 kv heads (one q8_0/q4_0 block per row).
TEST(BatchInvariance, Stories260K) {
  PAGODA_REQUIRE_FIXTURE("models/stories260K.gguf");
  auto m = model::Model::load(fixture("models/stories260K.gguf"));
  ASSERT_TRUE(m.ok()) << m.error().message;
  for (KvPair kv : kv_pairs()) {
    SCOPED_TRACE(describe(kv));
    expect_batch_invariant(**m, kv);
  }
}

TEST(BatchInvariance, LlamaSpmQ4KM) {
  PAGODA_REQUIRE_FIXTURE("models/llama-spm-q4_k_m.gguf");
  auto m = model::Model::load(fixture("models/llama-spm-q4_k_m.gguf"));
  ASSERT_TRUE(m.ok()) << m.error().message;
  expect_batch_invariant(**m, {KvType::f16, KvType::f16});
}

}  // namespace
}  // namespace pagoda::test
