#include "cli/bench/memory_roof.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

namespace pagoda::cli {

MemoryRoof measure_memory_roof(ThreadPool& pool, uint64_t bytes, int reps) {
  const size_t n = bytes / sizeof(uint64_t);
  std::unique_ptr<uint64_t[]> data(new uint64_t[n]);
  const int64_t parts = pool.size();
  const auto part = [&](int64_t p) {
    const size_t begin = n * static_cast<size_t>(p) / static_cast<size_t>(parts);
    const size_t end = n * static_cast<size_t>(p + 1) / static_cast<size_t>(parts);
    return std::pair{begin, end};
  };
  // Each thread writes its own part first, so its pages are local to it (first touch).
  pool.parallel_for(parts, [&](int64_t p, int) {
    auto [begin, end] = part(p);
    for (size_t i = begin; i < end; ++i) data[i] = i;
  });
  std::atomic<uint64_t> sink{0};
  MemoryRoof roof;
  roof.buffer_bytes = n * sizeof(uint64_t);
  for (int r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    pool.parallel_for(parts, [&](int64_t p, int) {
      auto [begin, end] = part(p);
      // Four independent sums: the loop is bound by loads, not by one addition chain.
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      size_t i = begin;
      for (; i + 4 <= end; i += 4) {
        s0 += data[i];
        s1 += data[i + 1];
        s2 += data[i + 2];
        s3 += data[i + 3];
      }
      for (; i < end; ++i) s0 += data[i];
      sink += s0 + s1 + s2 + s3;  // keeps the reads from being optimized away
    });
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    roof.bytes_per_second = std::max(roof.bytes_per_second, static_cast<double>(roof.buffer_bytes) / secs);
  }
  return roof;
}

}  // namespace pagoda::cli
