// The AVX2+FMA backend: overrides the dispatch entries it has kernels for.
#include "kernels/avx2/conv_row_avx2.h"
#include "kernels/avx2/elementwise_avx2.h"
#include "kernels/avx2/gemm_6x2v_avx2.h"
#include "kernels/avx2/pool_avx2.h"
#include "kernels/kernel_table.h"

namespace fastconv {
namespace avx2 {
namespace {

template <class T>
void fill(Kernels<T>& k) {
  k.gemm_mr = 6;
  k.gemm_nr = 2 * Vec<T>::kLanes;
  k.gemm_ukernel = gemm_6x2v<T>;
  k.conv_row = conv_row_avx2<T>;
  k.max_pool_plane = max_pool_plane_avx2<T>;
  k.window_pool_plane = window_pool_plane_avx2<T>;
  k.relu = relu_avx2<T>;
}

}  // namespace
}  // namespace avx2

bool cpu_has_avx2_fma() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

void fill_avx2(Kernels<float>& f, Kernels<double>& d) {
  avx2::fill(f);
  avx2::fill(d);
}

}  // namespace fastconv
