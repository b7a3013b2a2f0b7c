#pragma once
// A tiny blocking HTTP/1.1 client for the end-to-end tests (127.0.0.1 only),
// plus a child-process handle for a running `pagoda serve`.
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pagoda::test {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

struct HttpResult {
  int status = 0;  // 0: no response (connection failed or closed)
  std::string body;
  std::map<std::string, std::string> headers;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

// A socket connected to 127.0.0.1:port whose reads and writes give up after `timeout_s`.
inline bool connect_local(tcp::socket& socket, uint16_t port, int timeout_s = 60) {
  boost::system::error_code ec;
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return false;
  timeval tv{timeout_s, 0};
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return true;
}

// One request on a fresh connection; the body of a chunked (SSE) response comes back de-chunked.
inline HttpResult http_call(uint16_t port, http::verb verb, const std::string& target,
                            const std::string& body = "",
                            const std::map<std::string, std::string>& headers = {}) {
  HttpResult result;
  net::io_context ioc;
  tcp::socket socket(ioc);
  if (!connect_local(socket, port)) return result;
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  boost::system::error_code ec;
  http::write(socket, req, ec);
  if (ec) return result;
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  http::read(socket, buffer, parser, ec);
  if (ec) return result;
  const auto& res = parser.get();
  result.status = static_cast<int>(res.result_int());
  result.body = res.body();
  for (const auto& f : res) result.headers[std::string(f.name_string())] = std::string(f.value());
  return result;
}

// The JSON objects of an SSE body's "data:" events, and whether it ended with [DONE].
inline std::vector<nlohmann::json> sse_events(const std::string& body, bool* done = nullptr) {
  std::vector<nlohmann::json> events;
  if (done) *done = false;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) end = body.size();
    const std::string event = body.substr(pos, end - pos);
    pos = end + 2;
    if (!event.starts_with("data: ")) continue;
    const std::string data = event.substr(6);
    if (data == "[DONE]") {
      if (done) *done = true;
      continue;
    }
    events.push_back(nlohmann::json::parse(data, nullptr, false));
  }
  return events;
}

}  // namespace pagoda::test
