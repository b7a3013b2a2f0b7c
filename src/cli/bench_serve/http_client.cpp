// The asynchronous HTTP client behind `pagoda bench serve` (see http_client.h).
#include "cli/bench_serve/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

namespace pagoda::cli::bench_serve {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

class Call : public std::enable_shared_from_this<Call> {
 public:
  Call(net::io_context& ioc, const BaseUrl& url, HttpCall call, std::function<void(HttpOutcome)> done)
      : resolver_(ioc), socket_(ioc), timer_(ioc), url_(url), call_(std::move(call)), done_(std::move(done)) {}

  void start() {
    req_.method(call_.method);
    req_.target(call_.target);
    req_.version(11);
    req_.set(http::field::host, url_.host_header());
    req_.set(http::field::user_agent, "pagoda-bench-serve");
    req_.set(http::field::accept, call_.on_body ? "text/event-stream" : "application/json");
    if (!call_.body.empty()) req_.set(http::field::content_type, "application/json");
    for (const auto& [k, v] : call_.headers) req_.set(k, v);
    req_.body() = std::move(call_.body);
    req_.prepare_payload();

    auto self = shared_from_this();
    timer_.expires_after(call_.timeout);
    timer_.async_wait([self](error_code ec) {
      if (ec) return;  // cancelled: the call finished first
      self->timed_out_ = true;
      self->abort();
    });
    resolver_.async_resolve(url_.host, std::to_string(url_.port),
                            [self](error_code ec, tcp::resolver::results_type results) {
                              if (ec) return self->fail("resolve " + self->url_.host, ec);
                              self->connect(results);
                            });
  }

 private:
  void connect(const tcp::resolver::results_type& results) {
    auto self = shared_from_this();
    net::async_connect(socket_, results, [self](error_code ec, const tcp::endpoint&) {
      if (ec) return self->fail("connect to " + self->url_.host_header(), ec);
      error_code ignored;
      self->socket_.set_option(tcp::no_delay(true), ignored);
      http::async_write(self->socket_, self->req_, [self](error_code ec, size_t) {
        if (ec) return self->fail("send request", ec);
        self->read_header();
      });
    });
  }

  void read_header() {
    parser_.emplace();
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    auto self = shared_from_this();
    http::async_read_header(socket_, buffer_, *parser_, [self](error_code ec, size_t) {
      if (ec) return self->fail("read response", ec);
      self->outcome_.status = static_cast<int>(self->parser_->get().result_int());
      self->streaming_ = self->call_.on_body && self->outcome_.status == 200;
      if (self->parser_->is_done()) return self->finish({});
      self->read_body();
    });
  }

  void read_body() {
    auto self = shared_from_this();
    http::async_read_some(socket_, buffer_, *parser_, [self](error_code ec, size_t) {
      std::string& body = self->parser_->get().body();
      if (self->streaming_) {
        if (!body.empty() && !self->finished_) {
          const bool go_on = self->call_.on_body(body);
          body.clear();
          if (!go_on) {
            self->outcome_.stopped = true;
            return self->finish({});
          }
        }
      } else if (body.size() > kMaxBody) {
        return self->finish("response body over 64 MiB");
      }
      if (ec) return self->fail("read response body", ec);
      if (self->parser_->is_done()) {
        if (!self->streaming_) self->outcome_.body = std::move(body);
        return self->finish({});
      }
      self->read_body();
    });
  }

  void fail(const std::string& what, error_code ec) {
    if (timed_out_) return finish(fmt::format("timed out after {:g} s", call_.timeout.count() / 1000.0));
    if (parser_ && !streaming_) outcome_.body = parser_->get().body();
    if (ec == http::error::partial_message || ec == http::error::end_of_stream)
      return finish(what + ": the server closed the connection mid-response");
    finish(what + ": " + ec.message());
  }

  void finish(std::string error) {
    if (finished_) return;
    finished_ = true;
    outcome_.error = std::move(error);
    timer_.cancel();
    abort();
    auto done = std::move(done_);
    done(std::move(outcome_));
  }

  void abort() {
    error_code ignored;
    resolver_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  static constexpr size_t kMaxBody = 64u << 20;

  tcp::resolver resolver_;
  tcp::socket socket_;
  net::steady_timer timer_;
  BaseUrl url_;
  HttpCall call_;
  std::function<void(HttpOutcome)> done_;
  http::request<http::string_body> req_;
  std::optional<http::response_parser<http::string_body>> parser_;
  boost::beast::flat_buffer buffer_;
  HttpOutcome outcome_;
  bool streaming_ = false, finished_ = false, timed_out_ = false;
};

}  // namespace

void start_http_call(net::io_context& ioc, const BaseUrl& url, HttpCall call,
                     std::function<void(HttpOutcome)> done) {
  std::make_shared<Call>(ioc, url, std::move(call), std::move(done))->start();
}

HttpOutcome http_call_blocking(net::io_context& ioc, const BaseUrl& url, HttpCall call) {
  HttpOutcome result;
  bool finished = false;
  start_http_call(ioc, url, std::move(call), [&](HttpOutcome o) {
    result = std::move(o);
    finished = true;
  });
  ioc.restart();
  while (!finished && ioc.run_one() > 0) {
  }
  // Let the call's cancelled timer and closed socket handlers drain.
  ioc.poll();
  return result;
}

std::string describe_http_failure(const HttpOutcome& o) {
  if (!o.error.empty()) return o.error;
  std::string detail;
  const nlohmann::json j = nlohmann::json::parse(o.body, nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    if (auto e = j.find("error"); e != j.end()) {
      if (e->is_object() && e->contains("message") && (*e)["message"].is_string())
        detail = (*e)["message"].get<std::string>();
      else if (e->is_string())
        detail = e->get<std::string>();
    } else if (auto m = j.find("message"); m != j.end() && m->is_string()) {
      detail = m->get<std::string>();
    } else if (auto d = j.find("detail"); d != j.end() && d->is_string()) {
      detail = d->get<std::string>();
    }
  }
  if (detail.empty()) detail = o.body.substr(0, 200);
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) detail.pop_back();
  return "HTTP " + std::to_string(o.status) + (detail.empty() ? "" : ": " + detail);
}

}  // namespace pagoda::cli::bench_serve
