// The AVX2+FMA backend (16 vector registers: a 6-row GEMM tile).
#define FASTCONV_ISA avx2
#include "kernels/avx2/vec_avx2.h"
#include "kernels/simd/fill_simd.h"

namespace fastconv {

bool cpu_has_avx2_fma() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

void fill_avx2(Kernels<float>& f, Kernels<double>& d) {
  avx2::fill_simd<float, 6>(f);
  avx2::fill_simd<double, 6>(d);
}

}  // namespace fastconv
