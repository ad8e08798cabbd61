// The AVX-512F backend, layered over the AVX2 one: its 32 vector registers give a 14-row
// GEMM tile (28 accumulators), and the depthwise NHWC kernel runs along channels 16 at a
// time. The row kernels (direct conv, pooling) stay AVX2: rows of 24-56 outputs would leave
// most of a 16-lane vector to the scalar tail.
#define FASTCONV_ISA avx512
#include "kernels/avx512/vec_avx512.h"
#include "kernels/simd/depthwise_nhwc.h"
#include "kernels/simd/fma_probe.h"
#include "kernels/simd/gemm_mx2v.h"
#include "kernels/simd/relu.h"
#include "kernels/kernel_table.h"

namespace fastconv {
namespace avx512 {
namespace {

template <class T>
void fill(Kernels<T>& k) {
  constexpr int MR = 14;
  k.gemm_mr = MR;
  k.gemm_nr = 2 * Vec<T>::kLanes;
  k.gemm_ukernel = gemm_packed<T, MR>;
  k.gemm_ukernel_offsets = gemm_offsets<T, MR>;
  k.gemm_ukernel_taps = gemm_taps<T, MR>;
  k.depthwise_nhwc = depthwise_nhwc_simd<T>;
  k.relu = relu_simd<T>;
  fill_probe<T, MR>(k);
}

}  // namespace
}  // namespace avx512

bool cpu_has_avx512f() { return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma"); }

void fill_avx512(Kernels<float>& f, Kernels<double>& d) {
  avx512::fill(f);
  avx512::fill(d);
}

}  // namespace fastconv
