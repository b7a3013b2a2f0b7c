// attend_head for every (K type, V type) pair and head sizes {8, 12, 32, 64,
// 128} with GQA: against a double-precision reference on the original floats
// (per-type tolerance) and on the values the cache actually holds (per-path
// tolerance); the f16/f16, f32/f32 and block-aligned q8_0/q4_0 paths bit for
// bit against the previous implementation; block layout and scratch history
// never change bits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "attention_legacy_ref.h"
#include "base/kv_type.h"
#include "kernels/attention.h"
#include "kernels/kv_rows.h"

namespace pagoda::kernels {
namespace {

constexpr int kKvHeads = 3, kGroup = 2, kPositions = 13;
constexpr int kHeadDims[] = {8, 12, 32, 64, 128};

size_t row_bytes_of(KvType t, int64_t n) {
  const KvTypeGeometry g = kv_type_geometry(t);
  return static_cast<size_t>((n + g.block_size - 1) / g.block_size) * g.block_bytes;
}

// K/V rows [kPositions, kKvHeads * head_dim]: original floats, encoded rows,
// and the floats the encoded rows decode to.
struct Cache {
  KvType k_type, v_type;
  int head_dim;
  std::vector<float> k, v;            // original
  std::vector<float> k_dec, v_dec;    // decoded
  std::vector<uint8_t> k_enc, v_enc;  // [kPositions, row bytes]
  size_t k_row = 0, v_row = 0;
  int64_t n() const { return int64_t{kKvHeads} * head_dim; }

