// Placeholder until the page's files are embedded (being written now).
#include "server/web_page.h"

namespace pagoda::server {

std::optional<HttpResponse> web_page_response(std::string_view) {
  return std::nullopt;
}

}  // namespace pagoda::server
