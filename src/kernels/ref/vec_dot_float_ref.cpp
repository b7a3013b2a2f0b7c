#include "base/half.h"
#include "kernels/ref/vec_dot_ref.h"

namespace pagoda::kernels::ref {

float vec_dot_f32(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const float*>(weight_row);  // [n]
  const auto* a = static_cast<const float*>(act_row);     // [n]
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(w[i] * a[i]);
  return static_cast<float>(sum);
}

float vec_dot_f16(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const uint16_t*>(weight_row);  // [n] fp16
  const auto* a = static_cast<const uint16_t*>(act_row);     // [n] fp16
  double sum = 0.0;
  // fp16 x fp16 products are exact in f32 (11-bit significands).
  for (int64_t i = 0; i < n; ++i)
    sum += static_cast<double>(fp16_to_fp32(w[i]) * fp16_to_fp32(a[i]));
  return static_cast<float>(sum);
}

float vec_dot_bf16(int64_t n, const void* weight_row, const void* act_row) {
  const auto* w = static_cast<const uint16_t*>(weight_row);  // [n] bf16
  const auto* a = static_cast<const uint16_t*>(act_row);     // [n] bf16
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i)
    sum += static_cast<double>(bf16_to_fp32(w[i]) * bf16_to_fp32(a[i]));
  return static_cast<float>(sum);
}

}  // namespace pagoda::kernels::ref
