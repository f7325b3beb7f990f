"""Time from FLOPs and bytes: the roofline, training time, MFU and HFU, prefill and decode.

Every estimate here is "work divided by rate". A kernel (or a whole step) needs some FLOPs and
moves some bytes; the device does ``peak_flops(dtype)`` FLOP/s and ``bandwidth_bytes_per_s``
B/s; the step takes at least the longer of the two times (the roofline, Williams et al. 2009).
Real runs reach only a fraction of peak: the model-FLOPs utilisation (MFU), a visible input
wherever it is used, never a hidden constant.

Devices are catalogue names ("h100-sxm") or `hardware.Device` objects (``Device.custom`` for
your own).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import NamedTuple

from . import blocks, catalog, counts, hardware, kv_cache
from .counts import transformer_config
from .errors import (
    check_bool,
    check_fraction,
    check_non_negative,
    check_positive,
    check_positive_int,
    fail,
)
from .precision import bytes_per_element

__all__ = [
    "RooflineResult", "MatmulCost", "roofline_time", "matmul_cost", "matmul_roofline",
    "training_time",
    "training_tokens_per_second", "mfu", "hfu", "expected_experts_touched",
    "weight_bytes_read", "decode_step_params", "encoder_memory_len", "prefill_roofline",
    "prefill_time", "decode_step_roofline",
    "decode_time_per_token", "decode_throughput", "generation_time",
]

SECONDS_PER_DAY = 86_400.0


# ---------------------------------------------------------------- helpers shared by the
# time, energy and parallelism modules

# ---------------------------------------------------------------- the roofline

@dataclass(frozen=True)
class RooflineResult:
    """The roofline estimate of one operation (or one step).

    seconds = max(compute_seconds, memory_seconds); ``bound`` says which one wins.
    ``arithmetic_intensity`` is FLOPs per byte moved (FLOP/B) and ``ridge_point`` the device's
    FLOP/B at which the two times are equal: below it an operation is memory-bound.
    """

    seconds: float
    compute_seconds: float
    memory_seconds: float
    bound: str  # "compute" or "memory"
    arithmetic_intensity: float  # FLOP/B
    ridge_point: float  # FLOP/B
    flops: float = 0.0
    bytes_moved: float = 0.0

    @property
    def achieved_flops_per_s(self) -> float:
        """FLOP/s actually delivered: flops / seconds."""
        return self.flops / self.seconds if self.seconds else 0.0


def _roofline(flops, bytes_moved, flops_per_s, bytes_per_s) -> RooflineResult:
    compute = flops / flops_per_s
    memory = bytes_moved / bytes_per_s
    intensity = flops / bytes_moved if bytes_moved else math.inf
    return RooflineResult(
        seconds=max(compute, memory),
        compute_seconds=compute,
        memory_seconds=memory,
        bound="compute" if compute >= memory else "memory",
        arithmetic_intensity=intensity,
        ridge_point=flops_per_s / bytes_per_s,
        flops=flops,
        bytes_moved=bytes_moved,
    )


def roofline_time(flops: float, bytes_moved: float, device, dtype: str = "bf16", *,
                  compute_efficiency: float = 1.0,
                  bandwidth_efficiency: float = 1.0) -> RooflineResult:
    """Roofline time of an operation: max(flops / peak, bytes / bandwidth).

    Williams, Waterman & Patterson (2009), "Roofline: an insightful visual performance model".
    ``compute_efficiency`` and ``bandwidth_efficiency`` (fractions in (0, 1]) scale the two
    roofs down to what a real kernel reaches; at 1.0 this is the ideal lower bound.
    Every operation moves some bytes (it reads its operands), so ``bytes_moved`` is positive
    and the arithmetic intensity flops / bytes_moved finite.
    """
    check_non_negative("flops", flops)
    check_non_negative("bytes_moved", bytes_moved)
    if bytes_moved == 0:
        fail("bytes_moved", bytes_moved, "a positive number: an operation reads its operands "
             "(with no bytes the arithmetic intensity flops / bytes_moved is infinite)")
    check_fraction("compute_efficiency", compute_efficiency)
    check_fraction("bandwidth_efficiency", bandwidth_efficiency)
    dev = hardware.device(device)
    return _roofline(flops, bytes_moved, dev.peak_flops(dtype) * compute_efficiency,
                     dev.bandwidth_bytes_per_s * bandwidth_efficiency)


class MatmulCost(NamedTuple):
    """FLOPs and bytes of one matrix multiply; unpacks as ``flops, bytes_moved = ...``."""

    flops: int
    bytes_moved: float


def matmul_cost(m: int, n: int, k: int, dtype_bytes: float = 2) -> MatmulCost:
    """(m x k) @ (k x n): 2mnk FLOPs (a multiply and an add per term), and (mk + kn + mn)
    elements read or written once each, times ``dtype_bytes`` (2 for bf16, 0.5 for int4).

    The byte count is the ideal one: each operand read once, the result written once.
    """
    for name, value in (("m", m), ("n", n), ("k", k)):
        check_positive_int(name, value)
    check_positive("dtype_bytes", dtype_bytes)
    return MatmulCost(2 * m * n * k, (m * k + k * n + m * n) * dtype_bytes)


def matmul_roofline(m: int, n: int, k: int, device, dtype: str = "bf16") -> RooflineResult:
    """`roofline_time` of an (m x k) @ (k x n) matmul in ``dtype`` on ``device``: FLOPs
    2mnk and bytes (mk + kn + mn) x bytes per element, from `matmul_cost`."""
    flops, bytes_moved = matmul_cost(m, n, k, bytes_per_element(dtype))
    return roofline_time(flops, bytes_moved, device, dtype)


# ---------------------------------------------------------------- training time and MFU

def training_time(flops: float, device, n_devices: int = 1, mfu: float = 0.4,
                  dtype: str = "bf16") -> float:
    """Seconds to do ``flops`` of training on ``n_devices`` running at ``mfu`` of their peak:

        time = flops / (n_devices x peak_flops(dtype) x mfu)

    This is Narayanan et al. (2021)'s end-to-end estimate (eq. 4, 8TP / nX) with X = mfu x peak.
    ``mfu`` is the fraction of peak the run achieves on the FLOPs you count: the model FLOPs
    (6ND) for MFU; include recomputation in ``flops`` if ``mfu`` is a hardware utilisation.
    """
    check_positive("flops", flops)
    check_positive_int("n_devices", n_devices)
    check_fraction("mfu", mfu)
    return flops / (n_devices * hardware.device(device).peak_flops(dtype) * mfu)


def training_tokens_per_second(flops_per_token: float, device, n_devices: int = 1,
                               mfu: float = 0.4, dtype: str = "bf16") -> float:
    """Tokens per second at a given MFU: n_devices x peak x mfu / flops_per_token."""
    check_positive("flops_per_token", flops_per_token)
    check_positive_int("n_devices", n_devices)
    check_fraction("mfu", mfu)
    return n_devices * hardware.device(device).peak_flops(dtype) * mfu / flops_per_token


def _utilisation(tokens_per_s, flops_per_token, device, n_devices, dtype, what) -> float:
    """tokens_per_s x flops_per_token / (n_devices x peak), refused above 1: no run does more
    than its devices' peak, so a higher figure means the inputs are inconsistent."""
    check_positive("tokens_per_s", tokens_per_s)
    check_positive(what, flops_per_token)
    check_positive_int("n_devices", n_devices)
    dev = hardware.device(device)
    peak = n_devices * dev.peak_flops(dtype)
    utilisation = tokens_per_s * flops_per_token / peak
    if utilisation > 1 + 1e-9:  # beyond rounding
        fail("tokens_per_s", tokens_per_s,
             f"at most {peak / flops_per_token:.4g} with {what}={flops_per_token:.4g} on "
             f"n_devices={n_devices} x {dev.name} ({dtype}): that is the devices' peak, and "
             f"these inputs give a utilisation of {utilisation:.3g} (above 1: inconsistent)")
    return min(utilisation, 1.0)


