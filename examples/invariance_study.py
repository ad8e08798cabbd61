"""Structure or data? The digits network of examples/train_digits.py trained four ways,
{max pooling, max-blur pooling} x {no augmentation, random-shift augmentation}, and measured
for how its predictions and feature maps follow a shifted input.

    conv 5x5 (1 -> 16) -> ReLU -> pool -> conv 5x5 (16 -> 32) -> ReLU -> pool
    -> fully connected (32*4*4 -> 10) -> softmax

"pool" is either max pooling, ``fastconv.max_pool2d(x, 2, 2)``, or R. Zhang's anti-aliased
max-blur pooling ("Making Convolutional Networks Shift-Invariant Again", ICML 2019),
``fastconv.max_blur_pool2d(x, kernel_size=2, stride=2, filter_size=4)``: the 2x2 max at
stride 1, then a 4x4 binomial blur at stride 2; both map the 24x24 and 8x8 maps to 12x12
and 4x4. (Twice train_digits.py's channels: its digits stand still, these move.)
Convolutions, ReLUs and pools, forward and backward, run in fastconv; the fully connected
layer, the loss and plain mini-batch SGD (batch 32, step size falling linearly from 0.1 to
0 over 30 epochs) are NumPy. Every variant starts from the same weights and sees the same
batches.

Data: scikit-learn's 8x8 digits, upsampled bilinearly to 16x16 and pasted on a 28x28 canvas
(zeros elsewhere, then standardised with the training canvases' mean and standard deviation);
a stratified 75/25 split. Training digits sit at random offsets 0..12 along each axis; test
digits at random offsets 4..8, so that a shift of up to 4 pixels keeps a test digit's whole
16x16 box on the canvas and within the training offsets, and a circular shift is an exact
translation of the digit over the constant background. Random-shift augmentation re-places
each training batch's digits at fresh random offsets 0..12 (a shift that keeps the digit on
the canvas), every epoch anew.

Reported for each variant, on the test set:

- test accuracy;
- shift consistency at d = 1..8 pixels: the probability that two shifted copies of a test
  image whose offsets differ by d pixels in a random direction (along a random axis) get the
  same class. Each trial draws a test image, an axis, and the pair's position: the first
  copy's shift uniform in [-4, 4 - d] along the axis, the second d pixels further, both
  sharing a shift uniform in [-4, 4] across it; so no copy moves more than 4 pixels and
  shifts are exact (``fastconv.invariance.shift``, circular). This is R. Zhang's consistency
  with a fixed distance between the pair instead of two independent shifts in [-d, d]
  (which, at d = 8, would move a digit 8 pixels: off this canvas). The same pairs for every variant; at 2,000 pairs
  a value has a standard error of 0.003 (near 0.98) to 0.007 (near 0.9);
- the shift-equivariance error of each feature map (after conv1+ReLU, pool1, conv2+ReLU,
  pool2) for the 1-pixel shifts (1, 0) and (0, 1) (odd: not a multiple of any stride):
  ``fastconv.invariance.shift_equivariance_error`` with the layer's total stride (1, 2, 2,
  4), relative to the digit's response: sqrt(mean over the two shifts of sum(error**2)) /
  sqrt(sum((map - map of a blank canvas)**2)), sums over 200 test images, channels and
  positions. The images are first extended by 24 background pixels on each side (the
  layers before the fully connected one take any size), so that every map is background
  near its edges and a circular shift is an exact translation in all of them. Zero means
  the map moved with the input exactly (by 1 / stride, the fraction by band-limited
  interpolation); conv1 (stride 1) is exactly equivariant.

It writes a PNG (consistency against shift, one line per variant; the per-layer errors
beside it) and a Markdown table, and prints the table:

    python examples/invariance_study.py                 # full run, 2-3 minutes on 2 cores
    python examples/invariance_study.py --quick         # seconds: small subsets, 1 epoch
    python examples/invariance_study.py --plot out.png --table out.md --threads 2
"""

import argparse
import os
import sys
import time
from collections import namedtuple

import numpy as np

