#include "pool/pool2d.h"

#include "common/parallel.h"
#include "kernels/kernel_table.h"

namespace fastconv {

// Every operator hands whole planes to one thread; a plane's outputs never share a thread.

template <class T>
void max_pool2d(const PoolGeom& g, int64_t planes, const T* x, T* out, int64_t* indices) {
  const auto kernel = kernels<T>().max_pool_plane;
  const int64_t out_plane = g.OH * g.OW;
  parallel_for(planes, planes * out_plane * g.kh * g.kw, [&](int64_t p) {
    kernel(x + p * g.H * g.W, out + p * out_plane, indices != nullptr ? indices + p * out_plane : nullptr, g);
  });
}

template <class T>
void window_pool2d(const PoolGeom& g, const WindowPoolParams& params, int64_t planes, const T* x, T* out) {
  const auto kernel = kernels<T>().window_pool_plane;
  const int64_t out_plane = g.OH * g.OW;
  parallel_for(planes, planes * out_plane * g.kh * g.kw, [&](int64_t p) {
    kernel(x + p * g.H * g.W, out + p * out_plane, g, params);
  });
}

template <class T>
void adaptive_avg_pool2d(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW, const T* x, T* out) {
  const auto kernel = kernels<T>().adaptive_avg_plane;
  parallel_for(planes, planes * (H * W + OH * OW),
               [&](int64_t p) { kernel(x + p * H * W, out + p * OH * OW, H, W, OH, OW); });
}

template <class T>
void adaptive_max_pool2d(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW, const T* x, T* out,
                         int64_t* indices) {
  const auto kernel = kernels<T>().adaptive_max_plane;
  parallel_for(planes, planes * (H * W + OH * OW), [&](int64_t p) {
    kernel(x + p * H * W, out + p * OH * OW, indices != nullptr ? indices + p * OH * OW : nullptr, H, W, OH, OW);
  });
}

#define FASTCONV_INSTANTIATE_POOL(T)                                                                  \
  template void max_pool2d<T>(const PoolGeom&, int64_t, const T*, T*, int64_t*);                      \
  template void window_pool2d<T>(const PoolGeom&, const WindowPoolParams&, int64_t, const T*, T*);    \
  template void adaptive_avg_pool2d<T>(int64_t, int64_t, int64_t, int64_t, int64_t, const T*, T*);    \
  template void adaptive_max_pool2d<T>(int64_t, int64_t, int64_t, int64_t, int64_t, const T*, T*, int64_t*);
FASTCONV_INSTANTIATE_POOL(float)
FASTCONV_INSTANTIATE_POOL(double)

}  // namespace fastconv
