#include "kernels/matmul.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "base/expected.h"
#include "base/half.h"
#include "kernels/act_quant.h"
#include "kernels/vec_dot.h"
#include "kernels/vec_dot_isa.h"
#include "quant/codec.h"

namespace pagoda::kernels {
namespace {

// The unit of the row split: a task is a whole number of these rows, and the vec_dot loop
// takes this many rows at a time. Each output is one vec_dot call, or a tile kernel's output
// with the same bits, whatever thread or task computes it, so the split never changes a bit.
constexpr int64_t kRowsPerTask = 32;
// Tokens per inner step of the vec_dot loop: kRowsPerTask weight rows stay in cache while
// these prepared activation rows stream past them.
constexpr int64_t kTokensPerTile = 16;

// The row ranges of one matrix's parallel loop, in whole kRowsPerTask units, largest first
// (guided scheduling): each task takes 1 / (2 * n_threads) of the rows left, so that the threads
// stream long contiguous ranges first and the last, small tasks even out threads that ran at
// different speeds (a busy VM, one core's share of memory bandwidth). Whichever thread runs a
// task, its outputs have the same bits. 32-row tasks claimed in turn made two threads decode no
// faster than one (30.4 vs 28.9 t/s, 1.1B Q4_K_M; BENCHMARKS.md): ranges must stay long.
struct RowTasks {
  static constexpr int kMax = 64;
  int count = 0;
  int64_t begin[kMax + 1] = {};  // task k: rows [begin[k], begin[k + 1])

