// Scalar activation quantizers with the rounding of ggml-cpu's x86 SIMD path.
#include "kernels/act_quant.h"

#include <cmath>

#include "base/half.h"
#include "kernels/vec_dot_isa.h"
#include "quant/blocks.h"
#include "quant/codec.h"

namespace pagoda::kernels {
namespace {

constexpr int kBlock = 32;

// max |x[i]| over one block (order-independent; NaNs are skipped).
float block_amax(const float* x) {
  float amax = 0.0f;
  for (int j = 0; j < kBlock; ++j) {
    const float a = std::fabs(x[j]);
    if (a > amax) amax = a;
  }
  return amax;
}

// round-half-to-even of v saturated to int8, as round_ps(NEAREST) ->
// cvtps_epi32 -> packs_epi32 -> packs_epi16 (NaN -> INT_MIN -> -128).
int8_t round_even_to_int8(float v) {
  if (v != v) return -128;
  const float r = std::nearbyint(v);  // default rounding mode: ties to even
  if (r >= 127.0f) return 127;
  if (r <= -128.0f) return -128;
  return static_cast<int8_t>(r);
}

}  // namespace

void quantize_act_q8_0_scalar(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<quant::BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kBlock; ++i, x += kBlock) {
    const float amax = block_amax(x);
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kBlock; ++j) y[i].qs[j] = round_even_to_int8(x[j] * id);
  }
}

void quantize_act_q8_1(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<quant::BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / kBlock; ++i, x += kBlock) {
    const float amax = block_amax(x);
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    y[i].d = fp32_to_fp16(d);
    int sum = 0;
    for (int j = 0; j < kBlock; ++j) {
      y[i].qs[j] = round_even_to_int8(x[j] * id);
      sum += y[i].qs[j];
    }
    y[i].s = fp32_to_fp16(d * static_cast<float>(sum));
  }
}

ActQuantFn act_quant_kernel(TensorType type, Isa isa) {
  const bool avx512 = isa == Isa::kAvx512;
  switch (type) {
    case TensorType::Q8_0:
      return avx512 ? avx512::quantize_act_q8_0 : quantize_act_q8_0_scalar;
    case TensorType::Q8_K:
      return avx512 ? avx512::quantize_act_q8_k : quant::quantize_row_q8_k;
    default:
      return nullptr;
  }
}

void quantize_act_q8_0(const float* x, void* dst, int64_t n) {
  static const ActQuantFn fn = act_quant_kernel(TensorType::Q8_0, active_isa());
  fn(x, dst, n);
}

void quantize_act_q8_k(const float* x, void* dst, int64_t n) {
  static const ActQuantFn fn = act_quant_kernel(TensorType::Q8_K, active_isa());
  fn(x, dst, n);
}

}  // namespace pagoda::kernels
