#pragma once
// The memory plan of one model: weights + KV cache + scratch + runtime
// overhead, per device when tensor-parallel, whether that fits a budget, and
// the largest context / concurrency that would. The KV arithmetic is the
// engine's (engine::kv_footprint over kv/'s row sizes), so the estimate is
// what `pagoda serve`'s paged pool really allocates.
#include <cstdint>
#include <string_view>

#include "base/expected.h"
#include "base/kv_type.h"
#include "engine/config.h"
#include "planner/scratch.h"
#include "planner/source.h"

namespace pagoda::planner {

struct EstimateOptions {
  KvType k_type = KvType::f16;
  KvType v_type = KvType::f16;
  int64_t ctx = 0;              // tokens per sequence; 0: the model's training context
  int64_t concurrency = 1;      // sequences at once
  int tp = 1;                   // tensor-parallel devices
  uint64_t memory = 0;          // budget of one device (bytes); 0: no budget (fits is false, no maxima)
  int block_size = 16;          // tokens per KV block
  int64_t batch_tokens = 2048;  // tokens per engine step
  int threads = 1;              // worker threads
};

// What one device holds.
struct DeviceBytes {
  uint64_t weights = 0;
  uint64_t kv = 0;
  uint64_t scratch = 0;
  uint64_t overhead = 0;
  uint64_t total() const { return weights + kv + scratch + overhead; }
};

// Runtime bytes that depend on no model: code, libraries, thread stacks,
// the HTTP server and the engine's bookkeeping.
inline constexpr uint64_t kRuntimeBaseBytes = 64ull << 20;
// Heap per byte of GGUF metadata, measured on the fixture models: the parsed
// gguf::File values (~2.1x) and the tokenizer's vocabulary, merges and
// lookup tables built from them (5-6.4x).
inline constexpr uint64_t kParsedBytesPerMetadataByte = 2;
inline constexpr uint64_t kTokenizerBytesPerMetadataByte = 6;

// One device's runtime overhead, by cause.
struct Overhead {
  uint64_t runtime = 0;      // kRuntimeBaseBytes
  uint64_t metadata = 0;     // the mapped GGUF header and its parsed copy
  uint64_t tokenizer = 0;    // the tokenizer built from it
  uint64_t f32_copies = 0;   // norms and biases the model copies to f32
  uint64_t total() const { return runtime + metadata + tokenizer + f32_copies; }
};

struct Estimate {
  KvType k_type = KvType::f16;
  KvType v_type = KvType::f16;
  int64_t ctx = 0;
  int64_t concurrency = 0;
  int tp = 1;
  int64_t batch_tokens = 0;
  int threads = 0;
  int64_t kv_heads_per_device = 0;
  engine::KvFootprint kv;           // one device's pool arithmetic
  uint64_t weights_bytes = 0;       // the whole model's tensor data
  uint64_t kv_bytes_per_token = 0;  // all devices: K+V rows of one position over all layers
  uint64_t kv_bytes = 0;            // all devices: ctx x concurrency in whole blocks
  ScratchBytes scratch;             // one device
  Overhead overhead;                // one device
  DeviceBytes device;               // one device
  uint64_t total_bytes = 0;         // all devices
  uint64_t memory = 0;              // budget of one device
  bool fits = false;
  int64_t max_context = 0;      // longest ctx of which `concurrency` sequences fit (0: none)
  int64_t max_concurrency = 0;  // most sequences of `ctx` tokens that fit
};

// One device's runtime overhead for `model` (constant time).
Overhead runtime_overhead(const PlannedModel& model);

// Plans `model` under `options`. Errors: non-positive ctx / concurrency /
// block size / batch, a tensor-parallel size the heads do not divide into.
// Cost: a few hundred evaluations of the arithmetic (the maxima are binary searches).
Expected<Estimate> estimate(const PlannedModel& model, const EstimateOptions& options);

// "32768", "32k", "32K" (x1024), "1m" (x1048576) as a token count; errors name the text.
Expected<int64_t> parse_token_count(std::string_view text);

}  // namespace pagoda::planner
