// KV-cache type options (see kv_options.h).
#include "cli/kv_options.h"

#include <fmt/format.h>

#include <cctype>

namespace pagoda::cli {

namespace {

constexpr const char* kAccepted = "auto, f32, f16, bf16, fp8, fp8_e4m3, fp8_e5m2, q8_0, q4_0";

Expected<KvType> parse_option(const char* option, const std::string& value) {
  std::string lower = value;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "auto") return KvType::f16;
  if (auto t = parse_kv_type(value)) return *t;
  return Error{fmt::format("unknown {} '{}' (accepted: {})", option, value, kAccepted)};
}

}  // namespace

void add_kv_type_options(CLI::App& app, KvTypeOptions& o) {
  const std::string names = std::string("; one of ") + kAccepted;
  app.add_option("--kv-cache-dtype", o.both, "KV cache type for keys and values (auto = f16)" + names)
      ->capture_default_str();
  app.add_option("--cache-type-k", o.k, "KV cache type for keys, overriding --kv-cache-dtype" + names);
  app.add_option("--cache-type-v", o.v,
                 "KV cache type for values, overriding --kv-cache-dtype" + names);
}

Expected<std::pair<KvType, KvType>> resolve_kv_types(const KvTypeOptions& o) {
  auto both = parse_option("--kv-cache-dtype", o.both);
  if (!both) return both.error();
  KvType k = *both, v = *both;
  if (!o.k.empty()) {
    auto t = parse_option("--cache-type-k", o.k);
    if (!t) return t.error();
    k = *t;
  }
  if (!o.v.empty()) {
    auto t = parse_option("--cache-type-v", o.v);
    if (!t) return t.error();
    v = *t;
  }
  return std::pair{k, v};
}

std::string describe_kv_types(KvType k, KvType v) {
  if (k == v) return std::string(kv_type_name(k));
  return fmt::format("K {}, V {}", kv_type_name(k), kv_type_name(v));
}

}  // namespace pagoda::cli
