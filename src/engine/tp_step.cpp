// Rank 0 → worker messages of the tensor-parallel engine, and the worker loop.
#include "engine/tp_step.h"

#include <fmt/format.h>

#include <cstring>
#include <memory>

#include "base/log.h"
#include "base/process_memory.h"
#include "engine/config.h"
#include "dist/communicator.h"
#include "kv/paged_cache.h"

namespace pagoda::engine {
namespace {

// Little-endian-agnostic: every rank runs the same binary on the same ISA family, and the bytes
// never leave the job, so values are copied as they lie in memory.
class Writer {
 public:
  explicit Writer(TpMessageKind kind) {
    bytes_.reserve(64);  // also spares GCC 12's false -Wstringop-overflow on the first inserts
    bytes_.push_back(static_cast<uint8_t>(kind));
  }
  void i32(int32_t v) { put(&v, sizeof v); }
  void i32s(std::span<const int32_t> v) {
    i32(static_cast<int32_t>(v.size()));
    put(v.data(), v.size_bytes());
  }
  void u8s(std::span<const uint8_t> v) {
    i32(static_cast<int32_t>(v.size()));
    put(v.data(), v.size());
  }
  std::vector<uint8_t> take() { return std::move(bytes_); }

 private:
  void put(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
  }
  std::vector<uint8_t> bytes_;
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  bool i32(int32_t& v) { return get(&v, sizeof v); }
  template <typename T>
  bool vec(std::vector<T>& v) {
    int32_t n = 0;
    if (!i32(n) || n < 0 || static_cast<size_t>(n) > (bytes_.size() - at_) / sizeof(T)) return false;
    v.resize(static_cast<size_t>(n));
    return get(v.data(), static_cast<size_t>(n) * sizeof(T));
  }
  bool done() const { return at_ == bytes_.size(); }

