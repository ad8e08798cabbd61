// The AVX-512F backend, layered over the AVX2 one: its 32 vector registers give a 14-row
// GEMM tile (28 accumulators) and an 8-filter batched tile, and the depthwise NHWC kernel
// runs along channels 16 at a time. GEMM tiles of 8 to 13 rows serve row counts that 14
// divides badly (measured: 64 filters run 5-8% faster in 13-row tiles, 16 filters 45% faster
// in 8-row ones). Transposes go 16x16 (floats) at a time, their edges masked. The row
// kernels (direct conv, pooling) stay AVX2: rows of 24-56 outputs would leave most of a
// 16-lane vector to the scalar tail.
#define FASTCONV_ISA avx512
#include "kernels/avx512/vec_avx512.h"
#include "kernels/simd/fill_simd.h"

namespace fastconv {

bool cpu_has_avx512f() { return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma"); }

void fill_avx512(Kernels<float>& f, Kernels<double>& d) {
  avx512::fill_simd_tile_kernels<float, 14, 8>(f);
  avx512::fill_simd_tile_kernels<double, 14, 8>(d);
  f.transpose = avx512::transpose_simd<float>;
  d.transpose = avx512::transpose_simd<double>;
}

}  // namespace fastconv
