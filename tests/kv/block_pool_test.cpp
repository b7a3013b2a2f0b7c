// BlockPool: ref counts, the free stack / LRU split, collision-safe lookup,
// chained hashes, and a randomized comparison against a reference model.
#include "kv/block_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <list>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include "base/expected.h"

namespace pagoda::kv {
namespace {

std::vector<int32_t> toks(std::initializer_list<int32_t> t) {
  return std::vector<int32_t>(t);
}

TEST(BlockPool, AllocateRetainReleaseCountOwners) {
  BlockPool pool(4, 16, /*prefix_caching=*/false);
  EXPECT_EQ(pool.n_blocks(), 4);
  EXPECT_EQ(pool.n_available(), 4);
  // A fresh pool hands out low ids first, each exactly once.
  std::vector<BlockId> got;
  for (int i = 0; i < 4; ++i) {
    auto id = pool.allocate();
    ASSERT_TRUE(id);
    EXPECT_EQ(*id, i);
    EXPECT_EQ(pool.ref_count(*id), 1);
    got.push_back(*id);
  }
  EXPECT_FALSE(pool.allocate()) << "every block is in use";
  EXPECT_EQ(pool.n_in_use(), 4);

  pool.retain(got[2]);
  EXPECT_EQ(pool.ref_count(got[2]), 2);
  pool.release(got[2]);
  EXPECT_EQ(pool.ref_count(got[2]), 1);
  EXPECT_EQ(pool.n_available(), 0) << "still one owner";
  pool.release(got[2]);
  EXPECT_EQ(pool.ref_count(got[2]), 0);
  EXPECT_EQ(pool.n_available(), 1);
  pool.check_invariants();

  // Misuse is reported, not silently corrupting the counts.
  EXPECT_THROW(pool.release(got[2]), Exception);
  EXPECT_THROW(pool.retain(got[2]), Exception);
  pool.check_invariants();
  // The released block is the one handed out next.
  EXPECT_EQ(pool.allocate(), got[2]);
}

TEST(BlockPool, RegisterIsNoOpWithoutPrefixCaching) {
  BlockPool pool(2, 2, /*prefix_caching=*/false);
  const auto t = toks({5, 6});
  const BlockId id = *pool.allocate();
  const BlockHash h = hash_block(0, t, 1);
  pool.register_full(id, h, 0, t);
  EXPECT_FALSE(pool.is_registered(id));
  EXPECT_EQ(pool.n_cached(), 0);
  EXPECT_FALSE(pool.lookup(h, 0, t));
  pool.release(id);
  // Not cached: straight back on the free stack, so it is the next one out.
  EXPECT_EQ(pool.allocate(), id);
  pool.check_invariants();
}

TEST(BlockPool, CachedBlocksAreEvictedLeastRecentlyReleasedFirstOnlyWhenNoneFree) {
  BlockPool pool(4, 2, /*prefix_caching=*/true);
  std::vector<BlockId> b;
  for (int i = 0; i < 4; ++i) b.push_back(*pool.allocate());
  std::vector<std::vector<int32_t>> content = {toks({1, 2}), toks({3, 4}), toks({5, 6})};
  std::vector<BlockHash> h;
  for (int i = 0; i < 3; ++i) {
    h.push_back(hash_block(0, content[i], 9));
    pool.register_full(b[i], h[i], 0, content[i]);
    EXPECT_TRUE(pool.is_registered(b[i]));
  }
  EXPECT_EQ(pool.n_cached(), 3);
  // Release order b1, b0, b2 is the LRU order; b3 (unregistered) goes free.
  pool.release(b[1]);
  pool.release(b[0]);
  pool.release(b[2]);
  pool.release(b[3]);
  pool.check_invariants();
  EXPECT_EQ(pool.n_available(), 4);
  EXPECT_EQ(pool.n_in_use(), 0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(pool.lookup(h[i], 0, content[i]), b[i]);

  // The free block goes first; the cache stays intact.
  EXPECT_EQ(pool.allocate(), b[3]);
  EXPECT_EQ(pool.n_cached(), 3);
  // Then the least recently released cached block, dropping its entry.
  EXPECT_EQ(pool.allocate(), b[1]);
  EXPECT_FALSE(pool.is_registered(b[1]));
  EXPECT_FALSE(pool.lookup(h[1], 0, content[1]));
  EXPECT_EQ(pool.n_cached(), 2);
  // A retained cached block leaves the LRU, so b2 is evicted instead of b0.
  pool.retain(b[0]);
  EXPECT_EQ(pool.ref_count(b[0]), 1);
  EXPECT_EQ(pool.allocate(), b[2]);
  EXPECT_FALSE(pool.allocate());
  pool.check_invariants();
  // b0 kept its cache entry through being owned, and returns to the LRU.
  pool.release(b[0]);
  EXPECT_EQ(pool.lookup(h[0], 0, content[0]), b[0]);
  EXPECT_EQ(pool.n_available(), 1);
  pool.check_invariants();
}

TEST(BlockPool, LookupComparesTokensAndParentSoCollisionsMiss) {
  BlockPool pool(3, 3, /*prefix_caching=*/true);
  const auto a = toks({1, 2, 3}), other = toks({1, 2, 4});
  const BlockHash parent = 77;
  const BlockHash h = hash_block(parent, a, 0);
  const BlockId x = *pool.allocate();
  pool.register_full(x, h, parent, a);
  EXPECT_EQ(pool.lookup(h, parent, a), x);
  EXPECT_FALSE(pool.lookup(h, parent, other)) << "same hash, other tokens";
  EXPECT_FALSE(pool.lookup(h, parent + 1, a)) << "same hash, other parent";
  EXPECT_FALSE(pool.lookup(h, parent, toks({1, 2}))) << "prefix of the tokens";
  EXPECT_FALSE(pool.lookup(h + 1, parent, a));

  // Forced collision: other content registered under the same hash value is
  // not recorded, and never found.
  const BlockId y = *pool.allocate();
  pool.register_full(y, h, parent, other);
  EXPECT_FALSE(pool.is_registered(y));
  EXPECT_FALSE(pool.lookup(h, parent, other));
  EXPECT_EQ(pool.lookup(h, parent, a), x);
  // Registering twice (same block, another hash) keeps the first entry.
  pool.register_full(x, hash_block(0, other, 0), 0, other);
  EXPECT_FALSE(pool.lookup(hash_block(0, other, 0), 0, other));
  EXPECT_EQ(pool.n_cached(), 1);
  pool.check_invariants();
}

TEST(BlockPool, HashIsChainedAndSalted) {
  const auto t = toks({10, 20, 30, 40});
  const BlockHash root = hash_block(0, t, 5);
  EXPECT_EQ(root, hash_block(0, t, 5)) << "deterministic";
  EXPECT_NE(root, 0u) << "0 means no parent";
  EXPECT_NE(root, hash_block(root, t, 5)) << "same tokens, other parent";
  EXPECT_NE(hash_block(1, t, 5), hash_block(2, t, 5));
  EXPECT_NE(root, hash_block(0, t, 6)) << "salt (KV types) matters";
  EXPECT_NE(root, hash_block(0, toks({20, 10, 30, 40}), 5)) << "order matters";
  EXPECT_NE(hash_block(0, toks({1, 2}), 5), hash_block(0, toks({1, 2, 0}), 5)) << "length matters";
  EXPECT_NE(hash_block(0, toks({-1}), 5), hash_block(0, toks({0}), 5));
}

// Reference model of the pool: exact free stack, exact LRU order, hash map.
struct Model {
  int n;
  bool caching;
  std::vector<int> ref;
  std::vector<BlockId> free_stack;
  std::list<BlockId> lru;
  std::map<BlockHash, BlockId> by_hash;
  std::map<BlockId, std::pair<BlockHash, std::vector<int32_t>>> reg;  // id -> (hash, tokens)

  Model(int n_blocks, bool c) : n(n_blocks), caching(c), ref(n_blocks, 0) {
    for (int i = n - 1; i >= 0; --i) free_stack.push_back(i);
  }
  std::optional<BlockId> allocate() {
    BlockId id;
    if (!free_stack.empty()) {
      id = free_stack.back();
      free_stack.pop_back();
    } else if (!lru.empty()) {
      id = lru.front();
      lru.pop_front();
      by_hash.erase(reg[id].first);
      reg.erase(id);
    } else {
      return std::nullopt;
    }
    ref[id] = 1;
    return id;
  }
  void retain(BlockId id) {
    if (ref[id] == 0) lru.remove(id);
    ++ref[id];
  }
  void release(BlockId id) {
    if (--ref[id] > 0) return;
    if (reg.count(id))
      lru.push_back(id);
    else
      free_stack.push_back(id);
  }
  void register_full(BlockId id, BlockHash h, const std::vector<int32_t>& t) {
    if (!caching || reg.count(id) || by_hash.count(h)) return;
    reg[id] = {h, t};
    by_hash[h] = id;
  }
  std::optional<BlockId> lookup(BlockHash h, const std::vector<int32_t>& t) const {
    auto it = by_hash.find(h);
    if (it == by_hash.end() || reg.at(it->second).second != t) return std::nullopt;
    return it->second;
  }
};

void run_random(uint32_t seed, bool caching) {
  constexpr int kBlocks = 12, kBs = 2;
  std::mt19937 rng(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  BlockPool pool(kBlocks, kBs, caching);
  Model model(kBlocks, caching);
  std::vector<BlockId> handles;  // one entry per ownership held by the "sequences"
  // A tiny alphabet makes equal contents (dedup) frequent; hash h(t) is the
  // real one, or forced to another content's hash to simulate a collision.
  auto content = [&] { return std::vector<int32_t>{pick(0, 2), pick(0, 2)}; };
  const std::vector<int32_t> zeros{0, 0};
  auto hash_of = [&](const std::vector<int32_t>& t) {
    if (pick(0, 9) == 0) return hash_block(0, zeros, 3);  // collides unless t == zeros
    return hash_block(0, t, 3);
  };
  for (int op = 0; op < 6000; ++op) {
    const int kind = pick(0, 9);
    SCOPED_TRACE(testing::Message() << "seed " << seed << " op " << op << " kind " << kind);
    if (kind <= 2) {
      auto got = pool.allocate();
      auto want = model.allocate();
      ASSERT_EQ(got, want);
      if (got) handles.push_back(*got);
    } else if (kind <= 4 && !handles.empty()) {
      const size_t i = static_cast<size_t>(pick(0, static_cast<int>(handles.size()) - 1));
      const BlockId id = handles[i];
      handles.erase(handles.begin() + static_cast<long>(i));
      pool.release(id);
      model.release(id);
    } else if (kind == 5 && !handles.empty()) {
      const BlockId id =
          handles[static_cast<size_t>(pick(0, static_cast<int>(handles.size()) - 1))];
      pool.retain(id);
      model.retain(id);
      handles.push_back(id);
    } else if (kind <= 7 && !handles.empty()) {
      const BlockId id =
          handles[static_cast<size_t>(pick(0, static_cast<int>(handles.size()) - 1))];
      const auto t = content();
      const BlockHash h = hash_of(t);
      pool.register_full(id, h, 0, t);
      model.register_full(id, h, t);
      ASSERT_EQ(pool.is_registered(id), model.reg.count(id) == 1);
    } else {
      // A prefix-cache hit: look up some content and take an owner on it.
      const auto t = content();
      const BlockHash h = hash_of(t);
      auto got = pool.lookup(h, 0, t);
      ASSERT_EQ(got, model.lookup(h, t));
      if (got && pick(0, 1)) {
        pool.retain(*got);
        model.retain(*got);
        handles.push_back(*got);
      }
    }
    ASSERT_NO_THROW(pool.check_invariants());
    // Exact owners: ref counts equal the handles held, nothing else in use.
    std::vector<int> owners(kBlocks, 0);
    for (BlockId id : handles) ++owners[static_cast<size_t>(id)];
    int in_use = 0;
    for (int id = 0; id < kBlocks; ++id) {
      ASSERT_EQ(pool.ref_count(id), owners[static_cast<size_t>(id)]) << "block " << id;
      ASSERT_EQ(pool.is_registered(id), model.reg.count(id) == 1) << "block " << id;
      in_use += owners[static_cast<size_t>(id)] > 0;
    }
    ASSERT_EQ(pool.n_in_use(), in_use);
    ASSERT_EQ(pool.n_available(), kBlocks - in_use);
    ASSERT_EQ(pool.n_cached(), static_cast<int>(model.reg.size()));
    if (!caching) {
      ASSERT_EQ(pool.n_cached(), 0);
    }
  }
  // Everything released: every block available again.
  for (BlockId id : handles) pool.release(id);
  pool.check_invariants();
  EXPECT_EQ(pool.n_in_use(), 0);
}

TEST(BlockPool, RandomOperationsMatchReferenceModel) {
  for (uint32_t seed : {1u, 2u, 3u, 42u, 1234u}) {
    run_random(seed, /*caching=*/true);
    run_random(seed, /*caching=*/false);
  }
}

}  // namespace
}  // namespace pagoda::kv
