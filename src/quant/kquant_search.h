#pragma once
// The scale searches behind llama.cpp's K-quant reference quantizers (ggml's
// make_qx_quants, make_q3_quants, make_qkx2_quants), re-expressed with the
// same float operation order so that results match bit for bit.
#include <cstdint>

namespace pagoda::quant::detail {

// Symmetric search: picks scale s and L[i] in [0, 2*nmax) (stored biased by
// nmax) minimising sum w*(x - s*(L - nmax))^2 with weights w = x^2 (ggml
// rmse_type 1, no importance weights), trying 19 candidate scales.
// Returns s (0 with all L = 0 when the group is all (near) zero).
float make_qx_quants(int n, int nmax, const float* x, int8_t* L);

// Symmetric 3-bit search with iterative per-element refinement (ggml's
// make_q3_quants with do_rmse). L[i] in [0, 2*nmax), biased by nmax.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L);

// Asymmetric search: x ~ scale * L - min with L in [0, nmax], weighted by
// `weights`, scanning nstep + 1 candidate scales (ggml's make_qkx2_quants).
// Writes -min (>= 0) to *neg_min and returns scale. aux holds n scratch bytes.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* neg_min, uint8_t* aux, float rmin, float rdelta, int nstep,
                       bool use_mad);

}  // namespace pagoda::quant::detail
