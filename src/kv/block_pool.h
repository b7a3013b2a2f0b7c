#pragma once
// The paged KV cache's bookkeeping: a fixed number of blocks, each holding the
// K/V rows of `block_size` consecutive positions of one sequence (the bytes
// live in PagedKvCache; this class only deals in block ids).
//
// A block is in exactly one of three states:
//  - free:      no owner, no cached content      (on the free stack)
//  - cached:    no owner, but holds a full block of known content, found by
//               its prefix hash; evicted least-recently-released first when
//               the pool runs out of free blocks     (on the LRU list)
//  - in use:    ref_count > 0 owners (sequences sharing a prefix, n > 1
//               samples of one prompt); may also be registered in the cache
//
// Not thread-safe: owned by the engine loop. All operations are O(1) except
// the invariant check.
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace pagoda::kv {

using BlockId = int32_t;
using BlockHash = uint64_t;

// Chained hash naming a full block: its parent's hash (0 for the first block),
// the token ids it holds, and a salt (the KV element types, so caches of
// different types never share an entry).
BlockHash hash_block(BlockHash parent, std::span<const int32_t> tokens, uint64_t salt);

class BlockPool {
 public:
  // n_blocks > 0. With prefix_caching false, register_full is a no-op and
  // released blocks go straight back to the free stack.
  BlockPool(int n_blocks, int block_size, bool prefix_caching);

  int n_blocks() const { return static_cast<int>(ref_.size()); }
  int block_size() const { return block_size_; }
  bool prefix_caching() const { return prefix_caching_; }
  // Blocks that allocate() can hand out now (free + cached-unreferenced).
  int n_available() const { return static_cast<int>(free_.size()) + n_lru_; }
  // Blocks with at least one owner.
  int n_in_use() const { return n_blocks() - n_available(); }
  // Blocks holding cached content (in use or not).
  int n_cached() const { return static_cast<int>(by_hash_.size()); }

  // Takes a block with ref_count 1: a free one if any, else evicts the least
  // recently released cached block (dropping its cache entry). nullopt when
  // every block is in use.
  std::optional<BlockId> allocate();
  // Adds an owner to an in-use or cached block (a cached one leaves the LRU).
  void retain(BlockId id);
  // Drops an owner; at zero owners the block becomes cached (if registered,
  // most recently used end of the LRU) or free.
  void release(BlockId id);
  int ref_count(BlockId id) const { return ref_[static_cast<size_t>(id)]; }

  // The cached block whose content is (hash, tokens, parent), or nullopt. The
  // tokens and parent are compared too, so a hash collision is never a hit.
  std::optional<BlockId> lookup(BlockHash hash, BlockHash parent,
                                std::span<const int32_t> tokens) const;
  // Records that in-use block `id` now holds the full content named by hash
  // (parent hash and tokens kept for verification). No-op if the pool does no
  // prefix caching, the block is already registered, or another block already
  // holds this content.
  void register_full(BlockId id, BlockHash hash, BlockHash parent,
                     std::span<const int32_t> tokens);
  // True when `id` is registered in the prefix cache.
  bool is_registered(BlockId id) const { return meta_[static_cast<size_t>(id)].registered; }

  // Throws pagoda::Exception describing the first broken invariant (tests).
  void check_invariants() const;

 private:
  struct Meta {
    bool registered = false;
    BlockHash hash = 0;
    BlockHash parent = 0;
    std::vector<int32_t> tokens;  // [block_size] content, for collision checks
  };
  void lru_push_back(BlockId id);
  void lru_remove(BlockId id);
  void unregister(BlockId id);

  int block_size_;
  bool prefix_caching_;
  std::vector<int32_t> ref_;        // [n_blocks] owners
  std::vector<Meta> meta_;          // [n_blocks]
  std::vector<BlockId> free_;       // stack of free, unregistered blocks
  // Intrusive doubly linked LRU of cached, unreferenced blocks (-1 = none).
  std::vector<BlockId> prev_, next_;  // [n_blocks]
  std::vector<uint8_t> in_lru_;       // [n_blocks]
  BlockId lru_head_ = -1, lru_tail_ = -1;
  int n_lru_ = 0;
  std::unordered_map<BlockHash, BlockId> by_hash_;
};

}  // namespace pagoda::kv
