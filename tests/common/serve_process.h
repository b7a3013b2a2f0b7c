#pragma once
// A `pagoda serve` child process on a free port (`--port 0`), for end-to-end
// tests: started with the built binary, waited for until /health answers 200,
// killed when the object goes away.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "common/run_binary.h"
#include "server/http_client.h"

namespace pagoda::test {

// A `pagoda serve` child process on a free port.
class ServeProcess {
 public:
  ServeProcess() = default;
  // `launcher` runs the binary: {"mpirun", "-np", "2", ...} for tensor parallelism.
  explicit ServeProcess(std::vector<std::string> launcher) : launcher_(std::move(launcher)) {}
  pid_t pid() const { return pid_; }
  bool start(const std::vector<std::string>& args, const std::filesystem::path& log) {
    log_ = log;
    pid_ = ::fork();
    if (pid_ == 0) {
      std::FILE* f = std::fopen(log.c_str(), "w");
      if (f) {
        ::dup2(::fileno(f), 1);
        ::dup2(::fileno(f), 2);
      }
      std::vector<std::string> all = launcher_;
      all.push_back(PAGODA_BINARY);
      all.push_back("serve");
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    const std::regex listening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
    while (std::chrono::steady_clock::now() < deadline) {
      if (port_ == 0) {
        std::smatch m;
        const std::string text = read_file_bytes(log_);
        if (std::regex_search(text, m, listening)) port_ = static_cast<uint16_t>(std::stoi(m[1]));
      }
      if (port_ != 0 && http_call(port_, http::verb::get, "/health").status == 200) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // Waits up to `timeout` for the process to end by itself: its exit status (-1 when a signal
  // ended it), or nullopt if it still runs.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return -1;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::nullopt;
  }
  // Sends `sig` and returns the exit status (-1 if killed or not running).
  int stop(int sig = SIGTERM) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  ~ServeProcess() {
    if (pid_ > 0) stop(SIGKILL);
  }
  uint16_t port() const { return port_; }
  std::string log() const { return read_file_bytes(log_); }

 private:
  std::vector<std::string> launcher_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::filesystem::path log_;
};

}  // namespace pagoda::test
