"""The benchmark report's progress bar and chart (on made-up rows: no timing here)."""

import importlib.util
import json
import pathlib

import numpy as np
import pytest
from conftest import load_script

import fastconv

REPORT = pathlib.Path(__file__).resolve().parent.parent / "benches" / "report.py"


@pytest.fixture(scope="module")
def report():
    return load_script("fastconv_report", REPORT)


def test_progress_bar_counts_and_fills(report, capsys):
    report.progress(3, 12, "S1_resnet3x3 (1t)", width=12)
    err = capsys.readouterr().err
    assert "[###---------] 3/12 S1_resnet3x3 (1t)" in err


def test_chart_is_a_png(report, tmp_path):
    pytest.importorskip("matplotlib")
    rows = [{"name": "S1_resnet3x3", "threads": 1, "ratios": {"torch NCHW": 0.9, "torch channels_last": 0.7}},
            {"name": "P1_max2x2s2", "threads": 2, "ratios": {"torch NCHW": 20.5}}]
    path = tmp_path / "chart.png"
    report.write_chart(rows, ["torch NCHW", "torch channels_last"], path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ratios_compare_layout_with_layout(report):
    times = {"fastconv": 2.0, "fastconv NHWC": 1.0, "reference": 40.0, "torch NCHW": 3.0,
             "torch channels_last": 1.5}
    assert report.layout_ratios(times) == {"reference": 20.0, "torch NCHW": 1.5, "torch channels_last": 1.5,
                                           "best": 1.5}
    assert report.layout_ratios({"fastconv": 2.0, "fastconv NHWC": 1.0, "reference": 4.0}) == {"reference": 2.0}


def test_winograd_table_compares_layout_with_layout(report, capsys):
    times = {"fastconv": 1.6e-3, "fastconv NHWC": 1.4e-3, "torch NCHW": 1.5e-3, "torch channels_last": 1.2e-3}
    report.print_winograd_table([("S1_resnet3x3", 1, {"winograd": 0.75e-3, "winograd NHWC": 0.6e-3}, times)])
    row = capsys.readouterr().out.strip().splitlines()[-1]
    assert row == "| S1_resnet3x3 | 1 | 0.750 | 0.600 | 2.13x | 2.00x | 2.00x |"


def test_scipy_table_divides_scipy_by_fastconv(report, capsys):
    report.print_scipy_table([("S8_image5x5", 1, 1.25e-3, 15.0e-3)])
    row = capsys.readouterr().out.strip().splitlines()[-1]
    assert row == "| S8_image5x5 | 1 | 1.250 | 15.000 | 12.0x |"


def test_scipy_times_the_same_image_filter(report):
    pytest.importorskip("scipy.ndimage")
    calls, _, _ = report.conv_calls(report.SHAPES["conv2d"]["S8_image5x5"])
    # The same filter as fastconv's S8 call: zero padding, same-size output.
    np.testing.assert_allclose(calls["scipy"](), calls["fastconv"]()[0, 0], rtol=1e-4, atol=1e-4)
    assert "scipy" not in report.conv_calls(report.SHAPES["conv2d"]["S1_resnet3x3"])[0]


def test_interleaved_medians_take_turns(report):
    """Every function gets its calls, and they alternate: each is called in the first and in
    the last slices of the run, not all of one then all of the other."""
    log = []
    calls = {name: (lambda name=name: log.append(name)) for name in ("a", "b", "c")}
    times = report.interleaved_medians(calls, seconds=0.0, slice_seconds=0.0, min_reps=40)
    assert set(times) == {"a", "b", "c"} and all(t >= 0 for t in times.values())
    assert [log.count(name) for name in "abc"] == [41, 41, 41]  # a warm-up call each, then 40
    assert set(log[3:9]) == set(log[-6:]) == {"a", "b", "c"}


def test_matrix_product_table_divides_fastconv_by_torch_mm(report, capsys):
    report.print_matrix_product_table([("S3_pointwise", 1, 0.72, 0.80)])
    row = capsys.readouterr().out.strip().splitlines()[-1]
    assert row == "| S3_pointwise | 1 | 72% | 80% | 0.90 |"


@pytest.mark.parametrize("name", ["S1_resnet3x3", "S2_stem7x7s2", "S3_pointwise", "S5b_lenet2", "S6_3x3s2",
                                  "S7_batch3x3"])
def test_matrix_products_do_the_convolutions_multiply_adds(report, name):
    """The torch.mm calls the report times multiply the convolution's own product, in both
    orientations: (K x C*kh*kw) times (C*kh*kw x N*OH*OW), as many multiply-adds as the
    convolution's."""
    pytest.importorskip("torch")
    s = report.SHAPES["conv2d"][name]
    calls, gflop, _ = report.conv_calls(s)
    out = calls["fastconv"]()
    pixels, taps = s["N"] * out.shape[2] * out.shape[3], s["C"] * s["kh"] * s["kw"]
    expected = {"torch.mm filters x pixels": ((s["K"], taps), (taps, pixels)),
                "torch.mm pixels x filters": ((pixels, taps), (taps, s["K"]))}
    for key, shapes in expected.items():
        a, b = calls[key].__defaults__  # the operands the timed call multiplies
        assert (tuple(a.shape), tuple(b.shape)) == shapes
    assert 2 * s["K"] * taps * pixels == pytest.approx(gflop * 1e9)


def test_matrix_products_only_for_one_group_and_several_filters(report):
    pytest.importorskip("torch")

    def products(name):
        return [k for k in report.conv_calls(report.SHAPES["conv2d"][name])[0] if k.startswith("torch.mm")]

    assert len(products("S1_resnet3x3")) == 2
    assert products("S4_depthwise") == [] and products("S8_image5x5") == []


@pytest.mark.parametrize("kind,name", [("conv2d", "S1_resnet3x3"), ("conv2d", "S4_depthwise"),
                                       ("pool2d", "P1_max2x2s2"), ("pool2d", "P4_globalavg")])
def test_each_layout_times_both_libraries_on_the_same_buffer(report, kind, name, monkeypatch):
    """torch NCHW reads fastconv's NCHW input and torch channels_last fastconv's NHWC input,
    the same memory (so the same alignment), as zero-copy views holding the same values."""
    torch = pytest.importorskip("torch")
    make = report.conv_calls if kind == "conv2d" else report.pool_calls
    calls = make(report.SHAPES[kind][name])[0]
    x, x_nhwc = calls["fastconv"].__defaults__[0], calls["fastconv NHWC"].__defaults__[0]
    assert x_nhwc.ctypes.data != x.ctypes.data
    xt, xcl = calls["torch NCHW"].__defaults__[0], calls["torch channels_last"].__defaults__[0]
    assert xt.data_ptr() == x.ctypes.data and xcl.data_ptr() == x_nhwc.ctypes.data
    assert xcl.is_contiguous(memory_format=torch.channels_last) and not xcl.is_contiguous()
    np.testing.assert_array_equal(xcl.numpy(), x)
    read = []  # the input each torch call really passes to PyTorch

    def recording(fn):
        return lambda v, *args, **kwargs: read.append(v.data_ptr()) or fn(v, *args, **kwargs)

    for op in ("conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"):
        monkeypatch.setattr(report.F, op, recording(getattr(report.F, op)))
    calls["torch NCHW"]()
    calls["torch channels_last"]()
    assert read == [x.ctypes.data, x_nhwc.ctypes.data]


def test_backward_report_times_every_part_against_torch(capsys):
    """One tiny shape per kind, a few milliseconds each: the table's rows and ratios."""
    module = load_script("fastconv_backward_report", REPORT.parent / "backward_report.py")
    rows = module.main(["--threads", "1", "--repeat-seconds", "0.002", "--shapes", "S5b_lenet2", "P3_avg2x2s2"])
    assert [(r["name"], r["part"]) for r in rows] == [("S5b_lenet2", "all"), ("S5b_lenet2", "input"),
                                                      ("S5b_lenet2", "weight"), ("P3_avg2x2s2", "input")]
    out = capsys.readouterr().out
    assert "| S5b_lenet2 | 1 | weight |" in out and "GFLOP/s" in out and "GB/s" in out
    have_torch = importlib.util.find_spec("torch") is not None
    assert all((r["ratio"] is not None and r["ratio"] > 0) == have_torch for r in rows)


def test_backward_report_runs_the_table_again_and_takes_the_median_ratio(capsys):
    """--runs 3: each entry timed three times over; its ratio the median of the three, shown
    with their range."""
    module = load_script("fastconv_backward_report", REPORT.parent / "backward_report.py")
    rows = module.main(["--threads", "1", "--repeat-seconds", "0.002", "--runs", "3", "--shapes", "P3_avg2x2s2"])
    assert [(r["name"], r["part"]) for r in rows] == [("P3_avg2x2s2", "input")]
    (row,) = rows
    out = capsys.readouterr().out
    if importlib.util.find_spec("torch") is None:
        assert row["ratios"] == [] and row["ratio"] is None
        return
    assert len(row["ratios"]) == 3 and row["ratio"] == sorted(row["ratios"])[1]
    assert f"{row['ratio']:.2f}x ({min(row['ratios']):.2f}–{max(row['ratios']):.2f})" in out


def test_blur_report_times_every_op_against_torch_and_the_reference(capsys):
    """One shape, a few milliseconds per op: four rows, ratios against torch's composition
    (when installed) and the reference (forward passes)."""
    module = load_script("fastconv_blur_report", REPORT.parent / "blur_report.py")
    rows = module.main(["--threads", "1", "--repeat-seconds", "0.002", "--shapes", "P1_max2x2s2"])
    assert [r["op"] for r in rows] == ["max_blur_pool2d", "blur_pool2d", "max_blur_pool2d_backward",
                                       "blur_pool2d_backward"]
    out = capsys.readouterr().out
    assert "| P1_max2x2s2 | 1 | max_blur_pool2d |" in out and "GB/s" in out
    have_torch = importlib.util.find_spec("torch") is not None
    assert all((r["ratio"] is not None and r["ratio"] > 0) == have_torch for r in rows)
    assert [r["reference_ratio"] is not None and r["reference_ratio"] > 0 for r in rows] == [True, True, False, False]


def test_compare_reads_two_json_reports(report, tmp_path, capsys):
    """--compare OLD NEW: fastconv's time per row side by side, a row in one file only dashed."""
    def write(name, rows):
        path = tmp_path / name
        path.write_text(json.dumps(report.report_json(rows, [1, 2], 0.5)))
        return str(path)

    old = write("old.json", [{"name": "S1_resnet3x3", "threads": 1, "fastconv_ms": 2.0, "ratios": {}},
                             {"name": "P1_max2x2s2", "threads": 2, "fastconv_ms": 0.5, "ratios": {}}])
    new = write("new.json", [{"name": "S1_resnet3x3", "threads": 1, "fastconv_ms": 1.5, "ratios": {}},
                             {"name": "S8_image5x5", "threads": 1, "fastconv_ms": 0.7, "ratios": {}}])
    rows = report.main(["--compare", old, new])
    out = capsys.readouterr().out
    assert "| S1_resnet3x3 | 1 | 2.000 | 1.500 | 0.75 |" in out
    assert "| P1_max2x2s2 | 2 | 0.500 | — | — |" in out and "| S8_image5x5 | 1 | — | 0.700 | — |" in out
    assert [r["name"] for r in rows] == ["S1_resnet3x3", "S8_image5x5"]
    assert json.loads(pathlib.Path(new).read_text())["backend"] == fastconv.backend()