  RowTasks(int64_t n_rows, int n_threads) {
    const int64_t units = (n_rows + kRowsPerTask - 1) / kRowsPerTask;
    const int64_t parts = 2 * static_cast<int64_t>(std::max(n_threads, 1));
    int64_t done = 0;
    while (done < units) {
      const int64_t left = units - done;
      const int64_t size = n_threads <= 1 || count == kMax - 1 ? left : std::max<int64_t>(1, (left + parts - 1) / parts);
      begin[count++] = done * kRowsPerTask;
      done += size;
    }
    begin[count] = n_rows;
  }
  int64_t largest() const { return count > 0 ? begin[1] - begin[0] : 0; }
};

[[noreturn]] void fail(const std::string& message) {
  throw Exception("matmul: " + message);
}

VecDotFn kernel_or_fail(TensorType weight) {
  VecDotFn fn = active_vec_dot_kernel(weight);
  if (fn == nullptr) fail(fmt::format("weight type {} is not supported", tensor_type_name(weight)));
  return fn;
}

size_t checked_row_bytes(TensorType type, int64_t n) {
  const auto bytes = row_bytes(type, n);
  if (!bytes || n <= 0)
    fail(fmt::format("a row of {} elements is not a positive multiple of the {} block size", n,
                     tensor_type_name(type)));
  return *bytes;
}

void validate(const WeightView& w, int64_t n_tokens, int64_t x_stride, int64_t y_stride) {
  kernel_or_fail(w.type);
  const size_t weight_row = checked_row_bytes(w.type, w.n_cols);
  checked_row_bytes(vec_dot_type(w.type), w.n_cols);
  if (w.n_rows <= 0) fail(fmt::format("weight has {} rows", w.n_rows));
  if (w.data == nullptr && w.interleaved == nullptr) fail("weight data is null");
  // Rows are read as arrays of floats / halves / blocks with fp16 fields.
  const size_t align = w.type == TensorType::F32 ? 4 : 2;
  if (reinterpret_cast<uintptr_t>(w.data) % align != 0 || w.row_stride % align != 0)
    fail(fmt::format("weight rows of type {} must be {}-byte aligned (row stride {})",
                     tensor_type_name(w.type), align, w.row_stride));
  if (w.row_stride < weight_row)
    fail(fmt::format("row stride {} is below the {} bytes of a row", w.row_stride, weight_row));
  if (w.interleaved != nullptr &&
      (interleaved_weight_bytes(w.type, w.n_cols, w.n_rows) == 0 || reinterpret_cast<uintptr_t>(w.interleaved) % 64 != 0))
    fail(fmt::format("interleaved {} rows are not this CPU level's layout, or not 64-byte aligned",
                     tensor_type_name(w.type)));
  if (n_tokens < 0) fail(fmt::format("negative token count {}", n_tokens));
  if (x_stride < w.n_cols) fail(fmt::format("x stride {} < {} columns", x_stride, w.n_cols));
  if (y_stride < w.n_rows) fail(fmt::format("y stride {} < {} rows", y_stride, w.n_rows));
}

// Prepared activations of the current call on this thread, reused across
// calls (grows to the largest batch seen); matmul_many uses one per activation
// type of its call (at most kMaxActivationTypes).
constexpr size_t kMaxActivationTypes = 4;
std::vector<uint8_t>& activation_scratch(size_t slot = 0) {
  thread_local std::vector<uint8_t> scratch[kMaxActivationTypes];
  return scratch[slot];
}

// The per-block terms of each token that the interleaved kernels read
// (avx512::prepare_interleaved_act), made once per call for all its rows and threads, on the
// calling thread like the activation rows: one buffer for every kind of a call (matmul_many),
// n_tokens * interleaved_act_bytes per kind, each kind's part a whole number of 64-byte lines
// (the K-quant terms are read as aligned vectors).
constexpr size_t kLineBytes = 64;
size_t whole_lines(size_t bytes) {
  return (bytes + kLineBytes - 1) / kLineBytes * kLineBytes;
}
uint8_t* interleaved_act_scratch(size_t bytes) {
  struct alignas(kLineBytes) Line {
    uint8_t bytes[kLineBytes];
  };
  thread_local std::vector<Line> scratch;  // grows to the largest call seen, exactly (the planner's figure)
  const size_t lines = whole_lines(bytes) / kLineBytes;
  if (scratch.size() < lines) std::vector<Line>(lines).swap(scratch);
  return scratch.data()->bytes;
}

// Weight types whose interleaved kernels read the same block terms share them in matmul_many.
TensorType block_terms_kind(TensorType weight) {
  return weight == TensorType::Q5_K ? TensorType::Q4_K : weight;
}

// Weight bytes one sweep of several tokens keeps in cache (L2) while every token group of the
// call passes them: the tile kernels prepare each token group once per sweep, so sweeps of a
// few hundred rows beat 32-row ones (Q4_K 203 -> 222 GFLOP/s at 512 tokens, bench_matmul).
constexpr size_t kSweepBytes = 256 * 1024;

int64_t rows_per_sweep(size_t row_stride) {
  const auto rows = static_cast<int64_t>(kSweepBytes / std::max<size_t>(row_stride, 1));
  return std::max(kRowsPerTask, rows / kRowsPerTask * kRowsPerTask);
}

// Rows [row_begin, row_end) of w times the prepared activation rows (and, for interleaved rows,
// the tokens' prepared block terms `blocks`): matmul's task, a thread's contiguous share of the
// rows. A tile kernel gets every token at once, over one sweep of rows at a time (the whole
// share for one token); vec_dot goes kRowsPerTask rows at a time, so that those rows stay in
// cache while kTokensPerTile tokens pass them.
void multiply_rows(const WeightView& w, VecDotFn dot, VecDotTileFn tile, const uint8_t* act, size_t act_stride,
                   const uint8_t* blocks, int64_t n_tokens, float* y, int64_t y_stride, int64_t row_begin,
                   int64_t row_end) {
  const int64_t n = w.n_cols;
  const auto* weights = static_cast<const uint8_t*>(w.data);
  if (w.interleaved != nullptr) {  // groups of 16 rows; row_begin and the sweeps are multiples of 32
    const auto* groups = static_cast<const uint8_t*>(w.interleaved);
    const size_t group_bytes = avx512::interleaved_group_bytes(w.type, n);
    const int64_t sweep = n_tokens == 1 ? row_end - row_begin : rows_per_sweep(w.row_stride);
    for (int64_t r0 = row_begin; r0 < row_end; r0 += sweep)
      avx512::multiply_interleaved(w.type, n, groups + static_cast<size_t>(r0 / 16) * group_bytes,
                                   std::min(row_end, r0 + sweep) - r0, act, act_stride, blocks, n_tokens, y + r0,
                                   y_stride);
    return;
  }
  if (tile != nullptr) {
    const int64_t sweep = n_tokens == 1 ? row_end - row_begin : rows_per_sweep(w.row_stride);
    for (int64_t r0 = row_begin; r0 < row_end; r0 += sweep)
      tile(n, weights + static_cast<size_t>(r0) * w.row_stride, w.row_stride, std::min(row_end, r0 + sweep) - r0,
           act, act_stride, n_tokens, y + r0, y_stride);
    return;
  }
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kRowsPerTask) {
    const int64_t r1 = std::min(row_end, r0 + kRowsPerTask);
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokensPerTile) {
      const int64_t t1 = std::min(n_tokens, t0 + kTokensPerTile);
      for (int64_t r = r0; r < r1; ++r) {
        const uint8_t* weight_row = weights + static_cast<size_t>(r) * w.row_stride;
        for (int64_t t = t0; t < t1; ++t)
          y[t * y_stride + r] = dot(n, weight_row, act + static_cast<size_t>(t) * act_stride);
      }
    }
  }
}

}  // namespace

