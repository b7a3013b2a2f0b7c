#include "cli/engine_options.h"

#include <fmt/format.h>

#include "kv/kv_store.h"

namespace pagoda::cli {

void add_engine_options(CLI::App& app, EngineOptions& opt, bool with_threads) {
  app.add_option("--kv-cache-dtype", opt.kv_cache_dtype, "KV cache type for K and V: auto (f16), f32, f16, q8_0, q4_0")
      ->capture_default_str();
  app.add_option("--cache-type-k", opt.cache_type_k, "K cache type (overrides --kv-cache-dtype for K)");
  app.add_option("--cache-type-v", opt.cache_type_v, "V cache type (overrides --kv-cache-dtype for V)");
  app.add_option("--kv-cache-memory", opt.kv_cache_memory,
                 "KV pool size, e.g. 4GiB, 512MiB, 2GB (default: half the RAM left after the weights, capped at "
                 "what --max-num-seqs full-length sequences can use)");
  app.add_option("--block-size", opt.block_size, "tokens per KV block")->check(CLI::Range(1, 4096))->capture_default_str();
  app.add_option("--max-num-seqs", opt.max_num_seqs, "sequences running at once")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  app.add_option("--max-num-batched-tokens", opt.max_num_batched_tokens, "tokens per engine step (chunked prefill)")
      ->check(CLI::Range(1, 1 << 24))
      ->capture_default_str();
  app.add_flag("--no-prefix-caching", opt.no_prefix_caching, "do not reuse the KV blocks of cached prompt prefixes");
  if (with_threads)
    app.add_option("-t,--threads", opt.threads, "worker threads (0: all cores)")->check(CLI::Range(0, 1024));
}

std::vector<std::string> normalize_llama_flags(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-np") a = "--max-num-seqs";
    else if (a == "-ctk") a = "--cache-type-k";
    else if (a == "-ctv") a = "--cache-type-v";
    args.push_back(std::move(a));
  }
  return args;
}

Expected<engine::EngineConfig> engine_config(const EngineOptions& opt) {
  engine::EngineConfig c;
  auto parse_type = [](const std::string& flag, const std::string& name) -> Expected<TensorType> {
    if (name == "auto") return TensorType::F16;
    auto t = kv::parse_kv_type(name);
    if (!t) return Error{fmt::format("unknown {} '{}' (auto, f32, f16, q8_0, q4_0)", flag, name)};
    return *t;
  };
  auto both = parse_type("--kv-cache-dtype", opt.kv_cache_dtype);
  if (!both) return both.error();
  c.kv_type = *both;
  for (const auto& [flag, value] : {std::pair{"--cache-type-k", opt.cache_type_k}, std::pair{"--cache-type-v", opt.cache_type_v}}) {
    if (value.empty()) continue;
    auto t = parse_type(flag, value);
    if (!t) return t.error();
    if (*t != c.kv_type)
      return Error{fmt::format("{} {}: K and V of different types are not supported yet", flag, value)};
  }
  if (!opt.kv_cache_memory.empty()) {
    auto bytes = engine::parse_memory_size(opt.kv_cache_memory);
    if (!bytes) return Error{"--kv-cache-memory: " + bytes.error().message};
    c.kv_cache_memory = *bytes;
  }
  c.block_size = opt.block_size;
  c.max_num_seqs = opt.max_num_seqs;
  c.max_num_batched_tokens = opt.max_num_batched_tokens;
  c.max_model_len = opt.max_model_len;
  c.prefix_caching = !opt.no_prefix_caching;
  c.threads = opt.threads;
  return c;
}

}  // namespace pagoda::cli
