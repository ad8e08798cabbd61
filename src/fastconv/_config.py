"""Which microkernel set runs, and how the extension was built."""

from __future__ import annotations

from . import _core


def backend():
    """Name of the microkernel set in use, e.g. "portable".

    Returns
    -------
    str
        "portable" or the name of an ISA such as "avx2" (see :func:`set_backend`).

    Examples
    --------
    >>> import fastconv
    >>> fastconv.backend()  # doctest: +SKIP
    'avx2'
    >>> isinstance(fastconv.backend(), str)
    True
    """
    return _core.backend()


def set_backend(name):
    """Use microkernel set ``name`` ("portable" or an ISA such as "avx2") from now on.

    The environment variable FASTCONV_BACKEND chooses it at import time.

    Parameters
    ----------
    name : str
        "portable" (always available) or an ISA this CPU supports, as listed by
        :func:`show_config`.

    Raises
    ------
    TypeError
        If name is not a str.
    ValueError
        If name is not a backend this CPU supports (the backend in use is kept).

    Examples
    --------
    >>> import fastconv
    >>> previous = fastconv.backend()
    >>> fastconv.set_backend("portable")
    >>> fastconv.backend()
    'portable'
    >>> fastconv.set_backend(previous)
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if not _core.set_backend(name):
        raise ValueError(f"name must be one of {_core.available_backends()!r} on this CPU, got {name!r}")


def get_num_threads():
    """Threads fastconv's kernels use in this thread (set_num_threads, capped by OpenMP's limit).

    Returns
    -------
    int
        At least 1; always 1 in a build without OpenMP.

    Examples
    --------
    >>> import fastconv
    >>> fastconv.get_num_threads() >= 1
    True
    """
    return _core.get_num_threads()


def set_num_threads(n):
    """Use at most ``n`` threads (n >= 1); OMP_NUM_THREADS and threadpoolctl limits still apply.

    Parameters
    ----------
    n : int
        The largest number of threads, at least 1.

    Raises
    ------
    TypeError
        If n is not an int (a bool is refused).
    ValueError
        If n is less than 1 or more than 2**31 - 1 (the extension's C int).
    OverflowError
        If n is 2**62 or more in magnitude.

    Examples
    --------
    >>> import fastconv
    >>> previous = fastconv.get_num_threads()
    >>> fastconv.set_num_threads(1)
    >>> fastconv.get_num_threads()
    1
    >>> fastconv.set_num_threads(previous)
    """
    from . import _args

    n = _args.to_int(n, "n")
    if not 1 <= n < 2**31:
        raise ValueError(f"n must be between 1 and 2**31 - 1, got {n}")
    _core.set_num_threads(n)


def _openmp_runtime():
    """Path of the OpenMP runtime library this process loaded for fastconv, if any."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                if "libgomp" in line or "libomp" in line or "libiomp" in line:
                    return line.split()[-1]
    except OSError:
        pass
    return "unknown"


def show_config():
    """Print the backend in use, the CPU's backends, threads, OpenMP runtime, compiler, flags and sanitizers.

    Examples
    --------
    The values depend on the machine and the build:

    >>> import fastconv
    >>> fastconv.show_config()  # doctest: +ELLIPSIS
    fastconv ...
      backend:   ... (this CPU supports: ...portable...)
      threads:   ...
      OpenMP:    ...
      compiler:  ...
      flags:     ...
      sanitize:  ...
    """
    print(f"fastconv {__import__('fastconv').__version__}")
    print(f"  backend:   {_core.backend()} (this CPU supports: {_core.available_backends()})")
    print(f"  threads:   {_core.get_num_threads()}")
    openmp = f"OpenMP {_core.openmp}, {_openmp_runtime()}" if _core.openmp else "none (single-threaded build)"
    print(f"  OpenMP:    {openmp}")
    print(f"  compiler:  {_core.compiler}")
    print(f"  flags:     {_core.build_flags}")
    print(f"  sanitize:  {_core.sanitizers or 'none'}")
