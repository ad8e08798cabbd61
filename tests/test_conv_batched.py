"""algorithm="batched" (direct convolution vectorised across images) at its own edges: batches
that leave lanes of the last image block idle, filter counts that leave a register tile part
empty, rows split into uneven column tiles, work items that split an image's rows, and values
that must stay in their own image's lane. The shared suites (test_conv2d, test_conv2d_nhwc,
test_conv1d, test_conv_seeds, test_conv_properties) run it on every other geometry."""

import numpy as np
import pytest
from conftest import assert_exact, conv_check, conv_inputs, special

import fastconv
from test_conv2d_nhwc import nhwc

LAYOUTS = ("NCHW", "NHWC")


def to_layout(x, layout):
    return nhwc(x) if layout == "NHWC" else x


def check(x, w, b, layout, **kw):
    """conv_check on the layout's copy of NCHW x; returns the result in NCHW."""
    got = conv_check(to_layout(x, layout), w, b, algorithm="batched", layout=layout, **kw)
    return np.moveaxis(got, -1, 1) if layout == "NHWC" else got


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("K", [1, 5, 8, 9, 17, 40])
@pytest.mark.parametrize("N", [1, 3, 7, 8, 9, 15, 16, 17, 33])
def test_batch_and_filter_tails(N, K, layout, dtype):
    # Lanes: 4, 8 or 16; filters per tile: up to 4 or 8, so K = 9, 17 and 40 leave tiles part empty.
    x, w, b = conv_inputs((N, 3, 7, 9), (K, 3, 3, 3), dtype, bias=True)
    check(x, w, b, layout, padding=1)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("OW", list(range(1, 21)) + [31, 33])
def test_every_row_width(OW, layout):
    # Column tiles of up to 3-8 outputs, balanced: every split of a row of 1..33 outputs.
    x, w, b = conv_inputs((18, 2, 5, OW + 2), (8, 2, 3, 3), np.float32, bias=True)
    check(x, w, b, layout)


GEOMETRIES = {
    "1x1-image": ((17, 2, 1, 1), (3, 2, 1, 1), {}),
    "kernel-as-large-as-input": ((17, 2, 5, 4), (6, 2, 5, 4), {}),
    "stride-larger-than-kernel": ((17, 3, 11, 13), (7, 3, 2, 2), {"stride": (3, 4)}),
    "dilation": ((9, 3, 12, 11), (5, 3, 3, 2), {"dilation": (2, 3), "padding": 2}),
    "padding-larger-than-half": ((17, 2, 6, 5), (4, 2, 3, 3), {"padding": (3, 2)}),
    "same-even-kernel": ((16, 4, 8, 9), (6, 4, 4, 2), {"padding": "same"}),
    "full": ((16, 2, 4, 6), (3, 2, 3, 5), {"padding": "full"}),
    "asymmetric": ((16, 2, 7, 7), (5, 2, 3, 3), {"padding": ((0, 2), (1, 0)), "stride": 2}),
    "groups": ((17, 6, 7, 8), (9, 2, 3, 3), {"groups": 3, "padding": 1}),
    "depthwise": ((16, 4, 6, 7), (4, 1, 3, 3), {"groups": 4, "padding": 1}),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("name", sorted(GEOMETRIES))
def test_geometries_and_padding_modes(name, mode, layout, dtype):
    xshape, wshape, kw = GEOMETRIES[name]
    if mode != "zeros" and (kw.get("padding") == "full" or name == "padding-larger-than-half"):
        kw = dict(kw, padding=1)  # reflect modes cannot pad more than the side (np.pad rule)
    x, w, b = conv_inputs(xshape, wshape, dtype, bias=True)
    check(x, w, b, layout, padding_mode=mode, **kw)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_rows_split_across_work_items(layout):
    # Wide rows: an item's scratch holds a few output rows only, so items split every image's
    # rows and each interleaves the halo rows it shares with its neighbours (reflected at the
    # borders).
    x, w, b = conv_inputs((17, 24, 30, 260), (20, 24, 5, 3), np.float32, bias=True)
    check(x, w, b, layout, padding=2, padding_mode="reflect", stride=(2, 1))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_bias_relu_and_out(layout):
    x, w, b = conv_inputs((20, 3, 9, 8), (7, 3, 3, 3), np.float32, bias=True)
    out = np.empty(fastconv.conv2d(to_layout(x, layout), w, layout=layout, padding=1).shape, np.float32)
    got = fastconv.conv2d(to_layout(x, layout), w, b, padding=1, activation="relu", algorithm="batched",
                          layout=layout, out=out)
    assert got is out
    plain = fastconv.conv2d(to_layout(x, layout), w, b, padding=1, algorithm="batched", layout=layout)
    assert_exact(got, np.maximum(plain, 0))
    assert (got == 0).any() and (got > 0).any()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_non_finite_values_stay_in_their_image(layout):
    # Images share vectors: a NaN or inf must reach only its own image's windows.
    x, w, b = conv_inputs((19, 2, 8, 8), (5, 2, 3, 3), np.float64, bias=True)
    x[4] = special(x[4].shape, np.float64, seed=3)
    x[17, 1, 2, 5] = np.inf
    with np.errstate(invalid="ignore"):  # inf - inf in the reference's sums
        got = check(x, w, b, layout, padding=1)
    clean = [n for n in range(19) if n not in (4, 17)]
    assert np.isfinite(got[clean]).all()
    assert not np.isfinite(got[4]).all() and not np.isfinite(got[17]).all()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_image_as_if_alone(layout):
    # The result for an image does not depend on which other images share its block.
    x, w, b = conv_inputs((21, 3, 6, 7), (6, 3, 3, 3), np.float32, bias=True)
    run = lambda xs: fastconv.conv2d(to_layout(xs, layout), w, b, padding=1, algorithm="batched", layout=layout)
    whole = run(x)
    for n in (0, 15, 16, 20):
        assert_exact(whole[n : n + 1], run(x[n : n + 1]))


def test_auto_takes_it_for_a_batch_of_small_images():
    # LeNet's second layer (the benchmark's S5b): with SIMD lanes auto runs the batched kernel.
    x, w, b = conv_inputs((64, 6, 12, 12), (16, 6, 5, 5), np.float32, bias=True)
    auto = fastconv.conv2d(x, w, b)
    if fastconv.backend() == "portable":
        assert_exact(auto, fastconv.conv2d(x, w, b, algorithm="im2col"))
    else:
        assert_exact(auto, fastconv.conv2d(x, w, b, algorithm="batched"))


@pytest.mark.parametrize("algorithm", ["batched", "auto"])
def test_huge_strides(algorithm):
    # One output pixel; auto's size estimates and the row budget must not overflow int64.
    x, w, b = conv_inputs((16, 2, 5, 6), (3, 2, 3, 3), np.float32, bias=True)
    got = conv_check(x, w, b, stride=(2**50, 2**55), algorithm=algorithm)
    assert got.shape == (16, 3, 1, 1)
