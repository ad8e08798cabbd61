"""Hypothesis strategies for whole calls of each public function: a Call holds the function's
name, its arguments (ArraySpecs for the arrays) and how to run it (out=, threads, repeat).

The shapes are built to fit each other (channels, groups, layout) most of the time, so that
most calls reach the kernels; array_specs and the parameter strategies then break them
now and then."""

from __future__ import annotations

import dataclasses

from hypothesis import strategies as st

from fastconv import _args, _conv
from fastconv._blur import BlurGeometry
from fastconv._args import ALGORITHMS, GRAD_NAMES, LAYOUTS, PADDING_MODES
from fuzz_arrays import (GOOD_DTYPES, ArraySpec, any_shape, array_specs, cached, dims, float_dtypes, mixture,
                         pick, weighted)
from fuzz_params import HUGE_INTS, OMIT, choice, conv_padding, flag, int_param, ints, junk, maybe

HUGE_POSITIVE = tuple(v for v in HUGE_INTS if v > 0)
# out= arguments: the right array, or one that must be refused (see fuzz_out.out_is_valid).
OUT_KINDS = ("right", "misaligned", "subclass", "wrong-shape", "wrong-dtype", "readonly", "noncontiguous",
             "fortran", "overlap", "list")


@dataclasses.dataclass(frozen=True)
class OutSpec:
    kind: str
    target: int = 0  # "overlap": the array argument out shares memory with; "misaligned": its byte offset - 1


@dataclasses.dataclass
class Call:
    name: str
    args: tuple
    kwargs: dict
    out: OutSpec | None = None
    threads: int | None = None  # fastconv.set_num_threads for the call; None leaves it
    repeat: bool = False  # call twice: the second call may take a cached plan

    def __repr__(self):
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.name}({', '.join(parts)})  [out={self.out}, threads={self.threads}, repeat={self.repeat}]"


_COIN = st.booleans()
_ONE_IN_FOUR = st.integers(0, 3)
_ONE_IN_FIVE = st.integers(0, 4)
_ONE_IN_THIRTY = st.integers(0, 29)
_THREADS = st.sampled_from((None, None, 1, 2, 3))
_OUT_KINDS = {False: st.sampled_from(OUT_KINDS), True: st.sampled_from(OUT_KINDS + ("self",))}


def _call(draw, name, args, kwargs, out_allowed=False):
    kwargs = {k: v for k, v in kwargs.items() if v is not OMIT}
    out = None
    if out_allowed and draw(_ONE_IN_FIVE) == 0:
        out = OutSpec(draw(_OUT_KINDS[name == "relu"]), draw(st.integers(0, len(args) - 1)))
    return Call(name, tuple(args), kwargs, out, draw(_THREADS), draw(_ONE_IN_FOUR) == 3)


@cached
def _small(low, high):
    """A size, channel count or window: in [low, high] mostly, any dim (0, huge) sometimes."""
    return mixture((80, st.integers(low, high)), (20, dims()))


_BATCH = st.one_of(st.none(), _small(0, 3))  # None: the unbatched form


def _images(n, c, sizes, nhwc):
    return ((n,) if n is not None else ()) + (tuple(sizes) + (c,) if nhwc else (c,) + tuple(sizes))


# --------------------------------------------------------------------------- convolution


_HUGE_POSITIVE = st.sampled_from(HUGE_POSITIVE)
_DILATIONS = st.sampled_from((1,) + HUGE_POSITIVE)
_GROUPS = st.sampled_from((1, 1, 1, 2, 3))
_ALGORITHM_ARG = maybe(choice(ALGORITHMS))
_LAYOUT_ARG = maybe(choice(LAYOUTS))
_PADDING_MODE_ARG = maybe(choice(PADDING_MODES))
_ACTIVATION_ARG = maybe(choice((None, "relu")))


@cached
@st.composite
def _huge_conv_geometry(draw, nd):
    """stride, padding, dilation with huge values whose output is still small (the offsets of
    the kernels' index arithmetic reach 2**62 and beyond)."""
    pad = draw(_HUGE_POSITIVE)
    stride = draw(st.sampled_from([v for v in HUGE_POSITIVE if v >= pad]))
    padding = draw(st.sampled_from((pad, "same", "full", ((pad, 0),) * nd if nd == 2 else (0, pad))))
    return pick(draw, (1, stride), (1, 1)), padding, draw(_DILATIONS)


