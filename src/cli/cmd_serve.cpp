// `pagoda serve`: the OpenAI-compatible HTTP server (src/server) on one GGUF
// model. The listening socket opens first; the model loads on a background
// thread (writing the demo model when none is named) while /health answers 503.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/log.h"
#include "base/thread_pool.h"
#include "chat/chat_template.h"
#include "cli/commands.h"
#include "cli/engine_options.h"
#include "cli/tensor_parallel.h"
#include "dist/communicator.h"
#include "cli/estimate/serve_log.h"
#include "cli/make_model/demo_vocab.h"
#include "cli/make_model/random_weights.h"
#include "cli/make_model/shapes.h"
#include "engine/engine.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "quant/mix.h"
#include "server/generation_config.h"
#include "server/server.h"
#include "tokenizer/tokenizer.h"
#include "tools/tool_parser.h"

namespace pagoda::cli {
namespace {

namespace fs = std::filesystem;
constexpr const char* kDemoModel = "models/demo.gguf";

struct ServeOptions {
  std::string model_path;
  std::string model_flag;
  std::vector<std::string> served_names;
  std::string api_key_file;
  std::string chat_template_file;
  std::string generation_config = "auto";  // auto | vllm | generation_config.json
  int port = -1;
  int tensor_parallel = 1;
  EngineOptions engine;
  server::ServerOptions server;
};

// Writes the demo model exactly as `pagoda make-model` does by default (demo shape, F16, seed 42),
// through a temporary file so a half-written model is never left behind.
Expected<void> write_demo_model(const std::string& path, int threads) {
  const ModelShape* shape = find_model_shape("demo");
  const auto mix = quant::find_mix("F16");
  if (!shape || !mix) return Error{"the demo model shape is unknown"};
  std::error_code ec;
  if (fs::path(path).has_parent_path()) fs::create_directories(fs::path(path).parent_path(), ec);
  const DemoVocab vocab = build_demo_vocab(/*n_merges=*/480, shape->n_vocab);
  gguf::Writer writer;
  describe_model(writer, *shape, vocab, *mix);
  ThreadPool pool(threads);
  RandomWeights weights(*shape, static_cast<int64_t>(vocab.tokens.size()), *mix, /*seed=*/42, pool);
  weights.declare(writer);
  const std::string tmp = path + ".tmp";
  auto written =
      writer.write_file(tmp, [&](size_t index) { return weights.produce(index, false); });
  if (!written.ok()) return written.error();
  fs::rename(tmp, path, ec);
  if (ec) return Error{fmt::format("cannot move {} to {}: {}", tmp, path, ec.message())};
  log::info("serve: wrote the demo model {} (random weights: its text is noise)", path);
  return {};
}

Expected<std::string> read_text(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{fmt::format("cannot read {} '{}'", flag, path)};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Everything the server serves; members are destroyed engine first.
struct Backend {
  std::unique_ptr<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<engine::Engine> engine;
  server::ServedModel served;
};

Expected<std::unique_ptr<Backend>> load_backend(const ServeOptions& opt, dist::Communicator& comm) {
  if (opt.model_path == kDemoModel && !fs::exists(opt.model_path) && comm.size() == 1) {
    if (auto ok = write_demo_model(opt.model_path, opt.engine.threads); !ok) return ok.error();
  }
  auto b = std::make_unique<Backend>();
  auto model = load_model_for(opt.model_path, comm);
  if (!model) return model.error();
  b->model = std::move(*model);
  auto tok = tokenizer::Tokenizer::from_gguf(b->model->file());
  if (!tok) return tok.error();
  b->tok = std::move(*tok);
  auto config = engine_config(opt.engine);
  if (!config) return config.error();
  b->pool = std::make_unique<ThreadPool>(opt.engine.threads);
  auto engine = engine::Engine::create(*b->model, *b->tok, *config, *b->pool, &comm);
  if (!engine) return engine.error();
  b->engine = std::move(*engine);
  estimate::log_serve_memory(*b->model, *config, b->engine->pool_plan(), b->pool->size());
  if (comm.size() > 1)
    log::info("serve: tensor parallel over {} ranks: rank 0 reads {} of weights, KV cache {} (its share of the "
              "heads; every rank holds the same)",
              comm.size(), engine::format_bytes(b->model->weight_bytes()),
              engine::format_bytes(b->engine->pool_plan().bytes));

  server::ServedModel& s = b->served;
  s.engine = b->engine.get();
  s.tok = b->tok.get();
  s.path = opt.model_path;
  s.names = opt.served_names;
  if (s.names.empty()) s.names.push_back(fs::path(opt.model_path).stem().string());
  if (!opt.chat_template_file.empty()) {
    auto text = read_text(opt.chat_template_file, "--chat-template");
    if (!text) return text.error();
    s.chat_template = std::move(*text);
  } else if (auto source = b->model->file().get_string("tokenizer.chat_template")) {
    s.chat_template = *source;
  } else {
    log::warn(
        "serve: the model has no chat template: /v1/chat/completions will answer 400 "
        "(--chat-template FILE)");
  }
  if (b->tok->bos() >= 0) s.bos_text = std::string(b->tok->token_text(b->tok->bos()));
  if (b->tok->eos() >= 0) s.eos_text = std::string(b->tok->token_text(b->tok->eos()));
  auto defaults = server::load_generation_defaults(opt.generation_config, &b->model->file());
  if (!defaults) return defaults.error();
  s.defaults = defaults->params;
  if (defaults->summary.empty())
    log::info("serve: sampling defaults: {}", defaults->source);
  else
    log::info("serve: sampling defaults from {}: {}", defaults->source, defaults->summary);
  s.max_model_len = b->engine->pool_plan().max_model_len;
  s.n_vocab = b->model->n_vocab();
  s.created = std::chrono::duration_cast<std::chrono::seconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  return b;
}

}  // namespace

int cmd_serve(int argc, char** argv) {
  CLI::App app{"Serve a GGUF model over an OpenAI-compatible HTTP API (default: the demo model)",
               "pagoda serve"};
  ServeOptions opt;
  app.add_option("model", opt.model_path,
                 "GGUF model (default: models/demo.gguf, written on first use)");
  app.add_option("-m,--model", opt.model_flag, "GGUF model (same as the positional argument)");
  app.add_option("--host", opt.server.host, "address to listen on")->capture_default_str();
  app.add_option("--port", opt.port, "port (default: $PAGODA_PORT or 8000; 0 picks a free one)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--served-model-name", opt.served_names,
                 "model name(s) clients use (default: the file's stem)");
  app.add_option("--api-key", opt.server.api_key,
                 "require 'Authorization: Bearer KEY' (default: $PAGODA_API_KEY)");
  app.add_option("--api-key-file", opt.api_key_file, "read the API key from a file (first line)");
  app.add_option(
         "-c,--max-model-len,--ctx-size", opt.engine.max_model_len,
         "context length in tokens (0: the model's training context, if the KV pool holds it)")
      ->check(CLI::Range(0, 1 << 24));
  app.add_option("--chat-template", opt.chat_template_file,
                 "Jinja chat template file (default: the GGUF's)");
  add_engine_options(app, opt.engine);
  app.add_option("--generation-config", opt.generation_config,
                 "sampling defaults for fields a request leaves out: auto (the GGUF's general.sampling.* "
                 "recommendation, if any), vllm (OpenAI's defaults), or a generation_config.json file/folder")
      ->capture_default_str();
  app.add_option("--parallel", opt.engine.max_num_seqs, "alias of --max-num-seqs")
      ->check(CLI::Range(1, 65536));
  app.add_option("--max-waiting", opt.server.max_waiting,
                 "generation requests in flight before new ones get 503 + Retry-After")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  int drain_s = static_cast<int>(opt.server.drain_timeout.count());
  app.add_option("--shutdown-timeout", drain_s,
                 "seconds running requests may take to finish on SIGINT/SIGTERM")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  app.add_flag("--enable-auto-tool-choice", opt.server.tools.enable_auto_tool_choice,
               "let the model decide when to call tools (tool_choice \"auto\"); needs --tool-call-parser");
  app.add_option("--tool-call-parser", opt.server.tools.parser,
                 "how tool calls look in this model's output: " + fmt::format("{}", fmt::join(tools::parser_names(), ", ")))
      ->check(CLI::IsMember(tools::parser_names()));
  add_tensor_parallel_option(app, opt.tensor_parallel);
  TpArgv args(argc, argv);
  if (auto exit_code = parse_command_line(app, args.argc(), args.argv())) return *exit_code;
  if (opt.server.tools.enable_auto_tool_choice && opt.server.tools.parser.empty()) {
    fmt::print(stderr, "pagoda serve: --enable-auto-tool-choice needs --tool-call-parser ({})\n",
               fmt::join(tools::parser_names(), ", "));
    return 2;
  }
  opt.server.drain_timeout = std::chrono::seconds(drain_s);
  if (!opt.model_flag.empty()) {
    if (!opt.model_path.empty() && opt.model_path != opt.model_flag) {
      fmt::print(stderr, "pagoda serve: two models given ('{}' and -m '{}')\n", opt.model_path,
                 opt.model_flag);
      return 2;
    }
    opt.model_path = opt.model_flag;
  }
  if (opt.model_path.empty()) opt.model_path = kDemoModel;
  if (opt.port < 0) {
    opt.port = 8000;
    if (const char* env = std::getenv("PAGODA_PORT"); env && *env) {
      char* end = nullptr;
      const long p = std::strtol(env, &end, 10);
      if (*end != '\0' || p < 0 || p > 65535) {
        fmt::print(stderr, "pagoda serve: PAGODA_PORT '{}' is not a port\n", env);
        return 2;
      }
      opt.port = static_cast<int>(p);
    }
  }
  opt.server.port = static_cast<uint16_t>(opt.port);
  if (!opt.api_key_file.empty()) {
    auto text = read_text(opt.api_key_file, "--api-key-file");
    if (!text) {
      fmt::print(stderr, "pagoda serve: {}\n", text.error().message);
      return 2;
    }
    opt.server.api_key = text->substr(0, text->find_first_of("\r\n"));
  }
  if (opt.server.api_key.empty())
    if (const char* env = std::getenv("PAGODA_API_KEY")) opt.server.api_key = env;
  if (auto config = engine_config(opt.engine); !config) {
    fmt::print(stderr, "pagoda serve: {}\n", config.error().message);
    return 2;
  }
  // Tensor parallelism: every rank checks its arguments the same way above, so they agree on
  // going on; from here a rank that cannot go on ends the job (MPI_Abort) rather than leave the
  // others waiting.
  auto made = make_communicator(opt.tensor_parallel);
  if (!made) {
    fmt::print(stderr, "pagoda serve: {}\n", made.error().message);
    return 1;
  }
  std::unique_ptr<dist::Communicator> comm = std::move(*made);
  const bool tp = comm->size() > 1;
  if (tp && opt.model_path == kDemoModel) {
    // Rank 0 writes the demo model once; ranks on other hosts need it copied to the same path.
    if (comm->rank() == 0 && !fs::exists(opt.model_path))
      if (auto ok = write_demo_model(opt.model_path, opt.engine.threads); !ok) comm->abort(ok.error().message);
    comm->barrier();
  }
  if (opt.model_path != kDemoModel && !fs::exists(opt.model_path)) {
    if (tp) comm->abort(fmt::format("pagoda serve: rank {}: model '{}' not found", comm->rank(), opt.model_path));
    fmt::print(stderr, "pagoda serve: model '{}' not found\n", opt.model_path);
    return 1;
  }
  if (comm->rank() != 0) {
    // A worker: no socket; its shard runs the steps rank 0 broadcasts until rank 0 stops. A
    // SIGINT/SIGTERM that mpirun forwards is rank 0's to act on: it drains, then stops us.
    std::signal(SIGINT, SIG_IGN);
    std::signal(SIGTERM, SIG_IGN);
    auto model = load_model_for(opt.model_path, *comm);
    if (!model) comm->abort("pagoda serve: " + model.error().message);
    return run_engine_worker(*comm, **model, opt.engine.threads);
  }

  boost::asio::io_context ioc(1);
  std::unique_ptr<Backend> backend;
  int exit_code = 0;
  {
    server::Server server(ioc, opt.server);
    if (auto ok = server.listen(); !ok) {
      if (tp) comm->abort("pagoda serve: " + ok.error().message);
      fmt::print(stderr, "pagoda serve: {}\n", ok.error().message);
      return 1;
    }
    const std::string url = fmt::format("http://{}:{}", opt.server.host, server.port());
    // (With -tp, the listening socket is rank 0's; the other ranks are already loading.)
    log::info("serve: listening on {} (model loading: /health answers 503 until it is ready)", url);
    std::thread loader([&] {
      auto loaded = load_backend(opt, *comm);
      // The workers wait for rank 0's engine: without one they must not be left waiting.
      if (!loaded && tp) comm->abort("pagoda serve: " + loaded.error().message);
      if (loaded) backend = std::move(*loaded);
      std::string error = loaded ? "" : loaded.error().message;
      boost::asio::post(ioc, [&, error] {
        if (!error.empty()) {
          log::error("serve: {}: {}", opt.model_path, error);
          return server.stop(1);
        }
        server.set_model(&backend->served);
        const auto& s = backend->served;
        log::info("serve: model {} served as '{}', max model len {}, {}", s.path, s.names.front(),
                  s.max_model_len, opt.server.api_key.empty() ? "no API key" : "API key required");
        log::info("serve: ready on {}  (OpenAI base URL: {}/v1)", url, url);
        log::info(
            "serve: try: curl {}/v1/chat/completions -H 'Content-Type: application/json'{} -d "
            "'{{\"model\": \"{}\", \"messages\": [{{\"role\": \"user\", \"content\": "
            "\"Hello\"}}]}}'",
            url, opt.server.api_key.empty() ? "" : " -H \"Authorization: Bearer $PAGODA_API_KEY\"",
            s.names.front());
      });
    });
    ioc.run();
    exit_code = server.exit_code();
    // Cancel what still runs, let every handler finish, then tear down (engine last but one).
    server.close_all();
    ioc.restart();
    ioc.run();
    loader.join();
  }
  backend.reset();
  if (exit_code == 0) log::info("serve: stopped");
  return exit_code;
}

}  // namespace pagoda::cli
