#pragma once
// Internal AVX2 (+F16C+FMA) building blocks of the attention kernels, shared by
// attention_avx2.cpp and attention_avx512.cpp. Include only from translation
// units compiled with -mavx2 -mfma -mf16c. Everything here has internal
// linkage (an anonymous namespace), so no copy compiled for one ISA can be
// picked by the linker for another; the kernels also avoid the standard
// library's inline functions for the same reason.
//
// Each helper reproduces a scalar definition bit for bit (named below).
#include <immintrin.h>

#include <cstdint>

#include "kernels/attention_kernels.h"
#include "kernels/exp_simd.h"
#include "kernels/kv_rows.h"

namespace pagoda::kernels::attn {
namespace {

// Lanes [0, n) set, n in [0, 8].
inline __m256i first_lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// v's first n lanes (n >= 8: all 8) to y. A whole store when it can: vmaskmovps stores are slow
// on several AMD cores (Agner Fog's tables), though no change was measured on this Zen 5 VM.
inline void store_first(float* y, __m256 v, int64_t n) {
  if (n >= 8) {
    _mm256_storeu_ps(y, v);
  } else {
    _mm256_maskstore_ps(y, first_lanes(n), v);
  }
}

inline float fma_ss(float a, float b, float c) {
  return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
}

inline float f16_to_f32(uint16_t h) {
  return _cvtsh_ss(h);
}

// Prefetches the cache lines of bytes [p, p + n) (n > 0) with hint H.
template <int H>
inline void prefetch_bytes(const uint8_t* p, int64_t n) {
  const char* c = reinterpret_cast<const char*>(p);
  for (int64_t off = 0; off < n; off += 64) _mm_prefetch(c + off, static_cast<_mm_hint>(H));
  _mm_prefetch(c + n - 1, static_cast<_mm_hint>(H));
}

// Before the work on keys [j0, j0 + n) of a tile: the rows of the tile after
// next into L1. Rows are row_bytes long.
inline void prefetch_tile(const uint8_t* const* k, int64_t j0, int64_t n, int64_t n_kv,
                          int64_t row_bytes) {
  for (int64_t j = j0 + 2 * n; j < j0 + 3 * n && j < n_kv; ++j)
    prefetch_bytes<_MM_HINT_T0>(k[j], row_bytes);
}

// At the start of a P.V chunk [c0, c0 + kPvChunkKeys): its rows (for the
// first) and the next chunk's rows into L2; the lanes read them 32 rows apart,
// a pattern no hardware prefetcher follows.
inline void prefetch_chunk(const uint8_t* const* v, int64_t c0, int64_t n_kv, int64_t row_bytes) {
  const int64_t begin = c0 == 0 ? 0 : c0 + kPvChunkKeys;
  const int64_t end = c0 + 2 * kPvChunkKeys < n_kv ? c0 + 2 * kPvChunkKeys : n_kv;
  for (int64_t j = begin; j < end; ++j) prefetch_bytes<_MM_HINT_T1>(v[j], row_bytes);
}

// base/half.h's round_fp16 on 8 lanes: F16C rounds to nearest even like
// fp32_to_fp16; a NaN becomes the quiet NaN fp32_to_fp16 makes (sign | 0x7E00).
inline __m256 round_fp16_8(__m256 x) {
  const __m256 r = _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
  const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  const __m256 canonical = _mm256_or_ps(_mm256_and_ps(x, _mm256_set1_ps(-0.0f)),
                                        _mm256_castsi256_ps(_mm256_set1_epi32(0x7FC00000)));
  return _mm256_blendv_ps(r, canonical, nan);
}

// y = the n floats of x rounded to fp16 (y may be x).
inline void round_fp16_row(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, round_fp16_8(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i m = first_lanes(n - i);
    _mm256_maskstore_ps(y + i, m, round_fp16_8(_mm256_maskload_ps(x + i, m)));
  }
}

// ops.cpp's hsum8: (v0+v4 + v2+v6) + (v1+v5 + v3+v7).
inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// ggml_vec_dot_f16's last reduction steps for 8 keys at once: y[t] holds key
// t's 8 lanes x[0..8) (after x[l] += x[16+l], x[8+l] += x[24+l], x[l] += x[8+l]);
// lane t of the result is (t0 + t1) + (t2 + t3) with t[l] = x[l] + x[l+4].
inline __m256 reduce_keys8(const __m256* y) {
  const __m256 t04 = _mm256_add_ps(_mm256_permute2f128_ps(y[0], y[4], 0x20),
                                   _mm256_permute2f128_ps(y[0], y[4], 0x31));
  const __m256 t15 = _mm256_add_ps(_mm256_permute2f128_ps(y[1], y[5], 0x20),
                                   _mm256_permute2f128_ps(y[1], y[5], 0x31));
  const __m256 t26 = _mm256_add_ps(_mm256_permute2f128_ps(y[2], y[6], 0x20),
                                   _mm256_permute2f128_ps(y[2], y[6], 0x31));
  const __m256 t37 = _mm256_add_ps(_mm256_permute2f128_ps(y[3], y[7], 0x20),
                                   _mm256_permute2f128_ps(y[3], y[7], 0x31));
  // hadd: [a0+a1, a2+a3, b0+b1, b2+b3 | the same for the high halves].
  return _mm256_hadd_ps(_mm256_hadd_ps(t04, t15), _mm256_hadd_ps(t26, t37));
}

// ggml_vec_dot_f16's reduction of 32 lanes, each lane a vector of 8
// independent sums at lanes + l * stride (l < 32).
inline __m256 reduce_lanes8(const float* lanes, int64_t stride) {
  __m256 x[32];
  for (int l = 0; l < 32; ++l) x[l] = _mm256_loadu_ps(lanes + l * stride);
  for (int l = 0; l < 8; ++l) {
    x[l] = _mm256_add_ps(x[l], x[16 + l]);
    x[8 + l] = _mm256_add_ps(x[8 + l], x[24 + l]);
  }
  for (int l = 0; l < 8; ++l) x[l] = _mm256_add_ps(x[l], x[8 + l]);
  const __m256 t0 = _mm256_add_ps(x[0], x[4]), t1 = _mm256_add_ps(x[1], x[5]);
  const __m256 t2 = _mm256_add_ps(x[2], x[6]), t3 = _mm256_add_ps(x[3], x[7]);
  return _mm256_add_ps(_mm256_add_ps(t0, t1), _mm256_add_ps(t2, t3));
}

// ggml_vec_dot_f16's reduction of its 32 lanes, for one sum.
inline float reduce_lanes1(const float* acc) {
  float x[32];
  for (int i = 0; i < 32; ++i) x[i] = acc[i];
  for (int l = 0; l < 8; ++l) {
    x[l] += x[16 + l];
    x[8 + l] += x[24 + l];
  }
  for (int l = 0; l < 8; ++l) x[l] += x[8 + l];
  float t[4];
  for (int l = 0; l < 4; ++l) t[l] = x[l] + x[l + 4];
  return (t[0] + t[1]) + (t[2] + t[3]);
}

// The P.V kernels compute ggml_vec_dot_f16's 32 lanes in the order its tree
// adds them: for t < 4, lanes t + kLaneOrder[0..4) make x[t] =
// (x[t] + x[t+16]) + (x[t+8] + x[t+24]), lanes t + kLaneOrder[4..8) make
// x[t+4], and the tree's t[t] = x[t] + x[t+4].
constexpr int kLaneOrder[8] = {0, 16, 8, 24, 4, 20, 12, 28};

// 8x8 transpose: rows r[0..8) -> columns c[0..8).
inline void transpose8(const __m256* r, __m256* c) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  c[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  c[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  c[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  c[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  c[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  c[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  c[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  c[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// The end of softmax_row's first pass, shared by the 8- and 16-lane forms: x[begin, n) scaled,
// and the row's maximum from the vector lanes' `max` and those elements. The scalar loop keeps
// the first of equal maxima; only +0 and -0 are equal with different bits, so for a zero maximum
// take the first zero's sign.
inline float scaled_row_max(float* x, int64_t begin, int64_t n, float scale, float max) {
  for (int64_t i = begin; i < n; ++i) {
    x[i] *= scale;
    if (x[i] > max) max = x[i];
  }
  if (max == 0.0f)
    for (int64_t t = 0; t < n; ++t)
      if (x[t] == 0.0f) return x[t];
  return max;
}

// ops.h's softmax_row in place (x[i] *= scale; max; ggml_expf(x - max) in
// groups of 8, each group's hsum8 added in double; times float(1 / sum)),
// then, when `round`, every probability rounded to f16 (the f16 path).
inline void softmax_row(float* x, int64_t n, float scale, bool round) {
  const __m256 vs = _mm256_set1_ps(scale);
  __m256 vmax = _mm256_set1_ps(-__builtin_inff());
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vs);
    _mm256_storeu_ps(x + i, v);
    vmax = _mm256_blendv_ps(vmax, v, _mm256_cmp_ps(v, vmax, _CMP_GT_OQ));
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, vmax);
  float max = -__builtin_inff();
  for (float l : lanes)
    if (l > max) max = l;
  max = scaled_row_max(x, i, n, scale, max);
  const __m256 vm = _mm256_set1_ps(max);
  double sum = 0.0;
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    _mm256_storeu_ps(x + i, e);
    sum += static_cast<double>(hsum8(e));
  }
  if (i < n) {  // the last group: missing elements count as 0
    const __m256i m = first_lanes(n - i);
    const __m256 e = _mm256_and_ps(exp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), vm)),
                                   _mm256_castsi256_ps(m));
    _mm256_maskstore_ps(x + i, m, e);
    sum += static_cast<double>(hsum8(e));
  }
  const __m256 inv = _mm256_set1_ps(static_cast<float>(1.0 / sum));
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 p = _mm256_mul_ps(_mm256_loadu_ps(x + i), inv);
    _mm256_storeu_ps(x + i, round ? round_fp16_8(p) : p);
  }
  if (i < n) {
    const __m256i m = first_lanes(n - i);
    const __m256 p = _mm256_mul_ps(_mm256_maskload_ps(x + i, m), inv);
    _mm256_maskstore_ps(x + i, m, round ? round_fp16_8(p) : p);
  }
}

// One value row as n floats at out, with kv_rows' decoders' exact expressions.
inline void f16_row(const uint8_t* src, int64_t n, float* out) {
  const auto* h = reinterpret_cast<const uint16_t*>(src);
  int64_t d = 0;
  for (; d + 8 <= n; d += 8)
    _mm256_storeu_ps(out + d,
                     _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + d))));
  for (; d < n; ++d) out[d] = f16_to_f32(h[d]);
}