  HeadRows keys(const uint8_t* const* base, int kv_head, int64_t block_rows = kPositions) const {
    return HeadRows{k_type, base, block_rows, k_row, int64_t{kv_head} * head_dim};
  }
  HeadRows values(const uint8_t* const* base, int kv_head, int64_t block_rows = kPositions) const {
    return HeadRows{v_type, base, block_rows, v_row, int64_t{kv_head} * head_dim};
  }
};

Cache make_cache(KvType k_type, KvType v_type, int head_dim, uint32_t seed = 9) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Cache c{k_type, v_type, head_dim, {}, {}, {}, {}, {}, {}};
  const int64_t n = c.n();
  c.k.resize(static_cast<size_t>(kPositions * n));
  c.v.resize(c.k.size());
  for (float& x : c.k) x = u(rng);
  for (float& x : c.v) x = u(rng);
  c.k_row = row_bytes_of(k_type, n);
  c.v_row = row_bytes_of(v_type, n);
  c.k_enc.assign(c.k_row * kPositions, 0xAB);  // garbage: padding must be written too
  c.v_enc.assign(c.v_row * kPositions, 0xAB);
  c.k_dec.resize(c.k.size());
  c.v_dec.resize(c.v.size());
  for (int p = 0; p < kPositions; ++p) {
    encode_kv_row(k_type, &c.k[p * n], &c.k_enc[p * c.k_row], n);
    encode_kv_row(v_type, &c.v[p * n], &c.v_enc[p * c.v_row], n);
    decode_kv_elements(k_type, &c.k_enc[p * c.k_row], 0, n, &c.k_dec[p * n]);
    decode_kv_elements(v_type, &c.v_enc[p * c.v_row], 0, n, &c.v_dec[p * n]);
  }
  return c;
}

std::vector<double> reference(const std::vector<float>& k, const std::vector<float>& v,
                              const float* q, int head_dim, int kv_head, int n_kv, float scale) {
  const int64_t n = int64_t{kKvHeads} * head_dim, off = int64_t{kv_head} * head_dim;
  std::vector<double> s(n_kv), out(head_dim, 0.0);
  double max = -1e300, sum = 0;
  for (int j = 0; j < n_kv; ++j) {
    double dot = 0;
    for (int d = 0; d < head_dim; ++d) dot += double{q[d]} * k[j * n + off + d];
    s[j] = dot * scale;
    max = std::max(max, s[j]);
  }
  for (double& x : s) sum += x = std::exp(x - max);
  for (int j = 0; j < n_kv; ++j)
    for (int d = 0; d < head_dim; ++d) out[d] += s[j] / sum * v[j * n + off + d];
  return out;
}

// Error bound against the original floats, from the type's precision.
double type_tolerance(KvType t) {
  switch (t) {
    case KvType::f32: return 1e-5;
    case KvType::f16: return 3e-3;
    case KvType::bf16: return 2e-2;
    case KvType::q8_0: return 2e-2;
    case KvType::fp8_e4m3: return 8e-2;
    case KvType::q4_0: return 0.15;
    case KvType::fp8_e5m2: return 0.15;
  }
  return 0;
}

bool quantized_scores(KvType k, int head_dim) {
  return (k == KvType::q8_0 || k == KvType::q4_0) && head_dim % 32 == 0;
}

// Error bound against the decoded values: only the path's own rounding.
double path_tolerance(KvType k, KvType v, int head_dim) {
  if (k == KvType::f16 && v == KvType::f16) return 3e-3;  // q and p rounded to f16
  if (quantized_scores(k, head_dim)) return 2e-2;         // q quantized to Q8_0
  return 2e-5;                                            // f32 arithmetic throughout
}

std::vector<float> make_query(int head_dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::vector<float> q(head_dim);
  for (float& x : q) x = u(rng);
  return q;
}

std::string pair_name(KvType k, KvType v) {
  return std::string(kv_type_name(k)) + "_" + std::string(kv_type_name(v));
}

struct Pair {
  KvType k, v;
};

class AttentionPairs : public ::testing::TestWithParam<Pair> {};

TEST_P(AttentionPairs, MatchesReferenceForEveryHeadSizeWithGqa) {
  const auto [kt, vt] = GetParam();
  for (int head_dim : kHeadDims) {
    Cache c = make_cache(kt, vt, head_dim);
    const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim)) * 2.0f;
    const double tol = type_tolerance(kt) + type_tolerance(vt);
    const double tight = path_tolerance(kt, vt, head_dim);
    AttentionScratch scratch;
    const uint8_t* kb = c.k_enc.data();
    const uint8_t* vb = c.v_enc.data();
    for (int h = 0; h < kKvHeads * kGroup; ++h) {  // query head h reads kv head h / kGroup
      const int kv_head = h / kGroup;
      auto q = make_query(head_dim, static_cast<uint32_t>(100 + h));
      for (int n_kv : {1, 6, kPositions}) {
        std::vector<float> out(head_dim);
        attend_head(q.data(), head_dim, c.keys(&kb, kv_head), c.values(&vb, kv_head), n_kv, scale,
                    out.data(), scratch);
        auto ref = reference(c.k, c.v, q.data(), head_dim, kv_head, n_kv, scale);
        auto ref_dec = reference(c.k_dec, c.v_dec, q.data(), head_dim, kv_head, n_kv, scale);
        for (int d = 0; d < head_dim; ++d) {
          ASSERT_NEAR(out[d], ref[d], tol) << "head_dim " << head_dim << " head " << h
                                           << " n_kv " << n_kv << " d " << d;
          ASSERT_NEAR(out[d], ref_dec[d], tight) << "decoded, head_dim " << head_dim << " head "
                                                 << h << " n_kv " << n_kv << " d " << d;
        }
      }
    }
  }
}

