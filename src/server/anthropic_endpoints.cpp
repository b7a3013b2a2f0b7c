#include "server/anthropic_endpoints.h"

#include <algorithm>

#include "server/anthropic_request.h"
#include "server/anthropic_response.h"
#include "server/generation.h"
#include "server/prompt.h"
#include "server/server.h"

namespace pagoda::server {
namespace {

// The Anthropic body as a parsed chat request; errors already in Anthropic's shape.
ApiResult<OpenAiRequest> parse(const ServedModel& model, const std::string& body, AnthropicEndpoint endpoint) {
  auto json = parse_json_body(body);
  if (!json) return json.error();
  auto chat = anthropic_to_chat_body(*json, endpoint);
  if (!chat) return chat.error();
  return parse_chat_request(*chat, model.defaults);
}

}  // namespace

void handle_messages(Server& server, std::shared_ptr<HttpSession> session, const std::string& body) {
  const ServedModel& model = *server.model();
  auto parsed = parse(model, body, AnthropicEndpoint::messages);
  if (!parsed) return session->respond(anthropic_error_response(parsed.error()));
  auto prepared = prepare_generation(server, *parsed, random_toolu_id);
  if (!prepared) return session->respond(anthropic_error_response(prepared.error()));

  AnthropicMeta meta;
  meta.id = server.next_id("msg_");
  meta.model = prepared->model;
  meta.prompt_tokens = prepared->prompt_tokens;
  meta.make_tool_parser = prepared->plan.make_parser;
  run_generation(server, std::move(session), parsed->stream, std::move(*prepared),
                 std::make_unique<AnthropicResponder>(std::move(meta)), "messages");
}

void handle_count_tokens(Server& server, std::shared_ptr<HttpSession> session, const std::string& body) {
  const ServedModel& model = *server.model();
  auto parsed = parse(model, body, AnthropicEndpoint::count_tokens);
  if (!parsed) return session->respond(anthropic_error_response(parsed.error()));
  if (!parsed->model.empty() &&
      std::find(model.names.begin(), model.names.end(), parsed->model) == model.names.end()) {
    ApiError e = bad_request("model: " + parsed->model + " is not served here", "model");
    e.status = 404;
    return session->respond(anthropic_error_response(e));
  }
  // The same checks and prompt as /v1/messages (a bad tool_choice is refused here too).
  auto plan = plan_output(parsed->structured, server.options().tools);
  if (!plan) return session->respond(anthropic_error_response(plan.error()));
  auto rendered = render_request_prompt(model, *parsed);
  if (!rendered) return session->respond(anthropic_error_response(rendered.error()));
  const size_t n = chat_prompt_ids(model, *rendered).size();
  session->respond(json_response(200, {{"input_tokens", n}}));
}

}  // namespace pagoda::server