def mfu(tokens_per_s: float, flops_per_token: float, device, n_devices: int = 1,
        dtype: str = "bf16") -> float:
    """Model FLOPs utilisation (Chowdhery et al. 2022, PaLM, sec. 4.1 and appendix B):

        MFU = tokens_per_s x model_flops_per_token / (n_devices x peak)

    ``flops_per_token`` counts only the model's forward and backward FLOPs (6N, or 6N + 12LHQT
    with attention: `counts.flops_palm`), never recomputation, so MFU compares systems fairly.
    The result is a fraction: inputs that give more than 1 (more than the devices' peak)
    are inconsistent, and refused, naming ``tokens_per_s``.
    """
    return _utilisation(tokens_per_s, flops_per_token, device, n_devices, dtype,
                        "flops_per_token")


def hfu(tokens_per_s: float, hardware_flops_per_token: float, device, n_devices: int = 1,
        dtype: str = "bf16") -> float:
    """Hardware FLOPs utilisation: as `mfu`, but counting the FLOPs the hardware really does,
    rematerialisation (activation recomputation) included (Chowdhery et al. 2022, appendix B;
    PaLM 540B: 4.10 TFLOP per token with recomputation vs 3.28 without, HFU 57.8% vs MFU
    46.2%). HFU >= MFU always."""
    return _utilisation(tokens_per_s, hardware_flops_per_token, device, n_devices, dtype,
                        "hardware_flops_per_token")


