"""The training loop in torch: the source document's example fixed, a small reusable loop with a
progress bar and a loss history, where the time of a step goes, and synthetic data.

Chapter 3 uses it: 3.1 and 3.2 check the numpy code of `backprop` and `optimizers` against
autograd and ``torch.optim``; 3.4 trains the document's model; 3.7 trains teachers and students.
Everything is seeded; the data are generated, never downloaded.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import nets
from .configs import MLPConfig

# The model of source document 001, sec. 4: 1000 -> 500 -> 250 -> 100 -> 1, ReLU between.
DOCUMENTS_SIZES = (1000, 500, 250, 100, 1)
# The worked example of document 004, sec. 4.3: 100 -> 500 -> 500 -> 10, ReLU between.
WORKED_EXAMPLE_SIZES = (100, 500, 500, 10)


# ---------------------------------------------------------------- data, generated

def binary_task(n: int, n_features: int = DOCUMENTS_SIZES[0], seed: int = 0,
                rule_seed: int = 1234):
    """x ~ N(0, 1) of shape (n, n_features) and labels y = [x . w > 0] as floats of shape
    (n, 1), the shape BCEWithLogitsLoss expects. ``rule_seed`` fixes the hidden rule w (the
    same for a training and a test set drawn with different ``seed``s)."""
    w = torch.randn(n_features, generator=torch.Generator().manual_seed(rule_seed))
    x = torch.randn(n, n_features, generator=torch.Generator().manual_seed(seed))
    return x, (x @ w > 0).float().unsqueeze(1)


def classification_task(n: int, n_features: int = 100, n_classes: int = 10, seed: int = 0,
                        rule_seed: int = 1234, hidden: int = 8, label_noise: float = 0.0):
    """A nonlinear synthetic classification task: x ~ N(0, 1); the label is the argmax of a
    fixed random two-layer network (a tanh hidden layer of ``hidden`` units) applied to x, the
    same rule for every ``seed`` (draw training and test sets with different seeds).
    ``label_noise`` replaces that fraction of labels by random ones. Returns (x, y) with y
    int64 class indices."""
    rule = torch.Generator().manual_seed(rule_seed)
    a = torch.randn(n_features, hidden, generator=rule) / n_features**0.5
    b = torch.randn(hidden, n_classes, generator=rule)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, n_features, generator=g)
    y = (torch.tanh(x @ a) @ b).argmax(dim=1)
    if label_noise:
        flip = torch.rand(n, generator=g) < label_noise
        y = torch.where(flip, torch.randint(0, n_classes, (n,), generator=g), y)
    return x, y


def sequence_task(n: int, seq: int = 100, n_features: int = 10, n_classes: int = 10,
                  seed: int = 0, rule_seed: int = 1234, period: int = 5,
                  amplitude: float = 0.5):
    """Sequences of the shape document 003's LSTM expects, (n, seq, n_features): unit noise
    plus a class-specific motif of ``period`` steps repeated along the whole sequence (at a
    random phase), weaker than the noise at any one step. The label is the motif's class, so
    a model has to accumulate evidence along the sequence."""
    rule = torch.Generator().manual_seed(rule_seed)
    motifs = torch.randn(n_classes, period, n_features, generator=rule) * amplitude
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, n_classes, (n,), generator=g)
    phase = torch.randint(0, period, (n,), generator=g)
    t = (torch.arange(seq)[None, :] + phase[:, None]) % period
    x = torch.randn(n, seq, n_features, generator=g) + motifs[y[:, None], t]
    return x, y


# ---------------------------------------------------------------- the document's model

def documents_model(sigmoid_output: bool = False, seed: int = 0) -> nn.Module:
    """Document 001's ``BigModel`` (1000-500-250-100-1 with ReLU). With ``sigmoid_output`` it
    ends in a sigmoid as the document's does; without, it returns logits, which is what
    ``BCEWithLogitsLoss`` expects (the loss applies the sigmoid itself, stably)."""
    torch.manual_seed(seed)
    body = nets.build(MLPConfig(DOCUMENTS_SIZES))
    return nn.Sequential(body, nn.Sigmoid()) if sigmoid_output else body


def documents_training_step(model, x, labels, optimizer, loss_fn=None):
    """One step of the document's loop, verbatim: forward, loss, zero_grad, backward, step.
    With the document's integer labels of shape (n,) the loss raises ValueError."""
    loss_fn = loss_fn or nn.BCEWithLogitsLoss()
    outputs = model(x)
    loss = loss_fn(outputs, labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


# ---------------------------------------------------------------- a reusable loop

@dataclass
class History:
    """Loss after every step, and the wall time of the whole loop."""

    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def final_loss(self) -> float:
        return self.losses[-1]


def batches(n: int, batch_size: int, steps: int, seed: int = 0):
    """Index tensors of ``steps`` minibatches, reshuffling the n examples every epoch."""
    g = torch.Generator().manual_seed(seed)
    order, i = torch.randperm(n, generator=g), 0
    for _ in range(steps):
        if i + batch_size > n:
            order, i = torch.randperm(n, generator=g), 0
        yield order[i:i + batch_size]
        i += batch_size


def train(model, loss_fn, optimizer, x, y, steps: int, batch_size: int | None = None,
          seed: int = 0, progress: bool = True, desc: str = "training") -> History:
    """Minibatch training: for each step, forward, loss, zero_grad, backward, optimizer step.

    ``loss_fn(output, target)``; ``y`` may also be a tuple of tensors (targets, teacher
    outputs, ...), each indexed by the batch and passed on: ``loss_fn(output, *targets)``.
    ``batch_size=None`` uses the whole set every step. A tqdm progress bar shows the loss as
    it goes (``progress=False`` to hide it)."""
    # plain-text tqdm on stdout, redrawn at most every 2 s: it renders the same in JupyterLab,
    # in a terminal and on the book's website (a widget bar would need a kernel to show)
    from tqdm import tqdm

    history = History()
    model.train()
    index_batches = batches(len(x), batch_size or len(x), steps, seed)
    t0 = time.perf_counter()
    bar = tqdm(index_batches, total=steps, desc=desc, disable=not progress,
               file=sys.stdout, mininterval=2.0, ncols=90)
    targets = y if isinstance(y, tuple) else (y,)
    for idx in bar:
        loss = loss_fn(model(x[idx]), *(t[idx] for t in targets))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.losses.append(loss.item())
        if progress:
            bar.set_postfix(loss=f"{history.losses[-1]:.4f}", refresh=False)
    bar.close()
    history.seconds = time.perf_counter() - t0
    return history


@torch.no_grad()
def accuracy(model, x, y, batch_size: int = 4096) -> float:
    """Fraction of examples whose arg-max output (or, for one output, logit > 0) is y."""
    model.eval()
    correct = 0
    for i in range(0, len(x), batch_size):
        out = model(x[i:i + batch_size])
        pred = (out > 0).float() if out.shape[-1] == 1 else out.argmax(dim=-1)
        target = y[i:i + batch_size]
        correct += int((pred.reshape(target.shape) == target).sum())
    return correct / len(x)


# ---------------------------------------------------------------- where the time goes

PHASES = ("forward", "loss", "backward", "optimizer")


@contextlib.contextmanager
def _native_stderr_silenced():
    """Send the process's file descriptor 2 to /dev/null for a while: torch 2.13's profiler
    (Kineto) writes "profiler_start/stop" lines from C++ straight to it, which would land in
    the notebook's output. Python's own sys.stderr is untouched."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def profile_training_step(model, loss_fn, optimizer, x, y, steps: int = 5,
                          warmup: int = 2) -> dict:
    """Run ``steps`` training steps under ``torch.profiler`` (CPU) with each phase labelled
    by ``record_function``. Returns the mean seconds per step of each phase ("forward",
    "loss", "backward", "optimizer") and the profiler's table of the busiest operators."""
    from torch.profiler import ProfilerActivity, profile, record_function

    def step():
        with record_function("forward"):
            out = model(x)
        with record_function("loss"):
            loss = loss_fn(out, y)
        with record_function("backward"):
            optimizer.zero_grad()
            loss.backward()
        with record_function("optimizer"):
            optimizer.step()

    for _ in range(warmup):
        step()
    with _native_stderr_silenced(), profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    averages = prof.key_averages()
    seconds = {e.key: e.cpu_time_total / 1e6 / steps for e in averages if e.key in PHASES}
    table = averages.table(sort_by="cpu_time_total", row_limit=12, max_name_column_width=34)
    return {"seconds": {p: seconds.get(p, 0.0) for p in PHASES}, "table": table}


def forward_backward_seconds(model, loss_fn, x, y, repeats: int = 7) -> tuple[float, float]:
    """Best wall seconds (of ``repeats``, after a warm-up) of the forward pass with the loss,
    and of the backward pass. The best run is the one least disturbed by other work on the
    machine, the right estimate of what the hardware does (as in `machine`)."""
    fwd, bwd = [], []
    for i in range(repeats + 1):
        model.zero_grad()
        t0 = time.perf_counter()
        loss = loss_fn(model(x), y)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        if i:  # the first run warms up
            fwd.append(t1 - t0)
            bwd.append(t2 - t1)
    return min(fwd), min(bwd)


# ---------------------------------------------------------------- numpy <-> torch

def mlp_from_numpy(params, dtype=torch.float32) -> nn.Module:
    """An `nets.MLPNet` holding the weights [(W, b), ...] of `backprop.init_mlp`."""
    sizes = (params[0][0].shape[1],) + tuple(w.shape[0] for w, _ in params)
    model = nets.build(MLPConfig(sizes)).to(dtype)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for layer, (w, b) in zip(linears, params):
            layer.weight.copy_(torch.from_numpy(np.asarray(w)))
            layer.bias.copy_(torch.from_numpy(np.asarray(b)))
    return model


def numpy_params(model) -> list[tuple[np.ndarray, np.ndarray]]:
    """The [(W, b), ...] of an MLP's linear layers, as numpy copies."""
    return [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy())
            for m in model if isinstance(m, nn.Linear)]


