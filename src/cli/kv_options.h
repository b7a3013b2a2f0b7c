#pragma once
// The KV-cache type options shared by `pagoda perplexity` and `pagoda logits`:
// --kv-cache-dtype T (K and V), --cache-type-k T / --cache-type-v T (one side,
// llama.cpp's spelling, overriding --kv-cache-dtype).
#include <CLI/CLI.hpp>

#include <string>
#include <utility>

#include "base/expected.h"
#include "base/kv_type.h"

namespace pagoda::cli {

struct KvTypeOptions {
  std::string both = "auto";  // --kv-cache-dtype
  std::string k, v;           // --cache-type-k / --cache-type-v; empty: `both`
};

// Registers the three options on `app`, writing into `o` (which must outlive parsing).
void add_kv_type_options(CLI::App& app, KvTypeOptions& o);

// The (K, V) types the options select; "auto" is f16. Errors name the bad
// option and value and list the accepted names.
Expected<std::pair<KvType, KvType>> resolve_kv_types(const KvTypeOptions& o);

// "f16" when K and V agree, else "K q8_0, V f16" (for log lines).
std::string describe_kv_types(KvType k, KvType v);

}  // namespace pagoda::cli
