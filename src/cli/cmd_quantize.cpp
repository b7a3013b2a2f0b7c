// `pagoda quantize IN.gguf OUT.gguf TYPE [--threads N]`: rewrites a model with
// the per-tensor types of a llama.cpp quantization mix (quant/mix.h), keeping
// every metadata key. Streams one tensor at a time into OUT.tmp, renamed on
// success; a failure or SIGINT/SIGTERM removes the partial file.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include "base/thread_pool.h"
#include "cli/commands.h"
#include "gguf/file_type.h"
#include "gguf/gguf.h"
#include "quant/codec.h"
#include "quant/mix.h"

namespace pagoda::cli {
namespace {

namespace fs = std::filesystem;

// ---- partial-file cleanup on SIGINT / SIGTERM --------------------------------

// The .tmp path the writer is filling; the handler may only touch plain memory.
char g_partial_path[4096];

extern "C" void remove_partial_and_reraise(int sig) {
  if (g_partial_path[0] != '\0') unlink(g_partial_path);
  signal(sig, SIG_DFL);
  raise(sig);
}

// Installs the handlers for the lifetime of the object.
class PartialFileGuard {
 public:
  explicit PartialFileGuard(const std::string& tmp_path) {
    std::snprintf(g_partial_path, sizeof(g_partial_path), "%s", tmp_path.c_str());
    struct sigaction sa {};
    sa.sa_handler = remove_partial_and_reraise;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~PartialFileGuard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    g_partial_path[0] = '\0';
  }
  PartialFileGuard(const PartialFileGuard&) = delete;
  PartialFileGuard& operator=(const PartialFileGuard&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

// ---- progress ----------------------------------------------------------------

// A bar redrawn in place on a terminal; one line per tensor otherwise (logs, CI).
class Progress {
 public:
  explicit Progress(size_t total) : total_(total), tty_(isatty(STDERR_FILENO) == 1) {}

  void tensor(size_t index, const gguf::TensorInfo& in, TensorType out) {
    const std::string what = fmt::format("{} {} -> {}", in.name, tensor_type_name(in.type),
                                         tensor_type_name(out));
    if (tty_) {
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(kWidth * (index + 1) / std::max<size_t>(total_, 1));
      std::fprintf(stderr, "\r\033[K[%s%s] %zu/%zu %s", std::string(filled, '#').c_str(),
                   std::string(kWidth - filled, '.').c_str(), index + 1, total_, what.c_str());
    } else {
      std::fprintf(stderr, "[%zu/%zu] %s\n", index + 1, total_, what.c_str());
    }
    std::fflush(stderr);
  }
  void finish() {
    if (tty_) std::fprintf(stderr, "\n");
  }

 private:
  size_t total_;
  bool tty_;
};

// ---- conversion ----------------------------------------------------------------

quant::ModelFacts model_facts(const gguf::File& file) {
  quant::ModelFacts facts;
  facts.arch = file.get_string("general.architecture").value_or("");
  auto get = [&](const std::string& key) {
    const auto v = file.get_int(facts.arch + "." + key);
    return v && *v > 0 && *v < (1 << 20) ? static_cast<int>(*v) : 0;
  };
  facts.n_layer = get("block_count");
  facts.n_head = get("attention.head_count");
  facts.n_head_kv = get("attention.head_count_kv");
  facts.n_expert = get("expert_count");
  return facts;
}

// Converts tensor `in` to type `out` row by row on the pool into `dst`
// (resized to the output size). Every row is independent: blocks never span rows.
void convert_tensor(const gguf::TensorInfo& in, TensorType out, ThreadPool& pool,
                    std::vector<uint8_t>& dst) {
  const int64_t n_cols = in.shape[0];
  const int64_t n_rows = in.n_rows();
  const auto in_row = row_bytes(in.type, n_cols);
  const auto out_row = row_bytes(out, n_cols);
  if (!in_row || !out_row || !quant::can_dequantize(in.type) || !quant::can_quantize(out))
    throw Exception(fmt::format("cannot convert {} to {}", tensor_type_name(in.type), tensor_type_name(out)));
  dst.resize(*out_row * static_cast<size_t>(n_rows));
  std::vector<std::vector<float>> scratch(static_cast<size_t>(pool.size()));  // [threads][n_cols]
  const int64_t grain = std::max<int64_t>(1, 16384 / n_cols);
  pool.parallel_range(n_rows, grain, [&](int64_t begin, int64_t end, int thread) {
    auto& row = scratch[static_cast<size_t>(thread)];
    row.resize(static_cast<size_t>(n_cols));
    for (int64_t r = begin; r < end; ++r) {
      quant::dequantize_row(in.type, in.data + r * *in_row, row.data(), n_cols);
      quant::quantize_row(out, row.data(), dst.data() + r * *out_row, n_cols);
    }
  });
}

double mib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

struct Options {
  std::string input, output, type;
  int threads = 0;
};

// Returns an error message when OUT would overwrite IN (same path or same file).
std::string same_file_problem(const std::string& in, const std::string& out) {
  std::error_code ec;
  if (fs::exists(out, ec) && fs::equivalent(in, out, ec))
    return fmt::format("output '{}' is the input file '{}'", out, in);
  if (fs::weakly_canonical(in, ec) == fs::weakly_canonical(out, ec))
    return fmt::format("output '{}' is the input file", out);
  return {};
}

int run(const Options& opt) {
  const auto mix = quant::find_mix(opt.type);
  if (!mix) {
    std::string names;
    for (const auto& m : quant::all_mixes()) names += fmt::format(" {}", m.name);
    std::fprintf(stderr, "pagoda quantize: unknown type '%s'; choose one of:%s\n", opt.type.c_str(),
                 names.c_str());
    return 2;
  }
  if (const std::string problem = same_file_problem(opt.input, opt.output); !problem.empty()) {
    std::fprintf(stderr, "pagoda quantize: refusing to overwrite the input: %s\n", problem.c_str());
    return 2;
  }
  auto opened = gguf::File::open(opt.input);
  if (!opened) {
    std::fprintf(stderr, "pagoda quantize: %s\n", opened.error().message.c_str());
    return 1;
  }
  const gguf::File& in = *opened.value();

  // Plan every tensor in llama.cpp's output order.
  std::vector<quant::TensorDesc> descs;
  for (const auto& t : in.tensors()) descs.push_back({t.name, t.type, t.shape});
  const std::vector<size_t> order = quant::llama_cpp_tensor_order(descs);
  std::vector<quant::TensorDesc> ordered;
  for (size_t i : order) ordered.push_back(descs[i]);
  const std::vector<quant::TensorChoice> plan = quant::plan_mix(*mix, model_facts(in), ordered);

  gguf::Writer writer;
  writer.copy_metadata(in);
  for (const char* key : {"split.no", "split.count", "split.tensors.count"}) writer.remove(key);
  // Like llama.cpp: these two are re-added last.
  writer.remove("general.quantization_version");
  writer.set("general.quantization_version", gguf::Value::u32(2));
  writer.remove("general.file_type");
  writer.set("general.file_type", gguf::Value::u32(mix->file_type));
  for (size_t k = 0; k < order.size(); ++k) {
    const auto& t = in.tensors()[order[k]];
    writer.add_tensor(t.name, plan[k].type, t.shape);
  }

  ThreadPool pool(opt.threads > 0 ? opt.threads : hardware_threads());
  Progress progress(order.size());
  std::vector<uint8_t> buffer;  // the current tensor's output bytes
  auto data = [&](size_t k) -> Expected<std::span<const uint8_t>> {
    const auto& t = in.tensors()[order[k]];
    progress.tensor(k, t, plan[k].type);
    // Unchanged tensors go straight from the input mapping.
    if (!plan[k].convert) return std::span<const uint8_t>(t.data, static_cast<size_t>(t.n_bytes));
    return capture([&] {
      convert_tensor(t, plan[k].type, pool, buffer);
      return std::span<const uint8_t>(buffer);
    });
  };
  Expected<void> written;
  {
    PartialFileGuard guard(opt.output + ".tmp");
    written = writer.write_file(opt.output, data);
  }
  progress.finish();
  if (!written) {
    std::fprintf(stderr, "pagoda quantize: %s\n", written.error().message.c_str());
    return 1;
  }

  // Summary.
  uint64_t bytes_in = 0, bytes_out = 0, n_elements = 0;
  std::map<std::string, int> type_counts;
  for (size_t k = 0; k < order.size(); ++k) {
    const auto& t = in.tensors()[order[k]];
    bytes_in += t.n_bytes;
    bytes_out += writer.tensors()[k].n_bytes;
    n_elements += t.n_elements;
    ++type_counts[std::string(tensor_type_name(plan[k].type))];
  }
  std::printf("quantized %s -> %s as %s (%s, general.file_type %u), %d threads\n", opt.input.c_str(),
              opt.output.c_str(), std::string(mix->name).c_str(),
              gguf::file_type_name(mix->file_type).c_str(), mix->file_type, pool.size());
  const double n = static_cast<double>(std::max<uint64_t>(n_elements, 1));
  std::printf("  size: %.2f MiB (%.2f bits per weight) -> %.2f MiB (%.2f bits per weight)\n",
              mib(bytes_in), 8.0 * bytes_in / n, mib(bytes_out), 8.0 * bytes_out / n);
  std::string types;
  for (const auto& [name, count] : type_counts) types += fmt::format(" {}: {}", name, count);
  std::printf("  tensors:%s\n", types.c_str());
  int n_fallback = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    if (plan[k].fallback.empty()) continue;
    if (n_fallback++ == 0) std::printf("  fallbacks:\n");
    std::printf("    %s: %s\n", in.tensors()[order[k]].name.c_str(), plan[k].fallback.c_str());
  }
  if (n_fallback == 0) std::printf("  fallbacks: none\n");
  return 0;
}

}  // namespace

int cmd_quantize(int argc, char** argv) {
  CLI::App app{"Convert a GGUF model to another weight type (llama.cpp's quantization mixes)",
               "pagoda quantize"};
  Options opt;
  std::string types;
  for (const auto& m : quant::all_mixes()) types += std::string(types.empty() ? "" : " ") + std::string(m.name);
  app.add_option("input", opt.input, "input GGUF model")->required()->check(CLI::ExistingFile);
  app.add_option("output", opt.output, "output GGUF path (written via OUTPUT.tmp)")->required();
  app.add_option("type", opt.type, "target: " + types)->required();
  app.add_option("-t,--threads", opt.threads, "worker threads (default: all cores)")
      ->check(CLI::Range(1, 1024));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return run(opt);
}

}  // namespace pagoda::cli
