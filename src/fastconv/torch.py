"""PyTorch integration: autograd Functions and drop-in ``torch.nn`` modules whose forward and
backward run fastconv's kernels.

Imported on its own (``import fastconv.torch``) and only when PyTorch is installed; ``import
fastconv`` never imports torch. Tensors are handed to the kernels as NumPy views of their
memory (``Tensor.numpy()``: no copy when they are contiguous CPU float32/float64 tensors), and
results come back as tensors sharing the kernels' output arrays (``torch.from_numpy``).

The modules subclass their ``torch.nn`` namesakes (same constructor, parameters,
initialisation and ``state_dict``), so a model built from them trains as the same model built
from ``torch.nn``. Inputs the kernels do not take (another device, float16, bfloat16) run
through the ``torch.nn`` forward instead, so the modules stay drop-in.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

import fastconv

__all__ = ["Conv2dFunction", "MaxPool2dFunction", "AvgPool2dFunction", "AdaptiveAvgPool2dFunction", "ReLUFunction",
           "BlurPoolFunction", "MaxBlurPoolFunction",
           "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "ReLU",
           "BlurPool2d", "BlurPool1d", "MaxBlurPool2d", "MaxBlurPool1d", "supported"]

_DTYPES = (torch.float32, torch.float64)


def supported(*tensors):
    """Whether the kernels take these tensors: CPU, float32 or float64, one dtype, dense."""
    return all(t is None or (t.device.type == "cpu" and t.dtype == tensors[0].dtype and t.dtype in _DTYPES
                             and t.layout == torch.strided) for t in tensors)


def _array(tensor):
    """A NumPy view of a tensor's memory (detached: autograd is ours to do)."""
    return None if tensor is None else tensor.detach().numpy()


def _tensor(array):
    return torch.from_numpy(np.asarray(array))


class Conv2dFunction(torch.autograd.Function):
    """y = fastconv.conv2d(x, weight, bias, ...); backward: fastconv.conv2d_backward."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups, padding_mode):
        ctx.save_for_backward(x, weight)
        ctx.options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, padding_mode=padding_mode)
        ctx.has_bias = bias is not None
        return _tensor(fastconv.conv2d(_array(x), _array(weight), _array(bias), **ctx.options))

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        wanted = [name for name, need in zip(("input", "weight", "bias"), ctx.needs_input_grad[:3])
                  if need and (name != "bias" or ctx.has_bias)]
        grads = fastconv.conv2d_backward(_array(grad_out), _array(x), _array(weight), needs=wanted, **ctx.options)
        return tuple(_tensor(grads[name]) if name in grads else None for name in ("input", "weight", "bias")) + \
            (None,) * 5


class MaxPool2dFunction(torch.autograd.Function):
    """y = fastconv.max_pool2d(x, ...); backward scatters through the saved indices."""

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, dilation, ceil_mode):
        y, indices = fastconv.max_pool2d(_array(x), kernel_size, stride, padding, dilation, ceil_mode,
                                         return_indices=True)
        ctx.x_shape = tuple(x.shape)
        ctx.indices = indices
        return _tensor(y)

    @staticmethod
    def backward(ctx, grad_out):
        grad = fastconv.max_pool2d_backward(_array(grad_out), ctx.indices, ctx.x_shape)
        return (_tensor(grad),) + (None,) * 5


class AvgPool2dFunction(torch.autograd.Function):
    """y = fastconv.avg_pool2d(x, ...); backward: fastconv.avg_pool2d_backward."""

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
        ctx.x_shape = tuple(x.shape)
        ctx.options = (kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
        return _tensor(fastconv.avg_pool2d(_array(x), *ctx.options))

    @staticmethod
    def backward(ctx, grad_out):
        return (_tensor(fastconv.avg_pool2d_backward(_array(grad_out), ctx.x_shape, *ctx.options)),) + (None,) * 6


class AdaptiveAvgPool2dFunction(torch.autograd.Function):
    """y = fastconv.adaptive_avg_pool2d(x, output_size); backward: adaptive_avg_pool2d_backward."""

    @staticmethod
    def forward(ctx, x, output_size):
        ctx.x_shape = tuple(x.shape)
        return _tensor(fastconv.adaptive_avg_pool2d(_array(x), output_size))

    @staticmethod
    def backward(ctx, grad_out):
        return _tensor(fastconv.adaptive_avg_pool2d_backward(_array(grad_out), ctx.x_shape)), None


class ReLUFunction(torch.autograd.Function):
    """y = fastconv.relu(x); backward: fastconv.relu_backward (grad where x > 0)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _tensor(fastconv.relu(_array(x)))

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return _tensor(fastconv.relu_backward(_array(grad_out), _array(x)))