inline void bf16_row(const uint8_t* src, int64_t n, float* out) {
  const auto* h = reinterpret_cast<const uint16_t*>(src);
  int64_t d = 0;
  for (; d + 8 <= n; d += 8) {
    const __m256i w =
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + d)));
    _mm256_storeu_ps(out + d, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
  }
  for (; d < n; ++d) {
    const uint32_t u = static_cast<uint32_t>(h[d]) << 16;
    __builtin_memcpy(out + d, &u, sizeof(u));
  }
}

// n / 32 q8_0 blocks (2-byte fp16 d, 32 int8): out = float(q) * d.
inline void q8_0_row(const uint8_t* src, int64_t n, float* out) {
  for (int64_t b = 0; b < n / 32; ++b, src += 34, out += 32) {
    uint16_t dh;
    __builtin_memcpy(&dh, src, sizeof(dh));
    const __m256 d = _mm256_set1_ps(f16_to_f32(dh));
    for (int i = 0; i < 4; ++i) {
      const __m256i q =
          _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + 2 + 8 * i)));
      _mm256_storeu_ps(out + 8 * i, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
    }
  }
}

// n / 32 q4_0 blocks (2-byte fp16 d, 16 bytes of nibbles: low nibbles are
// elements 0-15, high nibbles 16-31): out = float(q - 8) * d.
inline void q4_0_row(const uint8_t* src, int64_t n, float* out) {
  for (int64_t b = 0; b < n / 32; ++b, src += 18, out += 32) {
    uint16_t dh;
    __builtin_memcpy(&dh, src, sizeof(dh));
    const __m256 d = _mm256_set1_ps(f16_to_f32(dh));
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2));
    const __m128i lo = _mm_and_si128(packed, _mm_set1_epi8(0x0F));
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0F));
    const __m128i halves[2] = {lo, hi};
    for (int h = 0; h < 2; ++h) {
      for (int i = 0; i < 2; ++i) {
        const __m128i bytes = i == 0 ? halves[h] : _mm_srli_si128(halves[h], 8);
        const __m256i q = _mm256_sub_epi32(_mm256_cvtepu8_epi32(bytes), _mm256_set1_epi32(8));
        _mm256_storeu_ps(out + 16 * h + 8 * i, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
      }
    }
  }
}

