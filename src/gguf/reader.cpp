// The bounds-checked GGUF v2/v3 reader. Every read goes through Parser::take(),
// which checks the remaining bytes first; every count is compared with the bytes
// that could hold it before anything is reserved, so a hostile header can never
// make us allocate more than a small multiple of the file's own size.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "gguf/gguf.h"
#include "gguf/limits.h"

static_assert(std::endian::native == std::endian::little,
              "the GGUF reader maps little-endian files directly");

namespace pagoda::gguf {

namespace {
// A key or name as it may appear in an error message: control bytes escaped
// (a NUL would cut the message short) and long names shortened.
std::string printable(std::string_view s) {
  constexpr size_t kMaxShown = 96;
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f || c == '\\') {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMaxShown) out += "...";
  return out;
}
}  // namespace

class Parser {
 public:
  Parser(std::span<const uint8_t> bytes, std::string name) : bytes_(bytes), name_(std::move(name)) {}

  // Parses the whole file; throws pagoda::Exception naming file, field and offset.
  std::unique_ptr<File> run() {
    file_.reset(new File());
    file_->bytes_ = bytes_;
    file_->name_ = name_;
    read_header();
    read_metadata();
    read_alignment();
    read_tensor_infos();
    place_tensor_data();
    return std::move(file_);
  }

 private:
  // Where a tensor info started, for error messages after the infos are read.
  struct TensorSite {
    uint64_t offset_field_pos = 0;
  };

  [[noreturn]] void fail(std::string_view field, uint64_t at, std::string_view problem) const {
    throw Exception(fmt::format("{}: {}{}{} at byte {}: {}", name_, context_,
                                context_.empty() ? "" : " ", field, at, problem));
  }

  uint64_t remaining() const { return bytes_.size() - pos_; }

  // Returns a pointer to the next `n` bytes and advances, or fails naming `field`.
  const uint8_t* take(uint64_t n, std::string_view field) {
    if (n > remaining())
      fail(field, pos_,
           fmt::format("needs {} bytes but only {} remain (file size {})", n, remaining(),
                       bytes_.size()));
    const uint8_t* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }

  template <typename T>
  T read(std::string_view field) {
    T v;
    std::memcpy(&v, take(sizeof(T), field), sizeof(T));
    return v;
  }

  // A length-prefixed string as a view into the file bytes.
  std::string_view read_string(std::string_view field, uint64_t max_length) {
    const uint64_t at = pos_;
    const auto len = read<uint64_t>(field);
    if (len > max_length)
      fail(field, at, fmt::format("string length {} exceeds the limit of {}", len, max_length));
    if (len > remaining())
      fail(field, at,
           fmt::format("string length {} runs past end of file ({} bytes remain)", len,
                       remaining()));
    const auto* p = take(len, field);
    return {reinterpret_cast<const char*>(p), static_cast<size_t>(len)};
  }

  ValueType read_value_type(std::string_view field) {
    const uint64_t at = pos_;
    const auto t = read<uint32_t>(field);
    if (t > static_cast<uint32_t>(ValueType::FLOAT64))
      fail(field, at, fmt::format("unknown value type {}", t));
    return static_cast<ValueType>(t);
  }

  void read_header() {
    const auto magic = read<uint32_t>("header magic");
    if (magic != kMagic)
      fail("header magic", 0, fmt::format("not a GGUF file (magic 0x{:08x}, expected 0x{:08x})", magic, kMagic));
    const uint64_t version_at = pos_;
    const auto version = read<uint32_t>("header version");
    if (version == 1) fail("header version", version_at, "GGUF v1 is not supported (only v2 and v3)");
    if (version != 2 && version != 3)
      fail("header version", version_at, fmt::format("unsupported GGUF version {} (only v2 and v3)", version));
    file_->version_ = version;
    n_tensors_at_ = pos_;
    n_tensors_ = read<uint64_t>("header tensor count");
    n_kv_at_ = pos_;
    n_kv_ = read<uint64_t>("header metadata count");
    // Each key/value takes at least 14 bytes and each tensor info at least 33, so
    // a count larger than the file could hold is rejected before anything is reserved.
    if (n_kv_ > kMaxMetadataEntries || n_kv_ > remaining() / kMinKeyValueBytes)
      fail("header metadata count", n_kv_at_,
           fmt::format("{} entries cannot fit in the {} bytes left (limit {})", n_kv_, remaining(),
                       kMaxMetadataEntries));
    if (n_tensors_ > kMaxTensors || n_tensors_ > remaining() / kMinTensorInfoBytes)
      fail("header tensor count", n_tensors_at_,
           fmt::format("{} tensors cannot fit in the {} bytes left (limit {})", n_tensors_,
                       remaining(), kMaxTensors));
  }

