// `pagoda perplexity`: llama.cpp's perplexity method, and KL divergence
// against saved reference log-probabilities.
//
// Method (as llama.cpp's `perplexity`): tokenize the whole text with BOS,
// n_chunk = n_tokens / n_ctx, evaluate each chunk from scratch with its first
// token replaced by BOS, and score positions n_ctx/2 .. n_ctx-2, each
// predicting the next token.
//
// KL base file (little-endian): magic "PGDKLD01", then int32 n_vocab, n_ctx,
// n_chunk, the n_chunk * n_ctx evaluated token ids (int32), then per scored
// row: float lo, float step, uint16 q[n_vocab] with log p = lo + q * step
// (log-probabilities below lo = max(min log p, -32) are clamped to lo).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "cli/commands.h"
#include "cli/kv_options.h"
#include "cli/tensor_parallel.h"
#include "kv/kv_store.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::cli {

namespace {

constexpr char kKlMagic[8] = {'P', 'G', 'D', 'K', 'L', 'D', '0', '1'};
constexpr float kMinLogProb = -32.0f;

// log-softmax of one row into out [n_vocab] (sum of exponentials in double).
void log_softmax(const float* logits, int32_t n, std::vector<float>& out) {
  out.resize(static_cast<size_t>(n));
  const float max = *std::max_element(logits, logits + n);
  double sum = 0.0;
  for (int32_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i] - max));
  const double log_sum = std::log(sum);
  for (int32_t i = 0; i < n; ++i)
    out[static_cast<size_t>(i)] = static_cast<float>(logits[i] - max - log_sum);
}

struct Accumulator {
  double sum = 0, sum_sq = 0;
  int64_t count = 0;
  void add(double v) {
    sum += v;
    sum_sq += v * v;
    ++count;
  }
  double mean() const { return count ? sum / count : 0.0; }
  // Standard error of the mean (0 with fewer than two samples).
  double stderr_of_mean() const {
    if (count < 2) return 0.0;
    const double var = sum_sq / count - mean() * mean();
    return var > 0 ? std::sqrt(var / (count - 1)) : 0.0;
  }
};

// The saved reference: header, tokens, rows.
class KlBase {
 public:
  static Expected<KlBase> read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{path + ": cannot open"};
    KlBase b;
    char magic[8] = {};
    int32_t header[3] = {};
    in.read(magic, 8);
    in.read(reinterpret_cast<char*>(header), sizeof(header));
    if (!in || std::memcmp(magic, kKlMagic, 8) != 0)
      return Error{path + ": not a pagoda KL-divergence base file"};
    b.n_vocab = header[0];
    b.n_ctx = header[1];
    b.n_chunk = header[2];
    if (b.n_vocab <= 0 || b.n_vocab > (1 << 24) || b.n_ctx < 4 || b.n_ctx > (1 << 24) ||
        b.n_chunk <= 0 || int64_t{b.n_chunk} * b.n_ctx > (int64_t{1} << 28))
      return Error{path + ": corrupt header"};
    b.tokens.resize(static_cast<size_t>(b.n_chunk) * static_cast<size_t>(b.n_ctx));
    in.read(reinterpret_cast<char*>(b.tokens.data()),
            static_cast<std::streamsize>(b.tokens.size() * sizeof(int32_t)));
    if (!in) return Error{path + ": truncated token list"};
    b.in_ = std::make_shared<std::ifstream>(std::move(in));
    b.path_ = path;
    return b;
  }

  // Reads the next row's log-probabilities into out [n_vocab].
  Expected<void> next_row(std::vector<float>& out) {
    float lo_step[2];
    row_.resize(static_cast<size_t>(n_vocab));
    in_->read(reinterpret_cast<char*>(lo_step), sizeof(lo_step));
    in_->read(reinterpret_cast<char*>(row_.data()),
              static_cast<std::streamsize>(row_.size() * sizeof(uint16_t)));
    if (!*in_) return Error{path_ + ": truncated log-probability rows"};
    out.resize(row_.size());
    for (size_t i = 0; i < row_.size(); ++i) out[i] = lo_step[0] + row_[i] * lo_step[1];
    return {};
  }

  int32_t n_vocab = 0, n_ctx = 0, n_chunk = 0;
  std::vector<int32_t> tokens;  // [n_chunk * n_ctx]

 private:
  std::shared_ptr<std::ifstream> in_;
  std::string path_;
  std::vector<uint16_t> row_;
};

