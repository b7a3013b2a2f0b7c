#pragma once
// Engine settings (the CLI's --block-size, --kv-cache-memory, ...) and the
// arithmetic that turns a memory budget into a block pool.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/expected.h"
#include "base/kv_type.h"
#include "kv/kv_store.h"

namespace pagoda::engine {

struct EngineConfig {
  int block_size = 16;                      // tokens per KV block
  std::optional<uint64_t> kv_cache_memory;  // bytes for the pool; unset: kDefaultKvShare of free RAM
  int max_num_seqs = 64;                    // running sequences at once
  int max_num_batched_tokens = 2048;        // tokens per step
  int max_model_len = 0;                    // 0: the model's training context (if the pool holds it)
  bool prefix_caching = true;
  KvType k_type = KvType::f16;              // K cache element type
  KvType v_type = KvType::f16;              // V cache element type
};

// Share of the memory left after the weights that the KV pool takes by default:
// MemAvailable (from /proc/meminfo, weights included since they are mmapped and
// may not be resident yet) minus the weights' file size, times this share.
constexpr double kDefaultKvShare = 0.5;

// "4GiB", "4G", "512MiB", "512M", "1.5GiB", "2GB" (decimal), "1048576" (bytes).
// G/M/K/T and GiB/MiB/KiB/TiB are binary; GB/MB/KB/TB decimal. Errors name the input.
Expected<uint64_t> parse_memory_size(std::string_view text);
// "1.50 GiB", "512.00 MiB", "123 B".
std::string format_bytes(uint64_t bytes);
// MemAvailable from /proc/meminfo in bytes, or nullopt.
std::optional<uint64_t> available_memory();

// What a model's KV cache costs in the paged pool: the one arithmetic that
// plan_pool (the server's pool) and the planner (`pagoda estimate`) both size
// with, so an estimate is what the pool really takes.
struct KvFootprint {
  uint64_t bytes_per_token = 0;  // K+V rows of one position over all layers (quantized types' block scales included)
  uint64_t bytes_per_block = 0;  // one block over all layers, each (layer, K|V) block rounded up to 64 bytes
  int block_size = 0;            // tokens per block

  // Blocks a sequence of `tokens` positions occupies (whole blocks; 0 for tokens <= 0).
  int64_t blocks_for(int64_t tokens) const;
  // Pool bytes that n_seqs sequences of `tokens` positions each occupy.
  uint64_t bytes_for(int64_t tokens, int64_t n_seqs) const;
  // The longest sequence (a whole number of blocks) of which n_seqs fit in `budget` bytes; 0 if none.
  int64_t max_tokens(uint64_t budget, int64_t n_seqs) const;
  // How many sequences of `tokens` positions fit in `budget` bytes.
  int64_t max_seqs(uint64_t budget, int64_t tokens) const;
};

// The footprint of a paged cache of `shape` (n_seq and n_ctx are ignored) in
// blocks of block_size tokens: kv/'s row sizes (kv_row_bytes) and
// PagedKvCache::bytes_per_block, so it equals PagedKvCache::token_bytes() and
// block_bytes() of such a cache. The shape must be valid (kv::validate_shape).
KvFootprint kv_footprint(const kv::KvShape& shape, int block_size);

// The pool an engine will build, and what it can hold.
struct PoolPlan {
  int n_blocks = 0;
  int block_size = 0;
  uint64_t bytes = 0;           // KV bytes of the pool
  uint64_t bytes_per_token = 0; // K+V over all layers
  uint64_t bytes_per_block = 0; // what one block really takes
  int max_model_len = 0;
  int max_num_seqs = 0;
  // How many max_model_len sequences fit at once.
  int64_t full_length_sequences() const;
};

// Sizes the pool: budget bytes (explicit, or the default share of free memory
// after `weights_bytes`, capped at what max_num_seqs full sequences could ever
// use), max_model_len (explicit, or n_ctx_train limited to what the pool
// holds). Errors: zero-sized pool, a --max-model-len that can never fit (the
// message names the largest that would), bad sizes.
// bytes_per_token: K+V of one position over all layers; bytes_per_block: what
// one block really takes (rows padded for alignment), 0 for bytes_per_token x
// block_size.
Expected<PoolPlan> plan_pool(const EngineConfig& config, uint64_t bytes_per_token, int n_ctx_train,
                             uint64_t weights_bytes, uint64_t bytes_per_block = 0);
// The same from a footprint (kv_footprint of the model's cache shape); its
// block_size must be config.block_size.
Expected<PoolPlan> plan_pool(const EngineConfig& config, const KvFootprint& kv, int n_ctx_train,
                             uint64_t weights_bytes);

}  // namespace pagoda::engine