# ---------------------------------------------------------------- inference: weights read

def expected_experts_touched(n_experts: int, top_k: int, tokens: int) -> float:
    """Expected number of distinct experts one MoE layer uses for ``tokens`` tokens, each
    routed to ``top_k`` of ``n_experts`` chosen uniformly at random:

        n_experts x (1 - (1 - top_k / n_experts) ** tokens)

    One token touches top_k experts; a large batch touches nearly all of them. Real routers are
    not uniform (some experts are popular), which makes the true number a little smaller.
    """
    check_positive_int("n_experts", n_experts)
    check_positive_int("top_k", top_k)
    check_positive("tokens", tokens)
    if top_k > n_experts:
        fail("top_k", top_k, f"at most n_experts={n_experts}")
    return n_experts * (1.0 - (1.0 - top_k / n_experts) ** tokens)


def decode_step_params(cfg, active: bool = True) -> int:
    """Parameters one decode step uses (for a mixture of experts with ``active``, top_k
    experts per layer). An encoder-decoder's step runs the decoder alone: the encoder's
    parameters are not used, and neither are the cross-attention key and value projections,
    whose outputs for the encoder's memory are computed once, at prefill, and cached."""
    check_bool("active", active)
    cfg = catalog.model(cfg)
    experts = cfg.top_k if active and getattr(cfg, "is_moe", False) else None
    n = counts.active_param_count(cfg) if active else counts.param_count(cfg)
    if getattr(cfg, "arch", None) == "encoder-decoder":
        kv_width = cfg.n_kv_heads * cfg.head_dim
        n -= (counts.encoder_param_count(cfg, experts)
              + cfg.n_layers * 2 * counts.dense_layer_params(cfg.d_model, kv_width, cfg.bias))
    return n


def encoder_memory_len(cfg) -> int:
    """Length of the encoder output a decoder attends to: Whisper's 1500 frames after its
    convolutions; for a token encoder, its longest input (max_seq_len, an upper bound). 0 for
    decoder-only models."""
    cfg = catalog.model(cfg)
    if getattr(cfg, "arch", None) != "encoder-decoder":
        return 0
    return cfg.encoder_seq_len if cfg.frontend == "audio" else cfg.max_seq_len


