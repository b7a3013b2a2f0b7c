// The GGUF v3 writer: the same layout as ggml's gguf_write and gguf-py (header,
// metadata, tensor infos, zero padding to the alignment, each tensor's data
// padded to the alignment, the last one included), so that writing what the
// reader read reproduces a file byte for byte.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unordered_set>

#include "gguf/gguf.h"
#include "gguf/limits.h"

namespace pagoda::gguf {
namespace {

// Destination of the serialized bytes; throws pagoda::Exception on failure.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void write(const void* data, size_t n) = 0;
  uint64_t written() const { return written_; }

  template <typename T>
  void put(T v) {
    write(&v, sizeof(T));
  }
  void put_string(std::string_view s) {
    put<uint64_t>(s.size());
    write(s.data(), s.size());
  }
  void pad_to(uint64_t alignment) {
    static constexpr uint8_t kZeros[64] = {};
    uint64_t n = (alignment - written_ % alignment) % alignment;
    while (n > 0) {
      const uint64_t chunk = n < sizeof(kZeros) ? n : sizeof(kZeros);
      write(kZeros, chunk);
      n -= chunk;
    }
  }

 protected:
  uint64_t written_ = 0;
};

class MemorySink final : public Sink {
 public:
  explicit MemorySink(std::vector<uint8_t>& out) : out_(out) {}
  void write(const void* data, size_t n) override {
    const auto* p = static_cast<const uint8_t*>(data);
    out_.insert(out_.end(), p, p + n);
    written_ += n;
  }

 private:
  std::vector<uint8_t>& out_;
};

class FileSink final : public Sink {
 public:
  FileSink(std::FILE* f, const std::string& path) : f_(f), path_(path) {}
  void write(const void* data, size_t n) override {
    if (n > 0 && std::fwrite(data, 1, n, f_) != n)
      throw Exception(fmt::format("{}: write failed: {}", path_, std::strerror(errno)));
    written_ += n;
  }

