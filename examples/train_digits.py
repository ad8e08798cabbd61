"""Train the seed articles' convolutional network on scikit-learn's handwritten digits,
with NumPy and fastconv only, then time the same network in PyTorch beside it.

    conv 5x5 (1 -> 8) -> ReLU -> max pool 2x2 -> conv 5x5 (8 -> 16) -> ReLU -> max pool 2x2
    -> fully connected (256 -> 10) -> softmax

The 8x8 digits (bundled with scikit-learn, no download) are upsampled bilinearly to 28x28
and standardised, so the feature maps are 24x24, 12x12, 8x8 and 4x4. Training is plain mini-batch SGD on the
cross-entropy; the convolutions, ReLUs and pools and their gradients run in fastconv, the
fully connected layer and the loss in NumPy.

    python examples/train_digits.py                # fastconv and PyTorch at 1 and 2 threads
    python examples/train_digits.py --no-torch --threads 2
"""

import argparse
import sys
import time

import numpy as np

import fastconv

SIDE = 28  # upsampled image side
KERNEL = 5
CHANNELS = (1, 8, 16)
CLASSES = 10
FEATURES = CHANNELS[-1] * 4 * 4  # 28 -conv-> 24 -pool-> 12 -conv-> 8 -pool-> 4


# --------------------------------------------------------------------------- data


def bilinear_matrix(n_in, n_out):
    """(n_out, n_in) matrix of bilinear interpolation with half-pixel centres (as PIL and
    torch's align_corners=False): out = M @ in along one axis."""
    centres = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    lo = np.clip(np.floor(centres).astype(int), 0, n_in - 1)
    hi = np.clip(lo + 1, 0, n_in - 1)
    frac = np.clip(centres - lo, 0.0, 1.0)
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), lo] += 1.0 - frac
    m[np.arange(n_out), hi] += frac
    return m


