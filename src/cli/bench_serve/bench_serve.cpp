// `pagoda bench serve`: sends streaming completions to an OpenAI-compatible
// server, either N at a time (--concurrency) or as Poisson arrivals
// (--request-rate), and reports throughput and latency percentiles.
//
// Flow: find the model (--model or the first of /v1/models), build the prompts
// (synthetic ones of exactly --input-len tokens through the server's
// /tokenize + /detokenize when it has them, random words otherwise; or a
// dataset), pre-render every request body, then drive all requests from one
// io_context thread and summarize (stats.h).
#include "cli/bench_serve/bench_serve.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cli/bench_serve/http_client.h"
#include "cli/bench_serve/inputs.h"
#include "cli/bench_serve/sse.h"
#include "cli/bench_serve/stats.h"

namespace pagoda::cli {
namespace bench_serve {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

struct Options {
  std::string base_url, model, api_key, endpoint = "/v1/completions", dataset, request_rate_text = "inf";
  int concurrency = 0;  // 0: no cap
  int num_prompts = 1000;
  int input_len = 1024, output_len = 128;
  bool output_len_given = false;
  uint32_t seed = 0;
  double timeout_s = 600;
  bool json = false, ignore_eos = true;
};

// One request to send: its prompt, how long the benchmark counts it (-1: take
// the server's usage.prompt_tokens) and how many tokens to generate.
struct Prepared {
  std::string prompt;
  int64_t prompt_tokens = -1;
  int64_t output_len = 0;
};

// The pieces every call shares.
struct Target {
  BaseUrl url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds timeout{600000};

  HttpCall call(http::verb method, std::string path, std::string body = {}) const {
    HttpCall c;
    c.method = method;
    c.target = url.target(path);
    c.body = std::move(body);
    c.headers = headers;
    c.timeout = timeout;
    return c;
  }
};

// Common English words: random prompts are built from them.
constexpr const char* kWords[] = {
    "the",    "of",     "and",   "to",     "in",     "is",     "you",    "that",   "it",     "he",
    "was",    "for",    "on",    "are",    "as",     "with",   "his",    "they",   "at",     "be",
    "this",   "have",   "from",  "or",     "one",    "had",    "by",     "word",   "but",    "not",
    "what",   "all",    "were",  "we",     "when",   "your",   "can",    "said",   "there",  "use",
    "an",     "each",   "which", "she",    "do",     "how",    "their",  "if",     "will",   "up",
    "other",  "about",  "out",   "many",   "then",   "them",   "these",  "so",     "some",   "her",
    "would",  "make",   "like",  "him",    "into",   "time",   "has",    "look",   "two",    "more",
    "write",  "go",     "see",   "number", "no",     "way",    "could",  "people", "my",     "than",
    "first",  "water",  "been",  "call",   "who",    "oil",    "its",    "now",    "find",   "long",
    "down",   "day",    "did",   "get",    "come",   "made",   "may",    "part",   "over",   "new",
    "sound",  "take",   "only",  "little", "work",   "know",   "place",  "year",   "live",   "me",
    "back",   "give",   "most",  "very",   "after",  "thing",  "our",    "just",   "name",   "good",
    "under",  "house",  "river", "stone",  "light",  "garden", "music",  "city",   "story",  "tree"};

std::string random_words(std::mt19937& rng, int64_t n) {
  std::uniform_int_distribution<size_t> pick(0, std::size(kWords) - 1);
  std::string s;
  for (int64_t i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += kWords[pick(rng)];
  }
  return s;
}

// The server's /tokenize and /detokenize (pagoda and vLLM take "prompt",
// llama-server "content"; both are sent).
class RemoteTokenizer {
 public:
  RemoteTokenizer(net::io_context& ioc, const Target& target, std::string model)
      : ioc_(ioc), target_(target), model_(std::move(model)) {
    auto probe = tokenize("hello world");
    available_ = probe && !probe->empty();
  }
  bool available() const { return available_; }

