// `pagoda run`: generates text from a prompt (or a chat) on a GGUF model, streaming it to stdout
// as it is produced, and ends with a timing line on stderr.
//
// The prompt is evaluated in chunks of --batch-size, then one token per step. A Session keeps
// the ids whose K/V are cached, so a chat turn re-evaluates only what its rendering adds.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "chat/chat_template.h"
#include "cli/commands.h"
#include "gguf/gguf.h"
#include "kv/kv_store.h"
#include "model/model.h"
#include "sampling/logit_ops.h"
#include "sampling/sampler.h"
#include "sampling/stop_checker.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::cli {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

struct RunOptions {
  std::string model_path;
  std::string prompt;
  int n_predict = -1;  // -1: until end of generation or a full context
  int ctx_size = 0;    // 0: the training context, at most kDefaultCtx
  int batch_size = 512;
  int threads = 0;
  std::string kv_type = "f16";
  int64_t seed = -1;  // -1: random
  bool chat = false;
  std::string system_prompt;
  std::string chat_template_file;
  bool trace_json = false;
  bool no_display_prompt = false;
  sampling::SamplingParams sampling;
};

constexpr int kDefaultCtx = 4096;

// The model's cached context for one sequence: which ids have K/V, and the logits row of the
// last evaluated one.
class Session {
 public:
  Session(model::Model& model, kv::KvCache& cache, ThreadPool& pool, int batch_size)
      : model_(model), cache_(cache), pool_(pool), batch_size_(batch_size) {}

  int n_ctx() const { return cache_.shape().n_ctx; }
  // Ids whose K/V the cache holds, in order.
  const std::vector<int32_t>& tokens() const { return tokens_; }
  // Logits after the last ingested id. [n_vocab]
  std::span<const float> last_logits() const { return last_logits_; }

  // Makes the cache hold exactly `ids`: keeps the longest common prefix with what is cached,
  // evaluates the rest in chunks of batch_size, and keeps the last row's logits. Returns how many
  // ids were evaluated. Errors: no id left to evaluate, too long for the context, forward errors.
  Expected<int> ingest(std::span<const int32_t> ids) {
    if (ids.empty()) return Error{"nothing to evaluate: the prompt has no tokens"};
    if (static_cast<int64_t>(ids.size()) > n_ctx())
      return Error{fmt::format("the prompt is {} tokens but the context holds {} (raise --ctx-size)",
                               ids.size(), n_ctx())};
    size_t keep = 0;
    while (keep < tokens_.size() && keep < ids.size() && tokens_[keep] == ids[keep]) ++keep;
    // The last id is always re-evaluated so its logits are fresh.
    if (keep == ids.size()) --keep;
    if (auto ok = cache_.truncate(0, static_cast<int>(keep)); !ok) return ok.error();
    tokens_.resize(keep);
    int evaluated = 0;
    for (size_t start = keep; start < ids.size(); start += static_cast<size_t>(batch_size_)) {
      const size_t end = std::min(ids.size(), start + static_cast<size_t>(batch_size_));
      if (auto ok = evaluate(ids.subspan(start, end - start)); !ok) return ok.error();
      evaluated += static_cast<int>(end - start);
    }
    return evaluated;
  }

  // Appends one id to the context and evaluates it. Errors: context full, forward errors.
  Expected<void> append(int32_t id) {
    if (static_cast<int>(tokens_.size()) >= n_ctx()) return Error{"the context is full"};
    return evaluate(std::span<const int32_t>(&id, 1));
  }

 private:
  Expected<void> evaluate(std::span<const int32_t> ids) {
    batch_.clear();
    for (size_t i = 0; i < ids.size(); ++i)
      batch_.add(ids[i], static_cast<int32_t>(tokens_.size() + i), 0, i + 1 == ids.size());
    if (auto ok = model_.forward(batch_, cache_, pool_, last_logits_); !ok) return ok.error();
    tokens_.insert(tokens_.end(), ids.begin(), ids.end());
    return {};
  }

