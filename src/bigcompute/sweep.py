"""Many transformer shapes at once: parameters, FLOPs, memory and step time as numpy arrays.

    from bigcompute import sweep
    grid = sweep.transformer_sweep("gpt2-small", n_layers=[12, 24, 48], d_model=[768, 1024, 1600],
                                   n_heads=[12, 16, 25], batch=8, seq=1024, device="h100-sxm")
    grid["params"], grid["train_flops"], grid["memory_bytes"], grid["fits"]

The numbers come from the library's own formulas, not a second copy of them: `counts`,
`memory` and `timing` are plain arithmetic on a config's sizes, so `transformer_sweep` hands
them one config whose sizes (n_layers, d_model, n_heads, n_kv_heads, d_ff) are numpy arrays.
A sweep of 10,000 shapes then costs one call per distinct (batch, seq) pair instead of 10,000
calls; ``tests/test_sweep.py`` checks every element equals the scalar functions.

Everything else about the model (vocabulary, norms, gating, positions, biases, experts) is the
base config's. Values are float64: exact integers up to 2**53 (9e15), within one part in 1e16
above that.
"""

from __future__ import annotations

import numpy as np

from . import blocks, catalog, counts, hardware, memory, timing
from .configs import ATTENTIONS, RECOMPUTE, TransformerConfig
from .errors import check_choice, check_fraction, fail

__all__ = ["SIZE_FIELDS", "transformer_sweep"]

# The sizes that may vary along a sweep; head_dim follows as d_model // n_heads (unless the
# base fixes a head_dim of its own, as T5-11B does: 128 heads of 128 on d_model 1024).
SIZE_FIELDS = ("n_layers", "d_model", "n_heads", "n_kv_heads", "d_ff")


class _ConfigArray(TransformerConfig):
    """A TransformerConfig whose sizes are arrays. Not validated on construction (a
    dataclass check such as ``d_model % n_heads`` has no single truth value for an array):
    `transformer_sweep` checks every element before building one."""

    def __post_init__(self):
        pass


def _numbers(name: str, value) -> np.ndarray:
    """``value`` as a float64 array, refused unless it holds numbers: np.asarray would read
    "8" as 8 and True as 1."""
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        fail(name, value, "a positive integer or an array of them")
    return array.astype(np.float64)


def _sizes(base: TransformerConfig, given: dict) -> dict[str, np.ndarray]:
    """The size arrays: given ones as float64, the rest derived from the base as
    TransformerConfig would (d_ff keeps the base's ratio to d_model, n_kv_heads its group)."""
    sizes = {k: _numbers(k, v) for k, v in given.items() if v is not None}
    d_model = sizes.get("d_model", np.float64(base.d_model))
    n_heads = sizes.get("n_heads", np.float64(base.n_heads))
    if "d_ff" not in sizes:
        sizes["d_ff"] = np.round(d_model * (base.d_ff / base.d_model))
    if "n_kv_heads" not in sizes:
        sizes["n_kv_heads"] = n_heads // (base.n_heads // base.n_kv_heads)
    sizes.setdefault("n_layers", np.float64(base.n_layers))
    sizes.setdefault("d_model", d_model)
    sizes.setdefault("n_heads", n_heads)
    return sizes


def _own_head_dim(base: TransformerConfig) -> bool:
    return base.head_dim * base.n_heads != base.d_model


def _check(sizes: dict[str, np.ndarray], batch: np.ndarray, seq: np.ndarray,
           own_head_dim: bool) -> None:
    """Every element must make a valid TransformerConfig: the first bad one is named."""
    def first_bad(name, values, bad, allowed):
        i = int(np.flatnonzero(bad)[0])
        fail(name, values.ravel()[i].item(), f"{allowed} (element {i} of the sweep)")

    for name, values in {**sizes, "batch": batch, "seq": seq}.items():
        bad = (values < 1) | (values != np.floor(values)) | ~np.isfinite(values)
        if bad.any():
            first_bad(name, values, bad, "a positive integer")
    d, h, kv = sizes["d_model"], sizes["n_heads"], sizes["n_kv_heads"]
    if not own_head_dim and (bad := (d % h != 0)).any():
        first_bad("n_heads", h, bad, "a divisor of d_model")
    if (bad := (h % kv != 0)).any():
        first_bad("n_kv_heads", kv, bad, "a divisor of n_heads")


