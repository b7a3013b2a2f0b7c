#pragma once
// This process's resident memory, from /proc/self/status (Linux): what a rank of a
// tensor-parallel job really holds, as opposed to what it maps.
#include <cstdint>
#include <optional>

namespace pagoda {

struct ProcessMemory {
  uint64_t resident = 0;       // VmRSS, bytes
  uint64_t peak_resident = 0;  // VmHWM, bytes
};

// nullopt where /proc is not readable.
std::optional<ProcessMemory> process_memory();

}  // namespace pagoda