uint8_t* tile_scratch(size_t bytes) {
  struct alignas(64) Unit {  // a cache line: the 512-bit tiles load whole lines
    uint8_t bytes[64];
  };
  thread_local std::vector<Unit> scratch;  // grows to the largest request seen
  const size_t units = (bytes + sizeof(Unit) - 1) / sizeof(Unit);
  // Exactly that size (resize may double the capacity), so that the planner's estimate holds;
  // callers keep nothing in it between calls.
  if (scratch.size() < units) std::vector<Unit>(units).swap(scratch);
  return scratch.data()->bytes;
}

size_t interleaved_weight_bytes(TensorType type, int64_t n_cols, int64_t n_rows) {
  if (active_isa() != Isa::kAvx512) return 0;
  return avx512::interleaved_bytes(type, n_cols, n_rows);
}

void interleave_weight(const WeightView& w, void* out) {
  validate(w, 0, w.n_cols, w.n_rows);
  if (interleaved_weight_bytes(w.type, w.n_cols, w.n_rows) == 0)
    fail(fmt::format("{} rows have no interleaved layout on this CPU", tensor_type_name(w.type)));
  if (reinterpret_cast<uintptr_t>(out) % 64 != 0) fail("interleaved rows must be 64-byte aligned");
  avx512::interleave(w.type, w.n_cols, w.data, w.row_stride, w.n_rows, out);
}

size_t interleaved_act_row_bytes(TensorType weight, int64_t n) {
  if (interleaved_weight_bytes(weight, n, 1) == 0) return 0;
  return avx512::interleaved_act_bytes(weight, n);
}

size_t interleaved_act_call_bytes(std::span<const TensorType> weights, int64_t n, int64_t n_tokens) {
  size_t bytes = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    bool seen = false;  // an earlier matrix of the same kind holds the terms
    for (size_t j = 0; j < i; ++j)
      seen = seen || (block_terms_kind(weights[j]) == block_terms_kind(weights[i]) &&
                      interleaved_act_row_bytes(weights[j], n) > 0);
    if (!seen) bytes += whole_lines(interleaved_act_row_bytes(weights[i], n) * static_cast<size_t>(n_tokens));
  }
  return bytes;
}

size_t tile_scratch_bytes(TensorType weight, int64_t n, int64_t n_rows, int64_t n_tokens, int n_threads) {
  const VecDotTileFn tile = active_vec_dot_tile_kernel(weight);
  const auto row = row_bytes(weight, n);
  if (tile == nullptr || !row || n_rows < 1 || n_tokens < 1) return 0;
  // The model's interleaved matrices read their block terms from the call's buffer.
  if (interleaved_weight_bytes(weight, n, n_rows) > 0) return 0;
  // The most rows one tile call gets: multiply_rows' sweep of the largest row task.
  const int64_t share = std::min(n_rows, RowTasks(n_rows, n_threads).largest());
  const int64_t rows = n_tokens == 1 ? share : std::min(share, rows_per_sweep(*row));
  size_t bytes = 0;
  if (tile == avx512::tile_kernel(weight)) bytes = avx512::tile_scratch_bytes(weight, n, rows, n_tokens);
  else if (tile == avx2::tile_kernel(weight)) bytes = avx2::tile_scratch_bytes(weight, n, rows, n_tokens);
  constexpr size_t kUnit = 64;  // tile_scratch's allocation unit
  return (bytes + kUnit - 1) / kUnit * kUnit;
}

TensorType vec_dot_type(TensorType weight) {
  switch (weight) {
    case TensorType::F32:
      return TensorType::F32;
    case TensorType::F16:
      return TensorType::F16;
    case TensorType::BF16:
      return TensorType::BF16;
    case TensorType::Q4_0:
    case TensorType::Q5_0:
    case TensorType::Q8_0:
      return TensorType::Q8_0;
    case TensorType::Q4_1:
    case TensorType::Q5_1:
      return TensorType::Q8_1;
    case TensorType::Q2_K:
    case TensorType::Q3_K:
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
      return TensorType::Q8_K;
    default:
      break;
  }
  fail(fmt::format("weight type {} has no vec_dot type", tensor_type_name(weight)));
}