// Contiguous rows vs the same rows in scattered blocks of 3 positions, and a
// scratch with another history: identical bits.
TEST_P(AttentionPairs, BlockLayoutAndScratchDoNotChangeBits) {
  const auto [kt, vt] = GetParam();
  for (int head_dim : kHeadDims) {
    Cache c = make_cache(kt, vt, head_dim, 4);
    const int block_rows = 3, n_blocks = (kPositions + block_rows - 1) / block_rows;
    std::vector<std::vector<uint8_t>> kblocks(n_blocks), vblocks(n_blocks);
    std::vector<const uint8_t*> kptr(n_blocks), vptr(n_blocks);
    for (int b = n_blocks - 1; b >= 0; --b) {
      kblocks[b].assign(c.k_row * block_rows, 0);
      vblocks[b].assign(c.v_row * block_rows, 0);
      for (int i = 0; i < block_rows && b * block_rows + i < kPositions; ++i) {
        std::memcpy(&kblocks[b][i * c.k_row], &c.k_enc[(b * block_rows + i) * c.k_row], c.k_row);
        std::memcpy(&vblocks[b][i * c.v_row], &c.v_enc[(b * block_rows + i) * c.v_row], c.v_row);
      }
      kptr[b] = kblocks[b].data();
      vptr[b] = vblocks[b].data();
    }
    const uint8_t* kb = c.k_enc.data();
    const uint8_t* vb = c.v_enc.data();
    AttentionScratch used;
    {  // give `used` a history with a larger problem
      std::vector<float> junk(head_dim), q = make_query(head_dim, 1);
      attend_head(q.data(), head_dim, c.keys(&kb, 0), c.values(&vb, 0), kPositions, 0.5f,
                  junk.data(), used);
    }
    for (int kv_head = 0; kv_head < kKvHeads; ++kv_head) {
      auto q = make_query(head_dim, static_cast<uint32_t>(7 + kv_head));
      std::vector<float> contiguous(head_dim), paged(head_dim);
      AttentionScratch fresh;
      attend_head(q.data(), head_dim, c.keys(&kb, kv_head), c.values(&vb, kv_head), 10, 0.2f,
                  contiguous.data(), fresh);
      attend_head(q.data(), head_dim, c.keys(kptr.data(), kv_head, block_rows),
                  c.values(vptr.data(), kv_head, block_rows), 10, 0.2f, paged.data(), used);
      EXPECT_EQ(0, std::memcmp(contiguous.data(), paged.data(), head_dim * sizeof(float)))
          << "head_dim " << head_dim << " kv head " << kv_head;
    }
  }
}

std::vector<Pair> all_pairs() {
  std::vector<Pair> p;
  for (KvType k : kAllKvTypes)
    for (KvType v : kAllKvTypes) p.push_back({k, v});
  return p;
}

INSTANTIATE_TEST_SUITE_P(KvTypes, AttentionPairs, ::testing::ValuesIn(all_pairs()),
                         [](const auto& info) { return pair_name(info.param.k, info.param.v); });

// The paths llama.cpp traces depend on give the previous implementation's bits.
TEST(Attention, UnchangedPathsAreBitIdentical) {
  const std::pair<KvType, TensorType> types[] = {{KvType::f16, TensorType::F16},
                                                 {KvType::f32, TensorType::F32},
                                                 {KvType::q8_0, TensorType::Q8_0},
                                                 {KvType::q4_0, TensorType::Q4_0}};
  for (auto [kt, tt] : types) {
    for (int head_dim : {32, 64, 128}) {
      Cache c = make_cache(kt, kt, head_dim, 21);
      const uint8_t* kb = c.k_enc.data();
      const uint8_t* vb = c.v_enc.data();
      AttentionScratch scratch;
      for (int kv_head = 0; kv_head < kKvHeads; ++kv_head) {
        auto q = make_query(head_dim, static_cast<uint32_t>(31 + kv_head));
        const size_t offset = c.k_row / kKvHeads * kv_head;
        for (int n_kv : {1, 5, kPositions}) {
          std::vector<float> got(head_dim), want(head_dim);
          attend_head(q.data(), head_dim, c.keys(&kb, kv_head), c.values(&vb, kv_head), n_kv,
                      0.125f, got.data(), scratch);
          legacy::attend(q.data(), head_dim, {tt, kb, c.k_row, offset}, {tt, vb, c.v_row, offset},
                         n_kv, 0.125f, want.data());
          EXPECT_EQ(0, std::memcmp(got.data(), want.data(), head_dim * sizeof(float)))
              << kv_type_name(kt) << " head_dim " << head_dim << " kv head " << kv_head
              << " n_kv " << n_kv;
        }
      }
    }
  }
}

