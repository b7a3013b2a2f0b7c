#pragma once
// One HTTP/1.1 connection on the server's io_context: reads requests with
// size limits and a time-out, hands each to the router, writes whole
// responses or a chunked SSE stream, keeps the connection alive between
// requests, and reports a client that goes away while a request is running.
// Every method must be called on the io_context's thread.
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/api_error.h"

namespace pagoda::server {

class Server;

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

HttpResponse json_response(unsigned status, const nlohmann::ordered_json& body);
// The OpenAI error body with the error's status (plus Retry-After for 503).
HttpResponse error_response(const ApiError& e);

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;

  HttpSession(boost::asio::ip::tcp::socket socket, Server& server);
  ~HttpSession();

  // Starts reading the first request.
  void start();
  // Sends a whole response; afterwards reads the next request or closes.
  void respond(HttpResponse res);
  // Sends the headers of a 200 text/event-stream response. `on_gone` runs once
  // if the client disconnects (or stops reading) before end_stream().
  void begin_stream(std::function<void()> on_gone);
  // Queues SSE bytes (framed as one HTTP chunk).
  void stream(std::string data);
  // Ends the stream; afterwards reads the next request or closes.
  void end_stream();
  // While a non-streamed response is being computed, runs `on_gone` once if the client disconnects.
  void watch(std::function<void()> on_gone);
  // Token counts for this request's access-log line.
  void note_tokens(int64_t prompt, int64_t completion, int64_t cached, double ttft_ms);
  // Closes the connection now; a pending on_gone runs.
  void close();
  // True while waiting for a request (nothing in flight): safe to close on shutdown.
  bool idle() const { return phase_ == Phase::reading || phase_ == Phase::lingering; }
  bool closed() const { return closed_; }

 private:
  enum class Phase { reading, handling, done, lingering };
  void do_read();
  void on_header(boost::beast::error_code ec);
  void on_body(boost::beast::error_code ec);
  void on_read_error(boost::beast::error_code ec);
  void enqueue(std::string bytes);
  void do_write();
  void on_write(boost::beast::error_code ec);
  void finish_response();
  void start_watch();
  void on_watch(boost::beast::error_code ec, size_t n);
  void gone();
  void log_access();
  void linger();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  Server& server_;
  Phase phase_ = Phase::reading;
  bool closed_ = false;

  // The request being answered.
  std::string method_ = "-", target_ = "-";
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool linger_ = false;  // the request was not read to its end: drain before closing
  unsigned status_ = 0;
  std::chrono::steady_clock::time_point start_;
  int64_t n_prompt_ = -1, n_completion_ = -1, n_cached_ = -1;
  double ttft_ms_ = -1.0;

  // Writes: whole strings, one async_write at a time.
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool response_done_ = false;  // the last bytes of the response are queued
  bool chunked_ = false;

  // Disconnect detection while a request runs.
  std::function<void()> on_gone_;
  bool watching_ = false;
  bool resume_after_watch_ = false;
};

}  // namespace pagoda::server
