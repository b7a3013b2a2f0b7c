#pragma once
// Internal: the interface between attention.cpp (baseline x86-64: path
// choice, per-key row pointers, scores of the online path) and the per-ISA
// attention kernels (attention.cpp's scalar ones, attention_avx2.cpp,
// attention_avx512.cpp). Plain data only, so the SIMD translation units call
// no inline function shared with baseline code. Every kernel of every level
// gives the same bits as ref::attend_head (attention_ref.h) for each query.
#include <cstddef>
#include <cstdint>

#include "base/kv_type.h"

namespace pagoda::kernels::attn {

// n_q query heads that read one kv head, over keys 0 .. n_kv-1 (the f16/f16
// and f32/f32 paths).
struct Job {
  const float* q = nullptr;  // [n_q, head_dim]
  int64_t n_q = 0, head_dim = 0, n_kv = 0;
  const uint8_t* const* k = nullptr;  // [n_kv] the head's first element in key row j
  const uint8_t* const* v = nullptr;  // [n_kv] the head's first element in value row j
  float scale = 1.0f;
  float* out = nullptr;     // [n_q, head_dim]
  float* scores = nullptr;  // [n_q, n_kv] work
  float* work = nullptr;    // [work_floats(n_q, head_dim, n_kv)]
};

// How the online path reads a key or value row r[j] as head_dim floats.
enum class RowFormat : uint8_t {
  kF32,      // r[j] -> head_dim floats
  kF16,      // r[j] -> head_dim fp16
  kBf16,     // r[j] -> head_dim bf16
  kQ8_0,     // r[j] -> head_dim / 32 whole q8_0 blocks
  kQ4_0,     // r[j] -> head_dim / 32 whole q4_0 blocks
  kDecoded,  // r[j] is the row start: decode_kv_elements(type, r[j], first, head_dim)
};

// The online path's scores from decoded keys (every K type but block-aligned
// q8_0/q4_0): scores[g * n_kv + j] = float(sum_d double(q_g[d]) * k_j[d]) *
// scale, the double sum in element order.
struct ScoresJob {
  const float* q = nullptr;  // [n_q, head_dim]
  int64_t n_q = 0, head_dim = 0, n_kv = 0;
  const uint8_t* const* k = nullptr;  // [n_kv] see RowFormat
  RowFormat format = RowFormat::kF32;
  KvType type = KvType::f32;  // for kDecoded
  int64_t first = 0;          // for kDecoded
  float scale = 1.0f;
  float* scores = nullptr;  // [n_q, n_kv]
  float* work = nullptr;    // [work_floats(n_q, head_dim, n_kv)]
};

// The online-softmax path after its scores: weights and V accumulation.
struct OnlineJob {
  const float* scores = nullptr;  // [n_q, n_kv] scaled scores
  int64_t n_q = 0, head_dim = 0, n_kv = 0;
  const uint8_t* const* v = nullptr;  // [n_kv] see RowFormat
  RowFormat format = RowFormat::kF32;
  KvType type = KvType::f32;  // for kDecoded
  int64_t first = 0;          // for kDecoded
  float* out = nullptr;       // [n_q, head_dim]
  float* work = nullptr;      // [work_floats(n_q, head_dim, n_kv)]
};

// Keys per tile of the kernels' K and V staging buffers.
inline constexpr int64_t kTileKeys = 16;
// Floats of the SIMD f16 path's P.V lane sums up to kPvChunkKeys keys: 12
// lanes of a register block (at most 4 heads x 16 dims, 64 floats; AVX-512
// vectors of 16 floats even for fewer dims).
constexpr int64_t lane_floats(int64_t n_q, int64_t head_dim) {
  const int64_t block = (n_q < 4 ? n_q : 4) * 16 * ((head_dim + 15) / 16);
  return 12 * (block < 64 ? block : 64);
}
// Keys per chunk of the SIMD f16 P.V product (see attention_avx2.cpp).
inline constexpr int64_t kPvChunkKeys = 512;
// Floats of scratch every kernel may use (no alignment assumed): a query copy
// or accumulator per head, two numbers per head, then either a tile of keys or
// values (kTileKeys * head_dim), a tile of 8 keys and the SIMD f16 lane sums
// (lane_floats, or every lane of every output beyond kPvChunkKeys keys), or
// the scalar f16 path's decoded key and 32 lanes of head_dim.
// The decoded-key scores use queries as doubles (heads rounded up to 8 per
// dim) and two decoded keys.
constexpr size_t work_floats(int64_t n_q, int64_t head_dim, int64_t n_kv) {
  const int64_t lanes = n_kv > kPvChunkKeys ? 32 * n_q * head_dim : lane_floats(n_q, head_dim);
  const int64_t simd = 8 * head_dim + lanes, scalar = 33 * head_dim;
  const int64_t online = n_q * head_dim + 2 * n_q + (simd > scalar ? simd : scalar);
  const int64_t scores = 2 * ((n_q + 7) / 8 * 8) * head_dim + 2 * head_dim;
  return static_cast<size_t>(online > scores ? online : scores);
}

using JobFn = void (*)(const Job&);
using OnlineFn = void (*)(const OnlineJob&);
using ScoresFn = void (*)(const ScoresJob&);

// One level's kernels.
struct Kernels {
  JobFn f16 = nullptr;        // K f16, V f16
  JobFn f32 = nullptr;        // K f32, V f32
  OnlineFn online = nullptr;  // everything else, after the scores
  ScoresFn scores = nullptr;  // the online path's scores from decoded keys
};

// Each level also exposes, for tests, its ggml_expf (ops.h) over a row:
// y[i] = ggml_expf(x[i]) with that level's code.
namespace scalar {
void attend_f16(const Job& job);
void attend_f32(const Job& job);
void accumulate_online(const OnlineJob& job);
void decoded_scores(const ScoresJob& job);
void expf_row(const float* x, float* y, int64_t n);
// std::fma(a, b, c) computed without an FMA instruction or a libm call.
float fma_exact(float a, float b, float c);
}  // namespace scalar

namespace avx2 {
void attend_f16(const Job& job);
void attend_f32(const Job& job);
void accumulate_online(const OnlineJob& job);
void decoded_scores(const ScoresJob& job);
void expf_row(const float* x, float* y, int64_t n);
}  // namespace avx2

namespace avx512 {
void attend_f16(const Job& job);
void attend_f32(const Job& job);
void accumulate_online(const OnlineJob& job);
void decoded_scores(const ScoresJob& job);
void expf_row(const float* x, float* y, int64_t n);
}  // namespace avx512

}  // namespace pagoda::kernels::attn
