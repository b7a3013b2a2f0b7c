// --generation-config: GGUF general.sampling.* keys or generation_config.json.
#include "server/generation_config.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "server/openai_request.h"

namespace pagoda::server {

namespace {

struct Overrides {
  std::optional<double> temperature, top_p, min_p, repetition_penalty;
  std::optional<int64_t> top_k;
};

Overrides from_gguf(const gguf::File& f) {
  Overrides o;
  o.temperature = f.get_float("general.sampling.temp");
  o.top_p = f.get_float("general.sampling.top_p");
  o.min_p = f.get_float("general.sampling.min_p");
  o.repetition_penalty = f.get_float("general.sampling.penalty_repeat");
  o.top_k = f.get_int("general.sampling.top_k");
  return o;
}

Expected<Overrides> from_json_file(const std::string& path_text) {
  std::filesystem::path path(path_text);
  if (std::filesystem::is_directory(path)) path /= "generation_config.json";
  std::ifstream in(path);
  if (!in) return Error{fmt::format("--generation-config: cannot read '{}'", path.string())};
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    return Error{fmt::format("--generation-config: '{}' is not valid JSON: {}", path.string(), e.what())};
  }
  if (!j.is_object()) return Error{fmt::format("--generation-config: '{}' must hold a JSON object", path.string())};
  Overrides o;
  auto number = [&](const char* key) -> Expected<std::optional<double>> {
    if (!j.contains(key) || j[key].is_null()) return std::optional<double>{};
    if (!j[key].is_number()) return Error{fmt::format("--generation-config: '{}' must be a number", key)};
    return std::optional<double>{j[key].get<double>()};
  };
  for (auto [key, slot] : {std::pair{"temperature", &o.temperature}, std::pair{"top_p", &o.top_p},
                           std::pair{"min_p", &o.min_p}, std::pair{"repetition_penalty", &o.repetition_penalty}}) {
    auto v = number(key);
    if (!v) return v.error();
    *slot = *v;
  }
  auto k = number("top_k");
  if (!k) return k.error();
  if (*k) o.top_k = static_cast<int64_t>(**k);
  // transformers' convention: do_sample false means greedy.
  if (j.contains("do_sample") && j["do_sample"].is_boolean() && !j["do_sample"].get<bool>()) o.temperature = 0.0;
  return o;
}

}  // namespace

Expected<GenerationDefaults> load_generation_defaults(const std::string& mode, const gguf::File* model) {
  GenerationDefaults d;
  d.params = openai_default_params();
  Overrides o;
  if (mode == "vllm" || mode == "openai") {
    d.source = "OpenAI's defaults";
  } else if (mode == "auto") {
    if (model) o = from_gguf(*model);
    d.source = "the model's general.sampling.* metadata";
  } else {
    auto file = from_json_file(mode);
    if (!file) return file.error();
    o = *file;
    d.source = mode;
  }
  std::vector<std::string> parts;
  if (o.temperature) {
    d.params.temperature = static_cast<float>(*o.temperature);
    parts.push_back(fmt::format("temperature {}", d.params.temperature));
  }
  if (o.top_p) {
    d.params.top_p = static_cast<float>(*o.top_p);
    parts.push_back(fmt::format("top_p {}", d.params.top_p));
  }
  if (o.top_k) {
    d.params.top_k = *o.top_k < 0 ? 0 : static_cast<int32_t>(*o.top_k);
    parts.push_back(fmt::format("top_k {}", d.params.top_k));
  }
  if (o.min_p) {
    d.params.min_p = static_cast<float>(*o.min_p);
    parts.push_back(fmt::format("min_p {}", d.params.min_p));
  }
  if (o.repetition_penalty) {
    d.params.repetition_penalty = static_cast<float>(*o.repetition_penalty);
    parts.push_back(fmt::format("repetition_penalty {}", d.params.repetition_penalty));
  }
  if (auto ok = sampling::validate(d.params); !ok)
    return Error{fmt::format("--generation-config ({}): {}", d.source, ok.error().message)};
  for (size_t i = 0; i < parts.size(); ++i) d.summary += (i ? ", " : "") + parts[i];
  if (mode == "auto" && parts.empty()) d.source = "OpenAI's defaults (the model recommends none)";
  return d;
}

}  // namespace pagoda::server