def weight_bytes_read(cfg, tokens: int, dtype: str = "bf16", decode: bool = False) -> float:
    """Bytes of weights read from memory to process ``tokens`` tokens in one pass (with
    ``decode``, one decode step: `decode_step_params`, which leaves out an encoder-decoder's
    encoder).

    A dense model reads every weight once per pass, whatever the batch. A mixture of experts
    reads its shared weights (attention, embeddings, router) and only the experts its tokens
    use: for one token the active parameters (top_k experts per layer); for a batch, the
    *union* of the experts chosen, `expected_experts_touched` under uniform routing. So MoE
    decoding at batch 1 reads `active_param_count` weights but at large batch nearly all of
    `param_count` (Mixtral 8x7B: ~13B of its 47B at batch 1, ~all 47B at batch 64).

    Every parameter counts as read, the input-embedding table included (a lookup really reads
    only ``tokens`` rows: an overestimate of vocab x d_model bytes for untied embeddings, 2%
    of Llama-2-7B).
    """
    check_positive("tokens", tokens)
    check_bool("decode", decode)
    cfg = catalog.model(cfg)
    total = decode_step_params(cfg, active=False) if decode else counts.param_count(cfg)
    per_element = bytes_per_element(dtype)
    if not getattr(cfg, "is_moe", False):
        return total * per_element
    layers = blocks.moe_layers(cfg) + (0 if decode else cfg.n_encoder_layers)  # with experts
    untouched = cfg.n_experts - expected_experts_touched(cfg.n_experts, cfg.top_k, tokens)
    return (total - layers * untouched * blocks.expert_params(cfg)) * per_element


def _decoder(cfg):
    """The TransformerConfig of a generating model (a catalogue name is looked up)."""
    cfg = transformer_config(cfg)
    if cfg.arch == "encoder":
        fail("cfg.arch", cfg.arch, "'decoder' or 'encoder-decoder' (an encoder does not "
             "generate tokens)")
    return cfg


# ---------------------------------------------------------------- inference: prefill

def prefill_roofline(cfg, device, batch: int, prompt_len: int, dtype: str = "bf16",
                     mfu: float = 0.5, bandwidth_efficiency: float = 1.0,
                     kv_dtype: str | None = None) -> RooflineResult:
    """Roofline of the prefill (prompt) pass: one forward pass over batch x prompt_len tokens.

    FLOPs: `counts.flops` forward with ``causal_halving=True`` (a causal attention kernel does
    only the lower triangle), run at ``mfu`` of peak. Bytes: the weights read once
    (`weight_bytes_read`) plus the KV cache written (`kv_cache.kv_cache_bytes`); activations are
    assumed to stay on chip. Prefill is compute-bound for all but tiny prompts.
    """
    cfg = _decoder(cfg)
    check_positive_int("batch", batch)
    prompt_len = counts.check_seq(cfg, prompt_len, "prompt_len")
    check_fraction("mfu", mfu)
    check_fraction("bandwidth_efficiency", bandwidth_efficiency)
    kv_cache.check_kv_dtype(kv_dtype)
    dev = hardware.device(device)
    kv_cache.check_serving_fits(cfg, dev, batch, prompt_len, dtype, kv_dtype,
                                context_name="prompt_len")
    flops = counts.flops(cfg, batch, prompt_len, "forward", causal_halving=True)
    bytes_moved = (weight_bytes_read(cfg, batch * prompt_len, dtype)
                   + kv_cache.cached_kv_bytes(cfg, batch, prompt_len, kv_dtype or dtype))
    return _roofline(flops, bytes_moved, dev.peak_flops(dtype) * mfu,
                     dev.bandwidth_bytes_per_s * bandwidth_efficiency)


def prefill_time(cfg, device, batch: int, prompt_len: int, dtype: str = "bf16",
                 mfu: float = 0.5, bandwidth_efficiency: float = 1.0,
                 kv_dtype: str | None = None) -> float:
    """Seconds for the prefill pass (time to first token, without queueing): the roofline of
    the forward pass over the prompt, ≈ max(2 N b s / (mfu x peak), weight bytes / bandwidth),
    compute-bound for any real prompt; see `prefill_roofline`."""
    return prefill_roofline(cfg, device, batch, prompt_len, dtype, mfu, bandwidth_efficiency,
                            kv_dtype).seconds


# ---------------------------------------------------------------- inference: decode

