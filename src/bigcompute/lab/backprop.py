"""Forward and backward propagation of a dense ReLU network, by hand, in numpy.

The worked example of the source documents (004, sec. 4.3): input 100, two hidden layers of
500 with ReLU, output 10. With a_0 = x (a batch of B rows), for layers l = 1..L:

    z_l = a_{l-1} W_l^T + b_l            a_l = relu(z_l)    (the last layer: a_L = z_L)

The backward pass is the delta recursion, delta_l = dJ/dz_l:

    delta_L       = dJ/dz_L                     (softmax cross-entropy: (softmax(z_L) - Y) / B)
    dJ/dW_l       = delta_l^T a_{l-1}           dJ/db_l = sum over the batch of delta_l
    delta_{l-1}   = (delta_l W_l) * relu'(z_{l-1})

Weights are stored as torch's ``nn.Linear`` stores them, W_l of shape (n_out, n_in), so the
same numbers can be loaded into `bigcompute.lab.nets.MLPNet` and checked against autograd.

Every matrix product goes through a `FlopTally`, which counts 2mnk FLOPs for an (m x k) @
(k x n) product: the FLOPs of each step are counted from the code that does the work.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from ..errors import check_choice, check_positive_int, fail

__all__ = [
    "LOSSES", "FlopTally", "init_mlp", "relu", "softmax", "forward", "loss_and_delta",
    "backward", "gradients",
]

LOSSES = ("cross_entropy", "mse")


@dataclass
class FlopTally:
    """Matmul FLOPs counted by step ("forward", "backward") and by layer."""

    by_step: dict = field(default_factory=lambda: defaultdict(int))
    by_layer: dict = field(default_factory=lambda: defaultdict(int))

    def matmul(self, a: np.ndarray, b: np.ndarray, step: str, layer: str) -> np.ndarray:
        """a @ b, counting 2 x m x n x k FLOPs (one multiply and one add per term)."""
        (m, k), (k2, n) = a.shape, b.shape
        if k != k2:
            fail("shapes", (a.shape, b.shape), "inner dimensions that agree")
        self.by_step[step] += 2 * m * n * k
        self.by_layer[(step, layer)] += 2 * m * n * k
        return a @ b

    @property
    def total(self) -> int:
        return sum(self.by_step.values())


def init_mlp(sizes, seed: int = 0, dtype=np.float32) -> list[tuple[np.ndarray, np.ndarray]]:
    """Weights and biases [(W_1, b_1), ...], W_l of shape (n_out, n_in), drawn like
    ``nn.Linear``'s default: uniform in +-1/sqrt(n_in) (Kaiming-uniform with a = sqrt(5))."""
    sizes = tuple(sizes)
    if len(sizes) < 2:
        fail("sizes", sizes, "at least two sizes (inputs and outputs)")
    for n in sizes:
        check_positive_int("sizes", n)
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in itertools.pairwise(sizes):
        bound = 1.0 / np.sqrt(n_in)
        w = rng.uniform(-bound, bound, (n_out, n_in)).astype(dtype)
        b = rng.uniform(-bound, bound, n_out).astype(dtype)
        params.append((w, b))
    return params


def relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so exp never overflows."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def forward(params, x: np.ndarray, tally: FlopTally | None = None) -> dict:
    """The forward pass; returns the cache the backward pass needs: inputs a_{l-1} and
    pre-activations z_l of every layer (the last z is the output, the logits)."""
    tally = tally or FlopTally()
    a, inputs, zs = x, [], []
    for i, (w, b) in enumerate(params):
        inputs.append(a)
        z = tally.matmul(a, w.T, "forward", f"layer{i + 1}") + b
        zs.append(z)
        a = relu(z) if i < len(params) - 1 else z
    return {"inputs": inputs, "z": zs, "output": zs[-1]}


def loss_and_delta(output: np.ndarray, target: np.ndarray, loss: str = "cross_entropy"):
    """The loss J (a mean over the batch) and delta_L = dJ/dz_L.

    cross_entropy: ``target`` holds class indices; J = -mean log softmax(z)[target];
    delta_L = (softmax(z) - onehot(target)) / B.
    mse: ``target`` has the output's shape; J = mean over all elements of (z - target)^2
    (torch's MSELoss); delta_L = 2 (z - target) / (B x n_out).
    """
    check_choice("loss", loss, LOSSES)
    batch = output.shape[0]
    if loss == "cross_entropy":
        p = softmax(output)
        rows = np.arange(batch)
        value = -np.mean(np.log(p[rows, target]))
        delta = p.copy()
        delta[rows, target] -= 1
        return float(value), delta / batch
    diff = output - target
    return float(np.mean(diff**2)), 2 * diff / diff.size


def backward(params, cache: dict, delta: np.ndarray, tally: FlopTally | None = None,
             input_grad: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """The delta recursion: gradients [(dJ/dW_l, dJ/db_l), ...] from delta_L = dJ/dz_L.

    The input x needs no gradient, so the first layer computes only its weight gradient
    (``input_grad=True`` computes dJ/dx too, as a layer inside a bigger network would)."""
    tally = tally or FlopTally()
    grads = [None] * len(params)
    for i in reversed(range(len(params))):
        w, _ = params[i]
        a_prev = cache["inputs"][i]
        grads[i] = (tally.matmul(delta.T, a_prev, "backward", f"layer{i + 1}"),
                    delta.sum(axis=0))
        if i > 0 or input_grad:
            delta_prev = tally.matmul(delta, w, "backward", f"layer{i + 1}")
            if i > 0:  # relu'(z) is 1 where z > 0, else 0
                delta = delta_prev * (cache["z"][i - 1] > 0)
    return grads


def gradients(params, x, target, loss: str = "cross_entropy", tally: FlopTally | None = None):
    """Loss and gradients of one batch: forward, loss, backward. Returns (loss, grads)."""
    cache = forward(params, x, tally)
    value, delta = loss_and_delta(cache["output"], target, loss)
    return value, backward(params, cache, delta, tally)

