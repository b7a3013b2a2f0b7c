// Attention over the KV cache for one decode step of one layer in the
// TinyLlama-1.1B shape: 32 query heads over 4 kv heads (GQA 8), head_dim 64,
// 64 / 512 / 2048 cached keys in paged blocks of 16 positions, one thread.
// Implementations: "ref" = ref::attend_head per query head (the scalar code
// every ISA ran before the SIMD kernels; it allocates its buffers per call),
// then attend_heads per kv head with the kernels of each ISA level this CPU
// has. Every implementation gives the same bits (tests/kernels).
//   build-h4/bench/bench_attention --benchmark_filter=Decode
#include "kernels/attention.h"

#include <benchmark/benchmark.h>

#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "base/kv_type.h"
#include "kernels/attention_ref.h"
#include "kernels/kv_rows.h"
#include "kernels/vec_dot.h"

namespace pagoda::kernels {
namespace {

constexpr int kHeads = 32, kKvHeads = 4, kHeadDim = 64, kBlockRows = 16;
constexpr KvType kTypes[] = {KvType::f16, KvType::f32, KvType::q8_0, KvType::q4_0, KvType::bf16};

// K or V rows of n_pos positions (all kv heads per row), in paged blocks.
struct Rows {
  KvType type;
  size_t row_bytes;
  std::vector<std::vector<uint8_t>> blocks;
  std::vector<const uint8_t*> pointers;

  Rows(KvType t, int64_t n_pos, uint32_t seed) : type(t) {
    const int64_t n = int64_t{kKvHeads} * kHeadDim;
    const KvTypeGeometry g = kv_type_geometry(t);
    row_bytes = static_cast<size_t>((n + g.block_size - 1) / g.block_size) * g.block_bytes;
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n));
    const int64_t n_blocks = (n_pos + kBlockRows - 1) / kBlockRows;
    for (int64_t b = 0; b < n_blocks; ++b) blocks.emplace_back(row_bytes * kBlockRows);
    for (int64_t p = 0; p < n_pos; ++p) {
      for (float& e : x) e = dist(rng);
      encode_kv_row(t, x.data(), &blocks[p / kBlockRows][(p % kBlockRows) * row_bytes], n);
    }
    for (auto& b : blocks) pointers.push_back(b.data());
  }
  HeadRows head(int64_t kv_head) const {
    return HeadRows{type, pointers.data(), kBlockRows, row_bytes, kv_head * kHeadDim};
  }
};

// args: KV type index, n_kv, implementation (0 = ref, 1 + level).
void BM_AttentionDecode(benchmark::State& state) {
  const KvType type = kTypes[state.range(0)];
  const int64_t n_kv = state.range(1);
  const int impl = static_cast<int>(state.range(2));
  const Isa isa = static_cast<Isa>(impl > 0 ? impl - 1 : 0);
  if (impl > 0 && !isa_available(isa)) {
    state.SkipWithError("this CPU lacks the ISA level");
    return;
  }
  state.SetLabel(std::string(kv_type_name(type)) + " " + (impl == 0 ? "ref" : isa_name(isa)));
  const Rows k(type, n_kv, 1), v(type, n_kv, 2);
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> q(kHeads * kHeadDim), out(q.size());
  for (float& e : q) e = dist(rng);
  const float scale = 0.125f;
  const int group = kHeads / kKvHeads;
  AttentionScratch scratch;
  for (auto _ : state) {
    for (int kv = 0; kv < kKvHeads; ++kv) {
      const float* qg = &q[static_cast<size_t>(kv * group * kHeadDim)];
      float* og = &out[static_cast<size_t>(kv * group * kHeadDim)];
      if (impl == 0) {
        for (int g = 0; g < group; ++g)
          ref::attend_head(qg + g * kHeadDim, kHeadDim, k.head(kv), v.head(kv), n_kv, scale,
                           og + g * kHeadDim);
      } else {
        attend_heads(isa, qg, group, kHeadDim, k.head(kv), v.head(kv), n_kv, scale, og, scratch);
      }
    }
    benchmark::DoNotOptimize(out.data());
  }
  const double iters = static_cast<double>(state.iterations());
  // Query-key pairs per second (each one a q.k and a p.v of head_dim).
  state.counters["Mpairs/s"] = benchmark::Counter(static_cast<double>(kHeads) * n_kv * iters * 1e-6,
                                                  benchmark::Counter::kIsRate);
}

void DecodeArgs(benchmark::internal::Benchmark* b) {
  for (int t = 0; t < static_cast<int>(std::size(kTypes)); ++t)
    for (int n_kv : {64, 512, 2048})
      for (int impl : {0, 1, 2, 3}) b->Args({t, n_kv, impl});
}
BENCHMARK(BM_AttentionDecode)->Apply(DecodeArgs)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace pagoda::kernels

BENCHMARK_MAIN();
