#include "kernels/kernel_table.h"
#include "kernels/portable/gemm_portable.h"
#define FASTCONV_ISA portable
#include "kernels/generic/pool_planes.h"

namespace fastconv {
namespace portable {
namespace {

template <class T>
void axpy_strided(T* out, const T* in, T w, int64_t count, int64_t in_step) {
  for (int64_t i = 0; i < count; ++i) out[i] += w * in[i * in_step];
}

template <class T>
void relu(const T* in, T* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = in[i] < T(0) ? T(0) : in[i];
}

template <class T>
void fill(Kernels<T>& k) {
  constexpr int MR = 4, NR = 8;
  k.gemm_mr = MR;
  k.gemm_nr = NR;
  k.gemm_ukernel = gemm_ukernel<T, MR, NR>;
  k.axpy_strided = axpy_strided<T>;
  k.max_pool_plane = max_pool_plane<T>;
  k.window_pool_plane = window_pool_plane<T>;
  k.adaptive_avg_plane = adaptive_avg_plane<T>;
  k.adaptive_max_plane = adaptive_max_plane<T>;
  k.relu = relu<T>;
}

}  // namespace
}  // namespace portable

void fill_portable(Kernels<float>& f, Kernels<double>& d) {
  portable::fill(f);
  portable::fill(d);
}

}  // namespace fastconv
