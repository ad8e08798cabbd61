"""fastconv.conv2d against fastconv.reference over awkward geometries, every algorithm and dtype.

Every comparison uses conftest.assert_close with magnitude = the reference applied to |x|, |w|
(and |bias|) and terms = C/groups * kh * kw, i.e. the float rounding bound of the reduction.
"""

import numpy as np
import pytest

import fastconv
from conftest import CONV_ALGORITHMS as ALGORITHMS
from conftest import DTYPES, assert_close, num_threads, random
from conftest import conv_check as check
from conftest import conv_inputs as make
from fastconv import reference as ref



# (id, x shape, weight shape, keyword arguments; bias=True means a random bias)
CASES = [
    ("1x1-image-1x1-kernel", (2, 3, 1, 1), (4, 3, 1, 1), {}),
    ("1x1-image-padded-3x3", (1, 2, 1, 1), (3, 2, 3, 3), dict(padding=1, bias=True)),
    ("1x1-image-stride", (1, 2, 1, 1), (5, 2, 1, 1), dict(stride=3)),
    ("kernel-equals-input", (2, 3, 6, 7), (2, 3, 6, 7), dict(bias=True)),
    ("kernel-equals-padded-input", (1, 2, 5, 4), (3, 2, 7, 6), dict(padding=1)),
    ("kernel-equals-asym-padded-input", (1, 2, 3, 3), (5, 2, 6, 4), dict(padding=((1, 2), (0, 1)))),
    ("odd-sizes", (1, 3, 7, 9), (5, 3, 3, 5), {}),
    ("even-kernel", (2, 2, 8, 6), (3, 2, 2, 4), dict(padding=1)),
    ("1-row-kernel", (1, 3, 5, 9), (4, 3, 1, 4), dict(stride=(1, 2))),
    ("stride-larger-than-kernel", (1, 2, 11, 13), (3, 2, 2, 3), dict(stride=(4, 5))),
    ("stride-larger-than-kernel-padded", (2, 3, 9, 8), (4, 3, 1, 2), dict(stride=3, padding=2)),
    ("stride-larger-than-input", (1, 2, 3, 4), (4, 2, 2, 2), dict(stride=7, padding=1)),
    ("dilation", (1, 2, 9, 10), (3, 2, 3, 2), dict(dilation=(2, 3))),
    ("dilation-stride-padding", (2, 3, 10, 9), (4, 3, 3, 3), dict(stride=2, dilation=2, padding=2, bias=True)),
    ("dilated-kernel-equals-input", (1, 2, 5, 7), (4, 2, 3, 4), dict(dilation=2)),
    ("groups-K-gt-C", (1, 4, 6, 7), (6, 2, 3, 3), dict(groups=2)),
    ("groups-K-lt-C", (1, 6, 5, 5), (3, 2, 3, 3), dict(groups=3, bias=True)),
    ("groups-wide", (1, 4, 5, 6), (16, 2, 2, 2), dict(groups=2)),
    ("depthwise", (2, 5, 8, 8), (5, 1, 3, 3), dict(groups=5, padding=1, bias=True)),
    ("depthwise-multiplier", (1, 3, 6, 6), (6, 1, 3, 3), dict(groups=3, stride=2)),
    ("depthwise-wide", (1, 4, 7, 7), (16, 1, 3, 3), dict(groups=4, padding=1)),
    ("asym-padding", (1, 2, 5, 6), (3, 2, 3, 3), dict(padding=((0, 2), (3, 1)))),
    ("asym-padding-stride", (2, 3, 7, 7), (4, 3, 2, 3), dict(padding=((2, 0), (1, 3)), stride=2)),
    ("pair-padding", (1, 2, 5, 6), (3, 2, 3, 3), dict(padding=(2, 0))),
    ("padding-beyond-kernel", (1, 2, 3, 3), (4, 2, 2, 2), dict(padding=3)),
    ("relu", (2, 3, 6, 6), (5, 3, 3, 3), dict(activation="relu")),
    ("bias-relu", (2, 3, 6, 5), (7, 3, 3, 2), dict(bias=True, activation="relu", padding=1)),
    ("reduction-288", (1, 32, 6, 6), (8, 32, 3, 3), dict(padding=1)),
    ("reduction-257", (1, 257, 3, 3), (5, 257, 1, 1), dict(bias=True)),
    ("reduction-630-bias-relu", (2, 70, 5, 5), (5, 70, 3, 3), dict(bias=True, activation="relu")),
    ("plane-930", (1, 2, 30, 31), (4, 2, 3, 3), dict(padding=1)),
    ("plane-1025", (1, 1, 41, 25), (7, 1, 1, 1), dict(bias=True)),
    ("one-channel-in-batch", (3, 1, 12, 11), (6, 1, 5, 5), dict(padding=2, bias=True, activation="relu")),
    ("reduction-270-plane-600", (1, 30, 24, 25), (9, 30, 3, 3), dict(padding=1, bias=True)),
    ("groups-reduction-270-plane-529", (1, 60, 23, 23), (8, 30, 3, 3), dict(groups=2, padding=1)),
    ("wide-rows-stride-2", (1, 3, 7, 75), (4, 3, 3, 3), dict(stride=2, padding=1, bias=True)),
    ("wide-rows-stride-2-dilated", (2, 2, 5, 90), (3, 2, 2, 3), dict(stride=(1, 2), dilation=(1, 3), padding=(0, 2))),
    ("wide-rows-stride-3", (1, 2, 4, 100), (3, 2, 2, 2), dict(stride=3)),
    ("wide-depthwise-stride-2", (1, 4, 6, 70), (4, 1, 3, 3), dict(groups=4, stride=2, padding=((0, 2), (1, 2)))),
    ("channels-33-40-plane-156", (2, 33, 12, 13), (40, 33, 3, 3), dict(padding=1, bias=True)),  # auto: NHWC GEMM
    ("batch-0", (0, 3, 5, 5), (4, 3, 3, 3), dict(bias=True)),
    ("no-input-channels", (2, 0, 4, 4), (3, 0, 3, 3), dict(bias=True, activation="relu")),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("xshape, wshape, kw", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_matches_reference(xshape, wshape, kw, algorithm, dtype):
    kw = dict(kw)
    x, w, b = make(xshape, wshape, dtype, bias=kw.pop("bias", False))
    got = check(x, w, b, algorithm=algorithm, **kw)
    assert got.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("padding", ["valid", "narrow", "same", "full", "wide"])
@pytest.mark.parametrize("kernel, stride, dilation", [
    ((3, 3), 1, 1), ((2, 4), 1, 1), ((2, 2), 2, 1), ((3, 4), 3, 1), ((1, 5), (2, 3), 1), ((3, 2), 2, 2),
])
def test_padding_strings(padding, kernel, stride, dilation, algorithm, dtype):
    H, W = 9, 10
    x, w, b = make((2, 3, H, W), (4, 3) + kernel, dtype, bias=True)
    got = check(x, w, b, stride=stride, padding=padding, dilation=dilation, algorithm=algorithm)
    s = (stride, stride) if isinstance(stride, int) else stride
    eff = [dilation * (k - 1) + 1 for k in kernel]
    expected_shape = {
        "valid": [(n - e) // st + 1 for n, e, st in zip((H, W), eff, s)],
        "same": [-(-n // st) for n, st in zip((H, W), s)],
        "full": [(n + e - 2) // st + 1 for n, e, st in zip((H, W), eff, s)],
    }[{"narrow": "valid", "wide": "full"}.get(padding, padding)]
    assert got.shape == (2, 4, *expected_shape)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("out_width, stride, padding", [
    (ow, s, p) for ow in (1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 64, 65)
    for s, p in ((1, 0), (1, 2), (2, 0), (2, 1), (3, 1)) if (ow - 1) * s + 3 - 2 * p >= 1])
def test_output_row_lengths_around_vector_widths(out_width, stride, padding, algorithm, dtype):
    """Rows of every length around the SIMD width (8 / 16 lanes), the 4-vector strip and the
    GEMM's NR, so full vectors, strips, tails and the stride-2 last-vector rule are all hit."""
    W = (out_width - 1) * stride + 3 - 2 * padding  # kernel width 3
    x, w, b = make((1, 2, 4, W), (3, 2, 2, 3), dtype, bias=True)
    got = check(x, w, b, stride=(1, stride), padding=(0, padding), algorithm=algorithm)
    assert got.shape == (1, 3, 3, out_width)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("padding", [((1, 1), (1, 1)), ((1, 1), (0, 0)), ((2, 0), (0, 0))],
                         ids=["padded", "rows-padded", "top-padded"])
@pytest.mark.parametrize("out_rows", [1, 2, 3, 4, 5, 7, 8, 9, 13])
@pytest.mark.parametrize("out_width, stride, dilation", [
    (7, 1, 1), (33, 1, 1), (56, 1, 1), (64, 1, 1), (65, 1, 1), (130, 1, 1), (20, (2, 1), 1), (70, (1, 1), (2, 1)),
    (17, (2, 1), (2, 1)), (9, 2, 1)])
def test_direct_rows_in_register_blocks(out_rows, out_width, stride, dilation, padding, dtype):
    """The direct kernel computes blocks of up to 4 output rows by up to 4 vectors of columns
    (the last one masked), sharing input rows when stride equals dilation: every row count
    around the block, widths around the column blocks, and the unshared (stride != dilation)
    and strided-column paths. With no padded column, the rows whose windows lie inside the
    input read it in place and the others a padded copy."""
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    (pt, pb), (pl, pr) = padding
    H = (out_rows - 1) * sh + 2 * dh + 1 - pt - pb  # 3x3 kernel
    W = (out_width - 1) * sw + 2 * dw + 1 - pl - pr
    if H < 1:
        return
    x, w, b = make((2, 3, H, W), (3, 1, 3, 3), dtype, bias=True)
    got = check(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=3, algorithm="direct")
    assert got.shape == (2, 3, out_rows, out_width)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "circular"])
@pytest.mark.parametrize("wshape, kw", [
    ((5, 4, 1, 1), dict()),
    ((5, 4, 1, 1), dict(padding=(1, 2), bias=True)),
    ((6, 2, 3, 1), dict(padding=(1, 0), groups=2)),
    ((3, 4, 5, 1), dict(stride=(1, 2), padding=(2, 1), dilation=(2, 1), bias=True)),
    ((7, 4, 2, 1), dict()),
], ids=["1x1", "1x1-padded", "3x1-groups", "5x1-hstride-dilated", "2x1-unpadded"])
def test_one_column_windows_write_the_output_rows_directly(wshape, kw, padding_mode, threads, dtype):
    """A window one column wide with unit vertical stride makes the GEMM's grid of output
    columns the output rows themselves, which it then writes in place: several row blocks
    (ragged last block, last micro-panel short), split over threads, zero, reflected and
    circular padding."""
    options = {k: v for k, v in kw.items() if k != "bias"}
    x, w, b = make((2, 4, 61, 27), wshape, dtype, bias=kw.get("bias", False))
    with num_threads(threads):
        check(x, w, b, padding_mode=padding_mode, algorithm="im2col", **options)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("wshape, kw", [
    ((16, 32, 3, 3), dict(padding=1, bias=True)),
    ((8, 32, 3, 5), dict(stride=(2, 1), padding=(2, 3), activation="relu")),
    ((16, 16, 3, 3), dict(dilation=(2, 1), padding=(1, 2), groups=2, bias=True)),
], ids=["3x3", "3x5-stride-wide-padding", "dilated-groups"])
def test_nchw_runs_through_nhwc_bands(wshape, kw, padding_mode, threads, dtype):
    """im2col_nhwc on NCHW data works in bands of output rows, each band's input rows
    transposed to NHWC with their padding in place: images big enough for several bands (the
    last one shorter) and two of them (the next band's prefetch crosses into the next image),
    every padding mode in the top and bottom bands, padding wider than half the window. Equal
    bit for bit to the NHWC layout's GEMM (the same sums in the same order), and to the
    reference within rounding."""
    options = {k: v for k, v in kw.items() if k != "bias"}
    groups = options.get("groups", 1)
    x, w, b = make((2, wshape[1] * groups, 46, 64), wshape, dtype, bias=kw.get("bias", False))
    x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    with num_threads(threads):
        got = check(x, w, b, padding_mode=padding_mode, algorithm="im2col_nhwc", **options)
        nhwc = fastconv.conv2d(x_nhwc, w, b, padding_mode=padding_mode, layout="NHWC", algorithm="im2col", **options)
    np.testing.assert_array_equal(got, nhwc.transpose(0, 3, 1, 2))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "circular"])
@pytest.mark.parametrize("xshape, wshape, kw", [
    ((3, 32, 7, 7), (40, 32, 3, 3), dict(padding=1, bias=True)),
    ((2, 16, 9, 8), (34, 8, 3, 3), dict(stride=(1, 2), padding=(2, 1), groups=2, activation="relu")),
    ((5, 24, 15, 15), (33, 24, 3, 3), dict(stride=2, padding=1, dilation=(1, 2), bias=True)),
    ((17, 4096, 8, 8), (32, 4096, 1, 1), {}),
], ids=["7x7", "groups-stride-wide-padding", "stride-2-to-8x8", "blocks-of-images"])
def test_nchw_small_images_run_through_nhwc_whole(xshape, wshape, kw, padding_mode, threads, dtype):
    """im2col_nhwc on a batch of NCHW images of at most 64 output pixels transposes whole
    images to NHWC, in blocks of images that fit 16 MB (the last case: 17 images of 1 MB in
    float32 make two blocks, in float64 three), and runs the NHWC GEMM on each block, its
    tiles spanning images: equal bit for bit to the NHWC layout's GEMM, and to the reference
    within rounding."""
    options = {k: v for k, v in kw.items() if k != "bias"}
    x, w, b = make(xshape, wshape, dtype, bias=kw.get("bias", False))
    x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    with num_threads(threads):
        got = check(x, w, b, padding_mode=padding_mode, algorithm="im2col_nhwc", **options)
        nhwc = fastconv.conv2d(x_nhwc, w, b, padding_mode=padding_mode, layout="NHWC", algorithm="im2col", **options)
    assert got.shape[2] * got.shape[3] <= 64
    np.testing.assert_array_equal(got, nhwc.transpose(0, 3, 1, 2))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("xshape, wshape", [((1, 4, 7, 7), (96, 4, 3, 3)), ((1, 3, 5, 13), (70, 3, 3, 3))],
                         ids=["7x7", "5x13"])
def test_im2col_splits_small_images_into_parts_of_whole_micro_panels(xshape, wshape, dtype):
    """The in-place NCHW GEMM on two threads cuts a small image into parts of enough rows for a
    micro-panel: the same answer as the reference, and bit for bit as on one thread."""
    x, w, b = make(xshape, wshape, dtype, bias=True)
    with num_threads(1):
        one = fastconv.conv2d(x, w, b, padding=1, algorithm="im2col")
    with num_threads(2):
        two = check(x, w, b, padding=1, algorithm="im2col")
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("xshape, wshape, kw", [
    ((1, 16, 7, 7), (100, 16, 3, 3), dict(padding=1, bias=True)),
    ((2, 12, 3, 5), (65, 12, 3, 3), dict(padding=(1, 2), activation="relu")),
    ((1, 24, 3, 3), (70, 12, 3, 3), dict(padding=1, groups=2, bias=True)),
    ((3, 8, 9, 9), (40, 8, 5, 5), dict(stride=2, padding=2)),
    ((1, 16, 20, 7), (64, 16, 3, 3), dict(padding=1)),
], ids=["7x7", "3x5-two-images", "3x3-grouped", "9x9-stride", "bands-and-split"])
def test_small_images_split_output_channels_over_threads(xshape, wshape, kw, layout, dtype):
    """With too few pixel tiles (NHWC, and NCHW batches of small images, which go through it
    whole) or bands (one NCHW image) to keep two threads busy, the pixel-row GEMM splits the
    output channels between work items (micro-panels of NR; counts that leave the last one
    partial, groups; several bands of a 20-row image, each split): the same answer as the
    reference, and bit for bit as on one thread."""
    options = {k: v for k, v in kw.items() if k != "bias"}
    x, w, b = make(xshape, wshape, dtype, bias=kw.get("bias", False))
    if layout == "NHWC":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    algorithm = "im2col" if layout == "NHWC" else "im2col_nhwc"
    with num_threads(1):
        one = fastconv.conv2d(x, w, b, algorithm=algorithm, layout=layout, **options)
    with num_threads(2):
        two = fastconv.conv2d(x, w, b, algorithm=algorithm, layout=layout, **options)
    np.testing.assert_array_equal(one, two)
    nchw = two if layout == "NCHW" else two.transpose(0, 3, 1, 2)
    x_nchw = x if layout == "NCHW" else x.transpose(0, 3, 1, 2)
    expected = ref.conv2d(x_nchw, w, b, **options)
    magnitude = ref.conv2d(np.abs(x_nchw), np.abs(w), None if b is None else np.abs(b),
                           **{k: v for k, v in options.items() if k != "activation"})
    assert_close(nchw, expected, magnitude, terms=int(np.prod(w.shape[1:])))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("plane", [(16, 16), (7, 9)], ids=["rows-share-alignment", "rows-differ"])
def test_micro_panels_follow_the_input_alignment(plane, dtype):
    """An unpadded 1x1 convolution reads the input in place and starts its micro-panels on
    the input's cache lines (a short first panel) when every channel plane has the same
    alignment. Every start offset within a cache line, 1 and 2 threads, filter blocks with a
    short last block, bias and ReLU: the output is the reference's, and bitwise the same for
    every offset and thread count (a column's reduction does not depend on its panel)."""
    x, w, b = make((2, 20) + plane, (17, 20, 1, 1), dtype, bias=True)
    line = 64 // x.itemsize
    outputs = []
    for threads in (1, 2):
        with num_threads(threads):
            for offset in range(line):
                buffer = np.empty(x.size + line, dtype)
                shifted = buffer[offset:offset + x.size].reshape(x.shape)
                shifted[...] = x
                outputs.append(check(shifted, w, b, activation="relu", algorithm="im2col"))
    for out in outputs[1:]:
        np.testing.assert_array_equal(out, outputs[0])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("xshape, wshape, kw", [
    ((2, 40, 16, 16), (30, 40, 1, 1), {}),                # planes 1 KB (f32) apart: rows crowd L1 sets
    ((1, 300, 16, 16), (17, 300, 1, 1), {}),              # two k blocks, each packed
    ((1, 8, 32, 32), (23, 8, 3, 3), {}),                  # 3x3 unpadded: grid with dropped columns
    ((2, 12, 30, 30), (29, 12, 3, 3), dict(padding=1)),   # padded copy, planes 4 KB (f32) apart
    ((1, 30, 9, 13), (120, 30, 1, 1), {}),                # many tiles, rows spread over the sets
    ((1, 20, 5, 7), (130, 20, 3, 3), dict(padding=(0, 1))),  # many tiles, short last micro-panels
    ((1, 16, 32, 64), (100, 16, 3, 3), dict(stride=2)),   # micro-panels along each output row
    ((2, 80, 16, 16), (120, 40, 1, 1), dict(groups=2)),   # groups, small images one per thread
], ids=["1x1-crowded", "1x1-two-blocks", "3x3-grid", "3x3-padded-copy", "1x1-many-tiles", "3x3-many-tiles",
        "3x3-stride-2-rows", "1x1-groups"])
def test_first_tile_packs_b_for_the_others(xshape, wshape, kw, dtype):
    """When B's in-place rows would evict each other from L1 between the tiles of a
    micro-panel, or there are many tiles, the first tile packs B as it reads it and the
    others read the copy: the output is the reference's, on 1 and 2 threads, and bitwise the
    same for both (a column's reduction does not depend on where B was read)."""
    x, w, b = make(xshape, wshape, dtype, bias=True)
    outputs = []
    for threads in (1, 2):
        with num_threads(threads):
            outputs.append(check(x, w, b, activation="relu", algorithm="im2col", **kw))
    np.testing.assert_array_equal(outputs[1], outputs[0])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("window, kw", [((1, 1), {}), ((3, 3), dict(padding=1)), ((3, 3), {})],
                         ids=["1x1", "3x3-padded", "3x3-unpadded"])
@pytest.mark.parametrize("filters", range(1, 31))
def test_gemm_tile_heights(filters, window, kw, dtype):
    """The NCHW GEMM picks its tile height by the number of filters (AVX-512: 8 to 14 rows):
    1 to 30 filters take every height, one tile or several, with a short last tile, with B
    read in place from the input, from a padded copy, and packed (the last micro-panels of an
    unpadded input)."""
    x, w, b = make((1, 5, 9, 13), (filters, 5) + window, dtype, bias=True)
    check(x, w, b, activation="relu", algorithm="im2col", **kw)


def test_same_puts_the_odd_pixel_at_the_bottom_right():
    # "same" with an even kernel, stride 1: total padding k-1, the extra pixel after.
    x, w, _ = make((1, 2, 6, 7), (3, 2, 2, 4), np.float64)
    np.testing.assert_array_equal(fastconv.conv2d(x, w, padding="same"),
                                  fastconv.conv2d(x, w, padding=((0, 1), (1, 2))))


# (input H x W, kernel, keyword arguments) for every padding mode
PADDING_MODE_CASES = [
    ((5, 6), (3, 3), dict(padding=1)),
    ((5, 6), (2, 3), dict(padding=((0, 3), (2, 1)), stride=2)),
    ((4, 5), (3, 2), dict(padding="same", dilation=2)),
    ((2, 3), (3, 3), dict(padding=((4, 5), (6, 3)))),  # pads larger than the input
    ((3, 2), (2, 2), dict(padding=7, stride=3)),  # pads several times the input
    ((1, 1), (3, 3), dict(padding=2)),  # a single pixel: reflect has period 0
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("xhw, khw, kw", PADDING_MODE_CASES)
def test_padding_modes(padding_mode, xhw, khw, kw, algorithm, dtype):
    x, w, b = make((2, 3) + xhw, (5, 3) + khw, dtype, bias=True)
    check(x, w, b, padding_mode=padding_mode, algorithm=algorithm, **kw)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("activation", [None, "relu"])
def test_bias_and_activation(bias, activation, algorithm, dtype):
    x, w, b = make((2, 6, 7, 8), (8, 6, 3, 3), dtype, bias=bias)
    got = check(x, w, b, padding=1, activation=activation, algorithm=algorithm)
    if activation == "relu":
        assert (got >= 0).all() and (got == 0).any()
    else:
        assert (got < 0).any()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("kw", [dict(), dict(padding="same", groups=2, padding_mode="reflect", bias=True),
                                dict(stride=2, dilation=(1, 2), padding=((1, 0), (2, 2)), activation="relu")])
def test_unbatched_input(kw, algorithm, dtype):
    kw = dict(kw)
    x, w, b = make((4, 6, 7), (6, 4 // kw.get("groups", 1), 3, 2), dtype, bias=kw.pop("bias", False))
    got = check(x, w, b, algorithm=algorithm, **kw)
    batched = fastconv.conv2d(x[None], w, b, algorithm=algorithm, **kw)
    assert got.shape == batched.shape[1:]
    np.testing.assert_array_equal(got, batched[0])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("padding_mode", ["zeros", "replicate"])
@pytest.mark.parametrize("unbatched", [False, True])
def test_out_is_written_in_place_and_returned(unbatched, padding_mode, algorithm, dtype):
    x, w, b = make((2, 3, 9, 8), (5, 3, 3, 3), dtype, bias=True)
    if unbatched:
        x = x[1]
    kw = dict(stride=(2, 1), padding=1, activation="relu", algorithm=algorithm, padding_mode=padding_mode)
    out = np.full(ref.conv2d(x, w, b, **kw).shape, np.nan, dtype)
    got = fastconv.conv2d(x, w, b, out=out, **kw)
    assert got is out
    assert_close(out, check(x, w, b, **kw), terms=27)  # same computation: identical up to rounding
    np.testing.assert_array_equal(out, fastconv.conv2d(x, w, b, **kw))


def _noncontiguous(kind, dtype):
    """(x view, weight view, bias view) of the named layout, all with the same values as make()."""
    x, w, b = make((2, 4, 7, 6), (6, 2, 3, 2), dtype, bias=True)
    if kind == "transposed":  # x stored as (W, H, C, N), weight as (kw, kh, C, K)
        return (np.ascontiguousarray(x.transpose(3, 2, 1, 0)).transpose(3, 2, 1, 0),
                np.ascontiguousarray(w.transpose(3, 2, 1, 0)).transpose(3, 2, 1, 0), b)
    if kind == "sliced":  # every other pixel of a larger array, every third bias of a longer one
        big = np.zeros((2, 8, 14, 18), dtype)
        big[:, ::2, ::2, ::3] = x
        bb = np.zeros(18, dtype)
        bb[::3] = b
        return big[:, ::2, ::2, ::3], np.asfortranarray(w), bb[::3]
    if kind == "negative-strides":
        return (np.ascontiguousarray(x[::-1, :, ::-1, ::-1])[::-1, :, ::-1, ::-1],
                np.ascontiguousarray(w[:, ::-1, :, ::-1])[:, ::-1, :, ::-1],
                np.ascontiguousarray(b[::-1])[::-1])
    raise AssertionError(kind)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("kind", ["transposed", "sliced", "negative-strides"])
def test_noncontiguous_input_gives_the_same_answer(kind, algorithm, dtype):
    x, w, b = _noncontiguous(kind, dtype)
    assert not (x.flags.c_contiguous or w.flags.c_contiguous)
    kw = dict(stride=(1, 2), padding=((1, 2), (0, 1)), groups=2, padding_mode="reflect", algorithm=algorithm)
    got = check(x, w, b, **kw)
    contiguous = fastconv.conv2d(np.ascontiguousarray(x), np.ascontiguousarray(w), np.ascontiguousarray(b), **kw)
    np.testing.assert_array_equal(got, contiguous)
    x0, w0, b0 = make((2, 4, 7, 6), (6, 2, 3, 2), dtype, bias=True)
    np.testing.assert_array_equal(got, fastconv.conv2d(x0, w0, b0, **kw))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_algorithms_agree(dtype):
    x, w, b = make((2, 12, 11, 13), (10, 6, 3, 3), dtype, bias=True)
    kw = dict(padding=1, groups=2, stride=(1, 2))
    results = [check(x, w, b, algorithm=a, **kw) for a in ALGORITHMS]
    magnitude = ref.conv2d(np.abs(x), np.abs(w), np.abs(b), **kw)
    for r in results[1:]:
        assert_close(r, results[0], magnitude, terms=6 * 9)


def test_list_input_is_accepted():
    x = [[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]]]
    got = fastconv.conv2d(x, [[[[1.0, -1.0]]]], [0.5])
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, [[[[-0.5, -0.5], [-0.5, -0.5]]]])


def test_numpy_integer_arguments_are_accepted():
    x, w, b = make((1, 4, 6, 6), (4, 2, 3, 3), np.float64)
    np.testing.assert_array_equal(
        fastconv.conv2d(x, w, stride=np.int64(2), padding=(np.int32(1), 1), dilation=np.int8(1), groups=np.int64(2)),
        fastconv.conv2d(x, w, stride=2, padding=1, groups=2))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("where", ["x-nan", "x-inf", "weight-inf", "weight-nan", "bias-inf"])
@pytest.mark.parametrize("kw", [dict(padding=1), dict(padding=((2, 0), (0, 1)), stride=2, activation="relu"),
                                dict(padding=1, padding_mode="reflect", groups=2)])
def test_nonfinite_values_propagate_like_the_reference(where, kw, algorithm, dtype):
    """NaN / inf reach exactly the outputs they reach in the reference (zero padding times an
    infinite weight is NaN, as in PyTorch). Integer data keeps every finite output exact."""
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 4, (2, 4, 5, 6)).astype(dtype)
    w = rng.integers(-3, 4, (6, 4 // kw.get("groups", 1), 3, 3)).astype(dtype)
    b = rng.integers(-3, 4, 6).astype(dtype)
    target, value = {"x-nan": (x, np.nan), "x-inf": (x, np.inf), "weight-inf": (w, -np.inf),
                     "weight-nan": (w, np.nan), "bias-inf": (b, np.inf)}[where]
    target.flat[target.size // 3] = value
    with np.errstate(invalid="ignore"):
        expected = ref.conv2d(x, w, b, algorithm=algorithm, **kw)
    got = fastconv.conv2d(x, w, b, algorithm=algorithm, **kw)
    np.testing.assert_array_equal(got, expected)
    assert not np.isfinite(got).all()
