#include "server/generation.h"

#include <boost/asio/post.hpp>
#include <chrono>

#include "base/log.h"
#include "server/openai_response.h"
#include "server/prompt.h"
#include "server/server.h"

namespace pagoda::server {

namespace net = boost::asio;

namespace {

// A stream that sent nothing for this long gets the responder's keep-alive (Anthropic's ping):
// a long prompt must not look like a dead connection to proxies and clients.
constexpr std::chrono::seconds kKeepaliveInterval{5};

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool serves(const ServedModel& model, const std::string& name) {
  for (const auto& n : model.names)
    if (n == name) return true;
  return false;
}

}  // namespace

GenerationJob::GenerationJob(Server& server, ServedModel& model,
                             std::shared_ptr<HttpSession> session, bool stream,
                             std::unique_ptr<ApiResponder> responder)
    : server_(server),
      model_(model),
      session_(std::move(session)),
      stream_(stream),
      responder_(std::move(responder)),
      signal_(std::make_shared<Signal>()),
      keepalive_timer_(server.io_context()) {}

GenerationJob::~GenerationJob() {
  close_signal();
}

void GenerationJob::close_signal() {
  std::lock_guard lock(signal_->mutex);
  signal_->closed = true;
}

ApiResult<bool> GenerationJob::submit(std::vector<engine::GenerationRequest> requests) {
  net::io_context& ioc = server_.io_context();
  for (auto& request : requests) {
    // Runs on the engine thread after each output: post a pump, never block.
    auto notify = [signal = signal_, weak = weak_from_this(), &ioc] {
      std::lock_guard lock(signal->mutex);
      if (signal->closed) return;
      net::post(ioc, [weak] {
        if (auto job = weak.lock()) job->pump();
      });
    };
    auto stream = model_.engine->submit(std::move(request), std::move(notify));
    if (!stream) {
      for (auto& s : streams_) model_.engine->abort(s->id());
      streams_.clear();
      done_ = true;
      close_signal();
      return engine_error(stream.error().message);
    }
    streams_.push_back(std::move(*stream));
  }
  return true;
}

void GenerationJob::send(std::string bytes) {
  if (bytes.empty()) return;
  sent_since_keepalive_ = true;
  session_->stream(std::move(bytes));
}

void GenerationJob::arm_keepalive() {
  sent_since_keepalive_ = false;
  keepalive_timer_.expires_after(kKeepaliveInterval);
  keepalive_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto job = weak.lock();
    if (ec || !job || job->done_) return;
    if (!job->sent_since_keepalive_) job->send(job->responder_->keepalive());
    job->arm_keepalive();
  });
}

void GenerationJob::begin() {
  std::weak_ptr<GenerationJob> weak = weak_from_this();
  auto on_gone = [weak] {
    if (auto job = weak.lock()) job->cancel();
  };
  if (stream_) {
    session_->begin_stream(on_gone);
    send(responder_->stream_start());
    if (!responder_->keepalive().empty()) arm_keepalive();
  } else {
    session_->watch(on_gone);
  }
  pump();
}

void GenerationJob::pump() {
  if (done_) return;
  for (size_t p = 0; p < streams_.size(); ++p) {
    while (auto out = streams_[p]->try_next()) {
      std::string bytes = responder_->add(static_cast<int>(p), *out);
      if (stream_) send(std::move(bytes));
    }
  }
  if (responder_->finished()) finish();
}

void GenerationJob::finish() {
  done_ = true;
  close_signal();
  keepalive_timer_.cancel();
  const Usage u = responder_->usage();
  session_->note_tokens(u.prompt_tokens, u.completion_tokens, u.cached_tokens, responder_->ttft_ms());
  if (stream_) {
    send(responder_->stream_end());
    session_->end_stream();
  } else {
    session_->respond(responder_->response());
  }
  session_.reset();
  server_.remove_job(this);
}

void GenerationJob::abort() {
  if (done_) return;
  for (auto& s : streams_) model_.engine->abort(s->id());
}

void GenerationJob::cancel() {
  if (done_) return;
  done_ = true;
  close_signal();
  keepalive_timer_.cancel();
  for (auto& s : streams_) model_.engine->abort(s->id());
  if (session_) session_->close();
  session_.reset();
  server_.remove_job(this);
}

