// `pagoda run`: generates text from a prompt (or a chat) on a GGUF model, streaming it to stdout
// as it is produced, and ends with a timing line on stderr.
//
// The prompt is evaluated in chunks of --batch-size, then one token per step. A Session keeps
// the ids whose K/V are cached, so a chat turn re-evaluates only what its rendering adds.
// --grammar-file (GBNF) / --json-schema constrain every turn's output (src/grammar).
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
#include "cli/engine_options.h"
#include "cli/tensor_parallel.h"
#include "engine/engine.h"
#include "grammar/grammar.h"
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
  EngineOptions engine;
  std::string kv_description = "f16";  // for --trace-json
  int64_t seed = -1;  // -1: random
  bool chat = false;
  std::string system_prompt;
  std::string chat_template_file;
  bool trace_json = false;
  bool no_display_prompt = false;
  sampling::SamplingParams sampling;
  std::shared_ptr<const grammar::Grammar> grammar;  // --grammar-file / --json-schema; null: free text
};

constexpr int kDefaultCtx = 4096;

// Runs prompts through the engine, one at a time: the generation loop is the server's.
// The prefix cache keeps earlier turns, so a chat turn computes only what its rendering adds.
class Session {
 public:
  Session(engine::Engine& engine, int max_model_len) : engine_(engine), max_model_len_(max_model_len) {}
  int n_ctx() const { return max_model_len_; }
  engine::Engine& engine() { return engine_; }

