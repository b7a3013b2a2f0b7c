#pragma once
// Matrix products against weights in their GGUF storage type. Activations are
// converted per row to the weight type's dot-product partner ("vec_dot type",
// as in ggml: F16 weights -> F16 activations, Q4_0/Q5_0/Q8_0 -> Q8_0,
// Q4_1/Q5_1 -> Q8_1, K-quants -> Q8_K, F32 -> F32, BF16 -> BF16), then every
// output element is ONE vec_dot over the whole row in a fixed order. The
// result for a token therefore never depends on the batch it shares or how
// the work is split across threads (batch invariance, bit for bit).
#include <cstddef>
#include <cstdint>
#include <span>

#include "base/tensor_type.h"
#include "base/thread_pool.h"

namespace pagoda::kernels {

// A 2-D weight matrix as stored in the file: n_rows rows of n_cols elements,
// row r at data + r * row_stride bytes.
struct WeightView {
  TensorType type = TensorType::F32;
  const void* data = nullptr;
  int64_t n_cols = 0;  // reduction length (GGUF ne[0])
  int64_t n_rows = 0;  // outputs (GGUF ne[1])
  size_t row_stride = 0;
  // The same rows rearranged once for the active level's kernels (interleave_weight), or null.
  // matmul reads these instead of `data`, with the same bits.
  const void* interleaved = nullptr;
};

// Bytes of an n_rows x n_cols `type` matrix rearranged for the active level's kernels; 0 when
// they read its rows in file order (every type but Q4_0, Q8_0, Q4_K, Q5_K and Q6_K on AVX-512
// today). The rows' own bytes, rearranged: the model moves its matrices there and releases
// their file pages.
size_t interleaved_weight_bytes(TensorType type, int64_t n_cols, int64_t n_rows);
// Writes w's rows, rearranged, to `out` (64-byte aligned, interleaved_weight_bytes bytes); a
// view with `interleaved = out` then multiplies from there. Throws for a type without layout.
void interleave_weight(const WeightView& w, void* out);

// Bytes per token of the block terms that matmul prepares once per call, with the activation
// rows and on the calling thread, for `weight` rows held interleaved (0 when it has no layout on
// this level). matmul_many holds one such buffer for each kind among its matrices (Q4_K and Q5_K
// share theirs); every kind's part is a whole number of 64-byte lines.
size_t interleaved_act_row_bytes(TensorType weight, int64_t n);
// That buffer's bytes for one matmul (or matmul_many) of n_tokens tokens over matrices of these
// types, held interleaved where they have a layout, n values per row.
size_t interleaved_act_call_bytes(std::span<const TensorType> weights, int64_t n, int64_t n_tokens);

// The activation type that `weight` rows are dotted against.
TensorType vec_dot_type(TensorType weight);
// True when matmul supports this weight type.
bool supports_weight_type(TensorType weight);

// Bytes of one activation row of n values prepared for `weight` rows.
size_t activation_row_bytes(TensorType weight, int64_t n);
// Converts one row of n floats into vec_dot_type(weight) layout at dst.
void prepare_activation_row(TensorType weight, const float* x, void* dst, int64_t n);
// Bytes of tile_scratch that a matmul of n_tokens tokens over n_rows `weight` rows of n values,
// held as the model holds them (interleaved where interleaved_weight_bytes > 0), grows to on
// each thread of an n_threads pool that runs part of it (the active level's tile kernel packs
// a token group, or interleaves rows, there; 0 where it reads everything in place or `weight`
// has no tile kernel).
size_t tile_scratch_bytes(TensorType weight, int64_t n, int64_t n_rows, int64_t n_tokens, int n_threads);
// Dot product of one weight row and one prepared activation row of n elements.
float vec_dot(TensorType weight, int64_t n, const void* weight_row, const void* act_row);

// y[t * n_rows + r] = dot(W[r, :], x[t, :]) for t < n_tokens, r < W.n_rows.
// x: [n_tokens, W.n_cols] f32, row-major, rows `x_stride` floats apart.
// y: [n_tokens, W.n_rows] f32 with rows `y_stride` floats apart.
// Threads over output rows; allocates its activation scratch internally
// (thread-safe per call; not reentrant on one pool).
// Every function here throws pagoda::Exception with a message for an
// unsupported type, a length that is not a multiple of the block size, strides
// too small, or weight rows not aligned to their element (4 bytes for F32,
// 2 otherwise).
void matmul(const WeightView& w, const float* x, int64_t n_tokens, int64_t x_stride, float* y,
            int64_t y_stride, ThreadPool& pool);

// One product of matmul_many: y [n_tokens, w.n_rows], rows y_stride floats apart.
struct MatmulTarget {
  const WeightView* w = nullptr;
  float* y = nullptr;
  int64_t y_stride = 0;
};
// Several matrices times the same x (attention's Q, K and V; the FFN's gate and up) in one
// parallel loop: one start and one wait for the threads instead of one per matrix, and each
// activation layout prepared once. Every output is computed exactly as matmul computes it (same
// kernels, same row tasks), so the bits are matmul's. Every w must have the same n_cols; their
// types may differ. Errors as matmul.
void matmul_many(std::span<const MatmulTarget> targets, const float* x, int64_t n_tokens, int64_t x_stride,
                 ThreadPool& pool);

}  // namespace pagoda::kernels