  std::optional<std::vector<int64_t>> tokenize(const std::string& text) {
    Json body = {{"prompt", text}, {"content", text}, {"add_special_tokens", false}};
    if (!model_.empty()) body["model"] = model_;
    const HttpOutcome o = http_call_blocking(ioc_, target_.url, target_.call(http::verb::post, "/tokenize", body.dump()));
    if (!o.error.empty() || o.status != 200) return std::nullopt;
    const Json j = Json::parse(o.body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("tokens") || !j["tokens"].is_array()) return std::nullopt;
    std::vector<int64_t> ids;
    for (const Json& t : j["tokens"]) {
      if (t.is_number_integer())
        ids.push_back(t.get<int64_t>());
      else if (t.is_object() && t.contains("id") && t["id"].is_number_integer())
        ids.push_back(t["id"].get<int64_t>());
      else
        return std::nullopt;
    }
    return ids;
  }

  std::optional<std::string> detokenize(const std::vector<int64_t>& ids) {
    Json body = {{"tokens", ids}};
    if (!model_.empty()) body["model"] = model_;
    const HttpOutcome o = http_call_blocking(ioc_, target_.url, target_.call(http::verb::post, "/detokenize", body.dump()));
    if (!o.error.empty() || o.status != 200) return std::nullopt;
    const Json j = Json::parse(o.body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    for (const char* key : {"prompt", "content"})
      if (j.contains(key) && j[key].is_string()) return j[key].get<std::string>();
    return std::nullopt;
  }

 private:
  net::io_context& ioc_;
  const Target& target_;
  std::string model_;
  bool available_ = false;
};

// A prompt of random words that tokenizes to exactly `len` tokens when the
// round trip allows it (else the closest found, with its real length).
Prepared exact_prompt(RemoteTokenizer& tok, std::mt19937& rng, int64_t len) {
  std::string text = random_words(rng, len);
  std::optional<std::vector<int64_t>> ids = tok.tokenize(text);
  for (int grow = 0; ids && static_cast<int64_t>(ids->size()) < len && grow < 16; ++grow) {
    text += ' ' + random_words(rng, std::max<int64_t>(len - static_cast<int64_t>(ids->size()), 4));
    ids = tok.tokenize(text);
  }
  if (!ids) return {text, -1, 0};
  if (static_cast<int64_t>(ids->size()) == len) return {text, len, 0};
  Prepared best{text, static_cast<int64_t>(ids->size()), 0};
  int64_t cut = std::min<int64_t>(len, static_cast<int64_t>(ids->size()));
  for (int attempt = 0; attempt < 8 && cut > 0; ++attempt) {
    auto piece = tok.detokenize(std::vector<int64_t>(ids->begin(), ids->begin() + cut));
    if (!piece) break;
    auto again = tok.tokenize(*piece);
    if (!again) break;
    const int64_t n = static_cast<int64_t>(again->size());
    if (std::llabs(n - len) < std::llabs(best.prompt_tokens - len)) best = {*piece, n, 0};
    if (n == len) break;
    const int64_t next = std::clamp<int64_t>(cut + (len - n), 1, static_cast<int64_t>(ids->size()));
    if (next == cut) break;
    cut = next;
  }
  return best;
}

std::optional<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Progress on stderr: a redrawn bar on a terminal, else a line every ~10%.
class Progress {
 public:
  Progress(size_t total, bool enabled) : total_(total), enabled_(enabled && total > 0), tty_(isatty(STDERR_FILENO)) {}
  void update(size_t done, size_t failed) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (tty_) {
      if (done != total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
      last_draw_ = now;
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(kWidth * done / total_);
      const double secs = std::chrono::duration<double>(now - start_).count();
      fmt::print(stderr, "\r[{}{}] {}/{} requests, {} failed, {:.1f} s", std::string(filled, '#'),
                 std::string(kWidth - filled, ' '), done, total_, failed, secs);
      if (done == total_) fmt::print(stderr, "\n");
      std::fflush(stderr);
    } else {
      const size_t decile = done * 10 / total_;
      if (decile == last_decile_) return;
      last_decile_ = decile;
      fmt::print(stderr, "pagoda bench serve: {}/{} requests done ({} failed, {:.1f} s)\n", done, total_, failed,
                 std::chrono::duration<double>(now - start_).count());
    }
  }

