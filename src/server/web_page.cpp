// The chat page: serves the files embedded from web/ (web_assets.h) by name, "/" as index.html.
#include "server/web_page.h"

#include "server/web_assets.h"

namespace pagoda::server {
namespace {

std::string_view content_type(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

// Only the page's own files may run or load anything: model text that slipped into the DOM as
// markup could not execute a script or reach another origin.
constexpr const char* kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

}  // namespace

std::optional<HttpResponse> web_page_response(std::string_view path) {
  if (path == "/") path = "/index.html";
  if (!path.starts_with('/')) return std::nullopt;
  const std::string_view name = path.substr(1);
  for (const WebAsset& asset : web_assets()) {
    if (asset.name != name) continue;
    HttpResponse r;
    r.content_type = content_type(name);
    r.body = asset.data;
    // no-cache: the browser revalidates, so a rebuilt binary's page is picked up at once.
    r.headers = {{"Cache-Control", "no-cache"},
                 {"X-Content-Type-Options", "nosniff"},
                 {"Content-Security-Policy", kCsp},
                 {"Referrer-Policy", "no-referrer"}};
    return r;
  }
  return std::nullopt;
}

}  // namespace pagoda::server
