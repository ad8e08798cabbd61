"""The memoised argument handling never lets a bad value ride on a cached good one."""

import numpy as np
import pytest

import fastconv

X = np.ones((1, 2, 8, 8), np.float32)
W = np.ones((3, 2, 3, 3), np.float32)


@pytest.mark.parametrize("name, good, bad", [
    ("stride", 1, True), ("stride", 2, 2.0), ("padding", 1, True), ("padding", 1, 1.0), ("dilation", 1, True),
    ("groups", 1, True), ("groups", 1, 1.0)])
def test_conv2d_rejects_a_bad_value_after_the_good_one_was_cached(name, good, bad):
    fastconv.conv2d(X, W, **{name: good})
    with pytest.raises(TypeError, match=name):
        fastconv.conv2d(X, W, **{name: bad})


@pytest.mark.parametrize("name, good, bad", [
    ("kernel_size", 2, True), ("kernel_size", 2, 2.0), ("stride", 2, 2.0), ("padding", 1, True),
    ("dilation", 1, True), ("ceil_mode", False, 0)])
def test_max_pool2d_rejects_a_bad_value_after_the_good_one_was_cached(name, good, bad):
    kwargs = {"kernel_size": 2}
    fastconv.max_pool2d(X, **{**kwargs, name: good})
    with pytest.raises(TypeError, match=name):
        fastconv.max_pool2d(X, **{**kwargs, name: bad})


def test_tuples_and_lists_give_the_same_result_as_ints():
    want = fastconv.conv2d(X, W, stride=2, padding=1)
    assert np.array_equal(fastconv.conv2d(X, W, stride=(2, 2), padding=[1, 1]), want)
    assert np.array_equal(fastconv.conv2d(X, W, stride=np.int64(2), padding=(1, 1)), want)
