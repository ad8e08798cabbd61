#include <algorithm>

#include "bindings_util.h"
#include "conv/conv2d.h"
#include "conv/conv2d_grad_bias.h"
#include "conv/conv2d_grad_input.h"
#include "conv/conv2d_grad_weight.h"
#include "conv/conv_transpose2d.h"
#include "conv/flipped_weights.h"
#include "conv/row_class_tiles.h"
#include "kernels/kernel_table.h"

namespace fastconv::bind {
namespace {

void check_bias(const py::object& bias, const py::array& like, int64_t K) {
  if (bias.is_none()) return;
  if (!py::isinstance<py::array>(bias)) throw py::type_error("bias must be an ndarray or None");
  py::array b = py::reinterpret_borrow<py::array>(bias);
  check_array(b, "bias", like, 1);
  check_shape(b, "bias", {K});
}

// The shape of a convolution of x (N,C,H,W) by w (K,C/groups,kh,kw) into out (N,K,OH,OW),
// pads (top, bottom, left, right), every size checked against the others; with nhwc, x is
// (N,H,W,C) and out (N,OH,OW,K). w_name and out_name name the arrays in messages.
Conv2dShape checked_conv_shape(const py::array& x, const py::array& w, const char* w_name, const py::array& out,
                               const char* out_name, int64_t sh, int64_t sw, int64_t dh, int64_t dw, int64_t pt,
                               int64_t pb, int64_t pl, int64_t pr, int64_t groups, bool nhwc) {
  check_array(x, "x", x, 4);
  check_array(w, w_name, x, 4);
  const int c_axis = nhwc ? 3 : 1, h_axis = nhwc ? 1 : 2;
  Conv2dShape s{x.shape(0), x.shape(c_axis), x.shape(h_axis), x.shape(h_axis + 1), w.shape(0), w.shape(2),
                w.shape(3), out.shape(h_axis), out.shape(h_axis + 1), sh, sw, dh, dw, pt, pl, groups};
  if (sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0 || groups <= 0 || pt < 0 || pb < 0 || pl < 0 || pr < 0)
    throw py::value_error("stride, dilation and groups must be positive, padding non-negative");
  if (s.C % groups || s.K % groups || w.shape(1) != s.C / groups)
    throw py::value_error("channel counts do not match groups");
  const int64_t ekh = dh * (s.kh - 1) + 1, ekw = dw * (s.kw - 1) + 1;
  if (ekh > s.H + pt + pb || ekw > s.W + pl + pr) throw py::value_error("kernel larger than padded input");
  const int64_t OH = (s.H + pt + pb - ekh) / sh + 1, OW = (s.W + pl + pr - ekw) / sw + 1;
  check_shape(out, out_name,
              nhwc ? std::vector<int64_t>{s.N, OH, OW, s.K} : std::vector<int64_t>{s.N, s.K, OH, OW});
  return s;
}

// x (N,C,H,W), w (K,C/groups,kh,kw), out (N,K,OH,OW); pads are (top, bottom, left, right).
// With nhwc, x is (N,H,W,C) and out (N,OH,OW,K).
void conv2d_binding(py::array x, py::array w, py::object bias, py::array out, int64_t sh, int64_t sw, int64_t dh,
                    int64_t dw, int64_t pt, int64_t pb, int64_t pl, int64_t pr, int64_t groups, int pad_mode,
                    double fill, int algorithm, bool relu, bool nhwc) {
  check_array(out, "out", x, 4, true);
  const Conv2dShape s = checked_conv_shape(x, w, "weight", out, "out", sh, sw, dh, dw, pt, pb, pl, pr, groups, nhwc);
  check_bias(bias, x, s.K);
  if (pad_mode < 0 || pad_mode > 4 || algorithm < 0 || algorithm > 5)
    throw py::value_error("unknown padding mode or algorithm");
  if (static_cast<ConvAlgorithm>(algorithm) == ConvAlgorithm::Winograd && !winograd_applies(s))
    throw py::value_error("algorithm 'winograd' needs a 3x3 kernel, unit stride and dilation and one group");
  if (nhwc && static_cast<ConvAlgorithm>(algorithm) == ConvAlgorithm::Direct && (s.Cg() != 1 || s.Kg() != 1))
    throw py::value_error("algorithm 'direct' with layout 'NHWC' needs a depthwise convolution (groups == C == K)");
  dispatch_float(x, "x", out, [&](auto tag) {
    using T = decltype(tag);
    const T* b = optional_ptr<T>(bias);
    T* o = mutable_ptr<T>(out);
    const Padding<T> padding{static_cast<PadMode>(pad_mode), static_cast<T>(fill)};
    const auto algo = static_cast<ConvAlgorithm>(algorithm);
    py::gil_scoped_release release;
    if (nhwc)
      conv2d_nhwc<T>(s, padding, algo, ptr<T>(x), ptr<T>(w), b, o, relu);
    else
      conv2d<T>(s, padding, algo, ptr<T>(x), ptr<T>(w), b, o, relu);
  });
}

// dL/dw of conv2d: grad_out has the forward output's shape (and x's layout), grad_w (K,
// C/groups, kh, kw) is written; the other arguments are conv2d's.
void conv2d_grad_weight_binding(py::array x, py::array grad_out, py::array grad_w, int64_t sh, int64_t sw,
                                int64_t dh, int64_t dw, int64_t pt, int64_t pb, int64_t pl, int64_t pr,
                                int64_t groups, int pad_mode, double fill, bool nhwc) {
  check_array(grad_out, "grad_out", x, 4);
  check_array(grad_w, "grad_w", x, 4, true);
  const Conv2dShape s =
      checked_conv_shape(x, grad_w, "grad_w", grad_out, "grad_out", sh, sw, dh, dw, pt, pb, pl, pr, groups, nhwc);
  if (pad_mode < 0 || pad_mode > 4) throw py::value_error("unknown padding mode");
  check_no_overlap(grad_w, "grad_w", x, "x");  // written while x and grad_out are read
  check_no_overlap(grad_w, "grad_w", grad_out, "grad_out");
  dispatch_float(x, "x", grad_w, [&](auto tag) {
    using T = decltype(tag);
    const Padding<T> padding{static_cast<PadMode>(pad_mode), static_cast<T>(fill)};
    T* gw = mutable_ptr<T>(grad_w);
    py::gil_scoped_release release;
    conv2d_grad_weight<T>(s, padding, nhwc, ptr<T>(x), ptr<T>(grad_out), gw);
  });
}

// The algorithm conv2d's "auto" runs (a ConvAlgorithm code) for these sizes on the current
// backend, so that a caller can choose between formulations of the same result.
int conv2d_auto_algorithm(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t kh, int64_t kw, int64_t OH,
                          int64_t OW, int64_t sh, int64_t sw, int64_t dh, int64_t dw, int64_t groups, bool nhwc,
                          bool float64) {
  for (int64_t size : {N, C, H, W, K, kh, kw, OH, OW})
    if (size < 0) throw py::value_error("sizes must be non-negative");
  for (int64_t step : {sh, sw, dh, dw, groups})
    if (step < 1) throw py::value_error("strides, dilations and groups must be positive");
  if (C % groups || K % groups) throw py::value_error("channel counts do not match groups");
  // The choice multiplies sizes (3 * N, OH * OW, ...): beyond 2**31 they decide nothing more.
  const auto cap = [](int64_t v) { return std::min<int64_t>(v, int64_t{1} << 31); };
  const Conv2dShape s{cap(N),  cap(C),  cap(H),  cap(W),  cap(K),  cap(kh), cap(kw), cap(OH),
                      cap(OW), cap(sh), cap(sw), cap(dh), cap(dw), 0,       0,       groups};
  const auto choose = [&](auto tag) {
    using T = decltype(tag);
    return nhwc ? choose_conv2d_nhwc_algorithm<T>(s) : choose_conv2d_algorithm<T>(s);
  };
  return static_cast<int>(float64 ? choose(double{}) : choose(float{}));
}

// dL/db of conv2d: grad_out (N, K, OH, OW), or (N, OH, OW, K) with nhwc; grad_b (K,) is written.
void conv2d_grad_bias_binding(py::array grad_out, py::array grad_b, bool nhwc) {
  check_array(grad_out, "grad_out", grad_out, 4);
  check_array(grad_b, "grad_b", grad_out, 1, true);
  const int64_t N = grad_out.shape(0), K = grad_out.shape(nhwc ? 3 : 1);
  check_shape(grad_b, "grad_b", {K});
  check_no_overlap(grad_b, "grad_b", grad_out, "grad_out");
  dispatch_float(grad_out, "grad_out", grad_b, [&](auto tag) {
    using T = decltype(tag);
    T* gb = mutable_ptr<T>(grad_b);
    if (grad_out.size() == 0) {  // no pixels (or images): loops over the others could be huge
      std::fill(gb, gb + K, T(0));
      return;
    }
    py::gil_scoped_release release;
    conv2d_grad_bias<T>(ptr<T>(grad_out), N, K, grad_out.shape(nhwc ? 1 : 2) * grad_out.shape(nhwc ? 2 : 3), nhwc,
                        gb);
  });
}

// out (C, K/groups, kh, kw) = w (K, C/groups, kh, kw) with each group's filter and channel
// roles swapped and every kernel rotated by 180 degrees (flipped_transposed_weights).
void flipped_transposed_weights_binding(py::array w, py::array out, int64_t groups) {
  check_array(w, "weight", w, 4);
  check_array(out, "out", w, 4, true);
  const int64_t K = w.shape(0), Cg = w.shape(1);
  int64_t channels = 0;
  if (groups < 1 || K % groups != 0 || __builtin_mul_overflow(groups, Cg, &channels))
    throw py::value_error("groups must be a positive divisor of weight.shape[0]");
  check_shape(out, "out", {channels, K / groups, w.shape(2), w.shape(3)});
  check_no_overlap(out, "out", w, "weight");
  dispatch_float(w, "weight", out, [&](auto tag) {
    using T = decltype(tag);
    T* o = mutable_ptr<T>(out);
    py::gil_scoped_release release;
    flipped_transposed_weights<T>(ptr<T>(w), groups, K / groups, Cg, w.shape(2) * w.shape(3), o);
  });
}

// dL/dx of an NCHW conv2d by GEMM and col2im: grad_in has x's shape (N, C, H, W) and is
// written; grad_out the forward output's; the other arguments are conv2d's.
void conv2d_grad_input_binding(py::array grad_out, py::array w, py::array grad_in, int64_t sh, int64_t sw,
                               int64_t dh, int64_t dw, int64_t pt, int64_t pb, int64_t pl, int64_t pr, int64_t groups,
                               int pad_mode) {
  check_array(grad_in, "grad_in", grad_out, 4, true);
  check_array(grad_out, "grad_out", grad_out, 4);
  const Conv2dShape s =
      checked_conv_shape(grad_in, w, "weight", grad_out, "grad_out", sh, sw, dh, dw, pt, pb, pl, pr, groups, false);
  if (pad_mode < 0 || pad_mode > 4) throw py::value_error("unknown padding mode");
  if (s.H == 0 || s.W == 0) throw py::value_error("grad_in must have non-empty spatial dimensions");
  dispatch_float(grad_out, "grad_out", grad_in, [&](auto tag) {
    using T = decltype(tag);
    T* gi = mutable_ptr<T>(grad_in);
    py::gil_scoped_release release;
    conv2d_grad_input_col2im<T>(s, static_cast<PadMode>(pad_mode), ptr<T>(grad_out), ptr<T>(w), gi);
  });
}

// dL/dx of a stride-1 NCHW conv2d under zero padding of at most the kernel's reach
// ((kh - 1) * dh, (kw - 1) * dw) on each side, as the correlation of grad_out by the flipped,
// transposed weights through the NHWC GEMM (conv2d_grad_input_via_nhwc); grad_in has x's
// shape. Returns whether it was written: not for weights with a non-finite value, a 1x1
// kernel or no work.
bool conv2d_grad_input_via_nhwc_binding(py::array grad_out, py::array w, py::array grad_in, int64_t dh, int64_t dw,
                                        int64_t pt, int64_t pb, int64_t pl, int64_t pr, int64_t groups) {
  check_array(grad_in, "grad_in", grad_out, 4, true);
  check_array(grad_out, "grad_out", grad_out, 4);
  const Conv2dShape s =
      checked_conv_shape(grad_in, w, "weight", grad_out, "grad_out", 1, 1, dh, dw, pt, pb, pl, pr, groups, false);
  const int64_t reach_y = (s.kh - 1) * dh, reach_x = (s.kw - 1) * dw;
  if (pt > reach_y || pb > reach_y || pl > reach_x || pr > reach_x)
    throw py::value_error("padding must be at most the kernel's reach, (kernel size - 1) * dilation");
  check_no_overlap(grad_in, "grad_in", grad_out, "grad_out");
  check_no_overlap(grad_in, "grad_in", w, "weight");
  // The correlation: grad_out (N, K, OH, OW) in, grad_in (N, C, H, W) out.
  const Conv2dShape corr{s.N, s.K, s.OH, s.OW, s.C, s.kh, s.kw, s.H, s.W, 1, 1, dh, dw,
                         reach_y - pt, reach_x - pl, groups};
  bool written = false;
  dispatch_float(grad_out, "grad_out", grad_in, [&](auto tag) {
    using T = decltype(tag);
    T* gi = mutable_ptr<T>(grad_in);
    py::gil_scoped_release release;
    written = conv2d_grad_input_via_nhwc<T>(corr, ptr<T>(grad_out), ptr<T>(w), gi);
  });
  return written;
}

// Whether conv2d_grad_input takes its pixel rows (col2im_pixel_rows_suit) for N images of
// OH x OW output pixels and Cg channels a group under a kh x kw kernel.
bool col2im_pixel_rows_binding(int64_t N, int64_t OH, int64_t OW, int64_t Cg, int64_t kh, int64_t kw) {
  if (N < 0 || OH < 0 || OW < 0 || Cg < 0 || kh < 0 || kw < 0 || kh > (int64_t{1} << 31) || kw > (int64_t{1} << 31))
    throw py::value_error("sizes must be non-negative, kernel sizes at most 2**31");
  Conv2dShape s{};
  s.N = N, s.OH = OH, s.OW = OW, s.C = Cg, s.groups = 1, s.kh = kh, s.kw = kw;
  return col2im_pixel_rows_suit(s);
}

// Whether the NHWC GEMM (and the NCHW batch of small images through it) cuts its tiles by
// row classes (row_class_tiles) for this geometry under zero padding, on the active backend,
// given finite weights (1x1 kernels never: their packing does not check the weights).
bool row_classes_binding(int64_t N, int64_t H, int64_t OH, int64_t OW, int64_t kh, int64_t kw, int64_t sh,
                         int64_t dh, int64_t pt, bool float64) {
  constexpr int64_t kLimit = int64_t{1} << 31;
  if (N < 0 || H < 0 || OH < 0 || OW < 0 || kh < 0 || kw < 0 || sh <= 0 || dh <= 0 || pt < 0 || N > kLimit ||
      OH > kLimit || OW > kLimit || kh > kLimit || (OH > 0 && OW > 0 && N > INT64_MAX / OH / OW))
    throw py::value_error("sizes and padding must be non-negative and below 2**31, stride and dilation positive");
  if (kh * kw <= 1) return false;
  Conv2dShape s{};
  s.N = N, s.H = H, s.OH = OH, s.OW = OW, s.kh = kh, s.kw = kw, s.sh = sh, s.dh = dh, s.pt = pt;
  return row_classes_pay(s, RowClasses(s), float64 ? kernels<double>().gemm_mr : kernels<float>().gemm_mr);
}

// x (N,C,H,W), w (C,K/groups,kh,kw), out (N,K,OH,OW).
void conv_transpose2d_binding(py::array x, py::array w, py::object bias, py::array out, int64_t sh, int64_t sw,
                              int64_t dh, int64_t dw, int64_t ph, int64_t pw, int64_t groups) {
  check_array(x, "x", x, 4);
  check_array(w, "weight", x, 4);
  check_array(out, "out", x, 4, true);
  if (sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0 || groups <= 0 || ph < 0 || pw < 0)
    throw py::value_error("stride, dilation and groups must be positive, padding non-negative");
  ConvTranspose2dShape s{x.shape(0), x.shape(1), x.shape(2), x.shape(3), w.shape(1) * groups, w.shape(2),
                         w.shape(3), out.shape(2), out.shape(3), sh, sw, dh, dw, ph, pw, groups};
  if (s.C % groups || w.shape(0) != s.C) throw py::value_error("channel counts do not match groups");
  if (out.shape(0) != s.N || out.shape(1) != s.K) throw py::value_error("out has the wrong shape");
  check_bias(bias, x, s.K);
  dispatch_float(x, "x", out, [&](auto tag) {
    using T = decltype(tag);
    const T* b = optional_ptr<T>(bias);
    T* o = mutable_ptr<T>(out);
    py::gil_scoped_release release;
    conv_transpose2d<T>(s, ptr<T>(x), ptr<T>(w), b, o);
  });
}

}  // namespace

void bind_conv(py::module_& m) {
  m.def("conv2d", &conv2d_binding, py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("out"),
        py::arg("sh"), py::arg("sw"), py::arg("dh"), py::arg("dw"), py::arg("pt"), py::arg("pb"), py::arg("pl"),
        py::arg("pr"), py::arg("groups"), py::arg("pad_mode"), py::arg("fill"), py::arg("algorithm"),
        py::arg("relu"), py::arg("nhwc") = false);
  m.def("conv2d_grad_input", &conv2d_grad_input_binding, py::arg("grad_out"), py::arg("weight"), py::arg("grad_in"),
        py::arg("sh"), py::arg("sw"), py::arg("dh"), py::arg("dw"), py::arg("pt"), py::arg("pb"), py::arg("pl"),
        py::arg("pr"), py::arg("groups"), py::arg("pad_mode"));
  m.def("conv2d_grad_input_via_nhwc", &conv2d_grad_input_via_nhwc_binding, py::arg("grad_out"), py::arg("weight"),
        py::arg("grad_in"), py::arg("dh"), py::arg("dw"), py::arg("pt"), py::arg("pb"), py::arg("pl"), py::arg("pr"),
        py::arg("groups"));
  m.def("conv2d_grad_weight", &conv2d_grad_weight_binding, py::arg("x"), py::arg("grad_out"), py::arg("grad_w"),
        py::arg("sh"), py::arg("sw"), py::arg("dh"), py::arg("dw"), py::arg("pt"), py::arg("pb"), py::arg("pl"),
        py::arg("pr"), py::arg("groups"), py::arg("pad_mode"), py::arg("fill"), py::arg("nhwc"));
  m.def("col2im_pixel_rows", &col2im_pixel_rows_binding, py::arg("N"), py::arg("OH"), py::arg("OW"), py::arg("Cg"),
        py::arg("kh"), py::arg("kw"));
  m.def("row_classes", &row_classes_binding, py::arg("N"), py::arg("H"), py::arg("OH"), py::arg("OW"), py::arg("kh"),
        py::arg("kw"), py::arg("sh"), py::arg("dh"), py::arg("pt"), py::arg("float64"));
  m.def("conv2d_auto_algorithm", &conv2d_auto_algorithm, py::arg("N"), py::arg("C"), py::arg("H"), py::arg("W"),
        py::arg("K"), py::arg("kh"), py::arg("kw"), py::arg("OH"), py::arg("OW"), py::arg("sh"), py::arg("sw"),
        py::arg("dh"), py::arg("dw"), py::arg("groups"), py::arg("nhwc"), py::arg("float64"));
  m.def("conv2d_grad_bias", &conv2d_grad_bias_binding, py::arg("grad_out"), py::arg("grad_b"), py::arg("nhwc"));
  m.def("flipped_transposed_weights", &flipped_transposed_weights_binding, py::arg("weight"), py::arg("out"),
        py::arg("groups"));
  m.def("conv_transpose2d", &conv_transpose2d_binding, py::arg("x"), py::arg("weight"), py::arg("bias"),
        py::arg("out"), py::arg("sh"), py::arg("sw"), py::arg("dh"), py::arg("dw"), py::arg("ph"), py::arg("pw"),
        py::arg("groups"));
}

}  // namespace fastconv::bind
