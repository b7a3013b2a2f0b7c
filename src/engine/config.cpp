// Memory sizes and pool sizing.
#include "engine/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include "kv/paged_cache.h"

namespace pagoda::engine {

Expected<uint64_t> parse_memory_size(std::string_view text) {
  auto bad = [&] {
    return Error{fmt::format("invalid memory size '{}' (examples: 4GiB, 4G, 512MiB, 2GB, 1048576)", text)};
  };
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) return bad();
  double value = 0;
  try {
    size_t used = 0;
    value = std::stod(std::string(text.substr(0, i)), &used);
    if (used != i) return bad();
  } catch (...) {
    return bad();
  }
  std::string_view rest = text.substr(i);
  while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front()))) rest.remove_prefix(1);
  while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.back()))) rest.remove_suffix(1);
  std::string unit;
  for (char c : rest) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double scale = 0;
  if (unit.empty() || unit == "b") scale = 1;
  else if (unit == "k" || unit == "kib") scale = 1024.0;
  else if (unit == "m" || unit == "mib") scale = 1024.0 * 1024;
  else if (unit == "g" || unit == "gib") scale = 1024.0 * 1024 * 1024;
  else if (unit == "t" || unit == "tib") scale = 1024.0 * 1024 * 1024 * 1024;
  else if (unit == "kb") scale = 1e3;
  else if (unit == "mb") scale = 1e6;
  else if (unit == "gb") scale = 1e9;
  else if (unit == "tb") scale = 1e12;
  else return bad();
  const double bytes = value * scale;
  if (!std::isfinite(bytes) || bytes < 1 || bytes > 1e18) return bad();
  return static_cast<uint64_t>(bytes);
}

std::string format_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.2f} {}", v, units[u]);
}

std::optional<uint64_t> available_memory() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream fields(line.substr(13));
    uint64_t kib = 0;
    if (fields >> kib) return kib * 1024;
  }
  return std::nullopt;
}

int64_t PoolPlan::full_length_sequences() const {
  const int64_t per_seq = (max_model_len + block_size - 1) / block_size;
  return per_seq > 0 ? n_blocks / per_seq : 0;
}

int64_t KvFootprint::blocks_for(int64_t tokens) const {
  return tokens > 0 ? (tokens + block_size - 1) / block_size : 0;
}

uint64_t KvFootprint::bytes_for(int64_t tokens, int64_t n_seqs) const {
  return static_cast<uint64_t>(blocks_for(tokens)) * static_cast<uint64_t>(std::max<int64_t>(n_seqs, 0)) *
         bytes_per_block;
}

int64_t KvFootprint::max_tokens(uint64_t budget, int64_t n_seqs) const {
  if (n_seqs <= 0 || bytes_per_block == 0) return 0;
  const uint64_t blocks = budget / bytes_per_block / static_cast<uint64_t>(n_seqs);
  return static_cast<int64_t>(std::min<uint64_t>(blocks, uint64_t{1} << 40)) * block_size;
}

int64_t KvFootprint::max_seqs(uint64_t budget, int64_t tokens) const {
  const uint64_t per_seq = bytes_for(tokens, 1);
  return per_seq > 0 ? static_cast<int64_t>(std::min<uint64_t>(budget / per_seq, uint64_t{1} << 40)) : 0;
}

KvFootprint kv_footprint(const kv::KvShape& shape, int block_size) {
  KvFootprint f;
  f.block_size = block_size;
  f.bytes_per_token = (kv::k_row_bytes(shape) + kv::v_row_bytes(shape)) * static_cast<uint64_t>(shape.n_layer);
  f.bytes_per_block = kv::PagedKvCache::bytes_per_block(shape, block_size);
  return f;
}

