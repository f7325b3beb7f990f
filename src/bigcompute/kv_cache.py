"""Memory of inference: the KV cache, weights beside it, and the batch a device can serve.

Every prefill and decode estimate (`timing`) checks its batch against the device here
(`check_serving_fits`): weights, the KV cache of every sequence and the next token's logits
must fit, or the error names the largest batch and the longest context that do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import blocks
from .configs import TransformerConfig
from .counts import check_seq, check_tp, param_count, transformer_config
from .errors import check_choice, check_positive_int, fail
from .hardware import device as get_device
from .precision import DTYPE_BYTES, RECIPES, bytes_per_element
from .units import format_bytes

__all__ = ["MLA_CACHES", "kv_cache_bytes", "cached_kv_bytes", "check_kv_dtype", "InferenceMemory",
           "inference_memory", "max_decode_batch", "check_serving_fits"]


# what a multi-head latent attention caches: its latent (DeepSeek-V2's deployment), or every
# head's key and value expanded from it (a plain attention kernel's input)
MLA_CACHES = ("latent", "expanded")


def check_kv_dtype(kv_dtype) -> None:
    """The KV cache's dtype: None (the weights' dtype) or any dtype `bytes_per_element`
    knows, named as ``kv_dtype`` when it is not."""
    if kv_dtype is not None:
        check_choice("kv_dtype", kv_dtype, tuple(DTYPE_BYTES) + tuple(RECIPES))


def kv_cache_bytes(cfg: TransformerConfig, batch: int, seq: int, dtype: str = "bf16",
                   mla_cache: str = "latent") -> float:
    """Keys and values of every layer: 2 * layers * batch * seq * kv_heads * head_dim * bytes.

    Grouped-query attention shrinks it by n_heads / n_kv_heads (8x for Llama-2-70B). A
    windowed layer (``sliding_window``) keeps only the sliding_window - 1 positions before the
    next token, so the cache stops growing there. Multi-head latent attention caches its
    latent, (kv_lora_rank + qk_rope_head_dim) per position and layer (DeepSeek-V2, sec.
    2.1.2: 576 numbers where its 128 heads would need 32,768), or with
    ``mla_cache="expanded"`` every head's key and value. ``seq`` is a sequence the model can
    take (`counts.check_seq`; None: its own context)."""
    cfg = transformer_config(cfg)
    check_positive_int("batch", batch)
    seq = check_seq(cfg, seq)
    check_choice("mla_cache", mla_cache, MLA_CACHES)
    return cached_kv_bytes(cfg, batch, seq, dtype, mla_cache)


def cached_kv_bytes(cfg, batch, seq, dtype, mla_cache="latent") -> float:
    """K and V bytes of ``seq`` cached positions per sequence, whatever attends to them, so
    unchecked against the decoder's positions: `kv_cache_bytes` after its checks, the timing
    formulas' slopes and an encoder's cached output (Whisper's 1,500 frames, beyond its
    decoder's 448 positions). Positions per layer: `blocks.kv_positions`; numbers per
    position: `blocks.kv_width_per_token`."""
    return (batch * blocks.kv_positions(cfg, seq) * blocks.kv_width_per_token(cfg, mla_cache)
            * bytes_per_element(dtype))


@dataclass(frozen=True)
class InferenceMemory:
    weights: float
    kv_cache: float

    @property
    def total(self) -> float:
        return self.weights + self.kv_cache


def inference_memory(cfg: TransformerConfig, batch: int, seq: int, dtype: str = "bf16",
                     kv_dtype: str | None = None, tp: int = 1) -> InferenceMemory:
    """Weights at ``dtype`` plus the KV cache for ``batch`` sequences of ``seq`` tokens,
    per device when split ``tp`` ways: (N x bytes(dtype) + `kv_cache_bytes`) / tp.
    ``kv_dtype`` defaults to ``dtype``; ``tp`` must divide the heads (`counts.check_tp`)."""
    cfg = transformer_config(cfg)
    check_positive_int("batch", batch)
    seq = check_seq(cfg, seq)
    check_kv_dtype(kv_dtype)
    check_tp(cfg, tp)
    weights = param_count(cfg) * bytes_per_element(dtype) / tp
    kv = cached_kv_bytes(cfg, batch, seq, kv_dtype or dtype) / tp
    return InferenceMemory(weights, kv)


def max_decode_batch(cfg, device, context: int, dtype: str = "bf16",
                     kv_dtype: str | None = None, tp: int = 1) -> int:
    """The largest batch of sequences that can decode at ``context`` tokens on ``tp`` devices
    (tensor parallel): each device holds its share of the weights, of every sequence's KV
    cache and of the step's working memory, the fp32 logits of the next token (V x 4 bytes per
    sequence, the vocabulary split over the devices):

        batch = floor((memory - weights / tp) / ((KV per sequence + 4 V) / tp))

    0 when the weights alone do not fit (`inference_memory` gives the two parts)."""
    cfg = transformer_config(cfg)
    context = check_seq(cfg, context, "context")
    dev = get_device(device)
    room, per_sequence, per_token = _serving_room(cfg, dev, context, dtype, kv_dtype, tp)
    return max(0, math.floor(room / per_sequence)) if per_sequence else 0


def _serving_room(cfg, dev, context, dtype, kv_dtype, tp):
    """(bytes left on a device beside its share of the weights, bytes per sequence at
    ``context`` tokens, KV bytes per cached token of one sequence), per device."""
    one = inference_memory(cfg, 1, context, dtype, kv_dtype, tp)
    logits = cfg.vocab_size * DTYPE_BYTES["fp32"] / tp
    return dev.memory_bytes - one.weights, one.kv_cache + logits, one.kv_cache / context


def _longest_context(cfg, room_per_sequence, context, dtype, tp) -> int:
    """The longest context below ``context`` whose cache fits in ``room_per_sequence``
    (the cache never shrinks as the context grows: bisection), 0 when none does."""
    low, high = 0, context
    while low < high:
        mid = (low + high + 1) // 2
        if cached_kv_bytes(cfg, 1, mid, dtype) / tp <= room_per_sequence:
            low = mid
        else:
            high = mid - 1
    return low


def check_serving_fits(cfg, device, batch: int, context: int, dtype: str = "bf16",
                       kv_dtype: str | None = None, tp: int = 1,
                       context_name: str = "context") -> None:
    """Refuse a batch that cannot be served: weights, the KV cache of ``batch`` sequences of
    ``context`` tokens and the next token's fp32 logits, per device of ``tp``, must fit in the
    device's memory (`max_decode_batch`). The ValueError names what is too large: the device
    when the weights alone do not fit, the context (called ``context_name`` by the caller)
    when not even one sequence does, otherwise the batch, with the largest batch that fits
    at this context and the longest context that fits at this batch."""
    cfg = transformer_config(cfg)
    check_positive_int("batch", batch)
    context = check_seq(cfg, context, context_name)
    dev = get_device(device)
    largest = max_decode_batch(cfg, dev, context, dtype, kv_dtype, tp)
    if batch <= largest:
        return
    room, per_sequence, per_token = _serving_room(cfg, dev, context, dtype, kv_dtype, tp)
    where = f"on {tp} x {dev.name}" if tp > 1 else f"on one {dev.name}"
    logits = per_sequence - per_token * context
    if room < logits:
        fail("device", dev.name, f"one that holds the {dtype} weights "
             f"({format_bytes(dev.memory_bytes - room)} per device with tp={tp}) and room for "
             f"a batch ({dev.memory_label}): split them over more devices (tp) or store them "
             "in fewer bits")
    if cfg.sliding_window is None:
        longest = math.floor((room / batch - logits) / per_token) if per_token else 0
    else:  # windowed layers stop growing: the cache is not linear in the context
        longest = _longest_context(cfg, room / batch - logits, context, kv_dtype or dtype, tp)
    if largest == 0:
        fail(context_name, context, f"at most {longest:,} tokens for one sequence {where}")
    need = dev.memory_bytes - room + batch * per_sequence
    fail("batch", batch, f"at most {largest:,} sequences of {context:,} tokens {where}: "
         f"{batch:,} need {format_bytes(need)} per device of {format_bytes(dev.memory_bytes)} "
         f"(weights and KV cache); at batch {batch:,} the longest context that fits is "
         f"{max(0, longest):,} tokens")
