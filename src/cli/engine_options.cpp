#include "cli/engine_options.h"

#include <fmt/format.h>


namespace pagoda::cli {

void add_engine_options(CLI::App& app, EngineOptions& opt, bool with_threads) {
  add_kv_type_options(app, opt.kv_types);
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

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  std::vector<std::string> args = normalize_llama_flags(argc, argv);
  std::vector<char*> pointers;
  for (auto& a : args) pointers.push_back(a.data());
  try {
    app.parse(static_cast<int>(pointers.size()), pointers.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return std::nullopt;
}

Expected<engine::EngineConfig> engine_config(const EngineOptions& opt) {
  engine::EngineConfig c;
  auto types = resolve_kv_types(opt.kv_types);
  if (!types) return types.error();
  c.k_type = types->first;
  c.v_type = types->second;
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
  return c;
}

}  // namespace pagoda::cli
