"""Optimizer cost: FLOPs per step counted on torch.optim's own arithmetic, the numpy update
rules against torch.optim, and the document's wrong Adam shown to be wrong."""

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from bigcompute import memory, optim_cost

# FLOPs per output element of the element-wise aten ops torch.optim uses. ``alpha`` or
# ``value`` other than 1 is one more multiply.
_OP_FLOPS = {"add_": 1, "add": 1, "sub_": 1, "sub": 1, "mul_": 1, "mul": 1, "div_": 1,
             "div": 1, "sqrt": 1, "sqrt_": 1, "lerp_": 3, "addcmul_": 2, "addcdiv_": 2}


class _ElementwiseFlops(TorchDispatchMode):
    """Counts the FLOPs of element-wise ops whose output has ``numel`` elements."""

    def __init__(self, numel):
        super().__init__()
        self.numel, self.flops, self.unknown = numel, 0, []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if isinstance(out, torch.Tensor) and out.numel() == self.numel:
            name = func.__name__.split(".")[0]
            if name not in _OP_FLOPS:
                self.unknown.append(name)
            else:
                scale = kwargs.get("alpha", kwargs.get("value", 1))
                self.flops += (_OP_FLOPS[name] + (scale != 1)) * out.numel()
        return out


OPTIMIZERS = {
    "sgd": (torch.optim.SGD, {"lr": 0.1}),
    "momentum": (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
    "adam": (torch.optim.Adam, {"lr": 0.1}),
    "adamw": (torch.optim.AdamW, {"lr": 0.1, "weight_decay": 0.01}),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_step_flops_equal_what_torch_optim_computes(name):
    cls, kwargs = OPTIMIZERS[name]
    n = 1000
    p = torch.nn.Parameter(torch.randn(n))
    opt = cls([p], foreach=False, **kwargs)
    p.grad = torch.randn(n)
    opt.step()  # the first step creates the state
    p.grad = torch.randn(n)
    counter = _ElementwiseFlops(n)
    with counter:
        opt.step()
    assert not counter.unknown, counter.unknown
    assert counter.flops == optim_cost.optimizer_step_flops(n, name)


def test_l2_penalty_adds_two_flops_per_parameter_as_in_torch_sgd():
    n = 500
    p = torch.nn.Parameter(torch.randn(n))
    opt = torch.optim.SGD([p], lr=0.1, weight_decay=0.01, foreach=False)
    p.grad = torch.randn(n)
    counter = _ElementwiseFlops(n)
    with counter:
        opt.step()
    assert counter.flops == optim_cost.optimizer_step_flops(n, "sgd", l2_penalty=True) == 4 * n


def _torch_trajectory(cls, steps, **kwargs):
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(50, dtype=torch.float64))
    grads = [torch.randn(50, dtype=torch.float64) for _ in range(steps)]
    start = p.detach().clone().numpy()
    opt = cls([p], **kwargs)
    for g in grads:
        p.grad = g.clone()
        opt.step()
    return start, [g.numpy() for g in grads], p.detach().numpy()


@pytest.mark.parametrize("decoupled", [False, True])
def test_numpy_adam_equals_torch_optim_adam_over_ten_steps(decoupled):
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    start, grads, final = _torch_trajectory(cls, 10, lr=0.01, weight_decay=0.1)
    p, m, v = start, np.zeros_like(start), np.zeros_like(start)
    for t, g in enumerate(grads, start=1):
        s = optim_cost.adam_step(p, g, m, v, t, lr=0.01, weight_decay=0.1, decoupled=decoupled)
        p, m, v = s.params, s.m, s.v
    np.testing.assert_allclose(p, final, rtol=1e-12, atol=1e-12)


def test_numpy_sgd_and_momentum_equal_torch():
    start, grads, final = _torch_trajectory(torch.optim.SGD, 5, lr=0.1, momentum=0.9)
    p, b = start, np.zeros_like(start)
    for g in grads:
        p, b = optim_cost.momentum_step(p, g, b, lr=0.1, momentum=0.9)
    np.testing.assert_allclose(p, final, rtol=1e-12, atol=1e-12)
    start, grads, final = _torch_trajectory(torch.optim.SGD, 5, lr=0.1, weight_decay=0.01)
    p = start
    for g in grads:
        p = optim_cost.sgd_step(p, g, lr=0.1, weight_decay=0.01)
    np.testing.assert_allclose(p, final, rtol=1e-12, atol=1e-12)


def test_document_adam_takes_a_step_a_thousand_times_too_large_at_t1():
    g = np.array([0.5, -2.0, 1e-3])
    zeros = np.zeros(3)
    right = optim_cost.adam_step(zeros, g, zeros, zeros, 1, lr=1e-3)
    wrong = optim_cost.adam_step_seed004(zeros, g, zeros, zeros, 1, lr=1e-3)
    # Adam's first step is lr * sign(g) (up to eps); the document's is lr * g / (1 - b2)
    np.testing.assert_allclose(right.params, -1e-3 * np.sign(g), rtol=1e-4)
    np.testing.assert_allclose(wrong.params, -1e-3 * g / 1e-3, rtol=1e-9)


def test_state_bytes_agree_with_the_memory_ledger():
    for precision in ("fp32", "amp-bf16", "bf16"):
        for opt in ("sgd", "momentum", "adamw"):
            per_param = optim_cost.optimizer_state_bytes_per_param(opt, precision)
            assert per_param * 1e6 == memory.model_state_bytes(1e6, precision, opt).optimizer


def test_mixed_precision_adam_moves_28_bytes_per_parameter_per_step():
    # read fp32 master, bf16 grad, fp32 m and v (4+2+8); write master, m, v, bf16 weights
    # (4+8+2)
    assert optim_cost.optimizer_step_bytes(1, "adamw", "amp-bf16") == 28
    # fp32 SGD: read p and g, write p
    assert optim_cost.optimizer_step_bytes(1, "sgd", "fp32") == 12


def test_optimizer_step_is_memory_bound_on_an_h100():
    step = optim_cost.optimizer_step_time(7e9, "h100-sxm", "adamw", "amp-bf16")
    assert step.bound == "memory"
    # 7e9 x 28 B at 3.35 TB/s
    assert step.seconds == pytest.approx(7e9 * 28 / 3.35e12)


def test_bad_optimizer_names_the_choices():
    with pytest.raises(ValueError, match="one of 'sgd'"):
        optim_cost.optimizer_step_flops(10, "lion")


def test_l2_penalty_is_a_flag():
    with pytest.raises(ValueError, match="l2_penalty='yes'"):
        optim_cost.optimizer_step_flops(1e9, "adam", l2_penalty="yes")
