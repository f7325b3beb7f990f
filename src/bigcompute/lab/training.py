"""The training loop in torch: the source document's example fixed, a small reusable loop with a
progress bar and a loss history (and, for chapter 5, the same loop with validation at
intervals), and where the time of a step goes.

Chapter 3 uses it: 3.1 and 3.2 check the numpy code of `backprop` and `optimizers` against
autograd and ``torch.optim``; 3.4 trains the document's model; 3.7 trains teachers and students.
Everything is seeded; the data (`lab.data`) are generated, never downloaded.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function
from tqdm import tqdm

from .. import optim_cost
from ..configs import MLPConfig
from ..errors import check_choice, check_positive_int
from . import nets
from .measure import native_stderr_silenced

__all__ = [
    "DOCUMENTS_SIZES", "WORKED_EXAMPLE_SIZES", "documents_model", "documents_training_step",
    "History", "batches", "train", "accuracy", "ClippedAdam", "Run", "train_with_validation",
    "PHASES", "profile_training_step", "forward_backward_seconds", "mlp_from_numpy",
    "numpy_params", "autograd_gradients", "max_abs_difference", "TORCH_OPTIMIZERS",
    "HandOptimizer", "train_with_hand_optimizer", "flat_parameters", "flat_gradients",
    "compare_optimizer",
]

# The model of source document 001, sec. 4: 1000 -> 500 -> 250 -> 100 -> 1, ReLU between.
DOCUMENTS_SIZES = (1000, 500, 250, 100, 1)
# The worked example of document 004, sec. 4.3: 100 -> 500 -> 500 -> 10, ReLU between.
WORKED_EXAMPLE_SIZES = (100, 500, 500, 10)


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
    history = History()
    model.train()
    index_batches = batches(len(x), batch_size or len(x), steps, seed)
    t0 = time.perf_counter()
    # plain-text tqdm on stdout, redrawn at most every 2 s: it renders the same in JupyterLab,
    # in a terminal and on the book's website (a widget bar would need a kernel to show)
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


# ---------------------------------------------------------------- the loop, with validation

class ClippedAdam(torch.optim.Adam):
    """Adam (the documents' optimizer) that first rescales the whole gradient to a norm of at
    most ``clip_norm``: the usual guard against the exploding gradients of recurrent networks
    (Pascanu, Mikolov and Bengio 2013). ``clip_norm=None`` is plain Adam."""

    def __init__(self, params, lr: float = 1e-3, clip_norm: float | None = None):
        super().__init__(params, lr=lr)
        self.clip_norm = clip_norm

    @torch.no_grad()
    def step(self, closure=None):
        if self.clip_norm:
            params = [p for group in self.param_groups for p in group["params"]]
            nn.utils.clip_grad_norm_(params, self.clip_norm)
        return super().step(closure)


@dataclass
class Run:
    """What one training run measured: the loss of every step, validation loss and metric
    (accuracy, or perplexity for a language model) at intervals, and the wall time spent in
    training steps (validation excluded)."""

    name: str
    train_loss: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    metric_name: str = "accuracy"
    seconds: float = 0.0
    samples_per_step: int = 0
    tokens_per_step: int = 0

    @property
    def steps(self) -> int:
        return len(self.train_loss)

    @property
    def seconds_per_step(self) -> float:
        return self.seconds / self.steps

    @property
    def samples_per_second(self) -> float:
        return self.samples_per_step / self.seconds_per_step

    def summary(self) -> str:
        """One line: steps, last training loss (mean of 10), validation loss and metric."""
        metric = self.val_metric[-1]
        shown = f"{metric:.2f}" if self.metric_name == "perplexity" else f"{metric:.1%}"
        return (f"{self.name}: {self.steps} steps, training loss {self.smoothed_loss()[-1]:.3f}, "
                f"validation loss {self.val_loss[0]:.3f} -> {self.val_loss[-1]:.3f}, "
                f"validation {self.metric_name} {shown}")

    def smoothed_loss(self, window: int = 10) -> list[float]:
        """Running mean of the training loss over ``window`` steps (minibatch noise off)."""
        out, total = [], 0.0
        for i, v in enumerate(self.train_loss):
            total += v
            if i >= window:
                total -= self.train_loss[i - window]
            out.append(total / min(i + 1, window))
        return out


def train_with_validation(model: nn.Module, loss_fn: Callable, optimizer, train_data: tuple,
                          steps: int, batch: int,
                          evaluate: Callable[[nn.Module], tuple[float, float]],
                          eval_every: int, *, name: str = "model",
                          metric_name: str = "accuracy", progress: bool = True,
                          seed: int = 0) -> Run:
    """Chapter 3's loop (`training.train`: minibatches, forward, loss, zero_grad, backward,
    step) run in chunks of ``eval_every`` steps, with ``evaluate(model) -> (loss, metric)``
    on held-out data before the first step and after every chunk. One tqdm bar for the run."""
    check_positive_int("steps", steps)
    check_positive_int("eval_every", eval_every)
    x, y = train_data
    run = Run(name=name, metric_name=metric_name, samples_per_step=batch,
              tokens_per_step=batch * x.shape[1] if x.dtype == torch.long else 0)

    def validate():
        model.eval()
        with torch.no_grad():
            loss, metric = evaluate(model)
        run.val_steps.append(run.steps)
        run.val_loss.append(float(loss))
        run.val_metric.append(float(metric))

    validate()
    bar = tqdm(total=steps, desc=name, disable=not progress, file=sys.stdout, mininterval=2.0,
               ncols=90)
    for chunk in range(math.ceil(steps / eval_every)):
        n = min(eval_every, steps - run.steps)
        history = train(model, loss_fn, optimizer, x, y, n, batch,
                        seed=seed * 1000 + chunk, progress=False)
        run.train_loss += history.losses
        run.seconds += history.seconds
        validate()
        bar.update(n)
        bar.set_postfix(loss=f"{run.train_loss[-1]:.3f}", val=f"{run.val_loss[-1]:.3f}",
                        refresh=False)
    bar.close()
    return run


# ---------------------------------------------------------------- where the time goes

PHASES = ("forward", "loss", "backward", "optimizer")


def profile_training_step(model, loss_fn, optimizer, x, y, steps: int = 5,
                          warmup: int = 2) -> dict:
    """Run ``steps`` training steps under ``torch.profiler`` (CPU) with each phase labelled
    by ``record_function``. Returns the mean seconds per step of each phase ("forward",
    "loss", "backward", "optimizer") and the profiler's table of the busiest operators."""
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
    with native_stderr_silenced(), profile(activities=[ProfilerActivity.CPU]) as prof:
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
        check_choice("name", name, ("sgd", "momentum", "adam", "seed004-adam"))
        self.name, self.lr, self.momentum, self.betas = name, lr, momentum, betas
        self.t, self.state = 0, None

    def step(self, params: np.ndarray, grads: np.ndarray) -> np.ndarray:
        """The parameters after one step (a new array)."""
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
