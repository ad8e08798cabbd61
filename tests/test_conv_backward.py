"""conv2d_backward, conv1d_backward and conv_transpose2d_backward against the NumPy
reference's backward passes (themselves checked against finite differences and torch in
test_reference_backward.py), on both backends, both dtypes and both layouts; torch parity;
determinism across thread counts; bad input."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastconv
from conftest import BACKENDS, DTYPES, assert_close, num_threads, random
from fastconv import reference as ref

PAD_MODES = ("zeros", "reflect", "replicate", "circular")
NAMES = ("input", "weight", "bias")


def random_conv(seed):
    """A random valid conv2d configuration: (x shape, weight shape, keyword arguments)."""
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 1, 2, 3]))
    c_group, k_group = int(rng.integers(1, 5)), int(rng.integers(1, 7))
    if rng.random() < 0.2:  # depthwise
        groups, c_group, k_group = int(rng.integers(1, 20)), 1, 1
    kh, kw = (int(v) for v in rng.integers(1, 5, 2))
    dh, dw = (int(v) for v in rng.integers(1, 3, 2))
    mode = str(rng.choice(PAD_MODES))
    h, w = int(rng.integers(1, 10)), int(rng.integers(1, 19))
    limit = (h - 1, w - 1) if mode in ("reflect", "circular") else (4, 4)
    if mode == "zeros":
        limit = (5, 5)
    pads = tuple(tuple(int(rng.integers(0, limit[a] + 1)) for _ in range(2)) for a in range(2))
    # the dilated kernel must fit the padded input
    kh = max(1, min(kh, (h + sum(pads[0]) - 1) // dh + 1))
    kw = max(1, min(kw, (w + sum(pads[1]) - 1) // dw + 1))
    n = int(rng.integers(0, 3))
    kwargs = dict(stride=tuple(int(v) for v in rng.integers(1, 4, 2)), padding=pads, dilation=(dh, dw), groups=groups,
                  padding_mode=mode)
    return (n, groups * c_group, h, w), (groups * k_group, c_group, kh, kw), kwargs


def magnitudes(fn, grad_out, x, weight, **kwargs):
    """The reference applied to |grad_out|, |x|, |weight|: per gradient element, the sum of
    the absolute values of the products it adds up (assert_close's magnitude)."""
    return fn(np.abs(grad_out), np.abs(x), np.abs(weight), **kwargs)


def check_against_reference(fn, ref_fn, x, weight, terms, seed=1, **kwargs):
    """fn's gradients against ref_fn's, for a random grad_out of the reference forward's shape."""
    forward = getattr(ref, fn.__name__.replace("_backward", ""))
    out = forward(x, weight, **kwargs)
    grad_out = random(out.shape, x.dtype, seed)
    got = fn(grad_out, x, weight, **kwargs)
    want = ref_fn(grad_out, x, weight, **kwargs)
    mags = magnitudes(ref_fn, grad_out, x, weight, **kwargs)
    assert list(got) == list(want)
    for name in want:
        assert_close(got[name], want[name], mags[name], terms[name])
    return got


def conv_terms(x_shape, w_shape, out_shape, layout="NCHW"):
    """Reduction lengths: products per input-gradient, weight-gradient and bias-gradient element."""
    spatial_out = out_shape[1:3] if layout == "NHWC" else out_shape[2:]
    pixels = out_shape[0] * int(np.prod(spatial_out))
    taps = int(np.prod(w_shape[2:]))
    return {"input": w_shape[0] * taps, "weight": pixels, "bias": pixels}


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_backward_matches_reference(seed, dtype):
    x_shape, w_shape, kwargs = random_conv(seed)
    x, w = random(x_shape, dtype, seed), random(w_shape, dtype, seed + 100)
    out_shape = ref.conv2d(x, w, **kwargs).shape
    check_against_reference(fastconv.conv2d_backward, ref.conv2d_backward, x, w,
                            conv_terms(x_shape, w_shape, out_shape), **kwargs)


@pytest.mark.parametrize("seed", range(40, 60))
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_backward_nhwc_matches_reference(seed, dtype):
    x_shape, w_shape, kwargs = random_conv(seed)
    x = random(x_shape, dtype, seed).transpose(0, 2, 3, 1).copy()
    w = random(w_shape, dtype, seed + 100)
    out_shape = ref.conv2d(x, w, layout="NHWC", **kwargs).shape
    check_against_reference(fastconv.conv2d_backward, ref.conv2d_backward, x, w,
                            conv_terms(x_shape, w_shape, out_shape, "NHWC"), layout="NHWC", **kwargs)


# The awkward shapes, named: (x shape, weight shape, keyword arguments).
AWKWARD = {
    "1x1 image": ((2, 3, 1, 1), (4, 3, 1, 1), {}),
    "kernel as large as the input": ((2, 3, 5, 7), (4, 3, 5, 7), {}),
    "stride larger than the kernel": ((1, 2, 11, 13), (3, 2, 2, 2), dict(stride=(5, 4))),
    "padding larger than half the kernel": ((1, 2, 6, 5), (3, 2, 3, 3), dict(padding=4)),
    "padding larger than the kernel, reflect": ((1, 2, 6, 5), (3, 2, 2, 2), dict(padding=3,
                                                                                  padding_mode="reflect")),
    "circular padding wider than the input": ((1, 1, 3, 2), (2, 1, 3, 3), dict(padding=(4, 5),
                                                                               padding_mode="circular")),
    "same, even kernel, stride 2": ((2, 3, 9, 10), (4, 3, 4, 2), dict(padding="same", stride=2)),
    "full, dilated": ((1, 2, 7, 8), (2, 2, 3, 2), dict(padding="full", dilation=(2, 3))),
    "valid, rows past the last window": ((1, 2, 10, 11), (3, 2, 3, 3), dict(stride=4)),
    "batch 0": ((0, 3, 6, 6), (4, 3, 3, 3), dict(padding=1)),
    "no channels": ((2, 0, 6, 6), (4, 0, 3, 3), dict(padding=1)),
    "no filters": ((2, 3, 6, 6), (0, 3, 3, 3), {}),
    "many filters (several GEMM tiles)": ((1, 5, 9, 9), (37, 5, 3, 3), dict(padding=1)),
    "wide channels (several panels)": ((1, 40, 5, 6), (7, 40, 1, 1), {}),
    "depthwise with multiplier": ((2, 4, 7, 7), (8, 1, 3, 3), dict(groups=4, padding=1)),
    "depthwise, stride 2, reflect": ((2, 6, 9, 8), (6, 1, 3, 3), dict(groups=6, stride=2, padding=1,
                                                                       padding_mode="reflect")),
    "one filter, large image": ((1, 1, 40, 70), (1, 1, 5, 5), dict(padding=2)),
    "few channels, many images (gathered weight-gradient columns, image runs)": ((19, 2, 9, 8), (5, 2, 3, 3),
                                                                                  dict(padding=1, stride=(1, 2))),
    # few columns per filter: the planar weight gradient (tap_row_dots) on the SIMD backends
    "one channel, dilated, many images (planar)": ((19, 1, 9, 8), (5, 1, 3, 3), dict(padding=1, dilation=(1, 2))),
    "one channel, dilated, many filters (planar, filter blocks)": ((9, 1, 10, 9), (37, 1, 3, 3),
                                                                    dict(padding=(1, 2), dilation=(2, 2))),
    "one channel, 2x3 kernel, row tails (planar everywhere)": ((3, 1, 9, 37), (7, 1, 2, 3), dict(padding=(1, 0))),
    "grouped, one channel per group (planar)": ((2, 2, 8, 9), (6, 1, 3, 3), dict(groups=2, padding=1)),
    "depthwise, rows of 9 taps (scalar sums)": ((1, 3, 12, 14), (3, 1, 2, 9), dict(groups=3, padding=(0, 4))),
    # 16 channels or more with one filter block each: a planar work item takes a channel's whole
    # kernel (its planes padded by the item, or in place, or from the whole padded copy); one
    # filter, consecutive rows and a square kernel the registers hold: Kernels::tap_plane_dots
    "depthwise 3x3, 16 channels, row tails (plane sums)": ((3, 16, 9, 21), (16, 1, 3, 3), dict(groups=16,
                                                                                               padding=1)),
    "depthwise 5x5, 16 channels, reflect (plane sums; rows on AVX2 and portable)": ((2, 16, 11, 12), (16, 1, 5, 5),
                                                                        dict(groups=16, padding=2,
                                                                             padding_mode="reflect")),
    "depthwise 2x2, 17 channels, unpadded, row tails (plane sums in place)": ((1, 17, 6, 18), (17, 1, 2, 2),
                                                                     dict(groups=17)),
    "depthwise 4x4, 16 channels, circular (plane sums; rows on AVX2 and portable)": ((2, 16, 8, 19), (16, 1, 4, 4),
                                                                         dict(groups=16, padding=(1, 2),
                                                                              padding_mode="circular")),
    "depthwise 3x3, dilated columns 2, 16 channels (plane sums)": ((2, 16, 8, 21), (16, 1, 3, 3),
                                                                    dict(groups=16, padding=2, dilation=(1, 2))),
    "depthwise 7x7, 16 channels (whole kernels by rows)": ((1, 16, 10, 10), (16, 1, 7, 7), dict(groups=16,
                                                                                                 padding=3)),
    "depthwise 3x5, 16 channels (whole kernels by rows)": ((2, 16, 8, 11), (16, 1, 3, 5), dict(groups=16,
                                                                                                padding=1)),
    "depthwise, multiplier 2, 16 channels (whole kernels by rows)": ((2, 16, 7, 9), (32, 1, 3, 3),
                                                                      dict(groups=16, padding=1)),
    "depthwise, dilated rows, 16 channels (whole kernels by rows)": ((2, 16, 9, 9), (16, 1, 3, 3),
                                                                      dict(groups=16, padding=2, dilation=(2, 1))),
    "depthwise, row stride 2, 16 channels (whole kernels by rows)": ((2, 16, 9, 8), (16, 1, 3, 3),
                                                                      dict(groups=16, padding=1, stride=(2, 1))),
    "depthwise 3x3, 16 channels, large planes (whole padded copy, plane sums)": ((3, 16, 150, 150),
                                                                                 (16, 1, 3, 3),
                                                                                 dict(groups=16, padding=1)),
    # NCHW input gradients by one GEMM per image and a scatter (col2im)
    "small maps, 5x5 kernel (col2im)": ((3, 4, 9, 8), (5, 4, 5, 5), dict(padding=1)),
    "tiny maps, reflect padding wider than the input (col2im)": ((2, 3, 2, 3), (4, 3, 5, 5),
                                                                 dict(padding=3, padding_mode="reflect")),
    "small maps, dilated, circular (col2im)": ((2, 2, 9, 9), (3, 2, 3, 3), dict(padding=(1, 2), dilation=2,
                                                                                 padding_mode="circular")),
    "stride 2, 32 channels, replicate (col2im)": ((2, 32, 9, 10), (8, 32, 3, 3), dict(stride=2, padding=1,
                                                                                      padding_mode="replicate")),
    "stride (2, 1), two groups of 17 channels (col2im)": ((1, 34, 7, 7), (4, 17, 3, 3),
                                                          dict(groups=2, stride=(2, 1), padding=(1, 2))),
    "stride 3 larger than the kernel, 16 channels (col2im)": ((2, 16, 11, 10), (5, 16, 2, 2), dict(stride=3)),
    # a column stride above 1 and several taps a row: each plane summed in column phases
    "stride 4, 5x5 kernel, circular, odd width (col2im column phases)": (
        (2, 16, 13, 15), (6, 16, 5, 5), dict(stride=4, padding=2, padding_mode="circular")),
    "column stride 2, column dilation 3, 20 channels (col2im column phases)": (
        (1, 20, 11, 17), (4, 20, 3, 3), dict(stride=(1, 2), dilation=(1, 3), padding=(1, 3))),
    "a column stride far past the width (col2im, no column phases: they would take stride * H values)": (
        (1, 16, 8, 8), (4, 16, 3, 3), dict(stride=(1, 2 ** 40))),
    # maps large enough that a work item takes a block of channels, the last one narrower (at 2
    # threads on every backend and dtype, but for the reflect case on the portable backend)
    "23 channels on 64x64, stride 2 (col2im channel blocks)": ((1, 23, 64, 64), (5, 23, 3, 3),
                                                              dict(stride=2, padding=1)),
    "two images, two groups of 19 channels, reflect (col2im channel blocks)": (
        (2, 38, 64, 64), (6, 19, 2, 2), dict(groups=2, stride=2, padding=1, padding_mode="reflect")),
    "1x1, stride 2, 21 channels on 100x100, 40 filters (col2im channel blocks)": (
        (1, 21, 100, 100), (40, 21, 1, 1), dict(stride=2)),
    # small maps of many channels: col2im with the pixels of every image as the GEMM's rows
    # (N*OH*OW <= 1024 and a quarter of Cg*kh*kw), at stride 1 too
    "32 channels on 5x5, two images (col2im pixel rows)": ((2, 32, 5, 5), (7, 32, 3, 3), dict(padding=1)),
    "two groups of 20 channels, 5x5 kernel, reflect (col2im pixel rows)": (
        (3, 40, 4, 4), (6, 20, 5, 5), dict(groups=2, padding=2, padding_mode="reflect")),
    "64 channels, stride 2, dilated (col2im pixel rows)": ((1, 64, 9, 9), (5, 64, 3, 3),
                                                           dict(stride=2, dilation=2, padding=2)),
    "300 filters (col2im pixel rows)": ((1, 30, 4, 4), (300, 30, 3, 3), dict(padding=1)),
    "no filters (col2im pixel rows)": ((1, 64, 4, 4), (0, 64, 3, 3), dict(padding=1)),
    "1024 pixels of 165 channels: blocks of 1 or 2 channels, circular (col2im pixel rows)": (
        (4, 165, 16, 16), (4, 165, 5, 5), dict(padding=2, padding_mode="circular")),
    # small images, many: the in-place GEMM's images in fixed runs, one partial sum each
    "small images, 11 of them (weight-gradient image runs)": ((11, 6, 12, 12), (16, 6, 5, 5), dict(padding=1)),
    "small images, grouped, reflect (weight-gradient image runs)": ((5, 8, 9, 10), (12, 4, 3, 3),
                                                                     dict(groups=2, padding=1,
                                                                          padding_mode="reflect")),
    "6 channels, 7x7, stride 2, 4 small images (window rows in image runs)": ((4, 6, 12, 12), (6, 6, 7, 7),
                                                                              dict(stride=2, padding=3)),
    # few channels, one image: the weight gradient's GEMM reads whole windows from the window
    # rows' copy (one segment of kh*kw*C columns, in (kx, ky, c) order)
    "6 channels, 7x7, stride 2, one image (window rows)": ((1, 6, 23, 22), (6, 6, 7, 7), dict(stride=2, padding=3)),
    "6 channels, 5x4, dilated rows, reflect, one image (window rows)": ((1, 6, 17, 19), (5, 6, 5, 4),
                                                                        dict(dilation=(2, 1), padding=(3, 1),
                                                                             padding_mode="reflect")),
    # up to 4 channels a group with 3 taps or more in a column phase, and depthwise at any
    # column stride: the planar weight gradient, its padded planes copied in column phases
    # (tap (ky, kx) reads phase (kx*dw) % sw), tap_row_dots on each phase's taps
    "3 channels, 7x7, stride 2, one image (planar phases of 4 and 3 taps)": ((1, 3, 23, 22), (6, 3, 7, 7),
                                                                             dict(stride=2, padding=3)),
    "3 channels, 7x7, stride 2, 4 small images (planar phases)": ((4, 3, 12, 12), (6, 3, 7, 7),
                                                                  dict(stride=2, padding=3)),
    "2 channels, 5x4, dilated rows, reflect (planar, stride 1)": ((1, 2, 17, 19), (5, 2, 5, 4),
                                                                   dict(dilation=(2, 1), padding=(3, 1),
                                                                        padding_mode="reflect")),
    "2 channels, 7x7, stride 3, dilated columns 2, circular (planar phases)": ((2, 2, 15, 23), (9, 2, 7, 7),
                                                                                dict(stride=3, dilation=(1, 2),
                                                                                     padding=(2, 4),
                                                                                     padding_mode="circular")),
    "two groups of 2 channels, 6x6, stride (1, 4), replicate (planar, a phase of no taps)": (
        (2, 4, 13, 30), (10, 2, 6, 6), dict(groups=2, stride=(1, 4), dilation=(1, 2), padding=2,
                                            padding_mode="replicate")),
    "depthwise, stride 2, 20 channels (whole kernels in phases)": ((2, 20, 13, 19), (20, 1, 3, 3),
                                                                   dict(groups=20, stride=2, padding=1)),
    "depthwise, stride 3, dilated columns 3, 16 channels (all taps one phase)": ((1, 16, 14, 29), (16, 1, 3, 4),
                                                                                   dict(groups=16, stride=3,
                                                                                        dilation=(1, 3),
                                                                                        padding=(1, 2))),
    "depthwise, stride 2, 16 channels, large planes (whole padded copy in phases)": ((3, 16, 150, 151),
                                                                                     (16, 1, 5, 5),
                                                                                     dict(groups=16, stride=2,
                                                                                          padding=2)),
    "depthwise, stride 5, 16 channels (no phases, whole kernels by scalar sums)": ((1, 16, 16, 23), (16, 1, 3, 3),
                                                                                  dict(groups=16, stride=5,
                                                                                       padding=1)),
    "depthwise, 17-tap rows at stride 2 (phases too wide, scalar sums)": ((1, 3, 9, 40), (3, 1, 2, 17),
                                                                           dict(groups=3, stride=2)),
    "2 channels, 4x2 kernel, 10 filters (planar, passes of 5 filters)": ((2, 2, 9, 13), (10, 2, 4, 2),
                                                                         dict(padding=1)),
    "2 channels, 4x1 kernel, 12 filters (planar, passes of 6 filters)": ((2, 2, 9, 13), (12, 2, 4, 1),
                                                                         dict(padding=(1, 0))),
    "8 groups of 2 channels and 2 filters (whole kernels by rows)": ((2, 16, 9, 10), (16, 2, 3, 3),
                                                                      dict(groups=8, padding=1)),
    # fewer than 8 (filter, channel, kernel row) items and 2**16 output pixels or more: the
    # output rows divided into bands (up to 8, one per 2**15 pixels), a partial sum each; whole
    # kernels where the bands are 4 a thread or more
    "one 5x5 filter of one channel, large image (2 planar bands, kernel rows)": ((1, 1, 300, 301), (1, 1, 5, 5),
                                                                                dict(padding=2)),
    "one 3x3 filter on 512x512 (8 planar bands, whole kernels)": ((1, 1, 512, 512), (1, 1, 3, 3), dict(padding=1)),
    "one 3x3 filter, stride 2, 2 images (4 planar bands in column phases)": ((2, 1, 514, 514), (1, 1, 3, 3),
                                                                            dict(stride=2, padding=1)),
    "one 3x3 filter, dilated rows, circular (4 planar bands)": ((2, 1, 300, 263), (1, 1, 3, 3),
                                                               dict(dilation=(2, 1), padding=(2, 1),
                                                                    padding_mode="circular")),
    "one 3x3 filter, 2 images, reflect (4 planar bands across both images)": ((2, 1, 250, 263), (1, 1, 3, 3),
                                                                             dict(padding=1,
                                                                                  padding_mode="reflect")),
    "one 3x3 filter, row stride 2 (planar bands, kernel rows)": ((2, 1, 500, 263), (1, 1, 3, 3),
                                                                 dict(stride=(2, 1), padding=1)),
    "1x1, one channel, 3 images (3 planar bands, in place)": ((3, 1, 200, 200), (1, 1, 1, 1), {}),
    "one 3x3 filter, stride 5 (planar bands, scalar sums)": ((4, 1, 650, 640), (1, 1, 3, 3), dict(stride=5)),
    # large images (weight-gradient GEMMs of 2M multiply-adds or more): fixed pixel runs with
    # a partial sum each, times groups of panels (8 images or more of 1,024 pixels or more: runs
    # of images, as small images); unpadded, the panels read the input itself
    # (NHWC pixels in place; NCHW planes of a 1x1 kernel transposed a block at a time, or, with
    # at least twice as many channels as filters, read in place as the rows of the transposed
    # GEMM G^T = X * grad_out^T: tiles of 14 channels, panels of 32 filters on AVX-512)
    "1x1, 40 channels, large image (transposed planes, a part panel)": ((1, 40, 40, 40), (64, 40, 1, 1), {}),
    "1x1, 80 channels, 24 filters, large image (planes as rows, part tile and panel)": ((1, 80, 45, 45),
                                                                                        (24, 80, 1, 1), {}),
    "1x1, three groups of 48 channels and 12 filters, 2 images (planes as rows per group)": (
        (2, 144, 48, 48), (36, 48, 1, 1), dict(groups=3)),
    "1x1, two groups of 40 channels and 5 filters, small images (planes as rows, image runs)": (
        (5, 80, 9, 11), (10, 40, 1, 1), dict(groups=2)),
    "1x1, 64 channels, 2 images, odd pixels (NHWC in place, pixel runs)": ((2, 64, 47, 45), (48, 64, 1, 1), {}),
    "1x1, two groups of 64 channels, large image (transposed planes per group)": ((1, 128, 40, 40),
                                                                                  (96, 64, 1, 1), dict(groups=2)),
    "1x1, 256 channels, 14x14, few pixels (groups of panels make the items)": ((1, 256, 14, 14),
                                                                                  (144, 256, 1, 1), {}),
    "8 images of 32x32 pixels, 16 channels (large images in runs of images)": ((8, 16, 32, 32), (16, 16, 3, 3),
                                                                               dict(padding=1)),
    "3x3, 32 channels, unpadded, large image (in place rows)": ((1, 32, 40, 39), (40, 32, 3, 3), {}),
    "3x3, 64 channels, padded, large image (groups of panels, pixel runs)": ((1, 64, 46, 46), (64, 64, 3, 3),
                                                                            dict(padding=1)),
    "3x3, 128 channels, padded, large image (depth blocks: two runs of two on AVX-512, one of three on AVX2)": (
        (1, 128, 48, 48), (16, 128, 3, 3), dict(padding=1)),
    # small maps and a batch that fills the SIMD lanes: the input gradient's correlation runs
    # across images (batched) on the SIMD backends, col2im on the portable one
    "small maps, 5x5 kernel, 24 images (correlation across images)": ((24, 6, 12, 12), (16, 6, 5, 5), {}),
    "small maps, 3x3 kernel, 32 images, reflect (correlation across images)": ((32, 5, 7, 8), (9, 5, 3, 3),
                                                                               dict(padding=1,
                                                                                    padding_mode="reflect")),
    # rows of 8 taps: too wide for tap_row_dots, gathered columns on the SIMD backends
    "one channel, 8-tap rows, many images (gathered)": ((19, 1, 12, 13), (5, 1, 8, 8), dict(padding=1)),
    "one channel, 8-tap rows, many filters (gathered, several tiles)": ((9, 1, 12, 12), (37, 1, 8, 8),
                                                                        dict(padding=(1, 2))),
}


@pytest.mark.parametrize("case", AWKWARD)
@pytest.mark.parametrize("layout", ("NCHW", "NHWC"))
@pytest.mark.parametrize("dtype", DTYPES)
def test_awkward_shapes(case, layout, dtype):
    x_shape, w_shape, kwargs = AWKWARD[case]
    x, w = random(x_shape, dtype, 3), random(w_shape, dtype, 4)
    if layout == "NHWC":
        x = x.transpose(0, 2, 3, 1).copy()
    out_shape = ref.conv2d(x, w, layout=layout, **kwargs).shape
    with num_threads(2):  # the planar path's work items depend on the threads: the cases name the 2-thread ones
        got = check_against_reference(fastconv.conv2d_backward, ref.conv2d_backward, x, w,
                                      conv_terms(x_shape, w_shape, out_shape, layout), layout=layout, **kwargs)
    assert got["input"].shape == x.shape and got["weight"].shape == w.shape and got["bias"].shape == w.shape[:1]


@pytest.mark.parametrize("needs", [("input",), ("weight",), ("bias",), ("bias", "input"), "weight",
                                   ("weight", "bias", "input"), ()])
def test_needs_selects_the_gradients_in_a_fixed_order(needs):
    x, w = random((2, 3, 6, 6), np.float64, 0), random((4, 3, 3, 3), np.float64, 1)
    grad_out = random((2, 4, 4, 4), np.float64, 2)
    got = fastconv.conv2d_backward(grad_out, x, w, needs=needs)
    wanted = (needs,) if isinstance(needs, str) else needs
    assert list(got) == [name for name in NAMES if name in wanted]
    full = fastconv.conv2d_backward(grad_out, x, w)
    for name in got:
        np.testing.assert_array_equal(got[name], full[name])


@pytest.mark.parametrize("unbatched", [False, True])
@pytest.mark.parametrize("layout", ("NCHW", "NHWC"))
def test_unbatched_input(unbatched, layout):
    x, w = random((1, 3, 7, 6), np.float32, 0), random((4, 3, 3, 2), np.float32, 1)
    if layout == "NHWC":
        x = x.transpose(0, 2, 3, 1).copy()
    grad_out = random(fastconv.conv2d(x, w, padding=1, layout=layout).shape, np.float32, 2)
    batched = fastconv.conv2d_backward(grad_out, x, w, padding=1, layout=layout)
    single = fastconv.conv2d_backward(grad_out[0], x[0], w, padding=1, layout=layout)
    assert single["input"].shape == x.shape[1:]
    np.testing.assert_array_equal(single["input"], batched["input"][0])
    np.testing.assert_array_equal(single["weight"], batched["weight"])
    np.testing.assert_array_equal(single["bias"], batched["bias"])


@pytest.mark.parametrize("kind", ["transposed", "strided", "negative-strides", "fortran", "list"])
def test_noncontiguous_and_list_inputs(kind):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 8, 7)), rng.standard_normal((4, 3, 3, 3))
    grad_out = rng.standard_normal((2, 4, 6, 5))
    want = fastconv.conv2d_backward(grad_out, x, w)
    if kind == "transposed":
        args = (grad_out.transpose(0, 1, 3, 2).copy().transpose(0, 1, 3, 2), x.transpose(0, 1, 3, 2).copy()
                .transpose(0, 1, 3, 2), w)
    elif kind == "strided":
        args = (np.repeat(grad_out, 2, axis=3)[..., ::2], np.repeat(x, 2, axis=2)[:, :, ::2], w)
    elif kind == "negative-strides":
        args = (grad_out[:, ::-1][:, ::-1], x[::-1][::-1], w[::-1][::-1])
    elif kind == "fortran":
        args = (np.asfortranarray(grad_out), np.asfortranarray(x), np.asfortranarray(w))
    else:
        args = (grad_out.tolist(), x.tolist(), w.tolist())
    got = fastconv.conv2d_backward(*args)
    for name in NAMES:
        np.testing.assert_array_equal(got[name], want[name])


