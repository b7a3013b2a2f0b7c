// The attention kernels of every ISA level this CPU has (scalar, avx2,
// avx512; each forced with attend_heads(isa, ...)) against the scalar
// definition ref::attend_head, bit for bit (memcmp): every path (f16/f16,
// f32/f32, q8_0/q8_0, q4_0/q4_0 and the online path with each way of reading
// V), head sizes with and without tails, 1 to 700 keys, GQA groups of 1, 4
// and 8 query heads, paged rows. Also the building blocks: the scalar exact
// FMA against std::fma and each level's ggml_expf against ops.h's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "base/kv_type.h"
#include "kernels/attention.h"
#include "kernels/attention_kernels.h"
#include "kernels/attention_ref.h"
#include "kernels/kv_rows.h"
#include "kernels/ops.h"
#include "kernels/vec_dot.h"

namespace pagoda::kernels {
namespace {

constexpr Isa kIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512};
constexpr int kKvHeads = 2;     // the tested head is kv head 1: its slice starts mid-row
constexpr int kBlockRows = 16;  // positions per paged block

size_t row_bytes_of(KvType t, int64_t n) {
  const KvTypeGeometry g = kv_type_geometry(t);
  return static_cast<size_t>((n + g.block_size - 1) / g.block_size) * g.block_bytes;
}

// One type's rows for n_pos positions of kKvHeads heads, in paged blocks
// allocated in reverse order (so no two neighbouring blocks are adjacent).
struct PagedRows {
  KvType type;
  size_t row_bytes;
  std::vector<std::vector<uint8_t>> blocks;
  std::vector<const uint8_t*> pointers;

  PagedRows(KvType t, int head_dim, int n_pos, std::mt19937& rng, float amplitude)
      : type(t), row_bytes(row_bytes_of(t, int64_t{kKvHeads} * head_dim)) {
    const int n = kKvHeads * head_dim;
    const int n_blocks = (n_pos + kBlockRows - 1) / kBlockRows;
    blocks.resize(static_cast<size_t>(n_blocks));
    pointers.resize(static_cast<size_t>(n_blocks));
    std::uniform_real_distribution<float> u(-amplitude, amplitude);
    std::vector<float> x(static_cast<size_t>(n));
    for (int b = n_blocks - 1; b >= 0; --b) blocks[b].assign(row_bytes * kBlockRows, 0xAB);
    for (int p = 0; p < n_pos; ++p) {
      for (float& e : x) e = u(rng);
      encode_kv_row(t, x.data(), &blocks[p / kBlockRows][(p % kBlockRows) * row_bytes], n);
    }
    for (int b = 0; b < n_blocks; ++b) pointers[b] = blocks[b].data();
  }
  HeadRows head(int head_dim) const {
    return HeadRows{type, pointers.data(), kBlockRows, row_bytes,
                    int64_t{head_dim} * (kKvHeads - 1)};
  }
};

struct Pair {
  KvType k, v;
};

std::string describe(Pair p, int head_dim, int n_kv, int group, Isa isa) {
  return std::string(kv_type_name(p.k)) + "/" + std::string(kv_type_name(p.v)) + " head_dim " +
         std::to_string(head_dim) + " n_kv " + std::to_string(n_kv) + " group " +
         std::to_string(group) + " " + isa_name(isa);
}

// Checks every available level (and the active-level entry points) against
// ref::attend_head for `group` query heads; returns the number of levels run.
int check_case(Pair pair, int head_dim, int n_kv, int group, uint32_t seed, float q_amplitude) {
  std::mt19937 rng(seed);
  const PagedRows k(pair.k, head_dim, n_kv, rng, 1.0f), v(pair.v, head_dim, n_kv, rng, 1.0f);
  std::uniform_real_distribution<float> u(-q_amplitude, q_amplitude);
  std::vector<float> q(static_cast<size_t>(group * head_dim));
  for (float& e : q) e = u(rng);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  std::vector<float> want(q.size());
  for (int g = 0; g < group; ++g)
    ref::attend_head(&q[g * head_dim], head_dim, k.head(head_dim), v.head(head_dim), n_kv, scale,
                     &want[g * head_dim]);
  const size_t bytes = want.size() * sizeof(float);
  int levels = 0;
  AttentionScratch scratch;
  for (Isa isa : kIsas) {
    if (!isa_available(isa)) continue;
    ++levels;
    std::vector<float> got(q.size(), std::numeric_limits<float>::quiet_NaN());
    attend_heads(isa, q.data(), group, head_dim, k.head(head_dim), v.head(head_dim), n_kv, scale,
                 got.data(), scratch);
    if (std::memcmp(got.data(), want.data(), bytes) != 0) {
      for (size_t i = 0; i < got.size(); ++i)
        if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0) {
          ADD_FAILURE() << describe(pair, head_dim, n_kv, group, isa) << ": element " << i << " is "
                        << got[i] << ", ref " << want[i];
          break;
        }
      return levels;
    }
  }
  // The active level through both public entry points, heads one at a time.
  std::vector<float> one(q.size());
  for (int g = 0; g < group; ++g)
    attend_head(&q[g * head_dim], head_dim, k.head(head_dim), v.head(head_dim), n_kv, scale,
                &one[g * head_dim], scratch);
  EXPECT_EQ(0, std::memcmp(one.data(), want.data(), bytes))
      << describe(pair, head_dim, n_kv, group, active_isa()) << " (attend_head)";
  return levels;
}