def _decode_terms(cfg, batch, dtype, kv_dtype, context=1):
    """Per decode step, on the stretch of contexts around ``context`` where both grow
    linearly (`_stretches`): (flops at context 0, flops per context token, bytes at context
    0, bytes per context token). A windowed layer's cache and attention stop growing at
    sliding_window - 1 cached tokens; every other layer's grow with the context."""
    def attention(c):  # QK^T and AV against the cache, per cached position attended
        return (blocks.kv_positions(cfg, c)
                * blocks.attention_flops_per_cached_token(cfg, batch))

    def cache(c):
        return kv_cache.cached_kv_bytes(cfg, batch, c, kv_dtype or dtype)

    # two points of a line give its slope and its constant part
    flops_slope = attention(context + 1) - attention(context)
    bytes_slope = cache(context + 1) - cache(context)
    flops = 2 * decode_step_params(cfg) * batch + attention(context) - flops_slope * context
    bytes_ = (weight_bytes_read(cfg, batch, dtype, decode=True)
              + cache(context) - bytes_slope * context)
    memory_len = encoder_memory_len(cfg)
    if memory_len:  # cross-attention to the encoder's cached keys and values
        flops += (cfg.n_layers * blocks.attention_flops_per_cached_token(cfg, batch)
                  * memory_len)
        bytes_ += kv_cache.cached_kv_bytes(cfg, batch, memory_len, kv_dtype or dtype)
    return flops, flops_slope, bytes_, bytes_slope


def _stretches(cfg, start: int, end: int) -> list[tuple[int, int]]:
    """Contexts [start, end) cut where a decode step's cost changes slope: where windowed
    layers stop growing, at sliding_window - 1 cached tokens."""
    cuts = [start, end]
    if cfg.sliding_window is not None and start < cfg.sliding_window - 1 < end:
        cuts.insert(1, cfg.sliding_window - 1)
    return list(itertools.pairwise(cuts))


def decode_step_roofline(cfg, device, batch: int, context: int, dtype: str = "bf16",
                         bandwidth_efficiency: float = 1.0, compute_efficiency: float = 1.0,
                         kv_dtype: str | None = None) -> RooflineResult:
    """Roofline of one decode step: each of ``batch`` sequences produces one token while
    attending to ``context`` cached tokens.

    bytes = weights read (`weight_bytes_read`: all of a dense model; for an MoE the union of
            the experts the batch uses) + the KV cache of batch x context tokens
    flops = 2 x active_params x batch + 4 x batch x n_layers x n_heads x head_dim x context
            (a windowed layer attends to at most sliding_window - 1 cached tokens; multi-head
            latent attention to its latent, `blocks.attention_flops_per_cached_token`)
    time  = max(flops / peak, bytes / bandwidth)

    A batch whose weights, KV cache and logits do not fit on the device is refused
    (`kv_cache.check_serving_fits`), naming the largest batch that does. At small batch the weights dominate and decoding is memory-bound: tokens/s per sequence
    is about bandwidth / weight bytes (Pope et al. 2022, "Efficiently scaling transformer
    inference"). ``kv_dtype`` defaults to ``dtype``. An encoder-decoder's step runs the
    decoder alone (`decode_step_params`) and reads the cross-attention keys and values cached
    for the encoder's output (`encoder_memory_len` of them). The attention to the new token
    itself is left out.
    """
    cfg = _decoder(cfg)
    check_positive_int("batch", batch)
    context = counts.check_seq(cfg, context, "context")
    check_fraction("bandwidth_efficiency", bandwidth_efficiency)
    check_fraction("compute_efficiency", compute_efficiency)
    kv_cache.check_kv_dtype(kv_dtype)
    dev = hardware.device(device)
    kv_cache.check_serving_fits(cfg, dev, batch, context, dtype, kv_dtype)
    f0, f1, b0, b1 = _decode_terms(cfg, batch, dtype, kv_dtype, context)
    return _roofline(f0 + f1 * context, b0 + b1 * context,
                     dev.peak_flops(dtype) * compute_efficiency,
                     dev.bandwidth_bytes_per_s * bandwidth_efficiency)


