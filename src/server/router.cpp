// Server::dispatch: method + path → handler. Authentication, model readiness
// and the small endpoints (models, health, metrics, tokenize, version) live
// here; generation is in generation.cpp.
#include <fmt/format.h>

#include <cctype>
#include <chrono>
#include <string_view>

#include "server/anthropic_endpoints.h"
#include "server/anthropic_request.h"
#include "server/generation.h"
#include "server/prometheus.h"
#include "server/prompt.h"
#include "server/server.h"
#include "server/web_page.h"

#ifndef PAGODA_VERSION
#define PAGODA_VERSION "0.1.0"
#endif

namespace pagoda::server {

namespace http = boost::beast::http;
using Json = nlohmann::ordered_json;

namespace {

ApiError not_found(std::string message) {
  ApiError e = bad_request(std::move(message));
  e.status = 404;
  e.code = "not_found";
  return e;
}

// Compares without an early exit, so timing does not tell how much of a key matched.
bool same_key(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || b.empty()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// `Authorization: Bearer KEY` (OpenAI) or `x-api-key: KEY` (Anthropic), on every route.
bool authorized(const ServerOptions& options, const HttpSession::Request& req) {
  if (options.api_key.empty()) return true;
  if (auto x = req.find("x-api-key"); x != req.end())
    return same_key(std::string_view(x->value().data(), x->value().size()), options.api_key);
  const auto value = req[http::field::authorization];
  const std::string_view header(value.data(), value.size());
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size()) return false;
  for (size_t i = 0; i < kBearer.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) !=
        std::tolower(static_cast<unsigned char>(kBearer[i])))
      return false;
  return same_key(header.substr(kBearer.size()), options.api_key);
}

Json model_card(const ServedModel& m, const std::string& name) {
  return {{"id", name},
          {"object", "model"},
          {"created", m.created},
          {"owned_by", "pagoda"},
          {"root", m.path},
          {"parent", nullptr},
          {"max_model_len", m.max_model_len}};
}

HttpResponse handle_tokenize(const ServedModel& m, const std::string& body) {
  auto json = parse_json_body(body);
  if (!json) return error_response(json.error());
  const Json& j = *json;
  auto special = j.find("add_special_tokens");
  if (special != j.end() && !special->is_boolean())
    return error_response(
        bad_request("'add_special_tokens' must be a boolean", "add_special_tokens"));
  std::vector<int32_t> ids;
  if (auto messages = j.find("messages"); messages != j.end()) {
    auto parsed = parse_chat_request(j);
    if (!parsed) return error_response(parsed.error());
    auto rendered = render_request_prompt(m, *parsed);
    if (!rendered) return error_response(rendered.error());
    if (special != j.end())
      ids = m.tok->encode(*rendered, special->get<bool>(), /*parse_special=*/true);
    else
      ids = chat_prompt_ids(m, *rendered);
  } else if (auto prompt = j.find("prompt"); prompt != j.end() && prompt->is_string()) {
    const bool add = special == j.end() || special->get<bool>();
    ids = m.tok->encode(prompt->get<std::string>(), add, /*parse_special=*/true);
  } else {
    return error_response(bad_request("'prompt' (a string) or 'messages' is required", "prompt"));
  }
  return json_response(
      200, {{"tokens", ids}, {"count", ids.size()}, {"max_model_len", m.max_model_len}});
}

HttpResponse handle_detokenize(const ServedModel& m, const std::string& body) {
  auto json = parse_json_body(body);
  if (!json) return error_response(json.error());
  auto tokens = json->find("tokens");
  if (tokens == json->end() || !tokens->is_array())
    return error_response(bad_request("'tokens' (a list of token ids) is required", "tokens"));
  std::vector<int32_t> ids;
  for (const Json& t : *tokens) {
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= m.n_vocab)
      return error_response(
          bad_request(fmt::format("'tokens' must hold token ids in [0, {})", m.n_vocab), "tokens"));
    ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  return json_response(200, {{"prompt", m.tok->decode(ids, /*render_special=*/true)}});
}

}  // namespace

