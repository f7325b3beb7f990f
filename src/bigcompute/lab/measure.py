"""Measurement with torch: FLOPs counted, bytes saved for backward, time per step, FLOP/s.

These are what the formulas of `counts` and `memory` are tested against.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from ..errors import check_choice

__all__ = [
    "count_flops", "count_flops_by_op", "param_bytes", "saved_activation_bytes", "lm_loss",
    "Timing", "time_call", "StepMemory", "training_step_memory", "training_step",
    "native_stderr_silenced",
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


# ---------------------------------------------------------------- the memory of a training step

@contextlib.contextmanager
def native_stderr_silenced():
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



@dataclass(frozen=True)
class StepMemory:
    """Bytes held by one training step on the CPU: before it (``resident``: parameters,
    buffers, gradients and optimizer states), at its high-water mark (``peak``) and after it;
    ``trace`` is the bytes held after each allocation or free, in order."""

    resident: int
    peak: int
    after: int
    trace: tuple[int, ...]


def _tensor_bytes(tensors) -> int:
    """Bytes of the distinct storages among ``tensors``."""
    storages = {}
    for t in tensors:
        if torch.is_tensor(t) and t.device.type != "meta":
            storage = t.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
    return sum(storages.values())


def training_step_memory(model, optimizer, step) -> StepMemory:
    """What one call of ``step()`` (forward, loss, backward, optimizer step) allocates, as
    torch's profiler records every CPU allocation and free (``profile_memory=True``); the
    peak is the resident bytes plus the highest running sum. ``step`` runs once first, so
    that the optimizer's states exist, as they do from the second step of a run on.

    The method counts what it should: allocating 4 MB, then 2 MB, freeing the 4 MB and
    allocating 8 MB peaks at 10 MB (tests/lab/test_measure.py)."""
    step()
    held = [*model.parameters(), *model.buffers(),
            *(p.grad for p in model.parameters() if p.grad is not None),
            *(t for state in optimizer.state.values() for t in state.values())]
    resident = _tensor_bytes(held)
    with native_stderr_silenced(), profile(activities=[ProfilerActivity.CPU],
                                           profile_memory=True) as prof:
        step()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    running, trace = 0, []
    for event in sorted(events, key=lambda e: e.start_ns()):
        running += event.nbytes()
        trace.append(resident + running)
    return StepMemory(resident, max([resident, *trace]), resident + running, tuple(trace))


def training_step(model, optimizer, batch: int, seq: int, vocab_size: int, seed: int = 0,
                  autocast: bool = False, model_loss: bool = False):
    """One language-model training step as a loop writes it, for `training_step_memory`:
    new token ids and targets, logits held by the caller through the backward and the
    optimizer step (nanoGPT's ``logits, loss = model(x, y)``), gradients released after the
    step (``zero_grad(set_to_none=True)``, torch's default). ``autocast``: the forward pass
    and the loss under ``torch.autocast("cpu", torch.bfloat16)`` (precision "amp-bf16").
    ``model_loss``: the model computes its own loss from ``labels`` (a Hugging Face causal
    LM, whose loss upcasts the logits to fp32), instead of cross-entropy here."""
    generator = torch.Generator().manual_seed(seed)

    def step():
        tokens = torch.randint(0, vocab_size, (batch, seq), generator=generator)
        targets = torch.randint(0, vocab_size, (batch, seq), generator=generator)
        with torch.autocast("cpu", torch.bfloat16, enabled=autocast):
            if model_loss:
                out = model(input_ids=tokens, labels=targets)
                logits, loss = out.logits, out.loss
            else:
                logits = model(tokens)
                loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return logits

    return step
