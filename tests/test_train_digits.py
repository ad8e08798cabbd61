"""examples/train_digits.py: the seed articles' network trained with fastconv's backward
passes. A few SGD steps lower the loss, every gradient equals torch.autograd's for the same
weights, and the example runs end to end (two epochs; the README quotes the full run)."""

import os

import numpy as np
import pytest
from conftest import load_script

pytest.importorskip("sklearn")

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "train_digits.py")


@pytest.fixture(scope="module")
def example():
    return load_script("train_digits", EXAMPLE)


@pytest.fixture(scope="module")
def digits(example):
    return example.load_digits_28()


def test_the_digits_are_upsampled_to_28x28_standardised_in_a_stratified_split(digits):
    x_train, y_train, x_test, y_test = digits
    assert x_train.shape[1:] == (1, 28, 28) and x_train.dtype == np.float32
    assert len(x_train) + len(x_test) == 1797
    assert abs(x_train.mean()) < 1e-5 and x_train.std() == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(np.bincount(y_test) / len(y_test), np.bincount(y_train) / len(y_train), atol=0.01)


def test_bilinear_upsampling_keeps_constants_and_interpolates_between_centres(example):
    m = example.bilinear_matrix(8, 28)
    np.testing.assert_allclose(m.sum(axis=1), 1.0)
    ramp = m @ np.arange(8.0)
    assert np.all(np.diff(ramp) >= 0) and ramp[0] == 0.0 and ramp[-1] == 7.0


def test_a_few_sgd_steps_lower_the_loss(example, digits):
    x_train, y_train = digits[0][:512], digits[1][:512]
    params = example.init_params(seed=1)
    step = example.fastconv_step(params, lr=0.1)
    batches = example.batch_order(len(x_train), 32, 2, seed=1)
    losses = [step(x_train[idx], y_train[idx]) for epoch in batches for idx in epoch]
    assert np.mean(losses[-8:]) < 0.6 * np.mean(losses[:4]), losses


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_gradient_equals_torch_autograd_for_the_same_weights(example, digits, dtype):
    torch = pytest.importorskip("torch")
    x, y = digits[0][:48].astype(dtype), digits[1][:48]
    params = example.init_params(seed=2, dtype=dtype)
    for name in ("b1", "b2", "b3"):  # nonzero biases, so every ReLU has both signs to pass or stop
        params[name] += np.linspace(-0.1, 0.1, len(params[name])).astype(dtype)
    logits, cache = example.forward(params, x)
    loss, grad_logits = example.softmax_cross_entropy(logits, y)
    grads = example.backward(params, cache, grad_logits)

    net = example.torch_network(params)
    torch_loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y))
    torch_loss.backward()
    rtol = 1e-10 if dtype == np.float64 else 2e-4
    assert loss == pytest.approx(torch_loss.item(), rel=rtol)
    layers = {"w1": net[0].weight, "b1": net[0].bias, "w2": net[3].weight, "b2": net[3].bias,
              "w3": net[7].weight, "b3": net[7].bias}
    for name, parameter in layers.items():
        want = parameter.grad.numpy()
        assert grads[name].dtype == dtype and grads[name].shape == want.shape, name
        np.testing.assert_allclose(grads[name], want, rtol=rtol, atol=rtol * np.abs(want).max(), err_msg=name)


def test_the_example_trains_end_to_end(example, capsys):
    rows = example.main(["--epochs", "2", "--threads", "1", "--no-torch"])
    out = capsys.readouterr().out
    assert "epoch  2/2" in out and "| fastconv | 1 |" in out
    (name, threads, seconds, accuracy), = rows
    assert name == "fastconv" and threads == 1 and seconds > 0 and accuracy > 0.8
