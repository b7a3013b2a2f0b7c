#pragma once
// ggml_expf (ops.h) on 8 AVX2 lanes, shared by the attention kernels and the row operations, and
// on 16 AVX-512 lanes where the translation unit is compiled for them. Include only from
// translation units compiled with -mavx2 -mfma (or more). Internal linkage (an
// anonymous namespace), so that no copy compiled for one ISA can be picked by the linker for
// another.
#include <immintrin.h>

namespace pagoda::kernels {
namespace {

// ggml_v_expf's constants, shared by both widths.
namespace exp_constants {
constexpr float kShift = 0x1.8p23f;         // adding it rounds to an integer in the low bits
constexpr float kLog2e = 0x1.715476p+0f;
constexpr float kLn2High = 0x1.62e4p-1f;
constexpr float kLn2Low = 0x1.7f7d1cp-20f;
constexpr float kP4 = 0x1.0e4020p-7f, kP3 = 0x1.573e2ep-5f, kP2 = 0x1.555e66p-3f, kP1 = 0x1.fffdb6p-2f;
constexpr float kP0 = 0x1.ffffecp-1f;
constexpr float kScaledRange = 126;  // beyond: the two-factor scaling
constexpr float kZeroOrInf = 192;    // beyond: 0 or infinity
constexpr unsigned kNegativeBias = 0x82000000u, kOneBits = 0x7f000000u;
}  // namespace exp_constants

// ops.h's ggml_expf on 8 lanes: ggml-cpu's AVX2 ggml_v_expf, whose operations
// the scalar one repeats (std::fma(-n, c, x) == fnmadd(n, c, x)).
inline __m256 exp8(__m256 x) {
  using namespace exp_constants;
  const __m256 r = _mm256_set1_ps(kShift);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(kLog2e), r);
  const __m256 n = _mm256_sub_ps(z, r);
  const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Low),
                                    _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2High), x));
  const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
  const __m256 k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1))));
  const __m256 abs_n = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
  const __m256 c = _mm256_cmp_ps(abs_n, _mm256_set1_ps(kScaledRange), _CMP_GT_OQ);
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(
          _mm256_fmadd_ps(_mm256_set1_ps(kP4), b, _mm256_set1_ps(kP3)), u,
          _mm256_fmadd_ps(_mm256_set1_ps(kP2), b, _mm256_set1_ps(kP1))),
      u, _mm256_mul_ps(_mm256_set1_ps(kP0), b));
  if (!_mm256_movemask_ps(c)) return _mm256_fmadd_ps(j, k, k);
  const __m256i g =
      _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
                       _mm256_set1_epi32(static_cast<int>(kNegativeBias)));
  const __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(static_cast<int>(kOneBits))));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
  const __m256 d = _mm256_cmp_ps(abs_n, _mm256_set1_ps(kZeroOrInf), _CMP_GT_OQ);
  return _mm256_or_ps(
      _mm256_and_ps(d, _mm256_mul_ps(s1, s1)),
      _mm256_andnot_ps(d,
                       _mm256_or_ps(_mm256_and_ps(c, _mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1)),
                                    _mm256_andnot_ps(c, _mm256_fmadd_ps(j, k, k)))));
}

#if defined(__AVX512F__)
// GCC 12's AVX-512 headers pass an undefined vector to their own masked builtins, which
// -Wmaybe-uninitialized reports at every use (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// exp8 on 16 lanes: the same operations in each lane, so the same bits (the out-of-range lanes'
// path is chosen per lane, as exp8's blend does).
inline __m512 exp16(__m512 x) {
  using namespace exp_constants;
  const __m512 r = _mm512_set1_ps(kShift);
  const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(kLog2e), r);
  const __m512 n = _mm512_sub_ps(z, r);
  const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Low), _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2High), x));
  const __m512i e = _mm512_slli_epi32(_mm512_castps_si512(z), 23);
  const __m512 k = _mm512_castsi512_ps(_mm512_add_epi32(e, _mm512_castps_si512(_mm512_set1_ps(1))));
  const __m512 abs_n = _mm512_abs_ps(n);
  const __mmask16 c = _mm512_cmp_ps_mask(abs_n, _mm512_set1_ps(kScaledRange), _CMP_GT_OQ);
  const __m512 u = _mm512_mul_ps(b, b);
  const __m512 j = _mm512_fmadd_ps(
      _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(kP4), b, _mm512_set1_ps(kP3)), u,
                      _mm512_fmadd_ps(_mm512_set1_ps(kP2), b, _mm512_set1_ps(kP1))),
      u, _mm512_mul_ps(_mm512_set1_ps(kP0), b));
  const __m512 in_range = _mm512_fmadd_ps(j, k, k);
  if (c == 0) return in_range;
  const __mmask16 non_positive = _mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ);
  const __m512i g = _mm512_maskz_mov_epi32(non_positive, _mm512_set1_epi32(static_cast<int>(kNegativeBias)));
  const __m512 s1 = _mm512_castsi512_ps(_mm512_add_epi32(g, _mm512_set1_epi32(static_cast<int>(kOneBits))));
  const __m512 s2 = _mm512_castsi512_ps(_mm512_sub_epi32(e, g));
  const __mmask16 d = _mm512_cmp_ps_mask(abs_n, _mm512_set1_ps(kZeroOrInf), _CMP_GT_OQ);
  const __m512 scaled = _mm512_mask_mov_ps(in_range, c, _mm512_mul_ps(_mm512_fmadd_ps(s2, j, s2), s1));
  return _mm512_mask_mov_ps(scaled, d, _mm512_mul_ps(s1, s1));
}
#pragma GCC diagnostic pop
#endif

}  // namespace
}  // namespace pagoda::kernels
