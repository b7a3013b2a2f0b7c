#pragma once
// POST /v1/messages and /v1/messages/count_tokens: Anthropic's body is converted to the OpenAI
// chat form (anthropic_request.h) and takes the shared chat path (prepare_generation,
// run_generation); answers and errors are in Anthropic's shape (anthropic_response.h).
#include <memory>
#include <string>

#include "server/http_session.h"

namespace pagoda::server {

class Server;

void handle_messages(Server& server, std::shared_ptr<HttpSession> session, const std::string& body);
void handle_count_tokens(Server& server, std::shared_ptr<HttpSession> session, const std::string& body);

}  // namespace pagoda::server
