#pragma once
// Sanity limits the reader enforces on top of "fits in the file". They are far
// above anything a real model uses and exist so a hostile header cannot ask for
// absurd work (deep recursion, billions of tiny entries).
#include <cstdint>

namespace pagoda::gguf {

inline constexpr uint64_t kMaxMetadataEntries = uint64_t{1} << 20;
inline constexpr uint64_t kMaxTensors = uint64_t{1} << 20;
inline constexpr uint64_t kMaxKeyLength = 65535;          // the GGUF spec's key limit
inline constexpr uint64_t kMaxTensorNameLength = 255;      // ggml itself allows 63
inline constexpr uint64_t kMaxStringLength = uint64_t{1} << 30;
inline constexpr int kMaxArrayDepth = 8;                   // nested arrays, outermost is 1
inline constexpr uint64_t kMaxElements = uint64_t{1} << 48;  // per tensor, and per dimension

// Smallest possible encodings, used to reject counts the remaining bytes cannot hold.
inline constexpr uint64_t kMinKeyValueBytes = 8 + 1 + 4 + 1;          // key len, 1-byte key, type, u8
inline constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;  // name, 1 dim, type, offset

}  // namespace pagoda::gguf
