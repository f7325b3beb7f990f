"""What an optimizer step costs: FLOPs and bytes per parameter, and the update rules themselves.

An optimizer step is element-wise: every parameter is updated from its gradient and its own
state (none for SGD, a velocity for momentum, two moments for Adam). So its work grows with N,
not with the batch: a few FLOPs per parameter per step, against 6 FLOPs per parameter per
*token* for the forward and backward passes. It is memory-bound: each step reads and writes
every weight, gradient and moment once (more when the kernels are not fused).

FLOPs are counted as `torch.optim` performs them (single-tensor implementation, torch 2.13):
one FLOP per element for each +, -, x, / and square root on a parameter-sized tensor, scalars
such as the bias corrections computed once per step and not counted:

    sgd       p -= lr*g                                              2
    momentum  b = mu*b + g;  p -= lr*b                               4
    adam      m = lerp(m, g, 1-b1)                                   3
              v = b2*v + (1-b2)*g*g                                  4
              p -= (lr/c1) * m / (sqrt(v)/sqrt(c2) + eps)            6   (13 in all)
    adamw     adam + decoupled weight decay  p *= 1 - lr*wd          14

(c1 = 1 - b1^t and c2 = 1 - b2^t are Adam's bias corrections; Kingma & Ba 2015, Algorithm 1;
AdamW: Loshchilov & Hutter 2019, Algorithm 2.) An L2 penalty added to the gradient
(g += wd*p, the ``weight_decay`` of SGD and Adam) adds 2.

The numpy update rules below are the reference the chapter checks against ``torch.optim``;
`adam_step_seed004` is the wrong update printed in source document 004, sec. 4.2, kept to
show how far it goes astray. Pure numpy: this module never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import (check_bool, check_choice, check_non_negative, check_positive,
                     check_positive_int, fail)
from .precision import OPTIMIZER_MOMENTS, OPTIMIZERS, RECIPES
from .timing import roofline_time

__all__ = [
    "OPTIMIZERS",
    "STEP_FLOPS_PER_PARAM",
    "adam_step",
    "adam_step_seed004",
    "momentum_step",
    "optimizer_state_bytes_per_param",
    "optimizer_step_bytes",
    "optimizer_step_flops",
    "optimizer_step_time",
    "sgd_step",
]


# FLOPs per parameter per step, as counted in the module docstring.
STEP_FLOPS_PER_PARAM = {"sgd": 2, "momentum": 4, "adam": 13, "adamw": 14}
L2_PENALTY_FLOPS = 2  # g += wd * p


def optimizer_step_flops(n_params: float, optimizer: str = "adamw",
                         l2_penalty: bool = False) -> float:
    """FLOPs of one optimizer step over ``n_params`` parameters: ``STEP_FLOPS_PER_PARAM`` x N
    (+2N for an L2 penalty added to the gradient; not for AdamW, whose decay is built in)."""
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_positive("n_params", n_params)
    check_bool("l2_penalty", l2_penalty)
    if l2_penalty and optimizer == "adamw":
        fail("l2_penalty", l2_penalty, "False for adamw (its weight decay is decoupled)")
    per_param = STEP_FLOPS_PER_PARAM[optimizer] + (L2_PENALTY_FLOPS if l2_penalty else 0)
    return per_param * n_params


def optimizer_state_bytes_per_param(optimizer: str = "adamw",
                                    precision: str = "mixed-bf16") -> float:
    """Bytes per parameter the optimizer keeps besides the weights and gradients: its moments
    (0 for SGD, 1 for momentum, 2 for Adam) and, in mixed precision, the fp32 master copy.
    (`memory.model_state_bytes` gives the same per model.)"""
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_choice("precision", precision, tuple(RECIPES))
    r = RECIPES[precision]
    return r.master + OPTIMIZER_MOMENTS[optimizer] * r.state


def optimizer_step_bytes(n_params: float, optimizer: str = "adamw",
                         precision: str = "mixed-bf16") -> float:
    """Bytes moved by one fused optimizer step: every state read once and written once.

    reads:  the weights (or the fp32 master copy), the gradient, each moment
    writes: the weights (or the master copy), each moment, and in mixed precision the
            16-bit working copy of the weights the next forward pass reads

    fp32 AdamW: 4 + 4 + 8 read, 4 + 8 written = 28 B/param. This is a lower bound: unfused
    kernels read some tensors several times (torch's single-tensor Adam makes 7 passes).
    """
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_positive("n_params", n_params)
    check_choice("precision", precision, tuple(RECIPES))
    r = RECIPES[precision]
    moments = OPTIMIZER_MOMENTS[optimizer] * r.state
    updated = r.master if r.master else r.weights  # the copy the update is applied to
    reads = updated + r.grads + moments
    writes = updated + moments + (r.weights if r.master else 0)
    return n_params * (reads + writes)


def optimizer_step_time(n_params: float, device, optimizer: str = "adamw",
                        precision: str = "mixed-bf16", dtype: str = "fp32"):
    """Roofline time of one fused optimizer step on one device (`timing.roofline_time` of
    `optimizer_step_flops` and `optimizer_step_bytes`). Element-wise arithmetic runs on the
    vector units, so the compute roof is the ``dtype`` peak (fp32, not the tensor cores);
    the step is memory-bound on every accelerator in the catalogue."""
    return roofline_time(optimizer_step_flops(n_params, optimizer),
                         optimizer_step_bytes(n_params, optimizer, precision), device, dtype)


# ---------------------------------------------------------------- the update rules (numpy)

@dataclass(frozen=True)
class AdamState:
    """Parameters and Adam's two moments after step ``t``."""

    params: np.ndarray
    m: np.ndarray
    v: np.ndarray
    t: int


def _arrays(lr: float, **arrays) -> list[np.ndarray]:
    """The update's arrays as float arrays of one shape (a number stands for an array of it),
    and its learning rate, checked. Values may be inf or NaN: chapter 3.2 runs a wrong Adam
    until it overflows, which is the lesson."""
    check_positive("lr", lr)
    out = []
    for name, value in arrays.items():
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            fail(name, value, "an array of numbers (or one number)")
        out.append(array)
    try:
        np.broadcast_shapes(*(a.shape for a in out))
    except ValueError:
        fail(", ".join(arrays), [a.shape for a in out], "arrays of one shape (or numbers)")
    return out


def sgd_step(params, grads, lr: float, weight_decay: float = 0.0) -> np.ndarray:
    """p <- p - lr * (g + wd * p)."""
    params, grads = _arrays(lr, params=params, grads=grads)
    check_non_negative("weight_decay", weight_decay)
    g = grads + weight_decay * params
    return params - lr * g


def momentum_step(params, grads, velocity, lr: float, momentum: float = 0.9):
    """PyTorch's heavy ball (no dampening): b <- mu * b + g;  p <- p - lr * b.
    Returns (params, velocity)."""
    params, grads, velocity = _arrays(lr, params=params, grads=grads, velocity=velocity)
    check_non_negative("momentum", momentum)
    b = momentum * velocity + grads
    return params - lr * b, b


def adam_step(params, grads, m, v, t: int, lr: float = 1e-3, betas=(0.9, 0.999),
              eps: float = 1e-8, weight_decay: float = 0.0, decoupled: bool = False
              ) -> AdamState:
    """One step of Adam (Kingma & Ba 2015, Algorithm 1), or AdamW with ``decoupled=True``
    (Loshchilov & Hutter 2019):

        m_t = b1 m + (1 - b1) g          m_hat = m_t / (1 - b1^t)
        v_t = b2 v + (1 - b2) g^2        v_hat = v_t / (1 - b2^t)
        p  <- p - lr * m_hat / (sqrt(v_hat) + eps)

    ``t`` is the number of this step, counting from 1. ``weight_decay`` is an L2 penalty
    added to g (Adam) or, decoupled, p <- p (1 - lr wd) before the update (AdamW)."""
    check_positive_int("t", t)
    p, g, m, v = _arrays(lr, params=params, grads=grads, m=m, v=v)
    b1, b2 = betas
    if weight_decay and decoupled:
        p = p * (1 - lr * weight_decay)
    elif weight_decay:
        g = g + weight_decay * p
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    m_hat = m / (1 - b1**t)
    v_hat = v / (1 - b2**t)
    return AdamState(p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v, t)


def adam_step_seed004(params, grads, m, v, t: int, lr: float = 1e-3, betas=(0.9, 0.999)
                      ) -> AdamState:
    """The update as source document 004 (sec. 4.2) prints it -- WRONG, kept for comparison:

        w <- w - lr * [m_t / (1 - b1^t)] / (1 - b2^t)

    It divides the corrected first moment by v's bias correction instead of by sqrt(v_hat),
    so v never enters the step: the step is not normalised per parameter, and at t = 1 it is
    lr * g / (1 - b2) = 1000 lr g for b2 = 0.999."""
    check_positive_int("t", t)
    p, g, m, v = _arrays(lr, params=params, grads=grads, m=m, v=v)
    b1, b2 = betas
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    return AdamState(p - lr * (m / (1 - b1**t)) / (1 - b2**t), m, v, t)
