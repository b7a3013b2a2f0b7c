// AVX-512 (F/BW/VL) attention kernels (attention_kernels.h), bit-identical to
// the scalar definition (attention_ref.cpp) and the AVX2 kernels, in the AVX2
// kernels' shapes with 16 lanes:
//  - f16 scores: ggml_vec_dot_f16's 32 FMA lanes are 2 zmm accumulators
//    (lanes 0-15, 16-31); adding them is the tree's first level for all 16
//    lanes, adding the halves its second; then 8 keys at once as on AVX2.
//  - f16 P.V: blocks of heads x 16-dim vectors, two lanes (l, l + 16) at once
//    for 8 FMA chains; masked loads and stores for head sizes that are not
//    multiples of 16; chunks beyond kPvChunkKeys keys as on AVX2.
//  - f32 scores: 16 keys across the lanes; f32 P.V and the online path across
//    16 dims; decoded-key scores with 8 heads across the lanes.
#include "kernels/attention_kernels.h"
#include "kernels/attention_simd.h"

namespace pagoda::kernels::attn::avx512 {
namespace {

constexpr int64_t kGroup = 4;  // query heads per register block

inline int64_t min64(int64_t a, int64_t b) {
  return a < b ? a : b;
}

// Work area layout as on AVX2.
struct Work {
  float* head;   // [n_q * hd]
  float* aux;    // [2 * n_q]
  float* tile;   // [kTileKeys * hd] (f16: [8 * hd])
  float* lanes;  // f16: the P.V lane sums (attn::work_floats)
  Work(float* w, int64_t n_q, int64_t hd)
      : head(w), aux(w + n_q * hd), tile(aux + 2 * n_q), lanes(tile + 8 * hd) {}
};

// Lanes [0, n) set (none for n <= 0).
inline __mmask16 first16(int64_t n) {
  return static_cast<__mmask16>(n >= 16 ? 0xFFFF : n <= 0 ? 0 : (1u << n) - 1);
}

// 16 fp16 -> 16 floats. (The maskz forms, here and below, avoid GCC 12's
// -Wmaybe-uninitialized on the plain intrinsics' undefined pass-through.)
inline __m512 cvt_f16x16(__m256i h) {
  return _mm512_maskz_cvtph_ps(0xFFFF, h);
}

// The fp16 values of mask m -> floats, zeros elsewhere (no access outside m).
inline __m512 load_f16x16(const uint16_t* p, __mmask16 m) {
  return cvt_f16x16(_mm256_maskz_loadu_epi16(m, p));
}

// The low / high 8 floats of z.
inline __m256 low8(__m512 z) {
  return _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xFF, _mm512_castps_pd(z), 0));
}
inline __m256 high8(__m512 z) {
  return _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xFF, _mm512_castps_pd(z), 1));
}

// y[t] = the 8 lanes of key t < 8 of a converted K tile [8, np] after the
// first levels of ggml_vec_dot_f16's tree: lanes 0-15 + lanes 16-31, then the
// two halves added. NS = np / 32 with the query in registers, 0 for any np.
template <int NS>
void key_lanes_f16(const float* a, const float* tile, int64_t np, __m256* y) {
  if constexpr (NS == 0) {
    for (int t = 0; t < 8; ++t) {
      const float* kt = tile + t * np;
      __m512 lo = _mm512_setzero_ps(), hi = lo;
      for (int64_t i = 0; i < np; i += 32) {
        lo = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(kt + i), lo);
        hi = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(kt + i + 16), hi);
      }
      const __m512 z = _mm512_add_ps(lo, hi);  // x[l] += x[16 + l] for l < 16
      y[t] = _mm256_add_ps(low8(z), high8(z));
    }
  } else {
    __m512 qv[2 * NS];
    for (int i = 0; i < 2 * NS; ++i) qv[i] = _mm512_loadu_ps(a + 16 * i);
    for (int t = 0; t < 8; ++t) {
      const float* kt = tile + t * 32 * NS;
      __m512 lo = _mm512_setzero_ps(), hi = lo;
      for (int st = 0; st < NS; ++st) {
        lo = _mm512_fmadd_ps(qv[2 * st], _mm512_loadu_ps(kt + 32 * st), lo);
        hi = _mm512_fmadd_ps(qv[2 * st + 1], _mm512_loadu_ps(kt + 32 * st + 16), hi);
      }
      const __m512 z = _mm512_add_ps(lo, hi);
      y[t] = _mm256_add_ps(low8(z), high8(z));
    }
  }
}