bool supports_weight_type(TensorType weight) {
  return active_vec_dot_kernel(weight) != nullptr;
}

size_t activation_row_bytes(TensorType weight, int64_t n) {
  return checked_row_bytes(vec_dot_type(weight), n);
}

void prepare_activation_row(TensorType weight, const float* x, void* dst, int64_t n) {
  const TensorType type = vec_dot_type(weight);
  checked_row_bytes(type, n);
  switch (type) {
    case TensorType::F32:
      std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float));
      return;
    case TensorType::F16: {
      auto* out = static_cast<uint16_t*>(dst);  // [n] fp16
      for (int64_t i = 0; i < n; ++i) out[i] = fp32_to_fp16(x[i]);
      return;
    }
    case TensorType::BF16: {
      auto* out = static_cast<uint16_t*>(dst);  // [n] bf16
      for (int64_t i = 0; i < n; ++i) out[i] = fp32_to_bf16(x[i]);
      return;
    }
    case TensorType::Q8_0:
      quantize_act_q8_0(x, dst, n);
      return;
    case TensorType::Q8_1:
      quantize_act_q8_1(x, dst, n);
      return;
    case TensorType::Q8_K:
      quantize_act_q8_k(x, dst, n);
      return;
    default:
      break;
  }
  fail(fmt::format("cannot prepare activations of type {}", tensor_type_name(type)));
}

float vec_dot(TensorType weight, int64_t n, const void* weight_row, const void* act_row) {
  checked_row_bytes(weight, n);
  return kernel_or_fail(weight)(n, weight_row, act_row);
}

void matmul(const WeightView& w, const float* x, int64_t n_tokens, int64_t x_stride, float* y,
            int64_t y_stride, ThreadPool& pool) {
  validate(w, n_tokens, x_stride, y_stride);
  if (n_tokens == 0) return;
  const VecDotFn dot = kernel_or_fail(w.type);
  const int64_t n = w.n_cols;

  // Activation rows in the vec_dot type: F32 rows are used in place.
  const uint8_t* act = reinterpret_cast<const uint8_t*>(x);  // [n_tokens] rows of act_stride bytes
  size_t act_stride = static_cast<size_t>(x_stride) * sizeof(float);
  const uint8_t* blocks = nullptr;  // interleaved rows' block terms of each token
  if (vec_dot_type(w.type) != TensorType::F32) {
    act_stride = activation_row_bytes(w.type, n);
    std::vector<uint8_t>& scratch = activation_scratch();
    if (scratch.size() < act_stride * static_cast<size_t>(n_tokens))
      scratch.resize(act_stride * static_cast<size_t>(n_tokens));
    uint8_t* prepared = scratch.data();
    // Interleaved rows: each token's block terms too, block_stride bytes per token.
    const size_t block_stride = w.interleaved != nullptr ? avx512::interleaved_act_bytes(w.type, n) : 0;
    uint8_t* terms = block_stride > 0 ? interleaved_act_scratch(block_stride * static_cast<size_t>(n_tokens)) : nullptr;
    pool.parallel_for(n_tokens, [&](int64_t t, int) {
      prepare_activation_row(w.type, x + t * x_stride, prepared + t * act_stride, n);
      if (terms != nullptr)
        avx512::prepare_interleaved_act(w.type, n, prepared + t * act_stride, t, n_tokens, terms);
    });
    act = prepared;
    blocks = terms;
  }

  // The tile kernel where this type has one: the same bits as `dot`, weight blocks
  // unpacked once per few tokens. One token too: the tile kernels unpack a K-quant
  // block's scales and mins in registers, and decode ran 16% faster (BENCHMARKS.md).
  const VecDotTileFn tile = active_vec_dot_tile_kernel(w.type);
  const RowTasks tasks(w.n_rows, pool.size());
  pool.parallel_for(tasks.count, [&](int64_t task, int) {
    multiply_rows(w, dot, tile, act, act_stride, blocks, n_tokens, y, y_stride, tasks.begin[task],
                  tasks.begin[task + 1]);
  });
}