def transformer_sweep(base, *, n_layers=None, d_model=None, n_heads=None, n_kv_heads=None,
                      d_ff=None, batch=1, seq=None, precision: str = "mixed-bf16",
                      optimizer: str = "adamw", attention: str = "flash",
                      recompute: str | None = None, device=None, mfu: float = 0.4,
                      dtype: str = "bf16") -> dict[str, np.ndarray]:
    """Parameters, FLOPs and training memory of every shape in a grid, one array each.

    ``base``: a TransformerConfig or catalogue name giving everything but the sizes. The
    sizes, ``batch`` and ``seq`` may be scalars or arrays; they broadcast together (numpy
    rules). ``seq`` is one the base can take (`counts.check_seq`): a ViT's is its own
    (None or n_patches + 1). Returns arrays of the broadcast shape:

    params            counts.param_count
    forward_flops     counts.flops(..., "forward", attention=, recompute=)
    train_flops       counts.flops(..., "train", attention=, recompute=)
    activation_bytes  memory.activation_bytes(...).total
    memory_bytes      memory.training_memory(...).total on one device (no sharding)

    With a ``device``, also step_seconds (one training step of ``batch`` x ``seq`` tokens at
    ``mfu`` of its ``dtype`` peak: timing.training_time) and fits (memory_bytes within the
    device's memory).
    """
    cfg = catalog.model(base)
    if not isinstance(cfg, TransformerConfig):
        fail("base", base if isinstance(base, str) else type(base).__name__,
             "a TransformerConfig or the catalogue name of one")
    check_choice("recompute", recompute, RECOMPUTE)
    check_choice("attention", attention, ATTENTIONS)
    check_fraction("mfu", mfu)
    sizes = _sizes(cfg, {"n_layers": n_layers, "d_model": d_model, "n_heads": n_heads,
                         "n_kv_heads": n_kv_heads, "d_ff": d_ff})
    seq = counts.default_seq(cfg) if seq is None else seq
    arrays = np.broadcast_arrays(*sizes.values(), _numbers("batch", batch), _numbers("seq", seq))
    shape = arrays[0].shape
    flat = dict(zip(sizes, (a.ravel() for a in arrays[:-2])))
    batch_flat, seq_flat = arrays[-2].ravel(), arrays[-1].ravel()
    _check(flat, batch_flat, seq_flat, _own_head_dim(cfg))
    for s in np.unique(seq_flat):  # the sizes that vary do not change which seq a model takes
        counts.check_seq(cfg, int(s))
        # a structure whose activations memory does not model (a qk_norm, windows longer
        # than the sequence, fine-grained experts, latent attention...) is refused up front
        blocks.check_activations_modelled(cfg, int(s))

    names = ["params", "forward_flops", "train_flops", "activation_bytes", "memory_bytes"]
    out = {name: np.empty(batch_flat.size) for name in names}
    # the formulas take batch and seq as ints: one vectorised call per distinct pair
    pairs, group = np.unique(np.stack([batch_flat, seq_flat], axis=1), axis=0,
                             return_inverse=True)
    group = group.ravel()
    for g, (b, s) in enumerate(pairs):
        idx = np.flatnonzero(group == g)
        part = {k: v[idx] for k, v in flat.items()}
        head_dim = cfg.head_dim if _own_head_dim(cfg) else part["d_model"] // part["n_heads"]
        grid = _ConfigArray(**{**cfg.to_dict(), **part, "head_dim": head_dim})
        values = _evaluate(grid, int(b), int(s), precision, optimizer, attention, recompute)
        for name in names:
            out[name][idx] = values[name]
    if device is not None:
        seconds_per_flop = timing.training_time(1.0, device, 1, mfu=mfu, dtype=dtype)
        out["step_seconds"] = out["train_flops"] * seconds_per_flop
        out["fits"] = out["memory_bytes"] <= hardware.device(device).memory_bytes
    return {name: values.reshape(shape) for name, values in out.items()}


def _flop_sums(terms, recompute) -> tuple:
    """Forward and backward FLOPs of a list of counts.FlopTerm, as counts.flops adds them
    (np.rint rounds half to even, as Python's round does)."""
    forward = sum(t.forward for t in terms)
    backward = sum(np.rint(t.backward * t.forward) for t in terms)
    backward = backward + sum(t.forward for t in terms if recompute in t.recompute)
    return forward, backward


def _evaluate(grid, batch, seq, precision, optimizer, attention, recompute) -> dict:
    # counts' unchecked twins, which its public functions call after their checks: those
    # checks are for one scalar config, and any that reads a size (as check_tp reads n_heads)
    # has no single truth value on this config's arrays; transformer_sweep has checked every
    # element itself (_check, check_seq), so the twins are all that is needed here
    params = counts.unchecked_transformer_params(grid)
    terms = counts.unchecked_flop_terms(grid, batch, seq, attention)
    forward, backward = _flop_sums(terms, recompute)
    acts = memory.activation_bytes(grid, batch, seq, precision, attention, recompute)
    states = memory.model_state_bytes(params, precision, optimizer)
    # memory.training_memory with dp = tp = pp = 1: all states and everything autograd saves
    on_device = acts.total
    return {"params": params, "forward_flops": forward, "train_flops": forward + backward,
            "activation_bytes": acts.total, "memory_bytes": states.total + on_device}
