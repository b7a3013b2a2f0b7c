// `pagoda bench`: prompt and decode throughput through the engine, in
// llama-bench's table and JSON shapes (n_prompt, n_gen, avg_ts, stddev_ts)
// plus n_parallel: with --parallel N, N sequences run together and the figure
// is their aggregate tokens/s.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/process_memory.h"
#include "base/thread_pool.h"
#include "cli/bench/memory_roof.h"
#include "cli/bench_serve/bench_serve.h"
#include "cli/commands.h"
#include "cli/engine_options.h"
#include "cli/tensor_parallel.h"
#include "dist/communicator.h"
#include "engine/engine.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct Test {
  int n_prompt = 0, n_gen = 0, n_parallel = 1, n_depth = 0;
  std::vector<double> samples_ts;
  double comm_seconds = 0;  // tensor parallelism: time in all-reduces and gathers, all repetitions
  int64_t n_tokens = 0;     // tokens measured, all repetitions
  double comm_ms_per_token() const { return n_tokens ? comm_seconds * 1000.0 / static_cast<double>(n_tokens) : 0; }
  double avg() const {
    double s = 0;
    for (double x : samples_ts) s += x;
    return samples_ts.empty() ? 0 : s / static_cast<double>(samples_ts.size());
  }
  double stddev() const {
    if (samples_ts.size() < 2) return 0;
    const double m = avg();
    double s = 0;
    for (double x : samples_ts) s += (x - m) * (x - m);
    return std::sqrt(s / static_cast<double>(samples_ts.size() - 1));
  }
  std::string name() const {
    const std::string base = n_prompt > 0 ? fmt::format("pp{}", n_prompt) : fmt::format("tg{}", n_gen);
    return n_depth > 0 ? fmt::format("{} @ d{}", base, n_depth) : base;  // llama-bench's names
  }
  // Decode streams every weight once per step (all n_parallel sequences share it): bytes/s.
  double weight_bytes_per_second(uint64_t weight_bytes) const {
    return n_gen > 0 ? avg() / n_parallel * static_cast<double>(weight_bytes) : 0;
  }
};

std::vector<int> parse_list(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    out.push_back(std::stoi(item, &used));
    if (used != item.size()) throw std::invalid_argument(item);  // "4x" is not a number
  }
  return out;
}

