// `pagoda estimate`: what a model needs in memory (weights + KV cache +
// scratch + runtime overhead), whether it fits a budget, and the largest
// context and concurrency that would. The model is a GGUF file (its header
// only), a preset or a Hugging Face config.json; `--table` prints one row per
// quantization mix. The arithmetic is src/planner's, the one `pagoda serve`
// sizes its KV pool with.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/engine_options.h"
#include "cli/estimate/report.h"
#include "cli/kv_options.h"
#include "engine/config.h"
#include "gguf/gguf.h"
#include "planner/estimate.h"

namespace pagoda::cli {
namespace {

namespace fs = std::filesystem;

// The mixes of the quantization table, largest first (the article's rows).
constexpr const char* kTableMixes[] = {"F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K"};

struct EstimateCliOptions {
  std::string model_path, model_flag, preset, config;
  std::string weights;  // empty: the file's own (presets: F16; config.json: its torch_dtype)
  KvTypeOptions kv_types;
  std::string ctx;  // empty: the training context (table: 32k)
  int64_t concurrency = 1;
  int tp = 1;
  std::string memory;  // empty: MemAvailable
  int block_size = 16;
  int64_t batch_tokens = 2048;
  int threads = 0;
  bool table = false;
  bool json = false;
};

Expected<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{fmt::format("cannot read '{}'", path)};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool looks_like_json(const std::string& path) {
  if (path.ends_with(".json")) return true;
  std::ifstream in(path, std::ios::binary);
  char c = 0;
  while (in.get(c) && std::isspace(static_cast<unsigned char>(c))) {
  }
  return c == '{';
}

// The source of the model: exactly one of a GGUF file, a preset, a config.json.
struct Source {
  std::unique_ptr<gguf::File> file;        // a GGUF
  std::optional<planner::ModelShape> shape;  // a preset or config.json
  std::string kind;                        // for the report
  std::string name;                        // the file's name, for a GGUF
  std::string default_mix = "F16";         // for shapes
};

Expected<Source> open_source(const EstimateCliOptions& o) {
  std::string path = o.model_flag.empty() ? o.model_path : o.model_flag;
  std::string preset = o.preset;
  // `pagoda estimate llama-3.1-8b`: a preset name where no such file exists.
  if (!path.empty() && preset.empty() && o.config.empty() && !fs::exists(path) && planner::find_model_shape(path))
    std::swap(path, preset);
  const int given = !path.empty() + !preset.empty() + !o.config.empty();
  if (given != 1)
    return Error{"name one model: a GGUF file (or -m FILE), --preset NAME or --config config.json"};
  Source src;
  if (!preset.empty()) {
    const planner::ModelShape* s = planner::find_model_shape(preset);
    if (!s) return Error{fmt::format("unknown preset '{}' (known: {})", preset, planner::model_shape_names())};
    src.shape = *s;
    src.kind = "preset";
    return src;
  }
  const std::string& json_path = o.config.empty() ? path : o.config;
  if (!o.config.empty() || looks_like_json(path)) {
    auto text = read_text(json_path);
    if (!text) return text.error();
    // A checkpoint's folder names it (".../Llama-3.1-8B/config.json").
    std::error_code ec;
    std::string name = fs::absolute(json_path, ec).parent_path().filename().string();
    if (name.empty()) name = fs::path(json_path).filename().string();
    auto shape = planner::shape_from_hf_config(*text, name);
    if (!shape) return Error{fmt::format("{}: {}", json_path, shape.error().message)};
    src.shape = *shape;
    src.kind = "config.json";
    // The checkpoint's own precision is the natural default.
    const auto j = nlohmann::json::parse(*text, nullptr, false);
    std::string dtype;
    for (const char* key : {"torch_dtype", "dtype"})
      if (dtype.empty() && j.is_object() && j.contains(key) && j[key].is_string()) dtype = j[key].get<std::string>();
    if (dtype == "bfloat16") src.default_mix = "BF16";
    else if (dtype == "float32") src.default_mix = "F32";
    return src;
  }
  auto file = gguf::File::open(path);
  if (!file) return file.error();
  src.file = std::move(*file);
  src.name = fs::path(path).filename().string();
  src.kind = "GGUF file";
  return src;
}

Expected<planner::PlannedModel> plan_model(const Source& src, const std::string& weights) {
  std::optional<quant::Mix> mix;
  if (!weights.empty()) {
    mix = quant::find_mix(weights);
    if (!mix) {
      std::string names;
      for (const auto& m : quant::all_mixes()) names += (names.empty() ? "" : ", ") + std::string(m.name);
      return Error{fmt::format("unknown --weights '{}' (known: {})", weights, names)};
    }
  }
  if (src.file) {
    auto m = planner::model_from_gguf(*src.file, mix);
    if (m) m->shape.name = src.name;
    return m;
  }
  return planner::model_from_shape(*src.shape, mix ? *mix : *quant::find_mix(src.default_mix));
}

int fail(const std::string& message, int status) {
  fmt::print(stderr, "pagoda estimate: {}\n", message);
  return status;
}

}  // namespace

int cmd_estimate(int argc, char** argv) {
  CLI::App app{"How much memory a model needs: weights, KV cache, scratch and overhead, whether it fits, and the "
               "largest context / concurrency that would",
               "pagoda estimate"};
  EstimateCliOptions o;
  app.add_option("model", o.model_path, "GGUF file (header only is read), config.json, or a preset name");
  app.add_option("-m,--model", o.model_flag, "GGUF file or config.json (same as the positional argument)");
  app.add_option("--preset", o.preset, "a built-in model shape: " + planner::model_shape_names());
  app.add_option("--config", o.config, "a Hugging Face config.json");
  app.add_option("--weights", o.weights,
                 "weight type / quantization mix: F16, BF16, Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q3_K_M, Q2_K, ... "
                 "(default: the file's own; presets F16; config.json its torch_dtype)");
  add_kv_type_options(app, o.kv_types);
  app.add_option("-c,--ctx", o.ctx,
                 "tokens per sequence, e.g. 8192, 32k (default: the training context; --table: 32k)");
  app.add_option("--concurrency,--max-num-seqs", o.concurrency, "sequences at once")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--tensor-parallel-size", o.tp, "devices the weights and KV heads are split over (also -tp)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--memory", o.memory, "budget of one device or of RAM, e.g. 24GiB, 24GB (default: MemAvailable)");
  app.add_option("--block-size", o.block_size, "tokens per KV block")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--max-num-batched-tokens", o.batch_tokens, "tokens per engine step (sizes the scratch)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24))
      ->capture_default_str();
  app.add_option("-t,--threads", o.threads, "worker threads (0: all cores)")->check(CLI::Range(0, 1024));
  app.add_flag("--table", o.table,
               "one row per quantization mix (F16 ... Q2_K), with the KV cost of --ctx and whether each fits");
  app.add_flag("--json", o.json, "print one JSON object");
  // llama.cpp-style multi-letter short flags CLI11 cannot declare.
  std::vector<std::string> args(argv, argv + argc);
  for (auto& a : args)
    if (a == "-tp") a = "--tensor-parallel-size";
  std::vector<char*> pointers;
  for (auto& a : args) pointers.push_back(a.data());
  if (auto exit_code = parse_command_line(app, static_cast<int>(pointers.size()), pointers.data())) return *exit_code;

  auto src = open_source(o);
  if (!src) return fail(src.error().message, src.error().message.starts_with("name one") ? 2 : 1);
  auto kv = resolve_kv_types(o.kv_types);
  if (!kv) return fail(kv.error().message, 2);
  planner::EstimateOptions eo;
  eo.k_type = kv->first;
  eo.v_type = kv->second;
  if (!o.ctx.empty()) {
    auto ctx = planner::parse_token_count(o.ctx);
    if (!ctx) return fail("--ctx: " + ctx.error().message, 2);
    eo.ctx = *ctx;
    if (eo.ctx < 1) return fail("--ctx must be at least 1", 2);
  } else if (o.table) {
    eo.ctx = 32768;
  }
  eo.concurrency = o.concurrency;
  eo.tp = o.tp;
  eo.block_size = o.block_size;
  eo.batch_tokens = o.batch_tokens;
  eo.threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  estimate::Context context;
  context.source = src->kind;
  if (!o.memory.empty()) {
    auto bytes = engine::parse_memory_size(o.memory);
    if (!bytes) return fail("--memory: " + bytes.error().message, 2);
    eo.memory = *bytes;
    context.memory_label = "--memory";
  } else if (auto avail = engine::available_memory()) {
    eo.memory = *avail;
    context.memory_label = "available on this machine; --memory sets a budget";
  }

  if (o.table) {
    std::vector<estimate::TableRow> rows;
    for (const char* mix : kTableMixes) {
      auto m = plan_model(*src, mix);
      if (!m) return fail(m.error().message, 1);
      auto e = planner::estimate(*m, eo);
      if (!e) return fail(e.error().message, 2);
      rows.push_back({mix, std::move(*m), std::move(*e)});
    }
    if (o.json) fmt::print("{}\n", estimate::table_json(rows, context).dump(2));
    else estimate::print_table(rows, context);
    return 0;
  }
  auto m = plan_model(*src, o.weights);
  if (!m) return fail(m.error().message, 1);
  auto e = planner::estimate(*m, eo);
  if (!e) return fail(e.error().message, 2);
  if (o.json) fmt::print("{}\n", estimate::estimate_json(*m, *e, context).dump(2));
  else estimate::print_estimate(*m, *e, context);
  return 0;
}

}  // namespace pagoda::cli
