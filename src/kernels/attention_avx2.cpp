// AVX2 (+F16C+FMA) attention kernels (attention_kernels.h), bit-identical to
// the scalar definition (attention_ref.cpp) for every query head:
//  - f16 scores: ggml_vec_dot_f16's 32 FMA lanes are 4 ymm accumulators (the
//    query in registers for head_dim <= 128); 8 keys are reduced at once in
//    the scalar tree's order; each tile of 8 K rows is converted to f32 once
//    for every head of the group. Softmax with ggml_expf in SIMD.
//  - f16 P.V: lane l = key % 32 of each output is an FMA chain over keys l,
//    l + 32, ...; a block of heads x dims (8 chains) of one lane stays in
//    registers, each V row converted once per block. Up to kPvChunkKeys keys
//    the lanes run in the tree's order and are added as they finish; beyond,
//    chunk by chunk (the chunk's rows stay in cache for all 32 lanes) with the
//    lane sums in scratch, then the tree.
//  - f32 scores: a serial float sum per key, so 8 keys go across the lanes of
//    a tile transposed once for every head; f32 P.V: the serial sum per output
//    over keys, across dims.
//  - online path: decoded-key scores in double with 4 heads across the lanes;
//    each V row decoded once for every head, acc * rescale + v * w across
//    dims (libm expf per key and head, as the scalar path).
#include "kernels/attention_kernels.h"
#include "kernels/attention_simd.h"

