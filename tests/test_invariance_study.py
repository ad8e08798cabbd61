"""examples/invariance_study.py: max vs max-blur pooling, with and without shift augmentation.
The digits are placed whole on the canvas (test digits with room for every measured shift),
augmentation moves them and keeps them whole, the network's backward pass (both pools) equals
central differences, and the quick run writes a PNG and a table of the four variants, the
same table twice for the same seed."""

import contextlib
import io
import os

import numpy as np
import pytest
from conftest import load_script

pytest.importorskip("sklearn")

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples",
                       "invariance_study.py")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def study():
    return load_script("invariance_study", EXAMPLE)


@pytest.fixture(scope="module")
def data(study):
    return study.load_data(seed=0, n_train=200, n_test=60)


def ink_boxes(canvases, background):
    """Per image, (first row, last row, first column, last column) of the pixels that are not
    background."""
    ink = canvases[:, 0] != background
    rows, cols = ink.any(axis=2), ink.any(axis=1)
    first = lambda a: a.argmax(axis=1)  # noqa: E731
    last = lambda a: a.shape[1] - 1 - a[:, ::-1].argmax(axis=1)  # noqa: E731
    return np.stack([first(rows), last(rows), first(cols), last(cols)], axis=1)


def test_place_pastes_each_digit_whole_at_its_offset_and_nothing_else(study):
    side, free = study.DIGIT, study.CANVAS - study.DIGIT
    digits = np.random.default_rng(0).uniform(0.5, 1.0, (4, side, side)).astype(np.float32)
    offsets = np.array([[0, 0], [free, free], [0, free], [3, 7]])
    canvases = study.place(digits, offsets)
    assert canvases.shape == (4, 1, study.CANVAS, study.CANVAS) and canvases.dtype == np.float32
    for canvas, digit, (row, col) in zip(canvases[:, 0], digits, offsets):
        np.testing.assert_array_equal(canvas[row:row + side, col:col + side], digit)
        assert canvas.sum() == pytest.approx(digit.sum(), rel=1e-6)


def test_digits_are_standardised_and_test_digits_leave_room_for_every_shift(study, data):
    assert data.x_train.dtype == data.x_test.dtype == np.float32
    assert data.x_train.shape[1:] == data.x_test.shape[1:] == (1, study.CANVAS, study.CANVAS)
    assert abs(data.x_train.mean()) < 1e-5 and data.x_train.std() == pytest.approx(1.0, rel=1e-5)
    assert (len(data.y_train), len(data.y_test)) == (200, 60) and set(data.y_test) == set(range(10))
    background = -data.mean / data.std
    boxes = ink_boxes(data.x_test, background)
    margin = study.MARGIN
    assert boxes[:, [0, 2]].min() >= margin and boxes[:, [1, 3]].max() < study.CANVAS - margin
    assert study.MAX_SHIFT == 2 * margin  # two copies, each shifted at most `margin`
    # the whole 16x16 box, not only the ink: the background around a test digit is exact
    corners = np.array([[0, 0], [study.CANVAS - 1] * 2])
    assert np.all(data.x_test[:, 0, corners[:, 0], corners[:, 1]] == background)


def test_shift_pairs_are_d_apart_on_one_axis_and_within_the_margin(study):
    rng = np.random.default_rng(1)
    for d in range(1, study.MAX_SHIFT + 1):
        first, second = study.shift_pairs(rng, 500, d)
        apart = np.abs(second - first)
        assert np.all(apart.max(axis=1) == d) and np.all(apart.min(axis=1) == 0)
        assert np.abs(np.concatenate([first, second])).max() <= study.MARGIN
        assert len(np.unique(first, axis=0)) > 1


