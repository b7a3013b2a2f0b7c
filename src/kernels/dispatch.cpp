// Kernel tables per ISA level. This file is compiled for baseline x86-64: it
// only stores function pointers, so building every table is safe on any CPU;
// a SIMD kernel runs only after isa_available() approved its level.
#include <array>

#include "base/cpu_features.h"
#include "kernels/ref/vec_dot_ref.h"
#include "kernels/vec_dot.h"
#include "kernels/vec_dot_isa.h"

namespace pagoda::kernels {
namespace {

// One slot per TensorType id (the largest id, MXFP4, is 39).
constexpr size_t kTypeSlots = 40;
using VecDotTable = std::array<VecDotFn, kTypeSlots>;

size_t slot(TensorType t) {
  return static_cast<size_t>(t);
}

void add_scalar_kernels(VecDotTable& table) {
  table[slot(TensorType::F32)] = ref::vec_dot_f32;
  table[slot(TensorType::F16)] = ref::vec_dot_f16;
  table[slot(TensorType::BF16)] = ref::vec_dot_bf16;
  table[slot(TensorType::Q4_0)] = ref::vec_dot_q4_0;
  table[slot(TensorType::Q4_1)] = ref::vec_dot_q4_1;
  table[slot(TensorType::Q5_0)] = ref::vec_dot_q5_0;
  table[slot(TensorType::Q5_1)] = ref::vec_dot_q5_1;
  table[slot(TensorType::Q8_0)] = ref::vec_dot_q8_0;
  table[slot(TensorType::Q2_K)] = ref::vec_dot_q2_k;
  table[slot(TensorType::Q3_K)] = ref::vec_dot_q3_k;
  table[slot(TensorType::Q4_K)] = ref::vec_dot_q4_k;
  table[slot(TensorType::Q5_K)] = ref::vec_dot_q5_k;
  table[slot(TensorType::Q6_K)] = ref::vec_dot_q6_k;
}

void add_avx2_kernels(VecDotTable& table) {
  table[slot(TensorType::F32)] = avx2::vec_dot_f32;
  table[slot(TensorType::F16)] = avx2::vec_dot_f16;
  table[slot(TensorType::BF16)] = avx2::vec_dot_bf16;
  table[slot(TensorType::Q4_0)] = avx2::vec_dot_q4_0;
  table[slot(TensorType::Q4_1)] = avx2::vec_dot_q4_1;
  table[slot(TensorType::Q5_0)] = avx2::vec_dot_q5_0;
  table[slot(TensorType::Q5_1)] = avx2::vec_dot_q5_1;
  table[slot(TensorType::Q8_0)] = avx2::vec_dot_q8_0;
  table[slot(TensorType::Q2_K)] = avx2::vec_dot_q2_k;
  table[slot(TensorType::Q3_K)] = avx2::vec_dot_q3_k;
  table[slot(TensorType::Q4_K)] = avx2::vec_dot_q4_k;
  table[slot(TensorType::Q5_K)] = avx2::vec_dot_q5_k;
  table[slot(TensorType::Q6_K)] = avx2::vec_dot_q6_k;
}

// K-quants keep the AVX2 kernels on AVX-512 machines: their float order is
// ggml's x86 order (llama.cpp has no AVX-512 K-quant kernels), which the
// llama.cpp trace tolerances need, and the scalar reference follows it too.
void add_avx512_kernels(VecDotTable& table) {
  table[slot(TensorType::Q4_0)] = avx512::vec_dot_q4_0;
  table[slot(TensorType::Q8_0)] = avx512::vec_dot_q8_0;
}

VecDotTable build_table(Isa isa) {
  VecDotTable table{};
  add_scalar_kernels(table);
  if (isa >= Isa::kAvx2) add_avx2_kernels(table);
  if (isa >= Isa::kAvx512) add_avx512_kernels(table);
  return table;
}

// Tables for every level, built once (a few dozen pointers each).
const std::array<VecDotTable, 3>& all_tables() {
  static const std::array<VecDotTable, 3> tables = {
      build_table(Isa::kScalar), build_table(Isa::kAvx2), build_table(Isa::kAvx512)};
  return tables;
}

// The tile kernels a level's own translation unit provides (none for scalar).
VecDotTileFn own_tile_kernel(TensorType weight, Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return nullptr;
    case Isa::kAvx2:
      return avx2::tile_kernel(weight);
    case Isa::kAvx512:
      return avx512::tile_kernel(weight);
  }
  return nullptr;
}

// A level's own tile, else a lower level's, but only while that lower level's
// vec_dot is still the one in use: a tile is written for one VecDotFn's bits.
VecDotTileFn find_tile_kernel(TensorType weight, Isa isa) {
  for (int level = static_cast<int>(isa); level >= 0; --level) {
    if (VecDotTileFn tile = own_tile_kernel(weight, static_cast<Isa>(level))) return tile;
    if (level > 0 && vec_dot_kernel(weight, static_cast<Isa>(level)) !=
                         vec_dot_kernel(weight, static_cast<Isa>(level - 1)))
      return nullptr;
  }
  return nullptr;
}

using TileTable = std::array<VecDotTileFn, kTypeSlots>;

const std::array<TileTable, 3>& all_tile_tables() {
  static const std::array<TileTable, 3> tables = [] {
    std::array<TileTable, 3> built{};
    for (size_t level = 0; level < built.size(); ++level)
      for (size_t s = 0; s < kTypeSlots; ++s)
        built[level][s] = find_tile_kernel(static_cast<TensorType>(s), static_cast<Isa>(level));
    return built;
  }();
  return tables;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "unknown";
}

bool isa_available(Isa isa) {
  const CpuFeatures& f = cpu_features();
  const bool avx2 = f.avx2 && f.fma && f.f16c;
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
      return avx2;
    // The avx512 translation units are compiled for F/BW/VL/DQ + VNNI.
    case Isa::kAvx512:
      return avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni;
  }
  return false;
}

Isa active_isa() {
  static const Isa isa = isa_available(Isa::kAvx512) ? Isa::kAvx512
                         : isa_available(Isa::kAvx2) ? Isa::kAvx2
                                                     : Isa::kScalar;
  return isa;
}

VecDotFn vec_dot_kernel(TensorType weight, Isa isa) {
  if (slot(weight) >= kTypeSlots) return nullptr;
  return all_tables()[static_cast<size_t>(isa)][slot(weight)];
}

VecDotFn active_vec_dot_kernel(TensorType weight) {
  return vec_dot_kernel(weight, active_isa());
}

VecDotTileFn vec_dot_tile_kernel(TensorType weight, Isa isa) {
  if (slot(weight) >= kTypeSlots) return nullptr;
  return all_tile_tables()[static_cast<size_t>(isa)][slot(weight)];
}

VecDotTileFn active_vec_dot_tile_kernel(TensorType weight) {
  return vec_dot_tile_kernel(weight, active_isa());
}

}  // namespace pagoda::kernels
