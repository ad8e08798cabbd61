"""fastconv.dask: conv2d, the pools and the blur pools on chunked Dask arrays equal the
in-memory fastconv results, for random chunkings (chunks smaller than the halo included),
strides, paddings, padding modes and dilations; lazily built; the same on a
dask.distributed LocalCluster of two worker processes; the large-image example at a small size.

Bitwise where the kernels are position-independent (the pools' values and indices, conv2d's
im2col path); elsewhere (conv2d's direct path, the blur's vector loops, which round some
outputs about one ulp differently depending on where they fall in the chunk) within
conftest.assert_close's float bound.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import assert_close, load_script

import fastconv

try:
    import dask
    import dask.array as da

    import fastconv.dask as fcd
except ImportError:  # only the import tests run: the others skip (backend fixture)
    dask = da = fcd = None

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "large_image.py")
MODES = ("zeros", "reflect", "replicate", "circular")
DTYPES = (np.float32, np.float64)


RUN_WITHOUT_DASK = ("test_import_fastconv_does_not_import_dask", "test_fastconv_dask_without_dask_names_the_extra")


@pytest.fixture(autouse=True)
def backend(request):
    """conftest runs every test once per microkernel set; this layer is the same Python for
    all of them (and the kernels are tested per backend elsewhere), so once, on the default.
    Without Dask only the import tests run."""
    if request.function.__name__ not in RUN_WITHOUT_DASK:
        pytest.importorskip("dask")
    yield fastconv.backend()


def compute(*arrays):
    return dask.compute(*arrays, scheduler="sync")


def random_chunks(rng, n, smallest=1):
    """A random split of n: sizes from `smallest` up to about n/2, so often several tiny ones."""
    sizes, left = [], n
    while left > 0:
        size = min(int(rng.integers(smallest, max(smallest + 1, n // 2 + 1))), left)
        sizes.append(size)
        left -= size
    return tuple(sizes)


def chunked(rng, x):
    """x as a Dask array chunked at random along every axis (C too)."""
    return da.from_array(x, chunks=tuple(random_chunks(rng, n) for n in x.shape))


def data(rng, shape, dtype):
    return rng.uniform(-1, 1, shape).astype(dtype)


def pick(rng, options):
    return options[int(rng.integers(len(options)))]


# --------------------------------------------------------------------------- conv2d


CONV_PADDINGS = (0, 2, (1, 3), ((0, 4), (3, 1)), "same", "valid", "full", ((7, 9), (10, 2)), ((12, 25), (14, 3)))


@pytest.mark.parametrize("seed", range(24))
def test_conv2d_random(seed):
    """Random images, chunkings, kernels, strides 1-3, dilations 1-2, groups, paddings and
    modes, both layouts, batched or not: im2col (even seeds) bitwise, auto within rounding."""
    rng = np.random.default_rng(seed)
    dtype = DTYPES[(seed // 2) % 2]
    nhwc, unbatched = seed % 3 == 0, seed % 5 == 0
    groups = pick(rng, (1, 1, 2))
    c, k = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
    h, w = (int(v) for v in rng.integers(9, 31, 2))
    kernel = tuple(int(v) for v in rng.integers(1, 5, 2))
    stride = tuple(int(v) for v in rng.integers(1, 4, 2))
    dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
    padding, mode = pick(rng, CONV_PADDINGS), pick(rng, MODES)
    algorithm = "im2col" if seed % 2 == 0 else "auto"
    activation = pick(rng, (None, "relu"))
    shape = (2, h, w, c) if nhwc else (2, c, h, w)
    x = data(rng, shape[1:] if unbatched else shape, dtype)
    weight, bias = data(rng, (k, c // groups) + kernel, dtype), data(rng, (k,), dtype)
    options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, padding_mode=mode,
                   activation=activation, algorithm=algorithm, layout="NHWC" if nhwc else "NCHW")
    expected = fastconv.conv2d(x, weight, bias, **options)
    lazy = fcd.conv2d(chunked(rng, x), weight, bias, **options)
    assert lazy.shape == expected.shape and lazy.dtype == expected.dtype
    (got,) = compute(lazy)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    if algorithm == "im2col":
        np.testing.assert_array_equal(got, expected)
    else:
        scale = fastconv.conv2d(np.abs(x), np.abs(weight), np.abs(bias), **dict(options, activation=None))
        assert_close(got, expected, magnitude=scale, terms=weight[0].size + 1)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", CONV_PADDINGS, ids=str)
def test_conv2d_every_padding_and_mode(padding, mode):
    """Every padding form (pads wider than the image too) and mode, with chunks of 1-4 rows and
    columns (smaller than the halo), stride (2, 3) and dilation (2, 1), at the true borders only."""
    rng = np.random.default_rng(7)
    x = data(rng, (2, 3, 11, 13), np.float64)
    weight = data(rng, (4, 3, 3, 4), np.float64)
    options = dict(stride=(2, 3), padding=padding, dilation=(2, 1), padding_mode=mode, algorithm="im2col")
    xd = da.from_array(x, chunks=(1, (2, 1), (3, 1, 4, 3), (2, 2, 1, 4, 4)))
    np.testing.assert_array_equal(compute(fcd.conv2d(xd, weight, **options))[0],
                                  fastconv.conv2d(x, weight, **options))


# --------------------------------------------------------------------------- pools


def pool_case(seed):
    rng = np.random.default_rng(100 + seed)
    dtype = DTYPES[seed % 2]
    nhwc, unbatched = seed % 4 == 1, seed % 5 == 2
    h, w = (int(v) for v in rng.integers(7, 30, 2))
    shape = (2, h, w, 3) if nhwc else (2, 3, h, w)
    kernel = tuple(int(v) for v in rng.integers(1, 5, 2))
    stride = pick(rng, (None, 1, 2, 3, (1, 3), (3, 2)))
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
    return rng, dtype, shape[1:] if unbatched else shape, kernel, stride, padding, bool(rng.integers(2)), \
        "NHWC" if nhwc else "NCHW"


@pytest.mark.parametrize("seed", range(16))
def test_max_pool2d_random(seed):
    """Values and global indices bitwise, with ties, NaN and -inf in the data, ceil mode,
    dilation and -inf padding at the true borders."""
    rng, dtype, shape, kernel, stride, padding, ceil_mode, layout = pool_case(seed)
    x = rng.integers(-2, 3, shape).astype(dtype) if seed % 3 == 0 else data(rng, shape, dtype)
    if seed % 3 == 1:
        x.flat[rng.integers(0, x.size, 5)] = np.nan
        x.flat[rng.integers(0, x.size, 5)] = -np.inf
    dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
    options = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode,
                   layout=layout)
    expected, expected_idx = fastconv.max_pool2d(x, return_indices=True, **options)
    values, indices = fcd.max_pool2d(chunked(rng, x), return_indices=True, **options)
    assert indices.dtype == np.int64 and values.shape == indices.shape == expected.shape
    got, got_idx = compute(values, indices)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got_idx, expected_idx)
    np.testing.assert_array_equal(compute(fcd.max_pool2d(chunked(rng, x), **options))[0], expected)


@pytest.mark.parametrize("seed", range(16))
def test_avg_sum_lp_pools_random(seed):
    """avg (both count_include_pad, divisor_override, ceil mode), sum and lp pools bitwise."""
    rng, dtype, shape, kernel, stride, padding, ceil_mode, layout = pool_case(seed)
    x = data(rng, shape, dtype)
    common = dict(kernel_size=kernel, stride=stride, ceil_mode=ceil_mode, layout=layout)
    cases = [("avg_pool2d", x, dict(common, padding=padding, count_include_pad=bool(seed % 2),
                                    divisor_override=pick(rng, (None, 3)))),
             ("sum_pool2d", x, dict(common, padding=padding)),
             ("lp_pool2d", np.abs(x), dict(common, norm_type=pick(rng, (1, 2, 3.5))))]
    for name, values, options in cases:
        got = compute(getattr(fcd, name)(chunked(rng, values), **options))[0]
        np.testing.assert_array_equal(got, getattr(fastconv, name)(values, **options), err_msg=name)


# --------------------------------------------------------------------------- blur pools


@pytest.mark.parametrize("filter_size", range(1, 8))
@pytest.mark.parametrize("mode", MODES)
def test_blur_pool2d_every_mode(mode, filter_size):
    rng = np.random.default_rng(filter_size * 10 + MODES.index(mode))
    nhwc = filter_size % 3 == 0
    h, w = (int(v) for v in rng.integers(5, 30, 2))
    x = data(rng, (2, h, w, 2) if nhwc else (2, 2, h, w), DTYPES[filter_size % 2])
    options = dict(filter_size=filter_size, stride=tuple(int(v) for v in rng.integers(1, 4, 2)), padding_mode=mode,
                   layout="NHWC" if nhwc else "NCHW")
    expected = fastconv.blur_pool2d(x, **options)
    got = compute(fcd.blur_pool2d(chunked(rng, x), **options))[0]
    assert_close(got, expected, magnitude=fastconv.blur_pool2d(np.abs(x), **options), terms=filter_size ** 2)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("mode", MODES)
def test_max_blur_pool2d_every_mode(mode, seed):
    rng = np.random.default_rng(200 + seed * 4 + MODES.index(mode))
    h, w = (int(v) for v in rng.integers(4, 30, 2))
    x = data(rng, (2, 3, h, w), DTYPES[seed % 2])
    kernel = int(rng.integers(1, 4))
    options = dict(kernel_size=kernel, stride=tuple(int(v) for v in rng.integers(1, 4, 2)),
                   filter_size=int(rng.integers(1, 8)), padding=int(rng.integers(0, kernel // 2 + 1)),
                   padding_mode=mode)
    expected = fastconv.max_blur_pool2d(x, **options)
    got = compute(fcd.max_blur_pool2d(chunked(rng, x), **options))[0]
    magnitude = fastconv.blur_pool2d(np.abs(fastconv.max_pool2d(x, kernel, 1, options["padding"])),
                                     options["filter_size"], options["stride"], mode)
    assert_close(got, expected, magnitude=magnitude, terms=options["filter_size"] ** 2)


def test_unbatched_input_and_small_image_in_one_chunk():
    rng = np.random.default_rng(3)
    x = data(rng, (2, 3, 2), np.float32)  # reflect/blur pads wider than the image
    for name, options in [("blur_pool2d", dict(filter_size=7, stride=1)),
                          ("max_blur_pool2d", dict(kernel_size=2, stride=1, filter_size=7, padding=1)),
                          ("max_pool2d", dict(kernel_size=2, stride=1, padding=1, ceil_mode=True))]:
        got = compute(getattr(fcd, name)(da.from_array(x, chunks=1), **options))[0]
        np.testing.assert_allclose(got, getattr(fastconv, name)(x, **options), rtol=1e-6, err_msg=name)


# --------------------------------------------------------------------------- graphs and metadata


def test_building_the_graph_computes_nothing():
    """Shapes, chunks and dtypes are known lazily; an input whose computation fails is not touched."""

    def fail():
        raise AssertionError("computed while building the graph")

    blocks = [[da.from_delayed(dask.delayed(fail)(), (1, 2, 40, 50), np.float32) for _ in range(2)] for _ in range(3)]
    x = da.block([[blocks[0][0], blocks[0][1]], [blocks[1][0], blocks[1][1]], [blocks[2][0], blocks[2][1]]])
    assert x.shape == (1, 2, 120, 100)
    weight = np.ones((4, 2, 5, 5), np.float32)
    y = fcd.conv2d(x, weight, stride=2, padding="same", padding_mode="circular")
    pooled, idx = fcd.max_pool2d(y, 3, 2, 1, ceil_mode=True, return_indices=True)
    blurred = fcd.max_blur_pool2d(pooled, 2, 2, padding_mode="reflect")
    assert y.shape == (1, 4, 60, 50) and y.dtype == np.float32 and y.chunks[1] == (4,)
    assert pooled.shape == idx.shape == (1, 4, 31, 26) and idx.dtype == np.int64
    assert blurred.shape == (1, 4, 15, 13) and blurred.dtype == np.float32
    for arr in (y, pooled, idx, blurred):
        assert tuple(map(sum, arr.chunks)) == arr.shape and type(arr._meta) is np.ndarray
    with pytest.raises(AssertionError, match="computed while building"):
        compute(blurred)


def test_output_chunks_follow_the_input_and_a_pool_after_a_conv_needs_no_halo():
    x = da.zeros((1, 1, 500, 300), dtype=np.float32, chunks=(1, 1, 128, 100))
    y = fcd.conv2d(x, np.ones((1, 1, 5, 5), np.float32), padding="same", padding_mode="reflect")
    assert y.chunks[2:] == ((128, 128, 128, 116), (100, 100, 100))
    z = fcd.max_pool2d(y, 2)
    assert z.chunks[2:] == ((64, 64, 64, 58), (50, 50, 50))
    layers = z.__dask_graph__().layers
    assert not any("halo" in name and name.startswith("fastconv-max_pool2d") for name in layers)
    assert len(layers[z.name]) == 12  # one task per output chunk


def test_weights_as_dask_arrays_and_the_threaded_scheduler():
    rng = np.random.default_rng(5)
    x = data(rng, (3, 4, 33, 29), np.float32)
    weight, bias = data(rng, (6, 2, 3, 3), np.float32), data(rng, (6,), np.float32)
    options = dict(stride=2, padding=1, groups=2, padding_mode="replicate", algorithm="im2col")
    y = fcd.conv2d(da.from_array(x, chunks=(2, 1, 7, 9)), da.from_array(weight, chunks=2), da.from_array(bias),
                   **options)
    np.testing.assert_array_equal(y.compute(scheduler="threads"), fastconv.conv2d(x, weight, bias, **options))


def test_bad_arguments_raise_when_building():
    x = da.zeros((1, 2, 16, 16), dtype=np.float32, chunks=8)
    with pytest.raises(TypeError, match="dtype"):
        fcd.conv2d(x, np.ones((1, 2, 3, 3), np.float64))
    with pytest.raises(TypeError, match="dtype"):
        fcd.max_pool2d(da.zeros((1, 2, 8, 8), dtype=np.int32, chunks=4), 2)
    with pytest.raises(ValueError, match="padding_mode"):
        fcd.conv2d(x, np.ones((1, 2, 3, 3), np.float32), padding_mode="mirror")
    with pytest.raises(ValueError, match="padding"):
        fcd.avg_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="filter_size"):
        fcd.blur_pool2d(x, 9)
    with pytest.raises(ValueError, match="groups"):
        fcd.conv2d(x, np.ones((3, 1, 3, 3), np.float32), groups=2)
    with pytest.raises(ValueError, match="must be"):
        fcd.max_pool2d(da.zeros((16, 16), dtype=np.float32), 2)


def test_docstring_examples_run():
    import doctest

    result = doctest.testmod(fcd, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# --------------------------------------------------------------------------- imports


def run_python(code):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_import_fastconv_does_not_import_dask():
    result = run_python("import sys, fastconv; print(sorted(m for m in sys.modules if m.split('.')[0] in "
                        "('dask', 'distributed', 'zarr')))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_fastconv_dask_without_dask_names_the_extra():
    """Dask hidden from the import system (or really missing): a clear ImportError naming the extra."""
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'dask':\n"
            "            raise ImportError('No module named ' + repr(name))\n"
            "sys.meta_path.insert(0, Block())\n"
            "import fastconv\n"
            "try:\n"
            "    import fastconv.dask\n"
            "except ImportError as exc:\n"
            "    print('ImportError:', exc)\n")
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert "ImportError:" in result.stdout and "fastconv[dask]" in result.stdout


# --------------------------------------------------------------------------- a real cluster


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 worker processes, 1 thread each (real scheduler, real serialisation)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                  memory_limit="2GiB") as local_cluster, \
            distributed.Client(local_cluster, set_as_default=False) as client:
        client.run(fastconv.set_num_threads, 1)
        yield local_cluster, client


@pytest.mark.distributed
def test_local_cluster_gives_the_same_answer(cluster):
    """The same graphs on two worker processes: bitwise what the local scheduler computes (each
    chunk is the same call), and the in-memory result (bitwise for im2col and the pools)."""
    _, client = cluster
    rng = np.random.default_rng(11)
    x = data(rng, (3, 4, 61, 47), np.float32)
    xd = da.from_array(x, chunks=(2, 3, 17, 13))
    weight, bias = data(rng, (5, 4, 5, 3), np.float32), data(rng, (5,), np.float32)
    conv_options = dict(stride=(2, 1), padding="same", dilation=(1, 2), padding_mode="reflect", algorithm="im2col")
    lazy = {
        "conv": fcd.conv2d(xd, weight, bias, **conv_options),
        "conv_auto": fcd.conv2d(xd, weight, padding=2, padding_mode="circular"),
        "max": fcd.max_pool2d(xd, 3, 2, 1, ceil_mode=True, return_indices=True),
        "avg": fcd.avg_pool2d(xd, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        "blur": fcd.blur_pool2d(xd, 5, 2, "circular"),
        "max_blur": fcd.max_blur_pool2d(xd, 3, 2, 4, 1, "replicate"),
    }
    on_cluster = client.gather(client.compute(lazy))
    local = dask.compute(lazy, scheduler="sync")[0]
    for name in lazy:
        pairs = zip(on_cluster[name], local[name]) if name == "max" else [(on_cluster[name], local[name])]
        for a, b in pairs:
            np.testing.assert_array_equal(a, b, err_msg=name)
    np.testing.assert_array_equal(on_cluster["conv"], fastconv.conv2d(x, weight, bias, **conv_options))
    values, indices = fastconv.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)
    np.testing.assert_array_equal(on_cluster["max"][0], values)
    np.testing.assert_array_equal(on_cluster["max"][1], indices)
    np.testing.assert_array_equal(on_cluster["avg"], fastconv.avg_pool2d(x, 3, 2, 1, True, False))
    assert_close(on_cluster["blur"], fastconv.blur_pool2d(x, 5, 2, "circular"),
                 magnitude=fastconv.blur_pool2d(np.abs(x), 5, 2, "circular"), terms=25)


@pytest.mark.distributed
def test_large_image_example_small(cluster, tmp_path):
    """The example end to end at 600 x 600 on the test cluster: it writes, filters, measures and
    checks its output tiles against in-memory fastconv (main() raises if they differ)."""
    pytest.importorskip("zarr")
    local_cluster, _ = cluster
    example = load_script("large_image", EXAMPLE)
    results = example.main(["--size", "600", "--chunk", "128", "--workdir", str(tmp_path / "work"),
                            "--scheduler", local_cluster.scheduler_address, "--check", "4"])
    assert results["output_shape"] == (300, 300) and results["workers"] == 2
    assert results["checked_tiles"] == 4 and results["max_relative_error"] <= 1e-5
    assert results["megapixels_per_second"] > 0 and all(v > 0 for v in results["worker_peak_rss"])
    assert not os.path.exists(tmp_path / "work" / "input.zarr")  # removed without --keep
