#pragma once
// A byte-level GGUF builder for tests: writes exactly the bytes asked for, valid
// or not, and tells where each field landed so tests can check error offsets.
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace pagoda::gguf::test {

class Bytes {
 public:
  std::vector<uint8_t> bytes;

  uint64_t size() const { return bytes.size(); }

  template <typename T>
  Bytes& put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes.insert(bytes.end(), p, p + sizeof(T));
    return *this;
  }
  Bytes& u8(uint8_t v) { return put(v); }
  Bytes& u32(uint32_t v) { return put(v); }
  Bytes& u64(uint64_t v) { return put(v); }
  Bytes& str(std::string_view s) {
    u64(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& zeros(size_t n) {
    bytes.insert(bytes.end(), n, 0);
    return *this;
  }
  Bytes& pad_to(uint64_t alignment) { return zeros((alignment - size() % alignment) % alignment); }
  // Drops the last `n` bytes.
  Bytes& cut(size_t n) {
    bytes.resize(bytes.size() - n);
    return *this;
  }

  // "GGUF", version, tensor count, metadata count.
  Bytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return u32(0x46554747).u32(version).u64(n_tensors).u64(n_kv);
  }
  // Key, type tag (4 = u32), value.
  Bytes& kv_u32(std::string_view key, uint32_t v) { return str(key).u32(4).u32(v); }
  Bytes& kv_string(std::string_view key, std::string_view v) { return str(key).u32(8).str(v); }
  // Name, n_dims, dims, type, offset.
  Bytes& tensor(std::string_view name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) u64(d);
    return u32(type).u64(offset);
  }
};

}  // namespace pagoda::gguf::test
