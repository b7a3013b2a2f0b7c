#pragma once
// `pagoda bench serve`: a small asynchronous HTTP/1.1 client on Boost.Beast.
// Every call runs on the caller's io_context (one thread drives all of them);
// each has its own connection and an overall deadline, and a streamed body is
// handed over piece by piece as it arrives.
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/bench_serve/inputs.h"

namespace pagoda::cli::bench_serve {

struct HttpCall {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string target;  // e.g. "/v1/completions"
  std::string body;    // sent as application/json when not empty
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds timeout{600000};
  // When set and the status is 200, receives the body in pieces as they
  // arrive (instead of HttpOutcome::body); returning false stops the call.
  std::function<bool(std::string_view)> on_body;
};

struct HttpOutcome {
  int status = 0;     // 0: no response
  std::string body;   // the body (not streamed), or a non-200 response's body
  std::string error;  // transport failure or timeout; empty when the exchange completed
  bool stopped = false;  // on_body returned false
};

// Starts a call; `done` runs exactly once, on the io_context's thread.
void start_http_call(boost::asio::io_context& ioc, const BaseUrl& url, HttpCall call,
                     std::function<void(HttpOutcome)> done);

// Runs one call to completion on an otherwise idle io_context.
HttpOutcome http_call_blocking(boost::asio::io_context& ioc, const BaseUrl& url, HttpCall call);

// "HTTP 503: <error.message>" (or the start of the body) for a failed response.
std::string describe_http_failure(const HttpOutcome& o);

}  // namespace pagoda::cli::bench_serve