namespace pagoda::kernels::attn::avx2 {
namespace {

constexpr int64_t kGroup = 4;  // query heads per register block

inline int64_t min64(int64_t a, int64_t b) {
  return a < b ? a : b;
}

// Work area layout (work_floats): [n_q * hd | 2 * n_q | tile], the f16
// path's lane sums after a K tile of 8 keys.
struct Work {
  float* head;   // [n_q * hd]
  float* aux;    // [2 * n_q]
  float* tile;   // [kTileKeys * hd] (f16: [8 * hd])
  float* lanes;  // f16: the P.V lane sums (attn::work_floats)
  Work(float* w, int64_t n_q, int64_t hd)
      : head(w), aux(w + n_q * hd), tile(aux + 2 * n_q), lanes(tile + 8 * hd) {}
};

// y[t] = the 8 lanes of key t < 8 of a converted K tile [8, NS * 32] after
// the first levels of ggml_vec_dot_f16's tree, (acc0 + acc2) + (acc1 + acc3),
// for query a. NS = steps of 32 elements; 0 means "any" (query from memory).
template <int NS>
void key_lanes_f16(const float* a, const float* tile, int64_t np, __m256* y) {
  if constexpr (NS == 0) {
    for (int t = 0; t < 8; ++t) {
      const float* kt = tile + t * np;
      __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
      for (int64_t i = 0; i < np; i += 32) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(kt + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(kt + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(kt + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(kt + i + 24), acc3);
      }
      y[t] = _mm256_add_ps(_mm256_add_ps(acc0, acc2), _mm256_add_ps(acc1, acc3));
    }
  } else if constexpr (NS <= 2) {  // the whole query in registers
    __m256 qv[4 * NS];
    for (int i = 0; i < 4 * NS; ++i) qv[i] = _mm256_loadu_ps(a + 8 * i);
    for (int t = 0; t < 8; ++t) {
      const float* kt = tile + t * 32 * NS;
      __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                       _mm256_setzero_ps()};
      for (int st = 0; st < NS; ++st)
        for (int c = 0; c < 4; ++c)
          acc[c] = _mm256_fmadd_ps(qv[4 * st + c], _mm256_loadu_ps(kt + 32 * st + 8 * c), acc[c]);
      y[t] = _mm256_add_ps(_mm256_add_ps(acc[0], acc[2]), _mm256_add_ps(acc[1], acc[3]));
    }
  } else {  // lanes 0-15 (acc0, acc1), then 16-31 (acc2, acc3): half the query in registers
    __m256 first[8][2];
    for (int half = 0; half < 2; ++half) {
      __m256 qv[2 * NS];
      for (int st = 0; st < NS; ++st)
        for (int c = 0; c < 2; ++c)
          qv[2 * st + c] = _mm256_loadu_ps(a + 32 * st + 16 * half + 8 * c);
      for (int t = 0; t < 8; ++t) {
        const float* kt = tile + t * 32 * NS + 16 * half;
        __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
        for (int st = 0; st < NS; ++st)
          for (int c = 0; c < 2; ++c)
            acc[c] = _mm256_fmadd_ps(qv[2 * st + c], _mm256_loadu_ps(kt + 32 * st + 8 * c), acc[c]);
        if (half == 0) {
          first[t][0] = acc[0];
          first[t][1] = acc[1];
        } else {
          y[t] =
              _mm256_add_ps(_mm256_add_ps(first[t][0], acc[0]), _mm256_add_ps(first[t][1], acc[1]));
        }
      }
    }
  }
}

// scores[g * n_kv + j] = ggml_vec_dot_f16(qr_g, k_j) for the n_q rounded
// queries; each tile of 8 keys is converted to f32 once for all of them.
template <int NS>
void scores_f16_tiles(const float* qr, int64_t n_q, int64_t hd, const uint8_t* const* k,
                      int64_t n_kv, float* scores, float* tile) {
  const int64_t np = hd & ~int64_t{31};
  for (int64_t j0 = 0; j0 < n_kv; j0 += 8) {
    const int64_t nt = min64(8, n_kv - j0);
    prefetch_tile(k, j0, 8, n_kv, 2 * hd);
    // Keys past n_kv repeat key j0 (valid memory; their lanes are dropped).
    for (int64_t t = 0; t < 8 && np > 0; ++t) {
      const auto* src = reinterpret_cast<const uint16_t*>(k[t < nt ? j0 + t : j0]);
      for (int64_t i = 0; i < np; i += 8)
        _mm256_storeu_ps(
            tile + t * np + i,
            _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
    }
    for (int64_t g = 0; g < n_q; ++g) {
      const float* a = qr + g * hd;
      float* s = scores + g * n_kv + j0;
      __m256 sums = _mm256_setzero_ps();
      if (np > 0) {
        __m256 y[8];
        key_lanes_f16<NS>(a, tile, np, y);
        sums = reduce_keys8(y);
      }
      if (np == hd) {
        store_first(s, sums, nt);
        continue;
      }
      // Elements past the last full step of 32, added in double.
      alignas(32) float r[8];
      _mm256_store_ps(r, sums);
      for (int64_t t = 0; t < nt; ++t) {
        const auto* kh = reinterpret_cast<const uint16_t*>(k[j0 + t]);
        double sum = static_cast<double>(r[t]);
        for (int64_t i = np; i < hd; ++i) sum += static_cast<double>(a[i] * f16_to_f32(kh[i]));
        s[t] = static_cast<float>(sum);
      }
    }
  }
}

void scores_f16(const float* qr, int64_t n_q, int64_t hd, const uint8_t* const* k, int64_t n_kv,
                float* scores, float* tile) {
  switch (hd / 32) {
    case 1:
      scores_f16_tiles<1>(qr, n_q, hd, k, n_kv, scores, tile);
      return;
    case 2:
      scores_f16_tiles<2>(qr, n_q, hd, k, n_kv, scores, tile);
      return;
    case 3:
      scores_f16_tiles<3>(qr, n_q, hd, k, n_kv, scores, tile);
      return;
    case 4:
      scores_f16_tiles<4>(qr, n_q, hd, k, n_kv, scores, tile);
      return;
    default:
      scores_f16_tiles<0>(qr, n_q, hd, k, n_kv, scores, tile);
      return;
  }
}

// One of ggml_vec_dot_f16's 32 lanes of the f16 P.V product for heads
// g0 .. g0 + NG and dims d0 .. d0 + 8 * NV: acc[g][c] += p[g][j] * v_j for
// keys j = j_begin, j_begin + 32, ... < j_end, in that order.
template <int NG, int NV>
inline void lane_chain(const float* p, int64_t n_kv, const uint8_t* const* v, int64_t d0,
                       int64_t g0, int64_t j_begin, int64_t j_end, __m256 (&acc)[NG][NV]) {
  for (int64_t j = j_begin; j < j_end; j += 32) {
    const auto* vj = reinterpret_cast<const uint16_t*>(v[j]) + d0;
    __m256 vv[NV];
    for (int c = 0; c < NV; ++c)
      vv[c] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(vj + 8 * c)));
    for (int g = 0; g < NG; ++g) {
      const __m256 pj = _mm256_broadcast_ss(p + (g0 + g) * n_kv + j);
      for (int c = 0; c < NV; ++c) acc[g][c] = _mm256_fmadd_ps(pj, vv[c], acc[g][c]);
    }
  }
}

// out[g][d0 .. d0 + 8 * NV) for heads g0 .. g0 + NG, all keys at once (n_kv <=
// kPvChunkKeys). The lanes are computed in the order the tree combines them
// (kLaneOrder), so only 8 lanes and 4 partial sums are ever stored.
template <int NG, int NV>
void pv_f16_block(const float* p, int64_t n_kv, const uint8_t* const* v, int64_t d0, int64_t g0,
                  int64_t hd, float* out, float* lanes) {
  constexpr int64_t kSlot = NG * NV * 8;  // floats per stored lane
  float* slot = lanes;                    // [8][kSlot]
  float* tsum = lanes + 8 * kSlot;        // [4][kSlot]
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 8; ++i) {
      __m256 acc[NG][NV];
      for (int g = 0; g < NG; ++g)
        for (int c = 0; c < NV; ++c) acc[g][c] = _mm256_setzero_ps();
      lane_chain<NG, NV>(p, n_kv, v, d0, g0, t + kLaneOrder[i], n_kv, acc);
      for (int g = 0; g < NG; ++g)
        for (int c = 0; c < NV; ++c)
          _mm256_storeu_ps(slot + i * kSlot + (g * NV + c) * 8, acc[g][c]);
    }
    for (int e = 0; e < NG * NV * 8; e += 8) {
      const auto at = [&](int i) { return _mm256_loadu_ps(slot + i * kSlot + e); };
      const __m256 x0 = _mm256_add_ps(_mm256_add_ps(at(0), at(1)), _mm256_add_ps(at(2), at(3)));
      const __m256 x4 = _mm256_add_ps(_mm256_add_ps(at(4), at(5)), _mm256_add_ps(at(6), at(7)));
      _mm256_storeu_ps(tsum + t * kSlot + e, _mm256_add_ps(x0, x4));
    }
  }
  for (int g = 0; g < NG; ++g)
    for (int c = 0; c < NV; ++c) {
      const float* s = tsum + (g * NV + c) * 8;
      const __m256 r = _mm256_add_ps(
          _mm256_add_ps(_mm256_loadu_ps(s), _mm256_loadu_ps(s + kSlot)),
          _mm256_add_ps(_mm256_loadu_ps(s + 2 * kSlot), _mm256_loadu_ps(s + 3 * kSlot)));
      _mm256_storeu_ps(out + (g0 + g) * hd + d0 + 8 * c, r);
    }
}