class BlurPoolFunction(torch.autograd.Function):
    """y = fastconv.blur_pool2d (nd=2) or blur_pool1d (nd=1); backward: its _backward."""

    @staticmethod
    def forward(ctx, x, nd, filter_size, stride, padding_mode):
        ctx.x_shape, ctx.nd = tuple(x.shape), nd
        ctx.options = (filter_size, stride, padding_mode)
        return _tensor(getattr(fastconv, f"blur_pool{nd}d")(_array(x), *ctx.options))

    @staticmethod
    def backward(ctx, grad_out):
        grad = getattr(fastconv, f"blur_pool{ctx.nd}d_backward")(_array(grad_out), ctx.x_shape, *ctx.options)
        return (_tensor(grad),) + (None,) * 4


class MaxBlurPoolFunction(torch.autograd.Function):
    """y = fastconv.max_blur_pool2d (nd=2) or max_blur_pool1d (nd=1); backward: its _backward
    (the max recomputed from the saved x)."""

    @staticmethod
    def forward(ctx, x, nd, kernel_size, stride, filter_size, padding, padding_mode):
        ctx.save_for_backward(x)
        ctx.nd, ctx.options = nd, (kernel_size, stride, filter_size, padding, padding_mode)
        return _tensor(getattr(fastconv, f"max_blur_pool{nd}d")(_array(x), *ctx.options))

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        grad = getattr(fastconv, f"max_blur_pool{ctx.nd}d_backward")(_array(grad_out), _array(x), *ctx.options)
        return (_tensor(grad),) + (None,) * 6


def _pair_or_none(v):
    return None if v is None else tuple(v) if isinstance(v, (tuple, list)) else v


class Conv2d(nn.Conv2d):
    """``torch.nn.Conv2d`` whose forward and backward run fastconv (every padding_mode,
    padding="same"/"valid" strings, stride, dilation, groups)."""

    def forward(self, x):
        if not supported(x, self.weight, self.bias):
            return super().forward(x)
        padding = self.padding if isinstance(self.padding, str) else tuple(self.padding)
        return Conv2dFunction.apply(x, self.weight, self.bias, tuple(self.stride), padding, tuple(self.dilation),
                                    self.groups, self.padding_mode)


class MaxPool2d(nn.MaxPool2d):
    """``torch.nn.MaxPool2d`` through fastconv (return_indices=True runs torch's own)."""

    def forward(self, x):
        if self.return_indices or not supported(x):
            return super().forward(x)
        stride = self.stride if self.stride is not None else self.kernel_size
        return MaxPool2dFunction.apply(x, _pair_or_none(self.kernel_size), _pair_or_none(stride),
                                       _pair_or_none(self.padding), _pair_or_none(self.dilation), self.ceil_mode)


class AvgPool2d(nn.AvgPool2d):
    """``torch.nn.AvgPool2d`` through fastconv."""

    def forward(self, x):
        if not supported(x):
            return super().forward(x)
        stride = self.stride if self.stride is not None else self.kernel_size
        return AvgPool2dFunction.apply(x, _pair_or_none(self.kernel_size), _pair_or_none(stride),
                                       _pair_or_none(self.padding), self.ceil_mode, self.count_include_pad,
                                       self.divisor_override)


class AdaptiveAvgPool2d(nn.AdaptiveAvgPool2d):
    """``torch.nn.AdaptiveAvgPool2d`` through fastconv."""

    def forward(self, x):
        if not supported(x):
            return super().forward(x)
        return AdaptiveAvgPool2dFunction.apply(x, _pair_or_none(self.output_size))


