#pragma once
// The KV cache as storage plus per-sequence lengths. Every implementation (the
// contiguous per-sequence store here, the paged block pool later) hands out
// the same view of a sequence's rows: a list of blocks, each holding
// `block_rows` consecutive positions, one K (or V) row per position laid out
// [n_kv_head, head_dim] in the K (V) element type (see KvShape). kv/ only does the
// bookkeeping; model/ converts activations into the rows and kernels/ read them.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/expected.h"
#include "base/kv_type.h"

namespace pagoda::kv {

// Geometry of a cache. K and V rows each hold all kv heads of one position,
// n_kv_head * head_dim elements, as ONE row of their type's blocks,
// zero-padded at the end to a multiple of the block size. Any head size works
// with any type: when head_dim % 32 == 0 every head of a q8_0/q4_0 row starts
// on a block boundary, otherwise a block spans several heads.
struct KvShape {
  int n_layer = 0;
  int n_kv_head = 0;
  int head_dim = 0;
  int n_seq = 0;  // sequence slots 0 .. n_seq-1
  int n_ctx = 0;  // positions per sequence
  KvType k_type = KvType::f16;
  KvType v_type = KvType::f16;

  // Elements of one K or V row (all kv heads of one position).
  int64_t row_elements() const { return int64_t{n_kv_head} * head_dim; }
};

// Checks a shape (positive sizes, K and V types of the enumeration); the error
// says which part is wrong. Every type is accepted with every head size.
Expected<void> validate_shape(const KvShape& shape);
// Bytes of a row of `row_elements` values of type t: whole blocks, the last
// one padded (ceil(row_elements / block_size) * block_bytes).
size_t kv_row_bytes(KvType t, int64_t row_elements);
// Bytes of one K (V) row of a valid shape: kv_row_bytes(k_type (v_type), row_elements()).
size_t k_row_bytes(const KvShape& shape);
size_t v_row_bytes(const KvShape& shape);

// K or V rows of one (layer, sequence). Position p lives in
// blocks[p / block_rows] at row (p % block_rows). Block pointers are at least
// 4-byte aligned (kernels read f32/f16 rows in place; row sizes keep that
// alignment from row to row). Valid until the cache is
// destroyed or the sequence is truncated/cleared (paged caches may move blocks).
struct KvRows {
  uint8_t* const* blocks = nullptr;  // [n_blocks] block base pointers
  int64_t n_blocks = 0;
  int64_t block_rows = 0;  // positions per block
  size_t row_bytes = 0;    // bytes per position

  uint8_t* row(int64_t pos) const {
    return blocks[pos / block_rows] + static_cast<size_t>(pos % block_rows) * row_bytes;
  }
};

// Storage for the keys and values of several sequences. Not thread-safe: the
// caller (one engine loop) serialises calls; kernels may read/write distinct
// rows of the views concurrently.
class KvCache {
 public:
  virtual ~KvCache() = default;

  virtual const KvShape& shape() const = 0;
  // Positions [0, length) of `seq` hold valid K/V rows.
  virtual int length(int seq) const = 0;
  // Makes rows [0, n) of `seq` writable (a no-op for the contiguous store,
  // allocates blocks for a paged one). Errors for a bad seq or n > n_ctx.
  virtual Expected<void> reserve(int seq, int n) = 0;
  // Declares rows [0, n) of `seq` valid after they were written (n <= reserved).
  virtual Expected<void> set_length(int seq, int n) = 0;
  // Forgets positions >= n of `seq` (n <= length); the next write starts at n.
  virtual Expected<void> truncate(int seq, int n) = 0;
  // Forgets all positions of `seq`.
  void clear(int seq) { (void)truncate(seq, 0); }
  // Row views of (layer, seq) covering at least the reserved positions.
  virtual KvRows keys(int layer, int seq) = 0;
  virtual KvRows values(int layer, int seq) = 0;
  // Bytes of K/V storage held.
  virtual size_t memory_bytes() const = 0;
};

// A cache with one contiguous [n_ctx, row] region per (layer, seq, K|V),
// allocated up front and zeroed: n_layer * n_seq * n_ctx * (k_row_bytes +
// v_row_bytes) bytes, each region rounded up to 64 bytes and 64-byte aligned.
// Errors for an invalid shape or an allocation that fails.
Expected<std::unique_ptr<KvCache>> make_contiguous_cache(const KvShape& shape);

}  // namespace pagoda::kv