def autograd_gradients(model, x, target, loss: str = "cross_entropy"):
    """Loss and [(dW, db), ...] of an MLP from torch autograd, for `backprop.gradients`."""
    model.zero_grad()
    out = model(torch.as_tensor(x))
    t = torch.as_tensor(target)
    value = F.cross_entropy(out, t) if loss == "cross_entropy" else F.mse_loss(out, t)
    value.backward()
    return value.item(), [(m.weight.grad.numpy().copy(), m.bias.grad.numpy().copy())
                          for m in model if isinstance(m, nn.Linear)]


def max_abs_difference(a, b) -> float:
    """Largest |a - b| over two equally structured lists of (W, b) pairs (or of arrays)."""
    flat_a = [np.asarray(t) for pair in a for t in (pair if isinstance(pair, tuple) else (pair,))]
    flat_b = [np.asarray(t) for pair in b for t in (pair if isinstance(pair, tuple) else (pair,))]
    return max(float(np.max(np.abs(u - v))) for u, v in zip(flat_a, flat_b))


TORCH_OPTIMIZERS = {
    "sgd": lambda params, lr: torch.optim.SGD(params, lr=lr),
    "momentum": lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9),
    "adam": lambda params, lr: torch.optim.Adam(params, lr=lr),
}


class HandOptimizer:
    """The numpy update rules of `optim_cost` (sgd, momentum, adam, or "seed004-adam", the
    source document's wrong Adam) applied to one flat parameter vector, keeping their state
    between steps as torch.optim does."""

    def __init__(self, name: str, lr: float, momentum: float = 0.9, betas=(0.9, 0.999)):
        from .errors import check_choice

        check_choice("name", name, ("sgd", "momentum", "adam", "seed004-adam"))
        self.name, self.lr, self.momentum, self.betas = name, lr, momentum, betas
        self.t, self.state = 0, None

    def step(self, params: np.ndarray, grads: np.ndarray) -> np.ndarray:
        """The parameters after one step (a new array)."""
        from . import optim_cost

        self.t += 1
        if self.name == "sgd":
            return optim_cost.sgd_step(params, grads, self.lr)
        if self.name == "momentum":
            velocity = np.zeros_like(params) if self.state is None else self.state
            params, self.state = optim_cost.momentum_step(params, grads, velocity, self.lr,
                                                          self.momentum)
            return params
        m, v = (np.zeros_like(params), np.zeros_like(params)) if self.state is None \
            else self.state
        rule = optim_cost.adam_step if self.name == "adam" else optim_cost.adam_step_seed004
        out = rule(params, grads, m, v, self.t, lr=self.lr, betas=self.betas)
        self.state = (out.m, out.v)
        return out.params


