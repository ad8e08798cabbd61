// The runtime dispatch table: one entry per microkernel role. The portable entries are
// always present; an ISA's fill function overrides the entries it implements. Adding an
// ISA means one folder of kernels plus one line in kernel_table.cc.
#pragma once
#include <cstdint>
#include <string>

#include "kernels/geometry.h"

namespace fastconv {

template <class T>
struct Kernels {
  // C[m x n] (ldc) = epilogue(A_packed[mr x kc] * B_packed[kc x nr]); m <= mr, n <= nr.
  // A is packed k-major with mr values per k, B k-major with nr values per k. There is a
  // tile of every height mr from gemm_mr_min to gemm_mr (gemm_ukernel[mr]), so that a GEMM
  // of M rows can pick the one that pads M least (gemm_tile_rows).
  static constexpr int kMaxGemmRows = 14;
  static constexpr int kMaxGemmCols = 32;  // the widest gemm_nr (AVX-512 float: 2 vectors of 16)
  int64_t gemm_mr, gemm_mr_min, gemm_nr;
  void (*gemm_ukernel[kMaxGemmRows + 1])(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, int64_t m,
                                          int64_t n, const GemmEpilogue<T>& ep);
  // The same with B read in place: row k is base[offsets[k] .. offsets[k] + nr), all nr
  // values readable (columns past n are computed and discarded). If copy is not null, B is
  // also written there packed, as gemm_ukernel reads it (kc x nr values).
  void (*gemm_ukernel_offsets[kMaxGemmRows + 1])(int64_t kc, const T* a, const T* base, const int64_t* offsets,
                                                  T* c, int64_t ldc, int64_t m, int64_t n,
                                                  const GemmEpilogue<T>& ep, T* copy);
  // The same with A read in place through window taps (NHWC convolution): row i of A is, for
  // t < ntaps and k < Cg, taps[i*ntaps + t][c0 + k], and B (ntaps*Cg x nr) is packed whole.
  // Every one of the mr rows' taps must be readable (rows past m are computed and discarded).
  void (*gemm_ukernel_taps)(int64_t ntaps, int64_t Cg, const T* const* taps, int64_t c0, const T* b, T* c,
                            int64_t ldc, int64_t m, int64_t n, const GemmEpilogue<T>& ep);

  // Rows of a direct convolution (ConvRows), all taps at once: for r < rows and i < count,
  // out[r*out_step + i] = (accumulate ? out[...] : start) + the sum over (ky, kx) of
  // w[ky*kw + kx] * in[r*in_step + ky*row_step + i*sw + kx*dw], accumulated in (ky, kx) order.
  // Every element read must exist (the caller pads).
  void (*conv_rows)(T* out, const T* in, const T* w, const ConvRows<T>& g);

  // Depthwise convolution of `count` NHWC output pixels of a DepthwiseRun: rows[ky] is
  // channel 0 of tap (ky, 0) of the first pixel, and tap (ky, kx) of pixel j is at
  // rows[ky] + (j*sw + kx*dw)*C. out[j*C + c] = bias[c] + the sum over taps, in order, of
  // tap[c] * w[(ky*kw + kx)*C + c], then relu; bias may be nullptr. A pixel whose taps lie
  // anywhere runs as kh = its tap count and kw = 1.
  void (*depthwise_nhwc)(T* out, const T* const* rows, const DepthwiseRun& r, int64_t count, const T* w,
                         const T* bias, bool relu);

  // One (H, W) plane of max pooling; idx (flat h*W+w) may be nullptr.
  void (*max_pool_plane)(const T* in, T* out, int64_t* idx, const PoolGeom& g);

  // One (H, W) plane of sum / average / power-average pooling.
  void (*window_pool_plane)(const T* in, T* out, const PoolGeom& g, const WindowPoolParams& p);

  // One (H, W) plane of adaptive pooling to (OH, OW): window i spans
  // [floor(i*H/OH), ceil((i+1)*H/OH)). idx (flat h*W+w) may be nullptr.
  void (*adaptive_avg_plane)(const T* in, T* out, int64_t H, int64_t W, int64_t OH, int64_t OW);
  void (*adaptive_max_plane)(const T* in, T* out, int64_t* idx, int64_t H, int64_t W, int64_t OH, int64_t OW);

  // Peak-throughput probe: returns a checksum of `iterations` rounds of independent
  // multiply-adds; probe_flops is the number of flops one round performs.
  double (*fma_probe)(int64_t iterations);
  int64_t probe_flops;

  // One output row oy of pooling one NHWC image (H, W, C); idx as in max_pool_plane, per channel.
  void (*max_pool_nhwc_row)(const T* in, T* out, int64_t* idx, const PoolGeom& g, int64_t C, int64_t oy);
  void (*window_pool_nhwc_row)(const T* in, T* out, const PoolGeom& g, const WindowPoolParams& p, int64_t C,
                               int64_t oy);
  // Adaptive (average, or max with optional indices) pooling of one NHWC image.
  void (*adaptive_pool_nhwc)(const T* in, T* out, int64_t* idx, bool is_max, int64_t H, int64_t W, int64_t OH,
                             int64_t OW, int64_t C);