 private:
  std::FILE* f_;
  const std::string& path_;
};

void write_array_payload(Sink& sink, const Array& a);

// Writes a value's payload (not its type tag).
void write_payload(Sink& sink, const Value& v) {
  switch (v.type()) {
    case ValueType::UINT8: sink.put<uint8_t>(static_cast<uint8_t>(v.raw_uint())); break;
    case ValueType::INT8: sink.put<int8_t>(static_cast<int8_t>(v.raw_int())); break;
    case ValueType::UINT16: sink.put<uint16_t>(static_cast<uint16_t>(v.raw_uint())); break;
    case ValueType::INT16: sink.put<int16_t>(static_cast<int16_t>(v.raw_int())); break;
    case ValueType::UINT32: sink.put<uint32_t>(static_cast<uint32_t>(v.raw_uint())); break;
    case ValueType::INT32: sink.put<int32_t>(static_cast<int32_t>(v.raw_int())); break;
    case ValueType::UINT64: sink.put<uint64_t>(v.raw_uint()); break;
    case ValueType::INT64: sink.put<int64_t>(v.raw_int()); break;
    case ValueType::FLOAT32: sink.put<float>(static_cast<float>(v.raw_float())); break;
    case ValueType::FLOAT64: sink.put<double>(v.raw_float()); break;
    case ValueType::BOOL: sink.put<uint8_t>(v.raw_uint() ? 1 : 0); break;
    case ValueType::STRING: sink.put_string(*v.as_string()); break;
    case ValueType::ARRAY: {
      static const Array kEmpty;
      const Array* a = v.as_array();
      write_array_payload(sink, a ? *a : kEmpty);
      break;
    }
  }
}

template <typename OnDisk, typename Stored>
void write_numbers(Sink& sink, const std::vector<Stored>& values) {
  for (Stored x : values) sink.put<OnDisk>(static_cast<OnDisk>(x));
}

void write_array_payload(Sink& sink, const Array& a) {
  sink.put<uint32_t>(static_cast<uint32_t>(a.elem_type));
  sink.put<uint64_t>(a.size());
  switch (a.elem_type) {
    case ValueType::UINT8: write_numbers<uint8_t>(sink, a.uints); break;
    case ValueType::UINT16: write_numbers<uint16_t>(sink, a.uints); break;
    case ValueType::UINT32: write_numbers<uint32_t>(sink, a.uints); break;
    case ValueType::UINT64: write_numbers<uint64_t>(sink, a.uints); break;
    case ValueType::BOOL:
      for (uint64_t b : a.uints) sink.put<uint8_t>(b ? 1 : 0);
      break;
    case ValueType::INT8: write_numbers<int8_t>(sink, a.ints); break;
    case ValueType::INT16: write_numbers<int16_t>(sink, a.ints); break;
    case ValueType::INT32: write_numbers<int32_t>(sink, a.ints); break;
    case ValueType::INT64: write_numbers<int64_t>(sink, a.ints); break;
    case ValueType::FLOAT32: write_numbers<float>(sink, a.floats); break;
    case ValueType::FLOAT64: write_numbers<double>(sink, a.floats); break;
    case ValueType::STRING:
      for (const auto& s : a.strings) sink.put_string(s);
      break;
    case ValueType::ARRAY:
      for (const auto& inner : a.arrays) {
        if (inner.type() != ValueType::ARRAY)
          throw Exception("array of arrays holds a non-array element");
        write_payload(sink, inner);
      }
      break;
  }
}

// Nesting depth of an array value (1 for a flat array).
int array_depth(const Array& a) {
  int deepest = 0;
  if (a.elem_type == ValueType::ARRAY)
    for (const auto& inner : a.arrays)
      if (const Array* ia = inner.as_array()) deepest = std::max(deepest, array_depth(*ia));
  return deepest + 1;
}

// The alignment the metadata asks for; throws when it is not a u32 power of two.
uint64_t alignment_of(const std::vector<KeyValue>& kv) {
  for (const auto& e : kv) {
    if (e.key != "general.alignment") continue;
    if (e.value.type() != ValueType::UINT32)
      throw Exception(fmt::format("general.alignment must be of type u32, not {}",
                                  value_type_name(e.value.type())));
    const uint64_t a = e.value.raw_uint();
    if (a == 0 || !std::has_single_bit(a))
      throw Exception(fmt::format("general.alignment {} is not a non-zero power of two", a));
    return a;
  }
  return kDefaultAlignment;
}

// Rejects anything the reader would reject, so every file we write reads back.
void validate(const std::vector<KeyValue>& kv, const std::vector<TensorInfo>& tensors) {
  std::unordered_set<std::string_view> names;
  for (const auto& e : kv) {
    if (e.key.empty() || e.key.size() > kMaxKeyLength)
      throw Exception(fmt::format("metadata key '{}' is empty or too long", e.key));
    if (const Array* a = e.value.as_array(); a && array_depth(*a) > kMaxArrayDepth)
      throw Exception(fmt::format("metadata '{}': arrays nested deeper than {} levels", e.key,
                                  kMaxArrayDepth));
  }
  for (const auto& t : tensors) {
    if (t.name.empty() || t.name.size() > kMaxTensorNameLength)
      throw Exception(fmt::format("tensor name '{}' is empty or longer than {} bytes", t.name,
                                  kMaxTensorNameLength));
    if (!names.insert(t.name).second)
      throw Exception(fmt::format("duplicate tensor name '{}'", t.name));
    if (t.shape.empty() || t.shape.size() > static_cast<size_t>(kMaxDims))
      throw Exception(fmt::format("tensor '{}' has {} dimensions (must be 1 to {})", t.name,
                                  t.shape.size(), kMaxDims));
    if (t.n_bytes == 0)
      throw Exception(fmt::format(
          "tensor '{}': invalid shape for type {} (dimensions must be positive and the row a "
          "multiple of the block size)",
          t.name, tensor_type_name(t.type)));
  }
}

// Element count and byte size of a shape, or {0, 0} when it is not valid for `type`.
std::pair<uint64_t, uint64_t> tensor_size(TensorType type, const std::vector<int64_t>& shape) {
  const TensorTypeTraits* tr = tensor_type_traits_ref(type);
  if (!tr || shape.empty()) return {0, 0};
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d <= 0 || static_cast<uint64_t>(d) > kMaxElements / n) return {0, 0};
    n *= static_cast<uint64_t>(d);
  }
  if (static_cast<uint64_t>(shape[0]) % tr->block_size != 0) return {n, 0};
  return {n, n / tr->block_size * tr->block_bytes};
}