  void read_metadata() {
    auto& kv = file_->kv_;
    kv.reserve(static_cast<size_t>(n_kv_));
    value_pos_.reserve(static_cast<size_t>(n_kv_));
    std::unordered_set<std::string_view> seen;
    seen.reserve(static_cast<size_t>(n_kv_));
    for (uint64_t i = 0; i < n_kv_; ++i) {
      context_ = fmt::format("metadata entry {}", i);
      const uint64_t key_at = pos_;
      const auto key = read_string("key", kMaxKeyLength);
      if (key.empty()) fail("key", key_at, "empty key");
      if (!seen.insert(key).second) fail("key", key_at, fmt::format("duplicate key '{}'", printable(key)));
      context_ = fmt::format("metadata '{}'", printable(key));
      const auto type = read_value_type("value type");
      value_pos_.push_back(pos_);
      kv.push_back(KeyValue{std::string(key), read_value(type, 0)});
    }
    context_.clear();
  }

  Value read_value(ValueType type, int depth) {
    switch (type) {
      case ValueType::UINT8: return Value::u8(read<uint8_t>("value"));
      case ValueType::INT8: return Value::i8(read<int8_t>("value"));
      case ValueType::UINT16: return Value::u16(read<uint16_t>("value"));
      case ValueType::INT16: return Value::i16(read<int16_t>("value"));
      case ValueType::UINT32: return Value::u32(read<uint32_t>("value"));
      case ValueType::INT32: return Value::i32(read<int32_t>("value"));
      case ValueType::UINT64: return Value::u64(read<uint64_t>("value"));
      case ValueType::INT64: return Value::i64(read<int64_t>("value"));
      case ValueType::FLOAT32: return Value::f32(read<float>("value"));
      case ValueType::FLOAT64: return Value::f64(read<double>("value"));
      case ValueType::BOOL: return Value::boolean(read_bool("value"));
      case ValueType::STRING: return Value::string(std::string(read_string("value", kMaxStringLength)));
      case ValueType::ARRAY: return Value::array(read_array(depth + 1));
    }
    fail("value type", pos_, "unknown value type");
  }

  bool read_bool(std::string_view field) {
    const uint64_t at = pos_;
    const auto b = read<uint8_t>(field);
    if (b > 1) fail(field, at, fmt::format("bool value {} is neither 0 nor 1", b));
    return b == 1;
  }

  // Smallest encoding of one array element of type `t`, used to bound counts.
  static uint64_t min_element_bytes(ValueType t) {
    switch (t) {
      case ValueType::UINT8:
      case ValueType::INT8:
      case ValueType::BOOL: return 1;
      case ValueType::UINT16:
      case ValueType::INT16: return 2;
      case ValueType::UINT32:
      case ValueType::INT32:
      case ValueType::FLOAT32: return 4;
      case ValueType::UINT64:
      case ValueType::INT64:
      case ValueType::FLOAT64:
      case ValueType::STRING: return 8;
      case ValueType::ARRAY: return 12;  // element type + count
    }
    return 1;
  }

  template <typename Stored, typename OnDisk>
  void read_numbers(std::vector<Stored>& out, uint64_t count) {
    const auto* p = take(count * sizeof(OnDisk), "array elements");
    out.resize(static_cast<size_t>(count));
    for (uint64_t i = 0; i < count; ++i) {
      OnDisk v;
      std::memcpy(&v, p + i * sizeof(OnDisk), sizeof(OnDisk));
      out[i] = static_cast<Stored>(v);
    }
  }

