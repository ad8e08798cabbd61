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

// NHWC: one output row of one image per work item.
template <class T>
void max_pool2d_nhwc(const PoolGeom& g, int64_t images, int64_t C, const T* x, T* out, int64_t* indices) {
  const auto kernel = kernels<T>().max_pool_nhwc_row;
  const int64_t in_image = g.H * g.W * C, out_image = g.OH * g.OW * C;
  parallel_for(images * g.OH, images * out_image * g.kh * g.kw, [&](int64_t row) {
    const int64_t n = row / g.OH;
    kernel(x + n * in_image, out + n * out_image, indices != nullptr ? indices + n * out_image : nullptr, g, C,
           row % g.OH);
  });
}

template <class T>
void window_pool2d_nhwc(const PoolGeom& g, const WindowPoolParams& p, int64_t images, int64_t C, const T* x, T* out) {
  const auto kernel = kernels<T>().window_pool_nhwc_row;
  const int64_t in_image = g.H * g.W * C, out_image = g.OH * g.OW * C;
  parallel_for(images * g.OH, images * out_image * g.kh * g.kw, [&](int64_t row) {
    const int64_t n = row / g.OH;
    kernel(x + n * in_image, out + n * out_image, g, p, C, row % g.OH);
  });
}

template <class T>
void adaptive_pool2d_nhwc(int64_t images, int64_t H, int64_t W, int64_t OH, int64_t OW, int64_t C, const T* x, T* out,
                          int64_t* indices, bool is_max) {
  const auto kernel = kernels<T>().adaptive_pool_nhwc;
  parallel_for(images, images * (H * W + OH * OW) * C, [&](int64_t n) {
    kernel(x + n * H * W * C, out + n * OH * OW * C, indices != nullptr ? indices + n * OH * OW * C : nullptr, is_max,
           H, W, OH, OW, C);
  });
}

#define FASTCONV_INSTANTIATE_POOL(T)                                                                  \
  template void max_pool2d<T>(const PoolGeom&, int64_t, const T*, T*, int64_t*);                      \
  template void window_pool2d<T>(const PoolGeom&, const WindowPoolParams&, int64_t, const T*, T*);    \
  template void adaptive_avg_pool2d<T>(int64_t, int64_t, int64_t, int64_t, int64_t, const T*, T*);    \
  template void adaptive_max_pool2d<T>(int64_t, int64_t, int64_t, int64_t, int64_t, const T*, T*, int64_t*);      \
  template void max_pool2d_nhwc<T>(const PoolGeom&, int64_t, int64_t, const T*, T*, int64_t*);                    \
  template void window_pool2d_nhwc<T>(const PoolGeom&, const WindowPoolParams&, int64_t, int64_t, const T*, T*);  \
  template void adaptive_pool2d_nhwc<T>(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, const T*, T*, int64_t*, \
                                        bool);
FASTCONV_INSTANTIATE_POOL(float)
FASTCONV_INSTANTIATE_POOL(double)

}  // namespace fastconv
