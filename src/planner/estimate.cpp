// The memory plan: per-device sums and binary searches for the largest fit.
#include "planner/estimate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "kv/kv_store.h"

namespace pagoda::planner {
namespace {

constexpr int64_t kMaxContext = int64_t{1} << 24;      // searched up to 16M tokens
constexpr int64_t kMaxConcurrency = int64_t{1} << 20;  // and 1M sequences

// Largest x in [0, hi] with fits(x), for fits monotone (true up to some x).
template <typename Fits>
int64_t largest(int64_t hi, Fits fits) {
  if (!fits(1)) return 0;
  int64_t lo = 1;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

}  // namespace

Overhead runtime_overhead(const PlannedModel& m) {
  Overhead o;
  o.runtime = kRuntimeBaseBytes;
  o.metadata = m.metadata_bytes * (1 + kParsedBytesPerMetadataByte);
  o.tokenizer = m.metadata_bytes * kTokenizerBytesPerMetadataByte;
  o.f32_copies = m.weights.f32_copy_bytes();
  return o;
}

Expected<Estimate> estimate(const PlannedModel& m, const EstimateOptions& o) {
  const ModelShape& s = m.shape;
  if (auto ok = s.validate(); !ok) return ok.error();
  const int64_t ctx = o.ctx > 0 ? o.ctx : s.n_ctx;
  if (ctx <= 0 || ctx > kMaxContext) return Error{fmt::format("--ctx must be in [1, {}], got {}", kMaxContext, ctx)};
  if (o.concurrency < 1 || o.concurrency > kMaxConcurrency)
    return Error{fmt::format("--concurrency must be in [1, {}], got {}", kMaxConcurrency, o.concurrency)};
  if (o.block_size < 1 || o.block_size > 4096)
    return Error{fmt::format("--block-size must be in [1, 4096], got {}", o.block_size)};
  if (o.batch_tokens < 1)
    return Error{fmt::format("--max-num-batched-tokens must be positive, got {}", o.batch_tokens)};
  const int tp = o.tp;
  if (tp < 1 || tp > 1024) return Error{fmt::format("--tensor-parallel-size must be in [1, 1024], got {}", tp)};
  // vLLM's rule: query heads split evenly; KV heads split evenly or replicated.
  if (s.n_head % tp != 0)
    return Error{fmt::format("--tensor-parallel-size {} does not divide the {} attention heads", tp, s.n_head)};
  if (s.n_head_kv % tp != 0 && tp % s.n_head_kv != 0)
    return Error{fmt::format("--tensor-parallel-size {} neither divides nor is a multiple of the {} KV heads", tp,
                             s.n_head_kv)};

  Estimate e;
  e.k_type = o.k_type;
  e.v_type = o.v_type;
  e.ctx = ctx;
  e.concurrency = o.concurrency;
  e.batch_tokens = o.batch_tokens;
  e.threads = o.threads;
  e.tp = tp;
  e.memory = o.memory;
  e.kv_heads_per_device = std::max<int64_t>(1, s.n_head_kv / tp);
  kv::KvShape shape;
  shape.n_layer = static_cast<int>(s.n_layer);
  shape.n_kv_head = static_cast<int>(e.kv_heads_per_device);
  shape.head_dim = static_cast<int>(s.head_size());
  shape.n_seq = 1;
  shape.n_ctx = 1;
  shape.k_type = o.k_type;
  shape.v_type = o.v_type;
  if (auto ok = kv::validate_shape(shape); !ok) return ok.error();
  e.kv = engine::kv_footprint(shape, o.block_size);

  e.weights_bytes = m.weights.bytes();
  for (const auto& t : m.weights.tensors) e.device.weights += device_bytes(t, tp, s.n_head_kv, e.kv_heads_per_device);
  e.overhead = runtime_overhead(m);
  e.device.overhead = e.overhead.total();
  auto scratch_for = [&](int64_t len, int64_t seqs) {
    return scratch_bytes(s, m.weights, {o.batch_tokens, seqs, len, o.threads, tp});
  };
  auto device_total = [&](int64_t len, int64_t seqs) {
    return e.device.weights + e.kv.bytes_for(len, seqs) + scratch_for(len, seqs).total() + e.device.overhead;
  };
  e.scratch = scratch_for(ctx, o.concurrency);
  e.device.scratch = e.scratch.total();
  e.device.kv = e.kv.bytes_for(ctx, o.concurrency);
  e.kv_bytes_per_token = e.kv.bytes_per_token * static_cast<uint64_t>(tp);
  e.kv_bytes = e.device.kv * static_cast<uint64_t>(tp);
  e.total_bytes = e.device.total() * static_cast<uint64_t>(tp);
  if (o.memory > 0) {
    e.fits = e.device.total() <= o.memory;
    e.max_context = largest(kMaxContext, [&](int64_t len) { return device_total(len, o.concurrency) <= o.memory; });
    e.max_concurrency = largest(kMaxConcurrency, [&](int64_t seqs) { return device_total(ctx, seqs) <= o.memory; });
  }
  return e;
}

Expected<int64_t> parse_token_count(std::string_view text) {
  auto bad = [&] { return Error{fmt::format("invalid token count '{}' (examples: 4096, 32k, 128K, 1m)", text)}; };
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr == text.data() || value < 0) return bad();
  const std::string_view unit = text.substr(static_cast<size_t>(ptr - text.data()));
  int64_t scale = 1;
  if (unit.empty()) scale = 1;
  else if (unit.size() == 1 && std::tolower(static_cast<unsigned char>(unit[0])) == 'k') scale = 1024;
  else if (unit.size() == 1 && std::tolower(static_cast<unsigned char>(unit[0])) == 'm') scale = 1024 * 1024;
  else return bad();
  if (value > (int64_t{1} << 40) / scale) return bad();
  return value * scale;
}

}  // namespace pagoda::planner
