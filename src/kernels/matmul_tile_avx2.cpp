// AVX2 tile kernels: matmul_tile_impl.h with the integer steps of the AVX2
// vec_dot kernels (maddubs + madd), 4 tokens per tile: 4 float and 4 integer
// accumulators plus the decoded block fit the 16 ymm registers. Q4_0:
// matmul_tile_q4_0.h's LaneSums, 8 outputs per vector.
#include "kernels/matmul_tile_float.h"
#include "kernels/matmul_tile_kquant.h"
#include "kernels/matmul_tile_q4_0.h"
#include "kernels/matmul_tile_q8_0.h"
#include "kernels/vec_dot_isa.h"

namespace pagoda::kernels::avx2 {
namespace {

struct Ops {
  static constexpr int kTokens = 4;
  static __m256i add_scaled_pairs(__m256i isum, __m256i pairs, __m256i scales) {
    return _mm256_add_epi32(isum, _mm256_madd_epi16(pairs, scales));
  }
  static __m256i dot_s8_abs(__m256i abs_x, __m256i sign_y) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(abs_x, sign_y), _mm256_set1_epi16(1));
  }
};

template <class E>
using FloatTile = tile::FloatTile<E>;

}  // namespace

VecDotTileFn tile_kernel(TensorType weight) {
  switch (weight) {
    case TensorType::Q4_0:
      return tile::LaneSums<Ops>::run;
    case TensorType::Q8_0:
      return tile::run_tile<Ops, tile::Q8_0<Ops>>;
    case TensorType::Q2_K:
      return tile::run_tile<Ops, tile::Q2K<Ops>>;
    case TensorType::Q3_K:
      return tile::run_tile<Ops, tile::Q3K<Ops>>;
    case TensorType::Q4_K:
      return tile::run_tile<Ops, tile::Q45K<Ops, quant::BlockQ4_K>>;
    case TensorType::Q5_K:
      return tile::run_tile<Ops, tile::Q45K<Ops, quant::BlockQ5_K>>;
    case TensorType::Q6_K:
      return tile::run_tile<Ops, tile::Q6K<Ops>>;
    case TensorType::F32:
      return FloatTile<tile::F32Elements>::run;
    case TensorType::F16:
      return FloatTile<tile::F16Elements>::run;
    case TensorType::BF16:
      return FloatTile<tile::BF16Elements>::run;
    default:
      return nullptr;
  }
}

size_t tile_scratch_bytes(TensorType weight, int64_t n, int64_t /*n_rows*/, int64_t n_tokens) {
  if (weight == TensorType::Q4_0) return tile::LaneSums<Ops>::scratch_bytes(n, n_tokens);
  if (weight == TensorType::F16) return FloatTile<tile::F16Elements>::scratch_bytes(n, n_tokens);
  if (weight == TensorType::BF16) return FloatTile<tile::BF16Elements>::scratch_bytes(n, n_tokens);
  const int group = static_cast<int>(n_tokens < Ops::kTokens ? n_tokens : Ops::kTokens);  // the widest group
  if (weight == TensorType::Q8_0 && group >= 1) return tile::pack_q8_0_bytes(n, group);
  return 0;  // the K-quant tiles read their activations in place
}

}  // namespace pagoda::kernels::avx2