@pytest.mark.parametrize("where", ["grad_out", "x"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_nonfinite_values_propagate_like_the_reference(where, dtype):
    x, w = random((2, 3, 7, 7), dtype, 0), random((4, 3, 3, 3), dtype, 1)
    grad_out = random((2, 4, 7, 7), dtype, 2)
    target = grad_out if where == "grad_out" else x
    target[0, 1, 3, 2], target[1, 2, 0, 0], target[1, 0, 6, 5] = np.nan, np.inf, -np.inf
    got = fastconv.conv2d_backward(grad_out, x, w, padding=1)
    want = ref.conv2d_backward(grad_out, x, w, padding=1)
    for name in NAMES:
        np.testing.assert_array_equal(np.isnan(got[name]), np.isnan(want[name]), err_msg=name)
        finite = np.isfinite(want[name])
        np.testing.assert_array_equal(got[name][~finite], want[name][~finite], err_msg=name)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("layout", ("NCHW", "NHWC"))
@pytest.mark.parametrize("dtype", DTYPES)
def test_an_infinite_weight_reaches_only_the_positions_it_multiplies(stride, layout, dtype):
    """Infinite weights: inf where the weight meets a gradient, NaN only where inf meets -inf
    (a corner tap must not meet the zeros around grad_out), as the reference and torch."""
    x, w = random((2, 3, 8, 7), dtype, 0), random((4, 3, 3, 3), dtype, 1)
    w[1, 2, 0, 0], w[3, 0, 2, 1] = np.inf, -np.inf
    if layout == "NHWC":
        x = x.transpose(0, 2, 3, 1).copy()
    grad_out = random(fastconv.conv2d(x, w, stride=stride, padding=1, layout=layout).shape, dtype, 2)
    got = fastconv.conv2d_backward(grad_out, x, w, stride=stride, padding=1, layout=layout, needs="input")["input"]
    want = ref.conv2d_backward(grad_out, x, w, stride=stride, padding=1, layout=layout, needs="input")["input"]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[~np.isfinite(want)], want[~np.isfinite(want)])
    assert np.isinf(want).any()


@pytest.mark.parametrize("layout", ("NCHW", "NHWC"))
@pytest.mark.parametrize("case", ["dense", "depthwise", "depthwise, 8 channels", "grouped", "one channel",
                                  "one channel, many images", "small images, many (image runs)",
                                  "window rows in image runs", "planar phases", "col2im channel blocks",
                                  "col2im pixel rows", "flipped weights packed, small images",
                                  "large image, 1x1 (pixel runs)", "1x1 planes as rows, three groups",
                                  "large images in runs of images",
                                  "large image, 3x3 (pixel runs, groups of panels)", "one channel, 8 planar bands"])
def test_results_do_not_depend_on_the_thread_count(case, layout):
    # depthwise with 8 channels: whole kernels (tap_plane_dots) at 1 and 2 threads, kernel rows
    # (tap_row_dots) at 3 and 4; planar phases (stride 2): filter blocks of 6 at 1 and 2 threads,
    # 4 at 3, 3 at 4 (on AVX-512); col2im: channel blocks and tile heights that depend on the
    # threads (float32 on AVX-512: 1, 4, 4 and 6 channels, 9 to 14 rows), and with pixel rows
    # (one image, NCHW only: NHWC takes the correlation, and so does a batch of small NCHW
    # images, through the NHWC GEMM with the flipped weights packed from w); one channel in 8
    # planar bands: whole kernels at 1 and 2 threads, kernel rows at 3 and 4
    x_shape, w_shape, groups = {"dense": ((3, 24, 21, 23), (40, 24, 3, 3), 1),
                                "depthwise": ((3, 20, 21, 23), (20, 1, 3, 3), 20),
                                "depthwise, 8 channels": ((3, 8, 21, 23), (8, 1, 3, 3), 8),
                                "grouped": ((3, 24, 21, 23), (12, 6, 3, 3), 4),
                                "one channel": ((2, 1, 60, 61), (1, 1, 5, 5), 1),
                                "one channel, many images": ((19, 1, 20, 21), (6, 1, 5, 5), 1),
                                "small images, many (image runs)": ((11, 6, 12, 12), (16, 6, 5, 5), 1),
                                "window rows in image runs": ((4, 6, 14, 14), (6, 6, 7, 7), 1),
                                "planar phases": ((2, 1, 30, 31), (16, 1, 3, 7), 1),
                                "col2im channel blocks": ((1, 23, 64, 64), (5, 23, 3, 3), 1),
                                "col2im pixel rows": ((1, 100, 8, 8), (8, 100, 3, 3), 1),
                                "flipped weights packed, small images": ((3, 36, 7, 7), (40, 36, 3, 3), 1),
                                "large image, 1x1 (pixel runs)": ((2, 64, 47, 45), (48, 64, 1, 1), 1),
                                "1x1 planes as rows, three groups": ((2, 144, 48, 48), (36, 48, 1, 1), 3),
                                "large images in runs of images": ((8, 16, 32, 32), (16, 16, 3, 3), 1),
                                "large image, 3x3 (pixel runs, groups of panels)": ((1, 64, 46, 46), (64, 64, 3, 3),
                                                                                    1),
                                "one channel, 8 planar bands": ((4, 1, 256, 256), (1, 1, 3, 3), 1)}[case]
    stride = 2 if case in ("planar phases", "col2im channel blocks") else 1
    kwargs = dict(padding=0 if w_shape[2] == 1 else 1, stride=stride, groups=groups, layout=layout)
    x, w = random(x_shape, np.float32, 0), random(w_shape, np.float32, 1)
    if layout == "NHWC":
        x = x.transpose(0, 2, 3, 1).copy()
    grad_out = random(fastconv.conv2d(x, w, **kwargs).shape, np.float32, 2)
    results = []
    for threads in (1, 2, 3, 4):
        with num_threads(threads):
            results.append(fastconv.conv2d_backward(grad_out, x, w, **kwargs))
    for other in results[1:]:
        for name in NAMES:
            np.testing.assert_array_equal(other[name], results[0][name], err_msg=name)


# =========================================================================== conv1d


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv1d_backward_matches_reference(seed, dtype):
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 2]))
    c, k, kl = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4)), int(rng.integers(1, 6))
    length, mode = int(rng.integers(kl, 30)), str(rng.choice(PAD_MODES))
    padding = (int(rng.integers(0, min(kl, length))), int(rng.integers(0, min(kl, length))))
    kwargs = dict(stride=int(rng.integers(1, 4)), padding=padding, dilation=1, groups=groups, padding_mode=mode)
    x, w = random((int(rng.integers(0, 3)), c, length), dtype, seed), random((k, c // groups, kl), dtype, seed + 1)
    out = ref.conv1d(x, w, **kwargs)
    pixels = out.shape[0] * out.shape[2]
    check_against_reference(fastconv.conv1d_backward, ref.conv1d_backward, x, w,
                            {"input": k * kl, "weight": pixels, "bias": pixels}, **kwargs)


def test_conv1d_backward_unbatched():
    x, w = random((3, 20), np.float64, 0), random((2, 3, 4), np.float64, 1)
    grad_out = random((2, 10), np.float64, 2)
    got = fastconv.conv1d_backward(grad_out, x, w, stride=2, padding="same")
    want = fastconv.conv1d_backward(grad_out[None], x[None], w, stride=2, padding="same")
    assert got["input"].shape == x.shape
    np.testing.assert_array_equal(got["input"], want["input"][0])
    np.testing.assert_array_equal(got["weight"], want["weight"])


# =========================================================================== conv_transpose2d


def random_transpose(seed):
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 1, 2]))
    c, k = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
    kh, kw = (int(v) for v in rng.integers(1, 5, 2))
    stride = tuple(int(v) for v in rng.integers(1, 4, 2))
    dilation = tuple(int(v) for v in rng.integers(1, 4, 2))
    output_padding = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation))
    h, w = int(rng.integers(1, 8)), int(rng.integers(1, 9))
    padding = tuple(int(rng.integers(0, 1 + (size - 1) * s // 2 + d * (kk - 1) // 2))
                    for size, s, d, kk in zip((h, w), stride, dilation, (kh, kw)))
    kwargs = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    return (int(rng.integers(0, 3)), c, h, w), (c, k // groups, kh, kw), kwargs


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_transpose2d_backward_matches_reference(seed, dtype):
    x_shape, w_shape, kwargs = random_transpose(seed)
    x, w = random(x_shape, dtype, seed), random(w_shape, dtype, seed + 1)
    try:
        out = ref.conv_transpose2d(x, w, **kwargs)
    except ValueError:  # padding too large for this draw: refused by both, as the forward
        with pytest.raises(ValueError):
            fastconv.conv_transpose2d_backward(np.zeros((1,)), x, w, **kwargs)
        return
    pixels = out.shape[0] * out.shape[2] * out.shape[3]
    taps = w_shape[2] * w_shape[3]
    check_against_reference(fastconv.conv_transpose2d_backward, ref.conv_transpose2d_backward, x, w,
                            {"input": w_shape[1] * taps, "weight": x_shape[0] * x_shape[2] * x_shape[3],
                             "bias": pixels}, **kwargs)


def test_conv_transpose2d_backward_output_padding_reaches_only_the_bias():
    x, w = random((1, 2, 3, 3), np.float64, 0), random((2, 3, 2, 2), np.float64, 1)
    grad_out = random((1, 3, 7, 7), np.float64, 2)
    base = fastconv.conv_transpose2d_backward(grad_out, x, w, stride=2, output_padding=1)
    changed = grad_out.copy()
    changed[:, :, -1, :] += 5.0
    changed[:, :, :, -1] -= 3.0
    moved = fastconv.conv_transpose2d_backward(changed, x, w, stride=2, output_padding=1)
    np.testing.assert_array_equal(moved["input"], base["input"])
    np.testing.assert_array_equal(moved["weight"], base["weight"])
    assert not np.array_equal(moved["bias"], base["bias"])


# =========================================================================== torch parity


@pytest.mark.parametrize("seed", range(15))
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_backward_matches_torch(seed, dtype):
    torch = pytest.importorskip("torch")
    x_shape, w_shape, kwargs = random_conv(seed + 200)
    if kwargs["padding_mode"] != "zeros" or x_shape[0] == 0:
        kwargs["padding_mode"] = "zeros"  # torch pads other modes with a separate op first
        x_shape = (max(1, x_shape[0]),) + x_shape[1:]
    x, w = random(x_shape, dtype, seed), random(w_shape, dtype, seed + 1)
    (pt, pb), (pl, pr) = kwargs["padding"]
    out = fastconv.conv2d(x, w, **kwargs)
    grad_out = random(out.shape, dtype, seed + 2)
    tx = torch.nn.functional.pad(torch.tensor(x), (pl, pr, pt, pb)).requires_grad_()
    tw = torch.tensor(w, requires_grad=True)
    tb = torch.zeros(w.shape[0], dtype=tw.dtype, requires_grad=True)
    y = torch.nn.functional.conv2d(tx, tw, tb, kwargs["stride"], 0, kwargs["dilation"], kwargs["groups"])
    y.backward(torch.tensor(grad_out))
    got = fastconv.conv2d_backward(grad_out, x, w, **kwargs)
    mags = magnitudes(ref.conv2d_backward, grad_out, x, w, **kwargs)
    terms = conv_terms(x_shape, w_shape, out.shape)
    torch_input = tx.grad.numpy()[:, :, pt:pt + x.shape[2], pl:pl + x.shape[3]]
    # both sides round: twice the one-sided bound
    assert_close(got["input"], torch_input, mags["input"], 2 * terms["input"])
    assert_close(got["weight"], tw.grad.numpy(), mags["weight"], 2 * terms["weight"])
    assert_close(got["bias"], tb.grad.numpy(), mags["bias"], 2 * terms["bias"])


# =========================================================================== bad input

X, W, GO = np.zeros((2, 3, 6, 6)), np.zeros((4, 3, 3, 3)), np.zeros((2, 4, 4, 4))


@pytest.mark.parametrize("call, error, match", [
    (lambda: fastconv.conv2d_backward(np.zeros((2, 4, 5, 4)), X, W), ValueError, r"grad_out.*\(2, 4, 4, 4\)"),
    (lambda: fastconv.conv2d_backward(GO[0], X, W), ValueError, r"grad_out.*\(2, 4, 4, 4\)"),
    (lambda: fastconv.conv2d_backward(GO.astype(np.float32), X, W), TypeError, "grad_out"),
    (lambda: fastconv.conv2d_backward(GO.astype(np.int64), X, W), TypeError, "grad_out"),
    (lambda: fastconv.conv2d_backward("grad", X, W), TypeError, "grad_out"),
    (lambda: fastconv.conv2d_backward(GO, X.astype(np.float32), W), TypeError, "weight|x"),
    (lambda: fastconv.conv2d_backward(GO, X, W[:, :2]), ValueError, "weight"),
    (lambda: fastconv.conv2d_backward(GO, X, W, needs=("input", "x")), ValueError, "needs"),
    (lambda: fastconv.conv2d_backward(GO, X, W, needs=3), TypeError, "needs"),
    (lambda: fastconv.conv2d_backward(GO, X, W, stride=0), ValueError, "stride"),
    (lambda: fastconv.conv2d_backward(GO, X, W, padding_mode="mirror"), ValueError, "padding_mode"),
    (lambda: fastconv.conv2d_backward(GO, X, W, layout="CHWN"), ValueError, "layout"),
    (lambda: fastconv.conv2d_backward(GO, X[0, 0], W), ValueError, r"\bx\b"),
    (lambda: fastconv.conv1d_backward(np.zeros((1, 1, 2)), np.zeros((1, 1, 4)), np.zeros((1, 1, 2))), ValueError,
     r"grad_out.*\(1, 1, 3\)"),
    (lambda: fastconv.conv_transpose2d_backward(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 2, 2)),
                                                np.zeros((1, 1, 2, 2))), ValueError, r"grad_out.*\(1, 1, 3, 3\)"),
    (lambda: fastconv.conv_transpose2d_backward(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 2, 2)),
                                                np.zeros((1, 1, 2, 2)), output_padding=1), ValueError,
     "output_padding"),
])
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_no_filters_in_the_planar_weight_gradient():
    """Found in review: K = 0 reached the planar path's filter blocks (a division by zero)."""
    grads = fastconv.conv2d_backward(np.ones((1, 0, 2, 2)), np.ones((1, 1, 4, 4)), np.ones((0, 1, 3, 3)),
                                     needs=("weight",))
    assert grads["weight"].shape == (0, 1, 3, 3)


