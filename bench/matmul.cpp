// Matmul kernel throughput per weight type: a 4096 x 4096 matrix times one
// token (matvec, memory bound) and times a 32-token batch (compute bound),
// through the public matmul on one thread; plus the bare vec_dot kernels per
// ISA. Counters: GFLOP/s (2 * rows * cols * tokens) and weight GB/s.
//   build-E1/bench/bench_matmul --benchmark_filter=Matmul
// BM_Prefill: model-shaped products (2048 x 2048, 5632 x 2048) at 1..512
// tokens, through matmul (tile kernels) and through the per-output vec_dot
// loop matmul ran before them, in one binary so both see the same machine. Also 65536 x 2048 on
// the model's interleaved rows (weights streamed from memory), and BENCH_THREADS=N for an
// N-thread pool (wall time is then the figure to read; GFLOP/s counts the main thread's time).
#include "kernels/matmul.h"

#include <benchmark/benchmark.h>

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/vec_dot.h"
#include "quant/codec.h"

namespace pagoda::kernels {
namespace {

constexpr int64_t kRows = 4096, kCols = 4096;

const TensorType kTypes[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q4_0,
                             TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0,
                             TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K,
                             TensorType::Q6_K};

// A rows x cols matrix of random normals stored as `type`.
std::vector<uint8_t> make_weights(TensorType type, int64_t rows = kRows, int64_t cols = kCols) {
  const size_t row = *row_bytes(type, cols);
  std::vector<uint8_t> data(row * rows);
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> values(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : values) v = dist(rng);
    uint8_t* dst = data.data() + r * row;
    if (type == TensorType::F32) {
      std::memcpy(dst, values.data(), row);
    } else if (type == TensorType::F16 || type == TensorType::BF16) {
      prepare_activation_row(type, values.data(), dst, cols);  // same encoding as activations
    } else {
      quant::quantize_row(type, values.data(), dst, cols);
    }
  }
  return data;
}

std::vector<float> make_activations(int64_t n_tokens, int64_t cols = kCols) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n_tokens * cols);
  for (float& v : x) v = dist(rng);
  return x;
}

void set_counters(benchmark::State& state, size_t weight_bytes, int64_t n_tokens) {
  const double iters = static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * kRows * kCols * n_tokens * iters * 1e-9,
                                                 benchmark::Counter::kIsRate);
  state.counters["weight_GB/s"] = benchmark::Counter(
      static_cast<double>(weight_bytes) * iters * 1e-9, benchmark::Counter::kIsRate);
}

// args: type index, n_tokens. One thread, the active ISA.
void BM_Matmul(benchmark::State& state) {
  const TensorType type = kTypes[state.range(0)];
  const int64_t n_tokens = state.range(1);
  state.SetLabel(std::string(tensor_type_name(type)) + " " + isa_name(active_isa()));
  const std::vector<uint8_t> weights = make_weights(type);
  const std::vector<float> x = make_activations(n_tokens);
  std::vector<float> y(n_tokens * kRows);
  const WeightView w{type, weights.data(), kCols, kRows, *row_bytes(type, kCols)};
  ThreadPool pool(1);
  for (auto _ : state) {
    matmul(w, x.data(), n_tokens, kCols, y.data(), kRows, pool);
    benchmark::DoNotOptimize(y.data());
  }
  set_counters(state, weights.size(), n_tokens);
}

// args: type index, ISA. The bare kernel over every row against one prepared token.
void BM_VecDot(benchmark::State& state) {
  const TensorType type = kTypes[state.range(0)];
  const Isa isa = static_cast<Isa>(state.range(1));
  state.SetLabel(std::string(tensor_type_name(type)) + " " + isa_name(isa));
  if (!isa_available(isa)) {
    state.SkipWithError("ISA not available on this CPU");
    return;
  }
  const VecDotFn dot = vec_dot_kernel(type, isa);
  const std::vector<uint8_t> weights = make_weights(type);
  const std::vector<float> x = make_activations(1);
  std::vector<uint8_t> act(activation_row_bytes(type, kCols));
  prepare_activation_row(type, x.data(), act.data(), kCols);
  const size_t row = *row_bytes(type, kCols);
  for (auto _ : state) {
    float sum = 0;
    for (int64_t r = 0; r < kRows; ++r) sum += dot(kCols, weights.data() + r * row, act.data());
    benchmark::DoNotOptimize(sum);
  }
  set_counters(state, weights.size(), 1);
}