void matmul_many(std::span<const MatmulTarget> targets, const float* x, int64_t n_tokens, int64_t x_stride,
                 ThreadPool& pool) {
  if (targets.empty()) return;
  const int64_t n = targets[0].w->n_cols;
  for (const MatmulTarget& t : targets) {
    validate(*t.w, n_tokens, x_stride, t.y_stride);
    if (t.w->n_cols != n)
      fail(fmt::format("matmul_many: a matrix of {} columns among matrices of {}", t.w->n_cols, n));
  }
  if (n_tokens == 0) return;
  // Each distinct activation layout once (F32 rows are used in place), and each kind of
  // interleaved block terms once, after it.
  struct Layout {
    TensorType type;
    const uint8_t* act;
    size_t stride;
  };
  std::vector<Layout> layouts;  // a handful: one per activation type
  struct Terms {
    TensorType weight;  // a weight type of this kind (block_terms_kind)
    size_t layout;      // the activation rows they are made from
    size_t offset;      // in the call's interleaved_act_scratch
  };
  std::vector<Terms> terms;  // a handful: one per kind
  struct Job {
    const MatmulTarget* target;
    VecDotFn dot;
    VecDotTileFn tile;
    size_t layout;
    size_t terms;  // index in `terms`, or terms.size() for rows in file order
    int64_t first_task;
    RowTasks tasks;
  };
  std::vector<Job> jobs;
  int64_t n_tasks = 0;
  size_t terms_bytes = 0;
  for (const MatmulTarget& t : targets) {
    const TensorType act_type = vec_dot_type(t.w->type);
    size_t layout = 0;
    while (layout < layouts.size() && layouts[layout].type != act_type) ++layout;
    if (layout == layouts.size()) {
      if (act_type == TensorType::F32) {
        layouts.push_back({act_type, reinterpret_cast<const uint8_t*>(x), static_cast<size_t>(x_stride) * sizeof(float)});
      } else {
        if (layouts.size() >= kMaxActivationTypes) fail("matmul_many: too many activation types");
        layouts.push_back({act_type, nullptr, activation_row_bytes(t.w->type, n)});
      }
    }
    size_t kind = terms.size();
    if (t.w->interleaved != nullptr) {
      kind = 0;
      while (kind < terms.size() && block_terms_kind(terms[kind].weight) != block_terms_kind(t.w->type)) ++kind;
      if (kind == terms.size()) {
        terms.push_back({t.w->type, layout, terms_bytes});
        terms_bytes += whole_lines(avx512::interleaved_act_bytes(t.w->type, n) * static_cast<size_t>(n_tokens));
      }
    }
    jobs.push_back({&t, kernel_or_fail(t.w->type), active_vec_dot_tile_kernel(t.w->type), layout, kind, n_tasks,
                    RowTasks(t.w->n_rows, pool.size())});
    n_tasks += jobs.back().tasks.count;
  }
  uint8_t* terms_base = terms_bytes > 0 ? interleaved_act_scratch(terms_bytes) : nullptr;
  for (size_t l = 0; l < layouts.size(); ++l) {
    Layout& layout = layouts[l];
    if (layout.type == TensorType::F32) continue;
    std::vector<uint8_t>& scratch = activation_scratch(l);
    if (scratch.size() < layout.stride * static_cast<size_t>(n_tokens))
      scratch.resize(layout.stride * static_cast<size_t>(n_tokens));
    uint8_t* prepared = scratch.data();
    const size_t stride = layout.stride;
    pool.parallel_for(n_tokens, [&](int64_t tok, int) {
      uint8_t* row = prepared + tok * stride;
      for (const Job& job : jobs)  // the first matrix of this layout converts the row
        if (job.layout == l) {
          prepare_activation_row(job.target->w->type, x + tok * x_stride, row, n);
          break;
        }
      for (const Terms& k : terms)
        if (k.layout == l)
          avx512::prepare_interleaved_act(k.weight, n, row, tok, n_tokens, terms_base + k.offset);
    });
    layout.act = prepared;
  }
  pool.parallel_for(n_tasks, [&](int64_t task, int) {
    size_t j = jobs.size() - 1;
    while (jobs[j].first_task > task) --j;
    const Job& job = jobs[j];
    const WeightView& w = *job.target->w;
    const int64_t k = task - job.first_task;
    const uint8_t* blocks = job.terms < terms.size() ? terms_base + terms[job.terms].offset : nullptr;
    multiply_rows(w, job.dot, job.tile, layouts[job.layout].act, layouts[job.layout].stride, blocks, n_tokens,
                  job.target->y, job.target->y_stride, job.tasks.begin[k], job.tasks.begin[k + 1]);
  });
}

}  // namespace pagoda::kernels
