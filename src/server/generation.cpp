#include "server/generation.h"

#include <boost/asio/post.hpp>
#include <chrono>

#include "base/log.h"
#include "server/prompt.h"
#include "server/server.h"

namespace pagoda::server {

namespace net = boost::asio;

namespace {

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
                             ResponseBuilder builder)
    : server_(server),
      model_(model),
      session_(std::move(session)),
      stream_(stream),
      builder_(std::move(builder)),
      signal_(std::make_shared<Signal>()) {}

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

void GenerationJob::begin() {
  std::weak_ptr<GenerationJob> weak = weak_from_this();
  auto on_gone = [weak] {
    if (auto job = weak.lock()) job->cancel();
  };
  if (stream_) {
    session_->begin_stream(on_gone);
    for (const auto& chunk : builder_.start_chunks()) session_->stream(sse_data(chunk));
  } else {
    session_->watch(on_gone);
  }
  pump();
}

void GenerationJob::pump() {
  if (done_) return;
  for (size_t p = 0; p < streams_.size(); ++p) {
    while (auto out = streams_[p]->try_next()) {
      auto chunks = builder_.add(static_cast<int>(p), *out);
      if (stream_)
        for (const auto& chunk : chunks) session_->stream(sse_data(chunk));
    }
  }
  if (builder_.finished()) finish();
}

void GenerationJob::finish() {
  done_ = true;
  close_signal();
  const Usage u = builder_.usage();
  session_->note_tokens(u.prompt_tokens, u.completion_tokens, u.cached_tokens, builder_.ttft_ms());
  const std::string& error = builder_.error();
  if (stream_) {
    if (!error.empty()) {
      ApiError e;
      e.status = 500;
      e.type = "server_error";
      e.message = error;
      session_->stream(sse_data(error_json(e)));
    }
    if (builder_.meta().include_usage) session_->stream(sse_data(builder_.usage_chunk()));
    session_->stream(sse_done());
    session_->end_stream();
  } else if (!error.empty()) {
    ApiError e;
    e.status = 500;
    e.type = "server_error";
    e.message = error;
    session_->respond(error_response(e));
  } else {
    session_->respond(json_response(200, builder_.response()));
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
  for (auto& s : streams_) model_.engine->abort(s->id());
  if (session_) session_->close();
  session_.reset();
  server_.remove_job(this);
}

void handle_generation(Server& server, std::shared_ptr<HttpSession> session, ApiKind kind,
                       const std::string& body) {
  ServedModel& model = *server.model();
  auto json = parse_json_body(body);
  if (!json) return session->respond(error_response(json.error()));
  auto parsed = kind == ApiKind::chat ? parse_chat_request(*json, model.defaults)
                                      : parse_completion_request(*json, model.defaults);
  if (!parsed) return session->respond(error_response(parsed.error()));
  OpenAiRequest& r = *parsed;
  if (!r.model.empty() && !serves(model, r.model)) {
    ApiError e = bad_request("The model `" + r.model + "` does not exist.", "model");
    e.status = 404;
    e.code = "model_not_found";
    return session->respond(error_response(e));
  }
  if (server.n_jobs() >= server.options().max_waiting) {
    ApiError e = bad_request("the server is busy: too many requests are waiting; retry later");
    e.status = 503;
    e.type = "server_error";
    e.code = "overloaded";
    return session->respond(error_response(e));
  }

  auto plan = plan_output(r.structured, server.options().tools);
  if (!plan) return session->respond(error_response(plan.error()));

  std::vector<std::vector<int32_t>> prompts;
  ResponseMeta meta;
  meta.kind = kind;
  if (kind == ApiKind::chat) {
    auto rendered =
        render_chat_prompt(model, r.messages, r.tools, r.template_kwargs, r.add_generation_prompt);
    if (!rendered) return session->respond(error_response(rendered.error()));
    prompts.push_back(chat_prompt_ids(model, *rendered));
  } else {
    for (const PromptInput& p : r.prompts) {
      prompts.push_back(completion_prompt_ids(model, p, r.add_special_tokens));
      if (r.echo)
        meta.echo.push_back(p.is_ids ? model.tok->decode(p.ids, /*render_special=*/true) : p.text);
    }
  }

  std::vector<engine::GenerationRequest> requests;
  for (auto& ids : prompts) {
    engine::GenerationRequest g;
    const int room = model.max_model_len - static_cast<int>(ids.size());
    g.prompt = std::move(ids);
    g.params = r.params;
    // Without max_tokens a request may fill the context; a full prompt is reported by the engine.
    g.params.max_tokens = r.max_tokens ? *r.max_tokens : std::max(room, 1);
    g.n = r.n;
    g.top_logprobs = r.logprobs;
    g.grammar = plan->grammar;
    requests.push_back(std::move(g));
  }

  meta.id = server.next_id(kind == ApiKind::chat ? "chatcmpl-" : "cmpl-");
  meta.model = r.model.empty() ? model.names.front() : r.model;
  meta.created = unix_now();
  meta.fingerprint = "fp_pagoda";
  meta.n = r.n;
  meta.n_prompts = static_cast<int>(requests.size());
  meta.logprobs = r.logprobs;
  meta.include_usage = r.include_usage;
  meta.make_tool_parser = plan->make_parser;
  meta.forced_function = plan->forced_function;
  const tokenizer::Tokenizer* tok = model.tok;
  ResponseBuilder builder(std::move(meta),
                          [tok](int32_t id) { return tok->token_to_piece(id, true); });

  auto job = std::make_shared<GenerationJob>(server, model, session, r.stream, std::move(builder));
  auto submitted = job->submit(std::move(requests));
  if (!submitted) {
    ApiError e = submitted.error();
    // Errors about the prompt (too long, empty, a token id outside the vocabulary) name it.
    if (!e.param && (e.code || e.message.find("prompt") != std::string::npos))
      e.param = kind == ApiKind::chat ? "messages" : "prompt";
    return session->respond(error_response(e));
  }
  server.add_job(job);
  job->begin();
}

}  // namespace pagoda::server