  // dst[j*ld_dst + i] = src[i*ld_src + j] for i < rows, j < cols (NCHW <-> NHWC).
  void (*transpose)(const T* src, int64_t ld_src, T* dst, int64_t ld_dst, int64_t rows, int64_t cols);

  // Winograd F(4x4, 3x3) transforms, vectorised along filters or channels (see
  // generic/winograd.h). Filter: tap t of 3x3 filter j at g[t*g_stride + j], point p of
  // G g G^T to u[p*u_stride + j], j < count. Input: taps[i*6 + j] is channel 0 of tile
  // position (i, j); point p of V = B^T d B goes to v[p*v_stride + c]. Output: point p of M
  // is at m[p*m_stride + k]; output (a, b) of A^T M A, plus bias (may be nullptr), then relu,
  // goes to outs[a*4 + b] + k unless that is nullptr. Input and output return false if a
  // value read or written was not finite.
  void (*winograd_filter)(const T* g, int64_t g_stride, int64_t count, T* u, int64_t u_stride);
  bool (*winograd_input)(const T* const* taps, int64_t C, T* v, int64_t v_stride);
  bool (*winograd_output)(const T* m, int64_t m_stride, int64_t K, T* const* outs, const T* bias, bool relu);

  // Batched direct convolution (conv2d_batched.cc), batched_lanes images interleaved as
  // BatchedConvRow says: one output row of kt <= batched_max_filters filters with weights
  // w[tap*kt + a], taps in (c, ky, kx) order; out = bias[a] (bias may be nullptr) + the taps,
  // then relu; filters a < k_store are written.
  int64_t batched_lanes, batched_max_filters;
  void (*batched_conv_row)(int64_t kt, const T* x, const BatchedConvRow& g, const T* w, const T* bias,
                           int64_t k_store, bool relu, T* out);

  // out[i] = max(in[i], 0), NaN kept.
  void (*relu)(const T* in, T* out, int64_t n);
  // Blur pooling's passes (generic/blur_taps.h): out[i] = 0 + sum over r < count, in order, of
  // weights[r] * rows[r][i] for i < n; and out[o] = 0 + sum over j < k of weights[j] * in[o*step + j]
  // for o < n, reading one value of slack past the last tap when step is 2.
  void (*weighted_rows)(const T* const* rows, const T* weights, int count, int64_t n, T* out);
  void (*strided_taps)(const T* in, const T* weights, int k, int64_t step, int64_t n, T* out);

  // grad_in[i] = grad_out[i] where x[i] > 0 or x[i] is NaN, else 0 (PyTorch's threshold_backward).
  void (*relu_backward)(const T* grad_out, const T* x, T* grad_in, int64_t n);

  // A weight gradient's sums over output pixels for nf filters and the kw <= 7 taps of one
  // kernel row (generic/tap_dots.h): sums[f*kw + k] += the sum over images m, rows r and
  // i < n (see TapDotsRows) of g[f][m*g_image_step + r*ldg + i] * x[m*x_image_step + r*ldx +
  // i + k*dw], in an order that depends on the sizes only.
  void (*tap_row_dots)(const T* const* g, int nf, int64_t ldg, const T* x, int64_t ldx, int kw, int64_t dw,
                       const TapDotsRows& rows, int64_t n, T* sums);
  // Filters tap_row_dots sums in one pass over the rows for a row of kw taps (the most whose
  // sums it keeps in registers, at most 6).
  int (*tap_row_dots_filters)(int kw);
  // The same for one filter and all kh x kw taps of a kernel whose rows are consecutive input
  // rows (generic/tap_plane_dots.h): sums[ky*kw + k] += the sum over m, r, i of
  // g[m*g_image_step + r*ldg + i] * x[m*x_image_step + (r + ky)*ldx + i + k*dw], each sum in
  // tap_row_dots' order. Returns false, computing nothing, for a kernel size it does not take.
  bool (*tap_plane_dots)(const T* g, int64_t ldg, const T* x, int64_t ldx, int kh, int kw, int64_t dw,
                         const TapDotsRows& rows, int64_t n, T* sums);
};

template <class T>
const Kernels<T>& kernels();

// "portable" or an ISA name such as "avx2"; set_backend returns false for an unknown or
// unsupported name and leaves the current backend in place.
std::string active_backend();
bool set_backend(const std::string& name);
std::string available_backends();

// Each ISA folder provides one of these; it overrides the entries it implements.
void fill_portable(Kernels<float>& f, Kernels<double>& d);
#ifdef FASTCONV_X86_KERNELS
bool cpu_has_avx2_fma();
void fill_avx2(Kernels<float>& f, Kernels<double>& d);
bool cpu_has_avx512f();
void fill_avx512(Kernels<float>& f, Kernels<double>& d);
#endif

}  // namespace fastconv