#ifdef PAGODA_SANITIZED
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// The paths with SIMD code of their own, fully: every head size, group and
// key count (a sample of them in sanitized builds).
class AttentionKernels : public ::testing::TestWithParam<Pair> {};

TEST_P(AttentionKernels, EveryLevelGivesTheReferenceBits) {
  const Pair pair = GetParam();
  const int head_dims[] = {8, 12, 32, 40, 64, 80, 128};
  const int key_counts[] = {1, 2, 7, 8, 9, 16, 31, 32, 33, 63, 65, 100, 257, 513, 1300};
  const int groups[] = {1, 4, 8};
  int cases = 0, index = 0;
  for (int head_dim : head_dims) {
    // q8_0/q4_0 rows need whole blocks per head only for the quantized
    // scores; other head sizes take the online path's decoded rows.
    for (int n_kv : key_counts)
      for (int group : groups) {
        if (kSanitized && index++ % 7 != 0) continue;
        // Large head sizes with many keys only for the GQA groups that matter.
        if (head_dim > 64 && n_kv > 257 && group == 4) continue;
        check_case(pair, head_dim, n_kv, group, 1000u + static_cast<uint32_t>(cases), 1.0f);
        ++cases;
        if (HasFailure()) return;
      }
  }
}

INSTANTIATE_TEST_SUITE_P(SimdPaths, AttentionKernels,
                         ::testing::Values(Pair{KvType::f16, KvType::f16},
                                           Pair{KvType::f32, KvType::f32},
                                           Pair{KvType::q8_0, KvType::q8_0},
                                           Pair{KvType::q4_0, KvType::q4_0}),
                         [](const auto& info) {
                           return std::string(kv_type_name(info.param.k)) + "_" +
                                  std::string(kv_type_name(info.param.v));
                         });

// The online path with every other way of reading V (f32, f16, bf16, whole
// q8_0/q4_0 blocks, decoded fp8) and of scoring (decoded K in double).
TEST(AttentionKernels, OnlinePathGivesTheReferenceBitsForEveryValueType) {
  const Pair pairs[] = {{KvType::f16, KvType::f32},          {KvType::f32, KvType::f16},
                        {KvType::bf16, KvType::bf16},        {KvType::q8_0, KvType::f16},
                        {KvType::f16, KvType::q8_0},         {KvType::fp8_e4m3, KvType::q4_0},
                        {KvType::q4_0, KvType::bf16},        {KvType::f32, KvType::fp8_e5m2},
                        {KvType::fp8_e5m2, KvType::fp8_e4m3}};
  int cases = 0;
  for (Pair pair : pairs)
    for (int head_dim : {12, 32, 40, 64, 128})
      for (int n_kv : {1, 17, 100, 333})
        for (int group : {1, 4, 8}) {
          if (kSanitized && cases % 5 != 0) {
            ++cases;
            continue;
          }
          check_case(pair, head_dim, n_kv, group, 5000u + static_cast<uint32_t>(cases++), 1.0f);
          if (HasFailure()) return;
        }
}

// Large queries spread the scores over hundreds of units: probabilities
// underflow to subnormals and zeros, and ggml_expf takes its |n| > 126 and
// |n| > 192 branches.
TEST(AttentionKernels, WideScoresGiveTheReferenceBits) {
  int cases = 0;
  for (Pair pair : {Pair{KvType::f16, KvType::f16}, Pair{KvType::f32, KvType::f32},
                    Pair{KvType::q8_0, KvType::q8_0}, Pair{KvType::bf16, KvType::f32}})
    for (float amplitude : {30.0f, 300.0f, 3000.0f})
      for (int n_kv : {5, 64, 300}) {
        check_case(pair, 64, n_kv, 8, 9000u + static_cast<uint32_t>(cases++), amplitude);
        if (HasFailure()) return;
      }
}