template <int NS>
void scores_f16_tiles(const float* qr, int64_t n_q, int64_t hd, const uint8_t* const* k,
                      int64_t n_kv, float* scores, float* tile) {
  const int64_t np = hd & ~int64_t{31};
  for (int64_t j0 = 0; j0 < n_kv; j0 += 8) {
    const int64_t nt = min64(8, n_kv - j0);
    prefetch_tile(k, j0, 8, n_kv, 2 * hd);
    for (int64_t t = 0; t < 8 && np > 0; ++t) {
      const auto* src = reinterpret_cast<const uint16_t*>(k[t < nt ? j0 + t : j0]);
      for (int64_t i = 0; i < np; i += 16)
        _mm512_storeu_ps(tile + t * np + i,
                         cvt_f16x16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
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

// scores[g * n_kv + j] = ggml_vec_dot_f16(qr_g, k_j) (see the AVX2 kernel).
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

// out[g][d0 .. d0 + 16 * NV) for heads g0 .. g0 + NG of the f16 P.V product,
// the last 16 dims those of mask `last`: as on AVX2 (lanes in the tree's
// order, NG heads x 16 * NV dims = 64 floats per lane), with two lanes l and
// l + 16 (neighbours in kLaneOrder) advanced together for 8 FMA chains.
template <int NG, int NV>
void pv_f16_block(const float* p, int64_t n_kv, const uint8_t* const* v, int64_t d0, __mmask16 last,
                  int64_t g0, int64_t hd, float* out, float* lanes) {
  constexpr int64_t kSlot = NG * NV * 16;  // floats per stored lane
  float* slot = lanes;                     // [8][kSlot]
  float* tsum = lanes + 8 * kSlot;         // [4][kSlot]
  const auto load_v = [&](int64_t j, __m512* vv) {
    const auto* vj = reinterpret_cast<const uint16_t*>(v[j]) + d0;
    for (int c = 0; c < NV; ++c) vv[c] = load_f16x16(vj + 16 * c, c == NV - 1 ? last : 0xFFFF);
  };
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 8; i += 2) {  // lanes la and la + 16
      const int64_t la = t + kLaneOrder[i];
      __m512 a[NG][NV], b[NG][NV];
      for (int g = 0; g < NG; ++g)
        for (int c = 0; c < NV; ++c) a[g][c] = b[g][c] = _mm512_setzero_ps();
      int64_t j = la;
      for (; j + 16 < n_kv; j += 32) {
        __m512 va[NV], vb[NV];
        load_v(j, va);
        load_v(j + 16, vb);
        for (int g = 0; g < NG; ++g) {
          const __m512 pa = _mm512_set1_ps(p[(g0 + g) * n_kv + j]);
          const __m512 pb = _mm512_set1_ps(p[(g0 + g) * n_kv + j + 16]);
          for (int c = 0; c < NV; ++c) {
            a[g][c] = _mm512_fmadd_ps(pa, va[c], a[g][c]);
            b[g][c] = _mm512_fmadd_ps(pb, vb[c], b[g][c]);
          }
        }
      }
      if (j < n_kv) {  // lane la's last key; lane la + 16 has none left
        __m512 va[NV];
        load_v(j, va);
        for (int g = 0; g < NG; ++g) {
          const __m512 pa = _mm512_set1_ps(p[(g0 + g) * n_kv + j]);
          for (int c = 0; c < NV; ++c) a[g][c] = _mm512_fmadd_ps(pa, va[c], a[g][c]);
        }
      }
      for (int g = 0; g < NG; ++g)
        for (int c = 0; c < NV; ++c) {
          _mm512_storeu_ps(slot + i * kSlot + (g * NV + c) * 16, a[g][c]);
          _mm512_storeu_ps(slot + (i + 1) * kSlot + (g * NV + c) * 16, b[g][c]);
        }
    }
    for (int e = 0; e < NG * NV * 16; e += 16) {
      const auto at = [&](int i) { return _mm512_loadu_ps(slot + i * kSlot + e); };
      const __m512 x0 = _mm512_add_ps(_mm512_add_ps(at(0), at(1)), _mm512_add_ps(at(2), at(3)));
      const __m512 x4 = _mm512_add_ps(_mm512_add_ps(at(4), at(5)), _mm512_add_ps(at(6), at(7)));
      _mm512_storeu_ps(tsum + t * kSlot + e, _mm512_add_ps(x0, x4));
    }
  }
  for (int g = 0; g < NG; ++g)
    for (int c = 0; c < NV; ++c) {
      const float* s = tsum + (g * NV + c) * 16;
      const __m512 r = _mm512_add_ps(
          _mm512_add_ps(_mm512_loadu_ps(s), _mm512_loadu_ps(s + kSlot)),
          _mm512_add_ps(_mm512_loadu_ps(s + 2 * kSlot), _mm512_loadu_ps(s + 3 * kSlot)));
      _mm512_mask_storeu_ps(out + (g0 + g) * hd + d0 + 16 * c, c == NV - 1 ? last : 0xFFFF, r);
    }
}

// Keys [c0, c1) (c0 a multiple of 32) of every lane for heads g0 .. g0 + NG
// and dims d0 .. d0 + 16 * NV (the last 16 those of `last`), the lanes'
// running sums in `state` ([32][n_q * hd], as on AVX2).
template <int NG, int NV>
void pv_f16_chunk(const float* p, int64_t n_kv, const uint8_t* const* v, int64_t d0, __mmask16 last,
                  int64_t g0, int64_t hd, int64_t c0, int64_t c1, float* state, int64_t stride) {
  for (int64_t l = 0; l < 32; ++l) {
    float* st = state + l * stride + g0 * hd + d0;
    __m512 acc[NG][NV];
    for (int g = 0; g < NG; ++g)
      for (int c = 0; c < NV; ++c)
        acc[g][c] = c0 == 0
                        ? _mm512_setzero_ps()
                        : _mm512_maskz_loadu_ps(c == NV - 1 ? last : 0xFFFF, st + g * hd + 16 * c);
    for (int64_t j = c0 + l; j < c1; j += 32) {
      const auto* vj = reinterpret_cast<const uint16_t*>(v[j]) + d0;
      __m512 vv[NV];
      for (int c = 0; c < NV; ++c) vv[c] = load_f16x16(vj + 16 * c, c == NV - 1 ? last : 0xFFFF);
      for (int g = 0; g < NG; ++g) {
        const __m512 pj = _mm512_set1_ps(p[(g0 + g) * n_kv + j]);
        for (int c = 0; c < NV; ++c) acc[g][c] = _mm512_fmadd_ps(pj, vv[c], acc[g][c]);
      }
    }
    for (int g = 0; g < NG; ++g)
      for (int c = 0; c < NV; ++c)
        _mm512_mask_storeu_ps(st + g * hd + 16 * c, c == NV - 1 ? last : 0xFFFF, acc[g][c]);
  }
}

template <int NG, int NV>
void pv_f16_heads(const float* p, int64_t n_kv, const uint8_t* const* v, int64_t g0, int64_t hd,
                  float* out, float* lanes, int64_t c0, int64_t c1, int64_t stride) {
  int64_t d0 = 0;
  if (stride == 0) {  // all keys at once
    for (; d0 + 16 * NV <= hd; d0 += 16 * NV)
      pv_f16_block<NG, NV>(p, n_kv, v, d0, 0xFFFF, g0, hd, out, lanes);
    for (; d0 < hd; d0 += 16)
      pv_f16_block<NG, 1>(p, n_kv, v, d0, first16(hd - d0), g0, hd, out, lanes);
    return;
  }
  for (; d0 + 16 * NV <= hd; d0 += 16 * NV)
    pv_f16_chunk<NG, NV>(p, n_kv, v, d0, 0xFFFF, g0, hd, c0, c1, lanes, stride);
  for (; d0 < hd; d0 += 16)
    pv_f16_chunk<NG, 1>(p, n_kv, v, d0, first16(hd - d0), g0, hd, c0, c1, lanes, stride);
}

void pv_f16_heads_all(const float* p, int64_t n_q, int64_t n_kv, const uint8_t* const* v,
                      int64_t hd, float* out, float* lanes, int64_t c0, int64_t c1,
                      int64_t stride) {
  for (int64_t g0 = 0; g0 < n_q; g0 += kGroup) {
    const int64_t ng = min64(kGroup, n_q - g0);
    if (stride == 0) {  // lane pairs give 8 chains
      switch (ng) {
        case 1:
          pv_f16_heads<1, 4>(p, n_kv, v, g0, hd, out, lanes, c0, c1, stride);
          break;
        case 2:
          pv_f16_heads<2, 2>(p, n_kv, v, g0, hd, out, lanes, c0, c1, stride);
          break;
        case 3:
          pv_f16_heads<3, 1>(p, n_kv, v, g0, hd, out, lanes, c0, c1, stride);
          break;
        default:
          pv_f16_heads<4, 1>(p, n_kv, v, g0, hd, out, lanes, c0, c1, stride);
          break;
      }
    } else {
      switch (ng) {
        case 1:
          pv_f16_heads<1, 4>(p, n_kv, v, g0, hd, out, lanes, c0, c1, stride);
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
}

// ggml_vec_dot_f16's reduction of 32 lanes of 16 independent sums each.
inline __m512 reduce_lanes16(const float* lanes, int64_t stride, __mmask16 m) {
  __m512 x[32];
  for (int l = 0; l < 32; ++l) x[l] = _mm512_maskz_loadu_ps(m, lanes + l * stride);
  for (int l = 0; l < 8; ++l) {
    x[l] = _mm512_add_ps(x[l], x[16 + l]);
    x[8 + l] = _mm512_add_ps(x[8 + l], x[24 + l]);
  }
  for (int l = 0; l < 8; ++l) x[l] = _mm512_add_ps(x[l], x[8 + l]);
  const __m512 t0 = _mm512_add_ps(x[0], x[4]), t1 = _mm512_add_ps(x[1], x[5]);
  const __m512 t2 = _mm512_add_ps(x[2], x[6]), t3 = _mm512_add_ps(x[3], x[7]);
  return _mm512_add_ps(_mm512_add_ps(t0, t1), _mm512_add_ps(t2, t3));
}

// out[g] = sum over keys of p[g][j] * v_j in ggml_vec_dot_f16's lane order,
// all keys at once or chunk by chunk as on AVX2.
void pv_f16(const float* p, int64_t n_q, int64_t n_kv, const uint8_t* const* v, int64_t hd,
            float* out, float* lanes) {
  if (n_kv <= kPvChunkKeys) {
    pv_f16_heads_all(p, n_q, n_kv, v, hd, out, lanes, 0, n_kv, 0);
    return;
  }
  const int64_t stride = n_q * hd;
  for (int64_t c0 = 0; c0 < n_kv; c0 += kPvChunkKeys) {
    prefetch_chunk(v, c0, n_kv, 2 * hd);
    pv_f16_heads_all(p, n_q, n_kv, v, hd, out, lanes, c0, min64(n_kv, c0 + kPvChunkKeys), stride);
  }
  for (int64_t g = 0; g < n_q; ++g)
    for (int64_t d = 0; d < hd; d += 16) {
      const __mmask16 m = first16(hd - d);
      _mm512_mask_storeu_ps(out + g * hd + d, m, reduce_lanes16(lanes + g * hd + d, stride, m));
    }
}

void scores_f32(const float* q, int64_t n_q, int64_t hd, const uint8_t* const* k, int64_t n_kv,
                float* scores, float* kt) {
  for (int64_t j0 = 0; j0 < n_kv; j0 += 16) {
    const int64_t nt = min64(16, n_kv - j0);
    prefetch_tile(k, j0, 16, n_kv, 4 * hd);
    const float* rows[16];
    for (int64_t t = 0; t < 16; ++t)
      rows[t] = reinterpret_cast<const float*>(k[t < nt ? j0 + t : j0]);
    int64_t d = 0;
    for (; d + 8 <= hd; d += 8)
      for (int h = 0; h < 2; ++h) {
        __m256 r[8], c[8];
        for (int t = 0; t < 8; ++t) r[t] = _mm256_loadu_ps(rows[8 * h + t] + d);
        transpose8(r, c);
        for (int i = 0; i < 8; ++i) _mm256_storeu_ps(kt + (d + i) * 16 + 8 * h, c[i]);
      }
    for (; d < hd; ++d)
      for (int t = 0; t < 16; ++t) kt[d * 16 + t] = rows[t][d];
    const __mmask16 keep = first16(nt);
    int64_t g = 0;
    for (; g + 4 <= n_q; g += 4) {
      const float* q0 = q + g * hd;
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int64_t e = 0; e < hd; ++e) {
        const __m512 kv = _mm512_loadu_ps(kt + e * 16);
        a0 = _mm512_add_ps(a0, _mm512_mul_ps(_mm512_set1_ps(q0[e]), kv));
        a1 = _mm512_add_ps(a1, _mm512_mul_ps(_mm512_set1_ps(q0[hd + e]), kv));
        a2 = _mm512_add_ps(a2, _mm512_mul_ps(_mm512_set1_ps(q0[2 * hd + e]), kv));
        a3 = _mm512_add_ps(a3, _mm512_mul_ps(_mm512_set1_ps(q0[3 * hd + e]), kv));
      }
      _mm512_mask_storeu_ps(scores + g * n_kv + j0, keep, a0);
      _mm512_mask_storeu_ps(scores + (g + 1) * n_kv + j0, keep, a1);
      _mm512_mask_storeu_ps(scores + (g + 2) * n_kv + j0, keep, a2);
      _mm512_mask_storeu_ps(scores + (g + 3) * n_kv + j0, keep, a3);
    }
    for (; g < n_q; ++g) {
      __m512 a0 = _mm512_setzero_ps();
      for (int64_t e = 0; e < hd; ++e)
        a0 = _mm512_add_ps(
            a0, _mm512_mul_ps(_mm512_set1_ps(q[g * hd + e]), _mm512_loadu_ps(kt + e * 16)));
      _mm512_mask_storeu_ps(scores + g * n_kv + j0, keep, a0);
    }
  }
}

template <int NG, int NV>
void pv_f32_block(const float* p, int64_t n_kv, const uint8_t* const* v, int64_t d0, __mmask16 last,
                  int64_t g0, int64_t hd, float* out) {
  __m512 acc[NG][NV];
  for (int g = 0; g < NG; ++g)
    for (int c = 0; c < NV; ++c) acc[g][c] = _mm512_setzero_ps();
  for (int64_t j = 0; j < n_kv; ++j) {
    const float* vj = reinterpret_cast<const float*>(v[j]) + d0;
    __m512 vv[NV];
    for (int c = 0; c < NV; ++c)
      vv[c] = _mm512_maskz_loadu_ps(c == NV - 1 ? last : 0xFFFF, vj + 16 * c);
    for (int g = 0; g < NG; ++g) {
      const __m512 pj = _mm512_set1_ps(p[(g0 + g) * n_kv + j]);
      for (int c = 0; c < NV; ++c) acc[g][c] = _mm512_add_ps(acc[g][c], _mm512_mul_ps(pj, vv[c]));
    }
  }
  for (int g = 0; g < NG; ++g)
    for (int c = 0; c < NV; ++c)
      _mm512_mask_storeu_ps(out + (g0 + g) * hd + d0 + 16 * c, c == NV - 1 ? last : 0xFFFF,
                            acc[g][c]);
}

template <int NV>
void pv_f32_heads(int64_t ng, const float* p, int64_t n_kv, const uint8_t* const* v, int64_t d0,
                  __mmask16 last, int64_t g0, int64_t hd, float* out) {
  switch (ng) {
    case 1:
      pv_f32_block<1, NV>(p, n_kv, v, d0, last, g0, hd, out);
      return;
    case 2:
      pv_f32_block<2, NV>(p, n_kv, v, d0, last, g0, hd, out);
      return;
    case 3:
      pv_f32_block<3, NV>(p, n_kv, v, d0, last, g0, hd, out);
      return;
    default:
      pv_f32_block<4, NV>(p, n_kv, v, d0, last, g0, hd, out);
      return;
  }
}

void pv_f32(const float* p, int64_t n_q, int64_t n_kv, const uint8_t* const* v, int64_t hd,
            float* out) {
  for (int64_t g0 = 0; g0 < n_q; g0 += kGroup) {
    const int64_t ng = min64(kGroup, n_q - g0);
    int64_t d0 = 0;
    for (; d0 + 32 <= hd; d0 += 32) pv_f32_heads<2>(ng, p, n_kv, v, d0, 0xFFFF, g0, hd, out);
    if (d0 < hd) pv_f32_heads<1>(ng, p, n_kv, v, d0, first16(hd - d0), g0, hd, out);
    if (d0 + 16 < hd) pv_f32_heads<1>(ng, p, n_kv, v, d0 + 16, first16(hd - d0 - 16), g0, hd, out);
  }
}

// For heads h < NH: acc[h] = acc[h] * rescale[h][t] + rows[t] * weight[h][t]
// for keys t < nt in order (each product rounded, then the sum: the scalar
// acc *= rescale; acc += v * w, as acc * 1 == acc), 64 dims at a time in
// registers.
template <int NH>
void accumulate_tile(float* const* acc, const float* const* rows, int64_t nt,
                     const float (*rescale)[kTileKeys], const float (*weight)[kTileKeys],
                     int64_t hd) {
  for (int64_t d0 = 0; d0 < hd; d0 += 64) {
    __mmask16 m[4];
    for (int b = 0; b < 4; ++b) m[b] = first16(hd - d0 - 16 * b);
    __m512 a[NH][4];
    for (int h = 0; h < NH; ++h)
      for (int b = 0; b < 4; ++b) a[h][b] = _mm512_maskz_loadu_ps(m[b], acc[h] + d0 + 16 * b);
    for (int64_t t = 0; t < nt; ++t) {
      __m512 r[NH], w[NH];
      for (int h = 0; h < NH; ++h) {
        r[h] = _mm512_set1_ps(rescale[h][t]);
        w[h] = _mm512_set1_ps(weight[h][t]);
      }
      for (int b = 0; b < 4; ++b) {
        const __m512 v = _mm512_maskz_loadu_ps(m[b], rows[t] + d0 + 16 * b);
        for (int h = 0; h < NH; ++h)
          a[h][b] = _mm512_add_ps(_mm512_mul_ps(a[h][b], r[h]), _mm512_mul_ps(v, w[h]));
      }
    }
    for (int h = 0; h < NH; ++h)
      for (int b = 0; b < 4; ++b) _mm512_mask_storeu_ps(acc[h] + d0 + 16 * b, m[b], a[h][b]);
  }
}

// GCC 12's AVX-512 headers pass an undefined vector to their own masked builtins, which
// -Wmaybe-uninitialized reports at every use (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// hsum8 of each 256-bit half of v: (v0+v4 + v2+v6) + (v1+v5 + v3+v7) in lanes 0 and 8.
inline void hsum8_halves(__m512 v, float& low, float& high) {
  const __m512 a = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));  // lanes i + (i + 4)
  const __m512 b = _mm512_add_ps(a, _mm512_permute_ps(a, _MM_SHUFFLE(3, 2, 3, 2)));          // + lanes 2, 3
  const __m512 c = _mm512_add_ps(b, _mm512_movehdup_ps(b));                                   // + lane 1
  low = _mm512_cvtss_f32(c);
  high = _mm_cvtss_f32(_mm512_extractf32x4_ps(c, 2));
}

// fp16 rounding of 16 lanes, as round_fp16_8.
inline __m512 round_fp16_16(__m512 x) {
  const __m512 r = _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
  const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  const __m512 canonical = _mm512_or_ps(_mm512_and_ps(x, _mm512_set1_ps(-0.0f)),
                                        _mm512_castsi512_ps(_mm512_set1_epi32(0x7FC00000)));
  return _mm512_mask_mov_ps(r, nan, canonical);
}

// attention_simd.h's softmax_row on 16 lanes: the same maximum, the same exponentials, the
// same double sum of 8-element groups in order, the same products (2-3% of a 2048-key decode
// step against softmax_row, bench_attention).
void softmax_row16(float* x, int64_t n, float scale, bool round) {
  const __m512 vs = _mm512_set1_ps(scale);
  __m512 vmax = _mm512_set1_ps(-__builtin_inff());
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), vs);
    _mm512_storeu_ps(x + i, v);
    vmax = _mm512_mask_mov_ps(vmax, _mm512_cmp_ps_mask(v, vmax, _CMP_GT_OQ), v);
  }
  float max = -__builtin_inff();
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, vmax);
  for (float l : lanes)
    if (l > max) max = l;
  max = scaled_row_max(x, i, n, scale, max);
  const __m512 vm = _mm512_set1_ps(max);
  double sum = 0.0;
  for (i = 0; i < n; i += 16) {
    // The last group's missing elements count as 0, as softmax_row's.
    const __mmask16 m = first16(n - i);
    const __m512 e = _mm512_maskz_mov_ps(m, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vm)));
    _mm512_mask_storeu_ps(x + i, m, e);
    float low, high;
    hsum8_halves(e, low, high);
    sum += static_cast<double>(low);
    if (n - i > 8) sum += static_cast<double>(high);
  }
  const __m512 inv = _mm512_set1_ps(static_cast<float>(1.0 / sum));
  for (i = 0; i < n; i += 16) {
    const __mmask16 m = first16(n - i);
    const __m512 p = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv);
    _mm512_mask_storeu_ps(x + i, m, round ? round_fp16_16(p) : p);
  }
}