// Keys [c0, c1) (c0 a multiple of 32) of every lane for heads g0 .. g0 + NG
// and dims d0 .. d0 + 8 * NV, the lanes' running sums kept in `state`
// ([32][n_q * hd], lane l of head g, dim d at l * stride + g * hd + d).
template <int NG, int NV>
void pv_f16_chunk(const float* p, int64_t n_kv, const uint8_t* const* v, int64_t d0, int64_t g0,
                  int64_t hd, int64_t c0, int64_t c1, float* state, int64_t stride) {
  for (int64_t l = 0; l < 32; ++l) {
    float* st = state + l * stride + g0 * hd + d0;
    __m256 acc[NG][NV];
    for (int g = 0; g < NG; ++g)
      for (int c = 0; c < NV; ++c)
        acc[g][c] = c0 == 0 ? _mm256_setzero_ps() : _mm256_loadu_ps(st + g * hd + 8 * c);
    lane_chain<NG, NV>(p, n_kv, v, d0, g0, c0 + l, c1, acc);
    for (int g = 0; g < NG; ++g)
      for (int c = 0; c < NV; ++c) _mm256_storeu_ps(st + g * hd + 8 * c, acc[g][c]);
  }
}

// Heads g0 .. g0 + NG: dims in blocks of 8 * NV, then of 8, then one lane
// array per remaining dim (all keys).
template <int NG, int NV>
void pv_f16_heads(const float* p, int64_t n_kv, const uint8_t* const* v, int64_t g0, int64_t hd,
                  float* out, float* lanes, int64_t c0, int64_t c1, int64_t stride) {
  const bool chunked = stride > 0;
  int64_t d0 = 0;
  for (; d0 + 8 * NV <= hd; d0 += 8 * NV)
    chunked ? pv_f16_chunk<NG, NV>(p, n_kv, v, d0, g0, hd, c0, c1, lanes, stride)
            : pv_f16_block<NG, NV>(p, n_kv, v, d0, g0, hd, out, lanes);
  for (; d0 + 8 <= hd; d0 += 8)
    chunked ? pv_f16_chunk<NG, 1>(p, n_kv, v, d0, g0, hd, c0, c1, lanes, stride)
            : pv_f16_block<NG, 1>(p, n_kv, v, d0, g0, hd, out, lanes);
  if (c0 != 0) return;  // the remaining dims are done over all keys with the first chunk
  for (; d0 < hd; ++d0)
    for (int64_t g = g0; g < g0 + NG; ++g) {
      float acc[32] = {};
      for (int64_t j = 0; j < n_kv; ++j)
        acc[j % 32] = fma_ss(p[g * n_kv + j],
                             f16_to_f32(reinterpret_cast<const uint16_t*>(v[j])[d0]), acc[j % 32]);
      out[g * hd + d0] = reduce_lanes1(acc);
    }
}