void serialize(Sink& sink, const std::vector<KeyValue>& kv, const std::vector<TensorInfo>& tensors,
               const Writer::TensorDataFn& data) {
  validate(kv, tensors);
  const uint64_t alignment = alignment_of(kv);
  sink.put<uint32_t>(kMagic);
  sink.put<uint32_t>(3);
  sink.put<uint64_t>(tensors.size());
  sink.put<uint64_t>(kv.size());
  for (const auto& e : kv) {
    sink.put_string(e.key);
    sink.put<uint32_t>(static_cast<uint32_t>(e.value.type()));
    write_payload(sink, e.value);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    sink.put_string(t.name);
    sink.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) sink.put<uint64_t>(static_cast<uint64_t>(d));
    sink.put<uint32_t>(static_cast<uint32_t>(t.type));
    sink.put<uint64_t>(offset);
    offset += t.n_bytes;
    offset += (alignment - offset % alignment) % alignment;
  }
  // Like ggml and gguf-py, a file without tensors ends right after its metadata.
  if (!tensors.empty()) sink.pad_to(alignment);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    std::span<const uint8_t> bytes;
    if (t.data) {
      bytes = {t.data, static_cast<size_t>(t.n_bytes)};
    } else if (data) {
      auto got = data(i);
      if (!got) throw Exception(fmt::format("tensor '{}': {}", t.name, got.error().message));
      bytes = *got;
    } else {
      throw Exception(fmt::format("tensor '{}' has no data", t.name));
    }
    if (bytes.size() != t.n_bytes)
      throw Exception(fmt::format("tensor '{}': data callback gave {} bytes, expected {}", t.name,
                                  bytes.size(), t.n_bytes));
    sink.write(bytes.data(), bytes.size());
    sink.pad_to(alignment);
  }
}

}  // namespace

void Writer::set(const std::string& key, Value value) {
  for (auto& e : kv_) {
    if (e.key == key) {
      e.value = std::move(value);
      relayout();
      return;
    }
  }
  kv_.push_back(KeyValue{key, std::move(value)});
  relayout();
}

void Writer::remove(const std::string& key) {
  std::erase_if(kv_, [&](const KeyValue& e) { return e.key == key; });
  relayout();
}

void Writer::copy_metadata(const File& file) {
  for (const auto& e : file.metadata()) set(e.key, e.value);
}

size_t Writer::add_tensor(std::string name, TensorType type, std::vector<int64_t> shape,
                          const uint8_t* data) {
  TensorInfo t;
  t.name = std::move(name);
  t.type = type;
  t.shape = std::move(shape);
  const auto [n_elements, n_bytes] = tensor_size(type, t.shape);
  t.n_elements = n_elements;
  t.n_bytes = n_bytes;
  t.data = data;
  tensors_.push_back(std::move(t));
  relayout();
  return tensors_.size() - 1;
}

void Writer::relayout() {
  uint64_t alignment = kDefaultAlignment;
  try {
    alignment = alignment_of(kv_);
  } catch (const Exception&) {
    // An invalid alignment is reported by write; offsets use the default meanwhile.
  }
  uint64_t offset = 0;
  for (auto& t : tensors_) {
    t.offset = offset;
    offset += t.n_bytes;
    offset += (alignment - offset % alignment) % alignment;
  }
}

Expected<std::vector<uint8_t>> Writer::write_memory(const TensorDataFn& data) const {
  return capture([&] {
    std::vector<uint8_t> out;
    MemorySink sink(out);
    serialize(sink, kv_, tensors_, data);
    return out;
  });
}

Expected<void> Writer::write_file(const std::string& path, const TensorDataFn& data) const {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return Error{fmt::format("{}: cannot create: {}", tmp, std::strerror(errno))};
  std::vector<char> buffer(size_t{1} << 20);
  std::setvbuf(f, buffer.data(), _IOFBF, buffer.size());
  auto written = capture([&] {
    FileSink sink(f, tmp);
    serialize(sink, kv_, tensors_, data);
    if (std::fflush(f) != 0) throw Exception(fmt::format("{}: write failed: {}", tmp, std::strerror(errno)));
  });
  const bool closed = std::fclose(f) == 0;
  if (written && !closed)
    written = Error{fmt::format("{}: close failed: {}", tmp, std::strerror(errno))};
  if (written && std::rename(tmp.c_str(), path.c_str()) != 0)
    written = Error{fmt::format("{}: cannot rename to {}: {}", tmp, path, std::strerror(errno))};
  if (!written) {
    std::remove(tmp.c_str());
    return Error{fmt::format("{}: {}", path, written.error().message)};
  }
  return {};
}

}  // namespace pagoda::gguf