@cached
@st.composite
def conv_call(draw, name, dtypes):
    nd = 1 if name == "conv1d" else 2
    transpose = name == "conv_transpose2d"
    dtype = draw(float_dtypes(dtypes))
    groups = draw(_GROUPS)
    c_per_group, k_per_group = draw(_small(1, 4)), draw(_small(1, 4))
    c, k = groups * c_per_group, groups * k_per_group
    algorithm = OMIT if transpose else draw(_ALGORITHM_ARG)
    if algorithm == "winograd" and draw(_ONE_IN_FOUR):
        kernel = (3, 3)
    else:
        kernel = tuple(draw(_small(1, 4)) for _ in range(nd))
    kwargs = {}
    if name == "conv2d":
        kwargs["layout"] = draw(_LAYOUT_ARG)
    x_shape = _images(draw(_BATCH), c, [draw(_small(1, 9)) for _ in range(nd)], kwargs.get("layout") == "NHWC")
    w_shape = ((c, k_per_group) if transpose else (k, c_per_group)) + kernel
    if draw(_ONE_IN_THIRTY) == 0:
        stride, padding, dilation = draw(_huge_conv_geometry(nd))
        if transpose and isinstance(padding, str):
            padding = dilation * (kernel[0] - 1) // 2  # cancels the kernel's extent in the output size
    else:
        stride, dilation = draw(maybe(int_param(nd, 1, 3))), draw(maybe(int_param(nd, 1, 2)))
        padding = draw(maybe(int_param(2, 0, 2) if transpose else conv_padding(nd)))
    bias = weighted(draw, (40, st.just(OMIT)), (10, st.none()), (45, array_specs((k,), dtype)), (5, junk()))
    groups_arg = pick(draw, (85, groups), (15, OMIT), (15, None))
    kwargs.update(stride=stride, padding=padding, dilation=dilation,
                  groups=draw(int_param(1, 1, 4)) if groups_arg is None else groups_arg)
    if transpose:
        kwargs["output_padding"] = draw(maybe(int_param(2, 0, 2)))
    else:
        kwargs.update(padding_mode=draw(_PADDING_MODE_ARG), activation=draw(_ACTIVATION_ARG), algorithm=algorithm)
    args = [draw(array_specs(x_shape, dtype)), draw(array_specs(w_shape, dtype))]
    if bias is not OMIT:
        kwargs["bias"] = bias
    return _call(draw, name, args, kwargs, out_allowed=not transpose)


_NEEDS_ARG = maybe(mixture((70, st.sampled_from((("input",), ("weight",), ("bias",), ("input", "weight"),
                                                   ("weight", "bias", "input"), ()))),
                             (15, st.sampled_from(GRAD_NAMES)), (15, st.one_of(junk(), st.just(("input", "x"))))))


def _forward_output_shape(forward, x_shape, w_shape, kwargs):
    """The forward's output shape for these arguments, or None when the forward refuses them."""
    try:
        if forward == "conv_transpose2d":
            batched = (1,) * (len(x_shape) == 3) + tuple(x_shape)
            geometry = _args.conv_transpose_geometry(batched, w_shape, kwargs.get("groups", 1),
                                                     kwargs.get("stride", 1), kwargs.get("padding", 0),
                                                     kwargs.get("output_padding", 0), kwargs.get("dilation", 1))
            shape = (batched[0], geometry[1]) + geometry[5]
            return shape[1:] if len(x_shape) == 3 else shape
        return _conv._conv_plan(tuple(x_shape), tuple(w_shape), 1 if forward == "conv1d" else 2,
                                kwargs.get("stride", 1), kwargs.get("padding", 0), kwargs.get("dilation", 1),
                                kwargs.get("groups", 1), kwargs.get("padding_mode", "zeros"), None, "auto",
                                kwargs.get("layout", "NCHW"))[0]
    except Exception:  # noqa: BLE001 - any refusal: the call then gets a grad_out of any shape
        return None


@cached
@st.composite
def conv_backward_call(draw, name, dtypes):
    """A forward call's arguments (conv_call) without bias, activation and algorithm, after a
    grad_out of the forward output's shape (mostly) and a ``needs``."""
    forward = name.replace("_backward", "")
    call = draw(conv_call(forward, dtypes))
    kwargs = {k: v for k, v in call.kwargs.items() if k not in ("bias", "activation", "algorithm")}
    x, w = call.args
    shape = _forward_output_shape(forward, x.shape, w.shape, kwargs)
    dtype = x.dtype if x.dtype in GOOD_DTYPES else draw(float_dtypes(dtypes))
    grad_out = draw(array_specs(shape if shape is not None and draw(_ONE_IN_FIVE) else draw(any_shape()), dtype))
    kwargs["needs"] = draw(_NEEDS_ARG)
    return _call(draw, name, [grad_out, x, w], kwargs)


