#include "server/http_session.h"

#include <fmt/format.h>

#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <sstream>

#include "base/log.h"
#include "server/anthropic_request.h"
#include "server/server.h"

namespace pagoda::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {

constexpr size_t kWatchChunk = 4096;
constexpr size_t kMaxPipelined = 64 * 1024;  // bytes of a next request buffered while one runs
constexpr size_t kLingerChunk = 64 * 1024;
constexpr auto kLingerTime = std::chrono::seconds(5);

}  // namespace

HttpResponse json_response(unsigned status, const nlohmann::ordered_json& body) {
  HttpResponse r;
  r.status = status;
  r.body = json_text(body);
  return r;
}

HttpResponse error_response(const ApiError& e) {
  HttpResponse r = json_response(static_cast<unsigned>(e.status), error_json(e));
  if (e.status == 503) r.headers.emplace_back("Retry-After", "1");
  if (e.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

HttpSession::HttpSession(net::ip::tcp::socket socket, Server& server)
    : stream_(std::move(socket)), server_(server) {
  server_.add_session(this);
}

HttpSession::~HttpSession() {
  server_.remove_session(this);
}

void HttpSession::start() {
  do_read();
}

void HttpSession::do_read() {
  if (closed_) return;
  phase_ = Phase::reading;
  method_ = target_ = "-";
  status_ = 0;
  n_prompt_ = n_completion_ = n_cached_ = -1;
  ttft_ms_ = -1.0;
  chunked_ = false;
  parser_.emplace();
  parser_->header_limit(server_.options().header_limit);
  parser_->body_limit(server_.options().body_limit);
  // One deadline for the whole request, headers and body: a slow sender is cut off.
  stream_.expires_after(server_.options().read_timeout);
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
}

void HttpSession::on_header(beast::error_code ec) {
  if (closed_) return;
  if (ec) return on_read_error(ec);
  start_ = std::chrono::steady_clock::now();
  const auto& req = parser_->get();
  method_ = std::string(req.method_string());
  target_ = std::string(req.target());
  version_ = req.version();
  keep_alive_ = req.keep_alive();
  auto on_done = [self = shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); };
  if (parser_->is_done()) return on_body({});
  if (beast::iequals(req[http::field::expect], "100-continue")) {
    static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    net::async_write(stream_, net::buffer(kContinue),
                     [self = shared_from_this(), on_done](beast::error_code ec, size_t) mutable {
                       if (self->closed_) return;
                       if (ec) return self->gone();
                       http::async_read(self->stream_, self->buffer_, *self->parser_,
                                        std::move(on_done));
                     });
    return;
  }
  http::async_read(stream_, buffer_, *parser_, std::move(on_done));
}

void HttpSession::on_body(beast::error_code ec) {
  if (closed_) return;
  if (ec) return on_read_error(ec);
  phase_ = Phase::handling;
  stream_.expires_never();
  if (start_ == std::chrono::steady_clock::time_point{}) start_ = std::chrono::steady_clock::now();
  server_.dispatch(shared_from_this(), parser_->release());
}

void HttpSession::on_read_error(beast::error_code ec) {
  const bool mid_request = parser_ && parser_->got_some();
  if (method_ == "-") start_ = std::chrono::steady_clock::now();
  if (ec == http::error::body_limit) {
    keep_alive_ = false;
    linger_ = true;
    phase_ = Phase::handling;
    ApiError e =
        bad_request(fmt::format("the request body exceeds {} bytes", server_.options().body_limit));
    e.status = 413;
    e.code = "request_too_large";
    // A Content-Length over the limit fails as the header completes: the request line was
    // parsed, so the target is known and Anthropic clients get their error shape.
    if (parser_ && !parser_->get().target().empty()) target_ = std::string(parser_->get().target());
    return respond(target_.starts_with("/v1/messages") ? anthropic_error_response(e) : error_response(e));
  }
  if (ec == http::error::header_limit) {
    keep_alive_ = false;
    linger_ = true;
    phase_ = Phase::handling;
    ApiError e = bad_request(
        fmt::format("the request headers exceed {} bytes", server_.options().header_limit));
    e.status = 431;
    return respond(error_response(e));
  }
  if (ec == beast::error::timeout || ec == http::error::end_of_stream || ec == net::error::eof ||
      ec == net::error::connection_reset || ec == net::error::operation_aborted || !mid_request) {
    if (ec == beast::error::timeout && mid_request)
      log::info("http: closing a connection that sent too slowly");
    return close();
  }
  // A malformed request line, header or chunk encoding.
  keep_alive_ = false;
  linger_ = true;
  phase_ = Phase::handling;
  respond(error_response(bad_request("malformed HTTP request: " + ec.message())));
}

void HttpSession::respond(HttpResponse res) {
  if (closed_ || phase_ != Phase::handling) return;
  status_ = res.status;
  if (server_.draining()) keep_alive_ = false;
  http::response<http::string_body> msg{static_cast<http::status>(res.status), version_};
  msg.set(http::field::server, "pagoda");
  msg.set(http::field::content_type, res.content_type);
  msg.set(http::field::access_control_allow_origin, "*");
  for (const auto& [name, value] : res.headers) msg.set(name, value);
  msg.keep_alive(keep_alive_);
  msg.body() = std::move(res.body);
  msg.prepare_payload();
  std::ostringstream os;
  if (method_ == "HEAD") {  // the headers a GET would get, Content-Length included, no body
    os << msg.base();
  } else {
    os << msg;
  }
  response_done_ = true;
  on_gone_ = nullptr;
  enqueue(os.str());
}

void HttpSession::begin_stream(std::function<void()> on_gone) {
  if (closed_ || phase_ != Phase::handling) return;
  status_ = 200;
  if (server_.draining()) keep_alive_ = false;
  chunked_ = version_ >= 11;
  if (!chunked_) keep_alive_ = false;  // HTTP/1.0: the end of the body is the end of the connection
  std::string head = fmt::format(
      "HTTP/1.{} 200 OK\r\nServer: pagoda\r\nContent-Type: text/event-stream\r\n"
      "Cache-Control: no-cache\r\nAccess-Control-Allow-Origin: *\r\nConnection: {}\r\n",
      version_ >= 11 ? 1 : 0, keep_alive_ ? "keep-alive" : "close");
  if (chunked_) head += "Transfer-Encoding: chunked\r\n";
  head += "\r\n";
  on_gone_ = std::move(on_gone);
  enqueue(std::move(head));
  start_watch();
}

void HttpSession::stream(std::string data) {
  if (closed_ || data.empty() || response_done_) return;
  if (chunked_) data = fmt::format("{:x}\r\n", data.size()) + data + "\r\n";
  enqueue(std::move(data));
}

void HttpSession::end_stream() {
  if (closed_ || response_done_) return;
  response_done_ = true;
  on_gone_ = nullptr;
  if (chunked_)
    enqueue("0\r\n\r\n");
  else if (!writing_ && queue_.empty())
    finish_response();
}

void HttpSession::watch(std::function<void()> on_gone) {
  if (closed_) return;
  on_gone_ = std::move(on_gone);
  start_watch();
}

void HttpSession::note_tokens(int64_t prompt, int64_t completion, int64_t cached, double ttft_ms) {
  n_prompt_ = prompt;
  n_completion_ = completion;
  n_cached_ = cached;
  ttft_ms_ = ttft_ms;
}

void HttpSession::enqueue(std::string bytes) {
  if (closed_) return;
  queued_bytes_ += bytes.size();
  queue_.push_back(std::move(bytes));
  if (queued_bytes_ > server_.options().max_queued_bytes) {
    log::warn("http: {} {}: the client is not reading ({} bytes unsent); closing", method_, target_,
              queued_bytes_);
    return gone();
  }
  if (!writing_) do_write();
}

void HttpSession::do_write() {
  writing_ = true;
  // A pending watch read keeps its own (infinite) deadline; this one bounds the write.
  stream_.expires_after(server_.options().write_timeout);
  net::async_write(
      stream_, net::buffer(queue_.front()),
      [self = shared_from_this()](beast::error_code ec, size_t) { self->on_write(ec); });
}

void HttpSession::on_write(beast::error_code ec) {
  writing_ = false;
  if (closed_) return;
  if (ec) {
    if (ec == beast::error::timeout)
      log::info("http: {} {}: a write made no progress; closing", method_, target_);
    return gone();
  }
  queued_bytes_ -= queue_.front().size();
  queue_.pop_front();
  if (!queue_.empty()) return do_write();
  if (response_done_) finish_response();
}

void HttpSession::finish_response() {
  log_access();
  response_done_ = false;
  on_gone_ = nullptr;
  phase_ = Phase::done;
  if (!keep_alive_ || server_.draining()) {
    beast::error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    if (linger_ && !watching_) {
      stream_.expires_after(kLingerTime);
      return linger();
    }
    return close();
  }
  if (watching_) {
    // The watch read ends (cancelled, or with the next request's first bytes) and resumes reading.
    resume_after_watch_ = true;
    beast::error_code ignored;
    stream_.socket().cancel(ignored);
    return;
  }
  do_read();
}

// The response to a request that was not read to its end (413, 431, a malformed request) is
// out and the write side shut: read and drop what the client still sends until it closes or
// kLingerTime passes. Closing with unread bytes would reset the connection, which can destroy
// the response before the client reads it (RFC 9112 section 9.6).
void HttpSession::linger() {
  if (closed_) return;
  phase_ = Phase::lingering;
  buffer_.consume(buffer_.size());
  stream_.async_read_some(buffer_.prepare(kLingerChunk),
                          [self = shared_from_this()](beast::error_code ec, size_t) {
                            if (ec) return self->close();
                            self->linger();
                          });
}

void HttpSession::start_watch() {
  if (watching_ || closed_) return;
  if (buffer_.size() >= kMaxPipelined) return;  // a pipelining client: stop reading ahead
  watching_ = true;
  stream_.expires_never();  // applies to the read side only while a write is pending
  stream_.async_read_some(
      buffer_.prepare(kWatchChunk),
      [self = shared_from_this()](beast::error_code ec, size_t n) { self->on_watch(ec, n); });
}

void HttpSession::on_watch(beast::error_code ec, size_t n) {
  watching_ = false;
  if (closed_) return;
  if (!ec) buffer_.commit(n);
  if (resume_after_watch_) {
    resume_after_watch_ = false;
    if (ec && ec != net::error::operation_aborted) return close();
    return do_read();
  }
  if (ec) return gone();  // end of stream or a reset while the request runs: the client is gone
  if (phase_ == Phase::handling) start_watch();
}

void HttpSession::gone() {
  if (closed_) return;
  auto on_gone = std::move(on_gone_);
  on_gone_ = nullptr;
  if (phase_ == Phase::handling) {
    if (status_ == 0) status_ = 499;  // nginx's "client closed request"
    log_access();
  }
  close();
  if (on_gone) on_gone();
}

void HttpSession::close() {
  if (closed_) return;
  closed_ = true;
  auto on_gone = std::move(on_gone_);
  on_gone_ = nullptr;
  beast::error_code ignored;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
  if (on_gone) on_gone();
}

void HttpSession::log_access() {
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  std::string tokens;
  if (n_prompt_ >= 0)
    tokens = fmt::format(" prompt={} completion={} cached={} ttft={:.1f}ms", n_prompt_,
                         n_completion_, n_cached_, ttft_ms_);
  log::info("{} {} {}{} total={:.1f}ms", method_, target_, status_, tokens, ms);
}

}  // namespace pagoda::server