 private:
  bool get(void* p, size_t n) {
    if (n > bytes_.size() - at_) return false;
    if (n > 0) std::memcpy(p, bytes_.data() + at_, n);
    at_ += n;
    return true;
  }
  std::span<const uint8_t> bytes_;
  size_t at_ = 1;  // after the kind byte
};

bool valid_kv_type(int32_t v) {
  return v >= 0 && v < 256 && kv_type_name(static_cast<KvType>(v)) != "?";
}

}  // namespace

std::vector<uint8_t> encode_tp_setup(const TpSetup& s) {
  Writer w(TpMessageKind::setup);
  for (int32_t v : {s.n_blocks, s.block_size, s.n_seq, s.max_model_len, static_cast<int32_t>(s.k_type),
                    static_cast<int32_t>(s.v_type)})
    w.i32(v);
  return w.take();
}

std::vector<uint8_t> encode_tp_step(const TpStep& s) {
  Writer w(TpMessageKind::step);
  std::vector<int32_t> copies;  // [src, dst] pairs
  for (const kv::BlockCopy& c : s.copies) {
    copies.push_back(c.src);
    copies.push_back(c.dst);
  }
  w.i32s(copies);
  w.i32(static_cast<int32_t>(s.bindings.size()));
  for (const TpBinding& b : s.bindings) {
    w.i32(b.slot);
    w.i32(b.length);
    w.i32s(b.blocks);
  }
  w.i32s(s.batch.tokens);
  w.i32s(s.batch.pos);
  w.i32s(s.batch.seq);
  w.u8s(s.batch.want_logits);
  return w.take();
}

std::vector<uint8_t> encode_tp_stop() {
  return Writer(TpMessageKind::stop).take();
}

Expected<TpMessage> decode_tp_message(std::span<const uint8_t> bytes) {
  const Error malformed{"tensor parallelism: a malformed message from rank 0"};
  if (bytes.empty()) return malformed;
  TpMessage m;
  Reader r(bytes);
  switch (bytes[0]) {
    case static_cast<uint8_t>(TpMessageKind::stop):
      m.kind = TpMessageKind::stop;
      break;
    case static_cast<uint8_t>(TpMessageKind::setup): {
      m.kind = TpMessageKind::setup;
      int32_t k = 0, v = 0;
      TpSetup& s = m.setup;
      if (!r.i32(s.n_blocks) || !r.i32(s.block_size) || !r.i32(s.n_seq) || !r.i32(s.max_model_len) ||
          !r.i32(k) || !r.i32(v) || !valid_kv_type(k) || !valid_kv_type(v) || s.n_blocks < 1 ||
          s.block_size < 1 || s.n_seq < 1 || s.max_model_len < 1)
        return malformed;
      s.k_type = static_cast<KvType>(k);
      s.v_type = static_cast<KvType>(v);
      break;
    }
    case static_cast<uint8_t>(TpMessageKind::step): {
      m.kind = TpMessageKind::step;
      TpStep& s = m.step;
      std::vector<int32_t> copies;
      int32_t n_bindings = 0;
      if (!r.vec(copies) || copies.size() % 2 != 0 || !r.i32(n_bindings) || n_bindings < 0 ||
          n_bindings > (1 << 20))
        return malformed;
      for (size_t i = 0; i < copies.size(); i += 2) s.copies.push_back({copies[i], copies[i + 1]});
      s.bindings.resize(static_cast<size_t>(n_bindings));
      for (TpBinding& b : s.bindings)
        if (!r.i32(b.slot) || !r.i32(b.length) || !r.vec(b.blocks)) return malformed;
      model::Batch& batch = s.batch;
      if (!r.vec(batch.tokens) || !r.vec(batch.pos) || !r.vec(batch.seq) || !r.vec(batch.want_logits))
        return malformed;
      const size_t n = batch.tokens.size();
      if (batch.pos.size() != n || batch.seq.size() != n || batch.want_logits.size() != n) return malformed;
      break;
    }
    default:
      return malformed;
  }
  if (!r.done()) return malformed;
  return m;
}

namespace {

// Checks a step against the pool before any of it touches the cache.
Expected<void> check_step(const TpStep& s, const kv::PagedKvCache& cache) {
  const auto block_ok = [&](kv::BlockId id) { return id >= 0 && id < cache.n_blocks(); };
  for (const kv::BlockCopy& c : s.copies)
    if (!block_ok(c.src) || !block_ok(c.dst)) return Error{"tensor parallelism: a block copy outside the pool"};
  for (const TpBinding& b : s.bindings) {
    if (b.slot < 0 || b.slot >= cache.shape().n_seq) return Error{"tensor parallelism: a slot outside the pool"};
    for (kv::BlockId id : b.blocks)
      if (!block_ok(id)) return Error{"tensor parallelism: a block table entry outside the pool"};
    if (b.length < 0 || static_cast<int64_t>(b.length) > static_cast<int64_t>(b.blocks.size()) * cache.block_size())
      return Error{"tensor parallelism: a slot length beyond its blocks"};
  }
  return {};
}

}  // namespace

Expected<void> run_tp_worker(model::Model& model, dist::Communicator& comm, ThreadPool& pool) {
  std::unique_ptr<kv::PagedKvCache> cache;
  std::vector<uint8_t> bytes;
  std::vector<float> logits;  // stays empty: logits land on rank 0
  uint64_t steps = 0;
  while (true) {
    comm.broadcast(bytes, 0, dist::Communicator::Wait::idle);
    auto message = decode_tp_message(bytes);
    if (!message) return message.error();
    switch (message->kind) {
      case TpMessageKind::stop: {
        const auto mem = process_memory();
        log::info("rank {}: rank 0 stopped the engine after {} steps{}", comm.rank(), steps,
                  mem ? fmt::format("; resident {}, peak {}", format_bytes(mem->resident),
                                    format_bytes(mem->peak_resident))
                      : "");
        return {};
      }
      case TpMessageKind::setup: {
        const TpSetup& s = message->setup;
        const model::HParams& hp = model.hparams();
        const kv::KvShape shape = model.kv_shape(s.n_seq, s.max_model_len, s.k_type, s.v_type);
        auto created = kv::PagedKvCache::create(shape, s.n_blocks, s.block_size);
        if (!created) return Error{fmt::format("rank {}: kv cache: {}", comm.rank(), created.error().message)};
        cache = std::move(*created);
        log::info("rank {}: kv cache: {} blocks x {} tokens for {} KV heads ({})", comm.rank(), s.n_blocks,
                  s.block_size, hp.n_kv_head, format_bytes(cache->memory_bytes()));
        break;
      }
      case TpMessageKind::step: {
        if (!cache) return Error{"tensor parallelism: a step before the setup"};
        const TpStep& s = message->step;
        if (auto ok = check_step(s, *cache); !ok) return ok;
        for (const kv::BlockCopy& c : s.copies) cache->copy_block(c.src, c.dst);
        for (const TpBinding& b : s.bindings) cache->bind(b.slot, b.blocks, b.length);
        // A batch rank 0's forward refuses is refused here too, before any collective (the
        // same checks on the same rows): both ranks skip it and stay in step.
        if (auto ok = model.forward(s.batch, *cache, pool, logits); !ok)
          log::warn("rank {}: forward refused a batch (as rank 0 did): {}", comm.rank(), ok.error().message);
        ++steps;
        break;
      }
    }
  }
}

}  // namespace pagoda::engine