 private:
  size_t total_;
  bool enabled_, tty_;
  size_t last_decile_ = 0;
  Clock::time_point start_ = Clock::now(), last_draw_{};
};

// Sends every request on one io_context: arrivals at their offsets, at most
// `concurrency` in flight (0: no cap).
class Runner {
 public:
  Runner(net::io_context& ioc, const Target& target, std::string path, std::vector<std::string> bodies,
         std::vector<int64_t> prompt_tokens, std::vector<double> arrivals, int concurrency, Progress& progress)
      : ioc_(ioc),
        target_(target),
        path_(std::move(path)),
        bodies_(std::move(bodies)),
        prompt_tokens_(std::move(prompt_tokens)),
        arrivals_(std::move(arrivals)),
        concurrency_(concurrency),
        progress_(progress),
        timer_(ioc),
        results_(bodies_.size()) {}

  std::vector<RequestResult> run(double& duration_s) {
    start_ = Clock::now();
    last_end_ = start_;
    ioc_.restart();
    progress_.update(0, 0);
    arrive();
    ioc_.run();
    duration_s = std::chrono::duration<double>(last_end_ - start_).count();
    return std::move(results_);
  }

 private:
  void arrive() {
    const auto now = Clock::now();
    while (next_arrival_ < arrivals_.size() &&
           start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(arrivals_[next_arrival_])) <= now)
      ready_.push_back(next_arrival_++);
    pump();
    if (next_arrival_ < arrivals_.size()) {
      timer_.expires_at(start_ + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(arrivals_[next_arrival_])));
      timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) arrive();
      });
    }
  }

  void pump() {
    while (!ready_.empty() && (concurrency_ <= 0 || in_flight_ < concurrency_)) {
      const size_t i = ready_.front();
      ready_.pop_front();
      launch(i);
    }
  }

  void launch(size_t i) {
    ++in_flight_;
    struct State {
      SseParser sse;
      StreamAccumulator acc;
      Clock::time_point sent;
    };
    auto st = std::make_shared<State>();
    st->sent = Clock::now();
    HttpCall call = target_.call(http::verb::post, path_, bodies_[i]);
    call.on_body = [st](std::string_view bytes) {
      const double t = std::chrono::duration<double>(Clock::now() - st->sent).count();
      const bool ok = st->sse.feed(bytes, [&](std::string_view data) { return st->acc.on_event(data, t); });
      return ok && !st->sse.overflowed();
    };
    start_http_call(ioc_, target_.url, std::move(call), [this, i, st](HttpOutcome o) {
      const auto end = Clock::now();
      std::string transport;
      if (o.status != 200 || !o.error.empty()) {
        transport = o.status != 0 && o.status != 200 ? describe_http_failure(o) : o.error;
      } else if (!o.stopped) {
        const double t = std::chrono::duration<double>(end - st->sent).count();
        st->sse.finish([&](std::string_view data) { return st->acc.on_event(data, t); });
      }
      if (st->sse.overflowed() && st->acc.error().empty()) transport = "malformed SSE: a line over 16 MiB";
      results_[i] = st->acc.finish(std::chrono::duration<double>(end - st->sent).count(), prompt_tokens_[i], transport);
      if (!results_[i].success) ++failed_;
      last_end_ = std::max(last_end_, end);
      --in_flight_;
      ++done_;
      progress_.update(done_, failed_);
      pump();
    });
  }

  net::io_context& ioc_;
  const Target& target_;
  std::string path_;
  std::vector<std::string> bodies_;
  std::vector<int64_t> prompt_tokens_;
  std::vector<double> arrivals_;
  int concurrency_;
  Progress& progress_;
  net::steady_timer timer_;
  std::vector<RequestResult> results_;
  std::deque<size_t> ready_;
  size_t next_arrival_ = 0, done_ = 0, failed_ = 0;
  int in_flight_ = 0;
  Clock::time_point start_, last_end_;
};