_MODE_ARG = maybe(choice(("full", "same", "valid")))
_BOUNDARY_ARG = maybe(choice(("fill", "pad", "wrap", "circular", "symm", "symmetric"), ("reflect",)))
_FILLVALUE_ARG = maybe(mixture((70, st.floats(-4, 4, width=32)),
                               (15, st.sampled_from((0, 3, float("nan"), float("inf"), 1e300))), (15, junk())))


@cached
@st.composite
def correlate_call(draw, name, dtypes):
    dtype = draw(float_dtypes(dtypes))
    image = draw(array_specs((draw(_small(1, 9)), draw(_small(1, 9))), dtype))
    kernel = draw(array_specs((draw(_small(1, 5)), draw(_small(1, 5))), dtype))
    kwargs = dict(mode=draw(_MODE_ARG), boundary=draw(_BOUNDARY_ARG), fillvalue=draw(_FILLVALUE_ARG))
    return _call(draw, name, [image, kernel], kwargs)


# --------------------------------------------------------------------------- pooling


POOL_1D = ("max_pool1d", "avg_pool1d", "sum_pool1d")
NORM_TYPES = (1, 2, 3, 1.5, 0.5, 4.0)
_NORM_TYPE = mixture((80, st.sampled_from(NORM_TYPES)),
                     (10, st.sampled_from((0, -1, float("nan"), float("inf"), 1e308, 1e-300, 200, 2**64))),
                     (10, junk()))
_FLAG_ARG = maybe(flag())
_DIVISOR_ARG = maybe(mixture((60, st.none()), (30, ints(1, 9)), (10, st.one_of(int_param(1, -2, 0), junk()))))