ApiResult<PreparedGeneration> prepare_generation(Server& server, const OpenAiRequest& r,
                                                 std::function<std::string()> make_call_id) {
  ServedModel& model = *server.model();
  if (!r.model.empty() && !serves(model, r.model)) {
    ApiError e = bad_request("The model `" + r.model + "` does not exist.", "model");
    e.status = 404;
    e.code = "model_not_found";
    return e;
  }
  if (server.n_jobs() >= server.options().max_waiting) {
    ApiError e = bad_request("the server is busy: too many requests are waiting; retry later");
    e.status = 503;
    e.type = "server_error";
    e.code = "overloaded";
    return e;
  }

  PreparedGeneration prepared;
  auto plan = plan_output(r.structured, server.options().tools, std::move(make_call_id));
  if (!plan) return plan.error();
  prepared.plan = std::move(*plan);

  std::vector<std::vector<int32_t>> prompts;
  if (r.kind == ApiKind::chat) {
    auto rendered = render_request_prompt(model, r);
    if (!rendered) return rendered.error();
    prompts.push_back(chat_prompt_ids(model, *rendered));
  } else {
    for (const PromptInput& p : r.prompts) {
      prompts.push_back(completion_prompt_ids(model, p, r.add_special_tokens));
      if (r.echo)
        prepared.echo.push_back(p.is_ids ? model.tok->decode(p.ids, /*render_special=*/true)
                                         : p.text);
    }
  }

  for (auto& ids : prompts) {
    engine::GenerationRequest g;
    const int room = model.max_model_len - static_cast<int>(ids.size());
    prepared.prompt_tokens += static_cast<int>(ids.size());
    g.prompt = std::move(ids);
    g.params = r.params;
    // Without max_tokens a request may fill the context; a full prompt is reported by the engine.
    g.params.max_tokens = r.max_tokens ? *r.max_tokens : std::max(room, 1);
    g.n = r.n;
    g.top_logprobs = r.logprobs;
    g.grammar = prepared.plan.grammar;
    prepared.requests.push_back(std::move(g));
  }
  prepared.model = r.model.empty() ? model.names.front() : r.model;
  return prepared;
}

void run_generation(Server& server, std::shared_ptr<HttpSession> session, bool stream,
                    PreparedGeneration prepared, std::unique_ptr<ApiResponder> responder,
                    const char* prompt_param) {
  const ApiResponder& answer = *responder;
  auto job = std::make_shared<GenerationJob>(server, *server.model(), session, stream,
                                             std::move(responder));
  auto submitted = job->submit(std::move(prepared.requests));
  if (!submitted) {
    ApiError e = submitted.error();
    // Errors about the prompt (too long, empty, a token id outside the vocabulary) name it.
    if (!e.param && (e.code || e.message.find("prompt") != std::string::npos))
      e.param = prompt_param;
    return session->respond(answer.error(e));
  }
  server.add_job(job);
  job->begin();
}

void handle_generation(Server& server, std::shared_ptr<HttpSession> session, ApiKind kind,
                       const std::string& body) {
  ServedModel& model = *server.model();
  auto json = parse_json_body(body);
  if (!json) return session->respond(error_response(json.error()));
  auto parsed = kind == ApiKind::chat ? parse_chat_request(*json, model.defaults)
                                      : parse_completion_request(*json, model.defaults);
  if (!parsed) return session->respond(error_response(parsed.error()));
  const OpenAiRequest& r = *parsed;
  auto prepared = prepare_generation(server, r);
  if (!prepared) return session->respond(error_response(prepared.error()));

  ResponseMeta meta;
  meta.kind = kind;
  meta.id = server.next_id(kind == ApiKind::chat ? "chatcmpl-" : "cmpl-");
  meta.model = prepared->model;
  meta.created = unix_now();
  meta.fingerprint = "fp_pagoda";
  meta.n = r.n;
  meta.n_prompts = static_cast<int>(prepared->requests.size());
  meta.logprobs = r.logprobs;
  meta.include_usage = r.include_usage;
  meta.echo = std::move(prepared->echo);
  meta.make_tool_parser = prepared->plan.make_parser;
  meta.forced_function = prepared->plan.forced_function;
  const tokenizer::Tokenizer* tok = model.tok;
  ResponseBuilder builder(std::move(meta),
                          [tok](int32_t id) { return tok->token_to_piece(id, true); });
  run_generation(server, std::move(session), r.stream, std::move(*prepared),
                 std::make_unique<OpenAiResponder>(std::move(builder)),
                 kind == ApiKind::chat ? "messages" : "prompt");
}

}  // namespace pagoda::server
