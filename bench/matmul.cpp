// Matmul kernel throughput per weight type: a 4096 x 4096 matrix times one
// token (matvec, memory bound) and times a 32-token batch (compute bound),
// through the public matmul on one thread; plus the bare vec_dot kernels per
// ISA. Counters: GFLOP/s (2 * rows * cols * tokens) and weight GB/s.
//   build-E1/bench/bench_matmul --benchmark_filter=Matmul
#include "kernels/matmul.h"

#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
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

// A kRows x kCols matrix of random normals stored as `type`.
std::vector<uint8_t> make_weights(TensorType type) {
  const size_t row = *row_bytes(type, kCols);
  std::vector<uint8_t> data(row * kRows);
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> values(kCols);
  for (int64_t r = 0; r < kRows; ++r) {
    for (float& v : values) v = dist(rng);
    uint8_t* dst = data.data() + r * row;
    if (type == TensorType::F32) {
      std::memcpy(dst, values.data(), row);
    } else if (type == TensorType::F16 || type == TensorType::BF16) {
      prepare_activation_row(type, values.data(), dst, kCols);  // same encoding as activations
    } else {
      quant::quantize_row(type, values.data(), dst, kCols);
    }
  }
  return data;
}

std::vector<float> make_activations(int64_t n_tokens) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n_tokens * kCols);
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

}  // namespace
}  // namespace pagoda::kernels

BENCHMARK_MAIN();