// Every head, keys [c0, c1): blocks of up to 4 heads with as many dims as make
// 8 FMA chains.
void pv_f16_heads_all(const float* p, int64_t n_q, int64_t n_kv, const uint8_t* const* v,
                      int64_t hd, float* out, float* lanes, int64_t c0, int64_t c1,
                      int64_t stride) {
  for (int64_t g0 = 0; g0 < n_q; g0 += kGroup) {
    switch (min64(kGroup, n_q - g0)) {
      case 1:
        pv_f16_heads<1, 8>(p, n_kv, v, g0, hd, out, lanes, c0, c1, stride);
        break;
      case 2:
        pv_f16_heads<2, 4>(p, n_kv, v, g0, hd, out, lanes, c0, c1, stride);
        break;
      case 3:
        pv_f16_heads<3, 2>(p, n_kv, v, g0, hd, out, lanes, c0, c1, stride);
        break;
      default:
        pv_f16_heads<4, 2>(p, n_kv, v, g0, hd, out, lanes, c0, c1, stride);
        break;
    }
  }
}

// out[g] = sum over keys of p[g][j] * v_j in ggml_vec_dot_f16's lane order.
// Up to kPvChunkKeys keys: lane by lane over all keys. More: chunk by chunk
// (each chunk's value rows stay in cache while every lane passes over them;
// the lane sums wait in `lanes`), then the 32-lane tree per output vector.
void pv_f16(const float* p, int64_t n_q, int64_t n_kv, const uint8_t* const* v, int64_t hd,
            float* out, float* lanes) {
  if (n_kv <= kPvChunkKeys) {
    pv_f16_heads_all(p, n_q, n_kv, v, hd, out, lanes, 0, n_kv, 0);
    return;
  }
  const int64_t stride = n_q * hd;
  for (int64_t c0 = 0; c0 < n_kv; c0 += kPvChunkKeys) {
    prefetch_chunk(v, c0, n_kv, 2 * hd);
    const int64_t c1 = min64(n_kv, c0 + kPvChunkKeys);
    pv_f16_heads_all(p, n_q, n_kv, v, hd, out, lanes, c0, c1, stride);
  }
  for (int64_t g = 0; g < n_q; ++g)
    for (int64_t d = 0; d + 8 <= hd; d += 8)
      _mm256_storeu_ps(out + g * hd + d, reduce_lanes8(lanes + g * hd + d, stride));
}

