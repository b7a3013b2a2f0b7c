#pragma once
// The engine flags shared by `pagoda run` and `pagoda serve`, in vLLM's
// spellings (primary) and llama.cpp's where they exist.
#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "base/expected.h"
#include "cli/kv_options.h"
#include "engine/config.h"

namespace pagoda::cli {

struct EngineOptions {
  KvTypeOptions kv_types;                  // --kv-cache-dtype, --cache-type-k/-v
  std::string kv_cache_memory;             // "4GiB"; empty: default share of free RAM
  int block_size = 16;
  int max_num_seqs = 64;
  int max_num_batched_tokens = 2048;
  int max_model_len = 0;
  bool no_prefix_caching = false;
  int threads = 0;
};

// Adds --kv-cache-dtype, --cache-type-k/-v, --kv-cache-memory, --block-size,
// --max-num-seqs, --max-num-batched-tokens, --max-model-len, --no-prefix-caching
// and -t/--threads. Each command adds --max-model-len itself (run also calls
// it -c/--ctx-size) because their defaults differ.
void add_engine_options(CLI::App& app, EngineOptions& opt, bool with_threads = true);

// argv with llama.cpp's multi-letter short flags (-np, -ctk, -ctv), which
// CLI11 cannot declare, rewritten to their long names.
std::vector<std::string> normalize_llama_flags(int argc, char** argv);

// Parses argv (after normalize_llama_flags) into `app`. Returns the exit
// status when parsing ended the command (--help, or an error already printed),
// nullopt when the command should go on.
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv);

// Turns parsed options into an EngineConfig; errors name the bad flag and value.
Expected<engine::EngineConfig> engine_config(const EngineOptions& opt);

}  // namespace pagoda::cli