void Server::dispatch(std::shared_ptr<HttpSession> session, HttpSession::Request req) {
  const std::string_view target(req.target().data(), req.target().size());
  const std::string path(target.substr(0, target.find('?')));
  const http::verb method = req.method();
  const bool get = method == http::verb::get || method == http::verb::head;
  const bool post = method == http::verb::post;
  // Errors go out in the shape of the API the path belongs to.
  const bool anthropic = path == "/v1/messages" || path.starts_with("/v1/messages/");
  auto fail = [&](const ApiError& e) {
    session->respond(anthropic ? anthropic_error_response(e) : error_response(e));
  };
  auto wrong_method = [&] {
    ApiError e = bad_request(
        fmt::format("method {} is not allowed on {}", std::string(req.method_string()), path));
    e.status = 405;
    fail(e);
  };

  if (method == http::verb::options) {  // CORS preflight
    HttpResponse r;
    r.status = 204;
    r.headers = {{"Access-Control-Allow-Methods", "GET, POST, OPTIONS"},
                 {"Access-Control-Allow-Headers",
                  "Authorization, Content-Type, x-api-key, anthropic-version, anthropic-beta, "
                  "anthropic-dangerous-direct-browser-access"},
                 {"Access-Control-Max-Age", "86400"}};
    return session->respond(std::move(r));
  }
  if (path == "/health") {
    if (!get) return wrong_method();
    return session->respond(model_ ? json_response(200, {{"status", "ok"}})
                                   : json_response(503, {{"status", "loading"}}));
  }
  if (path == "/version") {
    if (!get) return wrong_method();
    return session->respond(json_response(200, {{"version", PAGODA_VERSION}}));
  }
  if (get) {  // the chat page: no key needed to load it (it asks for one when the API wants it)
    if (auto page = web_page_response(path)) return session->respond(std::move(*page));
  }
  const bool known = path == "/metrics" || path == "/tokenize" || path == "/detokenize" ||
                     path == "/v1/models" || path.starts_with("/v1/models/") ||
                     path == "/v1/chat/completions" || path == "/v1/completions" ||
                     path == "/v1/messages" || path == "/v1/messages/count_tokens";
  if (!known) return fail(not_found(fmt::format("no route for {}", path)));
  if (path != "/metrics" && !authorized(options_, req)) {
    ApiError e = bad_request(
        "invalid or missing API key (send 'Authorization: Bearer KEY' or 'x-api-key: KEY')");
    e.status = 401;
    e.code = "invalid_api_key";
    return fail(e);
  }
  if (!model_) {
    ApiError e = bad_request("the model is still loading; retry shortly");
    e.status = 503;
    e.type = "server_error";
    e.code = "model_loading";
    return fail(e);
  }
  if (draining_) {
    ApiError e = bad_request("the server is shutting down");
    e.status = 503;
    e.type = "server_error";
    return fail(e);
  }
  const ServedModel& m = *model_;
  if (path == "/metrics") {
    if (!get) return wrong_method();
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = render_prometheus(m.engine->metrics(), m.names.front());
    return session->respond(std::move(r));
  }
  if (path == "/v1/models") {
    if (!get) return wrong_method();
    Json data = Json::array();
    for (const auto& name : m.names) data.push_back(model_card(m, name));
    return session->respond(json_response(200, {{"object", "list"}, {"data", data}}));
  }
  if (path.starts_with("/v1/models/")) {
    if (!get) return wrong_method();
    const std::string id = path.substr(std::string_view("/v1/models/").size());
    for (const auto& name : m.names)
      if (name == id) return session->respond(json_response(200, model_card(m, name)));
    ApiError e = not_found("The model `" + id + "` does not exist.");
    e.param = "model";
    e.code = "model_not_found";
    return session->respond(error_response(e));
  }
  if (!post) return wrong_method();
  if (path == "/tokenize") return session->respond(handle_tokenize(m, req.body()));
  if (path == "/detokenize") return session->respond(handle_detokenize(m, req.body()));
  if (path == "/v1/messages") return handle_messages(*this, std::move(session), req.body());
  if (path == "/v1/messages/count_tokens")
    return handle_count_tokens(*this, std::move(session), req.body());
  handle_generation(*this, std::move(session),
                    path == "/v1/chat/completions" ? ApiKind::chat : ApiKind::completion,
                    req.body());
}

}  // namespace pagoda::server
