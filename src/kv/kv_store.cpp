// The contiguous KV store: one [n_ctx, row] region per (layer, seq, K|V).
#include "kv/kv_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <new>
#include <string>

namespace pagoda::kv {

bool is_kv_type(TensorType t) {
  return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::Q8_0 ||
         t == TensorType::Q4_0;
}

std::optional<TensorType> parse_kv_type(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "f32") return TensorType::F32;
  if (lower == "f16") return TensorType::F16;
  if (lower == "q8_0") return TensorType::Q8_0;
  if (lower == "q4_0") return TensorType::Q4_0;
  return std::nullopt;
}

Expected<void> validate_shape(const KvShape& s) {
  if (s.n_layer <= 0 || s.n_kv_head <= 0 || s.head_dim <= 0 || s.n_seq <= 0 || s.n_ctx <= 0)
    return Error{fmt::format(
        "kv cache: sizes must be positive (n_layer {}, n_kv_head {}, head_dim {}, n_seq {}, "
        "n_ctx {})",
        s.n_layer, s.n_kv_head, s.head_dim, s.n_seq, s.n_ctx)};
  if (!is_kv_type(s.type))
    return Error{fmt::format("kv cache: type {} is not supported (use f32, f16, q8_0 or q4_0)",
                             tensor_type_name(s.type))};
  const uint32_t block = traits(s.type).block_size;
  if (s.head_dim % static_cast<int>(block) != 0)
    return Error{fmt::format(
        "kv cache: type {} needs a head size that is a multiple of {}, this model's is {}",
        tensor_type_name(s.type), block, s.head_dim)};
  return {};
}

size_t head_bytes(const KvShape& s) {
  return static_cast<size_t>(s.head_dim) / traits(s.type).block_size * traits(s.type).block_bytes;
}

size_t row_bytes(const KvShape& s) { return head_bytes(s) * static_cast<size_t>(s.n_kv_head); }

namespace {

class ContiguousCache final : public KvCache {
 public:
  explicit ContiguousCache(const KvShape& shape)
      : shape_(shape), row_bytes_(kv::row_bytes(shape)), lengths_(shape.n_seq, 0) {
    const size_t n_regions = static_cast<size_t>(shape.n_layer) * shape.n_seq * 2;
    region_bytes_ = row_bytes_ * static_cast<size_t>(shape.n_ctx);
    storage_.assign(n_regions * region_bytes_, 0);
    bases_.resize(n_regions);
    for (size_t i = 0; i < n_regions; ++i) bases_[i] = storage_.data() + i * region_bytes_;
  }

  const KvShape& shape() const override { return shape_; }

  int length(int seq) const override {
    return seq >= 0 && seq < shape_.n_seq ? lengths_[static_cast<size_t>(seq)] : 0;
  }

  Expected<void> reserve(int seq, int n) override {
    if (auto e = check_seq(seq); !e) return e;
    if (n < 0 || n > shape_.n_ctx)
      return Error{fmt::format("kv cache: {} positions requested for sequence {}, capacity is {}",
                               n, seq, shape_.n_ctx)};
    return {};
  }

  Expected<void> set_length(int seq, int n) override {
    if (auto e = reserve(seq, n); !e) return e;
    lengths_[static_cast<size_t>(seq)] = n;
    return {};
  }

  Expected<void> truncate(int seq, int n) override {
    if (auto e = check_seq(seq); !e) return e;
    if (n < 0 || n > lengths_[static_cast<size_t>(seq)])
      return Error{fmt::format("kv cache: cannot truncate sequence {} of length {} to {}", seq,
                               lengths_[static_cast<size_t>(seq)], n)};
    lengths_[static_cast<size_t>(seq)] = n;
    return {};
  }

  KvRows keys(int layer, int seq) override { return view(layer, seq, 0); }
  KvRows values(int layer, int seq) override { return view(layer, seq, 1); }
  size_t memory_bytes() const override { return storage_.size(); }

 private:
  Expected<void> check_seq(int seq) const {
    if (seq < 0 || seq >= shape_.n_seq)
      return Error{fmt::format("kv cache: sequence {} out of range [0, {})", seq, shape_.n_seq)};
    return {};
  }

  // Regions ordered [layer][seq][K|V].
  KvRows view(int layer, int seq, int which) {
    const size_t index = (static_cast<size_t>(layer) * shape_.n_seq + seq) * 2 + which;
    return KvRows{&bases_[index], 1, shape_.n_ctx, row_bytes_};
  }

  KvShape shape_;
  size_t row_bytes_ = 0;
  size_t region_bytes_ = 0;
  std::vector<int> lengths_;        // [n_seq]
  std::vector<uint8_t> storage_;    // [n_layer, n_seq, 2, n_ctx, row_bytes]
  std::vector<uint8_t*> bases_;     // [n_layer * n_seq * 2] region starts
};

}  // namespace

Expected<std::unique_ptr<KvCache>> make_contiguous_cache(const KvShape& shape) {
  if (auto e = validate_shape(shape); !e) return e.error();
  const double total = static_cast<double>(row_bytes(shape)) * shape.n_ctx * shape.n_layer *
                       shape.n_seq * 2;
  if (total > static_cast<double>(std::numeric_limits<size_t>::max() / 2))
    return Error{fmt::format("kv cache: {:.0f} bytes requested, too large", total)};
  return capture([&]() -> std::unique_ptr<KvCache> {
    return std::make_unique<ContiguousCache>(shape);
  });
}

}  // namespace pagoda::kv
