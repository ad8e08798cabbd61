"""Backend selection and the build report."""

import pytest

import fastconv
from fastconv import _core


def test_show_config_names_backend_threads_openmp_compiler_flags_and_sanitizers(capsys):
    fastconv.show_config()
    text = capsys.readouterr().out
    sanitizers = f"sanitize:  {_core.sanitizers or 'none'}"
    for expected in (fastconv.backend(), "threads", "OpenMP", _core.compiler, "-O3", sanitizers):
        assert expected in text


def test_every_available_backend_can_be_selected_and_portable_always_exists():
    available = _core.available_backends().split(",")
    assert available[0] == "portable"
    before = fastconv.backend()
    try:
        for name in available:
            fastconv.set_backend(name)
            assert fastconv.backend() == name
    finally:
        fastconv.set_backend(before)


def test_unknown_backend_is_refused_and_nothing_changes():
    before = fastconv.backend()
    with pytest.raises(ValueError, match="name"):
        fastconv.set_backend("neon-on-x86")
    with pytest.raises(TypeError, match="name"):
        fastconv.set_backend(3)
    assert fastconv.backend() == before


def test_thread_counts_outside_a_c_int_are_refused_and_nothing_changes():
    before = fastconv.get_num_threads()
    for n in (0, -1, 2**31, 2**40):  # found in review: 2**31 .. 2**62 gave pybind11's TypeError
        with pytest.raises(ValueError, match="n must be between 1 and 2"):
            fastconv.set_num_threads(n)
    assert fastconv.get_num_threads() == before


def test_peak_probe_does_the_work_it_reports():
    checksum, flops = _core.fma_probe(1000)
    assert flops > 0 and checksum == checksum  # finite work, not NaN
