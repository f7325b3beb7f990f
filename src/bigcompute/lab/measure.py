"""Measurement with torch: FLOPs counted, bytes saved for backward, time per step, FLOP/s.

These are what the formulas of `counts` and `memory` are tested against.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..errors import check_choice

__all__ = [
    "count_flops", "count_flops_by_op", "param_bytes", "saved_activation_bytes", "lm_loss",
    "Timing", "time_call",
]


def _loss(out):
    out = out[0] if isinstance(out, tuple) else out
    return out.float().sum()


def count_flops(module, inputs: tuple, pass_: str = "forward") -> int:
    """FLOPs of ``module(*inputs)`` (forward), its backward, or both ("train"), as
    FlopCounterMode counts them. Works on the meta device for large models."""
    check_choice("pass_", pass_, ("forward", "backward", "train"))
    counter = FlopCounterMode(display=False)
    with counter:
        out = module(*inputs)
    forward = counter.get_total_flops()
    if pass_ == "forward":
        return forward
    loss = _loss(out)
    counter = FlopCounterMode(display=False)
    with counter:
        loss.backward()
    backward = counter.get_total_flops()
    return backward if pass_ == "backward" else forward + backward


def count_flops_by_op(module, inputs: tuple) -> dict[str, int]:
    """Forward FLOPs by aten operator (mm, addmm, bmm, convolution, ...)."""
    counter = FlopCounterMode(display=False)
    with counter:
        module(*inputs)
    return {str(op).split(".")[-1]: n for op, n in counter.get_flop_counts()["Global"].items()}


def param_bytes(module) -> int:
    return sum(p.numel() * p.element_size() for p in module.parameters())


def saved_activation_bytes(module, inputs: tuple, loss_fn=None) -> int:
    """Bytes autograd keeps for the backward of one forward pass (and the loss).

    Counts each storage once (a tensor saved by several ops, or views of it, is one buffer)
    and leaves out the module's own parameters and buffers, which exist anyway."""
    own = {t.untyped_storage().data_ptr() for t in list(module.parameters())
           + list(module.buffers())}
    seen: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in own and t.device.type != "meta":
            seen[ptr] = max(seen.get(ptr, 0), storage.nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = module(*inputs)
        if loss_fn is not None:
            loss_fn(out)
    return sum(seen.values())


def lm_loss(targets):
    """A loss function for `saved_activation_bytes`: cross-entropy of logits vs targets."""
    def fn(logits):
        return torch.nn.functional.cross_entropy(logits.flatten(0, 1).float()
                                                 if logits.dtype == torch.float32
                                                 else logits.flatten(0, 1),
                                                 targets.flatten())
    return fn


@dataclass(frozen=True)
class Timing:
    median_seconds: float
    min_seconds: float
    repeats: int


def time_call(fn, repeats: int = 5, warmup: int = 1) -> Timing:
    """Median and minimum wall time of ``fn()`` over ``repeats`` runs after ``warmup``."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return Timing(times[len(times) // 2], times[0], repeats)
