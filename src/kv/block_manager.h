#pragma once
// Per-sequence block tables over a BlockPool: prefix-cache matching, growth on
// demand, copy-on-write of shared blocks, fork (n > 1 samples of one prompt)
// and release. Pure bookkeeping (vLLM's KVCacheManager): it never touches KV
// bytes; the copies it asks for are done by the cache that owns them.
// Not thread-safe: owned by the engine loop.
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "kv/block_pool.h"

namespace pagoda::kv {

// The blocks of one sequence: position p lives in blocks[p / block_size].
struct BlockTable {
  std::vector<BlockId> blocks;
  // [n] chained hashes of blocks 0 .. n-1, for the full blocks whose tokens
  // have all been computed (registered in the prefix cache, or meant to be).
  std::vector<BlockHash> hashes;
};

// A block copy the cache must make before the step's writes: dst = src.
struct BlockCopy {
  BlockId src, dst;
};

class BlockManager {
 public:
  // salt: mixed into every block hash (the KV element types).
  BlockManager(int n_blocks, int block_size, bool prefix_caching, uint64_t salt);

  BlockPool& pool() { return pool_; }
  const BlockPool& pool() const { return pool_; }
  int block_size() const { return pool_.block_size(); }
  // Blocks needed to hold n_tokens positions.
  int blocks_for(int64_t n_tokens) const {
    return static_cast<int>((n_tokens + block_size() - 1) / block_size());
  }

  // Fills the empty `table` with the cached blocks of the longest prefix of
  // `tokens` made of full blocks and at most max_tokens long (retaining each);
  // returns the number of tokens they hold (0 without prefix caching).
  int match_prefix(std::span<const int32_t> tokens, int max_tokens, BlockTable& table);

  // Makes positions [n_computed, n_total) of `table` writable: appends new
  // blocks up to n_total and replaces a shared (ref_count > 1) block in that
  // range by a private copy, appending the copy to `copies`. All or nothing:
  // returns false and changes nothing when the pool has too few blocks.
  bool reserve(BlockTable& table, int n_computed, int n_total, std::vector<BlockCopy>& copies);

  // Registers in the prefix cache every full block of tokens[0, n_computed)
  // not registered yet (no-op without prefix caching).
  void commit(BlockTable& table, std::span<const int32_t> tokens, int n_computed);

  // A new table sharing every block of `src` (each retained once more).
  BlockTable fork(const BlockTable& src);

  // Releases every block of `table` (last block first, so a prefix outlives
  // its tails in the LRU) and empties it.
  void free(BlockTable& table);

 private:
  BlockPool pool_;
  uint64_t salt_;
};

}  // namespace pagoda::kv