// A head's bits do not depend on the heads processed with it.
TEST(AttentionKernels, GroupingDoesNotChangeBits) {
  std::mt19937 rng(3);
  const int head_dim = 64, n_kv = 77, group = 8;
  for (Pair pair : {Pair{KvType::f16, KvType::f16}, Pair{KvType::f32, KvType::f32},
                    Pair{KvType::q4_0, KvType::q4_0}, Pair{KvType::f16, KvType::bf16}}) {
    const PagedRows k(pair.k, head_dim, n_kv, rng, 1.0f), v(pair.v, head_dim, n_kv, rng, 1.0f);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> q(group * head_dim);
    for (float& e : q) e = u(rng);
    for (Isa isa : kIsas) {
      if (!isa_available(isa)) continue;
      AttentionScratch scratch;
      std::vector<float> all(q.size()), parts(q.size());
      attend_heads(isa, q.data(), group, head_dim, k.head(head_dim), v.head(head_dim), n_kv, 0.125f,
                   all.data(), scratch);
      for (int g0 = 0; g0 < group;) {  // parts of 3, 1, 2, 2 heads
        const int n = g0 == 0 ? 3 : g0 == 3 ? 1 : 2;
        attend_heads(isa, &q[g0 * head_dim], n, head_dim, k.head(head_dim), v.head(head_dim), n_kv,
                     0.125f, &parts[g0 * head_dim], scratch);
        g0 += n;
      }
      EXPECT_EQ(0, std::memcmp(all.data(), parts.data(), all.size() * sizeof(float)))
          << kv_type_name(pair.k) << "/" << kv_type_name(pair.v) << " " << isa_name(isa);
    }
  }
}

// fmaf without FMA hardware or libm: random operands of every magnitude,
// cancellations, ties, subnormal results and special values.
TEST(AttentionKernels, ScalarExactFmaEqualsStdFma) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<uint32_t> bits;
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  const auto from_bits = [](uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof(f));
    return f;
  };
  const auto same = [](float a, float b) { return std::memcmp(&a, &b, sizeof(a)) == 0; };
  const int n = kSanitized ? 200000 : 4000000;
  for (int i = 0; i < n; ++i) {
    float a, b, c;
    switch (i % 4) {
      case 0:  // any finite bit patterns
        a = from_bits(bits(rng) & 0xBFFFFFFFu), b = from_bits(bits(rng) & 0xBFFFFFFFu);
        c = from_bits(bits(rng));
        break;
      case 1:  // c near -a*b: heavy cancellation
        a = unit(rng), b = unit(rng);
        c = -(a * b) * (1.0f + unit(rng) * 1e-6f);
        break;
      case 2:  // the attention shapes: probabilities and values, lanes
        a = unit(rng) * 0.5f + 0.5f, b = unit(rng), c = unit(rng) * 10.0f;
        break;
      default:  // tiny operands: subnormal products and sums
        a = unit(rng) * 1e-20f, b = unit(rng) * 1e-19f, c = unit(rng) * 1e-38f;
        break;
    }
    const float want = std::fma(a, b, c), got = attn::scalar::fma_exact(a, b, c);
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << a << " " << b << " " << c;
    } else {
      ASSERT_TRUE(same(got, want))
          << a << " * " << b << " + " << c << ": " << got << " vs " << want;
    }
  }
  const float inf = std::numeric_limits<float>::infinity();
  for (float a : {0.0f, -0.0f, 1.0f, -1.0f, inf, -inf, 3e38f, 1e-45f})
    for (float b : {0.0f, -0.0f, 2.0f, inf, -inf, 3e38f, 1e-45f})
      for (float c : {0.0f, -0.0f, 1.0f, inf, -inf, -3e38f, 1e-45f}) {
        const float want = std::fma(a, b, c), got = attn::scalar::fma_exact(a, b, c);
        if (std::isnan(want))
          EXPECT_TRUE(std::isnan(got)) << a << " " << b << " " << c;
        else
          EXPECT_TRUE(same(got, want)) << a << " * " << b << " + " << c;
      }
}

// Every level's ggml_expf equals ops.h's on a stride through all float bit
// patterns (every one of the 2^32 was checked once by hand) and on the
// softmax's usual inputs.
TEST(AttentionKernels, EveryLevelsExpEqualsGgmlExpf) {
  const uint32_t stride = kSanitized ? 40009 : 997;
  std::vector<float> x;
  for (uint64_t u = 0; u <= 0xFFFFFFFFull; u += stride) {
    float f;
    const auto b = static_cast<uint32_t>(u);
    std::memcpy(&f, &b, sizeof(f));
    x.push_back(f);
  }
  for (int i = 0; i <= 200000; ++i) x.push_back(-static_cast<float>(i) * 0.001f);
  std::vector<float> want(x.size());
  for (size_t i = 0; i < x.size(); ++i) want[i] = ggml_expf(x[i]);
  using ExpRow = void (*)(const float*, float*, int64_t);
  const std::pair<Isa, ExpRow> levels[] = {{Isa::kScalar, attn::scalar::expf_row},
                                           {Isa::kAvx2, attn::avx2::expf_row},
                                           {Isa::kAvx512, attn::avx512::expf_row}};
  for (auto [isa, exp_row] : levels) {
    if (!isa_available(isa)) continue;
    std::vector<float> got(x.size());
    exp_row(x.data(), got.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i) {
      if (std::isnan(want[i]) && std::isnan(got[i])) continue;
      ASSERT_EQ(0, std::memcmp(&got[i], &want[i], sizeof(float)))
          << isa_name(isa) << " x = " << x[i] << ": " << got[i] << " vs " << want[i];
    }
  }
}

}  // namespace
}  // namespace pagoda::kernels
