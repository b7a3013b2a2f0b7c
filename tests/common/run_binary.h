#pragma once
// Runs the built `pagoda` binary from a test and captures what it printed.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace pagoda::test {

struct CommandResult {
  int status = -1;  // exit status; -1 when killed by a signal
  std::string out, err;
};

inline std::string read_file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a shell command (redirections are added here: stdout and stderr apart, stdin empty)
// and captures what it printed.
inline CommandResult run_captured(const std::string& command) {
  namespace fs = std::filesystem;
  static int counter = 0;
  const fs::path base = fs::temp_directory_path() /
                        ("pagoda_cmd_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  const fs::path out = base.string() + ".out", err = base.string() + ".err";
  const std::string cmd = command + " >'" + out.string() + "' 2>'" + err.string() + "' </dev/null";
  CommandResult r;
  const int raw = std::system(cmd.c_str());
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = read_file_bytes(out);
  r.err = read_file_bytes(err);
  fs::remove(out);
  fs::remove(err);
  return r;
}

// Runs `pagoda <args>` through the shell (args are shell words, quote them yourself).
inline CommandResult run_pagoda(const std::string& args) {
  return run_captured(std::string("'") + PAGODA_BINARY + "' " + args);
}

}  // namespace pagoda::test
