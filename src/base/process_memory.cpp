#include "base/process_memory.h"

#include <cstdio>
#include <cstring>

namespace pagoda {

std::optional<ProcessMemory> process_memory() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return std::nullopt;
  ProcessMemory m;
  bool rss = false, hwm = false;
  char line[256];
  while (std::fgets(line, sizeof line, f)) {
    unsigned long long kib = 0;
    if (std::sscanf(line, "VmRSS: %llu kB", &kib) == 1) {
      m.resident = kib * 1024;
      rss = true;
    } else if (std::sscanf(line, "VmHWM: %llu kB", &kib) == 1) {
      m.peak_resident = kib * 1024;
      hwm = true;
    }
  }
  std::fclose(f);
  if (!rss || !hwm) return std::nullopt;
  return m;
}

}  // namespace pagoda
