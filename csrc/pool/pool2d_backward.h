// Backward passes of the 2-D pools: grad_in (the input's shape, written whole) from grad_out
// (the output's shape), for `images` images of C channels, NCHW or (nhwc) NHWC. Every input element is written by one thread, summing the
// outputs that reach it in output order, so results do not depend on the thread count.
#pragma once
#include <cstdint>

#include "kernels/geometry.h"

namespace fastconv {

// Max pools (any window, adaptive, global): each output's gradient goes to the input
// position its saved index names (h*W + w in its plane; -1: nowhere). Returns false, with
// grad_in unspecified, if an index lies outside [-1, in_plane).
template <class T>
bool max_pool2d_backward(int64_t images, int64_t C, bool nhwc, int64_t in_plane, int64_t out_plane,
                         const T* grad_out, const int64_t* indices, T* grad_in);

// Sum / average / power-average pools (dilation 1): each output's gradient, scaled by the
// forward's rule, goes to every input position of its window. Lp reads x (the forward's
// input); the others take x = nullptr.
template <class T>
void window_pool2d_backward(const PoolGeom& g, const WindowPoolParams& p, int64_t images, int64_t C, bool nhwc,
                            const T* grad_out, const T* x, T* grad_in);

// Adaptive average pools: cell (oy, ox) spans rows floor(oy*H/OH) .. ceil((oy+1)*H/OH) - 1
// (and likewise columns); its gradient, divided by its size, goes to each of them.
template <class T>
void adaptive_avg_pool2d_backward(int64_t images, int64_t C, bool nhwc, int64_t H, int64_t W, int64_t OH,
                                  int64_t OW, const T* grad_out, T* grad_in);

}  // namespace fastconv