  Array read_array(int depth) {
    const uint64_t at = pos_;
    if (depth > kMaxArrayDepth)
      fail("array", at, fmt::format("arrays nested deeper than {} levels", kMaxArrayDepth));
    Array a;
    a.elem_type = read_value_type("array element type");
    const uint64_t count_at = pos_;
    const auto count = read<uint64_t>("array count");
    const uint64_t min_bytes = min_element_bytes(a.elem_type);
    if (count > remaining() / min_bytes)
      fail("array count", count_at,
           fmt::format("{} elements of type {} cannot fit in the {} bytes left", count,
                       value_type_name(a.elem_type), remaining()));
    switch (a.elem_type) {
      case ValueType::UINT8: read_numbers<uint64_t, uint8_t>(a.uints, count); break;
      case ValueType::UINT16: read_numbers<uint64_t, uint16_t>(a.uints, count); break;
      case ValueType::UINT32: read_numbers<uint64_t, uint32_t>(a.uints, count); break;
      case ValueType::UINT64: read_numbers<uint64_t, uint64_t>(a.uints, count); break;
      case ValueType::INT8: read_numbers<int64_t, int8_t>(a.ints, count); break;
      case ValueType::INT16: read_numbers<int64_t, int16_t>(a.ints, count); break;
      case ValueType::INT32: read_numbers<int64_t, int32_t>(a.ints, count); break;
      case ValueType::INT64: read_numbers<int64_t, int64_t>(a.ints, count); break;
      case ValueType::FLOAT32: read_numbers<double, float>(a.floats, count); break;
      case ValueType::FLOAT64: read_numbers<double, double>(a.floats, count); break;
      case ValueType::BOOL:
        a.uints.reserve(static_cast<size_t>(count));
        for (uint64_t i = 0; i < count; ++i) a.uints.push_back(read_bool("array element"));
        break;
      case ValueType::STRING:
        a.strings.reserve(static_cast<size_t>(count));
        for (uint64_t i = 0; i < count; ++i)
          a.strings.emplace_back(read_string("array string", kMaxStringLength));
        break;
      case ValueType::ARRAY:
        a.arrays.reserve(static_cast<size_t>(count));
        for (uint64_t i = 0; i < count; ++i) a.arrays.push_back(Value::array(read_array(depth + 1)));
        break;
    }
    return a;
  }

  // general.alignment, when present, must be a non-zero power-of-two UINT32.
  void read_alignment() {
    const auto& kv = file_->kv_;
    for (size_t i = 0; i < kv.size(); ++i) {
      if (kv[i].key != "general.alignment") continue;
      context_ = "metadata 'general.alignment'";
      const Value& v = kv[i].value;
      if (v.type() != ValueType::UINT32)
        fail("value", value_pos_[i],
             fmt::format("alignment must be of type u32, not {}", value_type_name(v.type())));
      const uint64_t a = v.raw_uint();
      if (a == 0 || !std::has_single_bit(a))
        fail("value", value_pos_[i], fmt::format("alignment {} is not a non-zero power of two", a));
      file_->alignment_ = static_cast<uint32_t>(a);
      context_.clear();
    }
  }

  void read_tensor_infos() {
    auto& tensors = file_->tensors_;
    tensors.reserve(static_cast<size_t>(n_tensors_));
    sites_.reserve(static_cast<size_t>(n_tensors_));
    std::unordered_set<std::string_view> seen;
    seen.reserve(static_cast<size_t>(n_tensors_));
    for (uint64_t i = 0; i < n_tensors_; ++i) {
      context_ = fmt::format("tensor {}", i);
      const uint64_t name_at = pos_;
      const auto name = read_string("name", kMaxTensorNameLength);
      if (name.empty()) fail("name", name_at, "empty tensor name");
      if (!seen.insert(name).second) fail("name", name_at, fmt::format("duplicate tensor name '{}'", printable(name)));
      context_ = fmt::format("tensor '{}'", printable(name));
      TensorInfo t;
      t.name = std::string(name);
      read_shape(t);
      read_type_and_size(t);
      sites_.push_back({pos_});
      t.offset = read<uint64_t>("offset");
      if (t.offset % file_->alignment_ != 0)
        fail("offset", sites_.back().offset_field_pos,
             fmt::format("data offset {} is not a multiple of the alignment {}", t.offset,
                         file_->alignment_));
      tensors.push_back(std::move(t));
    }
    context_.clear();
  }

