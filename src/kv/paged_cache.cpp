// Paged KV storage: per-(layer, K|V) arenas of blocks, slots bound to block tables.
#include "kv/paged_cache.h"

#include <fmt/format.h>
#include <sys/mman.h>

#include <cstring>
#include <limits>

namespace pagoda::kv {

namespace {
size_t block_stride(size_t row_bytes, int block_size) {
  return (row_bytes * static_cast<size_t>(block_size) + 63) & ~size_t{63};
}
}  // namespace

PagedKvCache::PagedKvCache(const KvShape& shape, int n_blocks, int block_size)
    : shape_(shape), n_blocks_(n_blocks), block_size_(block_size), slots_(static_cast<size_t>(shape.n_seq)) {
  row_bytes_[0] = k_row_bytes(shape);
  row_bytes_[1] = v_row_bytes(shape);
  // Blocks start on 64-byte boundaries whatever the row size (kernels need at
  // least 4-byte alignment; 64 keeps blocks on their own cache lines).
  for (int w = 0; w < 2; ++w) {
    block_stride_[w] = block_stride(row_bytes_[w], block_size);
    arena_bytes_[w] = block_stride_[w] * static_cast<size_t>(n_blocks);
  }
}

PagedKvCache::~PagedKvCache() {
  if (base_) munmap(base_, bytes_);
}

Expected<std::unique_ptr<PagedKvCache>> PagedKvCache::create(const KvShape& shape, int n_blocks,
                                                             int block_size) {
  if (auto ok = validate_shape(shape); !ok) return ok.error();
  if (n_blocks <= 0 || block_size <= 0)
    return Error{fmt::format("paged kv cache: {} blocks of {} tokens: both must be positive", n_blocks,
                             block_size)};
  std::unique_ptr<PagedKvCache> c(new PagedKvCache(shape, n_blocks, block_size));
  const double total = (static_cast<double>(c->arena_bytes_[0]) + static_cast<double>(c->arena_bytes_[1])) *
                       shape.n_layer;
  if (total > static_cast<double>(std::numeric_limits<size_t>::max() / 4))
    return Error{fmt::format("paged kv cache: {:.0f} bytes requested, too large", total)};
  c->bytes_ = (c->arena_bytes_[0] + c->arena_bytes_[1]) * static_cast<size_t>(shape.n_layer);
  void* p = mmap(nullptr, c->bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    return Error{fmt::format("paged kv cache: cannot reserve {} bytes ({})", c->bytes_, std::strerror(errno))};
  c->base_ = static_cast<uint8_t*>(p);
  return c;
}

size_t PagedKvCache::bytes_per_block(const KvShape& shape, int block_size) {
  return (block_stride(k_row_bytes(shape), block_size) + block_stride(v_row_bytes(shape), block_size)) *
         static_cast<size_t>(shape.n_layer);
}

size_t PagedKvCache::block_bytes() const {
  return (block_stride_[0] + block_stride_[1]) * static_cast<size_t>(shape_.n_layer);
}

size_t PagedKvCache::token_bytes() const {
  return (row_bytes_[0] + row_bytes_[1]) * static_cast<size_t>(shape_.n_layer);
}

uint8_t* PagedKvCache::block_base(int layer, int which, BlockId id) const {
  const size_t layer_bytes = arena_bytes_[0] + arena_bytes_[1];
  return base_ + static_cast<size_t>(layer) * layer_bytes + (which ? arena_bytes_[0] : 0) +
         static_cast<size_t>(id) * block_stride_[which];
}

void PagedKvCache::bind(int slot, std::span<const BlockId> blocks, int length) {
  Slot& s = slots_.at(static_cast<size_t>(slot));
  s.blocks.assign(blocks.begin(), blocks.end());
  s.length = length;
}

void PagedKvCache::unbind(int slot) {
  Slot& s = slots_.at(static_cast<size_t>(slot));
  s.blocks.clear();
  s.length = 0;
}

void PagedKvCache::copy_block(BlockId src, BlockId dst) {
  for (int layer = 0; layer < shape_.n_layer; ++layer)
    for (int w = 0; w < 2; ++w)
      std::memcpy(block_base(layer, w, dst), block_base(layer, w, src),
                  row_bytes_[w] * static_cast<size_t>(block_size_));
}

Expected<void> PagedKvCache::check_slot(int slot) const {
  if (slot < 0 || slot >= shape_.n_seq)
    return Error{fmt::format("paged kv cache: slot {} out of range [0, {})", slot, shape_.n_seq)};
  return {};
}

int PagedKvCache::length(int seq) const {
  return seq >= 0 && seq < shape_.n_seq ? slots_[static_cast<size_t>(seq)].length : 0;
}

Expected<void> PagedKvCache::reserve(int seq, int n) {
  if (auto ok = check_slot(seq); !ok) return ok;
  const int64_t capacity = static_cast<int64_t>(slots_[static_cast<size_t>(seq)].blocks.size()) * block_size_;
  if (n < 0 || n > capacity || n > shape_.n_ctx)
    return Error{fmt::format("paged kv cache: {} positions requested for slot {}, which holds {} (limit {})", n,
                             seq, capacity, shape_.n_ctx)};
  return {};
}

Expected<void> PagedKvCache::set_length(int seq, int n) {
  if (auto ok = reserve(seq, n); !ok) return ok;
  slots_[static_cast<size_t>(seq)].length = n;
  return {};
}

Expected<void> PagedKvCache::truncate(int seq, int n) {
  if (auto ok = check_slot(seq); !ok) return ok;
  Slot& s = slots_[static_cast<size_t>(seq)];
  if (n < 0 || n > s.length)
    return Error{fmt::format("paged kv cache: cannot truncate slot {} of length {} to {}", seq, s.length, n)};
  s.length = n;
  return {};
}

KvRows PagedKvCache::view(int layer, int slot, int which) {
  Slot& s = slots_.at(static_cast<size_t>(slot));
  std::vector<uint8_t*>& ptrs = which ? s.v_ptrs : s.k_ptrs;
  ptrs.resize(s.blocks.size());
  for (size_t i = 0; i < s.blocks.size(); ++i) ptrs[i] = block_base(layer, which, s.blocks[i]);
  return KvRows{ptrs.data(), static_cast<int64_t>(ptrs.size()), block_size_, row_bytes_[which]};
}

}  // namespace pagoda::kv
