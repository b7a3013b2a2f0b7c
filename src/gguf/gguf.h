#pragma once
// GGUF v2/v3 files: a bounds-checked reader over mmap and a v3 writer.
// Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
//
// Reader contract: every length, count, offset, dimension and type is checked
// against the file size and sane limits before use; a malformed file yields an
// Error naming the file, the field and the byte offset. Never aborts, never
// allocates a size the file chose beyond what the file's own bytes justify.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "base/mapped_file.h"
#include "base/tensor_type.h"

namespace pagoda::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr int kMaxDims = 4;

enum class ValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
std::string_view value_type_name(ValueType t);

class Value;

// A homogeneous array. Elements live in the one vector matching elem_type:
// unsigned ints and bools in `uints`, signed in `ints`, floats in `floats`,
// strings in `strings`, nested arrays in `arrays`.
struct Array {
  ValueType elem_type = ValueType::UINT8;
  std::vector<uint64_t> uints;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;
  std::vector<Value> arrays;
  size_t size() const;
};

// One metadata value with its exact GGUF type (kept for byte-exact rewriting).
class Value {
 public:
  Value() = default;
  static Value u8(uint8_t v) { return Value(ValueType::UINT8, uint64_t{v}); }
  static Value i8(int8_t v) { return Value(ValueType::INT8, int64_t{v}); }
  static Value u16(uint16_t v) { return Value(ValueType::UINT16, uint64_t{v}); }
  static Value i16(int16_t v) { return Value(ValueType::INT16, int64_t{v}); }
  static Value u32(uint32_t v) { return Value(ValueType::UINT32, uint64_t{v}); }
  static Value i32(int32_t v) { return Value(ValueType::INT32, int64_t{v}); }
  static Value u64(uint64_t v) { return Value(ValueType::UINT64, v); }
  static Value i64(int64_t v) { return Value(ValueType::INT64, v); }
  static Value f32(float v) { return Value(ValueType::FLOAT32, double{v}); }
  static Value f64(double v) { return Value(ValueType::FLOAT64, v); }
  static Value boolean(bool v) { return Value(ValueType::BOOL, uint64_t{v}); }
  static Value string(std::string v);
  static Value array(Array a);
  static Value string_array(std::vector<std::string> v);
  static Value f32_array(std::vector<float> v);
  static Value i32_array(std::vector<int32_t> v);

  ValueType type() const { return type_; }
  bool is_integer() const;
  bool is_float() const { return type_ == ValueType::FLOAT32 || type_ == ValueType::FLOAT64; }

  // Typed views; nullopt/nullptr when the type does not fit.
  std::optional<int64_t> as_int() const;    // any integer type whose value fits int64
  std::optional<uint64_t> as_uint() const;  // any non-negative integer
  std::optional<double> as_float() const;   // float types, and integers
  std::optional<bool> as_bool() const;
  const std::string* as_string() const;
  const Array* as_array() const;

  // Raw storage (used by the writer): ints in i_, uints/bools in u_, floats in f_.
  uint64_t raw_uint() const { return u_; }
  int64_t raw_int() const { return i_; }
  double raw_float() const { return f_; }

  // A short human-readable rendering (arrays summarised after `max_items`).
  std::string to_string(size_t max_items = 8) const;

 private:
  Value(ValueType t, uint64_t u) : type_(t), u_(u) {}
  Value(ValueType t, int64_t i) : type_(t), i_(i) {}
  Value(ValueType t, double f) : type_(t), f_(f) {}
  ValueType type_ = ValueType::UINT8;
  uint64_t u_ = 0;
  int64_t i_ = 0;
  double f_ = 0;
  std::shared_ptr<const std::string> s_;
  std::shared_ptr<const Array> a_;
};

struct KeyValue {
  std::string key;
  Value value;
};

struct TensorInfo {
  std::string name;
  TensorType type = TensorType::F32;
  std::vector<int64_t> shape;  // GGUF order: shape[0] is the contiguous (row) dimension
  uint64_t offset = 0;         // relative to the start of the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;  // into the file's bytes; valid while the File lives

  int64_t ne(int i) const { return i < static_cast<int>(shape.size()) ? shape[i] : 1; }
  int64_t n_rows() const { return shape.empty() ? 0 : static_cast<int64_t>(n_elements / shape[0]); }
};

class File {
 public:
  // Maps and parses a file. Errors name the path, field and byte offset.
  static Expected<std::unique_ptr<File>> open(const std::string& path);
  // Parses bytes owned by the caller (kept alive for the File's lifetime).
  static Expected<std::unique_ptr<File>> parse(std::span<const uint8_t> bytes, std::string name);

  const std::string& name() const { return name_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // absolute offset of the data section
  std::span<const uint8_t> bytes() const { return bytes_; }

  const std::vector<KeyValue>& metadata() const { return kv_; }
  const Value* find(std::string_view key) const;
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  const Array* get_array(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;

 private:
  File() = default;
  friend class Parser;
  std::unique_ptr<MappedFile> mapping_;
  std::span<const uint8_t> bytes_;
  std::string name_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<KeyValue> kv_;
  std::vector<TensorInfo> tensors_;
};

// Writes GGUF v3. Keys keep insertion order; tensors are laid out in the order
// added, each aligned to `general.alignment` (default 32), zero padding.
class Writer {
 public:
  // Callback that returns the bytes of tensor `index` (exactly its n_bytes);
  // called once per tensor, in order, while writing.
  using TensorDataFn = std::function<Expected<std::span<const uint8_t>>(size_t index)>;

  Writer() = default;
  // Adds or replaces (in place) a metadata key.
  void set(const std::string& key, Value value);
  void remove(const std::string& key);
  const std::vector<KeyValue>& metadata() const { return kv_; }
  // Copies every metadata key of `file` (in order).
  void copy_metadata(const File& file);

  // Declares a tensor. `data` (optional) is borrowed until write; otherwise
  // write_file's callback supplies it. Returns the tensor's index.
  size_t add_tensor(std::string name, TensorType type, std::vector<int64_t> shape,
                    const uint8_t* data = nullptr);
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  // Writes atomically: to `path`.tmp, then renames; removes the partial file on failure.
  Expected<void> write_file(const std::string& path, const TensorDataFn& data = {}) const;
  // Serializes to memory (tests, small files).
  Expected<std::vector<uint8_t>> write_memory(const TensorDataFn& data = {}) const;

 private:
  // Recomputes tensor offsets (after a tensor or general.alignment changes).
  void relayout();
  std::vector<KeyValue> kv_;
  std::vector<TensorInfo> tensors_;
};

}  // namespace pagoda::gguf