Expected<PoolPlan> plan_pool(const EngineConfig& c, uint64_t bytes_per_token, int n_ctx_train,
                             uint64_t weights_bytes, uint64_t bytes_per_block) {
  KvFootprint kv;
  kv.bytes_per_token = bytes_per_token;
  kv.block_size = c.block_size;
  kv.bytes_per_block =
      bytes_per_block > 0 ? bytes_per_block : bytes_per_token * static_cast<uint64_t>(std::max(c.block_size, 0));
  return plan_pool(c, kv, n_ctx_train, weights_bytes);
}

Expected<PoolPlan> plan_pool(const EngineConfig& c, const KvFootprint& kv, int n_ctx_train,
                             uint64_t weights_bytes) {
  if (c.block_size < 1 || c.block_size > 4096)
    return Error{fmt::format("--block-size must be in [1, 4096], got {}", c.block_size)};
  if (c.max_num_seqs < 1) return Error{fmt::format("--max-num-seqs must be at least 1, got {}", c.max_num_seqs)};
  if (c.max_num_batched_tokens < 1)
    return Error{fmt::format("--max-num-batched-tokens must be at least 1, got {}", c.max_num_batched_tokens)};
  if (c.max_model_len < 0) return Error{fmt::format("--max-model-len must be positive, got {}", c.max_model_len)};
  if (kv.bytes_per_token == 0) return Error{"kv cache: zero bytes per token"};
  if (kv.block_size != c.block_size)
    return Error{fmt::format("kv cache: footprint of {}-token blocks for --block-size {}", kv.block_size,
                             c.block_size)};
  const int n_ctx = n_ctx_train > 0 ? n_ctx_train : 4096;
  if (c.max_model_len > n_ctx)
    return Error{fmt::format("--max-model-len {} exceeds the model's training context of {} tokens",
                             c.max_model_len, n_ctx)};
  PoolPlan p;
  p.block_size = c.block_size;
  p.bytes_per_token = kv.bytes_per_token;
  p.bytes_per_block = kv.bytes_per_block;
  p.max_num_seqs = c.max_num_seqs;
  uint64_t budget;
  if (c.kv_cache_memory) {
    budget = *c.kv_cache_memory;
  } else {
    const uint64_t avail = available_memory().value_or(8ull << 30);
    const uint64_t left = avail > weights_bytes ? avail - weights_bytes : 0;
    budget = static_cast<uint64_t>(static_cast<double>(left) * kDefaultKvShare);
    // Never more than max_num_seqs sequences of the longest length could use.
    const int len = c.max_model_len > 0 ? c.max_model_len : n_ctx;
    budget = std::min(budget, kv.bytes_for(len, c.max_num_seqs));
  }
  const uint64_t n_blocks = budget / kv.bytes_per_block;
  if (n_blocks == 0)
    return Error{fmt::format("kv cache memory of {} holds no block of {} tokens ({} per block)",
                             format_bytes(budget), c.block_size, format_bytes(kv.bytes_per_block))};
  p.n_blocks = static_cast<int>(std::min<uint64_t>(n_blocks, 1u << 30));
  p.bytes = static_cast<uint64_t>(p.n_blocks) * kv.bytes_per_block;
  // The longest single sequence the pool holds (the same arithmetic as `pagoda estimate`'s).
  const int64_t pool_tokens = kv.max_tokens(p.bytes, 1);
  if (c.max_model_len > 0) {
    if (c.max_model_len > pool_tokens)
      return Error{fmt::format(
          "--max-model-len {} does not fit in the KV cache ({} blocks of {} tokens = {} tokens, {}): the "
          "largest that fits is {}; raise --kv-cache-memory or use a smaller KV type",
          c.max_model_len, p.n_blocks, c.block_size, pool_tokens, format_bytes(p.bytes),
          std::min<int64_t>(pool_tokens, n_ctx))};
    p.max_model_len = c.max_model_len;
  } else {
    p.max_model_len = static_cast<int>(std::min<int64_t>(n_ctx, pool_tokens));
  }
  return p;
}

}  // namespace pagoda::engine
