#pragma once
// The bytes of the paged KV cache: one arena per (layer, K|V), cut into
// n_blocks blocks of block_size rows. Sequences occupy "slots" (0 .. n_seq-1,
// the engine's running sequences); the engine binds a slot to a block table
// before each step, and the model reads/writes the slot through the KvCache
// interface like any other cache.
//
// Memory is reserved up front as one anonymous mapping but only touched as
// blocks are written, so an idle pool costs address space, not RAM.
// Not thread-safe (engine loop); kernels may touch distinct rows concurrently.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/expected.h"
#include "kv/block_pool.h"
#include "kv/kv_store.h"

namespace pagoda::kv {

class PagedKvCache final : public KvCache {
 public:
  // shape.n_seq: slots; shape.n_ctx: the longest sequence (max model length).
  // Errors: invalid shape, non-positive sizes, allocation failure.
  static Expected<std::unique_ptr<PagedKvCache>> create(const KvShape& shape, int n_blocks,
                                                        int block_size);
  ~PagedKvCache() override;
  // K+V bytes one block of block_size positions takes over all layers, rows
  // rounded up to 64 bytes per (layer, K|V) block: what sizing must use.
  static size_t bytes_per_block(const KvShape& shape, int block_size);

  int n_blocks() const { return n_blocks_; }
  int block_size() const { return block_size_; }
  // K+V bytes of one block over all layers.
  size_t block_bytes() const;
  // K+V bytes of one token position over all layers.
  size_t token_bytes() const;

  // Points `slot` at `blocks` (ids < n_blocks): positions [0, length) are
  // valid, positions up to blocks.size() * block_size are writable. The span
  // is copied.
  void bind(int slot, std::span<const BlockId> blocks, int length);
  // Detaches `slot` (length 0, no blocks).
  void unbind(int slot);
  // Copies every layer's K and V rows of block src into block dst.
  void copy_block(BlockId src, BlockId dst);

  const KvShape& shape() const override { return shape_; }
  int length(int seq) const override;
  Expected<void> reserve(int seq, int n) override;
  Expected<void> set_length(int seq, int n) override;
  Expected<void> truncate(int seq, int n) override;
  KvRows keys(int layer, int seq) override { return view(layer, seq, 0); }
  KvRows values(int layer, int seq) override { return view(layer, seq, 1); }
  size_t memory_bytes() const override { return bytes_; }

 private:
  PagedKvCache(const KvShape& shape, int n_blocks, int block_size);
  Expected<void> check_slot(int slot) const;
  KvRows view(int layer, int slot, int which);
  uint8_t* block_base(int layer, int which, BlockId id) const;

  struct Slot {
    std::vector<BlockId> blocks;
    int length = 0;
    std::vector<uint8_t*> k_ptrs, v_ptrs;  // [blocks] of the layer last viewed
  };

  KvShape shape_;
  int n_blocks_, block_size_;
  size_t row_bytes_[2];    // K, V bytes per position (one layer)
  size_t block_stride_[2]; // K, V bytes of one block (rows rounded up to 64 bytes)
  size_t arena_bytes_[2];  // K, V bytes of one layer's arena
  size_t bytes_ = 0;
  uint8_t* base_ = nullptr;  // [n_layer][K arena, V arena]
  std::vector<Slot> slots_;  // [n_seq]
};

}  // namespace pagoda::kv
