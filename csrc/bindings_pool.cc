#include <pybind11/stl.h>

#include <algorithm>
#include <initializer_list>
#include <utility>
#include <vector>

#include "bindings_util.h"
#include "ops/relu.h"
#include "pool/blur_pool2d.h"
#include "pool/pool2d.h"
#include "pool/pool2d_backward.h"

namespace fastconv::bind {
namespace {

// x (N,C,H,W) and out (N,C,OH,OW) as planes; checks the geometry so that no window reads
// outside the input.
// The H, W and channel axes of a 4-D array in either layout.
struct Axes {
  int h, w, c;
};
Axes axes(bool nhwc) { return nhwc ? Axes{1, 2, 3} : Axes{2, 3, 1}; }

void check_same_images(const py::array& x, const py::array& out, Axes a) {
  if (out.shape(0) != x.shape(0) || out.shape(a.c) != x.shape(a.c)) throw py::value_error("out has the wrong shape");
}

// x_name / out_name: the arrays' names in messages (the backward passes: grad_in, grad_out).
PoolGeom pool_geometry(const py::array& x, const py::array& out, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                       int64_t ph, int64_t pw, int64_t dh, int64_t dw, Axes a, const char* x_name = "x",
                       const char* out_name = "out") {
  check_array(x, x_name, x, 4);
  check_array(out, out_name, x, 4);
  if (kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0 || ph < 0 || pw < 0)
    throw py::value_error("kernel_size, stride and dilation must be positive, padding non-negative");
  check_same_images(x, out, a);
  PoolGeom g{x.shape(a.h), x.shape(a.w), out.shape(a.h), out.shape(a.w), kh, kw, sh, sw, ph, pw, dh, dw};
  // Every window must start before the end of the padded input (PyTorch's ceil_mode rule).
  if (g.OH > 0 && (g.OH - 1) * sh - ph >= g.H) throw py::value_error("out is too tall for this pool");
  if (g.OW > 0 && (g.OW - 1) * sw - pw >= g.W) throw py::value_error("out is too wide for this pool");
  return g;
}

int64_t* optional_indices(py::object& indices, const py::array& out) {
  if (indices.is_none()) return nullptr;
  py::array idx = py::reinterpret_borrow<py::array>(indices);
  if (!idx.dtype().is(py::dtype::of<int64_t>())) throw py::type_error("indices must be int64");
  if (!(idx.flags() & py::array::c_style) || !idx.writeable()) throw py::value_error("indices must be C-contiguous");
  check_shape(idx, "indices", {out.shape(0), out.shape(1), out.shape(2), out.shape(3)});
  return static_cast<int64_t*>(idx.mutable_data());
}

void max_pool2d_binding(py::array x, py::array out, py::object indices, int64_t kh, int64_t kw, int64_t sh,
                        int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, bool nhwc) {
  check_array(out, "out", x, 4, true);
  const Axes a = axes(nhwc);
  PoolGeom g = pool_geometry(x, out, kh, kw, sh, sw, ph, pw, dh, dw, a);
  int64_t* idx = optional_indices(indices, out);
  dispatch_float(x, "x", out, [&](auto tag) {
    using T = decltype(tag);
    T* o = mutable_ptr<T>(out);
    py::gil_scoped_release release;
    if (nhwc)
      max_pool2d_nhwc<T>(g, x.shape(0), x.shape(3), ptr<T>(x), o, idx);
    else
      max_pool2d<T>(g, x.shape(0) * x.shape(1), ptr<T>(x), o, idx);
  });
}

void window_pool2d_binding(py::array x, py::array out, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,
                           int64_t pw, int kind, bool count_include_pad, int64_t divisor_override, double norm_type,
                           bool nhwc) {
  check_array(out, "out", x, 4, true);
  PoolGeom g = pool_geometry(x, out, kh, kw, sh, sw, ph, pw, 1, 1, axes(nhwc));
  if (kind < 0 || kind > 2) throw py::value_error("unknown pool kind");
  WindowPoolParams p{static_cast<WindowPoolKind>(kind), count_include_pad, divisor_override, norm_type};
  dispatch_float(x, "x", out, [&](auto tag) {
    using T = decltype(tag);
    T* o = mutable_ptr<T>(out);
    py::gil_scoped_release release;
    if (nhwc)
      window_pool2d_nhwc<T>(g, p, x.shape(0), x.shape(3), ptr<T>(x), o);
    else
      window_pool2d<T>(g, p, x.shape(0) * x.shape(1), ptr<T>(x), o);
  });
}

void adaptive_pool2d_binding(py::array x, py::array out, py::object indices, bool is_max, bool nhwc) {
  check_array(x, "x", x, 4);
  check_array(out, "out", x, 4, true);
  const Axes a = axes(nhwc);
  check_same_images(x, out, a);
  const int64_t planes = x.shape(0) * x.shape(a.c), H = x.shape(a.h), W = x.shape(a.w), OH = out.shape(a.h),
                OW = out.shape(a.w);
  if (planes > 0 && OH * OW > 0 && H * W == 0) throw py::value_error("adaptive pooling of an empty plane");
  int64_t* idx = is_max ? optional_indices(indices, out) : nullptr;
  dispatch_float(x, "x", out, [&](auto tag) {
    using T = decltype(tag);
    T* o = mutable_ptr<T>(out);
    py::gil_scoped_release release;
    if (nhwc)
      adaptive_pool2d_nhwc<T>(x.shape(0), H, W, OH, OW, x.shape(3), ptr<T>(x), o, idx, is_max);
    else if (is_max)
      adaptive_max_pool2d<T>(planes, H, W, OH, OW, ptr<T>(x), o, idx);
    else
      adaptive_avg_pool2d<T>(planes, H, W, OH, OW, ptr<T>(x), o);
  });
}

// The backward passes: grad_in has the forward input's shape, grad_out (and indices) the
// forward output's; the other arguments are the forward's.
void max_pool2d_backward_binding(py::array grad_out, py::array indices, py::array grad_in, bool nhwc) {
  check_array(grad_out, "grad_out", grad_out, 4);
  check_array(grad_in, "grad_in", grad_out, 4, true);
  const Axes a = axes(nhwc);
  check_same_images(grad_in, grad_out, a);
  if (!indices.dtype().is(py::dtype::of<int64_t>()) || !(indices.flags() & py::array::c_style))
    throw py::type_error("indices must be a C-contiguous int64 array");
  check_shape(indices, "indices", {grad_out.shape(0), grad_out.shape(1), grad_out.shape(2), grad_out.shape(3)});
  const int64_t in_plane = grad_in.shape(a.h) * grad_in.shape(a.w);
  const int64_t out_plane = grad_out.shape(a.h) * grad_out.shape(a.w);
  const auto* idx = static_cast<const int64_t*>(indices.data());
  bool in_range = true;
  dispatch_float(grad_out, "grad_out", grad_in, [&](auto tag) {
    using T = decltype(tag);
    T* gin = mutable_ptr<T>(grad_in);
    py::gil_scoped_release release;
    in_range = max_pool2d_backward<T>(grad_in.shape(0), grad_in.shape(a.c), nhwc, in_plane, out_plane,
                                      ptr<T>(grad_out), idx, gin);
  });
  if (!in_range)
    throw py::value_error("indices must be -1 or lie in [0, " + std::to_string(in_plane) +
                          ") (positions h*W + w in one input plane)");
}

void window_pool2d_backward_binding(py::array grad_out, py::object x, py::array grad_in, int64_t kh, int64_t kw,
                                    int64_t sh, int64_t sw, int64_t ph, int64_t pw, int kind, bool count_include_pad,
                                    int64_t divisor_override, double norm_type, bool nhwc) {
  check_array(grad_in, "grad_in", grad_out, 4, true);
  PoolGeom g = pool_geometry(grad_in, grad_out, kh, kw, sh, sw, ph, pw, 1, 1, axes(nhwc), "grad_in", "grad_out");
  if (kind < 0 || kind > 2) throw py::value_error("unknown pool kind");
  const auto pool_kind = static_cast<WindowPoolKind>(kind);
  if ((pool_kind == WindowPoolKind::Lp) == x.is_none()) throw py::value_error("x is needed for lp pooling only");
  py::array xa;
  if (!x.is_none()) {
    xa = py::reinterpret_borrow<py::array>(x);
    check_array(xa, "x", grad_out, 4);
    check_shape(xa, "x", {grad_in.shape(0), grad_in.shape(1), grad_in.shape(2), grad_in.shape(3)});
  }
  WindowPoolParams p{pool_kind, count_include_pad, divisor_override, norm_type};
  const Axes a = axes(nhwc);
  dispatch_float(grad_out, "grad_out", grad_in, [&](auto tag) {
    using T = decltype(tag);
    T* gin = mutable_ptr<T>(grad_in);
    const T* xp = x.is_none() ? nullptr : ptr<T>(xa);
    py::gil_scoped_release release;
    window_pool2d_backward<T>(g, p, grad_in.shape(0), grad_in.shape(a.c), nhwc, ptr<T>(grad_out), xp, gin);
  });
}

void adaptive_avg_pool2d_backward_binding(py::array grad_out, py::array grad_in, bool nhwc) {
  check_array(grad_out, "grad_out", grad_out, 4);
  check_array(grad_in, "grad_in", grad_out, 4, true);
  const Axes a = axes(nhwc);
  check_same_images(grad_in, grad_out, a);
  const int64_t H = grad_in.shape(a.h), W = grad_in.shape(a.w), OH = grad_out.shape(a.h), OW = grad_out.shape(a.w);
  if (grad_in.size() > 0 && OH * OW > 0 && H * W == 0) throw py::value_error("adaptive pooling of an empty plane");
  dispatch_float(grad_out, "grad_out", grad_in, [&](auto tag) {
    using T = decltype(tag);
    T* gin = mutable_ptr<T>(grad_in);
    py::gil_scoped_release release;
    adaptive_avg_pool2d_backward<T>(grad_in.shape(0), grad_in.shape(a.c), nhwc, H, W, OH, OW, ptr<T>(grad_out), gin);
  });
}

void relu_binding(py::array x, py::array out) {
  check_array(x, "x", x, -1);
  check_array(out, "out", x, -1, true);
  if (out.size() != x.size()) throw py::value_error("out has the wrong size");
  dispatch_float(x, "x", out, [&](auto tag) {
    using T = decltype(tag);
    T* o = mutable_ptr<T>(out);
    py::gil_scoped_release release;
    relu<T>(ptr<T>(x), o, x.size());
  });
}

void relu_backward_binding(py::array grad_out, py::array x, py::array grad_in) {
  check_array(x, "x", x, -1);
  check_array(grad_out, "grad_out", x, -1);
  check_array(grad_in, "grad_in", x, -1, true);
  if (grad_out.size() != x.size() || grad_in.size() != x.size()) throw py::value_error("sizes differ");
  // The portable kernel reads through restrict pointers: grad_in may share no byte with an input.
  check_no_overlap(grad_in, "grad_in", grad_out, "grad_out");
  check_no_overlap(grad_in, "grad_in", x, "x");
  dispatch_float(x, "x", grad_in, [&](auto tag) {
    using T = decltype(tag);
    T* gin = mutable_ptr<T>(grad_in);
    py::gil_scoped_release release;
    relu_backward<T>(ptr<T>(grad_out), ptr<T>(x), gin, x.size());
  });
}

// The blur's filters as T, and its geometry for blurring H x W images into OH x OW ones,
// checked: OH = ceil(H / sh), OW = ceil(W / sw).
struct BlurFilters {
  std::vector<double> h, w;
  template <class T>
  void to(T* fh, T* fw) const {
    std::copy(h.begin(), h.end(), fh);
    std::copy(w.begin(), w.end(), fw);
  }
};

BlurGeom blur_geometry(int64_t H, int64_t W, int64_t OH, int64_t OW, const BlurFilters& f, int64_t sh, int64_t sw,
                       int64_t ph, int64_t pw, int pad_mode) {
  const int64_t kh = static_cast<int64_t>(f.h.size()), kw = static_cast<int64_t>(f.w.size());
  if (kh < 1 || kh > kMaxBlurTaps || kw < 1 || kw > kMaxBlurTaps)
    throw py::value_error("the blur filters must have 1 to 7 taps");
  if (sh <= 0 || sw <= 0 || ph < 0 || ph >= kh || pw < 0 || pw >= kw || pad_mode < 0 || pad_mode > 3)
    throw py::value_error("stride must be positive, padding within the filter, pad_mode 0..3");
  if (H <= 0 || W <= 0) throw py::value_error("the blurred images must have non-empty spatial dimensions");
  if (OH != (H - 1) / sh + 1 || OW != (W - 1) / sw + 1) throw py::value_error("the blurred output has the wrong shape");
  return BlurGeom{H, W, OH, OW, kh, kw, sh, sw, ph, pw, static_cast<PadMode>(pad_mode)};
}

// x (N,C,H,W) or (N,H,W,C) into out of the same images. With max_kh > 0, max-blur pooling:
// the blur of the stride-1 max pool of x with window (max_kh, max_kw) and padding
// (max_ph, max_pw) (at most half the window), whose map is H + 2*max_ph - max_kh + 1 tall.
void blur_pool2d_binding(py::array x, py::array out, BlurFilters f, int64_t sh, int64_t sw, int64_t ph, int64_t pw,
                         int pad_mode, bool nhwc, int64_t max_kh, int64_t max_kw, int64_t max_ph, int64_t max_pw) {
  check_array(x, "x", x, 4);
  check_array(out, "out", x, 4, true);
  const Axes a = axes(nhwc);
  check_same_images(x, out, a);
  if (x.shape(a.h) == 0 || x.shape(a.w) == 0) throw py::value_error("x must have non-empty spatial dimensions");
  if (max_kh < 0) throw py::value_error("max_kh must be 0 (no max) or positive");
  const bool with_max = max_kh > 0;
  PoolGeom mg{x.shape(a.h), x.shape(a.w), x.shape(a.h), x.shape(a.w), 1, 1, 1, 1, 0, 0, 1, 1};
  if (with_max) {
    if (max_kw <= 0 || max_ph < 0 || max_pw < 0 || 2 * max_ph > max_kh || 2 * max_pw > max_kw)
      throw py::value_error("the max window must be positive and its padding at most half of it");
    mg.kh = max_kh, mg.kw = max_kw, mg.ph = max_ph, mg.pw = max_pw;
    mg.OH = mg.H + 2 * max_ph - max_kh + 1;
    mg.OW = mg.W + 2 * max_pw - max_kw + 1;
  }
  const BlurGeom g = blur_geometry(mg.OH, mg.OW, out.shape(a.h), out.shape(a.w), f, sh, sw, ph, pw, pad_mode);
  const int64_t images = nhwc ? x.shape(0) : x.shape(0) * x.shape(1), C = nhwc ? x.shape(3) : 1;
  dispatch_float(x, "x", out, [&](auto tag) {
    using T = decltype(tag);
    T fh[kMaxBlurTaps], fw[kMaxBlurTaps];
    f.to(fh, fw);
    T* o = mutable_ptr<T>(out);
    py::gil_scoped_release release;
    if (with_max)
      max_blur_pool2d<T>(mg, g, fh, fw, images, C, ptr<T>(x), o);
    else
      blur_pool2d<T>(g, fh, fw, images, C, ptr<T>(x), o);
  });
}

// grad_in (the blur's input shape) from grad_out (its output's), both in one layout.
void blur_pool2d_backward_binding(py::array grad_out, py::array grad_in, BlurFilters f, int64_t sh, int64_t sw,
                                  int64_t ph, int64_t pw, int pad_mode, bool nhwc) {
  check_array(grad_out, "grad_out", grad_out, 4);
  check_array(grad_in, "grad_in", grad_out, 4, true);
  const Axes a = axes(nhwc);
  check_same_images(grad_out, grad_in, a);
  const BlurGeom g = blur_geometry(grad_in.shape(a.h), grad_in.shape(a.w), grad_out.shape(a.h), grad_out.shape(a.w),
                                   f, sh, sw, ph, pw, pad_mode);
  const int64_t images = nhwc ? grad_in.shape(0) : grad_in.shape(0) * grad_in.shape(1);
  const int64_t C = nhwc ? grad_in.shape(3) : 1;
  dispatch_float(grad_out, "grad_out", grad_in, [&](auto tag) {
    using T = decltype(tag);
    T fh[kMaxBlurTaps], fw[kMaxBlurTaps];
    f.to(fh, fw);
    T* gin = mutable_ptr<T>(grad_in);
    py::gil_scoped_release release;
    blur_pool2d_backward<T>(g, fh, fw, images, C, ptr<T>(grad_out), gin);
  });
}

}  // namespace

void bind_pool(py::module_& m) {
  m.def(
      "blur_pool2d",
      [](py::array x, py::array out, std::vector<double> fh, std::vector<double> fw, int64_t sh, int64_t sw,
         int64_t ph, int64_t pw, int pad_mode, bool nhwc, int64_t max_kh, int64_t max_kw, int64_t max_ph,
         int64_t max_pw) {
        blur_pool2d_binding(x, out, BlurFilters{std::move(fh), std::move(fw)}, sh, sw, ph, pw, pad_mode, nhwc, max_kh,
                            max_kw, max_ph, max_pw);
      },
      py::arg("x"), py::arg("out"), py::arg("filter_h"), py::arg("filter_w"), py::arg("sh"), py::arg("sw"),
      py::arg("ph"), py::arg("pw"), py::arg("pad_mode"), py::arg("nhwc"), py::arg("max_kh") = 0,
      py::arg("max_kw") = 0, py::arg("max_ph") = 0, py::arg("max_pw") = 0);
  m.def(
      "blur_pool2d_backward",
      [](py::array grad_out, py::array grad_in, std::vector<double> fh, std::vector<double> fw, int64_t sh,
         int64_t sw, int64_t ph, int64_t pw, int pad_mode, bool nhwc) {
        blur_pool2d_backward_binding(grad_out, grad_in, BlurFilters{std::move(fh), std::move(fw)}, sh, sw, ph, pw,
                                     pad_mode, nhwc);
      },
      py::arg("grad_out"), py::arg("grad_in"), py::arg("filter_h"), py::arg("filter_w"), py::arg("sh"), py::arg("sw"),
      py::arg("ph"), py::arg("pw"), py::arg("pad_mode"), py::arg("nhwc"));
  m.def("max_pool2d", &max_pool2d_binding, py::arg("x"), py::arg("out"), py::arg("indices"), py::arg("kh"),
        py::arg("kw"), py::arg("sh"), py::arg("sw"), py::arg("ph"), py::arg("pw"), py::arg("dh"), py::arg("dw"),
        py::arg("nhwc"));
  m.def("window_pool2d", &window_pool2d_binding, py::arg("x"), py::arg("out"), py::arg("kh"), py::arg("kw"),
        py::arg("sh"), py::arg("sw"), py::arg("ph"), py::arg("pw"), py::arg("kind"), py::arg("count_include_pad"),
        py::arg("divisor_override"), py::arg("norm_type"), py::arg("nhwc"));
  m.def("adaptive_pool2d", &adaptive_pool2d_binding, py::arg("x"), py::arg("out"), py::arg("indices"),
        py::arg("is_max"), py::arg("nhwc"));
  m.def("max_pool2d_backward", &max_pool2d_backward_binding, py::arg("grad_out"), py::arg("indices"),
        py::arg("grad_in"), py::arg("nhwc"));
  m.def("window_pool2d_backward", &window_pool2d_backward_binding, py::arg("grad_out"), py::arg("x"),
        py::arg("grad_in"), py::arg("kh"), py::arg("kw"), py::arg("sh"), py::arg("sw"), py::arg("ph"), py::arg("pw"),
        py::arg("kind"), py::arg("count_include_pad"), py::arg("divisor_override"), py::arg("norm_type"),
        py::arg("nhwc"));
  m.def("adaptive_avg_pool2d_backward", &adaptive_avg_pool2d_backward_binding, py::arg("grad_out"),
        py::arg("grad_in"), py::arg("nhwc"));
  m.def("relu", &relu_binding, py::arg("x"), py::arg("out"));
  m.def("relu_backward", &relu_backward_binding, py::arg("grad_out"), py::arg("x"), py::arg("grad_in"));
}

}  // namespace fastconv::bind