def test_the_col2im_binding_refuses_an_empty_image_that_padding_would_fill():
    """Found in review: internal entry point, guarded by the Python layer (which never sends
    an empty image there): H = 0 padded by 1 made a non-empty geometry over no memory."""
    with pytest.raises(ValueError, match="non-empty"):
        fastconv._core.conv2d_grad_input(np.ones((1, 1, 2, 3)), np.ones((1, 1, 1, 1)), np.zeros((1, 1, 0, 3)),
                                         1, 1, 1, 1, 1, 1, 0, 0, 1, 2)


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads the address space from /proc")
@pytest.mark.skipif("address" in fastconv._core.sanitizers,
                    reason="ASan's own bookkeeping may not fit under so tight an address-space cap")
def test_running_out_of_memory_in_the_weight_gradient_raises_memory_error():
    """Found in review: the gathered weight gradient takes each image run's scratch inside the
    parallel loop, where a bad_alloc ended the process (an exception leaving an OpenMP region)
    instead of raising MemoryError. Under an address-space cap too small for one run's
    scratch, on two threads."""
    script = textwrap.dedent("""
        import resource, numpy as np, fastconv
        fastconv.set_num_threads(2)
        w = np.ones((8, 1, 8, 8), np.float32)  # rows of 8 taps: gathered on the SIMD backends
        fastconv.conv2d_backward(np.ones((2, 8, 57, 57), np.float32), np.ones((2, 1, 64, 64), np.float32), w,
                                 needs="weight")  # the OpenMP threads exist before the cap
        x, g = np.ones((2, 1, 1026, 1026), np.float32), np.ones((2, 8, 1019, 1019), np.float32)
        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * resource.getpagesize()
        # the pixel offsets (8 MB) fit; one run's padded copy and packed grad_out (36 MB) do not
        resource.setrlimit(resource.RLIMIT_AS, (mapped + (24 << 20), resource.RLIM_INFINITY))
        try:
            fastconv.conv2d_backward(g, x, w, needs="weight")
            print("returned")
        except MemoryError:
            print("MemoryError")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "MemoryError", done.stdout


def test_the_bias_binding_returns_zeros_for_no_pixels_at_once_and_refuses_overlap():
    """Found in review: an empty grad_out of 2**40 images still looped over them."""
    grad_b = np.full(5, 7.0, np.float32)
    fastconv._core.conv2d_grad_bias(np.empty((2**40, 5, 1, 0), np.float32), grad_b, False)
    np.testing.assert_array_equal(grad_b, np.zeros(5, np.float32))
    buffer = np.ones(25, np.float32)
    with pytest.raises(ValueError, match="overlap"):
        fastconv._core.conv2d_grad_bias(buffer[:20].reshape(1, 5, 2, 2), buffer[:5], False)


@pytest.mark.parametrize("sizes", [
    (-1, 1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1), (1, 1, 1, 1, 1, 3, 3, 1, 1, 0, 1, 1, 1, 1),
    (1, 2, 1, 1, 2, 3, 3, 1, 1, 1, 1, 1, 1, 0), (1, 3, 1, 1, 2, 3, 3, 1, 1, 1, 1, 1, 1, 2)])
def test_the_algorithm_choice_binding_refuses_bad_sizes(sizes):
    with pytest.raises(ValueError):
        fastconv._core.conv2d_auto_algorithm(*sizes, False, False)


@pytest.mark.parametrize("sizes, wanted", [
    ((1, 7, 7, 512, 3, 3), True), ((8, 7, 7, 512, 3, 3), True), ((8, 14, 14, 256, 3, 3), False),
    ((4, 16, 16, 165, 5, 5), True), ((4, 16, 16, 163, 5, 5), False), ((1, 32, 33, 4096, 3, 3), False),
    ((0, 7, 7, 64, 3, 3), True), ((1, 7, 7, 0, 3, 3), False), ((2**62, 2**62, 4, 1, 3, 3), False),
    ((1, 1, 1, 2**62, 2**31, 2**31), False), ((1, 1, 1, 1, 2**31, 2**31), True)])
def test_the_col2im_pixel_rows_rule(sizes, wanted):
    """conv2d_grad_input's pixel rows: N*OH*OW at most 1024 and a quarter of Cg*kh*kw; sizes
    whose products overflow are no shape an array holds (the sanitizer stage checks these)."""
    assert fastconv._core.col2im_pixel_rows(*sizes) is wanted


@pytest.mark.parametrize("sizes", [(-1, 7, 7, 64, 3, 3), (1, 7, 7, -64, 3, 3), (1, 7, 7, 64, 2**32, 3)])
def test_the_col2im_pixel_rows_binding_refuses_bad_sizes(sizes):
    with pytest.raises(ValueError, match="sizes"):
        fastconv._core.col2im_pixel_rows(*sizes)


def test_col2im_packs_the_images_grad_out_a_few_at_a_time():
    """col2im packs grad_out for as many images at a time as 8 Mi values hold: 40 filters of
    256x256 outputs are 2.5 Mi values an image, 3 at a time, so 4 images take two rounds;
    each image's gradient is the one it has alone."""
    x, w = random((4, 16, 512, 512), np.float32, 0), random((40, 16, 3, 3), np.float32, 1)
    grad_out = random((4, 40, 256, 256), np.float32, 2)
    got = fastconv.conv2d_backward(grad_out, x, w, stride=2, padding=1, needs="input")["input"]
    for n in range(4):
        alone = fastconv.conv2d_backward(grad_out[n:n + 1], x[n:n + 1], w, stride=2, padding=1, needs="input")
        np.testing.assert_array_equal(got[n:n + 1], alone["input"])


def test_stride_1_input_gradients_of_small_maps_take_col2im(monkeypatch):
    """One image of a small map takes col2im; a batch of them the correlation through the
    NHWC GEMM (the test below)."""
    calls = []
    original = fastconv._core.conv2d_grad_input
    monkeypatch.setattr(fastconv._core, "conv2d_grad_input", lambda *args: calls.append(1) or original(*args))
    x, w = random((1, 64, 5, 5), np.float32, 0), random((8, 64, 3, 3), np.float32, 1)
    grad_out = random((1, 8, 5, 5), np.float32, 2)
    got = fastconv.conv2d_backward(grad_out, x, w, padding=1, needs="input")["input"]
    assert calls == [1]
    want = ref.conv2d_backward(grad_out.astype(np.float64), x.astype(np.float64), w.astype(np.float64),
                               padding=1)["input"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    calls.clear()
    fastconv.conv2d_backward(random((8, 8, 14, 14), np.float32, 3), random((8, 64, 14, 14), np.float32, 4), w,
                             padding=1, needs="input")
    assert calls == []  # 1568 pixels: the correlation


@pytest.mark.skipif(len(BACKENDS) < 2, reason="needs a SIMD backend beside the portable one")
def test_the_input_gradients_route_follows_the_backend(monkeypatch):
    """The route of an input gradient is kept per shape, and per backend: 24 small images of 6
    channels run the correlation across images on a SIMD backend, col2im on the portable one
    (whose conv2d has no batched kernel). A route kept from the SIMD backend would skip col2im."""
    calls = []
    original = fastconv._core.conv2d_grad_input
    monkeypatch.setattr(fastconv._core, "conv2d_grad_input", lambda *args: calls.append(1) or original(*args))
    x, w = random((24, 6, 12, 12), np.float32, 0), random((16, 6, 5, 5), np.float32, 1)
    grad_out = random((24, 16, 8, 8), np.float32, 2)
    want = ref.conv2d_backward(grad_out.astype(np.float64), x.astype(np.float64), w.astype(np.float64),
                               needs="input")["input"]
    previous = fastconv.backend()
    try:
        for name, col2im in ((BACKENDS[-1], []), ("portable", [1]), (BACKENDS[-1], [])):
            fastconv.set_backend(name)
            calls.clear()
            got = fastconv.conv2d_backward(grad_out, x, w, needs="input")["input"]
            assert calls == col2im, name
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    finally:
        fastconv.set_backend(previous)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("xshape, wshape, kw, before", [
    ((2, 64, 5, 5), (8, 64, 3, 3), dict(padding=1), (1, 1, 1, 1)),
    ((2, 48, 7, 7), (40, 48, 3, 3), dict(padding="same"), (1, 1, 1, 1)),
    ((4, 64, 12, 10), (64, 32, 3, 3), dict(padding=(2, 1), dilation=(2, 1), groups=2), (2, 2, 1, 1)),
    ((2, 40, 9, 9), (36, 40, 5, 5), dict(padding=(1, 3)), (1, 1, 3, 3)),
    ((2, 32, 8, 8), (48, 32, 4, 2), dict(padding="same"), (1, 2, 0, 1)),
    ((5, 32, 3, 3), (32, 32, 3, 3), dict(padding=2), (2, 2, 2, 2)),
    ((2, 36, 6, 7), (33, 36, 3, 3), dict(padding=0), (0, 0, 0, 0)),
    ((3, 64, 7, 7), (48, 32, 3, 3), dict(padding=1, groups=2), (1, 1, 1, 1)),
], ids=["few-filters", "same", "groups-dilation", "5x5-uneven-padding", "even-kernel-same", "padding-at-reach",
        "no-padding-odd-sizes", "groups-unequal"])
def test_stride_1_input_gradients_of_image_batches_pack_the_flipped_weights(monkeypatch, xshape, wshape, kw, before,
                                                                            threads, dtype):
    """A batch's stride-1 input gradient under zero padding of at most the kernel's reach runs
    conv2d_grad_input_via_nhwc: the correlation of grad_out through the NHWC GEMM, its panels
    packed from the weights as they are, flipped and transposed on the way (WeightsOrder::
    FlippedTransposed). Equal bit for bit to the same GEMM on the flipped copy, and close to
    the reference; small maps (a batch in blocks of whole images) and larger ones (bands).
    before: the padding (top, bottom, left, right)."""
    calls = []
    original = fastconv._core.conv2d_grad_input_via_nhwc
    monkeypatch.setattr(fastconv._core, "conv2d_grad_input_via_nhwc",
                        lambda *args: calls.append(1) or original(*args))
    x, w = random(xshape, dtype, 0), random(wshape, dtype, 1)
    groups, dilation = kw.get("groups", 1), kw.get("dilation", (1, 1))
    grad_out = random(fastconv.conv2d(x, w, **kw).shape, dtype, 2)
    with num_threads(threads):
        got = fastconv.conv2d_backward(grad_out, x, w, needs="input", **kw)["input"]
    with num_threads(3 - threads):
        other = fastconv.conv2d_backward(grad_out, x, w, needs="input", **kw)["input"]
    assert calls == [1, 1]
    np.testing.assert_array_equal(got, other)
    # the correlation by the flipped copy, padded so that its output is the input's gradient
    reach = [d * (k - 1) for d, k in zip(dilation, wshape[2:])]
    pads = ((reach[0] - before[0], reach[0] - before[1]), (reach[1] - before[2], reach[1] - before[3]))
    flipped = w.reshape(groups, -1, *wshape[1:]).transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]
    flipped = np.ascontiguousarray(flipped.reshape(-1, wshape[0] // groups, *wshape[2:]))
    with num_threads(threads):
        by_copy = fastconv.conv2d(grad_out, flipped, padding=pads, dilation=dilation, groups=groups,
                                  algorithm="im2col_nhwc")
    np.testing.assert_array_equal(got, by_copy)
    f64 = [a.astype(np.float64) for a in (grad_out, x, w)]
    want = ref.conv2d_backward(*f64, **kw)["input"]
    magnitude = ref.conv2d_backward(*[np.abs(a) for a in f64], **kw)["input"]
    assert_close(got, want.astype(dtype), magnitude, terms=wshape[0] // groups * wshape[2] * wshape[3])


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_the_flipped_weights_input_gradient_leaves_nonfinite_weights_to_the_transposed_convolution(monkeypatch, bad):
    """With a non-finite weight, conv2d_grad_input_via_nhwc writes nothing and says so (its
    correlation would multiply the zeros around grad_out by it: NaN where no product exists),
    and conv2d_backward's input gradient is the transposed convolution's, as the reference's."""
    x, w = random((2, 64, 5, 5), np.float64, 0), random((40, 64, 3, 3), np.float64, 1)
    w[3, 5, 0, 2] = bad
    grad_out = random((2, 40, 5, 5), np.float64, 2)
    grad_in = np.full(x.shape, 7.0)
    assert not fastconv._core.conv2d_grad_input_via_nhwc(grad_out, w, grad_in, 1, 1, 1, 1, 1, 1, 1)
    assert (grad_in == 7.0).all()
    answers = []
    original = fastconv._core.conv2d_grad_input_via_nhwc
    monkeypatch.setattr(fastconv._core, "conv2d_grad_input_via_nhwc",
                        lambda *args: answers.append(original(*args)) or answers[-1])
    got = fastconv.conv2d_backward(grad_out, x, w, padding=1, needs="input")["input"]
    assert answers == [False]  # tried, and left to the transposed convolution
    want = ref.conv2d_backward(grad_out, x, w, padding=1)["input"]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw, match", [
    (dict(pt=3), "at most the kernel's reach"),
    (dict(pb=3), "at most the kernel's reach"),
    (dict(pl=3), "at most the kernel's reach"),
    (dict(pr=3), "at most the kernel's reach"),
    (dict(groups=3), "groups"),
    (dict(dh=0), "positive"),
    (dict(pt=-1), "non-negative"),
])
def test_the_flipped_weights_input_gradient_binding_checks_its_arguments(kw, match):
    """conv2d_grad_input_via_nhwc (3x3 kernel, dilation 1: reach 2) refuses padding past the
    reach (whose correlation output would not be the gradient) and inconsistent shapes."""
    args = dict(dh=1, dw=1, pt=1, pb=1, pl=1, pr=1, groups=1)
    args.update(kw)
    H = 5 + args["pt"] + args["pb"] - 2 * args["dh"] if args["dh"] > 0 else 5
    W = 5 + args["pl"] + args["pr"] - 2
    grad_out = np.zeros((2, 4, max(H, 1), W), np.float32)
    with pytest.raises(ValueError, match=match):
        fastconv._core.conv2d_grad_input_via_nhwc(grad_out, np.zeros((4, 6, 3, 3), np.float32),
                                                  np.zeros((2, 6, 5, 5), np.float32), **args)


def test_the_flipped_weights_input_gradient_binding_refuses_other_dtypes_and_overlaps():
    """Arrays of two dtypes are a TypeError; a gradient written over grad_out or the weights a
    ValueError, before anything is written."""
    grad_out, w = np.ones((2, 4, 5, 5), np.float32), np.ones((4, 6, 3, 3), np.float32)
    with pytest.raises(TypeError):
        fastconv._core.conv2d_grad_input_via_nhwc(grad_out, w.astype(np.float64), np.zeros((2, 6, 5, 5), np.float32),
                                                  1, 1, 1, 1, 1, 1, 1)
    shared = np.ones(2 * 6 * 25 + 50, np.float32)
    with pytest.raises(ValueError, match="overlap"):
        fastconv._core.conv2d_grad_input_via_nhwc(shared[:200].reshape(2, 4, 5, 5), w,
                                                  shared[50:].reshape(2, 6, 5, 5), 1, 1, 1, 1, 1, 1, 1)
    assert (shared == 1).all()


@pytest.mark.parametrize("sizes", [(2**63 - 1, 1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1),
                                   (1, 1, 1, 1, 1, 3, 3, 2**32, 2**32, 1, 1, 1, 1, 1)])
def test_the_algorithm_choice_binding_takes_huge_sizes(sizes):
    """Found in review: the choice multiplies sizes (3 * N, OH * OW), which overflowed (the
    sanitizer stage's UBSan checks these calls); sizes are capped at 2**31 now."""
    assert fastconv._core.conv2d_auto_algorithm(*sizes, False, False) in (1, 2, 3, 5)


@pytest.mark.parametrize("shape, groups", [((512, 3, 3, 3), 1), ((64, 64, 3, 3), 1), ((12, 4, 3, 3), 3),
                                           ((8, 1, 3, 3), 8), ((6, 4, 2, 5), 2), ((40, 37, 1, 1), 1),
                                           ((33, 17, 1, 1), 3), ((1, 1, 1, 1), 1), ((17, 3, 7, 7), 1),
                                           ((0, 4, 3, 3), 1), ((4, 0, 3, 3), 2), ((4, 2, 0, 3), 1)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_the_input_gradients_weight_is_each_groups_kernels_transposed_and_rotated(shape, groups, dtype):
    """The correlation weight of the input gradient (C++: 3x3 kernels, other sizes, 1x1 by
    the transpose kernel) against NumPy's axis moves."""
    k, c, kh, kw = shape
    w = random(shape, dtype, 0)
    want = w.reshape(groups, k // groups, c, kh, kw).transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]
    out = np.full((groups * c, k // groups, kh, kw), np.nan, dtype)
    fastconv._core.flipped_transposed_weights(w, out, groups)
    np.testing.assert_array_equal(out, want.reshape(out.shape))


def test_the_flipped_weights_binding_refuses_bad_arguments():
    w = np.ones((6, 2, 3, 3), np.float32)
    good = np.empty((6, 6, 3, 3), np.float32)
    for groups in (0, -1, 4):
        with pytest.raises(ValueError, match="groups"):
            fastconv._core.flipped_transposed_weights(w, good, groups)
    with pytest.raises(ValueError, match="groups"):  # no filters: any groups divides 0, but groups * C overflows
        fastconv._core.flipped_transposed_weights(np.ones((0, 4, 1, 1), np.float32),
                                                  np.ones((0, 0, 1, 1), np.float32), 2**62)
    with pytest.raises(ValueError, match="wrong shape"):
        fastconv._core.flipped_transposed_weights(w, np.empty((2, 6, 3, 3), np.float32), 3)
    with pytest.raises(TypeError, match="dtype"):
        fastconv._core.flipped_transposed_weights(w, good.astype(np.float64), 3)
    with pytest.raises(ValueError, match="contiguous"):
        fastconv._core.flipped_transposed_weights(w, np.empty((6, 6, 3, 3), np.float32, order="F")[..., :], 3)
    buffer = np.ones(2 * 108, np.float32)
    with pytest.raises(ValueError, match="overlap"):
        fastconv._core.flipped_transposed_weights(buffer[:108].reshape(6, 2, 3, 3), buffer[54:162].reshape(2, 6, 3, 3),
                                                  1)


@pytest.mark.parametrize("x_shape, w_shape, groups", [((1, 64, 40, 40), (48, 64, 1, 1), 1),
                                                      ((1, 128, 40, 40), (64, 64, 1, 1), 2),
                                                      ((3, 40, 5, 6), (7, 40, 1, 1), 1),
                                                      ((1, 32, 40, 39), (40, 32, 3, 3), 1),
                                                      ((2, 6, 12, 12), (16, 6, 5, 5), 1)])
def test_the_weight_gradient_binding_writes_grad_w_without_reading_it(x_shape, w_shape, groups):
    """1x1 GEMMs write their sums into grad_w itself: a NaN-filled buffer gives the result a
    fresh one does (large and small images, groups)."""
    x, w = random(x_shape, np.float32, 0), random(w_shape, np.float32, 1)
    grad_out = random(fastconv.conv2d(x, w, groups=groups).shape, np.float32, 2)
    want = fastconv.conv2d_backward(grad_out, x, w, groups=groups, needs="weight")["weight"]
    grad_w = np.full(w.shape, np.nan, np.float32)
    fastconv._core.conv2d_grad_weight(x, grad_out, grad_w, 1, 1, 1, 1, 0, 0, 0, 0, groups, 0, 0.0, False)
    np.testing.assert_array_equal(grad_w, want)


def test_the_weight_gradient_binding_refuses_a_grad_w_overlapping_its_inputs():
    buffer = np.ones(1000, np.float32)
    x, grad_out = buffer[:200].reshape(1, 2, 10, 10), buffer[200:584].reshape(1, 6, 8, 8)
    for grad_w in (buffer[100:208].reshape(6, 2, 3, 3), buffer[500:608].reshape(6, 2, 3, 3)):
        with pytest.raises(ValueError, match="overlap"):
            fastconv._core.conv2d_grad_weight(x, grad_out, grad_w, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0.0, False)