// matmul before tile kernels: activations prepared, then one vec_dot per
// output in 32-row tasks x 16-token tiles (one thread).
void per_output_matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y,
                       std::vector<uint8_t>& act) {
  const int64_t n = w.n_cols;
  const size_t act_stride = activation_row_bytes(w.type, n);
  act.resize(act_stride * n_tokens);  // [n_tokens] prepared rows
  for (int64_t t = 0; t < n_tokens; ++t)
    prepare_activation_row(w.type, x + t * n, act.data() + t * act_stride, n);
  const VecDotFn dot = active_vec_dot_kernel(w.type);
  const auto* weights = static_cast<const uint8_t*>(w.data);
  for (int64_t r0 = 0; r0 < w.n_rows; r0 += 32)
    for (int64_t t0 = 0; t0 < n_tokens; t0 += 16)
      for (int64_t r = r0; r < std::min(w.n_rows, r0 + 32); ++r)
        for (int64_t t = t0; t < std::min(n_tokens, t0 + 16); ++t)
          y[t * w.n_rows + r] = dot(n, weights + r * w.row_stride, act.data() + t * act_stride);
}

const TensorType kPrefillTypes[] = {TensorType::Q4_K, TensorType::Q6_K, TensorType::Q5_K,
                                    TensorType::Q8_0, TensorType::Q4_0, TensorType::Q2_K,
                                    TensorType::Q3_K};

// args: prefill type index, rows, cols, n_tokens, path (0: matmul, 1: per-output vec_dot,
// 2: matmul on the rows interleaved as the model holds them, where this level has a layout).
// BM_Prefill's pool: one thread, or BENCH_THREADS (the whole matmul, row tasks and all).
int bench_threads() {
  const char* value = std::getenv("BENCH_THREADS");
  const int threads = value != nullptr ? std::atoi(value) : 1;
  return threads > 0 ? threads : 1;
}

void BM_Prefill(benchmark::State& state) {
  const TensorType type = kPrefillTypes[state.range(0)];
  const int64_t rows = state.range(1), cols = state.range(2), n_tokens = state.range(3);
  const bool per_output = state.range(4) == 1, interleaved = state.range(4) == 2;
  state.SetLabel(std::string(tensor_type_name(type)) + " " + isa_name(active_isa()) +
                 (per_output ? " per-output" : interleaved ? " interleaved" : " matmul"));
  const std::vector<uint8_t> weights = make_weights(type, rows, cols);
  const std::vector<float> x = make_activations(n_tokens, cols);
  std::vector<float> y(n_tokens * rows);
  std::vector<uint8_t> act;
  WeightView w{type, weights.data(), cols, rows, *row_bytes(type, cols)};
  struct alignas(64) Line {
    uint8_t bytes[64];
  };
  std::vector<Line> layout;
  if (interleaved) {
    layout.resize((interleaved_weight_bytes(type, cols, rows) + 63) / 64);
    if (layout.empty()) {
      state.SkipWithError("no interleaved layout for this type on this CPU");
      return;
    }
    interleave_weight(w, layout.data());
    w.interleaved = layout.data();
  }
  ThreadPool pool(bench_threads());
  for (auto _ : state) {
    if (per_output) {
      per_output_matmul(w, x.data(), n_tokens, y.data(), act);
    } else {
      matmul(w, x.data(), n_tokens, cols, y.data(), rows, pool);
    }
    benchmark::DoNotOptimize(y.data());
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * rows * cols * n_tokens * iters * 1e-9, benchmark::Counter::kIsRate);
}

void prefill_args(benchmark::internal::Benchmark* b) {
  for (int t = 0; t < static_cast<int>(std::size(kPrefillTypes)); ++t)
    for (int64_t rows : {2048, 5632})
      for (int tokens : {1, 4, 8, 16, 64, 512})
        for (int path : {0, 1, 2}) b->Args({t, rows, 2048, tokens, path});
  // Weights past the last-level cache, streamed from memory as a model's are in decode and in
  // a decode batch (the first token group of every call reads them): 65536 x 2048, the model's
  // interleaved rows.
  for (int t = 0; t < static_cast<int>(std::size(kPrefillTypes)); ++t)
    for (int tokens : {1, 16}) b->Args({t, 65536, 2048, tokens, 2});
}

