// AVX-512 + VNNI tile kernels: matmul_tile_impl.h on 256-bit vectors with
// VNNI integer steps. vpdpwssd fuses the AVX2 kernels' madd + add, vpdpbusd
// is vec_dot_avx512.cpp's Q8_0 quad dot; both give the same int32 lanes,
// so the bits equal the vec_dot kernels of this level (AVX2's K-quant
// kernels, AVX-512's Q4_0/Q8_0). 32 ymm registers hold 8 tokens per tile.
#include "kernels/matmul_tile_float.h"
#include "kernels/matmul_tile_kquant.h"
#include "kernels/matmul_tile_q4_0_wide.h"
#include "kernels/matmul_tile_q4_k_wide.h"
#include "kernels/matmul_tile_q6_k_wide.h"
#include "kernels/matmul_tile_q8_0_wide.h"
#include "kernels/matmul_tile_wide.h"
#include "kernels/vec_dot_isa.h"

namespace pagoda::kernels::avx512 {
namespace {

struct Ops {
  static constexpr int kTokens = 8;
  static __m256i add_scaled_pairs(__m256i isum, __m256i pairs, __m256i scales) {
    return _mm256_dpwssd_epi32(isum, pairs, scales);
  }
  static __m256i dot_s8_abs(__m256i abs_x, __m256i sign_y) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), abs_x, sign_y);
  }
};

}  // namespace

VecDotTileFn tile_kernel(TensorType weight) {
  switch (weight) {
    case TensorType::Q4_0:
      return tile::wide::run_rows<Ops>;
    case TensorType::Q8_0:
      return tile::run_tile<Ops, tile::wide::Q8_0>;
    case TensorType::Q2_K:
      return tile::run_tile<Ops, tile::wide::WithOneToken<tile::wide::Q2K, tile::Q2K<Ops>>>;
    case TensorType::Q3_K:
      return tile::run_tile<Ops, tile::Q3K<Ops>>;
    case TensorType::Q4_K:
      return tile::run_tile<Ops, tile::wide::WithOneToken<tile::wide::Q45K<quant::BlockQ4_K>, tile::wide::OneTokenQ45K<quant::BlockQ4_K>>>;
    case TensorType::Q5_K:
      return tile::run_tile<Ops, tile::wide::WithOneToken<tile::wide::Q45K<quant::BlockQ5_K>, tile::wide::OneTokenQ45K<quant::BlockQ5_K>>>;
    case TensorType::Q6_K:
      return tile::run_tile<Ops, tile::wide::WithOneToken<tile::wide::Q6K, tile::Q6K<Ops>>>;
    case TensorType::F32:
      return tile::FloatTile<tile::F32Elements>::run;
    case TensorType::F16:
      return tile::FloatTile<tile::F16Elements>::run;
    case TensorType::BF16:
      return tile::FloatTile<tile::BF16Elements>::run;
    default:
      return nullptr;
  }
}

size_t tile_scratch_bytes(TensorType weight, int64_t n, int64_t n_rows, int64_t n_tokens) {
  const int group = static_cast<int>(n_tokens < Ops::kTokens ? n_tokens : Ops::kTokens);  // the widest group
  if (group < 1) return 0;
  switch (weight) {
    case TensorType::Q4_0:
      return tile::wide::run_rows_scratch_bytes<Ops>(n, n_rows, n_tokens);
    case TensorType::Q8_0:
      return tile::wide::pack_q8_0_pairs_bytes(n, group);
    case TensorType::Q2_K:
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
      return tile::wide::PackedQ8K::scratch_bytes(n, group);
    case TensorType::F16:
      return tile::FloatTile<tile::F16Elements>::scratch_bytes(n, n_tokens);
    case TensorType::BF16:
      return tile::FloatTile<tile::BF16Elements>::scratch_bytes(n, n_tokens);
    default:
      return 0;  // Q3_K reads its activations in place
  }
}

size_t interleaved_group_bytes(TensorType weight, int64_t n) {
  switch (weight) {
    case TensorType::Q8_0:
      return tile::wide::q8_0::group_bytes(n / quant::kQK);
    case TensorType::Q4_K:
      return tile::wide::q4_k::group_bytes<quant::BlockQ4_K>(n / quant::kQK_K);
    case TensorType::Q5_K:
      return tile::wide::q4_k::group_bytes<quant::BlockQ5_K>(n / quant::kQK_K);
    case TensorType::Q6_K:
      return tile::wide::q6_k::group_bytes(n / quant::kQK_K);
    default:
      return tile::wide::group_bytes(n / quant::kQK);
  }
}

size_t interleaved_bytes(TensorType weight, int64_t n, int64_t n_rows) {
  const bool k_quant = weight == TensorType::Q4_K || weight == TensorType::Q5_K || weight == TensorType::Q6_K;
  const int64_t block = k_quant ? quant::kQK_K : quant::kQK;
  if ((weight != TensorType::Q4_0 && weight != TensorType::Q8_0 && !k_quant) || n <= 0 || n % block != 0 ||
      n_rows <= 0)
    return 0;
  const int64_t groups = (n_rows + tile::wide::kGroupRows - 1) / tile::wide::kGroupRows;
  return static_cast<size_t>(groups) * interleaved_group_bytes(weight, n);
}

