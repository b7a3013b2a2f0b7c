// The contiguous KV store: one [n_ctx, row] region per (layer, seq, K|V).
#include "kv/kv_store.h"

#include <fmt/format.h>

#include <cstdint>
#include <limits>
#include <new>

namespace pagoda::kv {

Expected<void> validate_shape(const KvShape& s) {
  if (s.n_layer <= 0 || s.n_kv_head <= 0 || s.head_dim <= 0 || s.n_seq <= 0 || s.n_ctx <= 0)
    return Error{fmt::format(
        "kv cache: sizes must be positive (n_layer {}, n_kv_head {}, head_dim {}, n_seq {}, "
        "n_ctx {})",
        s.n_layer, s.n_kv_head, s.head_dim, s.n_seq, s.n_ctx)};
  if (!is_valid(s.k_type) || !is_valid(s.v_type))
    return Error{fmt::format("kv cache: unknown element type (K {}, V {}); use one of {}",
                             static_cast<int>(s.k_type), static_cast<int>(s.v_type),
                             kv_type_names())};
  return {};
}

size_t kv_row_bytes(KvType t, int64_t row_elements) {
  const KvTypeGeometry g = kv_type_geometry(t);
  const auto n = static_cast<size_t>(row_elements);
  return (n + g.block_size - 1) / g.block_size * g.block_bytes;
}

size_t k_row_bytes(const KvShape& s) { return kv_row_bytes(s.k_type, s.row_elements()); }
size_t v_row_bytes(const KvShape& s) { return kv_row_bytes(s.v_type, s.row_elements()); }

namespace {

constexpr size_t kRegionAlign = 64;
size_t align(size_t n) { return (n + kRegionAlign - 1) / kRegionAlign * kRegionAlign; }

class ContiguousCache final : public KvCache {
 public:
  explicit ContiguousCache(const KvShape& shape)
      : shape_(shape),
        row_bytes_{k_row_bytes(shape), v_row_bytes(shape)},
        lengths_(shape.n_seq, 0) {
    const size_t n_pairs = static_cast<size_t>(shape.n_layer) * shape.n_seq;
    // Regions start 64-byte aligned whatever the other type's row size (an fp8
    // row of odd length must not misalign the f32/f16 region after it).
    const size_t k_region = align(row_bytes_[0] * static_cast<size_t>(shape.n_ctx));
    const size_t v_region = align(row_bytes_[1] * static_cast<size_t>(shape.n_ctx));
    const size_t total = n_pairs * (k_region + v_region);
    storage_.assign(total + kRegionAlign, 0);  // slack to align the first region
    uint8_t* base = storage_.data();
    base += (kRegionAlign - reinterpret_cast<uintptr_t>(base) % kRegionAlign) % kRegionAlign;
    bases_.resize(n_pairs * 2);
    for (size_t i = 0; i < n_pairs; ++i) {
      bases_[2 * i] = base + i * (k_region + v_region);
      bases_[2 * i + 1] = bases_[2 * i] + k_region;
    }
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
    return KvRows{&bases_[index], 1, shape_.n_ctx, row_bytes_[which]};
  }

  KvShape shape_;
  size_t row_bytes_[2] = {0, 0};  // K, V
  std::vector<int> lengths_;        // [n_seq]
  // [n_layer, n_seq] of ([n_ctx, k_row_bytes], [n_ctx, v_row_bytes]), each region
  // padded to 64 bytes, after up to 64 bytes of alignment slack.
  std::vector<uint8_t> storage_;
  std::vector<uint8_t*> bases_;     // [n_layer * n_seq * 2] region starts
};

}  // namespace

Expected<std::unique_ptr<KvCache>> make_contiguous_cache(const KvShape& shape) {
  if (auto e = validate_shape(shape); !e) return e.error();
  const double total = static_cast<double>(k_row_bytes(shape) + v_row_bytes(shape)) *
                       shape.n_ctx * shape.n_layer * shape.n_seq;
  if (total > static_cast<double>(std::numeric_limits<size_t>::max() / 2))
    return Error{fmt::format("kv cache: {:.0f} bytes requested, too large", total)};
  return capture([&]() -> std::unique_ptr<KvCache> {
    return std::make_unique<ContiguousCache>(shape);
  });
}

}  // namespace pagoda::kv
