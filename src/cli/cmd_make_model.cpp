// `pagoda make-model`: writes a Llama-architecture GGUF with seeded random
// weights and pagoda's own demo vocabulary. The default is a small demo model
// (its text is noise, and it says so in its metadata); --shape names the
// hyper-parameters of a published model for full-size benchmarks.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "base/log.h"
#include "base/thread_pool.h"
#include "cli/commands.h"
#include "cli/make_model/demo_vocab.h"
#include "cli/make_model/random_weights.h"
#include "cli/make_model/shapes.h"
#include "gguf/gguf.h"

namespace pagoda::cli {
namespace {

std::string shape_list() {
  std::string s;
  for (const auto& m : model_shapes()) s += (s.empty() ? "" : ", ") + m.name;
  return s;
}

}  // namespace

int cmd_make_model(int argc, char** argv) {
  CLI::App app{"Write a Llama-architecture GGUF with seeded random weights (a demo: its text is noise)",
               "pagoda make-model"};
  std::string out = "models/demo.gguf";
  std::string shape_name = "demo";
  std::string type_name = "F16";
  uint64_t seed = 42;
  int threads = 0;
  app.add_option("-o,--output", out, "output GGUF path")->capture_default_str();
  app.add_option("--shape", shape_name, "model shape: " + shape_list())->capture_default_str();
  app.add_option("--type", type_name, "weight type, as for `pagoda quantize` (F32, F16, Q8_0, Q4_K_M, ...)")
      ->capture_default_str();
  app.add_option("--seed", seed, "random seed for the weights")->capture_default_str();
  app.add_option("-t,--threads", threads, "threads (default: all cores)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  const ModelShape* shape = find_model_shape(shape_name);
  if (!shape) {
    std::fprintf(stderr, "make-model: unknown shape '%s' (known: %s)\n", shape_name.c_str(),
                 shape_list().c_str());
    return 2;
  }
  const auto mix = quant::find_mix(type_name);
  if (!mix) {
    std::string known;
    for (const auto& m : quant::all_mixes()) known += " " + std::string(m.name);
    std::fprintf(stderr, "make-model: unknown weight type '%s' (known:%s)\n", type_name.c_str(), known.c_str());
    return 2;
  }

  const DemoVocab vocab = build_demo_vocab(/*n_merges=*/480, shape->n_vocab);
  gguf::Writer writer;
  describe_model(writer, *shape, vocab, *mix);
  ThreadPool pool(threads);
  RandomWeights weights(*shape, static_cast<int64_t>(vocab.tokens.size()), *mix, seed, pool);
  weights.declare(writer);

  const bool tty = isatty(STDERR_FILENO);
  auto written = writer.write_file(out, [&](size_t index) { return weights.produce(index, tty); });
  if (!written.ok()) {
    std::fprintf(stderr, "make-model: %s\n", written.error().message.c_str());
    return 1;
  }
  if (tty) std::fprintf(stderr, "\n");
  std::fprintf(stderr, "make-model: wrote %s: %s shape, %s weights, %lld parameters, %zu tokens%s\n",
               out.c_str(), shape->name.c_str(), type_name.c_str(),
               static_cast<long long>(weights.n_params()), vocab.tokens.size(),
               shape->name == "demo" ? " (random weights: the text it writes is noise)" : "");
  return 0;
}

}  // namespace pagoda::cli