class ReLU(nn.ReLU):
    """``torch.nn.ReLU`` through fastconv (inplace=True runs torch's own)."""

    def forward(self, x):
        if self.inplace or not supported(x):
            return super().forward(x)
        return ReLUFunction.apply(x)


def _composed_blur(x, nd, filter_size, stride, padding_mode):
    """The same blur from torch ops (F.pad, a depthwise convolution with the binomial filter),
    for inputs the kernels do not take."""
    row = torch.from_numpy(fastconv.reference.binomial_filter(filter_size)).to(x.dtype).to(x.device)
    channels = x.shape[-nd - 1]
    weight = (torch.outer(row, row) if nd == 2 else row).expand(channels, 1, *(filter_size,) * nd)
    before, after = fastconv.reference.blur_padding(filter_size)
    mode = "constant" if padding_mode == "zeros" else padding_mode
    batched = x if x.dim() == nd + 2 else x.unsqueeze(0)
    padded = torch.nn.functional.pad(batched, (before, after) * nd, mode=mode)
    conv = torch.nn.functional.conv2d if nd == 2 else torch.nn.functional.conv1d
    y = conv(padded, weight.contiguous(), stride=stride, groups=channels)
    return y if x.dim() == nd + 2 else y.squeeze(0)


class _BlurPoolNd(nn.Module):
    nd = 2

    def __init__(self, filter_size=4, stride=2, padding_mode="reflect"):
        super().__init__()
        self.filter_size, self.stride, self.padding_mode = filter_size, stride, padding_mode

    def forward(self, x):
        if not supported(x):
            return _composed_blur(x, self.nd, self.filter_size, self.stride, self.padding_mode)
        return BlurPoolFunction.apply(x, self.nd, self.filter_size, _pair_or_none(self.stride), self.padding_mode)

    def extra_repr(self):
        return f"filter_size={self.filter_size}, stride={self.stride}, padding_mode={self.padding_mode!r}"


class BlurPool2d(_BlurPoolNd):
    """Anti-aliased subsampling (``fastconv.blur_pool2d``): a binomial blur of each channel, then
    every ``stride``-th pixel. Inputs the kernels do not take run through the same operation
    composed from torch ops."""

    nd = 2


class BlurPool1d(_BlurPoolNd):
    """``fastconv.blur_pool1d`` as a module (see :class:`BlurPool2d`)."""

    nd = 1


class _MaxBlurPoolNd(nn.Module):
    nd = 2

    def __init__(self, kernel_size=2, stride=2, filter_size=4, padding=0, padding_mode="reflect"):
        super().__init__()
        self.kernel_size, self.stride, self.filter_size = kernel_size, stride, filter_size
        self.padding, self.padding_mode = padding, padding_mode

    def forward(self, x):
        if not supported(x):
            pool = torch.nn.functional.max_pool2d if self.nd == 2 else torch.nn.functional.max_pool1d
            return _composed_blur(pool(x, self.kernel_size, 1, self.padding), self.nd, self.filter_size, self.stride,
                                  self.padding_mode)
        return MaxBlurPoolFunction.apply(x, self.nd, _pair_or_none(self.kernel_size), _pair_or_none(self.stride),
                                         self.filter_size, _pair_or_none(self.padding), self.padding_mode)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, filter_size={self.filter_size}, "
                f"padding={self.padding}, padding_mode={self.padding_mode!r}")


class MaxBlurPool2d(_MaxBlurPoolNd):
    """Zhang's anti-aliased max pooling (``fastconv.max_blur_pool2d``): the max of each
    ``kernel_size`` window at stride 1, then a binomial blur at ``stride``; a drop-in for
    ``nn.MaxPool2d(kernel_size, stride)`` where shifts of the input should move the output
    smoothly. Inputs the kernels do not take run through torch ops."""

    nd = 2


class MaxBlurPool1d(_MaxBlurPoolNd):
    """``fastconv.max_blur_pool1d`` as a module (see :class:`MaxBlurPool2d`)."""

    nd = 1
