#pragma once
// What the CPU we run on supports; read once with cpuid. Kernels pick their
// implementation from this at start-up (never from compile-time macros).
namespace pagoda {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512vnni = false;
  bool avx_vnni = false;
};

const CpuFeatures& cpu_features();

}  // namespace pagoda
