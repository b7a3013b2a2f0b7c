#pragma once
// The chat page served at `/` (files under web/ in the repository, compiled into the binary at
// build time: the page needs no network and no files next to the binary).
#include <optional>
#include <string_view>

#include "server/http_session.h"

namespace pagoda::server {

// The response for a GET of one of the page's files ("/" is index.html); nullopt for any other
// path. Carries its content type, caching and security headers (a CSP that allows only 'self').
std::optional<HttpResponse> web_page_response(std::string_view path);

}  // namespace pagoda::server