// Submits one request per prompt and waits for all of them; the seconds it took.
Expected<double> run_requests(engine::Engine& engine, const std::vector<std::vector<int32_t>>& prompts, int n_gen) {
  std::vector<std::shared_ptr<engine::RequestStream>> streams;
  const auto start = Clock::now();
  for (const auto& prompt : prompts) {
    engine::GenerationRequest r;
    r.prompt = prompt;
    r.params = sampling::greedy_params();
    r.params.max_tokens = n_gen;
    r.params.ignore_eos = true;
    auto s = engine.submit(std::move(r));
    if (!s) return s.error();
    streams.push_back(*s);
  }
  for (auto& s : streams)
    while (auto out = s->next())
      if (!out->error.empty()) return Error{out->error};
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Runs n_parallel requests of n_prompt random tokens generating n_gen tokens
// each, all submitted at once; returns the seconds until every one finished
// (with n_gen == 1, that is the prompt time). With n_depth > 0 each request
// first gets n_depth tokens of context, computed in an untimed run and then
// found in the prefix cache (llama-bench's -d): the timed run computes only
// its own tokens (and the context's last partial KV block, < --block-size tokens).
Expected<double> run_batch(engine::Engine& engine, std::mt19937& rng, int n_vocab, int n_prompt, int n_gen,
                           int n_parallel, int n_depth = 0) {
  auto random_tokens = [&](int n, std::vector<int32_t>& out) {
    for (int t = 0; t < n; ++t) out.push_back(static_cast<int32_t>(rng() % static_cast<unsigned>(n_vocab)));
  };
  std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(n_parallel));
  if (n_depth > 0) {
    for (auto& p : prompts) random_tokens(n_depth, p);
    if (auto warm = run_requests(engine, prompts, 1); !warm) return warm.error();
  }
  for (auto& p : prompts) random_tokens(n_prompt, p);
  return run_requests(engine, prompts, n_gen);
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  // `pagoda bench serve ...`: the serving benchmark (a client, no model loaded here).
  if (argc > 1 && std::string(argv[1]) == "serve") return cmd_bench_serve(argc - 1, argv + 1);
  CLI::App app{"Prompt and decode throughput through the engine (llama-bench's output shapes)"};
  app.footer("'pagoda bench serve --help': load-test an OpenAI-compatible server instead.");
  std::string model_path, parallel_text = "1", output = "md";
  int n_prompt = 512, n_gen = 128, reps = 3, n_depth = 0;
  EngineOptions eo;
  eo.no_prefix_caching = true;  // every repetition computes its prompt
  app.add_option("-m,--model", model_path, "GGUF model")->required();
  app.add_option("-p,--n-prompt", n_prompt, "prompt tokens for the pp test (0: skip)")->check(CLI::Range(0, 1 << 20))->capture_default_str();
  app.add_option("-n,--n-gen", n_gen, "generated tokens for the tg test (0: skip)")->check(CLI::Range(0, 1 << 20))->capture_default_str();
  app.add_option("-d,--n-depth", n_depth, "tokens of context already in each sequence's cache before the test, as llama-bench's -d (kept out of the timing through the prefix cache)")
      ->check(CLI::Range(0, 1 << 20))->capture_default_str();
  app.add_option("-r,--repetitions", reps, "repetitions of each test")->check(CLI::Range(1, 1000))->capture_default_str();
  app.add_option("--parallel,--n-parallel", parallel_text, "comma-separated numbers of sequences run together (e.g. 1,4,16,32)")
      ->capture_default_str();
  app.add_option("-o,--output", output, "md or json")->check(CLI::IsMember({"md", "json"}))->capture_default_str();
  app.add_option("--max-model-len", eo.max_model_len, "context per sequence (default: prompt + generated tokens)");
  bool no_roof = false, no_warmup = false;
  app.add_flag("--no-roof", no_roof, "skip measuring the memory-read roof that decode's GB/s is compared with");
  app.add_flag("--no-warmup", no_warmup, "skip the untimed run of each test before its repetitions (as llama-bench's)");
  add_engine_options(app, eo);
  int tp = 1;
  add_tensor_parallel_option(app, tp);
  TpArgv args(argc, argv);
  if (auto exit_code = parse_command_line(app, args.argc(), args.argv())) return *exit_code;
  std::unique_ptr<dist::Communicator> comm;
  // With -tp, a failure on any rank before the engine runs ends every rank.
  auto fail = [&](const std::string& m) {
    if (comm && comm->size() > 1) comm->abort("pagoda bench: " + m);
    fmt::print(stderr, "pagoda bench: {}\n", m);
    return 1;
  };
  std::vector<int> parallel;
  try {
    parallel = parse_list(parallel_text);
  } catch (...) {
    return fail(fmt::format("--parallel '{}' is not a comma-separated list of numbers", parallel_text));
  }
  for (int p : parallel)
    if (p < 1 || p > 4096) return fail(fmt::format("--parallel values must be in [1, 4096], got {}", p));
  if (n_prompt == 0 && n_gen == 0) return fail("nothing to measure: -p and -n are both 0");
  if (n_depth > 0) {
    if (app.get_option("--no-prefix-caching")->count() > 0)
      return fail("-d needs the prefix cache: drop --no-prefix-caching");
    eo.no_prefix_caching = false;  // the context is computed once, untimed, then found in the cache
  }

  auto made = make_communicator(tp);
  if (!made) return fail(made.error().message);
  comm = std::move(*made);
  auto model = load_model_for(model_path, *comm);
  if (!model) return fail(model.error().message);
  if (comm->rank() != 0) {
    log::set_level(log::Level::warn);
    return run_engine_worker(*comm, **model, eo.threads);
  }
  auto tok = tokenizer::Tokenizer::from_gguf((*model)->file());
  if (!tok) return fail(tok.error().message);
  auto config = engine_config(eo);
  if (!config) return fail(config.error().message);
  config->max_num_seqs = std::max(config->max_num_seqs == 64 ? 1 : config->max_num_seqs,
                                  *std::max_element(parallel.begin(), parallel.end()));
  if (config->max_model_len == 0) {
    config->max_model_len = n_depth + std::max(n_prompt, 1) + std::max(n_gen, 1);
    // Say which tests need the room, not just that a --max-model-len nobody gave is too long.
    const int n_ctx_train = (*model)->hparams().n_ctx_train;
    if (n_ctx_train > 0 && config->max_model_len > n_ctx_train)
      return fail(fmt::format(
          "the tests need {} tokens of context per sequence (depth {} + prompt {} + generated {}, a prompt "
          "test sampling one token after its prompt), more than the model's training context of {}: lower "
          "-d, -p or -n (pp{} fits)",
          config->max_model_len, n_depth, std::max(n_prompt, 1), std::max(n_gen, 1), n_ctx_train,
          std::max(1, n_ctx_train - n_depth - std::max(n_gen, 1))));
  }
  ThreadPool pool(eo.threads);
  log::set_level(log::Level::warn);
  auto engine = engine::Engine::create(**model, **tok, *config, pool, comm.get());
  if (!engine) {  // the workers were told to stop
    fmt::print(stderr, "pagoda bench: {}\n", engine.error().message);
    return 1;
  }

  const bool progress = isatty(STDERR_FILENO);
  std::mt19937 rng(1);
  std::vector<Test> tests;
  const int n_vocab = (*model)->n_vocab();
  for (int p : parallel) {
    if (n_prompt > 0) tests.push_back({n_prompt, 0, p, n_depth, {}});
    if (n_gen > 0) tests.push_back({0, n_gen, p, n_depth, {}});
  }
  // One warm-up run pages the weights in.
  if (auto warm = run_batch(**engine, rng, n_vocab, 8, 2, 1); !warm) return fail(warm.error().message);
  for (Test& t : tests) {
    // As llama-bench, one untimed run of the test first: its repetitions then measure the steady
    // state, not the first step of its size growing the step's buffers and touching their pages
    // (a first pp512 repetition ran ~8% slower than the next ones).
    if (!no_warmup) {
      auto warm = t.n_prompt > 0 ? run_batch(**engine, rng, n_vocab, t.n_prompt, 1, t.n_parallel, t.n_depth)
                                 : run_batch(**engine, rng, n_vocab, 1, t.n_gen, t.n_parallel, t.n_depth);
      if (!warm) return fail(warm.error().message);
    }
    for (int r = 0; r < reps; ++r) {
      // pp: the prompt and one sampled token; tg: a one-token prompt, then n_gen decode steps.
      // The engine thread is idle between runs, so reading its communicator's clock is safe.
      const double comm_before = comm->all_reduce_seconds();
      auto secs = t.n_prompt > 0 ? run_batch(**engine, rng, n_vocab, t.n_prompt, 1, t.n_parallel, t.n_depth)
                                 : run_batch(**engine, rng, n_vocab, 1, t.n_gen, t.n_parallel, t.n_depth);
      if (!secs) return fail(secs.error().message);
      const double tokens = static_cast<double>(t.n_parallel) * (t.n_prompt > 0 ? t.n_prompt : t.n_gen);
      t.samples_ts.push_back(tokens / *secs);
      t.comm_seconds += comm->all_reduce_seconds() - comm_before;
      t.n_tokens += static_cast<int64_t>(tokens);
      if (progress) fmt::print(stderr, "\r{} x{}: rep {}/{}", t.name(), t.n_parallel, r + 1, reps);
    }
  }
  if (progress) fmt::print(stderr, "\r{:40}\r", "");
  // Read before the roof's buffer exists: the model, its KV pool and the engine's buffers.
  const auto mem = process_memory();
  // After the tests, so that its buffer never competes with the model for memory.
  const MemoryRoof roof = no_roof ? MemoryRoof{} : measure_memory_roof(pool, uint64_t{512} << 20, 3);
  const double roof_gbs = roof.bytes_per_second / 1e9;

  uint64_t n_params = 0;
  for (const auto& ti : (*model)->file().tensors()) n_params += ti.n_elements;
  const uint64_t size = (*model)->file().bytes().size();
  const std::string file = std::filesystem::path(model_path).filename().string();
  const int threads = pool.size();
  const uint64_t weight_bytes = (*model)->weight_bytes();
  if (output == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const Test& t : tests)
      out.push_back({{"model_filename", model_path}, {"model_size", size}, {"model_n_params", n_params},
                     {"n_threads", threads}, {"type_k", std::string(kv_type_name(config->k_type))}, {"type_v", std::string(kv_type_name(config->v_type))},
                     {"n_prompt", t.n_prompt}, {"n_gen", t.n_gen}, {"n_depth", t.n_depth}, {"n_parallel", t.n_parallel},
                     {"n_tensor_parallel", comm->size()}, {"weight_bytes_per_rank", weight_bytes},
                     {"comm_ms_per_token", t.comm_ms_per_token()},
                     {"weights_gb_s", t.n_gen > 0 ? nlohmann::json(t.weight_bytes_per_second(weight_bytes) / 1e9) : nlohmann::json()},
                     {"memory_roof_gb_s", no_roof ? nlohmann::json() : nlohmann::json(roof_gbs)},
                     {"avg_ts", t.avg()}, {"stddev_ts", t.stddev()}, {"samples_ts", t.samples_ts}});
    fmt::print("{}\n", out.dump(2));
  } else {
    const bool tp_active = comm->size() > 1;
    fmt::print("| model | size | params | threads | {}n_parallel | test | t/s | weights GB/s |{}\n",
               tp_active ? "tp | " : "", tp_active ? " all-reduce ms/token |" : "");
    fmt::print("| --- | ---: | ---: | ---: | {}---: | ---: | ---: | ---: |{}\n", tp_active ? "---: | " : "",
               tp_active ? " ---: |" : "");
    for (const Test& t : tests) {
      std::string gbs = "";
      if (t.n_gen > 0) {
        const double g = t.weight_bytes_per_second(weight_bytes) / 1e9;
        gbs = no_roof ? fmt::format("{:.1f}", g) : fmt::format("{:.1f} ({:.0f}% of roof)", g, 100.0 * g / roof_gbs);
      }
      fmt::print("| {} | {:.2f} MiB | {:.2f} M | {} | {}{} | {} | {:.2f} ± {:.2f} | {} |{}\n", file,
                 size / 1048576.0, n_params / 1e6, threads, tp_active ? fmt::format("{} | ", comm->size()) : "",
                 t.n_parallel, t.name(), t.avg(), t.stddev(), gbs,
                 tp_active ? fmt::format(" {:.3f} |", t.comm_ms_per_token()) : "");
    }
    if (!no_roof)
      fmt::print("\nmemory-read roof: {:.1f} GB/s ({} threads streaming {} MiB, best of 3); decode reads {:.2f} MiB "
                 "of weights per step\n",
                 roof_gbs, threads, roof.buffer_bytes >> 20, weight_bytes / 1048576.0);
    if (tp_active) fmt::print("\ntensor parallel: {} ranks, rank 0 reads {:.2f} MiB of weights\n", comm->size(),
                              weight_bytes / 1048576.0);
    if (mem)
      fmt::print("{}peak resident memory{}: {:.2f} MiB\n", tp_active ? "" : "\n", tp_active ? " of rank 0" : "",
                 mem->peak_resident / 1048576.0);
  }
  return 0;
}

}  // namespace pagoda::cli
