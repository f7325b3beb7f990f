"""Small simulations of distributed training: a pipeline schedule, and SGD with stale gradients.

Pure Python and numpy. The pipeline simulation runs the schedule op by op with its
dependencies and measures the idle time, so `parallel.pipeline_bubble_fraction` can be checked
against it; the stale-gradient simulation shows why asynchronous data parallelism needs a
smaller learning rate than synchronous.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ..errors import check_choice, check_positive, check_positive_int

__all__ = [
    "SCHEDULES", "Op", "PipelineRun", "simulate_pipeline", "LeastSquares", "least_squares",
    "data_parallel_sgd",
]

SCHEDULES = ("gpipe", "1f1b")


@dataclass(frozen=True)
class Op:
    stage: int
    kind: str  # "F" or "B"
    microbatch: int
    start: float
    end: float


@dataclass(frozen=True)
class PipelineRun:
    """A simulated pipeline step: every op with its start and end, the step's length, the idle
    fraction of the devices (the bubble) and the most micro-batches whose activations a stage
    holds at once."""

    ops: tuple[Op, ...]
    n_stages: int
    n_microbatches: int
    makespan: float
    bubble_fraction: float
    peak_in_flight: tuple[int, ...]


def _stage_order(schedule: str, stage: int, p: int, m: int) -> list[tuple[str, int]]:
    """The order in which one stage runs its forward (F) and backward (B) micro-batches."""
    if schedule == "gpipe":  # all forwards, then all backwards (Huang et al. 2019)
        return [("F", j) for j in range(m)] + [("B", j) for j in range(m)]
    # 1F1B / PipeDream-flush (Narayanan et al. 2021): p - stage - 1 warm-up forwards, then
    # alternate one forward and one backward, then drain the remaining backwards
    warmup = min(p - stage - 1, m)
    order = [("F", j) for j in range(warmup)]
    f, b = warmup, 0
    while b < m:
        if f < m:
            order.append(("F", f))
            f += 1
        order.append(("B", b))
        b += 1
    return order


def simulate_pipeline(n_stages: int, n_microbatches: int, forward_time: float = 1.0,
                      backward_time: float = 2.0, schedule: str = "1f1b") -> PipelineRun:
    """Run a pipeline schedule of ``n_stages`` stages and ``n_microbatches`` micro-batches.

    F(s, j) needs F(s-1, j); B(s, j) needs B(s+1, j) (the last stage: its own F(s, j)); each
    stage runs one op at a time in its schedule's order. Bubble = idle device time / (devices
    x makespan). Communication is left out (free and instant)."""
    check_positive_int("n_stages", n_stages)
    check_positive_int("n_microbatches", n_microbatches)
    check_positive("forward_time", forward_time)
    check_positive("backward_time", backward_time)
    check_choice("schedule", schedule, SCHEDULES)
    p, m = n_stages, n_microbatches
    orders = [deque(_stage_order(schedule, s, p, m)) for s in range(p)]
    done: dict[tuple[str, int, int], float] = {}
    free = [0.0] * p
    ops = []
    while any(orders):
        progressed = False
        for s in range(p):
            while orders[s]:
                kind, j = orders[s][0]
                if kind == "F":
                    deps = [("F", s - 1, j)] if s > 0 else []
                else:
                    deps = [("B", s + 1, j)] if s < p - 1 else [("F", s, j)]
                if any(d not in done for d in deps):
                    break
                start = max([free[s]] + [done[d] for d in deps])
                end = start + (forward_time if kind == "F" else backward_time)
                done[(kind, s, j)] = end
                free[s] = end
                ops.append(Op(s, kind, j, start, end))
                orders[s].popleft()
                progressed = True
        if not progressed:  # pragma: no cover - the schedules above cannot deadlock
            raise RuntimeError("pipeline schedule deadlocked")
    makespan = max(op.end for op in ops)
    busy = m * (forward_time + backward_time) * p
    peaks = []
    for s in range(p):
        held, peak = 0, 0
        for op in sorted((o for o in ops if o.stage == s), key=lambda o: o.start):
            held += 1 if op.kind == "F" else -1
            peak = max(peak, held)
        peaks.append(peak)
    return PipelineRun(tuple(ops), p, m, makespan, 1 - busy / (p * makespan), tuple(peaks))


# ---------------------------------------------------------------- stale gradients

@dataclass(frozen=True)
class LeastSquares:
    """A linear regression problem: minimise J(w) = mean((X w - y)^2) / 2."""

    x: np.ndarray
    y: np.ndarray

    def loss(self, w) -> float:
        r = self.x @ w - self.y
        return float(np.mean(r * r) / 2)

    def gradient(self, w, rows) -> np.ndarray:
        """The minibatch gradient over ``rows``: X_r^T (X_r w - y_r) / |r|."""
        x, y = self.x[rows], self.y[rows]
        return x.T @ (x @ w - y) / len(rows)

    @property
    def optimum_loss(self) -> float:
        w, *_ = np.linalg.lstsq(self.x, self.y, rcond=None)
        return self.loss(w)


def least_squares(n: int = 2000, d: int = 20, noise: float = 0.1, seed: int = 0,
                  condition: float = 10.0) -> LeastSquares:
    """A seeded regression problem whose feature scales spread the Hessian's eigenvalues over
    a factor ``condition``."""
    rng = np.random.default_rng(seed)
    scales = np.sqrt(np.linspace(1.0, condition, d)) / np.sqrt(condition)
    x = rng.standard_normal((n, d)) * scales
    w_true = rng.standard_normal(d)
    return LeastSquares(x, x @ w_true + noise * rng.standard_normal(n))


def data_parallel_sgd(problem: LeastSquares, n_workers: int, lr: float, rounds: int,
                      mode: str = "sync", batch: int = 8, seed: int = 0) -> np.ndarray:
    """Loss after each round of SGD by ``n_workers`` equally fast workers.

    A round is the time one worker takes to compute one minibatch gradient.
    - sync: every round the workers' gradients (at the same w) are averaged and applied once:
      one update per round, with an n_workers times bigger batch.
    - async (parameter server, Dean et al. 2012 "Downpour SGD"): every worker applies its
      gradient as soon as it is done, without waiting; by then the other n_workers - 1 workers
      have updated w, so each gradient is n_workers - 1 updates stale. n_workers updates per
      round.
    Returns ``rounds + 1`` losses (the first before any update); inf/nan mark divergence.
    """
    check_positive_int("n_workers", n_workers)
    check_positive("lr", lr)
    check_positive_int("rounds", rounds)
    check_choice("mode", mode, ("sync", "async"))
    rng = np.random.default_rng(seed)
    n = len(problem.y)
    w = np.zeros(problem.x.shape[1])
    history = [problem.loss(w)]
    stale = n_workers - 1
    past = deque([w.copy()], maxlen=stale + 1)  # w as each in-flight worker read it
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(rounds):
            if mode == "sync":
                g = np.mean([problem.gradient(w, rng.integers(0, n, batch))
                             for _ in range(n_workers)], axis=0)
                w = w - lr * g
            else:
                for _ in range(n_workers):
                    g = problem.gradient(past[0], rng.integers(0, n, batch))
                    w = w - lr * g
                    past.append(w.copy())
            history.append(problem.loss(w))
            if not np.isfinite(history[-1]) or history[-1] > 1e12:
                history += [np.inf] * (rounds + 1 - len(history))
                break
    return np.array(history)