def train_with_hand_optimizer(name: str, lr: float, x, y, sizes=WORKED_EXAMPLE_SIZES,
                              steps: int = 100, batch_size: int = 128, seed: int = 0,
                              loss_scale: float = 1.0, progress: bool = True) -> History:
    """Train an MLP whose gradients come from autograd and whose updates come from the numpy
    rule ``name`` (`HandOptimizer`, e.g. "seed004-adam"). ``loss_scale`` multiplies the loss
    (and so every gradient): a well-designed rule like Adam does not care. The history
    records the unscaled loss; losses that overflow are kept (inf/nan), since the point may be
    to watch a rule diverge."""
    from tqdm import tqdm

    torch.manual_seed(seed)
    model = nets.build(MLPConfig(tuple(sizes)))
    hand = HandOptimizer(name, lr)
    flat = flat_parameters(model)
    history = History()
    t0 = time.perf_counter()
    for idx in tqdm(batches(len(x), batch_size, steps, seed), total=steps, desc=name,
                    disable=not progress, file=sys.stdout, mininterval=2.0, ncols=90):
        model.zero_grad()
        loss = F.cross_entropy(model(x[idx]), y[idx])
        (loss * loss_scale).backward()
        history.losses.append(loss.item())
        with np.errstate(over="ignore", invalid="ignore"):
            flat = hand.step(flat, flat_gradients(model))
        _load_flat(model, flat)
    history.seconds = time.perf_counter() - t0
    return history


