#pragma once
// Engine settings (the CLI's --block-size, --kv-cache-memory, ...) and the
// arithmetic that turns a memory budget into a block pool.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/expected.h"
#include "base/kv_type.h"

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

// The pool an engine will build, and what it can hold.
struct PoolPlan {
  int n_blocks = 0;
  int block_size = 0;
  uint64_t bytes = 0;           // KV bytes of the pool
  uint64_t bytes_per_token = 0; // K+V over all layers
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

}  // namespace pagoda::engine
