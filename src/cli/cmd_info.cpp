// `pagoda info FILE.gguf [--json] [--max-items N]`: describes a GGUF file —
// architecture, parameter count, file type, metadata (long arrays and strings
// summarised), the tensor table, bits per weight and bytes by tensor type.
// A file that does not parse gives its error on stderr and exit status 1.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "gguf/file_type.h"
#include "gguf/gguf.h"

namespace pagoda::cli {
namespace {

using gguf::Array;
using gguf::File;
using gguf::Value;
using gguf::ValueType;
using nlohmann::json;

constexpr size_t kMaxStringShown = 120;  // bytes of a long string shown in text mode

// Totals for one tensor type.
struct TypeTotals {
  size_t n_tensors = 0;
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
};

// What `info` reports about the file as a whole.
struct Summary {
  std::string architecture;
  uint64_t n_params = 0;
  uint64_t tensor_bytes = 0;
  std::optional<int64_t> file_type;
  std::map<TensorType, TypeTotals> by_type;

  double bits_per_weight() const { return n_params ? 8.0 * tensor_bytes / n_params : 0.0; }
};

Summary summarise(const File& f) {
  Summary s;
  s.architecture = f.get_string("general.architecture").value_or("");
  s.file_type = f.get_int("general.file_type");
  for (const auto& t : f.tensors()) {
    s.n_params += t.n_elements;
    s.tensor_bytes += t.n_bytes;
    auto& totals = s.by_type[t.type];
    ++totals.n_tensors;
    totals.n_elements += t.n_elements;
    totals.n_bytes += t.n_bytes;
  }
  return s;
}

// The first `max_bytes` of `s`, cut on a UTF-8 character boundary.
std::string_view utf8_prefix(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

std::string shape_string(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

std::string type_label(const Value& v) {
  if (const Array* a = v.as_array())
    return fmt::format("{}[{}]", gguf::value_type_name(a->elem_type), a->size());
  return std::string(gguf::value_type_name(v.type()));
}

// A value for text output: long strings shortened, arrays cut after max_items.
std::string display_value(const Value& v, size_t max_items) {
  if (const std::string* s = v.as_string(); s && s->size() > kMaxStringShown)
    return fmt::format("{}... ({} bytes)",
                       Value::string(std::string(utf8_prefix(*s, kMaxStringShown))).to_string(),
                       s->size());
  return v.to_string(max_items);
}

std::string file_type_label(const Summary& s) {
  if (!s.file_type) return "(not set)";
  if (*s.file_type < 0 || *s.file_type > UINT32_MAX) return fmt::format("{} (invalid)", *s.file_type);
  return fmt::format("{} ({})", *s.file_type, gguf::file_type_name(static_cast<uint32_t>(*s.file_type)));
}

void print_text(const File& f, const Summary& s, size_t max_items) {
  fmt::print("file:            {}\n", f.name());
  fmt::print("format:          GGUF v{}, {} bytes, alignment {}, data at byte {}\n", f.version(),
             f.bytes().size(), f.alignment(), f.data_offset());
  fmt::print("architecture:    {}\n", s.architecture.empty() ? "(not set)" : s.architecture);
  fmt::print("parameters:      {} ({:.2f} M)\n", s.n_params, s.n_params / 1e6);
  fmt::print("file type:       {}\n", file_type_label(s));
  fmt::print("bits per weight: {:.3f}\n", s.bits_per_weight());

  fmt::print("\nmetadata ({} entries):\n", f.metadata().size());
  size_t key_width = 0;
  for (const auto& kv : f.metadata()) key_width = std::max(key_width, kv.key.size());
  for (const auto& kv : f.metadata())
    fmt::print("  {:<{}}  {:<14}  {}\n", kv.key, key_width, type_label(kv.value),
               display_value(kv.value, max_items));

  fmt::print("\ntensors ({}):\n", f.tensors().size());
  size_t name_width = 4;
  for (const auto& t : f.tensors()) name_width = std::max(name_width, t.name.size());
  fmt::print("  {:<{}}  {:<8}  {:<24}  {:>12}\n", "name", name_width, "type", "shape", "bytes");
  for (const auto& t : f.tensors())
    fmt::print("  {:<{}}  {:<8}  {:<24}  {:>12}\n", t.name, name_width, tensor_type_name(t.type),
               shape_string(t.shape), t.n_bytes);

  fmt::print("\nbytes by tensor type:\n");
  for (const auto& [type, totals] : s.by_type) {
    const double share = s.tensor_bytes ? 100.0 * totals.n_bytes / s.tensor_bytes : 0.0;
    fmt::print("  {:<8}  {:>4} tensors  {:>14} elements  {:>12} bytes  {:5.1f}%\n", tensor_type_name(type),
               totals.n_tensors, totals.n_elements, totals.n_bytes, share);
  }
}

json scalar_json(const Value& v) {
  switch (v.type()) {
    case ValueType::BOOL: return *v.as_bool();
    case ValueType::STRING: return *v.as_string();
    case ValueType::FLOAT32:
    case ValueType::FLOAT64: return v.raw_float();
    default:
      if (auto i = v.as_int()) return *i;
      return *v.as_uint();
  }
}

// Arrays become {"elem_type", "count", "items": first max_items}; nested ones recurse.
json value_json(const Value& v, size_t max_items) {
  const Array* a = v.as_array();
  if (!a) return scalar_json(v);
  json items = json::array();
  const size_t shown = std::min(a->size(), max_items);
  for (size_t i = 0; i < shown; ++i) {
    switch (a->elem_type) {
      case ValueType::STRING: items.push_back(a->strings[i]); break;
      case ValueType::BOOL: items.push_back(a->uints[i] != 0); break;
      case ValueType::FLOAT32:
      case ValueType::FLOAT64: items.push_back(a->floats[i]); break;
      case ValueType::ARRAY: items.push_back(value_json(a->arrays[i], max_items)); break;
      case ValueType::INT8:
      case ValueType::INT16:
      case ValueType::INT32:
      case ValueType::INT64: items.push_back(a->ints[i]); break;
      default: items.push_back(a->uints[i]);
    }
  }
  return json{{"elem_type", gguf::value_type_name(a->elem_type)},
              {"count", a->size()},
              {"items", std::move(items)},
              {"truncated", shown < a->size()}};
}

json info_json(const File& f, const Summary& s, size_t max_items) {
  json out;
  out["file"] = f.name();
  out["version"] = f.version();
  out["file_size"] = f.bytes().size();
  out["alignment"] = f.alignment();
  out["data_offset"] = f.data_offset();
  out["architecture"] = s.architecture.empty() ? json(nullptr) : json(s.architecture);
  out["n_params"] = s.n_params;
  if (s.file_type && *s.file_type >= 0 && *s.file_type <= UINT32_MAX) {
    out["file_type"] = {{"id", *s.file_type},
                        {"name", gguf::file_type_name(static_cast<uint32_t>(*s.file_type))}};
  } else {
    out["file_type"] = nullptr;
  }
  out["bits_per_weight"] = s.bits_per_weight();
  json metadata = json::object();
  for (const auto& kv : f.metadata()) metadata[kv.key] = value_json(kv.value, max_items);
  out["metadata"] = std::move(metadata);
  json tensors = json::array();
  for (const auto& t : f.tensors())
    tensors.push_back({{"name", t.name},
                       {"type", tensor_type_name(t.type)},
                       {"shape", t.shape},
                       {"bytes", t.n_bytes},
                       {"offset", t.offset}});
  out["tensors"] = std::move(tensors);
  json by_type = json::object();
  for (const auto& [type, totals] : s.by_type)
    by_type[std::string(tensor_type_name(type))] = {
        {"tensors", totals.n_tensors}, {"elements", totals.n_elements}, {"bytes", totals.n_bytes}};
  out["bytes_by_type"] = std::move(by_type);
  return out;
}

}  // namespace

int cmd_info(int argc, char** argv) {
  CLI::App app{"Describe a GGUF file: metadata, tensors, sizes.", "pagoda info"};
  std::string path;
  bool as_json = false;
  size_t max_items = 8;
  app.add_option("file", path, "GGUF file")->required();
  app.add_flag("--json", as_json, "print one JSON object instead of text");
  app.add_option("--max-items", max_items, "array items shown before summarising")
      ->check(CLI::Range(size_t{0}, size_t{1} << 20));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  auto file = File::open(path);
  if (!file) {
    fmt::print(stderr, "pagoda info: {}\n", file.error().message);
    return 1;
  }
  const File& f = **file;
  const Summary s = summarise(f);
  if (as_json) {
    // Strings in a GGUF need not be valid UTF-8: replace bad bytes rather than fail.
    fmt::print("{}\n", info_json(f, s, max_items).dump(2, ' ', false, json::error_handler_t::replace));
  } else {
    print_text(f, s, max_items);
  }
  return 0;
}

}  // namespace pagoda::cli