void print_report(const Summary& s, const std::string& header) {
  fmt::print("{}\n", header);
  auto row = [](const char* name, const std::string& value) { fmt::print("  {:<26}{}\n", name, value); };
  row("successful requests", std::to_string(s.completed));
  row("failed requests", std::to_string(s.failed));
  row("duration", fmt::format("{:.2f} s", s.duration_s));
  row("input tokens", std::to_string(s.total_input_tokens));
  row("output tokens", std::to_string(s.total_output_tokens));
  row("request throughput", fmt::format("{:.2f} req/s", s.request_throughput));
  row("output token throughput", fmt::format("{:.2f} tok/s", s.output_throughput));
  row("total token throughput", fmt::format("{:.2f} tok/s", s.total_token_throughput));
  fmt::print("\n  {:<10}{:>12}{:>12}{:>12}{:>12}\n", "ms", "mean", "median", "p90", "p99");
  const std::pair<const char*, const Distribution*> rows[] = {
      {"TTFT", &s.ttft}, {"TPOT", &s.tpot}, {"ITL", &s.itl}, {"E2E", &s.e2el}};
  for (const auto& [name, d] : rows)
    fmt::print("  {:<10}{:>12.2f}{:>12.2f}{:>12.2f}{:>12.2f}\n", name, d->mean_ms, d->median_ms, d->p90_ms, d->p99_ms);
  if (!s.errors.empty()) {
    fmt::print("\n  errors ({} distinct{}):\n", s.errors.size(), s.errors.size() > 5 ? ", first 5 shown" : "");
    for (size_t i = 0; i < s.errors.size() && i < 5; ++i)
      fmt::print("  {:>6} x {}\n", s.errors[i].second, s.errors[i].first);
  }
}

std::optional<double> parse_rate(const std::string& text) {
  if (text == "inf" || text == "Inf" || text == "INF") return std::numeric_limits<double>::infinity();
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !(v > 0)) return std::nullopt;
  return v;
}

}  // namespace
}  // namespace bench_serve