def decode_time_per_token(cfg, device, batch: int, context: int, dtype: str = "bf16",
                          bandwidth_efficiency: float = 1.0, compute_efficiency: float = 1.0,
                          kv_dtype: str | None = None) -> float:
    """Seconds per decode step (every sequence of the batch gains one token): the roofline
    ≈ max(2 N b / peak, (weight bytes + KV-cache bytes) / bandwidth), memory-bound until the
    batch reaches the ridge point; see `decode_step_roofline`."""
    return decode_step_roofline(cfg, device, batch, context, dtype, bandwidth_efficiency,
                                compute_efficiency, kv_dtype).seconds


def decode_throughput(cfg, device, batch: int, context: int, dtype: str = "bf16",
                      bandwidth_efficiency: float = 1.0, compute_efficiency: float = 1.0,
                      kv_dtype: str | None = None) -> float:
    """Tokens per second generated by the whole batch: batch / `decode_time_per_token`."""
    return batch / decode_time_per_token(cfg, device, batch, context, dtype,
                                         bandwidth_efficiency, compute_efficiency, kv_dtype)


def _sum_of_max(a0, a1, b0, b1, start: int, n: int) -> float:
    """The sum over c = start, ..., start + n - 1 of max(a0 + a1 c, b0 + b1 c), in closed
    form: each line wins on one side of where they cross, and a line sums as a series."""
    def series(x0, x1, lo, count):  # sum of x0 + x1 c over c = lo, ..., lo + count - 1
        return count * x0 + x1 * (count * lo + count * (count - 1) / 2) if count > 0 else 0.0

    end = start + n
    d0, d1 = a0 - b0, a1 - b1  # a - b = d0 + d1 c
    if d1 == 0:
        return series(a0, a1, start, n) if d0 >= 0 else series(b0, b1, start, n)
    cross = -d0 / d1
    if d1 > 0:  # b up to the crossing, a from it
        k = min(max(math.ceil(cross), start), end)
        return series(b0, b1, start, k - start) + series(a0, a1, k, end - k)
    k = min(max(math.floor(cross) + 1, start), end)  # a up to the crossing, b after it
    return series(a0, a1, start, k - start) + series(b0, b1, k, end - k)


def generation_time(cfg, device, batch: int, prompt_len: int, new_tokens: int,
                    dtype: str = "bf16", mfu: float = 0.5, bandwidth_efficiency: float = 1.0,
                    compute_efficiency: float = 1.0, kv_dtype: str | None = None) -> float:
    """Seconds to prefill ``prompt_len`` tokens and then decode ``new_tokens`` more for each of
    ``batch`` sequences: `prefill_time` + the decode steps at contexts prompt_len, ...,
    prompt_len + new_tokens - 1 (each a roofline, summed in closed form). The whole sequence,
    prompt_len + new_tokens, must be one the model can take (`counts.check_seq`)."""
    cfg = _decoder(cfg)
    prompt_len = counts.check_seq(cfg, prompt_len, "prompt_len")
    check_positive_int("new_tokens", new_tokens)
    counts.check_seq(cfg, prompt_len + new_tokens, "prompt_len + new_tokens")
    check_fraction("compute_efficiency", compute_efficiency)
    prefill = prefill_time(cfg, device, batch, prompt_len, dtype, mfu, bandwidth_efficiency,
                           kv_dtype)
    dev = hardware.device(device)
    kv_cache.check_serving_fits(cfg, dev, batch, prompt_len + new_tokens, dtype, kv_dtype,
                                context_name="prompt_len + new_tokens")
    flops_per_s = dev.peak_flops(dtype) * compute_efficiency
    bytes_per_s = dev.bandwidth_bytes_per_s * bandwidth_efficiency
    decode = 0.0
    try:
        for start, end in _stretches(cfg, prompt_len, prompt_len + new_tokens):
            f0, f1, b0, b1 = _decode_terms(cfg, batch, dtype, kv_dtype, start)
            decode += _sum_of_max(f0 / flops_per_s, f1 / flops_per_s, b0 / bytes_per_s,
                                  b1 / bytes_per_s, start, end - start)
    except OverflowError:  # a count of steps too large for a float
        decode = math.inf
    total = prefill + decode
    if not math.isfinite(total):
        fail("new_tokens", new_tokens, f"fewer: so many decode steps after a {prompt_len}-"
             "token prompt take longer than a float can hold")
    return total