#pragma GCC diagnostic pop

}  // namespace

// exp16, the exponential of this level's softmax (tests compare it with ggml_expf).
void expf_row(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = first16(n - i);
    _mm512_mask_storeu_ps(y + i, m, exp16(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

void attend_f16(const Job& job) {
  const int64_t hd = job.head_dim, n_q = job.n_q, n_kv = job.n_kv;
  Work w(job.work, n_q, hd);
  float* qr = w.head;  // queries rounded to f16
  round_fp16_row(job.q, qr, n_q * hd);
  scores_f16(qr, n_q, hd, job.k, n_kv, job.scores, w.tile);
  for (int64_t g = 0; g < n_q; ++g) softmax_row16(job.scores + g * n_kv, n_kv, job.scale, true);
  pv_f16(job.scores, n_q, n_kv, job.v, hd, job.out, w.lanes);
}

void attend_f32(const Job& job) {
  const int64_t hd = job.head_dim, n_q = job.n_q, n_kv = job.n_kv;
  Work w(job.work, n_q, hd);
  scores_f32(job.q, n_q, hd, job.k, n_kv, job.scores, w.tile);
  for (int64_t g = 0; g < n_q; ++g) softmax_row16(job.scores + g * n_kv, n_kv, job.scale, false);
  pv_f32(job.scores, n_q, n_kv, job.v, hd, job.out);
}

void decoded_scores(const ScoresJob& job) {
  const int64_t hd = job.head_dim, n_q = job.n_q, n_kv = job.n_kv;
  const int64_t nq = (n_q + 7) & ~int64_t{7};
  auto* qt = reinterpret_cast<double*>(job.work);  // qt[d * nq + g], as on AVX2
  float* krows = job.work + 2 * nq * hd;           // [2][hd]
  for (int64_t d = 0; d < hd; ++d)
    for (int64_t g = 0; g < nq; ++g)
      qt[d * nq + g] = g < n_q ? static_cast<double>(job.q[g * hd + d]) : 0.0;
  for (int64_t j = 0; j < n_kv; j += 2) {
    const bool two = j + 1 < n_kv;
    const float* k0 = decode_row(job.format, job.type, job.first, job.k[j], hd, krows);
    const float* k1 =
        two ? decode_row(job.format, job.type, job.first, job.k[j + 1], hd, krows + hd) : k0;
    for (int64_t g0 = 0; g0 < nq; g0 += 8) {
      __m512d a0 = _mm512_setzero_pd(), a1 = a0;
      for (int64_t d = 0; d < hd; ++d) {
        const __m512d qv = _mm512_loadu_pd(qt + d * nq + g0);
        a0 = _mm512_add_pd(a0, _mm512_mul_pd(qv, _mm512_set1_pd(static_cast<double>(k0[d]))));
        a1 = _mm512_add_pd(a1, _mm512_mul_pd(qv, _mm512_set1_pd(static_cast<double>(k1[d]))));
      }
      double r0[8], r1[8];
      _mm512_storeu_pd(r0, a0);
      _mm512_storeu_pd(r1, a1);
      for (int64_t g = g0; g < g0 + 8 && g < n_q; ++g) {
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
    const __m512 vi = _mm512_set1_ps(inv);
    for (int64_t d = 0; d < hd; d += 16) {
      const __mmask16 m = first16(hd - d);
      _mm512_mask_storeu_ps(job.out + g * hd + d, m,
                            _mm512_mul_ps(_mm512_maskz_loadu_ps(m, acc + g * hd + d), vi));
    }
  }
}

}  // namespace pagoda::kernels::attn::avx512