void write_row(std::ofstream& out, const std::vector<float>& log_probs) {
  const float min = *std::min_element(log_probs.begin(), log_probs.end());
  const float lo = std::max(min, kMinLogProb);
  const float step = -lo / 65535.0f;
  std::vector<uint16_t> q(log_probs.size());
  for (size_t i = 0; i < q.size(); ++i) {
    const float v = std::clamp(log_probs[i], lo, 0.0f);
    q[i] = step > 0 ? static_cast<uint16_t>(std::lround((v - lo) / step)) : 0;
  }
  const float lo_step[2] = {lo, step};
  out.write(reinterpret_cast<const char*>(lo_step), sizeof(lo_step));
  out.write(reinterpret_cast<const char*>(q.data()),
            static_cast<std::streamsize>(q.size() * sizeof(uint16_t)));
}

int fail(const std::string& message) {
  std::fprintf(stderr, "pagoda perplexity: %s\n", message.c_str());
  return 1;
}

}  // namespace

int cmd_perplexity(int argc, char** argv) {
  CLI::App app{"Perplexity of a model over a text file (llama.cpp's method), or KL divergence"};
  std::string model_path, text_path, kl_base_path;
  KvTypeOptions kv_options;
  int n_ctx = 512, threads = 0, max_chunks = 0, tp = 1;
  bool kl_divergence = false;
  app.add_option("-m,--model", model_path, "GGUF model")->required();
  app.add_option("-f,--file", text_path, "text file to score")->required();
  app.add_option("-c,--ctx-size", n_ctx, "tokens per chunk")->check(CLI::Range(4, 1 << 20));
  app.add_option("--chunks", max_chunks, "score at most this many chunks (0: all)")
      ->check(CLI::Range(0, 1 << 30));
  add_kv_type_options(app, kv_options);
  app.add_option("-t,--threads", threads, "worker threads (0: all cores)")
      ->check(CLI::Range(0, 1024));
  app.add_option("--kl-divergence-base", kl_base_path,
                 "with --kl-divergence: read reference log-probs from FILE; otherwise save them");
  app.add_flag("--kl-divergence", kl_divergence,
               "compare against --kl-divergence-base (mean KLD, top-1 agreement)");
  add_tensor_parallel_option(app, tp);
  TpArgv args(argc, argv);
  try {
    app.parse(args.argc(), args.argv());
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (kl_divergence && kl_base_path.empty())
    return fail("--kl-divergence needs --kl-divergence-base FILE");
  auto kv_types = resolve_kv_types(kv_options);
  if (!kv_types) return fail(kv_types.error().message);
  const auto [k_type, v_type] = *kv_types;

  auto loaded = load_model_tp(model_path, tp);
  if (!loaded) return fail(loaded.error().message);
  auto* model = &loaded->model;
  const bool printing = loaded->printing();  // tensor parallelism: rank 0 has the logits
  auto tok = tokenizer::Tokenizer::from_gguf((*model)->file());
  if (!tok) return fail(tok.error().message);
  const int32_t n_vocab = (*model)->n_vocab();

  std::ifstream text_in(text_path, std::ios::binary);
  if (!text_in) return fail(text_path + ": cannot open");
  const std::string text((std::istreambuf_iterator<char>(text_in)), std::istreambuf_iterator<char>());

  std::optional<KlBase> base;
  std::vector<int32_t> tokens;
  int n_chunk = 0;
  if (kl_divergence) {
    auto b = KlBase::read(kl_base_path);
    if (!b) return fail(b.error().message);
    if (b->n_vocab != n_vocab)
      return fail(fmt::format("base file has {} vocabulary entries, the model {}", b->n_vocab,
                              n_vocab));
    n_ctx = b->n_ctx;
    n_chunk = b->n_chunk;
    tokens = b->tokens;
    for (int32_t t : tokens)
      if (t < 0 || t >= n_vocab) return fail("base file holds a token id outside the vocabulary");
    base = std::move(*b);
  } else {
    tokens = (*tok)->encode(text, /*add_special=*/true, /*parse_special=*/false);
    n_chunk = static_cast<int>(tokens.size() / static_cast<size_t>(n_ctx));
    if (max_chunks > 0) n_chunk = std::min(n_chunk, max_chunks);
    if (n_chunk == 0)
      return fail(fmt::format("the text has {} tokens, fewer than one chunk of {}", tokens.size(),
                              n_ctx));
  }
  const int32_t bos = (*tok)->bos();
  const bool add_bos = (*tok)->add_bos() && bos >= 0;

  auto cache = (*model)->make_kv_cache(1, n_ctx, k_type, v_type);
  if (!cache) return fail(cache.error().message);

  std::ofstream base_out;
  if (printing && !kl_divergence && !kl_base_path.empty()) {
    base_out.open(kl_base_path, std::ios::binary | std::ios::trunc);
    if (!base_out) return fail(kl_base_path + ": cannot create");
    const int32_t header[3] = {n_vocab, n_ctx, n_chunk};
    base_out.write(kKlMagic, 8);
    base_out.write(reinterpret_cast<const char*>(header), sizeof(header));
    base_out.write(reinterpret_cast<const char*>(tokens.data()),
                   static_cast<std::streamsize>(sizeof(int32_t) * static_cast<size_t>(n_chunk) *
                                                static_cast<size_t>(n_ctx)));
  }

  if (printing)
    std::fprintf(stderr, "perplexity: %zu tokens, %d chunks of %d, kv cache %s\n", tokens.size(),
               n_chunk, n_ctx, describe_kv_types(k_type, v_type).c_str());
  ThreadPool pool(threads);
  const int first = n_ctx / 2;
  Accumulator nll, kld, same_top;
  std::vector<float> logits, log_probs, base_log_probs;
  model::Batch batch;
  for (int c = 0; c < n_chunk; ++c) {
    const size_t start = static_cast<size_t>(c) * static_cast<size_t>(n_ctx);
    (*cache)->clear(0);
    batch.clear();
    for (int i = 0; i < n_ctx; ++i) {
      int32_t t = tokens[start + static_cast<size_t>(i)];
      if (i == 0 && add_bos) t = bos;
      batch.add(t, i, 0, i >= first && i < n_ctx - 1);
    }
    if (auto ok = (*model)->forward(batch, **cache, pool, logits); !ok)
      return fail(ok.error().message);
    if (!printing) continue;
    for (int i = first; i < n_ctx - 1; ++i) {
      const float* row = logits.data() + static_cast<size_t>(i - first) * n_vocab;
      log_softmax(row, n_vocab, log_probs);
      const int32_t target = tokens[start + static_cast<size_t>(i) + 1];
      nll.add(-static_cast<double>(log_probs[static_cast<size_t>(target)]));
      if (base_out.is_open()) write_row(base_out, log_probs);
      if (base) {
        if (auto ok = base->next_row(base_log_probs); !ok) return fail(ok.error().message);
        double kl = 0.0;
        for (int32_t v = 0; v < n_vocab; ++v) {
          const double lp = base_log_probs[static_cast<size_t>(v)];
          kl += std::exp(lp) * (lp - log_probs[static_cast<size_t>(v)]);
        }
        kld.add(kl);
        const auto top = [&](const std::vector<float>& x) {
          return std::max_element(x.begin(), x.end()) - x.begin();
        };
        same_top.add(top(base_log_probs) == top(log_probs) ? 1.0 : 0.0);
      }
    }
    std::printf("[%d]%.4f,", c + 1, std::exp(nll.mean()));
    std::fflush(stdout);
  }
  std::printf("\n");
  const double ppl = std::exp(nll.mean());
  std::printf("Final estimate: PPL = %.4f +/- %.5f\n", ppl, nll.stderr_of_mean() * ppl);
  if (base) {
    std::printf("Mean KLD: %10.6f +/- %10.6f\n", kld.mean(), kld.stderr_of_mean());
    std::printf("Same top p: %6.3f +/- %6.3f %%\n", 100.0 * same_top.mean(),
                100.0 * same_top.stderr_of_mean());
  }
  if (base_out.is_open()) {
    base_out.close();
    if (!base_out) return fail(kl_base_path + ": write failed");
    std::fprintf(stderr, "saved %lld rows of log-probabilities to %s\n",
                 static_cast<long long>(nll.count), kl_base_path.c_str());
  }
  return 0;
}

}  // namespace pagoda::cli