 private:
  engine::Engine& engine_;
  int max_model_len_;
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

// Submits prompt_ids to the engine and streams the generated text until a stop condition,
// writing emitted text to `out` (when given) and trace steps to `trace` (when given).
Expected<TurnStats> generate(Session& session, const RunOptions& opt,
                             std::span<const int32_t> prompt_ids, TextOut* out, nlohmann::json* trace) {
  TurnStats stats;
  const int n_prompt = static_cast<int>(prompt_ids.size());
  if (n_prompt == 0) return Error{"nothing to evaluate: the prompt has no tokens"};
  if (n_prompt > session.n_ctx())
    return Error{fmt::format("the prompt is {} tokens but the context holds {} (raise --ctx-size)", n_prompt,
                             session.n_ctx())};
  const int room = session.n_ctx() - n_prompt;
  if (room <= 0)
    return Error{fmt::format("the prompt is {} tokens and fills the context of {}: no room to generate "
                             "(raise --ctx-size)", n_prompt, session.n_ctx())};
  engine::GenerationRequest request;
  request.prompt.assign(prompt_ids.begin(), prompt_ids.end());
  request.params = opt.sampling;
  request.params.max_tokens = opt.n_predict > 0 ? std::min(opt.n_predict, room) : room;
  if (trace) request.top_logits = 5;
  request.grammar = opt.grammar;
  auto stream = session.engine().submit(std::move(request));
  if (!stream) return stream.error();
  const auto start = Clock::now();
  while (auto output = (*stream)->next()) {
    if (!output->error.empty()) return Error{output->error};
    for (const engine::SequenceDelta& d : output->deltas) {
      if (trace)
        for (size_t i = 0; i < d.tokens.size() && i < d.info.size(); ++i) {
          nlohmann::json top = nlohmann::json::array();
          for (const auto& t : d.info[i].top_logits) top.push_back({t.id, t.value});
          (*trace)["steps"].push_back({{"id", d.tokens[i]}, {"top", top}});
        }
      stats.text += d.text;
      if (out) out->write(d.text);
      if (d.finish == engine::Finish::stop) stats.reason = sampling::FinishReason::stop;
      if (d.finish == engine::Finish::length) stats.reason = sampling::FinishReason::length;
    }
    stats.n_generated = output->n_generated_tokens;
    stats.n_prompt_evaluated = output->n_prompt_tokens - output->n_cached_tokens;
    if (output->time_to_first_token_ms >= 0) stats.prompt_ms = output->time_to_first_token_ms;
    if (output->finished) stats.generation_ms = ms_since(start) - stats.prompt_ms;
  }
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
Expected<std::string> run_turn(Session& session, const RunOptions& opt,
                               const std::string& prompt_text, std::span<const int32_t> prompt_ids, TextOut& out,
                               TurnStats& total) {
  nlohmann::json trace;
  if (opt.trace_json) {
    trace = {{"model", std::filesystem::path(opt.model_path).filename().string()},
             {"kv", opt.kv_description},
             {"prompt", prompt_text},
             {"prompt_ids", prompt_ids},
             {"steps", nlohmann::json::array()}};
  }
  auto stats = generate(session, opt, prompt_ids, opt.trace_json ? nullptr : &out,
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
  auto text = run_turn(session, opt, opt.prompt, prompt_ids, out, total);
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
    auto reply = run_turn(session, opt, *rendered, ids, out, total);
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

// --grammar-file (GBNF) or --json-schema (a JSON Schema file, key order kept) -> the grammar.
Expected<std::shared_ptr<const grammar::Grammar>> load_grammar(const std::string& gbnf_file,
                                                               const std::string& schema_file) {
  const std::string& file = gbnf_file.empty() ? schema_file : gbnf_file;
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error{fmt::format("cannot read '{}'", file)};
  std::stringstream text;
  text << in.rdbuf();
  if (!gbnf_file.empty()) {
    auto g = grammar::Grammar::from_gbnf(text.str());
    if (!g) return Error{fmt::format("--grammar-file {}: {}", file, g.error().message)};
    return *g;
  }
  nlohmann::ordered_json schema;
  try {
    schema = nlohmann::ordered_json::parse(text.str());
  } catch (const std::exception& e) {
    return Error{fmt::format("--json-schema {}: not JSON: {}", file, e.what())};
  }
  auto g = grammar::Grammar::from_json_schema_ordered(schema);
  if (!g) return Error{fmt::format("--json-schema {}: {}", file, g.error().message)};
  return *g;
}


}  // namespace

int cmd_run(int argc, char** argv) {
  CLI::App app{"Generate text from a prompt (or chat) on a GGUF model, streamed to stdout"};
  RunOptions opt;
  opt.sampling.penalty_last_n = 64;
  std::vector<std::string> stop;
  std::string grammar_file, schema_file;
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
  app.add_option("-c,--ctx-size,--max-model-len", opt.ctx_size,
                 "context size in tokens (0: the model's, at most 4096)")
      ->check(CLI::Range(0, 1 << 24));
  opt.engine.max_num_seqs = 1;
  opt.engine.max_num_batched_tokens = 512;
  add_engine_options(app, opt.engine);
  app.add_option("-b,--batch-size", opt.engine.max_num_batched_tokens, "alias of --max-num-batched-tokens")
      ->check(CLI::Range(1, 1 << 20));
  app.add_flag("--chat", opt.chat, "apply the chat template; interactive when stdin is a terminal");
  app.add_option("--system", opt.system_prompt, "system message (--chat)");
  app.add_option("--chat-template", opt.chat_template_file, "Jinja chat template file (default: the GGUF's)");
  app.add_flag("--trace-json", opt.trace_json, "print one JSON object with prompt ids and per-step top-5 logits");
  app.add_flag("--ignore-eos", opt.sampling.ignore_eos, "do not stop at end-of-generation tokens");
  app.add_option("--stop", stop, "stop string (repeatable); it is not printed");
  app.add_flag("--no-display-prompt", opt.no_display_prompt, "do not echo the prompt");
  auto* grammar_opt =
      app.add_option("--grammar-file", grammar_file, "constrain the output to this GBNF grammar (llama.cpp syntax)");
  app.add_option("--json-schema", schema_file, "constrain the output to JSON valid against this JSON Schema file")
      ->excludes(grammar_opt);
  int tp = 1;
  add_tensor_parallel_option(app, tp);
  TpArgv args(argc, argv);
  if (auto exit_code = parse_command_line(app, args.argc(), args.argv())) return *exit_code;
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
  if (!grammar_file.empty() || !schema_file.empty()) {
    auto g = load_grammar(grammar_file, schema_file);
    if (!g) {
      fmt::print(stderr, "pagoda run: {}\n", g.error().message);
      return 2;
    }
    opt.grammar = *g;
  }

  auto comm = make_communicator(tp);
  if (!comm) {
    fmt::print(stderr, "pagoda run: {}\n", comm.error().message);
    return 1;
  }
  // With -tp, a failure on any rank before the engine runs ends every rank.
  auto fail = [&](const std::string& message) {
    if ((*comm)->size() > 1) (*comm)->abort("pagoda run: " + message);
    fmt::print(stderr, "pagoda run: {}\n", message);
    return 1;
  };
  auto model = load_model_for(opt.model_path, **comm);
  if (!model) return fail(model.error().message);
  if ((*comm)->rank() != 0) return run_engine_worker(**comm, **model, opt.engine.threads);
  auto tokenizer = tokenizer::Tokenizer::from_gguf((*model)->file());
  if (!tokenizer) return fail(tokenizer.error().message);
  auto config = engine_config(opt.engine);
  if (!config) return fail(config.error().message);
  opt.kv_description = describe_kv_types(config->k_type, config->v_type);
  const int n_ctx_train = (*model)->hparams().n_ctx_train;
  config->max_model_len =
      opt.ctx_size > 0 ? opt.ctx_size : (n_ctx_train > 0 ? std::min(n_ctx_train, kDefaultCtx) : kDefaultCtx);
  ThreadPool pool(opt.engine.threads);
  auto engine = engine::Engine::create(**model, **tokenizer, *config, pool, comm->get());
  if (!engine) {  // the workers were told to stop
    fmt::print(stderr, "pagoda run: {}\n", engine.error().message);
    return 1;
  }
  Session session(**engine, (*engine)->pool_plan().max_model_len);
  TextOut out;
  TurnStats total;
  auto ok = opt.chat ? run_chat(session, **model, **tokenizer, opt, out, total)
                     : run_completion(session, **tokenizer, opt, out, total);
  if (!ok) {
    fmt::print(stderr, "{}pagoda run: {}\n", out.ends_with_newline() ? "" : "\n", ok.error().message);
    return 1;
  }
  print_timings(total, out);
  return 0;
}

}  // namespace pagoda::cli