import fastconv
from fastconv import invariance

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CANVAS = 28  # canvas side
DIGIT = 16  # upsampled digit side
MARGIN = 4  # test digits' distance from the canvas edges: the largest shift of one copy
MAX_SHIFT = 2 * MARGIN  # largest distance between the two copies whose classes are compared
KERNEL = 5
CHANNELS = (1, 16, 32)
CLASSES = 10
POOLS = ("max", "max-blur")
VARIANTS = tuple((pool, augment) for pool in POOLS for augment in (False, True))
LAYERS = ("conv1", "pool1", "conv2", "pool2")
LAYER_STRIDES = {"conv1": 1, "pool1": 2, "conv2": 2, "pool2": 4}
ODD_SHIFTS = ((1, 0), (0, 1))
EQUIVARIANCE_PAD = 24  # background added around a test image before measuring equivariance

# Sizes of a run: None = the whole split. --quick is the test's smoke run.
FULL = {"train": None, "test": None, "epochs": 30, "trials": 2000, "equivariance_images": 200}
QUICK = {"train": 200, "test": 60, "epochs": 1, "trials": 64, "equivariance_images": 12}

Data = namedtuple("Data", "digits_train x_train y_train x_test y_test mean std")


# --------------------------------------------------------------------------- data


def interpolation_matrix(n_in, n_out):
    """(n_out, n_in) linear-interpolation weights with half-pixel centres (out = M @ in),
    edge values held beyond the outermost centres."""
    centres = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    return np.stack([np.interp(centres, np.arange(n_in), basis) for basis in np.eye(n_in)], axis=1)


def upsampled_digits(side=DIGIT):
    """All scikit-learn digits as float32 (N, side, side) images in [0, 1], and their labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    m = interpolation_matrix(8, side)
    return (m @ (digits.images / 16.0) @ m.T).astype(np.float32), digits.target


def random_offsets(rng, n, low, high):
    """(n, 2) top-left corners (row, column), each uniform in low..high."""
    return rng.integers(low, high + 1, size=(n, 2))


def place(digits, offsets, canvas=CANVAS):
    """(N, 1, canvas, canvas) float32: digit i pasted with its top-left corner at offsets[i],
    zeros elsewhere."""
    n, side = len(digits), digits.shape[-1]
    rows = offsets[:, 0, None] + np.arange(side)
    cols = offsets[:, 1, None] + np.arange(side)
    out = np.zeros((n, 1, canvas, canvas), np.float32)
    out[np.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]] = digits
    return out


def load_data(seed=0, n_train=None, n_test=None):
    """The placed, standardised digits (``Data``); n_train / n_test take stratified subsets."""
    from sklearn.model_selection import train_test_split

    digits, labels = upsampled_digits()
    sizes = {"train_size": n_train, "test_size": n_test if n_test else 0.25}
    train, test = train_test_split(np.arange(len(labels)), random_state=seed, stratify=labels, **sizes)
    rng = np.random.default_rng([seed, 1])
    offsets_train = random_offsets(rng, len(train), 0, CANVAS - DIGIT)
    offsets_test = random_offsets(rng, len(test), MARGIN, CANVAS - DIGIT - MARGIN)
    raw_train = place(digits[train], offsets_train)
    mean, std = np.float32(raw_train.mean()), np.float32(raw_train.std())
    return Data(digits[train], (raw_train - mean) / std, labels[train],
                (place(digits[test], offsets_test) - mean) / std, labels[test], mean, std)


def shifted_batch(data, idx, rng):
    """Training images idx with their digits re-placed at fresh random offsets (random-shift
    augmentation: the digit moves, and stays whole on the canvas)."""
    offsets = random_offsets(rng, len(idx), 0, CANVAS - DIGIT)
    return (place(data.digits_train[idx], offsets) - data.mean) / data.std


# --------------------------------------------------------------------------- the network


def pool_forward(pool, a):
    """(pooled map, max-pool indices or None)."""
    if pool == "max":
        return fastconv.max_pool2d(a, 2, 2, return_indices=True)
    return fastconv.max_blur_pool2d(a, kernel_size=2, stride=2, filter_size=4), None


def pool_backward(pool, grad_out, a, indices):
    """dL/da from dL/d(pool(a))."""
    if pool == "max":
        return fastconv.max_pool2d_backward(grad_out, indices, a.shape)
    return fastconv.max_blur_pool2d_backward(grad_out, a, kernel_size=2, stride=2, filter_size=4, padding=0,
                                             padding_mode="reflect")


def feature_maps(params, x, pool):
    """The maps after conv1+ReLU, pool1, conv2+ReLU and pool2 (dict by LAYERS), and the
    max-pool indices (None for max-blur)."""
    conv1 = fastconv.conv2d(x, params["w1"], params["b1"], activation="relu")
    pool1, indices1 = pool_forward(pool, conv1)
    conv2 = fastconv.conv2d(pool1, params["w2"], params["b2"], activation="relu")
    pool2, indices2 = pool_forward(pool, conv2)
    return {"conv1": conv1, "pool1": pool1, "conv2": conv2, "pool2": pool2}, (indices1, indices2)


def init_params(seed, pool, side=CANVAS, dtype=np.float32):
    """He-normal weights, zero biases; the fully connected layer's width from a dummy forward
    pass of one side x side image."""
    rng = np.random.default_rng([seed, 2])
    c0, c1, c2 = CHANNELS

    def he(*shape):
        return (rng.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[1:]))).astype(dtype)

    params = {"w1": he(c1, c0, KERNEL, KERNEL), "b1": np.zeros(c1, dtype),
              "w2": he(c2, c1, KERNEL, KERNEL), "b2": np.zeros(c2, dtype)}
    width = feature_maps(params, np.zeros((1, c0, side, side), dtype), pool)[0]["pool2"].size
    params.update(w3=he(CLASSES, width), b3=np.zeros(CLASSES, dtype))
    return params


def forward(params, x, pool):
    """Logits (N, 10) and what the backward pass needs."""
    maps, indices = feature_maps(params, x, pool)
    flat = maps["pool2"].reshape(len(x), -1)
    return flat @ params["w3"].T + params["b3"], (x, maps, indices, flat)


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy and its gradient with respect to the logits."""
    log_p = logits - logits.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    rows = np.arange(len(labels))
    grad = np.exp(log_p)
    grad[rows, labels] -= 1.0
    return float(-log_p[rows, labels].mean()), (grad / len(labels)).astype(logits.dtype)