  void read_shape(TensorInfo& t) {
    const uint64_t dims_at = pos_;
    const auto n_dims = read<uint32_t>("dimension count");
    if (n_dims == 0 || n_dims > static_cast<uint32_t>(kMaxDims))
      fail("dimension count", dims_at, fmt::format("{} dimensions (must be 1 to {})", n_dims, kMaxDims));
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t at = pos_;
      const auto ne = read<uint64_t>("dimension");
      if (ne == 0) fail("dimension", at, fmt::format("dimension {} is zero", d));
      if (ne > kMaxElements)
        fail("dimension", at, fmt::format("dimension {} is {} (limit {})", d, ne, kMaxElements));
      if (n_elements > kMaxElements / ne)
        fail("dimension", at, fmt::format("element count overflows at dimension {} (limit {})", d, kMaxElements));
      n_elements *= ne;
      t.shape.push_back(static_cast<int64_t>(ne));
    }
    t.n_elements = n_elements;
  }

  void read_type_and_size(TensorInfo& t) {
    const uint64_t at = pos_;
    const auto type_id = read<uint32_t>("type");
    const auto traits = tensor_type_traits(type_id);
    if (!traits) fail("type", at, fmt::format("unknown tensor type {}", type_id));
    t.type = static_cast<TensorType>(type_id);
    if (static_cast<uint64_t>(t.shape[0]) % traits->block_size != 0)
      fail("type", at,
           fmt::format("row length {} is not a multiple of the {} block size {}", t.shape[0],
                       traits->name, traits->block_size));
    const uint64_t n_blocks = t.n_elements / traits->block_size;
    if (n_blocks > std::numeric_limits<uint64_t>::max() / traits->block_bytes)
      fail("type", at, "tensor byte size overflows");
    t.n_bytes = n_blocks * traits->block_bytes;
  }

  // The data section starts at the first aligned offset after the infos; every
  // tensor must lie inside the file and no two may overlap.
  void place_tensor_data() {
    const uint64_t align = file_->alignment_;
    const uint64_t pos = pos_;
    const uint64_t data_offset = pos + (align - pos % align) % align;
    file_->data_offset_ = data_offset;
    auto& tensors = file_->tensors_;
    if (tensors.empty()) return;
    const uint64_t size = bytes_.size();
    if (data_offset > size)
      fail("data section", pos, fmt::format("starts at {} past end of file (size {})", data_offset, size));
    const uint64_t data_size = size - data_offset;
    for (size_t i = 0; i < tensors.size(); ++i) {
      auto& t = tensors[i];
      if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
        context_ = fmt::format("tensor '{}'", printable(t.name));
        fail("offset", sites_[i].offset_field_pos,
             fmt::format("data [{}, +{}) runs past end of file (data section holds {} bytes)",
                         t.offset, t.n_bytes, data_size));
      }
      t.data = bytes_.data() + data_offset + t.offset;
    }
    std::vector<size_t> order(tensors.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return tensors[a].offset < tensors[b].offset; });
    for (size_t k = 1; k < order.size(); ++k) {
      const auto& prev = tensors[order[k - 1]];
      const auto& cur = tensors[order[k]];
      if (cur.offset < prev.offset + prev.n_bytes) {
        context_ = fmt::format("tensor '{}'", printable(cur.name));
        fail("offset", sites_[order[k]].offset_field_pos,
             fmt::format("data at {} overlaps tensor '{}' [{}, {})", cur.offset, printable(prev.name),
                         prev.offset, prev.offset + prev.n_bytes));
      }
    }
  }

  std::span<const uint8_t> bytes_;
  std::string name_;
  uint64_t pos_ = 0;
  std::string context_;  // "metadata 'key'" / "tensor 'name'": prefixes error fields
  uint64_t n_tensors_ = 0, n_kv_ = 0;
  uint64_t n_tensors_at_ = 0, n_kv_at_ = 0;
  std::vector<uint64_t> value_pos_;  // [n_kv] byte offset of each metadata value
  std::vector<TensorSite> sites_;    // [n_tensors]
  std::unique_ptr<File> file_;
};

Expected<std::unique_ptr<File>> File::parse(std::span<const uint8_t> bytes, std::string name) {
  return capture([&] {
    Parser parser(bytes, std::move(name));
    return parser.run();
  });
}

Expected<std::unique_ptr<File>> File::open(const std::string& path) {
  auto mapping = MappedFile::open(path);
  if (!mapping) return mapping.error();
  auto bytes = (*mapping)->bytes();
  auto file = parse(bytes, path);
  if (!file) return file.error();
  (*file)->mapping_ = std::move(*mapping);
  return file;
}

const Value* File::find(std::string_view key) const {
  for (const auto& kv : kv_)
    if (kv.key == key) return &kv.value;
  return nullptr;
}

std::optional<std::string> File::get_string(std::string_view key) const {
  const Value* v = find(key);
  const std::string* s = v ? v->as_string() : nullptr;
  if (!s) return std::nullopt;
  return *s;
}

std::optional<int64_t> File::get_int(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->as_int() : std::nullopt;
}

std::optional<double> File::get_float(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->as_float() : std::nullopt;
}

std::optional<bool> File::get_bool(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->as_bool() : std::nullopt;
}

const Array* File::get_array(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->as_array() : nullptr;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace pagoda::gguf
