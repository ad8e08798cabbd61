"""Fuzz harness: every public function, driven with arbitrary inputs, returns a correct result
or raises TypeError, ValueError, MemoryError or OverflowError, and never crashes or hangs.

Each test draws whole calls (fuzz_calls): arrays of rank 0-5 whose dims are 0, 1, 2, small,
odd or huge (2**31 .. 2**62, claimed through zero strides: no memory), of float32, float64 and
wrong dtypes, C, Fortran, strided, negative-stride, permuted, broadcast, misaligned (data at
an odd byte offset) or read-only (fuzz_arrays), or lists, scalars, None and strings instead;
sensible, edge, huge and wrongly typed parameters (fuzz_params); out= arrays right and wrong
(fuzz_out); 1-3 threads. fuzz_oracle judges each call: the exception type, the result's
dtype, inputs unchanged, out=, a repeated call, and the NumPy reference when it is cheap
(fuzz_compare). Every test runs once per backend (conftest's autouse fixture). Each call runs
under a 1 GiB address-space cap, so an input claiming terabytes fails with MemoryError, and
a 60 s watchdog that prints the call and ends the process if it hangs (fuzz_limits).

Hypothesis rather than atheris/libFuzzer: it runs inside pytest, shrinks a failing input to a
minimal one, and needs no instrumented build. derandomize is off: every run explores new
inputs. The example database is the default (.hypothesis/, git-ignored): a failure found
once is replayed first by every later run on that machine until fixed (not a crash or a
hang: they end the process first); CI starts from a clean checkout, so there it explores.

CI (part of plain ``pytest``; a few minutes on 2 idle cores):

    python -m pytest tests/test_fuzz.py

A falsifying example prints as ``name(ArraySpec(...), ..., kw=...)  [out=..., threads=...]``:
``fuzz_arrays.build(ArraySpec(...)).value`` rebuilds each array (with tests/ on sys.path).
FASTCONV_FUZZ_EXAMPLES sets the inputs per test (default 300; 32 functions x 3 backends: about
29,000 inputs).
FASTCONV_FUZZ_LAST_CALL=path writes each call to ``path`` before it runs: a crash (which ends
the process before Hypothesis reports anything) leaves its input there. The inputs tried
are counted and printed in the "fuzz inputs" section of pytest's summary.

The long local run, >= 1,000,000 inputs: 96 tests x 11,000 in one process,

    FASTCONV_FUZZ_EXAMPLES=11000 python -X faulthandler -m pytest tests/test_fuzz.py \\
        -p no:cacheprovider --hypothesis-show-statistics

or, while some input still crashes or hangs (each ends its process, and a test that fails
stops exploring), each test in its own process, two at a time (tools/fuzz_long_run.py):

    python tools/fuzz_long_run.py --examples 11000 --target-inputs 1000000 --jobs 2 --out /tmp/fuzz_long
"""

import contextlib
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastconv
import fuzz_report
from fuzz_arrays import ODD_DTYPES
from fuzz_calls import CALLS, calls
from fuzz_limits import WATCHDOG
from fuzz_oracle import COUNTS, run

EXAMPLES = int(os.environ.get("FASTCONV_FUZZ_EXAMPLES", "300"))
# The backend fixture is function scoped on purpose (one backend for all of a test's inputs);
# a run of slow inputs (huge windows) is itself what is being tested.
HEALTH_CHECKS_OFF = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much,
                     HealthCheck.data_too_large]
CONFIG_FUNCTIONS = {"backend", "set_backend", "get_num_threads", "set_num_threads", "show_config"}


@pytest.fixture(scope="module", autouse=True)
def fuzz_summary_and_watchdog(request):
    fuzz_report.register(request.config, COUNTS)
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        stderr = os.dup(2)  # the terminal, not pytest's capture file: a hang must be reported there
    WATCHDOG.report_to(stderr)
    yield
    WATCHDOG.stop()
    os.close(stderr)


def test_every_public_function_is_fuzzed():
    assert set(CALLS) == set(fastconv.__all__) - CONFIG_FUNCTIONS


@pytest.mark.parametrize("name", sorted(CALLS))
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=HEALTH_CHECKS_OFF)
@given(data=st.data())
def test_fuzz(name, data):
    run(data.draw(calls(name), label="call"))


@settings(max_examples=max(EXAMPLES // 10, 20), deadline=None, suppress_health_check=HEALTH_CHECKS_OFF)
@given(data=st.data())
def test_fuzz_float_dtype_with_metadata(data):
    """float32/float64 carrying dtype metadata compare equal to float32/float64: accepted like
    them. Apart from the main tests so that this one finding does not stop their search."""
    name = data.draw(st.sampled_from(sorted(CALLS)), label="name")
    run(data.draw(calls(name, ODD_DTYPES), label="call"))
