// How fast the interleaved kernels' inner steps can go on this core: the same instructions with
// every operand in registers (no loads, no stores), in independent chains, counted as the
// GFLOP/s of the kernel they belong to. A kernel's own figure (bench_matmul BM_Prefill path 2)
// against its bound here shows what memory, loads and bookkeeping still cost it.
//
//   q8_0_lane:  matmul_tile_q8_0_wide.h, one lane of one token for 16 rows: vpdpbusd (4 elements),
//               vcvtdq2ps, vfmadd231ps. ggml's 8-lane Q8_0 order needs the convert and the FMA for
//               every 4 elements, whatever the kernel's shape.
//   q4_0_block: matmul_tile_q4_0_wide.h, one 32-element block of one token for 16 rows: 8 vpdpbusd,
//               then one convert, multiply and FMA (the one-lane order).
//
// AVX-512 VNNI only (skipped elsewhere): bench_instruction_bound --benchmark_min_time=0.3
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cstdint>

namespace {

constexpr int kChains = 12;  // independent accumulators: enough to cover the FMA latency

// Keeps v in a register and opaque to the optimizer, at no cost.
#define PAGODA_OPAQUE(v) asm volatile("" : "+v"(v))

// Chain c multiplies weights[c / 3] by activations[c % 3]: twelve different products, so that
// no chain's integer sum can be shared with another's. Every loop over the arrays is unrolled, so
// that GCC keeps each element in a register (otherwise the accumulators go through the stack on
// every step, and the bound would count a load and a store per step).
__attribute__((target("avx512f,avx512bw,avx512vnni"))) float q8_0_lane_steps(int64_t iterations) {
  __m512 acc[kChains];
#pragma GCC unroll 12
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(static_cast<float>(c));
  __m512i weights[4], activations[3];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) weights[i] = _mm512_set1_epi32(0x01020304 + i);
#pragma GCC unroll 3
  for (int i = 0; i < 3; ++i) activations[i] = _mm512_set1_epi32(0x05060708 + i);
  __m512i bias = _mm512_set1_epi32(-7);
  __m512 scale = _mm512_set1_ps(0.0f);
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 4
    for (__m512i& w : weights) PAGODA_OPAQUE(w);
#pragma GCC unroll 3
    for (__m512i& a : activations) PAGODA_OPAQUE(a);
    PAGODA_OPAQUE(bias);
    PAGODA_OPAQUE(scale);
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) {
      const __m512i isum = _mm512_dpbusd_epi32(bias, weights[c / 3], activations[c % 3]);
      acc[c] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(isum), acc[c]);
      PAGODA_OPAQUE(acc[c]);
    }
  }
  float sum = 0.0f;
#pragma GCC unroll 12
  for (int c = 0; c < kChains; ++c) sum += _mm512_reduce_add_ps(acc[c]);
  return sum;
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) float q4_0_block_steps(int64_t iterations) {
  __m512 acc[kChains];
#pragma GCC unroll 12
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(static_cast<float>(c));
  __m512i weights[4], activations[3];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) weights[i] = _mm512_set1_epi32(0x01020304 + i);
#pragma GCC unroll 3
  for (int i = 0; i < 3; ++i) activations[i] = _mm512_set1_epi32(0x05060708 + i);
  __m512i bias = _mm512_set1_epi32(-7);
  __m512 row_scales = _mm512_set1_ps(0.0f), token_scale = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 4
    for (__m512i& w : weights) PAGODA_OPAQUE(w);
#pragma GCC unroll 3
    for (__m512i& a : activations) PAGODA_OPAQUE(a);
    PAGODA_OPAQUE(bias);
    PAGODA_OPAQUE(row_scales);
    PAGODA_OPAQUE(token_scale);
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) {
      __m512i isum = bias;
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) isum = _mm512_dpbusd_epi32(isum, weights[(j + c / 3) & 3], activations[c % 3]);
      acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(row_scales, token_scale), acc[c]);
      PAGODA_OPAQUE(acc[c]);
    }
  }
  float sum = 0.0f;
#pragma GCC unroll 12
  for (int c = 0; c < kChains; ++c) sum += _mm512_reduce_add_ps(acc[c]);
  return sum;
}

bool has_vnni512() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vnni");
}

// flops_per_step: the multiply-adds one chain step covers, times 2 (16 rows x its elements).
template <float (*kSteps)(int64_t)>
void run(benchmark::State& state, double flops_per_step) {
  if (!has_vnni512()) {
    state.SkipWithError("needs AVX-512 VNNI");
    return;
  }
  constexpr int64_t kIterations = 1 << 16;
  for (auto _ : state) benchmark::DoNotOptimize(kSteps(kIterations));
  const double flops = flops_per_step * kChains * kIterations * static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
}

void BM_Q8_0Lane(benchmark::State& state) {
  run<q8_0_lane_steps>(state, 2.0 * 16 * 4);
}
void BM_Q4_0Block(benchmark::State& state) {
  run<q4_0_block_steps>(state, 2.0 * 16 * 32);
}

}  // namespace

BENCHMARK(BM_Q8_0Lane);
BENCHMARK(BM_Q4_0Block);

BENCHMARK_MAIN();