// scores[g * n_kv + j] = sum_d q_g[d] * k_j[d], one float sum per key in
// element order: 8 keys across the lanes of a transposed tile.
void scores_f32(const float* q, int64_t n_q, int64_t hd, const uint8_t* const* k, int64_t n_kv,
                float* scores, float* kt) {
  for (int64_t j0 = 0; j0 < n_kv; j0 += 8) {
    const int64_t nt = min64(8, n_kv - j0);
    prefetch_tile(k, j0, 8, n_kv, 4 * hd);
    const float* rows[8];
    for (int64_t t = 0; t < 8; ++t)
      rows[t] = reinterpret_cast<const float*>(k[t < nt ? j0 + t : j0]);
    int64_t d = 0;
    for (; d + 8 <= hd; d += 8) {
      __m256 r[8], c[8];
      for (int t = 0; t < 8; ++t) r[t] = _mm256_loadu_ps(rows[t] + d);
      transpose8(r, c);
      for (int i = 0; i < 8; ++i) _mm256_storeu_ps(kt + (d + i) * 8, c[i]);
    }
    for (; d < hd; ++d)
      for (int t = 0; t < 8; ++t) kt[d * 8 + t] = rows[t][d];
    int64_t g = 0;
    for (; g + 4 <= n_q; g += 4) {
      const float* q0 = q + g * hd;
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int64_t e = 0; e < hd; ++e) {
        const __m256 kv = _mm256_loadu_ps(kt + e * 8);
        a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_broadcast_ss(q0 + e), kv));
        a1 = _mm256_add_ps(a1, _mm256_mul_ps(_mm256_broadcast_ss(q0 + hd + e), kv));
        a2 = _mm256_add_ps(a2, _mm256_mul_ps(_mm256_broadcast_ss(q0 + 2 * hd + e), kv));
        a3 = _mm256_add_ps(a3, _mm256_mul_ps(_mm256_broadcast_ss(q0 + 3 * hd + e), kv));
      }
      store_first(scores + g * n_kv + j0, a0, nt);
      store_first(scores + (g + 1) * n_kv + j0, a1, nt);
      store_first(scores + (g + 2) * n_kv + j0, a2, nt);
      store_first(scores + (g + 3) * n_kv + j0, a3, nt);
    }
    for (; g < n_q; ++g) {
      __m256 a0 = _mm256_setzero_ps();
      for (int64_t e = 0; e < hd; ++e)
        a0 = _mm256_add_ps(
            a0, _mm256_mul_ps(_mm256_broadcast_ss(q + g * hd + e), _mm256_loadu_ps(kt + e * 8)));
      store_first(scores + g * n_kv + j0, a0, nt);
    }
  }
}

// out[g][d0 .. d0 + 8 * NV) = sum over keys in order of p[g][j] * v_j (float).
template <int NG, int NV>
void pv_f32_block(const float* p, int64_t n_kv, const uint8_t* const* v, int64_t d0, int64_t g0,
                  int64_t hd, float* out) {
  __m256 acc[NG][NV];
  for (int g = 0; g < NG; ++g)
    for (int c = 0; c < NV; ++c) acc[g][c] = _mm256_setzero_ps();
  for (int64_t j = 0; j < n_kv; ++j) {
    const float* vj = reinterpret_cast<const float*>(v[j]) + d0;
    __m256 vv[NV];
    for (int c = 0; c < NV; ++c) vv[c] = _mm256_loadu_ps(vj + 8 * c);
    for (int g = 0; g < NG; ++g) {
      const __m256 pj = _mm256_broadcast_ss(p + (g0 + g) * n_kv + j);
      for (int c = 0; c < NV; ++c) acc[g][c] = _mm256_add_ps(acc[g][c], _mm256_mul_ps(pj, vv[c]));
    }
  }
  for (int g = 0; g < NG; ++g)
    for (int c = 0; c < NV; ++c) _mm256_storeu_ps(out + (g0 + g) * hd + d0 + 8 * c, acc[g][c]);
}

template <int NV>
void pv_f32_heads(int64_t ng, const float* p, int64_t n_kv, const uint8_t* const* v, int64_t d0,
                  int64_t g0, int64_t hd, float* out) {
  switch (ng) {
    case 1:
      pv_f32_block<1, NV>(p, n_kv, v, d0, g0, hd, out);
      return;
    case 2:
      pv_f32_block<2, NV>(p, n_kv, v, d0, g0, hd, out);
      return;
    case 3:
      pv_f32_block<3, NV>(p, n_kv, v, d0, g0, hd, out);
      return;
    default:
      pv_f32_block<4, NV>(p, n_kv, v, d0, g0, hd, out);
      return;
  }
}

