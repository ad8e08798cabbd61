"""Filter an image too large for one task: a 5x5 convolution then a 2x2 max pool, through Dask.

    image (size x size float32, 20000 x 20000 = 1.6 GB by default, in a Zarr store on disk)
      -> fastconv.dask.conv2d(5x5, padding="same", padding_mode="reflect")
      -> fastconv.dask.max_pool2d(2)
      -> result (size/2 x size/2 float32, Zarr on disk)

The image is generated tile by tile by the workers straight into the Zarr store (never whole
in any process's memory), then read, filtered and written back chunk by chunk: each task
holds one input chunk with its 2-pixel halo (slices of its neighbours), its convolution and
its pooled tile. A chunk stays in memory until its own output and its neighbours' halos are
done, so the workers hold a band of a few chunk rows at a time: memory grows with the
image's width, not with its area (measured on 2 workers, 2048 chunks: about 400 MiB per
worker at 20000 x 20000, 700-800 MiB at 30000 x 30000; smaller chunks lower it). The script prints
the wall time, the throughput (input megapixels/s and GB/s of float32 input), the peak
resident memory of the client and of every worker during the filtering, and checks a few
output tiles (the corners, where the reflect padding acts, and random ones) against
in-memory fastconv on the matching input window.

    pip install ".[dask,examples]"            # dask[array], distributed; zarr
    python examples/large_image.py                      # 20000 x 20000, LocalCluster of 2 worker processes
    python examples/large_image.py --size 2000          # a quick run
    python examples/large_image.py --workdir /data/tmp --keep --chunk 4096

On a multi-machine cluster the same code runs unchanged; only where the tasks go changes:

    # on the scheduler machine            # on every worker machine (fastconv installed, same version)
    dask scheduler                        dask worker tcp://SCHEDULER:8786 --nworkers 2 --nthreads 1
    # anywhere:
    python examples/large_image.py --scheduler tcp://SCHEDULER:8786 --workdir /shared/scratch

``--scheduler`` takes the scheduler's address instead of starting a LocalCluster. Every
worker reads and writes the Zarr stores itself, so ``--workdir`` must be a path all of them
see (a shared file system such as NFS), or an fsspec URL of object storage (e.g.
``s3://bucket/prefix``, with ``s3fs`` installed on every machine). Each worker's fastconv
is set to ``--kernel-threads`` OpenMP threads (default 1: one Dask thread per core is the
better split for many independent chunks).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time

import numpy as np

import fastconv

KERNEL = 5


def make_kernel():
    """A 5x5 difference of Gaussians (binomial 5x5 minus a 5x5 box): a band-pass filter."""
    row = np.array([1.0, 4.0, 6.0, 4.0, 1.0])
    return (np.outer(row, row) / 256.0 - np.full((KERNEL, KERNEL), 1.0 / 25.0)).astype(np.float32)[None, None]


def make_tile(block, block_info=None, seed=0):
    """The image's tile at the block's location: smooth stripes plus noise seeded by the tile's
    position (the same pixels whoever computes them)."""
    (r0, r1), (c0, c1) = block_info[None]["array-location"]
    rows = np.arange(r0, r1, dtype=np.float32)[:, None]
    cols = np.arange(c0, c1, dtype=np.float32)[None, :]
    rng = np.random.default_rng([seed, r0, c0])
    tile = np.sin(rows * np.float32(0.011)) * np.cos(cols * np.float32(0.007))
    tile += np.float32(0.25) * rng.standard_normal((r1 - r0, c1 - c0), dtype=np.float32)
    return tile.astype(np.float32, copy=False)


# --------------------------------------------------------------------------- memory


def peak_rss_bytes():
    """This process's peak resident set size since the last reset_peak_rss()."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def reset_peak_rss():
    """Start a new peak-RSS measurement (Linux: writing 5 to clear_refs resets VmHWM); False
    where that is not possible (the peak then covers the process's whole life)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def set_kernel_threads(n):
    fastconv.set_num_threads(n)
    return fastconv.get_num_threads()


# --------------------------------------------------------------------------- stores


def create_store(path, shape, chunks):
    """An empty uncompressed float32 Zarr array at ``path`` (a directory or an fsspec URL)."""
    import zarr

    if hasattr(zarr, "create_array"):  # zarr 3
        return zarr.create_array(store=path, shape=shape, chunks=chunks, dtype="float32", compressors=None,
                                 overwrite=True)
    return zarr.open(path, mode="w", shape=shape, chunks=chunks, dtype="float32", compressor=None)  # zarr 2


def open_store(path):
    import zarr

    return zarr.open_array(path, mode="r")


# --------------------------------------------------------------------------- the run


def filter_image(x, weight, mode):
    """The lazy pipeline on a 2-D dask array: conv 5x5 ("same", ``mode``) then max pool 2x2."""
    import fastconv.dask as fcd

    y = fcd.conv2d(x[None, None], weight, padding="same", padding_mode=mode)
    return fcd.max_pool2d(y, 2)[0, 0]


def reference_tile(image, weight, mode, oy, ox, tile):
    """In-memory fastconv of the input window under output tile (oy, ox): the window plus the
    kernel's halo, its rows and columns past the image's border filled as ``mode`` pads
    (np.pad's index rules, which fastconv follows), then an unpadded convolution."""
    half = KERNEL // 2
    np_mode = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    axes = []
    for start, size in ((oy, image.shape[0]), (ox, image.shape[1])):
        extra = {"constant_values": -1} if np_mode == "constant" else {}  # -1: a zero
        index = np.pad(np.arange(size), half, mode=np_mode, **extra)
        axes.append(index[2 * start:2 * (start + tile) + 2 * half])
    rows, cols = axes
    window = np.asarray(image.oindex[np.maximum(rows, 0), np.maximum(cols, 0)], dtype=np.float32)
    window[rows < 0, :] = 0
    window[:, cols < 0] = 0
    conv = fastconv.conv2d(window[None, None], weight)
    scale = fastconv.conv2d(np.abs(window)[None, None], np.abs(weight))
    return fastconv.max_pool2d(conv, 2)[0, 0], float(scale.max())


def check_tiles(image, result, weight, mode, count, tile, seed):
    """Largest error of ``count`` output tiles (the two extreme corners, then random ones)
    against reference_tile, relative to the largest sum of |x*w| of a window."""
    out_y, out_x = result.shape
    tile = min(tile, out_y, out_x)
    rng = np.random.default_rng(seed)
    spots = [(0, 0), (out_y - tile, out_x - tile)]
    spots += [(int(rng.integers(0, out_y - tile + 1)), int(rng.integers(0, out_x - tile + 1)))
              for _ in range(max(count - 2, 0))]
    worst = 0.0
    for oy, ox in spots[:max(count, 1)]:
        expected, scale = reference_tile(image, weight, mode, oy, ox, tile)
        got = np.asarray(result[oy:oy + tile, ox:ox + tile])
        worst = max(worst, float(np.abs(got - expected).max()) / max(scale, 1e-30))
    return worst, len(spots[:max(count, 1)])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=20000, help="image side in pixels (default 20000: 1.6 GB)")
    parser.add_argument("--chunk", type=int, default=2048, help="chunk side in pixels (default 2048)")
    parser.add_argument("--workdir", default=None,
                        help="directory (or fsspec URL) for the Zarr stores; default: a new temporary directory")
    parser.add_argument("--scheduler", default=None,
                        help="address of a running dask scheduler (tcp://host:8786); default: a LocalCluster")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default 2)")
    parser.add_argument("--threads-per-worker", type=int, default=1, help="LocalCluster threads per worker")
    parser.add_argument("--memory-limit", default="4GiB", help="LocalCluster memory limit per worker")
    parser.add_argument("--kernel-threads", type=int, default=1, help="fastconv OpenMP threads per worker")
    parser.add_argument("--padding-mode", default="reflect", choices=("zeros", "reflect", "replicate", "circular"))
    parser.add_argument("--check", type=int, default=4, help="output tiles checked against in-memory fastconv")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the Zarr stores")
    return parser.parse_args(argv)


