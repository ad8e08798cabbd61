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


# Repeated plain calls skip the argument handling through a plan cache (_common.PlanCache);
# these check that a cached plan is only ever used for a call that the full path would run
# the same way.

def test_a_plain_conv2d_call_is_cached_and_the_cached_call_agrees_with_the_full_path():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 7)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    first = fastconv.conv2d(x, w, stride=2, padding="same")
    key = (x.shape, x.dtype, w.shape, w.dtype, 2, "same", 1, 1, "zeros", None, "auto", "NCHW")
    assert key in fastconv._conv._conv2d_plans
    second = fastconv.conv2d(x, w, stride=2, padding="same")
    assert second is not first
    full = fastconv.conv2d(x, w, stride=(2, 2), padding="same")  # a tuple: never cached
    assert np.array_equal(second, full) and np.array_equal(first, full)
    np.testing.assert_allclose(second, fastconv.reference.conv2d(x, w, stride=2, padding="same"), rtol=1e-5,
                               atol=1e-5)


def test_a_cached_conv2d_plan_is_not_used_for_other_inputs():
    x = np.ones((1, 2, 8, 8), np.float32)
    w = np.ones((3, 2, 3, 3), np.float32)
    fastconv.conv2d(x, w)
    fastconv.conv2d(x, w)
    with pytest.raises(TypeError, match="weight"):
        fastconv.conv2d(x, w.astype(np.float64))
    with pytest.raises(TypeError, match="x"):
        fastconv.conv2d(x.astype(np.int32), w)
    with pytest.raises(TypeError, match="x"):
        fastconv.conv2d(x.astype(">f4"), w)
    strided = np.ones((1, 2, 8, 16), np.float32)[..., ::2]  # same shape and dtype, not contiguous
    strided[..., 0] = 2.0
    np.testing.assert_array_equal(fastconv.conv2d(strided, w), fastconv.conv2d(np.ascontiguousarray(strided), w))
    bias = np.arange(3, dtype=np.float32)
    np.testing.assert_array_equal(fastconv.conv2d(x, w, bias), fastconv.conv2d(x, w) + bias[:, None, None])
    out = np.empty((1, 3, 6, 6), np.float32)
    assert fastconv.conv2d(x, w, out=out) is out


def test_a_plain_max_pool2d_call_is_cached_and_other_calls_are_not_confused_with_it():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    first = fastconv.max_pool2d(x, 3, 2, 1)
    assert (x.shape, x.dtype, 3, 2, 1, 1, False, "NCHW") in fastconv._pool._max_pool2d_plans
    np.testing.assert_array_equal(fastconv.max_pool2d(x, 3, 2, 1), first)
    np.testing.assert_array_equal(first, fastconv.reference.max_pool2d(x, 3, 2, 1))
    values, indices = fastconv.max_pool2d(x, 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(values, first)
    assert indices.dtype == np.int64
    with pytest.raises(TypeError, match="return_indices"):
        fastconv.max_pool2d(x, 3, 2, 1, return_indices=1)
    with pytest.raises(TypeError, match="x"):
        fastconv.max_pool2d(x.astype(np.float16), 3, 2, 1)
    np.testing.assert_array_equal(fastconv.max_pool2d(x[:, :, ::-1], 3, 2, 1),
                                  fastconv.reference.max_pool2d(x[:, :, ::-1], 3, 2, 1))


def test_the_plan_cache_is_bounded():
    cache = fastconv._common.PlanCache()
    for i in range(cache.SIZE + 5):
        cache.remember(i, i)
    assert len(cache) <= cache.SIZE
    cache.remember(None, 1)
    assert None not in cache