  model::Model& model_;
  kv::KvCache& cache_;
  ThreadPool& pool_;
  int batch_size_;
  model::Batch batch_;
  std::vector<int32_t> tokens_;
  std::vector<float> last_logits_;  // [n_vocab]
};

// Writes generated text as it comes: flushed per piece so a reader sees it at once.
class TextOut {
 public:
  void write(std::string_view text) {
    if (text.empty()) return;
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    ends_with_newline_ = text.back() == '\n';
  }
  bool ends_with_newline() const { return ends_with_newline_; }

 private:
  bool ends_with_newline_ = true;
};

struct TurnStats {
  int n_prompt_evaluated = 0;
  double prompt_ms = 0.0;
  int n_generated = 0;
  double generation_ms = 0.0;
  sampling::FinishReason reason = sampling::FinishReason::none;
  std::string text;                // what was emitted
};

// One step of a trace: the chosen id and the five highest raw logits.
nlohmann::json trace_step(int32_t id, std::span<const float> logits) {
  nlohmann::json top = nlohmann::json::array();
  for (const auto& t : sampling::top_n(logits, 5)) top.push_back({t.id, t.logit});
  return {{"id", id}, {"top", top}};
}

// Evaluates prompt_ids (reusing the cached prefix) and generates until a stop condition, writing
// emitted text to `out` (when given) and trace steps to `trace` (when given).
Expected<TurnStats> generate(Session& session, const tokenizer::Tokenizer& tok, const RunOptions& opt,
                             std::span<const int32_t> prompt_ids, TextOut* out, nlohmann::json* trace) {
  TurnStats stats;
  const auto prompt_start = Clock::now();
  auto evaluated = session.ingest(prompt_ids);
  if (!evaluated) return evaluated.error();
  stats.n_prompt_evaluated = *evaluated;
  stats.prompt_ms = ms_since(prompt_start);

  const int room = session.n_ctx() - static_cast<int>(prompt_ids.size());
  if (room <= 0)
    return Error{fmt::format("the prompt is {} tokens and fills the context of {}: no room to generate "
                             "(raise --ctx-size)", prompt_ids.size(), session.n_ctx())};
  sampling::SamplingParams params = opt.sampling;
  params.max_tokens = opt.n_predict > 0 ? std::min(opt.n_predict, room) : room;
  auto sampler = sampling::Sampler::create(params, tok.eog_ids(), tok.n_vocab());
  if (!sampler) return sampler.error();
  sampling::StopChecker stop(params, tok.eog_ids());
  tokenizer::IncrementalDetokenizer detok(tok, /*render_special=*/false);
  auto emit = [&](const std::string& text) {
    stats.text += text;
    if (out) out->write(text);
  };

  const auto generation_start = Clock::now();
  std::vector<int32_t> history(prompt_ids.begin(), prompt_ids.end());
  while (!stop.finished()) {
    auto id = sampler->sample(session.last_logits(), history, stats.n_generated);
    if (!id) return id.error();
    if (trace) (*trace)["steps"].push_back(trace_step(*id, session.last_logits()));
    history.push_back(*id);
    ++stats.n_generated;
    emit(stop.on_token(*id, detok.push(*id)));
    if (stop.finished()) break;
    // The context fills exactly when max_tokens is reached, so append cannot overflow here.
    if (auto ok = session.append(*id); !ok) return ok.error();
  }
  // A length stop can leave an unfinished UTF-8 sequence in the detokenizer.
  if (stop.reason() == sampling::FinishReason::length) emit(detok.flush());
  stats.generation_ms = ms_since(generation_start);
  stats.reason = stop.reason();
  return stats;
}

void print_timings(const TurnStats& total, const TextOut& out) {
  auto rate = [](int n, double ms) { return ms > 0.0 ? n * 1000.0 / ms : 0.0; };
  fmt::print(stderr,
             "{}pagoda: prompt eval: {} tokens in {:.2f} ms ({:.2f} tokens/s) | generation: {} tokens in "
             "{:.2f} ms ({:.2f} tokens/s)\n",
             out.ends_with_newline() ? "" : "\n", total.n_prompt_evaluated, total.prompt_ms,
             rate(total.n_prompt_evaluated, total.prompt_ms), total.n_generated, total.generation_ms,
             rate(total.n_generated, total.generation_ms));
}

