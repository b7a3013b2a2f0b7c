#include "server/server.h"

#include <fmt/format.h>

#include <boost/asio/ip/address.hpp>
#include <csignal>
#include <vector>

#include "base/log.h"
#include "server/generation.h"

namespace pagoda::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

Server::Server(net::io_context& ioc, ServerOptions options)
    : ioc_(ioc),
      options_(std::move(options)),
      acceptor_(ioc),
      signals_(ioc),
      drain_timer_(ioc),
      retry_timer_(ioc),
      rng_(std::random_device{}()) {}

Server::~Server() = default;

Expected<void> Server::listen() {
  boost::system::error_code ec;
  const auto address = net::ip::make_address(options_.host, ec);
  if (ec)
    return Error{fmt::format("--host '{}' is not an IP address: {}", options_.host, ec.message())};
  const tcp::endpoint endpoint(address, options_.port);
  const std::string where = fmt::format("{}:{}", options_.host, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Error{fmt::format("cannot listen on {}: {}", where, ec.message())};
  port_ = acceptor_.local_endpoint().port();
  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  wait_signal();
  do_accept();
  return {};
}

void Server::wait_signal() {
  signals_.async_wait([this](boost::system::error_code ec, int signal) {
    if (ec) return;
    log::info("server: {} received", signal == SIGINT ? "SIGINT" : "SIGTERM");
    begin_shutdown();
    if (!stopped_) wait_signal();
  });
}

void Server::do_accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // E.g. out of file descriptors: try again shortly instead of spinning.
      log::warn("server: accept failed: {}", ec.message());
      retry_timer_.expires_after(std::chrono::milliseconds(100));
      retry_timer_.async_wait([this](boost::system::error_code e) {
        if (!e && acceptor_.is_open()) do_accept();
      });
      return;
    }
    if (sessions_.size() >= options_.max_connections) {
      boost::system::error_code ignored;
      socket.close(ignored);
    } else {
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<HttpSession>(std::move(socket), *this)->start();
    }
    do_accept();
  });
}

void Server::remove_session(HttpSession* s) {
  sessions_.erase(s);
  maybe_stop();
}

void Server::add_job(std::shared_ptr<GenerationJob> job) {
  jobs_.emplace(job.get(), std::move(job));
}

void Server::remove_job(GenerationJob* job) {
  // Keep the job alive until this call returns (the caller is usually the job itself).
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return;
  auto keep = std::move(it->second);
  jobs_.erase(it);
  net::post(ioc_, [keep = std::move(keep)] {});
  maybe_stop();
}

std::string Server::next_id(const char* prefix) {
  return fmt::format("{}{:016x}{:08x}", prefix, rng_(), static_cast<uint32_t>(rng_()));
}

void Server::abort_jobs() {
  std::vector<std::shared_ptr<GenerationJob>> jobs;
  for (auto& [ptr, job] : jobs_) jobs.push_back(job);
  for (auto& job : jobs) job->abort();
}

void Server::begin_shutdown() {
  if (draining_) {
    log::info("server: second signal: aborting {} running requests now", jobs_.size());
    abort_jobs();
    stop(exit_code_);
    return;
  }
  draining_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  std::vector<HttpSession*> idle;
  for (HttpSession* s : sessions_)
    if (s->idle()) idle.push_back(s);
  for (HttpSession* s : idle) s->close();
  log::info("server: shutting down: {} requests running (up to {} s to finish)", jobs_.size(),
            options_.drain_timeout.count());
  drain_timer_.expires_after(options_.drain_timeout);
  drain_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    if (!jobs_.empty())
      log::info("server: drain time-out: aborting {} running requests", jobs_.size());
    abort_jobs();
    // Connections get a few more seconds to take their last bytes.
    drain_timer_.expires_after(std::chrono::seconds(5));
    drain_timer_.async_wait([this](boost::system::error_code e) {
      if (!e) stop(exit_code_);
    });
  });
  maybe_stop();
}

void Server::maybe_stop() {
  if (draining_ && !stopped_ && jobs_.empty() && sessions_.empty()) stop(exit_code_);
}

void Server::stop(int exit_code) {
  exit_code_ = exit_code;
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  signals_.cancel(ignored);
  drain_timer_.cancel();
  retry_timer_.cancel();
  ioc_.stop();
}

void Server::close_all() {
  stopped_ = true;
  draining_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  signals_.cancel(ignored);
  drain_timer_.cancel();
  retry_timer_.cancel();
  std::vector<std::shared_ptr<GenerationJob>> jobs;
  for (auto& [ptr, job] : jobs_) jobs.push_back(job);
  for (auto& job : jobs) job->cancel();
  std::vector<HttpSession*> all(sessions_.begin(), sessions_.end());
  for (HttpSession* s : all) s->close();
}

}  // namespace pagoda::server