void pv_f32(const float* p, int64_t n_q, int64_t n_kv, const uint8_t* const* v, int64_t hd,
            float* out) {
  for (int64_t g0 = 0; g0 < n_q; g0 += kGroup) {
    const int64_t ng = min64(kGroup, n_q - g0);
    int64_t d0 = 0;
    for (; d0 + 16 <= hd; d0 += 16) pv_f32_heads<2>(ng, p, n_kv, v, d0, g0, hd, out);
    for (; d0 + 8 <= hd; d0 += 8) pv_f32_heads<1>(ng, p, n_kv, v, d0, g0, hd, out);
    for (; d0 < hd; ++d0)
      for (int64_t g = g0; g < g0 + ng; ++g) {
        float o = 0.0f;
        for (int64_t j = 0; j < n_kv; ++j)
          o += p[g * n_kv + j] * reinterpret_cast<const float*>(v[j])[d0];
        out[g * hd + d0] = o;
      }
  }
}

// For heads h < NH: acc[h] = acc[h] * rescale[h][t] + rows[t] * weight[h][t]
// for keys t < nt in order (each product rounded, then the sum: the scalar
// acc *= rescale; acc += v * w, as acc * 1 == acc), 8 * NB dims from d0 in
// registers.
template <int NH, int NB>
void accumulate_block(float* const* acc, const float* const* rows, int64_t nt,
                      const float (*rescale)[kTileKeys], const float (*weight)[kTileKeys],
                      int64_t d0) {
  __m256 a[NH][NB];
  for (int h = 0; h < NH; ++h)
    for (int b = 0; b < NB; ++b) a[h][b] = _mm256_loadu_ps(acc[h] + d0 + 8 * b);
  for (int64_t t = 0; t < nt; ++t) {
    __m256 r[NH], w[NH];
    for (int h = 0; h < NH; ++h) {
      r[h] = _mm256_set1_ps(rescale[h][t]);
      w[h] = _mm256_set1_ps(weight[h][t]);
    }
    for (int b = 0; b < NB; ++b) {
      const __m256 v = _mm256_loadu_ps(rows[t] + d0 + 8 * b);
      for (int h = 0; h < NH; ++h)
        a[h][b] = _mm256_add_ps(_mm256_mul_ps(a[h][b], r[h]), _mm256_mul_ps(v, w[h]));
    }
  }
  for (int h = 0; h < NH; ++h)
    for (int b = 0; b < NB; ++b) _mm256_storeu_ps(acc[h] + d0 + 8 * b, a[h][b]);
}

template <int NH>
void accumulate_tile(float* const* acc, const float* const* rows, int64_t nt,
                     const float (*rescale)[kTileKeys], const float (*weight)[kTileKeys],
                     int64_t hd) {
  int64_t d0 = 0;
  for (; d0 + 32 <= hd; d0 += 32) accumulate_block<NH, 4>(acc, rows, nt, rescale, weight, d0);
  for (; d0 + 8 <= hd; d0 += 8) accumulate_block<NH, 1>(acc, rows, nt, rescale, weight, d0);
  for (; d0 < hd; ++d0)
    for (int h = 0; h < NH; ++h)
      for (int64_t t = 0; t < nt; ++t)
        acc[h][d0] = acc[h][d0] * rescale[h][t] + rows[t][d0] * weight[h][t];
}

}  // namespace

void expf_row(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp8(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i m = first_lanes(n - i);
    _mm256_maskstore_ps(y + i, m, exp8(_mm256_maskload_ps(x + i, m)));
  }
}

void attend_f16(const Job& job) {
  const int64_t hd = job.head_dim, n_q = job.n_q, n_kv = job.n_kv;
  Work w(job.work, n_q, hd);
  float* qr = w.head;  // queries rounded to f16
  round_fp16_row(job.q, qr, n_q * hd);
  scores_f16(qr, n_q, hd, job.k, n_kv, job.scores, w.tile);
  for (int64_t g = 0; g < n_q; ++g) softmax_row(job.scores + g * n_kv, n_kv, job.scale, true);
  pv_f16(job.scores, n_q, n_kv, job.v, hd, job.out, w.lanes);
}

void attend_f32(const Job& job) {
  const int64_t hd = job.head_dim, n_q = job.n_q, n_kv = job.n_kv;
  Work w(job.work, n_q, hd);
  scores_f32(job.q, n_q, hd, job.k, n_kv, job.scores, w.tile);
  for (int64_t g = 0; g < n_q; ++g) softmax_row(job.scores + g * n_kv, n_kv, job.scale, false);
  pv_f32(job.scores, n_q, n_kv, job.v, hd, job.out);
}

