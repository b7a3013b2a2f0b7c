// `pagoda logits`: evaluates token ids in one batch and prints, per position,
// the highest logits as JSON lines {"pos": i, "top": [[id, logit], ...]}.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "cli/commands.h"
#include "cli/kv_options.h"
#include "cli/tensor_parallel.h"
#include "kv/kv_store.h"
#include "model/model.h"

namespace pagoda::cli {

namespace {

// Parses "1,2,3" (spaces allowed) into ids; an Error names the bad item.
Expected<std::vector<int32_t>> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(start, end - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    int32_t id = 0;
    auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), id);
    if (item.empty() || ec != std::errc() || ptr != item.data() + item.size())
      return Error{fmt::format("--ids: '{}' is not a token id", item)};
    ids.push_back(id);
    start = end + 1;
  }
  return ids;
}

// Indices of the k largest values, highest first; ties: lower index first.
std::vector<int32_t> top_indices(const float* values, int32_t n, int32_t k) {
  std::vector<int32_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min(k, n);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
    return values[a] > values[b] || (values[a] == values[b] && a < b);
  });
  idx.resize(static_cast<size_t>(k));
  return idx;
}

}  // namespace

int cmd_logits(int argc, char** argv) {
  CLI::App app{"Evaluate token ids in one batch and print the top logits of every position"};
  std::string model_path, ids_text;
  KvTypeOptions kv_options;
  int top = 5, threads = 0, tp = 1;
  app.add_option("-m,--model", model_path, "GGUF model")->required();
  app.add_option("--ids", ids_text, "comma-separated token ids, e.g. 1,450,4996")->required();
  app.add_option("--top", top, "logits per position to print")->check(CLI::Range(1, 1 << 20));
  add_kv_type_options(app, kv_options);
  app.add_option("-t,--threads", threads, "worker threads (0: all cores)")
      ->check(CLI::Range(0, 1024));
  add_tensor_parallel_option(app, tp);
  TpArgv args(argc, argv);
  try {
    app.parse(args.argc(), args.argv());
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  auto ids = parse_ids(ids_text);
  if (!ids) {
    std::fprintf(stderr, "pagoda logits: %s\n", ids.error().message.c_str());
    return 2;
  }
  auto kv_types = resolve_kv_types(kv_options);
  if (!kv_types) {
    std::fprintf(stderr, "pagoda logits: %s\n", kv_types.error().message.c_str());
    return 2;
  }
  auto loaded = load_model_tp(model_path, tp);
  if (!loaded) {
    std::fprintf(stderr, "pagoda logits: %s\n", loaded.error().message.c_str());
    return 1;
  }
  auto* model = &loaded->model;
  const auto n = static_cast<int>(ids->size());
  if (n > (*model)->hparams().n_ctx_train) {
    std::fprintf(stderr, "pagoda logits: %d tokens exceed the model's context of %d\n", n,
                 (*model)->hparams().n_ctx_train);
    return 1;
  }
  auto cache = (*model)->make_kv_cache(1, n, kv_types->first, kv_types->second);
  if (!cache) {
    std::fprintf(stderr, "pagoda logits: %s\n", cache.error().message.c_str());
    return 1;
  }
  model::Batch batch;
  for (int i = 0; i < n; ++i) batch.add((*ids)[static_cast<size_t>(i)], i, 0, true);
  ThreadPool pool(threads);
  std::vector<float> logits;  // [n, n_vocab]
  if (auto ok = (*model)->forward(batch, **cache, pool, logits); !ok) {
    std::fprintf(stderr, "pagoda logits: %s\n", ok.error().message.c_str());
    return 1;
  }
  if (!loaded->printing()) return 0;  // rank 0 holds the logits
  const int32_t n_vocab = (*model)->n_vocab();
  for (int i = 0; i < n; ++i) {
    const float* row = logits.data() + static_cast<size_t>(i) * n_vocab;
    nlohmann::json entries = nlohmann::json::array();
    for (int32_t id : top_indices(row, n_vocab, top)) entries.push_back({id, row[id]});
    nlohmann::json line = {{"pos", i}, {"top", entries}};
    std::printf("%s\n", line.dump().c_str());
  }
  return 0;
}

}  // namespace pagoda::cli
