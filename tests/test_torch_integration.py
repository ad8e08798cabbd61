"""fastconv.torch: autograd Functions pass torch.autograd.gradcheck, the modules match their
torch.nn namesakes forward and backward, and a small CNN built from them trains as the same
CNN built from torch.nn. Skipped without torch."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
fct = pytest.importorskip("fastconv.torch")

from torch import nn  # noqa: E402


@pytest.fixture(autouse=True)
def backend():
    """One run (the default backend): the kernels themselves are tested per backend elsewhere."""
    yield None


def rand(*shape, seed=0, dtype=torch.float64, requires_grad=True):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g, dtype=dtype).sub_(0.5).requires_grad_(requires_grad)


@pytest.mark.parametrize("options", [
    dict(stride=1, padding=1, dilation=1, groups=1, padding_mode="zeros"),
    dict(stride=2, padding=((1, 0), (2, 1)), dilation=1, groups=1, padding_mode="zeros"),
    dict(stride=1, padding="same", dilation=2, groups=2, padding_mode="reflect"),
    dict(stride=(2, 1), padding=1, dilation=1, groups=4, padding_mode="circular"),
    dict(stride=1, padding=2, dilation=1, groups=1, padding_mode="replicate"),
])
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv2d_function_passes_gradcheck(options, with_bias):
    x, w = rand(2, 4, 7, 6), rand(4, 4 // options["groups"], 3, 2, seed=1)
    b = rand(4, seed=2) if with_bias else None
    args = (options["stride"], options["padding"], options["dilation"], options["groups"], options["padding_mode"])
    assert torch.autograd.gradcheck(lambda x, w, b: fct.Conv2dFunction.apply(x, w, b, *args), (x, w, b))


def test_pool_and_relu_functions_pass_gradcheck():
    x = torch.randperm(2 * 3 * 9 * 8, generator=torch.Generator().manual_seed(0)).double()
    x = (x / x.numel()).reshape(2, 3, 9, 8).requires_grad_()  # distinct values: one arg max per window
    assert torch.autograd.gradcheck(lambda x: fct.MaxPool2dFunction.apply(x, 3, 2, 1, 1, True), (x,))
    assert torch.autograd.gradcheck(lambda x: fct.AvgPool2dFunction.apply(x, 3, 2, 1, True, False, None), (x,))
    assert torch.autograd.gradcheck(lambda x: fct.AdaptiveAvgPool2dFunction.apply(x, (4, 3)), (x,))
    away_from_zero = (x - 0.5).detach().apply_(lambda v: v + 0.1 if v >= 0 else v - 0.1).requires_grad_()
    assert torch.autograd.gradcheck(fct.ReLUFunction.apply, (away_from_zero,))


MODULES = {
    "Conv2d": lambda: (nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), fct.Conv2d(4, 6, 3, stride=2, padding=1,
                                                                                     groups=2)),
    "Conv2d-reflect-same": lambda: (nn.Conv2d(4, 6, (3, 2), padding="same", padding_mode="reflect", bias=False),
                                    fct.Conv2d(4, 6, (3, 2), padding="same", padding_mode="reflect", bias=False)),
    "MaxPool2d": lambda: (nn.MaxPool2d(3, 2, 1, ceil_mode=True), fct.MaxPool2d(3, 2, 1, ceil_mode=True)),
    "AvgPool2d": lambda: (nn.AvgPool2d(2, count_include_pad=False, padding=1),
                          fct.AvgPool2d(2, count_include_pad=False, padding=1)),
    "AdaptiveAvgPool2d": lambda: (nn.AdaptiveAvgPool2d((3, None)), fct.AdaptiveAvgPool2d((3, None))),
    "ReLU": lambda: (nn.ReLU(), fct.ReLU()),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", MODULES)
def test_modules_match_torch_nn(name, dtype):
    torch.manual_seed(0)
    reference, ours = MODULES[name]()
    ours.load_state_dict(reference.state_dict())
    reference, ours = reference.to(dtype), ours.to(dtype)
    assert isinstance(ours, type(reference))
    x = rand(2, 4, 9, 8, seed=3, dtype=dtype)
    x_ours = x.detach().clone().requires_grad_()
    y, y_ours = reference(x), ours(x_ours)
    assert type(y_ours.grad_fn).__name__.endswith("FunctionBackward")  # fastconv ran, not the torch.nn fallback
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(y_ours, y, **tol)
    grad = rand(*y.shape, seed=4, dtype=dtype, requires_grad=False)
    y.backward(grad)
    y_ours.backward(grad)
    torch.testing.assert_close(x_ours.grad, x.grad, **tol)
    for (pname, p), (_, p_ours) in zip(reference.named_parameters(), ours.named_parameters()):
        torch.testing.assert_close(p_ours.grad, p.grad, **tol, msg=pname)


def test_unsupported_inputs_run_torch_nn():
    conv = fct.Conv2d(2, 3, 3).to(torch.bfloat16)
    y = conv(torch.ones(1, 2, 5, 5, dtype=torch.bfloat16))
    assert y.dtype == torch.bfloat16 and y.shape == (1, 3, 3, 3)
    assert fct.supported(torch.ones(2)) and not fct.supported(torch.ones(2, dtype=torch.float16))
    assert not fct.supported(torch.ones(2), torch.ones(2, dtype=torch.float64))


def seed_net(layers):
    """The seed articles' network on 1x16x16 images: conv 5x5 -> ReLU -> max pool 2 -> conv 3x3
    -> ReLU -> max pool 2 -> fully connected."""
    return nn.Sequential(layers.Conv2d(1, 4, 5, padding=2), layers.ReLU(), layers.MaxPool2d(2),
                         layers.Conv2d(4, 8, 3, padding=1), layers.ReLU(), layers.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(8 * 4 * 4, 3))


def sgd_losses(model, steps):
    """The losses of `steps` SGD steps (lr 0.5) on batches of 8 of 32 random 1x16x16 images in 3 classes."""
    g = torch.Generator().manual_seed(1)
    images, labels = torch.rand(32, 1, 16, 16, generator=g, dtype=torch.float64), torch.arange(32) % 3
    optimiser = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for step in range(steps):
        batch = slice(8 * (step % 4), 8 * (step % 4) + 8)
        optimiser.zero_grad()
        loss = nn.functional.cross_entropy(model(images[batch]), labels[batch])
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return losses


def test_a_cnn_of_fastconv_modules_trains_like_torch_nn():
    torch.manual_seed(0)
    reference = seed_net(nn).double()
    ours = seed_net(fct).double()
    ours.load_state_dict(reference.state_dict())
    losses = {name: sgd_losses(model, 12) for name, model in (("torch.nn", reference), ("fastconv", ours))}
    np.testing.assert_allclose(losses["fastconv"], losses["torch.nn"], rtol=1e-9)
    assert losses["fastconv"][-1] < losses["fastconv"][0]
    for (pname, p), (_, p_ours) in zip(reference.named_parameters(), ours.named_parameters()):
        torch.testing.assert_close(p_ours, p, rtol=1e-9, atol=1e-12, msg=pname)


# --------------------------------------------------------------------------- anti-aliased pools


def test_blur_functions_pass_gradcheck():
    x = torch.randperm(2 * 3 * 9 * 8, generator=torch.Generator().manual_seed(5)).double()
    x = (x / x.numel()).reshape(2, 3, 9, 8).requires_grad_()  # distinct values: one arg max per window
    for mode in ("reflect", "zeros", "replicate", "circular"):
        assert torch.autograd.gradcheck(lambda x: fct.BlurPoolFunction.apply(x, 2, 4, (2, 3), mode), (x,))
        assert torch.autograd.gradcheck(lambda x: fct.MaxBlurPoolFunction.apply(x, 2, 3, 2, 5, 1, mode), (x,))
    x1 = x[:, :, 0].detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x: fct.BlurPoolFunction.apply(x, 1, 3, 2, "reflect"), (x1,))
    assert torch.autograd.gradcheck(lambda x: fct.MaxBlurPoolFunction.apply(x, 1, 2, 2, 4, 0, "reflect"), (x1,))


BLUR_MODULES = {
    "BlurPool2d": lambda: fct.BlurPool2d(4, 2),
    "BlurPool2d-k5-zeros": lambda: fct.BlurPool2d(5, (2, 1), "zeros"),
    "MaxBlurPool2d": lambda: fct.MaxBlurPool2d(2, 2, 4),
    "MaxBlurPool2d-k3p1-circular": lambda: fct.MaxBlurPool2d(3, 2, 3, padding=1, padding_mode="circular"),
    "BlurPool1d": lambda: fct.BlurPool1d(3, 2),
    "MaxBlurPool1d": lambda: fct.MaxBlurPool1d(2, 2, 4, padding_mode="replicate"),
}


@pytest.mark.parametrize("name", BLUR_MODULES)
def test_blur_modules_match_their_composition_from_torch_ops(name):
    """The modules run fastconv for float32/float64 CPU tensors and the torch composition
    (F.pad + depthwise convolution, after F.max_pool at stride 1) otherwise: both agree, forward
    and backward."""
    module = BLUR_MODULES[name]()
    nd = module.nd
    x = rand(2, 4, 11, 10, seed=6) if nd == 2 else rand(2, 4, 13, seed=6)
    x_composed = x.detach().clone().requires_grad_()
    y = module(x)
    assert type(y.grad_fn).__name__.endswith("FunctionBackward")  # fastconv ran
    f = torch.nn.functional
    pooled = x_composed
    if isinstance(module, fct._MaxBlurPoolNd):
        pooled = (f.max_pool2d if nd == 2 else f.max_pool1d)(x_composed, module.kernel_size, 1, module.padding)
    y_composed = fct._composed_blur(pooled, nd, module.filter_size, module.stride, module.padding_mode)
    torch.testing.assert_close(y, y_composed, rtol=1e-12, atol=1e-13)
    grad = rand(*y.shape, seed=7, requires_grad=False)
    y.backward(grad)
    y_composed.backward(grad)
    torch.testing.assert_close(x.grad, x_composed.grad, rtol=1e-12, atol=1e-13)
    half = module(x.detach().to(torch.bfloat16))  # not a kernel dtype: the composition runs
    assert half.dtype == torch.bfloat16 and half.shape == y.shape
    assert "filter_size" in repr(module)


def test_a_cnn_with_max_blur_pooling_trains():
    torch.manual_seed(0)
    model = nn.Sequential(fct.Conv2d(1, 4, 5, padding=2), fct.ReLU(), fct.MaxBlurPool2d(2, 2),
                          fct.Conv2d(4, 8, 3, padding=1), fct.ReLU(), fct.MaxBlurPool2d(2, 2),
                          nn.Flatten(), nn.Linear(8 * 4 * 4, 3)).double()  # 16 -> 8 -> 4
    losses = sgd_losses(model, 30)
    assert np.mean(losses[-4:]) < np.mean(losses[:4])