// The online softmax's factors for keys t < nt of a tile with scores s: the
// running max m and sum total are updated as the scalar loop does, and
// rescale[t] / weight[t] are what acc = acc * rescale + v * weight uses
// (libm expf, as the reference's std::exp).
inline void online_factors(const float* s, int64_t nt, float& m, float& total, float* rescale,
                           float* weight) {
  for (int64_t t = 0; t < nt; ++t) {
    float r = 1.0f, w = 1.0f;
    if (s[t] > m) {
      const float old = m;
      m = s[t];
      r = __builtin_expf(old - m);
    } else {
      w = __builtin_expf(s[t] - m);
    }
    total = total * r + w;
    rescale[t] = r;
    weight[t] = w;
  }
}

// Row r (RowFormat) as n floats: the row itself (f32) or its decoding in dst.
inline const float* decode_row(RowFormat format, KvType type, int64_t first, const uint8_t* r,
                               int64_t n, float* dst) {
  switch (format) {
    case RowFormat::kF32:
      return reinterpret_cast<const float*>(r);
    case RowFormat::kF16:
      f16_row(r, n, dst);
      break;
    case RowFormat::kBf16:
      bf16_row(r, n, dst);
      break;
    case RowFormat::kQ8_0:
      q8_0_row(r, n, dst);
      break;
    case RowFormat::kQ4_0:
      q4_0_row(r, n, dst);
      break;
    case RowFormat::kDecoded:
      decode_kv_elements(type, r, first, n, dst);
      break;
  }
  return dst;
}

}  // namespace
}  // namespace pagoda::kernels::attn
