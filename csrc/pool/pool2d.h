// 2-D pooling operators on `planes` contiguous (H, W) planes (N*C for NCHW).
#pragma once
#include <cstdint>

#include "kernels/geometry.h"

namespace fastconv {

template <class T>
void max_pool2d(const PoolGeom& g, int64_t planes, const T* x, T* out, int64_t* indices);

template <class T>
void window_pool2d(const PoolGeom& g, const WindowPoolParams& p, int64_t planes, const T* x, T* out);

template <class T>
void adaptive_avg_pool2d(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW, const T* x, T* out);

template <class T>
void adaptive_max_pool2d(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW, const T* x, T* out,
                         int64_t* indices);

// NHWC: `images` images of (H, W, C), output (OH, OW, C); indices per channel as above.
template <class T>
void max_pool2d_nhwc(const PoolGeom& g, int64_t images, int64_t C, const T* x, T* out, int64_t* indices);

template <class T>
void window_pool2d_nhwc(const PoolGeom& g, const WindowPoolParams& p, int64_t images, int64_t C, const T* x, T* out);

template <class T>
void adaptive_pool2d_nhwc(int64_t images, int64_t H, int64_t W, int64_t OH, int64_t OW, int64_t C, const T* x, T* out,
                          int64_t* indices, bool is_max);

}  // namespace fastconv