def backward(params, cache, grad_logits, pool):
    """Every parameter's gradient from dL/dlogits."""
    x, maps, (indices1, indices2), flat = cache
    grads = {"w3": grad_logits.T @ flat, "b3": grad_logits.sum(axis=0)}
    g = (grad_logits @ params["w3"]).reshape(maps["pool2"].shape)
    # conv2d's fused ReLU is positive exactly where its input is, so relu_backward takes the output
    g = fastconv.relu_backward(pool_backward(pool, g, maps["conv2"], indices2), maps["conv2"])
    conv2 = fastconv.conv2d_backward(g, maps["pool1"], params["w2"])
    g = fastconv.relu_backward(pool_backward(pool, conv2["input"], maps["conv1"], indices1), maps["conv1"])
    conv1 = fastconv.conv2d_backward(g, x, params["w1"], needs=("weight", "bias"))
    grads.update(w2=conv2["weight"], b2=conv2["bias"], w1=conv1["weight"], b1=conv1["bias"])
    return grads


def predictor(params, pool, batch_size=500):
    """images -> predicted classes."""
    def predict(images):
        return np.concatenate([forward(params, images[i:i + batch_size], pool)[0].argmax(axis=1)
                               for i in range(0, len(images), batch_size)])
    return predict


# --------------------------------------------------------------------------- training


def variant_name(pool, augment):
    return f"{pool}, {'shift augmentation' if augment else 'no augmentation'}"


