#include "model/shard.h"

#include <fmt/format.h>

#include <cstdint>
#include <cstring>

#include "base/tensor_type.h"
#include "model/weights.h"

namespace pagoda::model {
namespace {

// Rows [first, first + n) of a matrix: a view into the same storage.
kernels::WeightView row_slice(const kernels::WeightView& m, int64_t first, int64_t n) {
  kernels::WeightView s = m;
  s.data = static_cast<const uint8_t*>(m.data) + static_cast<size_t>(first) * m.row_stride;
  s.n_rows = n;
  s.interleaved = nullptr;  // slices are cut before interleaving (Model::load_shard)
  return s;
}

bool splits_on_blocks(const kernels::WeightView& m, int64_t first, int64_t n) {
  const TensorTypeTraits& t = traits(m.type);
  return first % t.block_size == 0 && n % t.block_size == 0;
}

// Columns [first, first + n) of every row (on block boundaries), copied into `owned`. The
// copy reads every row, so every page of the matrix; they are released afterwards, so that the
// rank's resident memory is its shard and not the whole matrix.
kernels::WeightView column_slice(const kernels::WeightView& m, int64_t first, int64_t n,
                                 std::vector<uint8_t>& owned) {
  const TensorTypeTraits& t = traits(m.type);
  const size_t offset = static_cast<size_t>(first / t.block_size) * t.block_bytes;
  const size_t bytes = static_cast<size_t>(n / t.block_size) * t.block_bytes;
  owned.resize(bytes * static_cast<size_t>(m.n_rows));  // [n_rows][bytes]
  const auto* src = static_cast<const uint8_t*>(m.data);
  for (int64_t r = 0; r < m.n_rows; ++r)
    std::memcpy(owned.data() + static_cast<size_t>(r) * bytes, src + static_cast<size_t>(r) * m.row_stride + offset,
                bytes);
  release_file_pages(m.data, static_cast<size_t>(m.n_rows) * m.row_stride);
  kernels::WeightView s = m;
  s.data = owned.data();
  s.n_cols = n;
  s.row_stride = bytes;
  s.interleaved = nullptr;
  return s;
}

std::vector<float> slice(const std::vector<float>& v, int64_t first, int64_t n) {
  if (v.empty()) return {};
  return std::vector<float>(v.begin() + first, v.begin() + first + n);
}

}  // namespace

Expected<ShardPlan> plan_shard(const HParams& hp, const TensorParallel& tp) {
  if (tp.size < 1 || tp.rank < 0 || tp.rank >= tp.size)
    return Error{fmt::format("tensor parallelism: rank {} of {} is not valid", tp.rank, tp.size)};
  ShardPlan p;
  if (hp.n_head % tp.size != 0)
    return Error{fmt::format("--tensor-parallel-size {} does not divide the model's {} attention heads", tp.size,
                             hp.n_head)};
  p.n_head = hp.n_head / tp.size;
  p.head_first = tp.rank * p.n_head;
  if (hp.n_kv_head % tp.size == 0) {
    p.n_kv_head = hp.n_kv_head / tp.size;
    p.kv_head_first = tp.rank * p.n_kv_head;
  } else if (tp.size % hp.n_kv_head == 0) {
    p.n_kv_head = 1;  // replicated on tp / n_kv_head ranks
    p.kv_head_first = tp.rank / (tp.size / hp.n_kv_head);
  } else {
    return Error{fmt::format("--tensor-parallel-size {} neither divides nor is a multiple of the model's {} KV heads",
                             tp.size, hp.n_kv_head)};
  }
  if (hp.n_ff % tp.size != 0)
    return Error{fmt::format("--tensor-parallel-size {} does not divide the model's {} FFN features", tp.size,
                             hp.n_ff)};
  p.n_ff = hp.n_ff / tp.size;
  p.ff_first = tp.rank * p.n_ff;
  const int64_t chunk = (hp.n_vocab + tp.size - 1) / tp.size;
  p.vocab_first = std::min<int64_t>(int64_t{tp.rank} * chunk, hp.n_vocab);
  p.n_vocab = std::min<int64_t>(p.vocab_first + chunk, hp.n_vocab) - p.vocab_first;
  return p;
}

Expected<void> shard_weights(Weights& w, HParams& hp, const TensorParallel& tp, const ShardPlan& p) {
  if (!tp.active()) return {};
  const int64_t hd = hp.head_dim;
  const int64_t q_first = p.head_first * hd, q_n = int64_t{p.n_head} * hd;
  const int64_t kv_first = p.kv_head_first * hd, kv_n = int64_t{p.n_kv_head} * hd;
  w.owned.reserve(w.layers.size() * 2);
  for (size_t i = 0; i < w.layers.size(); ++i) {
    LayerWeights& l = w.layers[i];
    l.wq = row_slice(l.wq, q_first, q_n);
    l.wk = row_slice(l.wk, kv_first, kv_n);
    l.wv = row_slice(l.wv, kv_first, kv_n);
    l.bq = slice(l.bq, q_first, q_n);
    l.bk = slice(l.bk, kv_first, kv_n);
    l.bv = slice(l.bv, kv_first, kv_n);
    l.w_gate = row_slice(l.w_gate, p.ff_first, p.n_ff);
    l.w_up = row_slice(l.w_up, p.ff_first, p.n_ff);
    // A column split must fall on block boundaries; where it would not, the matrix stays whole.
    l.wo_whole = !splits_on_blocks(l.wo, q_first, q_n);
    if (!l.wo_whole) l.wo = column_slice(l.wo, q_first, q_n, w.owned.emplace_back());
    l.down_whole = !splits_on_blocks(l.w_down, p.ff_first, p.n_ff);
    if (!l.down_whole) l.w_down = column_slice(l.w_down, p.ff_first, p.n_ff, w.owned.emplace_back());
  }
  w.output = row_slice(w.output, p.vocab_first, p.n_vocab);
  w.vocab_first = p.vocab_first;
  w.n_vocab_local = p.n_vocab;
  hp.n_head = p.n_head;
  hp.n_kv_head = p.n_kv_head;
  hp.n_ff = static_cast<int>(p.n_ff);
  return {};
}

}  // namespace pagoda::model
