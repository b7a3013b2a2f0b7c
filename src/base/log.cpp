#include "base/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

namespace pagoda::log {
namespace {
std::atomic<Level> g_level{Level::info};
std::mutex g_mutex;
const char* tag(Level l) {
  switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
    default: return "";
  }
}
}  // namespace

void set_level(Level l) { g_level.store(l); }
Level level() { return g_level.load(std::memory_order_relaxed); }

void write(Level l, std::string_view message) {
  std::lock_guard lock(g_mutex);
  std::fprintf(stderr, "[%s] %.*s\n", tag(l), static_cast<int>(message.size()), message.data());
}

}  // namespace pagoda::log
