"""Which microkernel set runs, and how the extension was built."""

from __future__ import annotations

from . import _core


def backend():
    """Name of the microkernel set in use, e.g. "portable"."""
    return _core.backend()


def set_backend(name):
    """Use microkernel set ``name`` ("portable" or an ISA such as "avx2") from now on.

    The environment variable FASTCONV_BACKEND chooses it at import time.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if not _core.set_backend(name):
        raise ValueError(f"name must be one of {_core.available_backends()!r} on this CPU, got {name!r}")


def show_config():
    """Print the backend, the available backends and the thread count."""
    print(f"fastconv backend: {_core.backend()} (available: {_core.available_backends()})")
    print(f"OpenMP: {'yes' if _core.openmp else 'no'}, max threads: {_core.max_threads()}")