void decoded_scores(const ScoresJob& job) {
  const int64_t hd = job.head_dim, n_q = job.n_q, n_kv = job.n_kv;
  const int64_t nq = (n_q + 3) & ~int64_t{3};
  // The queries as doubles, heads across the lanes: qt[d * nq + g].
  auto* qt = reinterpret_cast<double*>(job.work);
  float* krows = job.work + 2 * nq * hd;  // [2][hd]
  for (int64_t d = 0; d < hd; ++d)
    for (int64_t g = 0; g < nq; ++g)
      qt[d * nq + g] = g < n_q ? static_cast<double>(job.q[g * hd + d]) : 0.0;
  for (int64_t j = 0; j < n_kv; j += 2) {  // two keys at a time: two chains per head block
    const bool two = j + 1 < n_kv;
    const float* k0 = decode_row(job.format, job.type, job.first, job.k[j], hd, krows);
    const float* k1 =
        two ? decode_row(job.format, job.type, job.first, job.k[j + 1], hd, krows + hd) : k0;
    for (int64_t g0 = 0; g0 < nq; g0 += 4) {
      __m256d a0 = _mm256_setzero_pd(), a1 = a0;
      for (int64_t d = 0; d < hd; ++d) {
        const __m256d qv = _mm256_loadu_pd(qt + d * nq + g0);
        a0 = _mm256_add_pd(a0, _mm256_mul_pd(qv, _mm256_set1_pd(static_cast<double>(k0[d]))));
        a1 = _mm256_add_pd(a1, _mm256_mul_pd(qv, _mm256_set1_pd(static_cast<double>(k1[d]))));
      }
      double r0[4], r1[4];
      _mm256_storeu_pd(r0, a0);
      _mm256_storeu_pd(r1, a1);
      for (int64_t g = g0; g < g0 + 4 && g < n_q; ++g) {
        job.scores[g * n_kv + j] = static_cast<float>(r0[g - g0]) * job.scale;
        if (two) job.scores[g * n_kv + j + 1] = static_cast<float>(r1[g - g0]) * job.scale;
      }
    }
  }
}

void accumulate_online(const OnlineJob& job) {
  const int64_t hd = job.head_dim, n_q = job.n_q, n_kv = job.n_kv;
  Work w(job.work, n_q, hd);
  float* acc = w.head;
  float* max = w.aux;
  float* sum = w.aux + n_q;
  for (int64_t i = 0; i < n_q * hd; ++i) acc[i] = 0.0f;
  for (int64_t g = 0; g < n_q; ++g) {
    max[g] = -__builtin_inff();
    sum[g] = 0.0f;
  }
  for (int64_t j0 = 0; j0 < n_kv; j0 += kTileKeys) {
    const int64_t nt = min64(kTileKeys, n_kv - j0);
    const float* rows[kTileKeys];
    for (int64_t t = 0; t < nt; ++t)  // each value row decoded once for every head
      rows[t] = decode_row(job.format, job.type, job.first, job.v[j0 + t], hd, w.tile + t * hd);
    // Two heads at a time share the value loads.
    for (int64_t g = 0; g < n_q; g += 2) {
      const int nh = g + 1 < n_q ? 2 : 1;
      float rescale[2][kTileKeys], weight[2][kTileKeys];
      float* heads[2];
      for (int h = 0; h < nh; ++h) {
        online_factors(job.scores + (g + h) * n_kv + j0, nt, max[g + h], sum[g + h], rescale[h],
                       weight[h]);
        heads[h] = acc + (g + h) * hd;
      }
      if (nh == 2)
        accumulate_tile<2>(heads, rows, nt, rescale, weight, hd);
      else
        accumulate_tile<1>(heads, rows, nt, rescale, weight, hd);
    }
  }
  for (int64_t g = 0; g < n_q; ++g) {
    const float inv = sum[g] == 0.0f ? 0.0f : 1.0f / sum[g];
    const __m256 vi = _mm256_set1_ps(inv);
    int64_t d = 0;
    for (; d + 8 <= hd; d += 8)
      _mm256_storeu_ps(job.out + g * hd + d, _mm256_mul_ps(_mm256_loadu_ps(acc + g * hd + d), vi));
    for (; d < hd; ++d) job.out[g * hd + d] = acc[g * hd + d] * inv;
  }
}

}  // namespace pagoda::kernels::attn::avx2