int cmd_bench_serve(int argc, char** argv) {
  using namespace bench_serve;
  CLI::App app{"Benchmark an OpenAI-compatible server (pagoda serve, llama-server, vLLM): streaming requests "
               "at a fixed concurrency or Poisson rate; TTFT/TPOT/ITL/E2E percentiles and throughput"};
  app.name("pagoda bench serve");
  Options o;
  app.add_option("--base-url", o.base_url, "server URL: http://HOST:PORT[/PREFIX][/v1]")->required();
  app.add_option("--model", o.model, "model name (default: the first of GET /v1/models)");
  app.add_option("--api-key", o.api_key, "sent as 'Authorization: Bearer KEY' (default: $OPENAI_API_KEY)");
  app.add_option("--endpoint", o.endpoint, "/v1/completions or /v1/chat/completions")->capture_default_str();
  app.add_option("--concurrency,--max-concurrency", o.concurrency, "requests in flight at most (0: no cap)")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  app.add_option("--request-rate", o.request_rate_text, "Poisson arrivals per second, or inf (all at once)")
      ->capture_default_str();
  app.add_option("--num-prompts", o.num_prompts, "requests to send")->check(CLI::Range(1, 10000000))->capture_default_str();
  app.add_option("--input-len,--random-input-len", o.input_len, "synthetic prompt length in tokens")
      ->check(CLI::Range(1, 1 << 24))
      ->capture_default_str();
  auto* out_opt = app.add_option("--output-len,--random-output-len", o.output_len, "tokens to generate per request")
                      ->check(CLI::Range(1, 1 << 24))
                      ->capture_default_str();
  app.add_option("--dataset,--dataset-path", o.dataset,
                 "JSONL of {\"prompt\", \"output_len\"} or ShareGPT JSON instead of synthetic prompts");
  app.add_option("--seed", o.seed, "random seed (prompts, arrivals, dataset sampling)")->capture_default_str();
  app.add_option("--timeout", o.timeout_s, "seconds before one request counts as failed")
      ->check(CLI::Range(0.001, 1e7))
      ->capture_default_str();
  app.add_flag("--json", o.json, "print one JSON object (vLLM's key names) instead of the table");
  bool no_ignore_eos = false;
  app.add_flag("--no-ignore-eos", no_ignore_eos, "do not send ignore_eos/min_tokens (output may end early)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  o.output_len_given = out_opt->count() > 0;
  o.ignore_eos = !no_ignore_eos;
  auto fail = [](const std::string& m) {
    fmt::print(stderr, "pagoda bench serve: {}\n", m);
    return 1;
  };
  auto note = [&](const std::string& m) { fmt::print(stderr, "pagoda bench serve: {}\n", m); };

  std::string url_error;
  auto url = parse_base_url(o.base_url, url_error);
  if (!url) return fail(url_error);
  const auto rate = parse_rate(o.request_rate_text);
  if (!rate) return fail(fmt::format("--request-rate must be a positive number or inf, got '{}'", o.request_rate_text));
  if (o.endpoint.empty() || o.endpoint.front() != '/') o.endpoint = "/" + o.endpoint;
  const bool chat = o.endpoint.find("chat") != std::string::npos;
  if (o.api_key.empty())
    if (const char* k = std::getenv("OPENAI_API_KEY")) o.api_key = k;

  Target target;
  target.url = *url;
  target.timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000));
  if (!o.api_key.empty()) target.headers.emplace_back("Authorization", "Bearer " + o.api_key);
  net::io_context ioc(1);

  // The model: asked for, or the server's first.
  if (o.model.empty()) {
    const HttpOutcome m = http_call_blocking(ioc, target.url, target.call(http::verb::get, "/v1/models"));
    const Json j = Json::parse(m.body, nullptr, false);
    if (m.error.empty() && m.status == 200 && j.is_object() && j.contains("data") && j["data"].is_array() &&
        !j["data"].empty() && j["data"][0].contains("id") && j["data"][0]["id"].is_string()) {
      o.model = j["data"][0]["id"].get<std::string>();
    } else {
      note(fmt::format("no model from GET /v1/models ({}); sending requests without one",
                       m.status == 200 ? std::string("unexpected body") : describe_http_failure(m)));
    }
  }

  // The prompts.
  std::mt19937 rng(o.seed);
  RemoteTokenizer tok(ioc, target, o.model);
  std::vector<Prepared> prepared;
  prepared.reserve(static_cast<size_t>(o.num_prompts));
  if (!o.dataset.empty()) {
    auto text = read_text_file(o.dataset);
    if (!text) return fail(fmt::format("cannot read --dataset '{}'", o.dataset));
    Dataset d = parse_dataset(*text);
    if (!d.error.empty()) return fail(fmt::format("--dataset '{}': {}", o.dataset, d.error));
    if (d.skipped) note(fmt::format("skipped {} dataset records without a prompt", d.skipped));
    std::vector<size_t> order(d.entries.size());
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    for (int i = 0; i < o.num_prompts; ++i) {
      const DatasetEntry& e = d.entries[order[static_cast<size_t>(i) % order.size()]];
      Prepared p;
      p.prompt = e.prompt;
      if (tok.available())
        if (auto ids = tok.tokenize(e.prompt)) p.prompt_tokens = static_cast<int64_t>(ids->size());
      if (o.output_len_given) {
        p.output_len = o.output_len;
      } else if (e.output_len > 0) {
        p.output_len = e.output_len;
      } else if (!e.reference.empty()) {
        std::optional<std::vector<int64_t>> ids;
        if (tok.available()) ids = tok.tokenize(e.reference);
        if (ids) {
          p.output_len = static_cast<int64_t>(ids->size());
        } else {  // about four tokens per three words
          std::istringstream words(e.reference);
          int64_t n = 0;
          for (std::string w; words >> w;) ++n;
          p.output_len = n * 4 / 3;
        }
        p.output_len = std::max<int64_t>(p.output_len, 1);
      } else {
        p.output_len = o.output_len;
      }
      prepared.push_back(std::move(p));
    }
  } else {
    if (!tok.available())
      note(fmt::format("the server has no usable /tokenize: prompts are {} random words (about that many tokens)",
                       o.input_len));
    for (int i = 0; i < o.num_prompts; ++i) {
      Prepared p = tok.available() ? exact_prompt(tok, rng, o.input_len) : Prepared{random_words(rng, o.input_len), -1, 0};
      p.output_len = o.output_len;
      prepared.push_back(std::move(p));
    }
    if (tok.available()) {
      size_t off = 0;
      for (const Prepared& p : prepared) off += p.prompt_tokens != o.input_len;
      if (off) note(fmt::format("{} prompts could not be made exactly {} tokens long", off, o.input_len));
    }
  }

  // The request bodies, rendered before the clock starts.
  std::vector<std::string> bodies;
  std::vector<int64_t> prompt_tokens;
  for (const Prepared& p : prepared) {
    Json body;
    if (!o.model.empty()) body["model"] = o.model;
    if (chat)
      body["messages"] = Json::array({{{"role", "user"}, {"content", p.prompt}}});
    else
      body["prompt"] = p.prompt;
    body["max_tokens"] = p.output_len;
    body["temperature"] = 0;
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
    if (o.ignore_eos) {
      body["ignore_eos"] = true;
      body["min_tokens"] = p.output_len;
    }
    bodies.push_back(body.dump(-1, ' ', false, Json::error_handler_t::replace));
    prompt_tokens.push_back(p.prompt_tokens);
  }

  const std::string header = fmt::format(
      "pagoda bench serve: {} requests to {} ({}{}), {}, {}", o.num_prompts, o.base_url, o.endpoint,
      o.model.empty() ? "" : ", model " + o.model,
      o.concurrency > 0 ? fmt::format("concurrency {}", o.concurrency) : std::string("no concurrency cap"),
      std::isinf(*rate) ? std::string("request rate inf") : fmt::format("Poisson arrivals at {:g} requests/s", *rate));
  if (!o.json) note(fmt::format("sending {} requests", o.num_prompts));
  Progress progress(prepared.size(), true);
  Runner runner(ioc, target, o.endpoint, std::move(bodies), std::move(prompt_tokens),
                arrival_offsets(prepared.size(), *rate, o.seed), o.concurrency, progress);
  double duration_s = 0;
  const std::vector<RequestResult> results = runner.run(duration_s);
  const Summary s = summarize(results, duration_s);

  if (o.json) {
    auto j = summary_json(s);
    j["num_prompts"] = o.num_prompts;
    j["model"] = o.model;
    j["endpoint"] = o.endpoint;
    j["base_url"] = o.base_url;
    using OJson = nlohmann::ordered_json;
    j["max_concurrency"] = o.concurrency > 0 ? OJson(o.concurrency) : OJson(nullptr);
    j["request_rate"] = std::isinf(*rate) ? OJson("inf") : OJson(*rate);
    fmt::print("{}\n", j.dump(2));
  } else {
    print_report(s, header);
  }
  return s.completed > 0 ? 0 : 1;
}

}  // namespace pagoda::cli