// Runs one prompt: either streams its text to `out` or, with --trace-json, prints one JSON object
// with the prompt ids and each step's choice and top-5 logits. Adds the turn's counts to `total`.
Expected<std::string> run_turn(Session& session, const tokenizer::Tokenizer& tok, const RunOptions& opt,
                               const std::string& prompt_text, std::span<const int32_t> prompt_ids, TextOut& out,
                               TurnStats& total) {
  nlohmann::json trace;
  if (opt.trace_json) {
    trace = {{"model", std::filesystem::path(opt.model_path).filename().string()},
             {"kv", opt.kv_type},
             {"prompt", prompt_text},
             {"prompt_ids", prompt_ids},
             {"steps", nlohmann::json::array()}};
  }
  auto stats = generate(session, tok, opt, prompt_ids, opt.trace_json ? nullptr : &out,
                        opt.trace_json ? &trace : nullptr);
  if (!stats) return stats.error();
  if (opt.trace_json) out.write(trace.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  total.n_prompt_evaluated += stats->n_prompt_evaluated;
  total.prompt_ms += stats->prompt_ms;
  total.n_generated += stats->n_generated;
  total.generation_ms += stats->generation_ms;
  return std::move(stats->text);
}

// Plain completion: BOS per the vocab, special tokens parsed, prompt echoed before the output.
Expected<void> run_completion(Session& session, const tokenizer::Tokenizer& tok, const RunOptions& opt, TextOut& out,
                              TurnStats& total) {
  const std::vector<int32_t> prompt_ids = tok.encode(opt.prompt, /*add_special=*/true, /*parse_special=*/true);
  if (!opt.trace_json && !opt.no_display_prompt) {
    // Echo what the model reads, as llama.cpp prints it: without the BOS and without the space
    // an SPM vocab prefixes to the first word (decode drops it when that word comes first).
    std::span<const int32_t> shown = prompt_ids;
    if (!shown.empty() && shown.front() == tok.bos()) shown = shown.subspan(1);
    out.write(tok.decode(shown, /*render_special=*/false));
  }
  auto text = run_turn(session, tok, opt, opt.prompt, prompt_ids, out, total);
  if (!text) return text.error();
  // Like llama.cpp, end the output with a line break.
  if (!out.ends_with_newline()) out.write("\n");
  return {};
}

// A conversation rendered with the model's chat template, turn after turn.
class Chat {
 public:
  Chat(const tokenizer::Tokenizer& tok, std::string template_source, const std::string& system_prompt)
      : tok_(tok), template_(std::move(template_source)) {
    if (tok.bos() >= 0) bos_text_ = tok.token_text(tok.bos());
    if (tok.eos() >= 0) eos_text_ = tok.token_text(tok.eos());
    messages_ = nlohmann::ordered_json::array();
    if (!system_prompt.empty()) messages_.push_back({{"role", "system"}, {"content", system_prompt}});
  }

  // Adds the user's message, generates the assistant's reply (streamed to out) and records it.
  Expected<void> turn(Session& session, const RunOptions& opt, const std::string& user_message, TextOut& out,
                      TurnStats& total) {
    messages_.push_back({{"role", "user"}, {"content", user_message}});
    auto rendered = chat::render_chat_ordered(template_, messages_, nullptr, /*add_generation_prompt=*/true,
                                              bos_text_, eos_text_, std::nullopt);
    if (!rendered) {
      messages_.erase(messages_.size() - 1);
      return Error{"chat template: " + rendered.error().message};
    }
    // Templates that write the BOS text themselves must not get a second BOS from the vocab.
    const bool has_bos = !bos_text_.empty() && rendered->starts_with(bos_text_);
    const std::vector<int32_t> ids = tok_.encode(*rendered, /*add_special=*/!has_bos, /*parse_special=*/true);
    auto reply = run_turn(session, tok_, opt, *rendered, ids, out, total);
    if (!reply) {
      messages_.erase(messages_.size() - 1);
      return reply.error();
    }
    messages_.push_back({{"role", "assistant"}, {"content", *reply}});
    return {};
  }

 private:
  const tokenizer::Tokenizer& tok_;
  std::string template_;
  std::string bos_text_, eos_text_;
  nlohmann::ordered_json messages_;
};

// The --chat-template file's text, else the GGUF's tokenizer.chat_template.
Expected<std::string> chat_template_source(const RunOptions& opt, const model::Model& model) {
  if (!opt.chat_template_file.empty()) {
    std::ifstream in(opt.chat_template_file, std::ios::binary);
    if (!in) return Error{fmt::format("cannot read --chat-template '{}'", opt.chat_template_file)};
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  if (auto source = model.file().get_string("tokenizer.chat_template")) return *source;
  return Error{"the model has no chat template (tokenizer.chat_template); pass --chat-template FILE"};
}

// --chat: one turn from -p, then (when stdin is a terminal) one turn per line until end of input.
Expected<void> run_chat(Session& session, const model::Model& model, const tokenizer::Tokenizer& tok,
                        const RunOptions& opt, TextOut& out, TurnStats& total) {
  auto source = chat_template_source(opt, model);
  if (!source) return source.error();
  Chat chat(tok, std::move(*source), opt.system_prompt);
  const bool interactive = isatty(STDIN_FILENO) && !opt.trace_json;
  if (!interactive && opt.prompt.empty())
    return Error{"--chat without a terminal on stdin needs --prompt for its one turn"};
  if (!opt.prompt.empty()) {
    if (auto ok = chat.turn(session, opt, opt.prompt, out, total); !ok) return ok;
    if (!out.ends_with_newline()) out.write("\n");
  }
  if (!interactive) return {};
  std::string line;
  while (true) {
    out.write("> ");
    if (!std::getline(std::cin, line)) break;  // Ctrl-D
    if (line.empty()) continue;
    if (auto ok = chat.turn(session, opt, line, out, total); !ok) {
      // A failed turn (template error, context full) ends the conversation with its message.
      return ok;
    }
    if (!out.ends_with_newline()) out.write("\n");
  }
  out.write("\n");
  return {};
}

struct Loaded {
  std::unique_ptr<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  std::unique_ptr<kv::KvCache> cache;
};

Expected<Loaded> load(const RunOptions& opt) {
  auto kv_type = parse_kv_type(opt.kv_type);
  if (!kv_type) return Error{fmt::format("unknown --kv-cache-dtype '{}' (f32, f16, q8_0, q4_0)", opt.kv_type)};
  Loaded loaded;
  auto model = model::Model::load(opt.model_path);
  if (!model) return model.error();
  loaded.model = std::move(*model);
  auto tok = tokenizer::Tokenizer::from_gguf(loaded.model->file());
  if (!tok) return tok.error();
  loaded.tokenizer = std::move(*tok);
  const int n_ctx_train = loaded.model->hparams().n_ctx_train;
  int n_ctx = opt.ctx_size;
  if (n_ctx <= 0) n_ctx = n_ctx_train > 0 ? std::min(n_ctx_train, kDefaultCtx) : kDefaultCtx;
  auto cache = loaded.model->make_kv_cache(1, n_ctx, *kv_type, *kv_type);
  if (!cache) return cache.error();
  loaded.cache = std::move(*cache);
  return loaded;
}

}  // namespace

int cmd_run(int argc, char** argv) {
  CLI::App app{"Generate text from a prompt (or chat) on a GGUF model, streamed to stdout"};
  RunOptions opt;
  opt.sampling.penalty_last_n = 64;
  std::vector<std::string> stop;
  app.add_option("-m,--model", opt.model_path, "GGUF model")->required();
  app.add_option("-p,--prompt", opt.prompt, "prompt text (in --chat mode: the first user message)");
  app.add_option("-n,--n-predict", opt.n_predict, "tokens to generate (-1: until end of generation)")
      ->check(CLI::Range(-1, 1 << 30));
  app.add_option("--temp", opt.sampling.temperature, "temperature (0: greedy)")->capture_default_str();
  app.add_option("--top-k", opt.sampling.top_k, "top-k (0: off)")->capture_default_str();
  app.add_option("--top-p", opt.sampling.top_p, "top-p (1: off)")->capture_default_str();
  app.add_option("--min-p", opt.sampling.min_p, "min-p (0: off)")->capture_default_str();
  app.add_option("--typical", opt.sampling.typical_p, "locally typical sampling p (1: off)")->capture_default_str();
  app.add_option("--repeat-penalty", opt.sampling.repetition_penalty, "repetition penalty (1: off)")
      ->capture_default_str();
  app.add_option("--repeat-last-n", opt.sampling.penalty_last_n, "penalty window (-1: whole context, 0: off)")
      ->capture_default_str();
  app.add_option("--presence-penalty", opt.sampling.presence_penalty, "OpenAI presence penalty")->capture_default_str();
  app.add_option("--frequency-penalty", opt.sampling.frequency_penalty, "OpenAI frequency penalty")
      ->capture_default_str();
  app.add_option("-s,--seed", opt.seed, "random seed (-1: random)")->capture_default_str();
  app.add_option("-t,--threads", opt.threads, "worker threads (0: all cores)")->check(CLI::Range(0, 1024));
  app.add_option("-c,--ctx-size", opt.ctx_size, "context size in tokens (0: the model's, at most 4096)")
      ->check(CLI::Range(0, 1 << 24));
  app.add_option("-b,--batch-size", opt.batch_size, "prompt tokens per forward call")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  app.add_option("--kv-cache-dtype", opt.kv_type, "KV cache type: f32, f16, q8_0, q4_0")->capture_default_str();
  app.add_flag("--chat", opt.chat, "apply the chat template; interactive when stdin is a terminal");
  app.add_option("--system", opt.system_prompt, "system message (--chat)");
  app.add_option("--chat-template", opt.chat_template_file, "Jinja chat template file (default: the GGUF's)");
  app.add_flag("--trace-json", opt.trace_json, "print one JSON object with prompt ids and per-step top-5 logits");
  app.add_flag("--ignore-eos", opt.sampling.ignore_eos, "do not stop at end-of-generation tokens");
  app.add_option("--stop", stop, "stop string (repeatable); it is not printed");
  app.add_flag("--no-display-prompt", opt.no_display_prompt, "do not echo the prompt");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (opt.seed >= 0) opt.sampling.seed = static_cast<uint64_t>(opt.seed);
  opt.sampling.stop = stop;
  // max_tokens is set per turn from -n and the room left; validate the rest now.
  opt.sampling.max_tokens = 1;
  if (auto ok = sampling::validate(opt.sampling); !ok) {
    fmt::print(stderr, "pagoda run: {}\n", ok.error().message);
    return 2;
  }
  if (!opt.chat && opt.prompt.empty()) {
    fmt::print(stderr, "pagoda run: --prompt is required (or use --chat)\n");
    return 2;
  }

  auto loaded = load(opt);
  if (!loaded) {
    fmt::print(stderr, "pagoda run: {}\n", loaded.error().message);
    return 1;
  }
  ThreadPool pool(opt.threads);
  Session session(*loaded->model, *loaded->cache, pool, opt.batch_size);
  TextOut out;
  TurnStats total;
  auto ok = opt.chat ? run_chat(session, *loaded->model, *loaded->tokenizer, opt, out, total)
                     : run_completion(session, *loaded->tokenizer, opt, out, total);
  if (!ok) {
    fmt::print(stderr, "{}pagoda run: {}\n", out.ends_with_newline() ? "" : "\n", ok.error().message);
    return 1;
  }
  print_timings(total, out);
  return 0;
}

}  // namespace pagoda::cli
