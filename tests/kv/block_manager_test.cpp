// BlockManager: prefix matching, all-or-nothing reserve, copy-on-write after
// fork, commit of chained hashes, and release order.
#include "kv/block_manager.h"

#include <gtest/gtest.h>

#include <numeric>
#include <set>
#include <vector>

namespace pagoda::kv {
namespace {

constexpr uint64_t kSalt = 0x5a17;

std::vector<int32_t> iota_tokens(int n, int32_t start = 100) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), start);
  return t;
}

std::span<const int32_t> block_of(const std::vector<int32_t>& t, int i, int bs) {
  return std::span<const int32_t>(t).subspan(static_cast<size_t>(i * bs), static_cast<size_t>(bs));
}

// A table holding `tokens`, computed and committed, as a finished prefill leaves it.
BlockTable computed_table(BlockManager& m, const std::vector<int32_t>& tokens) {
  BlockTable t;
  std::vector<BlockCopy> copies;
  EXPECT_TRUE(m.reserve(t, 0, static_cast<int>(tokens.size()), copies));
  EXPECT_TRUE(copies.empty());
  m.commit(t, tokens, static_cast<int>(tokens.size()));
  return t;
}

TEST(BlockManager, MatchPrefixTakesOnlyFullBlocksUpToMaxAndRetains) {
  BlockManager m(8, 4, true, kSalt);
  const auto tokens = iota_tokens(10);  // 2 full blocks + 2 tokens
  BlockTable a = computed_table(m, tokens);
  ASSERT_EQ(a.blocks.size(), 3u);
  ASSERT_EQ(a.hashes.size(), 2u) << "the partial block is not hashed";

  BlockTable b;
  EXPECT_EQ(m.match_prefix(tokens, 10, b), 8);
  EXPECT_EQ(b.blocks, std::vector<BlockId>(a.blocks.begin(), a.blocks.begin() + 2));
  EXPECT_EQ(b.hashes, a.hashes);
  EXPECT_EQ(m.pool().ref_count(a.blocks[0]), 2);
  EXPECT_EQ(m.pool().ref_count(a.blocks[1]), 2);
  EXPECT_EQ(m.pool().ref_count(a.blocks[2]), 1);

  BlockTable c;  // max_tokens 7 allows one full block only
  EXPECT_EQ(m.match_prefix(tokens, 7, c), 4);
  EXPECT_EQ(c.blocks, std::vector<BlockId>{a.blocks[0]});
  EXPECT_EQ(m.pool().ref_count(a.blocks[0]), 3);

  BlockTable d;  // different first token: no hit at all
  auto other = tokens;
  other[0] = 1;
  EXPECT_EQ(m.match_prefix(other, 10, d), 0);
  EXPECT_TRUE(d.blocks.empty());

  BlockTable e;  // without caching nothing ever matches
  BlockManager off(8, 4, false, kSalt);
  BlockTable f = computed_table(off, tokens);
  EXPECT_EQ(off.match_prefix(tokens, 10, e), 0);
  EXPECT_TRUE(e.blocks.empty());
  m.pool().check_invariants();
}

TEST(BlockManager, MatchPrefixStopsAtFirstMiss) {
  BlockManager m(3, 4, true, kSalt);
  const auto tokens = iota_tokens(12);
  BlockTable a = computed_table(m, tokens);
  const std::vector<BlockId> blocks = a.blocks;
  m.free(a);  // LRU now: blocks[2], blocks[1], blocks[0]
  // Evict only the middle block: take blocks[2] out of the LRU, then allocate.
  m.pool().retain(blocks[2]);
  ASSERT_EQ(m.pool().allocate(), blocks[1]);
  ASSERT_TRUE(m.pool().is_registered(blocks[2])) << "block 2 is still findable by its hash";
  BlockTable b;
  // Block 2's hash chains from block 1's, so it would still be found: a hole.
  EXPECT_EQ(m.match_prefix(tokens, 12, b), 4);
  EXPECT_EQ(b.blocks, std::vector<BlockId>{blocks[0]});
  EXPECT_EQ(m.pool().ref_count(blocks[2]), 1) << "the block after the miss is not retained";
  m.pool().check_invariants();
}

TEST(BlockManager, ReserveIsAllOrNothing) {
  BlockManager m(4, 4, false, kSalt);
  std::vector<BlockCopy> copies;
  BlockTable a;
  ASSERT_TRUE(m.reserve(a, 0, 9, copies));  // 3 blocks
  EXPECT_EQ(a.blocks.size(), 3u);
  EXPECT_EQ(m.pool().n_available(), 1);

  BlockTable b;  // needs 2, only 1 left
  EXPECT_FALSE(m.reserve(b, 0, 5, copies));
  EXPECT_TRUE(b.blocks.empty());
  EXPECT_EQ(m.pool().n_available(), 1);
  // Growing an existing table: an extra block beyond the last fits, two do not.
  const auto before = a.blocks;
  EXPECT_FALSE(m.reserve(a, 9, 17, copies));
  EXPECT_EQ(a.blocks, before);
  EXPECT_TRUE(copies.empty());

  // A forked table writing into the shared partial block needs a copy plus a
  // new block: 2 > 1 available, so nothing changes, not even the copy.
  BlockTable f = m.fork(a);
  EXPECT_FALSE(m.reserve(f, 9, 13, copies));
  EXPECT_EQ(f.blocks, before);
  EXPECT_TRUE(copies.empty());
  for (BlockId id : before) EXPECT_EQ(m.pool().ref_count(id), 2);
  EXPECT_EQ(m.pool().n_available(), 1);
  // The copy alone fits.
  EXPECT_TRUE(m.reserve(f, 9, 12, copies));
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(copies[0].src, before[2]);
  EXPECT_EQ(f.blocks[2], copies[0].dst);
  EXPECT_EQ(m.pool().n_available(), 0);
  m.pool().check_invariants();
}

