"""Limits around each fuzzed call: an address-space cap, so that an input claiming terabytes
fails fast with MemoryError instead of taking the machine's memory; a watchdog that ends the
process (printing the call and every thread's traceback) if a call hangs, as a C++ kernel
cannot be interrupted; and, on request, the call written to a file before it runs, so that
a crash leaves its input."""

from __future__ import annotations

import contextlib
import faulthandler
import os
import sys
import threading
import time

try:
    import resource
except ImportError:  # not on Windows: there the calls run without a memory cap
    resource = None

HEADROOM_BYTES = 2**30  # address space a call may add to what the process already maps
WATCHDOG_SECONDS = 60  # no fuzzed call needs more than a few seconds; far longer is a hang


_mapped = [None, -1.0]  # the process's virtual size, and when it was read


def _mapped_bytes():
    """The process's virtual size (Linux; None elsewhere), read at most once a second."""
    now = time.monotonic()
    if now - _mapped[1] > 1.0:
        try:
            with open("/proc/self/statm") as statm:
                _mapped[0] = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, AttributeError):
            _mapped[0] = None
        _mapped[1] = now
    return _mapped[0]


@contextlib.contextmanager
def memory_cap():
    mapped = _mapped_bytes() if resource is not None else None
    if mapped is None:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = mapped + HEADROOM_BYTES
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft != resource.RLIM_INFINITY:
        cap = min(cap, soft)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


class Watchdog:
    """Ends the process when a call has run for WATCHDOG_SECONDS (a hang): first a Python
    thread prints the call (the kernels release the GIL), then faulthandler's C-level timer
    dumps every thread's traceback and exits. Re-arming that timer costs ~2 ms, so it is
    re-armed at most once every REARM_SECONDS."""

    REARM_SECONDS = 1.0
    WARN_BEFORE_SECONDS = 5.0

    def __init__(self, seconds=WATCHDOG_SECONDS):
        self.seconds = seconds
        self.armed_at = None
        self.file = sys.__stderr__.fileno() if sys.__stderr__ else 2  # pytest captures fd 2: see report_to()
        self.call = None  # (start time, what) of the call running now
        self.thread = None

    def report_to(self, fd):
        """Write what hung to file descriptor ``fd`` (a duplicate of the real stderr)."""
        self.file = fd

    def begin(self, what):
        """A call starts; ``what`` (its description) is printed if it hangs."""
        now = time.monotonic()
        if self.armed_at is None or now - self.armed_at > self.REARM_SECONDS:
            faulthandler.dump_traceback_later(self.seconds, exit=True, file=self.file)
            self.armed_at = now
        if self.thread is None:
            self.thread = threading.Thread(target=self._warn, name="fuzz-watchdog", daemon=True)
            self.thread.start()
        self.call = (now, what)

    def end(self):
        self.call = None

    def stop(self):
        faulthandler.cancel_dump_traceback_later()
        self.armed_at = self.call = None

    def _warn(self):
        warned = None
        while True:
            time.sleep(1.0)
            call = self.call
            if call is not None and call is not warned and \
                    time.monotonic() - call[0] > self.seconds - self.WARN_BEFORE_SECONDS:
                os.write(self.file, f"\nfuzz watchdog: this call has not returned after "
                                    f"{self.seconds - self.WARN_BEFORE_SECONDS:.0f} s:\n{call[1]!r}\n".encode())
                warned = call


WATCHDOG = Watchdog()

LAST_CALL_ENV = "FASTCONV_FUZZ_LAST_CALL"


class LastCall:
    """With FASTCONV_FUZZ_LAST_CALL=path, each call is written to ``path`` before it runs, so a
    crash (which ends the process before Hypothesis can report anything) leaves its input."""

    def __init__(self):
        self.fd = None
        self.what = None

    def record(self, what):
        if what is self.what:
            return
        self.what = what
        if self.fd is None:
            path = os.environ.get(LAST_CALL_ENV)
            if not path:
                return
            self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        text = f"{what!r}\n".encode()
        os.pwrite(self.fd, text, 0)
        os.ftruncate(self.fd, len(text))


LAST_CALL = LastCall()


@contextlib.contextmanager
def bounded(what):
    """Run the block (the call ``what``) under the memory cap and the watchdog."""
    LAST_CALL.record(what)
    WATCHDOG.begin(what)
    try:
        with memory_cap():
            yield
    finally:
        WATCHDOG.end()