void interleave(TensorType weight, int64_t n, const void* rows, size_t row_stride, int64_t n_rows, void* out) {
  const auto* src = static_cast<const uint8_t*>(rows);
  auto* dst = static_cast<uint8_t*>(out);
  const size_t group = interleaved_group_bytes(weight, n);
  for (int64_t r0 = 0; r0 < n_rows; r0 += tile::wide::kGroupRows) {
    const int m = static_cast<int>(std::min<int64_t>(tile::wide::kGroupRows, n_rows - r0));
    const uint8_t* first = src + r0 * row_stride;
    uint8_t* g = dst + r0 / tile::wide::kGroupRows * group;
    switch (weight) {
      case TensorType::Q8_0:
        tile::wide::q8_0::interleave_group(n / quant::kQK, first, row_stride, m, g);
        break;
      case TensorType::Q4_K:
        tile::wide::q4_k::interleave_group<quant::BlockQ4_K>(n / quant::kQK_K, first, row_stride, m, g);
        break;
      case TensorType::Q5_K:
        tile::wide::q4_k::interleave_group<quant::BlockQ5_K>(n / quant::kQK_K, first, row_stride, m, g);
        break;
      case TensorType::Q6_K:
        tile::wide::q6_k::interleave_group(n / quant::kQK_K, first, row_stride, m, g);
        break;
      default:
        tile::wide::interleave_group(n / quant::kQK, first, row_stride, m, g);
    }
  }
}

void multiply_interleaved(TensorType weight, int64_t n, const void* groups, int64_t n_rows, const void* acts,
                          size_t act_stride, const void* act_blocks, int64_t n_tokens, float* y, int64_t y_stride) {
  switch (weight) {
    case TensorType::Q8_0:
      return tile::wide::q8_0::run_interleaved(n, groups, n_rows, acts, act_stride, act_blocks, n_tokens, y, y_stride);
    case TensorType::Q4_K:
      return tile::wide::q4_k::run_interleaved<quant::BlockQ4_K>(n, groups, n_rows, acts, act_stride, act_blocks,
                                                                 n_tokens, y, y_stride);
    case TensorType::Q5_K:
      return tile::wide::q4_k::run_interleaved<quant::BlockQ5_K>(n, groups, n_rows, acts, act_stride, act_blocks,
                                                                 n_tokens, y, y_stride);
    case TensorType::Q6_K:
      return tile::wide::q6_k::run_interleaved(n, groups, n_rows, acts, act_stride, act_blocks, n_tokens, y, y_stride);
    default:
      return tile::wide::run_interleaved(n, groups, n_rows, acts, act_stride, act_blocks, n_tokens, y, y_stride);
  }
}

size_t interleaved_act_bytes(TensorType weight, int64_t n) {
  switch (weight) {
    case TensorType::Q8_0:
      return tile::wide::act_row_bytes<tile::wide::q8_0::ActBlock, quant::kQK>(n);
    case TensorType::Q4_K:
    case TensorType::Q5_K:
      return tile::wide::act_row_bytes<tile::wide::q4_k::ActBlock, quant::kQK_K>(n);
    case TensorType::Q6_K:
      return tile::wide::act_row_bytes<tile::wide::q6_k::ActBlock, quant::kQK_K>(n);
    default:
      return tile::wide::act_row_bytes<tile::wide::ActBlock, quant::kQK>(n);
  }
}

void prepare_interleaved_act(TensorType weight, int64_t n, const void* act_row, int64_t token, int64_t n_tokens,
                             void* blocks) {
  namespace wide = tile::wide;
  const auto* row = static_cast<const uint8_t*>(act_row);
  int64_t first = 0, count = 0;  // where the token's blocks go, and its token group's size
  switch (weight) {
    case TensorType::Q8_0:
      wide::act_block_slot<wide::q8_0::kTokens>(n / quant::kQK, token, n_tokens, first, count);
      return wide::q8_0::act_block_row(n / quant::kQK, row, static_cast<wide::q8_0::ActBlock*>(blocks) + first, count);
    case TensorType::Q4_K:
    case TensorType::Q5_K:
      wide::act_block_slot<wide::q4_k::kTokens>(n / quant::kQK_K, token, n_tokens, first, count);
      return wide::q4_k::act_block_row(n / quant::kQK_K, row, static_cast<wide::q4_k::ActBlock*>(blocks) + first,
                                       count);
    case TensorType::Q6_K:
      wide::act_block_slot<wide::q6_k::kTokens>(n / quant::kQK_K, token, n_tokens, first, count);
      return wide::q6_k::act_block_row(n / quant::kQK_K, row, static_cast<wide::q6_k::ActBlock*>(blocks) + first,
                                       count);
    default:
      wide::act_block_slot<wide::kTokens>(n / quant::kQK, token, n_tokens, first, count);
      return wide::act_block_row(n / quant::kQK, row, static_cast<wide::ActBlock*>(blocks) + first, count);
  }
}

}  // namespace pagoda::kernels::avx512