TEST(BlockManager, CopyOnWriteForEveryWriterWhileShared) {
  BlockManager m(8, 4, true, kSalt);
  const auto tokens = iota_tokens(6);  // block 0 full, block 1 holds 2 of 4
  BlockTable a = computed_table(m, tokens);
  BlockTable b = m.fork(a), c = m.fork(a);
  const BlockId full = a.blocks[0], partial = a.blocks[1];
  EXPECT_EQ(m.pool().ref_count(partial), 3);
  EXPECT_EQ(b.hashes, a.hashes);

  std::vector<BlockCopy> copies;
  ASSERT_TRUE(m.reserve(a, 6, 7, copies));  // a writes position 6
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(copies[0].src, partial);
  EXPECT_EQ(a.blocks[1], copies[0].dst);
  EXPECT_EQ(a.blocks[0], full) << "the full block is not written: stays shared";
  EXPECT_EQ(m.pool().ref_count(partial), 2);
  EXPECT_EQ(m.pool().ref_count(a.blocks[1]), 1);

  ASSERT_TRUE(m.reserve(b, 6, 8, copies));
  ASSERT_EQ(copies.size(), 2u);
  EXPECT_EQ(copies[1].src, partial);
  EXPECT_EQ(b.blocks[1], copies[1].dst);
  EXPECT_EQ(m.pool().ref_count(partial), 1);

  ASSERT_TRUE(m.reserve(c, 6, 7, copies));  // the last holder writes in place
  EXPECT_EQ(copies.size(), 2u);
  EXPECT_EQ(c.blocks[1], partial);
  EXPECT_EQ((std::set<BlockId>{a.blocks[1], b.blocks[1], c.blocks[1]}).size(), 3u);
  EXPECT_EQ(m.pool().ref_count(full), 3);

  // A write range that starts in a fresh block leaves the shared ones alone.
  BlockTable d = m.fork(c);
  ASSERT_TRUE(m.reserve(d, 8, 9, copies));
  EXPECT_EQ(copies.size(), 2u);
  EXPECT_EQ(d.blocks[1], partial);
  EXPECT_EQ(d.blocks.size(), 3u);
  m.pool().check_invariants();
}

TEST(BlockManager, CommitRegistersFullComputedBlocksWithChainedHashes) {
  BlockManager m(8, 4, true, kSalt);
  const auto tokens = iota_tokens(10);
  BlockTable t;
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(m.reserve(t, 0, 10, copies));
  m.commit(t, tokens, 3);
  EXPECT_TRUE(t.hashes.empty()) << "no full block computed yet";
  EXPECT_FALSE(m.pool().is_registered(t.blocks[0]));

  m.commit(t, tokens, 5);
  ASSERT_EQ(t.hashes.size(), 1u);
  EXPECT_EQ(t.hashes[0], hash_block(0, block_of(tokens, 0, 4), kSalt));
  EXPECT_TRUE(m.pool().is_registered(t.blocks[0]));

  m.commit(t, tokens, 10);
  ASSERT_EQ(t.hashes.size(), 2u);
  EXPECT_EQ(t.hashes[1], hash_block(t.hashes[0], block_of(tokens, 1, 4), kSalt));
  EXPECT_TRUE(m.pool().is_registered(t.blocks[1]));
  EXPECT_FALSE(m.pool().is_registered(t.blocks[2])) << "partial block";
  EXPECT_EQ(m.pool().n_cached(), 2);
  EXPECT_EQ(m.pool().lookup(t.hashes[1], t.hashes[0], block_of(tokens, 1, 4)), t.blocks[1]);

  // Same block contents at another position hash differently (chained).
  const std::vector<int32_t> shifted(tokens.begin() + 4, tokens.end());
  BlockTable s;
  EXPECT_EQ(m.match_prefix(shifted, 6, s), 0);

  // Another salt (KV element types) never shares entries.
  BlockManager other(8, 4, true, kSalt + 1);
  BlockTable o = computed_table(other, tokens);
  EXPECT_NE(o.hashes[0], t.hashes[0]);

  BlockManager off(8, 4, false, kSalt);
  BlockTable n = computed_table(off, tokens);
  EXPECT_TRUE(n.hashes.empty());
  EXPECT_EQ(off.pool().n_cached(), 0);
}

TEST(BlockManager, FreeReleasesEverythingTailFirst) {
  BlockManager m(3, 4, true, kSalt);
  const auto tokens = iota_tokens(12);
  BlockTable a = computed_table(m, tokens);
  BlockTable shared = m.fork(a);
  const auto blocks = a.blocks;
  m.free(a);
  EXPECT_TRUE(a.blocks.empty());
  EXPECT_TRUE(a.hashes.empty());
  for (BlockId id : blocks) EXPECT_EQ(m.pool().ref_count(id), 1) << "the fork still holds it";
  m.free(shared);
  EXPECT_EQ(m.pool().n_in_use(), 0);
  EXPECT_EQ(m.pool().n_cached(), 3);
  // Tail released first = evicted first, so the prefix survives longest.
  EXPECT_EQ(m.pool().allocate(), blocks[2]);
  BlockTable b;
  EXPECT_EQ(m.match_prefix(tokens, 12, b), 8);
  EXPECT_EQ(m.pool().allocate(), std::nullopt) << "b holds the two others";
  m.free(b);
  EXPECT_EQ(m.pool().allocate(), blocks[1]);
  m.pool().check_invariants();
}

}  // namespace
}  // namespace pagoda::kv
