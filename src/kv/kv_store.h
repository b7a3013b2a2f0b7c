#pragma once
// The KV cache as storage plus per-sequence lengths. Every implementation (the
// contiguous per-sequence store here, the paged block pool later) hands out
// the same view of a sequence's rows: a list of blocks, each holding
// `block_rows` consecutive positions, one K (or V) row per position laid out
// [n_kv_head, head_dim] in the cache's element type. kv/ only does the
// bookkeeping; model/ converts activations into the rows and kernels/ read them.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "base/tensor_type.h"

namespace pagoda::kv {

// Element types a KV cache can store: F32, F16 (default, as llama.cpp), Q8_0, Q4_0.
bool is_kv_type(TensorType t);
// Parses "f32", "f16", "q8_0", "q4_0" (case-insensitive); nullopt otherwise.
std::optional<TensorType> parse_kv_type(std::string_view name);

// Geometry of a cache. Quantized types need head_dim to be a multiple of 32 so
// every head starts on a block boundary.
struct KvShape {
  int n_layer = 0;
  int n_kv_head = 0;
  int head_dim = 0;
  int n_seq = 0;  // sequence slots 0 .. n_seq-1
  int n_ctx = 0;  // positions per sequence
  TensorType type = TensorType::F16;

  int64_t row_elements() const { return int64_t{n_kv_head} * head_dim; }
};

// Checks a shape (positive sizes, supported type, head_dim fits the type's
// blocks); the error says which part is wrong.
Expected<void> validate_shape(const KvShape& shape);
// Bytes of one K or V row (all kv heads of one position) for a valid shape.
size_t row_bytes(const KvShape& shape);
// Bytes of one head's slice of a row for a valid shape.
size_t head_bytes(const KvShape& shape);

// K or V rows of one (layer, sequence). Position p lives in
// blocks[p / block_rows] at row (p % block_rows). Valid until the cache is
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
// allocated up front (n_layer * n_seq * n_ctx * row_bytes * 2 bytes, zeroed).
// Errors for an invalid shape or an allocation that fails.
Expected<std::unique_ptr<KvCache>> make_contiguous_cache(const KvShape& shape);

}  // namespace pagoda::kv
