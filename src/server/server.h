#pragma once
// The server: accepts connections on one io_context thread, owns the
// sessions and running generation jobs, answers SIGINT/SIGTERM with a
// graceful drain. The model arrives later (set_model) so /health can answer
// 503 while it loads. Every method runs on the io_context's thread.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "base/expected.h"
#include "server/http_session.h"
#include "server/served_model.h"

namespace pagoda::server {

class GenerationJob;

class Server {
 public:
  Server(boost::asio::io_context& ioc, ServerOptions options);
  ~Server();

  // Binds host:port and starts accepting and watching for signals. Errors name the address.
  Expected<void> listen();
  // The bound port (the chosen one when options.port was 0).
  uint16_t port() const { return port_; }

  // The model is ready (nullptr: loading); it must outlive the server's use of it.
  void set_model(ServedModel* model) { model_ = model; }
  ServedModel* model() const { return model_; }
  const ServerOptions& options() const { return options_; }
  boost::asio::io_context& io_context() { return ioc_; }
  bool draining() const { return draining_; }

  // Routes one complete request (see router.cpp).
  void dispatch(std::shared_ptr<HttpSession> session, HttpSession::Request request);

  void add_session(HttpSession* s) { sessions_.insert(s); }
  void remove_session(HttpSession* s);
  void add_job(std::shared_ptr<GenerationJob> job);
  void remove_job(GenerationJob* job);
  size_t n_jobs() const { return jobs_.size(); }
  // A fresh response id such as "chatcmpl-3f2a…".
  std::string next_id(const char* prefix);

  // SIGINT/SIGTERM: stop accepting, let running requests finish within the drain time-out
  // (then abort them), stop the io_context when the last connection closes. A second call aborts
  // now.
  void begin_shutdown();
  // Stops the io_context with `exit_code` (e.g. the model failed to load).
  void stop(int exit_code);
  int exit_code() const { return exit_code_; }
  // After io_context::run() returned: aborts every job and closes every connection, so that a
  // further run() finishes all handlers before the engine and the server go away.
  void close_all();

 private:
  void do_accept();
  void wait_signal();
  void abort_jobs();
  void maybe_stop();

  boost::asio::io_context& ioc_;
  ServerOptions options_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer drain_timer_;
  boost::asio::steady_timer retry_timer_;
  uint16_t port_ = 0;
  ServedModel* model_ = nullptr;
  bool draining_ = false;
  bool stopped_ = false;
  int exit_code_ = 0;
  std::unordered_set<HttpSession*> sessions_;
  std::unordered_map<GenerationJob*, std::shared_ptr<GenerationJob>> jobs_;
  std::mt19937_64 rng_;
};

}  // namespace pagoda::server
