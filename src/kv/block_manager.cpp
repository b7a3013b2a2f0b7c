// Block tables over the pool: matching, reserving, copy-on-write, committing hashes.
#include "kv/block_manager.h"

#include <algorithm>

namespace pagoda::kv {

BlockManager::BlockManager(int n_blocks, int block_size, bool prefix_caching, uint64_t salt)
    : pool_(n_blocks, block_size, prefix_caching), salt_(salt) {}

int BlockManager::match_prefix(std::span<const int32_t> tokens, int max_tokens, BlockTable& table) {
  if (!pool_.prefix_caching()) return 0;
  const int bs = block_size();
  const int n_full = std::min<int64_t>(static_cast<int64_t>(tokens.size()), max_tokens) / bs;
  BlockHash parent = 0;
  for (int i = 0; i < n_full; ++i) {
    auto chunk = tokens.subspan(static_cast<size_t>(i) * bs, static_cast<size_t>(bs));
    const BlockHash h = hash_block(parent, chunk, salt_);
    auto hit = pool_.lookup(h, parent, chunk);
    if (!hit) break;
    pool_.retain(*hit);
    table.blocks.push_back(*hit);
    table.hashes.push_back(h);
    parent = h;
  }
  return static_cast<int>(table.blocks.size()) * bs;
}

bool BlockManager::reserve(BlockTable& table, int n_computed, int n_total,
                           std::vector<BlockCopy>& copies) {
  const int bs = block_size();
  const int have = static_cast<int>(table.blocks.size());
  const int want = blocks_for(n_total);
  const int n_new = std::max(0, want - have);
  // Shared blocks that this step writes into must be copied first.
  int n_cow = 0;
  const int first = n_computed / bs;
  for (int b = first; b < std::min(have, want); ++b)
    if (pool_.ref_count(table.blocks[static_cast<size_t>(b)]) > 1) ++n_cow;
  if (n_new + n_cow > pool_.n_available()) return false;
  for (int b = first; b < std::min(have, want); ++b) {
    BlockId& slot = table.blocks[static_cast<size_t>(b)];
    if (pool_.ref_count(slot) <= 1) continue;
    const BlockId copy = *pool_.allocate();
    copies.push_back({slot, copy});
    pool_.release(slot);
    slot = copy;
  }
  for (int i = 0; i < n_new; ++i) table.blocks.push_back(*pool_.allocate());
  return true;
}

void BlockManager::commit(BlockTable& table, std::span<const int32_t> tokens, int n_computed) {
  if (!pool_.prefix_caching()) return;
  const int bs = block_size();
  const int n_full = std::min<int64_t>(n_computed, static_cast<int64_t>(tokens.size())) / bs;
  for (int i = static_cast<int>(table.hashes.size()); i < n_full && i < static_cast<int>(table.blocks.size()); ++i) {
    const BlockHash parent = i == 0 ? 0 : table.hashes[static_cast<size_t>(i - 1)];
    auto chunk = tokens.subspan(static_cast<size_t>(i) * bs, static_cast<size_t>(bs));
    const BlockHash h = hash_block(parent, chunk, salt_);
    pool_.register_full(table.blocks[static_cast<size_t>(i)], h, parent, chunk);
    table.hashes.push_back(h);
  }
}

BlockTable BlockManager::fork(const BlockTable& src) {
  for (BlockId id : src.blocks) pool_.retain(id);
  return src;
}

void BlockManager::free(BlockTable& table) {
  for (auto it = table.blocks.rbegin(); it != table.blocks.rend(); ++it) pool_.release(*it);
  table.blocks.clear();
  table.hashes.clear();
}

}  // namespace pagoda::kv