def load_digits_28(test_fraction=0.25, seed=0):
    """(x_train, y_train, x_test, y_test): float32 (N, 1, 28, 28) images standardised with the
    training images' mean and standard deviation, int labels; a stratified held-out split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    m = bilinear_matrix(8, SIDE)
    images = np.einsum("ij,njk,lk->nil", m, digits.images / 16.0, m).astype(np.float32)[:, None]
    x_train, x_test, y_train, y_test = train_test_split(images, digits.target, test_size=test_fraction,
                                                        random_state=seed, stratify=digits.target)
    mean, std = x_train.mean(), x_train.std()
    return (x_train - mean) / std, y_train, (x_test - mean) / std, y_test


# --------------------------------------------------------------------------- the network


def init_params(seed=0, dtype=np.float32):
    """He-normal filters and weights, zero biases."""
    rng = np.random.default_rng(seed)
    c0, c1, c2 = CHANNELS

    def he(shape, fan_in):
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)

    return {"w1": he((c1, c0, KERNEL, KERNEL), c0 * KERNEL * KERNEL), "b1": np.zeros(c1, dtype),
            "w2": he((c2, c1, KERNEL, KERNEL), c1 * KERNEL * KERNEL), "b2": np.zeros(c2, dtype),
            "w3": he((CLASSES, FEATURES), FEATURES), "b3": np.zeros(CLASSES, dtype)}


def forward(params, x):
    """Logits (N, 10) and what the backward pass needs."""
    # conv2d's fused ReLU: relu(z) > 0 exactly where z > 0, so relu_backward can take the output.
    a1 = fastconv.conv2d(x, params["w1"], params["b1"], activation="relu")
    p1, i1 = fastconv.max_pool2d(a1, 2, return_indices=True)
    a2 = fastconv.conv2d(p1, params["w2"], params["b2"], activation="relu")
    p2, i2 = fastconv.max_pool2d(a2, 2, return_indices=True)
    flat = p2.reshape(len(x), FEATURES)
    logits = flat @ params["w3"].T + params["b3"]
    return logits, (x, a1, p1, i1, a2, p2, i2, flat)


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax(logits) and its gradient with respect to the logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_prob = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(labels)
    loss = -log_prob[np.arange(n), labels].mean()
    grad = np.exp(log_prob)
    grad[np.arange(n), labels] -= 1.0
    return float(loss), (grad / n).astype(logits.dtype)


def backward(params, cache, grad_logits):
    """Gradients of the loss with respect to every parameter, from dL/dlogits."""
    x, a1, p1, i1, a2, p2, i2, flat = cache
    grads = {"w3": grad_logits.T @ flat, "b3": grad_logits.sum(axis=0)}
    g = (grad_logits @ params["w3"]).reshape(p2.shape)
    g = fastconv.relu_backward(fastconv.max_pool2d_backward(g, i2, a2.shape), a2)
    conv2 = fastconv.conv2d_backward(g, p1, params["w2"])
    grads["w2"], grads["b2"] = conv2["weight"], conv2["bias"]
    g = fastconv.relu_backward(fastconv.max_pool2d_backward(conv2["input"], i1, a1.shape), a1)
    conv1 = fastconv.conv2d_backward(g, x, params["w1"], needs=("weight", "bias"))
    grads["w1"], grads["b1"] = conv1["weight"], conv1["bias"]
    return grads


def sgd_step(params, grads, lr):
    for name, grad in grads.items():
        params[name] -= lr * grad


def predict(params, x, batch_size=512):
    return np.concatenate([forward(params, x[i:i + batch_size])[0].argmax(axis=1)
                           for i in range(0, len(x), batch_size)])


# --------------------------------------------------------------------------- training


def batch_order(n, batch_size, epochs, seed):
    """The index batches of every epoch, shuffled: the same for fastconv and PyTorch."""
    rng = np.random.default_rng(seed)
    return [[perm[i:i + batch_size] for i in range(0, n, batch_size)]
            for perm in (rng.permutation(n) for _ in range(epochs))]


def progress(epoch, epochs, done, total, loss, width=30):
    filled = width * done // total
    sys.stdout.write(f"\r  epoch {epoch + 1:2d}/{epochs} [{'#' * filled}{'.' * (width - filled)}] "
                     f"{done}/{total} loss {loss:.4f}")
    sys.stdout.flush()


def train(step, accuracy, batches, x, y, show=True):
    """Runs ``step(xb, yb) -> loss`` over the batches of each epoch; returns (training
    seconds, per-epoch (mean loss, test accuracy)). Accuracy is measured outside the clock."""
    seconds, history = 0.0, []
    for epoch, epoch_batches in enumerate(batches):
        losses = []
        for b, idx in enumerate(epoch_batches):
            start = time.perf_counter()
            losses.append(step(x[idx], y[idx]))
            seconds += time.perf_counter() - start
            if show and (b % 8 == 0 or b == len(epoch_batches) - 1):
                progress(epoch, len(batches), b + 1, len(epoch_batches), np.mean(losses))
        history.append((float(np.mean(losses)), accuracy()))
        if show:
            print(f"  test accuracy {history[-1][1]:.2%}  ({seconds:.2f} s so far)")
    return seconds, history


def fastconv_step(params, lr):
    def step(xb, yb):
        logits, cache = forward(params, xb)
        loss, grad_logits = softmax_cross_entropy(logits, yb)
        sgd_step(params, backward(params, cache, grad_logits), lr)
        return loss
    return step


def train_fastconv(data, args, threads, show=True):
    x_train, y_train, x_test, y_test = data
    fastconv.set_num_threads(threads)
    params = init_params(args.seed)
    batches = batch_order(len(x_train), args.batch_size, args.epochs, args.seed)
    seconds, history = train(fastconv_step(params, args.lr), lambda: np.mean(predict(params, x_test) == y_test),
                             batches, x_train, y_train, show)
    return seconds, history, params


def torch_network(params):
    """The same network in torch.nn, starting from the same weights (and dtype)."""
    import torch

    dtype = torch.from_numpy(params["w1"]).dtype
    net = torch.nn.Sequential(
        torch.nn.Conv2d(CHANNELS[0], CHANNELS[1], KERNEL, dtype=dtype), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(CHANNELS[1], CHANNELS[2], KERNEL, dtype=dtype), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(FEATURES, CLASSES, dtype=dtype))
    with torch.no_grad():
        for layer, (w, b) in zip((net[0], net[3], net[7]), (("w1", "b1"), ("w2", "b2"), ("w3", "b3"))):
            layer.weight.copy_(torch.from_numpy(params[w]))
            layer.bias.copy_(torch.from_numpy(params[b]))
    return net


def train_torch(data, args, threads, show=True):
    import torch

    x_train, y_train, x_test, y_test = data
    torch.set_num_threads(threads)
    net = torch_network(init_params(args.seed))
    optimizer = torch.optim.SGD(net.parameters(), lr=args.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    tx, ty, tx_test = torch.from_numpy(x_train), torch.from_numpy(y_train), torch.from_numpy(x_test)

    def step(xb, yb):
        optimizer.zero_grad()
        loss = loss_fn(net(xb), yb)
        loss.backward()
        optimizer.step()
        return loss.item()

    def accuracy():
        with torch.no_grad():
            return float((net(tx_test).argmax(dim=1).numpy() == y_test).mean())

    batches = [[torch.from_numpy(idx) for idx in epoch] for epoch in
               batch_order(len(x_train), args.batch_size, args.epochs, args.seed)]
    return train(step, accuracy, batches, tx, ty, show)[:2]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts to time (default 1,2)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    data = load_digits_28(seed=args.seed)
    print(f"digits: {len(data[0])} training and {len(data[2])} test images, 28x28; {args.epochs} epochs, "
          f"batch {args.batch_size}, SGD lr {args.lr}")
    try:
        import torch  # noqa: F401
        have_torch = not args.no_torch
    except ImportError:
        have_torch = False
    rows = []
    for threads in (int(t) for t in args.threads.split(",")):
        print(f"fastconv, {threads} thread(s):")
        seconds, history, _ = train_fastconv(data, args, threads)
        rows.append(("fastconv", threads, seconds, history[-1][1]))
        if have_torch:
            print(f"PyTorch {torch.__version__}, {threads} thread(s):")
            seconds, history = train_torch(data, args, threads)
            rows.append(("PyTorch", threads, seconds, history[-1][1]))
    print("\n| library | threads | training time | test accuracy |\n|---|---|---|---|")
    for name, threads, seconds, acc in rows:
        print(f"| {name} | {threads} | {seconds:.2f} s | {acc:.2%} |")
    return rows


if __name__ == "__main__":
    main()