def test_shift_augmentation_moves_the_digits_and_keeps_them_whole_on_the_canvas(study, data):
    idx = np.arange(60)
    rng = np.random.default_rng(2)
    background = (np.float32(0) - data.mean) / data.std  # as the example standardises an empty pixel
    first, second = study.shifted_batch(data, idx, rng), study.shifted_batch(data, idx, rng)
    for batch in (first, second):
        unstandardised = batch * data.std + data.mean
        np.testing.assert_allclose(unstandardised.sum(axis=(1, 2, 3)), data.digits_train[idx].sum(axis=(1, 2)),
                                   rtol=1e-4)  # nothing cut off
        boxes = ink_boxes(batch, background)
        assert np.all(boxes[:, 1] - boxes[:, 0] < study.DIGIT) and np.all(boxes[:, 3] - boxes[:, 2] < study.DIGIT)
    assert not np.array_equal(ink_boxes(first, background), ink_boxes(data.x_train[idx], background))
    assert not np.array_equal(ink_boxes(first, background), ink_boxes(second, background))


@pytest.mark.parametrize("pool", ["max", "max-blur"])
def test_the_backward_pass_matches_central_differences(study, pool):
    """Directional derivatives of the loss along random directions of every parameter, float64,
    on a 20x20 input (maps 16, 8, 4 and 2 wide), so that each pool's backward is checked in the
    example's own wiring."""
    rng = np.random.default_rng(3)
    params = study.init_params(seed=3, pool=pool, side=20, dtype=np.float64)
    for name in ("b1", "b2", "b3"):  # nonzero biases: every ReLU passes some inputs and stops others
        params[name] += rng.uniform(-0.1, 0.1, params[name].shape)
    x, y = rng.standard_normal((3, 1, 20, 20)), np.array([0, 3, 7])

    def loss(p):
        return study.softmax_cross_entropy(study.forward(p, x, pool)[0], y)[0]

    logits, cache = study.forward(params, x, pool)
    grads = study.backward(params, cache, study.softmax_cross_entropy(logits, y)[1], pool)
    assert grads.keys() == params.keys()
    h = 1e-6
    for name, value in params.items():
        assert grads[name].shape == value.shape and grads[name].dtype == np.float64, name
        for _ in range(2):
            v = rng.standard_normal(value.shape)
            numeric = (loss({**params, name: value + h * v}) - loss({**params, name: value - h * v})) / (2 * h)
            assert np.sum(grads[name] * v) == pytest.approx(numeric, rel=1e-6, abs=1e-9), name


def quick_run(study, out_dir):
    paths = (str(out_dir / "consistency.png"), str(out_dir / "table.md"))
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        results = study.main(["--quick", "--plot", paths[0], "--table", paths[1]])
    return results, paths, stdout.getvalue()


@pytest.fixture(scope="module")
def quick_runs(study, tmp_path_factory):
    """The quick run twice, with the same seed."""
    return [quick_run(study, tmp_path_factory.mktemp(f"run{i}")) for i in range(2)]


def table_rows(path):
    lines = [line for line in open(path).read().splitlines() if line.startswith("|")]
    split = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return split[0], split[2:]


def test_the_quick_run_writes_a_png_and_a_table_of_the_four_variants(study, quick_runs):
    results, (png, table), stdout = quick_runs[0]
    with open(png, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    header, rows = table_rows(table)
    assert len(header) == 2 + study.MAX_SHIFT + len(study.LAYERS)
    assert [row[0] for row in rows] == [study.variant_name(p, a) for p, a in study.VARIANTS]
    assert len({row[0] for row in rows}) == 4
    values = np.array([[float(cell) for cell in row[1:]] for row in rows])
    assert np.all((values[:, :1 + study.MAX_SHIFT] >= 0) & (values[:, :1 + study.MAX_SHIFT] <= 1))
    assert np.all(values[:, 1 + study.MAX_SHIFT:] >= 0) and np.all(np.isfinite(values))
    assert "| variant | test accuracy |" in stdout and all(row[0] in stdout for row in rows)
    for result in results:
        assert len(result["consistency"]) == study.MAX_SHIFT
        assert all(0.0 <= c <= 1.0 for c in result["consistency"])
        assert result["equivariance"]["conv1"] < 1e-5  # stride 1: exactly equivariant, up to rounding


def test_the_same_seed_gives_the_same_table(quick_runs):
    (_, (_, first), _), (_, (_, second), _) = quick_runs
    assert open(first).read() == open(second).read()
