// attend_head against a double-precision reference, for every cache type, and
// block layout independence (contiguous vs paged rows give identical bits).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/half.h"
#include "kernels/attention.h"
#include "quant/codec.h"

namespace pagoda::kernels {
namespace {

constexpr int kHeadDim = 32, kHeads = 2, kPositions = 11;

// K/V rows [kPositions, kHeads * kHeadDim] in f32 and encoded as `type`.
struct Rows {
  std::vector<float> k, v;          // f32 values
  std::vector<uint8_t> k_enc, v_enc;  // encoded
  size_t row_bytes = 0;
};

Rows make_rows(TensorType type) {
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Rows r;
  const int n = kHeads * kHeadDim;
  r.k.resize(static_cast<size_t>(kPositions * n));
  r.v.resize(r.k.size());
  for (float& x : r.k) x = u(rng);
  for (float& x : r.v) x = u(rng);
  r.row_bytes = row_bytes(type, n).value();
  r.k_enc.resize(r.row_bytes * kPositions);
  r.v_enc.resize(r.row_bytes * kPositions);
  for (int p = 0; p < kPositions; ++p) {
    for (auto [src, dst] : {std::pair{&r.k, &r.k_enc}, std::pair{&r.v, &r.v_enc}}) {
      const float* row = src->data() + p * n;
      uint8_t* out = dst->data() + p * r.row_bytes;
      if (type == TensorType::F32) std::memcpy(out, row, n * sizeof(float));
      else if (type == TensorType::F16)
        for (int i = 0; i < n; ++i) reinterpret_cast<uint16_t*>(out)[i] = fp32_to_fp16(row[i]);
      else quant::quantize_row(type, row, out, n);
    }
  }
  return r;
}

std::vector<double> reference(const Rows& r, const float* q, int head, int n_kv, float scale) {
  const int n = kHeads * kHeadDim;
  std::vector<double> s(n_kv), out(kHeadDim, 0.0);
  double max = -1e300, sum = 0;
  for (int j = 0; j < n_kv; ++j) {
    double dot = 0;
    for (int d = 0; d < kHeadDim; ++d) dot += double{q[d]} * r.k[j * n + head * kHeadDim + d];
    s[j] = dot * scale;
    max = std::max(max, s[j]);
  }
  for (double& x : s) sum += x = std::exp(x - max);
  for (int j = 0; j < n_kv; ++j)
    for (int d = 0; d < kHeadDim; ++d) out[d] += s[j] / sum * r.v[j * n + head * kHeadDim + d];
  return out;
}

class AttentionTypes : public ::testing::TestWithParam<TensorType> {};

TEST_P(AttentionTypes, MatchesReference) {
  const TensorType type = GetParam();
  Rows r = make_rows(type);
  std::vector<float> q(kHeadDim);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  for (float& x : q) x = u(rng);
  const double tol = type == TensorType::F32 ? 1e-5 : type == TensorType::F16 ? 3e-3
                   : type == TensorType::Q8_0 ? 2e-2 : 0.15;
  AttentionScratch scratch;
  for (int head = 0; head < kHeads; ++head) {
    uint8_t* kb = r.k_enc.data();
    uint8_t* vb = r.v_enc.data();
    const size_t offset = r.row_bytes / kHeads * head;
    HeadRows keys{type, &kb, kPositions, r.row_bytes, offset};
    HeadRows values{type, &vb, kPositions, r.row_bytes, offset};
    for (int n_kv : {1, 5, kPositions}) {
      std::vector<float> out(kHeadDim);
      attend_head(q.data(), kHeadDim, keys, values, n_kv, 0.3f, out.data(), scratch);
      auto ref = reference(r, q.data(), head, n_kv, 0.3f);
      for (int d = 0; d < kHeadDim; ++d)
        EXPECT_NEAR(out[d], ref[d], tol) << tensor_type_name(type) << " head " << head
                                         << " n_kv " << n_kv << " d " << d;
    }
  }
}

TEST_P(AttentionTypes, BlockLayoutDoesNotChangeBits) {
  const TensorType type = GetParam();
  Rows r = make_rows(type);
  std::vector<float> q(kHeadDim, 0.25f);
  q[3] = -1.5f;
  AttentionScratch scratch;
  uint8_t* kb = r.k_enc.data();
  uint8_t* vb = r.v_enc.data();
  std::vector<float> contiguous(kHeadDim), paged(kHeadDim);
  attend_head(q.data(), kHeadDim, HeadRows{type, &kb, kPositions, r.row_bytes, 0},
              HeadRows{type, &vb, kPositions, r.row_bytes, 0}, kPositions, 0.2f,
              contiguous.data(), scratch);
  // The same rows copied into blocks of 3 positions, in scattered memory.
  const int block_rows = 3, n_blocks = (kPositions + block_rows - 1) / block_rows;
  std::vector<std::vector<uint8_t>> kblocks(n_blocks), vblocks(n_blocks);
  std::vector<uint8_t*> kptr(n_blocks), vptr(n_blocks);
  for (int b = n_blocks - 1; b >= 0; --b) {
    kblocks[b].assign(r.row_bytes * block_rows, 0);
    vblocks[b].assign(r.row_bytes * block_rows, 0);
    for (int i = 0; i < block_rows && b * block_rows + i < kPositions; ++i) {
      std::memcpy(kblocks[b].data() + i * r.row_bytes, kb + (b * block_rows + i) * r.row_bytes, r.row_bytes);
      std::memcpy(vblocks[b].data() + i * r.row_bytes, vb + (b * block_rows + i) * r.row_bytes, r.row_bytes);
    }
    kptr[b] = kblocks[b].data();
    vptr[b] = vblocks[b].data();
  }
  AttentionScratch other;  // fresh scratch: results must not depend on its history
  attend_head(q.data(), kHeadDim, HeadRows{type, kptr.data(), block_rows, r.row_bytes, 0},
              HeadRows{type, vptr.data(), block_rows, r.row_bytes, 0}, kPositions, 0.2f,
              paged.data(), other);
  EXPECT_EQ(0, std::memcmp(contiguous.data(), paged.data(), kHeadDim * sizeof(float)));
}

INSTANTIATE_TEST_SUITE_P(CacheTypes, AttentionTypes,
                         ::testing::Values(TensorType::F32, TensorType::F16, TensorType::Q8_0,
                                           TensorType::Q4_0),
                         [](const auto& info) { return std::string(tensor_type_name(info.param)); });

TEST(Attention, SupportedTypes) {
  EXPECT_TRUE(attention_supports(TensorType::F16));
  EXPECT_TRUE(attention_supports(TensorType::Q4_0));
  EXPECT_FALSE(attention_supports(TensorType::Q4_K));
}

}  // namespace
}  // namespace pagoda::kernels