// One decode step's products on a TinyLlama-1.1B-shaped stack (22 layers of Q, K, V; O; gate,
// up; down over 2048 / 5632 columns), each matrix in its own interleaved copy on huge pages as
// the model holds them: the weights stream from memory in the loops (and waits) of a real step,
// where BM_Prefill's 65536-row matrix streams in one loop. args: prefill type index, tokens.
// Counter weight_GB/s: the stack's bytes per step over wall time (BENCH_THREADS threads).
void BM_DecodeLayers(benchmark::State& state) {
  const TensorType type = kPrefillTypes[state.range(0)];
  const int64_t n_tokens = state.range(1), dim = 2048, ffn = 5632, kv = 256, layers = 22;
  state.SetLabel(std::string(tensor_type_name(type)) + " " + isa_name(active_isa()));
  struct Shape {
    int64_t rows, cols;
  };
  const Shape shapes[] = {{dim, dim}, {kv, dim}, {kv, dim}, {dim, dim}, {ffn, dim}, {ffn, dim}, {dim, ffn}};
  std::vector<std::vector<uint8_t>> files;   // one quantized matrix per shape, copied per layer
  std::vector<size_t> bytes, offsets;        // per shape: interleaved bytes; per layer-matrix: offset
  size_t total = 0;
  for (const Shape& shape : shapes) {
    files.push_back(make_weights(type, shape.rows, shape.cols));
    bytes.push_back((interleaved_weight_bytes(type, shape.cols, shape.rows) + 63) / 64 * 64);
    if (bytes.back() == 0) {
      state.SkipWithError("no interleaved layout for this type on this CPU");
      return;
    }
  }
  for (int64_t l = 0; l < layers; ++l)
    for (size_t m = 0; m < std::size(shapes); ++m) offsets.push_back(std::exchange(total, total + bytes[m]));
  constexpr size_t kHuge = size_t{2} << 20;
  void* raw = nullptr;
  if (posix_memalign(&raw, kHuge, (total + kHuge - 1) / kHuge * kHuge) != 0) {
    state.SkipWithError("out of memory");
    return;
  }
  const std::unique_ptr<uint8_t, decltype(&std::free)> stack(static_cast<uint8_t*>(raw), &std::free);
  madvise(stack.get(), total, MADV_HUGEPAGE);
  std::vector<WeightView> views;
  for (int64_t l = 0; l < layers; ++l)
    for (size_t m = 0; m < std::size(shapes); ++m) {
      WeightView w{type, files[m].data(), shapes[m].cols, shapes[m].rows, *row_bytes(type, shapes[m].cols)};
      interleave_weight(w, stack.get() + offsets[l * std::size(shapes) + m]);
      w.interleaved = stack.get() + offsets[l * std::size(shapes) + m];
      views.push_back(w);
    }
  const std::vector<float> x = make_activations(n_tokens, ffn);
  std::vector<float> y(n_tokens * 3 * ffn);
  ThreadPool pool(bench_threads());
  for (auto _ : state) {
    for (int64_t l = 0; l < layers; ++l) {
      const WeightView* w = &views[l * std::size(shapes)];
      const MatmulTarget qkv[] = {{&w[0], y.data(), dim}, {&w[1], y.data() + n_tokens * dim, kv},
                                  {&w[2], y.data() + n_tokens * (dim + kv), kv}};
      matmul_many(qkv, x.data(), n_tokens, dim, pool);
      matmul(w[3], x.data(), n_tokens, dim, y.data(), dim, pool);
      const MatmulTarget gate_up[] = {{&w[4], y.data(), ffn}, {&w[5], y.data() + n_tokens * ffn, ffn}};
      matmul_many(gate_up, x.data(), n_tokens, dim, pool);
      matmul(w[6], x.data(), n_tokens, ffn, y.data(), dim, pool);
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["weight_GB/s"] =
      benchmark::Counter(static_cast<double>(total) * static_cast<double>(state.iterations()) * 1e-9,
                         benchmark::Counter::kIsRate);
}

void matmul_args(benchmark::internal::Benchmark* b) {
  for (int t = 0; t < static_cast<int>(std::size(kTypes)); ++t)
    for (int tokens : {1, 32}) b->Args({t, tokens});
}

void vec_dot_args(benchmark::internal::Benchmark* b) {
  for (int t = 0; t < static_cast<int>(std::size(kTypes)); ++t)
    for (int isa = 0; isa <= 2; ++isa) b->Args({t, isa});
}

BENCHMARK(BM_Matmul)->Apply(matmul_args)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_VecDot)->Apply(vec_dot_args)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Prefill)->Apply(prefill_args)->Unit(benchmark::kMillisecond);
// Q4_K, Q8_0, Q4_0 at 1 and 16 tokens; wall time (the pool's threads do the work).
BENCHMARK(BM_DecodeLayers)->ArgsProduct({{0, 3, 4}, {1, 16}})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace pagoda::kernels

BENCHMARK_MAIN();
