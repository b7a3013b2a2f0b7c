// Block pool: free stack + LRU of cached blocks + prefix-hash map.
#include "kv/block_pool.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/expected.h"

namespace pagoda::kv {

namespace {

uint64_t mix(uint64_t h, uint64_t v) {
  // splitmix64-style finaliser over h ^ v: cheap, and every input bit reaches every output bit.
  uint64_t x = h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

BlockHash hash_block(BlockHash parent, std::span<const int32_t> tokens, uint64_t salt) {
  uint64_t h = mix(0x70a60da0ULL, salt);
  h = mix(h, parent);
  h = mix(h, tokens.size());
  for (int32_t t : tokens) h = mix(h, static_cast<uint32_t>(t));
  return h == 0 ? 1 : h;  // 0 means "no parent"
}

BlockPool::BlockPool(int n_blocks, int block_size, bool prefix_caching)
    : block_size_(block_size),
      prefix_caching_(prefix_caching),
      ref_(static_cast<size_t>(n_blocks), 0),
      meta_(static_cast<size_t>(n_blocks)),
      prev_(static_cast<size_t>(n_blocks), -1),
      next_(static_cast<size_t>(n_blocks), -1),
      in_lru_(static_cast<size_t>(n_blocks), 0) {
  free_.reserve(static_cast<size_t>(n_blocks));
  // Low ids first out, so a fresh pool fills from the front (page-friendly).
  for (int i = n_blocks - 1; i >= 0; --i) free_.push_back(i);
}

void BlockPool::lru_push_back(BlockId id) {
  const auto i = static_cast<size_t>(id);
  prev_[i] = lru_tail_;
  next_[i] = -1;
  if (lru_tail_ >= 0) next_[static_cast<size_t>(lru_tail_)] = id;
  else lru_head_ = id;
  lru_tail_ = id;
  in_lru_[i] = 1;
  ++n_lru_;
}

void BlockPool::lru_remove(BlockId id) {
  const auto i = static_cast<size_t>(id);
  if (prev_[i] >= 0) next_[static_cast<size_t>(prev_[i])] = next_[i];
  else lru_head_ = next_[i];
  if (next_[i] >= 0) prev_[static_cast<size_t>(next_[i])] = prev_[i];
  else lru_tail_ = prev_[i];
  prev_[i] = next_[i] = -1;
  in_lru_[i] = 0;
  --n_lru_;
}

void BlockPool::unregister(BlockId id) {
  Meta& m = meta_[static_cast<size_t>(id)];
  if (!m.registered) return;
  auto it = by_hash_.find(m.hash);
  if (it != by_hash_.end() && it->second == id) by_hash_.erase(it);
  m.registered = false;
  m.tokens.clear();
}

std::optional<BlockId> BlockPool::allocate() {
  BlockId id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else if (lru_head_ >= 0) {
    id = lru_head_;
    lru_remove(id);
    unregister(id);
  } else {
    return std::nullopt;
  }
  ref_[static_cast<size_t>(id)] = 1;
  return id;
}

void BlockPool::retain(BlockId id) {
  const auto i = static_cast<size_t>(id);
  if (ref_[i] == 0) {
    if (!in_lru_[i]) throw Exception(fmt::format("block pool: retain of free block {}", id));
    lru_remove(id);
  }
  ++ref_[i];
}

void BlockPool::release(BlockId id) {
  const auto i = static_cast<size_t>(id);
  if (ref_[i] <= 0) throw Exception(fmt::format("block pool: release of unowned block {}", id));
  if (--ref_[i] > 0) return;
  if (meta_[i].registered) lru_push_back(id);
  else free_.push_back(id);
}

std::optional<BlockId> BlockPool::lookup(BlockHash hash, BlockHash parent,
                                         std::span<const int32_t> tokens) const {
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return std::nullopt;
  const Meta& m = meta_[static_cast<size_t>(it->second)];
  if (m.parent != parent || !std::equal(m.tokens.begin(), m.tokens.end(), tokens.begin(), tokens.end()))
    return std::nullopt;
  return it->second;
}

void BlockPool::register_full(BlockId id, BlockHash hash, BlockHash parent,
                              std::span<const int32_t> tokens) {
  if (!prefix_caching_) return;
  Meta& m = meta_[static_cast<size_t>(id)];
  if (m.registered || by_hash_.count(hash)) return;
  m.registered = true;
  m.hash = hash;
  m.parent = parent;
  m.tokens.assign(tokens.begin(), tokens.end());
  by_hash_.emplace(hash, id);
}

void BlockPool::check_invariants() const {
  const int n = n_blocks();
  std::vector<int> seen(static_cast<size_t>(n), 0);  // 1 free, 2 lru
  for (BlockId id : free_) {
    if (id < 0 || id >= n) throw Exception(fmt::format("free stack holds bad id {}", id));
    if (seen[static_cast<size_t>(id)]) throw Exception(fmt::format("block {} on the free stack twice", id));
    seen[static_cast<size_t>(id)] = 1;
    if (ref_[static_cast<size_t>(id)] != 0) throw Exception(fmt::format("free block {} has owners", id));
    if (meta_[static_cast<size_t>(id)].registered) throw Exception(fmt::format("free block {} is registered", id));
  }
  int count = 0;
  BlockId prev = -1;
  for (BlockId id = lru_head_; id >= 0; id = next_[static_cast<size_t>(id)]) {
    if (seen[static_cast<size_t>(id)]) throw Exception(fmt::format("block {} both free and cached", id));
    seen[static_cast<size_t>(id)] = 2;
    if (prev_[static_cast<size_t>(id)] != prev) throw Exception("lru links broken");
    if (ref_[static_cast<size_t>(id)] != 0) throw Exception(fmt::format("cached block {} has owners", id));
    if (!meta_[static_cast<size_t>(id)].registered) throw Exception(fmt::format("lru block {} is not registered", id));
    prev = id;
    if (++count > n) throw Exception("lru has a cycle");
  }
  if (prev != lru_tail_ || count != n_lru_) throw Exception("lru tail/count wrong");
  for (int id = 0; id < n; ++id) {
    const auto i = static_cast<size_t>(id);
    if (ref_[i] < 0) throw Exception(fmt::format("block {} has negative owners", id));
    if (!seen[i] && ref_[i] == 0) throw Exception(fmt::format("block {} leaked (no owner, not free)", id));
    if (seen[i] && ref_[i] != 0) throw Exception(fmt::format("block {} owned and available", id));
  }
  for (const auto& [hash, id] : by_hash_) {
    const Meta& m = meta_[static_cast<size_t>(id)];
    if (!m.registered || m.hash != hash) throw Exception(fmt::format("hash map entry for block {} stale", id));
  }
}

}  // namespace pagoda::kv