def _load_flat(model, flat: np.ndarray) -> None:
    i = 0
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(flat[i:i + p.numel()]).view_as(p))
            i += p.numel()


def flat_parameters(model) -> np.ndarray:
    """All parameters of a model as one numpy vector (a copy)."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy().copy()


def flat_gradients(model) -> np.ndarray:
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()]).numpy().copy()


def compare_optimizer(name: str, lr: float, x, y, sizes=WORKED_EXAMPLE_SIZES, steps: int = 5,
                      seed: int = 0, dtype=torch.float64) -> list[float]:
    """Run the numpy update rule ``name`` (`HandOptimizer`) and torch.optim's side by side for
    ``steps`` steps on the same MLP, feeding both the same autograd gradients; returns the
    largest |difference| of the parameters after each step.

    float64 by default, so the comparison sees the algorithm, not float32 rounding."""
    torch.manual_seed(seed)
    model = nets.build(MLPConfig(tuple(sizes))).to(dtype)
    mine = flat_parameters(model)
    hand = HandOptimizer(name, lr)
    opt = TORCH_OPTIMIZERS[name](model.parameters(), lr)
    x, y = torch.as_tensor(x).to(dtype), torch.as_tensor(y)
    diffs = []
    for _ in range(steps):
        model.zero_grad()
        F.cross_entropy(model(x), y).backward()
        mine = hand.step(mine, flat_gradients(model))
        opt.step()
        diffs.append(float(np.max(np.abs(mine - flat_parameters(model)))))
    return diffs