@cached
@st.composite
def _huge_window(draw, nd):
    """kernel_size, padding, stride of a window far larger than the input that still fits the
    rule padding <= kernel_size // 2, so the call is valid; in 2-D huge along one or both dims."""
    k = draw(_HUGE_POSITIVE)
    stride = pick(draw, (1, OMIT), (1, 1), (1, 2), (1, k), (1, 2**62))
    if nd == 1 or draw(_COIN):
        return k, k // 2, stride
    if draw(_COIN):
        return (1, k), (0, k // 2), stride
    return (k, 1), (k // 2, 0), stride


@cached
@st.composite
def _pooled_input(draw, nd, dtypes):
    """({"layout": ...} for 2-D, the ArraySpec of x): images of 1-4 channels and small sides."""
    kwargs = {"layout": draw(_LAYOUT_ARG)} if nd == 2 else {}
    x_shape = _images(draw(_BATCH), draw(_small(1, 4)), [draw(_small(1, 9)) for _ in range(nd)],
                      kwargs.get("layout") == "NHWC")
    return kwargs, draw(array_specs(x_shape, draw(float_dtypes(dtypes))))


@cached
@st.composite
def pool_call(draw, name, dtypes):
    nd = 1 if name in POOL_1D else 2
    kwargs, x = draw(_pooled_input(nd, dtypes))
    if draw(_ONE_IN_THIRTY) == 0:
        kernel, padding, stride = draw(_huge_window(nd))
    else:
        kernel = draw(int_param(nd, 1, 4))
        stride = draw(maybe(st.one_of(st.none(), st.just(()), int_param(nd, 1, 4))))
        padding = draw(maybe(int_param(nd, 0, 2)))
    kwargs.update(kernel_size=kernel, stride=stride, ceil_mode=draw(_FLAG_ARG))
    if name != "lp_pool2d":
        kwargs["padding"] = padding
    if name.startswith("max"):
        kwargs.update(dilation=draw(maybe(int_param(nd, 1, 3))), return_indices=draw(_FLAG_ARG))
    if name.startswith("avg"):
        kwargs["count_include_pad"] = draw(_FLAG_ARG)
    if name == "avg_pool2d":
        kwargs["divisor_override"] = draw(_DIVISOR_ARG)
    if name == "lp_pool2d":
        kwargs["norm_type"] = draw(_NORM_TYPE)
    return _call(draw, name, [x], kwargs)


_FILTER_SIZE = mixture((85, st.integers(1, 7)), (15, st.sampled_from((0, 8, -1, 2.5, "4", True) + HUGE_INTS)))


@cached
@st.composite
def blur_call(draw, name, dtypes):
    nd = 1 if name.endswith("1d") else 2
    kwargs, x = draw(_pooled_input(nd, dtypes))
    kwargs.update(filter_size=draw(maybe(_FILTER_SIZE)), stride=draw(maybe(int_param(nd, 1, 4))),
                  padding_mode=draw(_PADDING_MODE_ARG))
    if name.startswith("max"):
        kwargs.update(kernel_size=draw(maybe(int_param(nd, 1, 4))), padding=draw(maybe(int_param(nd, 0, 2))))
    return _call(draw, name, [x], kwargs)


_SIZE = mixture((85, st.integers(1, 5)), (10, st.none()), (5, st.sampled_from((0, -1) + HUGE_INTS)))
_OUTPUT_SIZE = mixture((40, _SIZE.filter(lambda v: v is not None)), (50, st.tuples(_SIZE, _SIZE)),
                       (5, st.lists(_SIZE, max_size=3)), (5, junk()))


@cached
@st.composite
def adaptive_call(draw, name, dtypes):
    dtype = draw(float_dtypes(dtypes))
    layout = draw(_LAYOUT_ARG)
    x_shape = _images(draw(_BATCH), draw(_small(1, 4)), [draw(_small(1, 9)) for _ in range(2)], layout == "NHWC")
    kwargs = {"layout": layout}
    if name.startswith("adaptive"):
        kwargs["output_size"] = draw(_OUTPUT_SIZE)
    if name == "adaptive_max_pool2d":
        kwargs["return_indices"] = draw(_FLAG_ARG)
    return _call(draw, name, [draw(array_specs(x_shape, dtype))], kwargs)


@cached
@st.composite
def relu_call(draw, name, dtypes):
    x = draw(array_specs(draw(any_shape()), draw(float_dtypes(dtypes))))
    return _call(draw, name, [x], {}, out_allowed=True)


# --------------------------------------------------------------------------- pool and relu backward


_MAX_FORWARDS = ("max_pool2d", "max_pool1d", "adaptive_max_pool2d", "global_max_pool2d")


def _output_shape(x_shape, nd, kwargs, output_sizes):
    """A pool's output shape for input x_shape, its spatial sizes output_sizes(sizes), or None
    when the forward refuses the arguments."""
    nhwc = kwargs.get("layout") == "NHWC"
    try:
        if len(x_shape) not in (nd + 1, nd + 2):
            return None
        lead = tuple(x_shape[:-nd - 1]) if nhwc else tuple(x_shape[:-nd])
        outs = tuple(output_sizes(tuple(x_shape[-nd - 1:-1]) if nhwc else tuple(x_shape[-nd:])))
        return lead + outs + tuple(x_shape[-1:]) if nhwc else lead + outs
    except Exception:  # noqa: BLE001 - any refusal: grad_out then gets any shape
        return None


def _pool_output_shape(forward, x_shape, kwargs):
    """The pool forward's output shape for these arguments, or None when it refuses them."""
    nd = 1 if forward in POOL_1D else 2

    def outs(sizes):
        if forward.startswith("global"):
            return (1, 1)
        if forward.startswith("adaptive"):
            return _args.adaptive_output_size(kwargs.get("output_size"), sizes, 2)
        return _args.pool_geometry(sizes, kwargs.get("kernel_size"), kwargs.get("stride"), kwargs.get("padding", 0),
                                   kwargs.get("dilation", 1), kwargs.get("ceil_mode", False), nd)[4]

    return _output_shape(x_shape, nd, kwargs, outs)


_X_SHAPE_JUNK = mixture((70, junk()), (30, st.sampled_from(((1, 2), (0, 1, 2, 3, 4), (1, 1, -2, 3), [1, 1, 2, 2]))))


@cached
@st.composite
def pool_backward_call(draw, name, dtypes):
    """A pool (or relu) forward call's arguments, after a grad_out of its output's shape
    (mostly), the int64 indices the max pools take (small values: mostly valid, some not),
    and x_shape (or x itself for lp_pool2d and relu)."""
    forward = name.removesuffix("_backward")
    call = draw(CALLS[forward](forward, dtypes))
    x = call.args[0]
    dtype = x.dtype if x.dtype in GOOD_DTYPES else draw(float_dtypes(dtypes))
    if forward == "relu":
        shape = tuple(x.shape) if draw(_ONE_IN_FIVE) else draw(any_shape())
        return _call(draw, name, [draw(array_specs(shape, dtype)), x], {})
    kwargs = {k: v for k, v in call.kwargs.items() if k != "return_indices"}
    shape = _pool_output_shape(forward, tuple(x.shape), kwargs)
    grad_out = draw(array_specs(shape if shape is not None and draw(_ONE_IN_FIVE) else draw(any_shape()), dtype))
    if forward == "lp_pool2d":
        return _call(draw, name, [grad_out, x], kwargs)
    x_shape = tuple(x.shape) if draw(_ONE_IN_THIRTY) else draw(_X_SHAPE_JUNK)
    if forward in _MAX_FORWARDS:
        indices = draw(array_specs(grad_out.shape, "int64"))
        layout = {"layout": kwargs["layout"]} if "layout" in kwargs else {}
        return _call(draw, name, [grad_out, indices, x_shape], layout)
    if forward.startswith(("adaptive", "global")):
        kwargs.pop("output_size", None)
    return _call(draw, name, [grad_out, x_shape], kwargs)


def _blur_output_shape(forward, x_shape, kwargs):
    """The blur pool forward's output shape for these arguments, or None when it refuses them."""
    nd = 1 if forward.endswith("1d") else 2

    def outs(sizes):
        if forward.startswith("max"):
            sizes = _args.pool_geometry(sizes, kwargs.get("kernel_size", 2), 1, kwargs.get("padding", 0), 1, False,
                                        nd)[4]
        geometry = BlurGeometry((1,) * (2 - nd) + tuple(sizes), kwargs.get("filter_size", 4), kwargs.get("stride", 2),
                                kwargs.get("padding_mode", "reflect"), nd)
        return geometry.outs[2 - nd:]

    return _output_shape(x_shape, nd, kwargs, outs)


@cached
@st.composite
def blur_backward_call(draw, name, dtypes):
    """grad_out (mostly the forward output's shape) and x_shape, or x itself for max-blur
    pooling (its max is recomputed), with the forward call's options."""
    forward = name.removesuffix("_backward")
    call = draw(CALLS[forward](forward, dtypes))
    x = call.args[0]
    dtype = x.dtype if x.dtype in GOOD_DTYPES else draw(float_dtypes(dtypes))
    shape = _blur_output_shape(forward, tuple(x.shape), call.kwargs)
    grad_out = draw(array_specs(shape if shape is not None and draw(_ONE_IN_FIVE) else draw(any_shape()), dtype))
    if forward.startswith("max"):
        return _call(draw, name, [grad_out, x], call.kwargs)
    x_shape = tuple(x.shape) if draw(_ONE_IN_FIVE) else draw(_X_SHAPE_JUNK)
    return _call(draw, name, [grad_out, x_shape], call.kwargs)


CALLS = {
    "conv2d": conv_call, "conv1d": conv_call, "conv_transpose2d": conv_call,
    "conv2d_backward": conv_backward_call, "conv1d_backward": conv_backward_call,
    "conv_transpose2d_backward": conv_backward_call,
    **{f"{name}_backward": pool_backward_call for name in (
        "max_pool2d", "max_pool1d", "adaptive_max_pool2d", "global_max_pool2d", "avg_pool2d", "avg_pool1d",
        "sum_pool2d", "sum_pool1d", "lp_pool2d", "adaptive_avg_pool2d", "global_avg_pool2d", "relu")},
    "correlate2d": correlate_call, "convolve2d": correlate_call,
    "max_pool2d": pool_call, "avg_pool2d": pool_call, "sum_pool2d": pool_call, "lp_pool2d": pool_call,
    "max_pool1d": pool_call, "avg_pool1d": pool_call, "sum_pool1d": pool_call,
    "adaptive_avg_pool2d": adaptive_call, "adaptive_max_pool2d": adaptive_call,
    "global_avg_pool2d": adaptive_call, "global_max_pool2d": adaptive_call,
    "relu": relu_call,
    "blur_pool2d": blur_call, "blur_pool1d": blur_call, "max_blur_pool2d": blur_call, "max_blur_pool1d": blur_call,
    **{f"{name}_backward": blur_backward_call
       for name in ("blur_pool2d", "blur_pool1d", "max_blur_pool2d", "max_blur_pool1d")},
}


def calls(name, dtypes=GOOD_DTYPES):
    """The strategy of Calls of fastconv.<name>, its float arrays of one of ``dtypes``."""
    return CALLS[name](name, dtypes)


def array_args(call):
    """(position or keyword, ArraySpec) of every array argument of a call."""
    found = [(i, a) for i, a in enumerate(call.args) if isinstance(a, ArraySpec)]
    return found + [(k, v) for k, v in call.kwargs.items() if isinstance(v, ArraySpec)]