// A quantized K with another V type, block-aligned: the scores are those of
// the same-type quantized path (Q8_0 query + vec_dot), so K q8_0 / V f32 gives
// the q8_0/q8_0 result with V decoded exactly instead of quantized.
TEST(Attention, AlignedQuantizedKeysScoreLikeTheQuantizedPath) {
  const int head_dim = 64;
  Cache mixed = make_cache(KvType::q8_0, KvType::f32, head_dim, 5);
  const uint8_t* kb = mixed.k_enc.data();
  const uint8_t* vb = mixed.v_enc.data();
  auto q = make_query(head_dim, 77);
  std::vector<float> got(head_dim), want(head_dim);
  AttentionScratch scratch;
  attend_head(q.data(), head_dim, mixed.keys(&kb, 1), mixed.values(&vb, 1), kPositions, 0.25f,
              got.data(), scratch);
  legacy::Rows k{TensorType::Q8_0, kb, mixed.k_row, mixed.k_row / kKvHeads};
  legacy::Rows v{TensorType::F32, vb, mixed.v_row, mixed.v_row / kKvHeads};
  legacy::attend(q.data(), head_dim, k, v, kPositions, 0.25f, want.data());
  EXPECT_EQ(0, std::memcmp(got.data(), want.data(), head_dim * sizeof(float)));
}

// Rows whose padding bytes were garbage before encoding decode to the values,
// and the decoded slice of an unaligned head equals the slice of the whole row.
TEST(KvRows, DecodingASliceEqualsSlicingTheRow) {
  for (KvType t : kAllKvTypes) {
    for (int64_t n : {5, 24, 32, 36, 96, 100}) {
      std::mt19937 rng(static_cast<uint32_t>(n));
      std::uniform_real_distribution<float> u(-3.0f, 3.0f);
      std::vector<float> x(n), whole(n);
      for (float& e : x) e = u(rng);
      std::vector<uint8_t> row(row_bytes_of(t, n), 0xCD);
      encode_kv_row(t, x.data(), row.data(), n);
      decode_kv_elements(t, row.data(), 0, n, whole.data());
      for (int64_t first = 0; first < n; first += 3)
        for (int64_t len : {int64_t{1}, int64_t{4}, n - first}) {
          if (first + len > n) continue;
          std::vector<float> part(len);
          decode_kv_elements(t, row.data(), first, len, part.data());
          ASSERT_EQ(0, std::memcmp(part.data(), whole.data() + first, len * sizeof(float)))
              << kv_type_name(t) << " n " << n << " first " << first << " len " << len;
        }
      const double tol = type_tolerance(t) * 3;  // |x| <= 3
      for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(whole[i], x[i], tol) << kv_type_name(t) << i;
    }
  }
}

// The padded tail of a q8_0/q4_0 row is quantized from the tail values and
// zeros: a row of 36 values has a second block that decodes to x[32..36), 0...
TEST(KvRows, PaddedBlockHoldsZeros) {
  for (KvType t : {KvType::q8_0, KvType::q4_0}) {
    std::vector<float> x(36, 0.5f), full(64);
    std::vector<uint8_t> row(2 * kv_type_geometry(t).block_bytes, 0xFF);
    encode_kv_row(t, x.data(), row.data(), 36);
    decode_kv_elements(t, row.data(), 0, 64, full.data());
    for (int i = 36; i < 64; ++i) EXPECT_EQ(full[i], 0.0f) << kv_type_name(t) << " " << i;
    EXPECT_NEAR(full[33], 0.5f, 0.05f);
  }
}

}  // namespace
}  // namespace pagoda::kernels