def main(argv=None):
    """Run the example; returns the measurements as a dict (also printed)."""
    args = parse_args(argv)
    import dask.array as da
    from distributed import Client, LocalCluster

    import fastconv.dask  # noqa: F401  (fails early, naming the extra, without Dask)

    if args.size < 2 * KERNEL or args.chunk < 1:
        raise SystemExit("--size must be at least 10 and --chunk positive")
    remote = args.workdir is not None and "://" in args.workdir
    created = args.workdir is None
    workdir = tempfile.mkdtemp(prefix="fastconv-large-image-") if created else args.workdir
    if not remote:
        os.makedirs(workdir, exist_ok=True)
    cluster = None
    if args.scheduler:
        client = Client(args.scheduler)
        where = f"the cluster at {args.scheduler}"
    else:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=args.threads_per_worker, processes=True,
                               memory_limit=args.memory_limit, dashboard_address=None)
        client = Client(cluster)
        where = f"a LocalCluster of {args.workers} worker processes x {args.threads_per_worker} thread(s)"
    try:
        threads = client.run(set_kernel_threads, args.kernel_threads)
        n_workers = len(threads)
        size, chunk = args.size, args.chunk
        shape, chunks = (size, size), (min(chunk, size),) * 2
        input_path, output_path = f"{workdir}/input.zarr", f"{workdir}/filtered.zarr"
        gigabytes = size * size * 4 / 1e9
        print(f"fastconv.dask large-image example: {size} x {size} float32 ({gigabytes:.2f} GB), chunks {chunks}, "
              f"on {where} ({n_workers} workers, fastconv {args.kernel_threads} thread(s) each)")
        print(f"  stores in {workdir}")

        # 1. the image, tile by tile, straight into the Zarr store
        start = time.perf_counter()
        image_store = create_store(input_path, shape, chunks)
        tiles = da.map_blocks(make_tile, da.empty(shape, chunks=chunks, dtype=np.float32), dtype=np.float32,
                              seed=args.seed)
        da.store(tiles, image_store, lock=False)
        generate_seconds = time.perf_counter() - start
        print(f"  generated the input in {generate_seconds:.1f} s")

        # 2. conv 5x5 + max pool 2x2, Zarr to Zarr; the peak RSS is of this phase alone
        weight = make_kernel()
        image = open_store(input_path)
        client.run(reset_peak_rss)
        reset_peak_rss()
        start = time.perf_counter()
        pooled = filter_image(da.from_array(image, chunks=image.chunks), weight, args.padding_mode)
        out_chunks = tuple(c[0] for c in pooled.chunks)
        if any(len(set(c[:-1])) > 1 or c[-1] > c[0] for c in pooled.chunks):  # Zarr wants regular chunks
            pooled = pooled.rechunk(out_chunks)
        result_store = create_store(output_path, pooled.shape, out_chunks)
        da.store(pooled, result_store, lock=False)
        seconds = time.perf_counter() - start
        worker_peaks = client.run(peak_rss_bytes)
        client_peak = peak_rss_bytes()

        megapixels = size * size / 1e6
        results = {
            "size": size, "chunk": chunk, "workers": n_workers, "generate_seconds": generate_seconds,
            "filter_seconds": seconds, "megapixels_per_second": megapixels / seconds,
            "gigabytes_per_second": gigabytes / seconds, "client_peak_rss": client_peak,
            "worker_peak_rss": sorted(worker_peaks.values()), "output_shape": tuple(pooled.shape),
        }
        mib = 2 ** 20
        print(f"  conv2d 5x5 + max_pool2d 2x2 -> {pooled.shape[0]} x {pooled.shape[1]}: {seconds:.1f} s wall, "
              f"{megapixels / seconds:.1f} input megapixels/s, {gigabytes / seconds:.3f} GB/s")
        print(f"  peak RSS while filtering: client {client_peak / mib:.0f} MiB"
              f"{' (with the scheduler)' if cluster is not None else ''}, workers "
              + ", ".join(f"{v / mib:.0f} MiB" for v in results["worker_peak_rss"])
              + f" (the input is {gigabytes * 1e9 / mib:.0f} MiB; one chunk {chunks[0] * chunks[1] * 4 / mib:.0f} MiB)")

        # 3. a few output tiles against in-memory fastconv on the same input window
        worst, checked = check_tiles(image, open_store(output_path), weight, args.padding_mode, args.check,
                                     tile=min(256, chunk), seed=args.seed)
        results["checked_tiles"], results["max_relative_error"] = checked, worst
        print(f"  {checked} output tiles match in-memory fastconv (largest error {worst:.2e} of the window's "
              f"sum |x*w|)")
        if not worst <= 1e-5:
            raise AssertionError(f"output tiles differ from in-memory fastconv: relative error {worst:.3g}")
        return results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
        if not args.keep and not remote:
            for path in (f"{workdir}/input.zarr", f"{workdir}/filtered.zarr"):
                shutil.rmtree(path, ignore_errors=True)
            if created:
                shutil.rmtree(workdir, ignore_errors=True)
        elif args.keep:
            print(f"  kept {workdir}")


if __name__ == "__main__":
    main()