def progress(label, epoch, epochs, done, total, loss, width=24):
    bar = "#" * (width * done // total)
    sys.stderr.write(f"\r  {label:<30} epoch {epoch + 1:2d}/{epochs} [{bar:.<{width}}] {done}/{total} "
                     f"loss {loss:.4f}")
    if done == total and epoch + 1 == epochs:
        sys.stderr.write("\n")
    sys.stderr.flush()


def train(data, pool, augment, epochs, lr=0.1, batch_size=32, seed=0, show=True):
    """Trained parameters: SGD whose step size falls linearly from lr to 0 (so the last steps
    settle rather than rattle). The batch order (and, with augmentation, the offsets) depend
    on the seed only, so every variant sees the same batches."""
    params = init_params(seed, pool)
    order_rng, shift_rng = np.random.default_rng([seed, 3]), np.random.default_rng([seed, 4])
    n = len(data.y_train)
    per_epoch = max(1, n // batch_size)  # batches of batch_size or one more: no small remainder
    for epoch in range(epochs):
        batches = np.array_split(order_rng.permutation(n), per_epoch)
        losses = []
        for b, idx in enumerate(batches):
            x = shifted_batch(data, idx, shift_rng) if augment else data.x_train[idx]
            logits, cache = forward(params, x, pool)
            loss, grad_logits = softmax_cross_entropy(logits, data.y_train[idx])
            rate = lr * (1 - (epoch * per_epoch + b) / (epochs * per_epoch))
            for name, grad in backward(params, cache, grad_logits, pool).items():
                params[name] -= rate * grad
            losses.append(loss)
            if show and (b % 8 == 0 or b == len(batches) - 1):
                progress(variant_name(pool, augment), epoch, epochs, b + 1, len(batches), np.mean(losses))
    return params


# --------------------------------------------------------------------------- measurements


def shift_pairs(rng, trials, d, margin=MARGIN):
    """Two (trials, 2) arrays of shifts (dy, dx): per trial, d apart along a random axis, both
    within [-margin, margin] on each axis (d <= 2 * margin)."""
    along = rng.integers(-margin, margin - d + 1, trials)
    across = rng.integers(-margin, margin + 1, trials)
    axis = rng.integers(0, 2, trials)[:, None]
    first = np.where(axis == 0, np.stack([along, across], axis=1), np.stack([across, along], axis=1))
    return first, first + d * np.eye(2, dtype=int)[axis[:, 0]]


def shift_consistency(predict, images, d, trials, seed=0):
    """The fraction of trials whose two copies, shifted d pixels apart, get the same class."""
    rng = np.random.default_rng([seed, 5, d])
    chosen = rng.integers(0, len(images), trials)
    labels = [predict(np.stack([invariance.shift(images[i], tuple(s)) for i, s in zip(chosen, shifts)]))
              for shifts in shift_pairs(rng, trials, d)]
    return float(np.mean(labels[0] == labels[1]))


def consistency_by_shift(predict, images, trials, seed=0):
    """Shift consistency for d = 1..MAX_SHIFT."""
    return [shift_consistency(predict, images, d, trials, seed) for d in range(1, MAX_SHIFT + 1)]


def on_larger_canvas(images, pad=EQUIVARIANCE_PAD):
    """The images extended by ``pad`` background pixels on every side (the convolutions and
    pools take any size)."""
    return np.pad(images, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="edge")


def equivariance_by_layer(params, pool, images, chunk=25):
    """Each feature map's relative shift-equivariance error under ODD_SHIFTS:
    sqrt(mean over shifts of sum(error**2)) / sqrt(sum((map - blank map)**2)), sums over the
    images, channels and positions, the blank map being the layer's response to an empty
    canvas (so the background, trivially equivariant, counts in neither sum). The images are
    first moved onto a larger canvas, so that every map is background near its edges: a
    circular shift is then an exact translation in every map, and the fractional shifts of
    the target interpolate a map without a seam."""
    images = on_larger_canvas(images)
    blank = feature_maps(params, np.full_like(images[:1], images[0, 0, 0, 0]), pool)[0]
    squared_error, squared_response = dict.fromkeys(LAYERS, 0.0), dict.fromkeys(LAYERS, 0.0)
    for start in range(0, len(images), chunk):
        x = images[start:start + chunk]
        for layer in LAYERS:
            def layer_map(v, layer=layer):
                return feature_maps(params, v, pool)[0][layer]
            error = invariance.shift_equivariance_error(layer_map, x, ODD_SHIFTS, stride=LAYER_STRIDES[layer])
            squared_error[layer] += float(np.sum(np.square(error))) / len(ODD_SHIFTS)
            squared_response[layer] += float(np.sum(np.square(layer_map(x) - blank[layer], dtype=np.float64)))
    return {layer: float(np.sqrt(squared_error[layer] / squared_response[layer])) for layer in LAYERS}


def run_variant(data, pool, augment, settings, args):
    start = time.perf_counter()
    params = train(data, pool, augment, settings["epochs"], args.lr, args.batch_size, args.seed)
    seconds = time.perf_counter() - start
    predict = predictor(params, pool)
    return {"name": variant_name(pool, augment), "pool": pool, "augment": augment, "train_seconds": seconds,
            "accuracy": float(np.mean(predict(data.x_test) == data.y_test)),
            "consistency": consistency_by_shift(predict, data.x_test, settings["trials"], args.seed),
            "equivariance": equivariance_by_layer(params, pool, data.x_test[:settings["equivariance_images"]])}


# --------------------------------------------------------------------------- report


def markdown_table(results):
    shifts = range(1, MAX_SHIFT + 1)
    head = (["variant", "test accuracy"] + [f"consistency d={d}" for d in shifts]
            + [f"equivariance error {layer}" for layer in LAYERS])
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for r in results:
        cells = ([r["name"], f"{r['accuracy']:.4f}"] + [f"{c:.4f}" for c in r["consistency"]]
                 + [f"{r['equivariance'][layer]:.4f}" for layer in LAYERS])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def describe_run(settings, data, args):
    return (f"{len(data.y_train)} training and {len(data.y_test)} test digits on a {CANVAS}x{CANVAS} canvas; "
            f"{settings['epochs']} epochs, batch {args.batch_size}, SGD step size {args.lr} falling linearly "
            f"to 0, seed {args.seed}. "
            f"Shift consistency at d: the fraction of {settings['trials']} random pairs of copies of a test "
            f"image, shifted d pixels apart along a random axis (each at most {MARGIN} pixels from the "
            f"original), that get the same class. Equivariance error: relative RMS error of each feature map "
            f"for 1-pixel shifts (1, 0) and (0, 1) against the map shifted by 1/stride, over "
            f"{min(settings['equivariance_images'], len(data.y_test))} test images.")


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shifts = np.arange(1, MAX_SHIFT + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6))
    for r in results:
        style = {"linestyle": "-" if r["augment"] else "--", "marker": "o" if r["pool"] == "max" else "s"}
        left.plot(shifts, r["consistency"], label=f"{r['name']} (test accuracy {r['accuracy']:.1%})", **style)
        right.plot(LAYERS, [r["equivariance"][layer] for layer in LAYERS], **style)
    left.set(xlabel="distance d between the two shifted copies (pixels)", ylabel="shift consistency",
             title="Same class for two copies d pixels apart")
    right.set(xlabel="feature map", ylabel="relative RMS error", title="Equivariance error, 1-pixel shifts")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.legend(loc="lower center", ncol=2, fontsize=9)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, help=f"default {FULL['epochs']} ({QUICK['epochs']} with --quick)")
    parser.add_argument("--lr", type=float, default=0.1, help="initial SGD step size (default 0.1)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="fastconv threads (default 1: batches of 32 small images are too little to share)")
    parser.add_argument("--quick", action="store_true", help="small subsets, 1 epoch, few trials (a smoke run)")
    parser.add_argument("--plot", default=os.path.join(REPO, "examples", "invariance_study.png"))
    parser.add_argument("--table", default=os.path.join(REPO, "examples", "invariance_study.md"))
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    settings = dict(QUICK if args.quick else FULL)
    if args.epochs is not None:
        settings["epochs"] = args.epochs
    data = load_data(args.seed, settings["train"], settings["test"])
    print(describe_run(settings, data, args))
    threads_before = fastconv.get_num_threads()
    fastconv.set_num_threads(args.threads)
    results = []
    try:
        for pool, augment in VARIANTS:
            results.append(run_variant(data, pool, augment, settings, args))
            print(f"  {results[-1]['name']}: test accuracy {results[-1]['accuracy']:.2%}, "
                  f"trained in {results[-1]['train_seconds']:.1f} s", file=sys.stderr)
    finally:
        fastconv.set_num_threads(threads_before)
    table = markdown_table(results)
    with open(args.table, "w") as f:
        f.write(describe_run(settings, data, args) + "\n\n" + table)
    plot(results, args.plot)
    print(table, end="")
    return results


if __name__ == "__main__":
    main()
