#pragma once
// The memory-read roof `pagoda bench` compares decode against: how many bytes per second this
// machine's threads can stream from RAM, measured here and now (not a datasheet figure), so the
// share it reports is of what this machine really does.
#include <cstdint>

#include "base/thread_pool.h"

namespace pagoda::cli {

struct MemoryRoof {
  double bytes_per_second = 0;  // best of the repetitions
  uint64_t buffer_bytes = 0;    // what each repetition read
};

// Reads a buffer of `bytes` (well beyond the caches) with every thread of `pool`, each its own
// contiguous part, `reps` times; the best rate wins (the others met noise from the machine).
MemoryRoof measure_memory_roof(ThreadPool& pool, uint64_t bytes = uint64_t{1} << 30, int reps = 5);

}  // namespace pagoda::cli
