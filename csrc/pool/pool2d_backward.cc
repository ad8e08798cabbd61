#include "pool/pool2d_backward.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/parallel.h"
#include "common/ranges.h"

// Every operator runs over slices: channels [c0, c0 + width) of one image whose pixels are C
// values apart. An NCHW plane is a slice of an image of one channel; an NHWC image is cut
// into slices of kSliceChannels channels, so a slice's inner loops run along contiguous
// channels. A slice's input gradient is zeroed, then every output of the slice is scattered
// into it in output order, by one thread.
namespace fastconv {
namespace {

constexpr int64_t kSliceChannels = 64;

struct Slice {
  int64_t C, c0, width;
  int64_t at(int64_t pixel) const { return pixel * C + c0; }
};

// body(in_offset, out_offset, slice) for every slice of `images` images of in_plane input and
// out_plane output pixels, in parallel.
template <class Body>
void for_each_slice(int64_t images, int64_t C, bool nhwc, int64_t in_plane, int64_t out_plane, int64_t work,
                    Body&& body) {
  if (!nhwc) {  // images * C planes of one channel
    parallel_for(images * C, work, [&](int64_t p) { body(p * in_plane, p * out_plane, Slice{1, 0, 1}); });
    return;
  }
  const int64_t slices = ceil_div(C, kSliceChannels);
  parallel_for(images * slices, work, [&](int64_t item) {
    const int64_t n = item / slices, c0 = (item % slices) * kSliceChannels;
    body(n * in_plane * C, n * out_plane * C, Slice{C, c0, std::min(kSliceChannels, C - c0)});
  });
}

template <class T>
void zero_slice(T* grad_in, int64_t pixels, const Slice& s) {
  if (s.C == s.width) {
    std::fill(grad_in, grad_in + pixels * s.C, T(0));
    return;
  }
  for (int64_t i = 0; i < pixels; ++i) std::fill(grad_in + s.at(i), grad_in + s.at(i) + s.width, T(0));
}

template <class T>
bool max_backward_slice(const T* go, const int64_t* idx, T* gin, int64_t in_plane, int64_t out_plane,
                        const Slice& s) {
  zero_slice(gin, in_plane, s);
  bool in_range = true;
  if (s.C == 1) {  // one channel a pixel (an NCHW plane): one index per output, -1 for none
    for (int64_t i = 0; i < out_plane; ++i) {
      const int64_t j = idx[i];
      if (static_cast<uint64_t>(j) < static_cast<uint64_t>(in_plane))
        gin[j] += go[i];
      else if (j != -1)
        in_range = false;
    }
    return in_range;
  }
  for (int64_t i = 0; i < out_plane; ++i)
    for (int64_t c = 0; c < s.width; ++c) {
      const int64_t j = idx[s.at(i) + c];
      if (j < -1 || j >= in_plane)
        in_range = false;
      else if (j >= 0)
        gin[s.at(j) + c] += go[s.at(i) + c];
    }
  return in_range;
}

// How each output of a summing pool spreads: Sum 1, Avg 1/divisor; Lp's per-channel
// coefficient is dL/d(window average) / divisor (see lp_coefficient), times each input's p*x**(p-1).
template <class T>
double lp_coefficient(const T* x, const PoolGeom& g, const WindowPoolParams& p, WindowSpan ys, WindowSpan xs,
                      int64_t divisor, const Slice& s, int64_t c, double grad) {
  double sum = 0;
  for (int64_t y = ys.lo; y < ys.hi; ++y)
    for (int64_t xx = xs.lo; xx < xs.hi; ++xx) sum += std::pow(static_cast<double>(x[s.at(y * g.W + xx) + c]), p.norm_type);
  const double avg = divisor > 0 ? sum / static_cast<double>(divisor) : 0.0, window = static_cast<double>(g.kh * g.kw);
  // PyTorch: out = (sign(a)*relu(|a|) * kh*kw) ** (1/p); relu passes nothing where a == 0.
  if (avg == 0.0) return 0.0;
  return grad * (1.0 / p.norm_type) * std::pow(avg * window, 1.0 / p.norm_type - 1.0) * window / divisor;
}

// d(x**p)/dx, in double.
template <class T>
double lp_slope(T x, double p) {
  return p * std::pow(static_cast<double>(x), p - 1.0);
}

// PyTorch differentiates x**p at every input, so a position no window reads still gets
// 0 * p*x**(p-1): NaN where x is inf or NaN (or 0 with p < 1). Lp pools have no padding: row
// y is read iff the last window starting at or before it reaches it (likewise columns).
template <class T>
void lp_uncovered(const PoolGeom& g, double norm_type, const T* x, T* gin, const Slice& s) {
  auto read = [](int64_t i, int64_t stride, int64_t k, int64_t outputs) {
    return outputs > 0 && i - std::min(i / stride, outputs - 1) * stride < k;
  };
  for (int64_t y = 0; y < g.H; ++y)
    for (int64_t xx = 0; xx < g.W; ++xx) {
      if (read(y, g.sh, g.kh, g.OH) && read(xx, g.sw, g.kw, g.OW)) continue;
      const int64_t at = s.at(y * g.W + xx);
      for (int64_t c = 0; c < s.width; ++c) gin[at + c] = static_cast<T>(0.0 * lp_slope(x[at + c], norm_type));
    }
}

template <class T>
void window_backward_slice(const PoolGeom& g, const WindowPoolParams& p, const T* go, const T* x, T* gin,
                           const Slice& s) {
  zero_slice(gin, g.H * g.W, s);
  double scale[kSliceChannels];
  for (int64_t oy = 0; oy < g.OH; ++oy) {
    const WindowSpan ys = window_span(oy, g.sh, g.ph, g.kh, g.H);
    for (int64_t ox = 0; ox < g.OW; ++ox) {
      const WindowSpan xs = window_span(ox, g.sw, g.pw, g.kw, g.W);
      const int64_t divisor = window_divisor(p, ys, xs);
      const T* grad = go + s.at(oy * g.OW + ox);
      for (int64_t c = 0; c < s.width; ++c) {
        const double v = static_cast<double>(grad[c]);
        scale[c] = p.kind == WindowPoolKind::Sum ? v
                   : p.kind == WindowPoolKind::Avg ? (divisor > 0 ? v / static_cast<double>(divisor) : 0.0)
                                                   : lp_coefficient(x, g, p, ys, xs, divisor, s, c, v);
      }
      for (int64_t y = ys.lo; y < ys.hi; ++y)
        for (int64_t xx = xs.lo; xx < xs.hi; ++xx) {
          T* dst = gin + s.at(y * g.W + xx);
          if (p.kind != WindowPoolKind::Lp) {
            for (int64_t c = 0; c < s.width; ++c) dst[c] += static_cast<T>(scale[c]);
            continue;
          }
          // times d(x**p)/dx = p*x**(p-1) before rounding to T: the coefficient alone can
          // overflow T where the product does not (x = 1e-27, p = 3: 1e53 * 1e-54)
          const T* xv = x + s.at(y * g.W + xx);
          for (int64_t c = 0; c < s.width; ++c)
            dst[c] += static_cast<T>(scale[c] * lp_slope(xv[c], p.norm_type));
        }
    }
  }
  if (p.kind == WindowPoolKind::Lp) lp_uncovered(g, p.norm_type, x, gin, s);
}

// A summing pool's NCHW plane, row by row: each output row's gradients over their divisors
// (`scale`, OW values of scratch) are added, for every input row of the row's windows, to the
// columns each window covers, one kernel column kx at a time from the last: at every input
// position the outputs arrive in increasing ox, so in output order as window_backward_slice
// adds them, but each pass is a strided row add.
template <class T>
void summing_backward_plane(const PoolGeom& g, const WindowPoolParams& p, const T* go, T* gin, T* scale) {
  std::fill(gin, gin + g.H * g.W, T(0));
  // the kernel columns that reach an input column from some output (the rest lie in padding)
  const int64_t kx_lo = std::max<int64_t>(0, g.pw - (g.OW - 1) * g.sw), kx_hi = std::min(g.kw, g.W + g.pw);
  for (int64_t oy = 0; oy < g.OH; ++oy) {
    const WindowSpan ys = window_span(oy, g.sh, g.ph, g.kh, g.H);
    if (ys.lo >= ys.hi) continue;
    for (int64_t ox = 0; ox < g.OW; ++ox) {
      const int64_t divisor = window_divisor(p, ys, window_span(ox, g.sw, g.pw, g.kw, g.W));
      const double v = static_cast<double>(go[oy * g.OW + ox]);
      scale[ox] = static_cast<T>(p.kind == WindowPoolKind::Sum ? v
                                 : divisor > 0                ? v / static_cast<double>(divisor)
                                                              : 0.0);
    }
    for (int64_t y = ys.lo; y < ys.hi; ++y) {
      T* row = gin + y * g.W;
      for (int64_t kx = kx_hi - 1; kx >= kx_lo; --kx) {
        const Range outs = valid_range(g.OW, g.sw, kx - g.pw, g.W);  // input column ox*sw + kx - pw
        for (int64_t ox = outs.begin; ox < outs.end; ++ox) row[ox * g.sw + kx - g.pw] += scale[ox];
      }
    }
  }
}

}  // namespace

template <class T>
bool max_pool2d_backward(int64_t images, int64_t C, bool nhwc, int64_t in_plane, int64_t out_plane,
                         const T* grad_out, const int64_t* indices, T* grad_in) {
  int out_of_range = 0;
  for_each_slice(images, C, nhwc, in_plane, out_plane, images * C * (in_plane + out_plane),
                 [&](int64_t in_off, int64_t out_off, const Slice& s) {
                   if (!max_backward_slice(grad_out + out_off, indices + out_off, grad_in + in_off, in_plane,
                                           out_plane, s)) {
#pragma omp atomic write
                     out_of_range = 1;
                   }
                 });
  return out_of_range == 0;
}

template <class T>
void window_pool2d_backward(const PoolGeom& g, const WindowPoolParams& p, int64_t images, int64_t C, bool nhwc,
                            const T* go, const T* x, T* gin) {
  const int64_t in_plane = g.H * g.W, out_plane = g.OH * g.OW;
  if (!nhwc && p.kind != WindowPoolKind::Lp) {
    const double work = double(images) * double(C) * double(in_plane + out_plane) * double(std::min(g.kh, g.H));
    parallel_for_allocating(images * C, static_cast<int64_t>(std::min(work, 1e18)), [&](int64_t plane) {
      std::vector<T> scale(static_cast<size_t>(g.OW));
      summing_backward_plane(g, p, go + plane * out_plane, gin + plane * in_plane, scale.data());
    });
    return;
  }
  for_each_slice(images, C, nhwc, in_plane, out_plane, images * C * (in_plane + out_plane * g.kh * g.kw),
                 [&](int64_t in_off, int64_t out_off, const Slice& s) {
                   window_backward_slice(g, p, go + out_off, x != nullptr ? x + in_off : nullptr, gin + in_off, s);
                 });
}

template <class T>
void adaptive_avg_pool2d_backward(int64_t images, int64_t C, bool nhwc, int64_t H, int64_t W, int64_t OH,
                                  int64_t OW, const T* go, T* gin) {
  for_each_slice(images, C, nhwc, H * W, OH * OW, images * C * (H * W + OH * OW),
                 [&](int64_t in_off, int64_t out_off, const Slice& s) {
                   T* g_in = gin + in_off;
                   zero_slice(g_in, H * W, s);
                   for (int64_t oy = 0; oy < OH; ++oy) {
                     const int64_t y0 = oy * H / OH, y1 = ((oy + 1) * H + OH - 1) / OH;
                     for (int64_t ox = 0; ox < OW; ++ox) {
                       const int64_t x0 = ox * W / OW, x1 = ((ox + 1) * W + OW - 1) / OW;
                       const T* grad = go + out_off + s.at(oy * OW + ox);
                       const T cell = static_cast<T>((y1 - y0) * (x1 - x0));
                       for (int64_t y = y0; y < y1; ++y)
                         for (int64_t x = x0; x < x1; ++x) {
                           T* dst = g_in + s.at(y * W + x);
                           for (int64_t c = 0; c < s.width; ++c) dst[c] += grad[c] / cell;
                         }
                     }
                   }
                 });
}

#define FASTCONV_POOL_BACKWARD(T)                                                                           \
  template bool max_pool2d_backward<T>(int64_t, int64_t, bool, int64_t, int64_t, const T*, const int64_t*, T*); \
  template void window_pool2d_backward<T>(const PoolGeom&, const WindowPoolParams&, int64_t, int64_t, bool,   \
                                          const T*, const T*, T*);                                              \
  template void adaptive_avg_pool2d_backward<T>(int64_t, int64_t, bool, int64_t, int64_t, int64_t, int64_t,   \
                                                const T*, T*);
FASTCONV_POOL_BACKWARD(float)
FASTCONV_POOL_BACKWARD(double)
#undef FASTCONV_POOL_BACKWARD

}  // namespace fastconv
