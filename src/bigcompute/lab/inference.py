"""Inference measured: prefill and decode of a `nets.Transformer` decoder, with and without a
KV cache, timed on this machine.

Generating n tokens after a prompt of p tokens is one *prefill* pass over the p prompt tokens
(which fills the KV cache) and then n *decode* steps of one token each, every step attending to
all the tokens before it. Without a cache every step runs the whole sequence again. The
formulas these measurements are held against live in `timing` (prefill_time,
decode_step_roofline) and `memory` (kv_cache_bytes).
"""

from __future__ import annotations

import time

import torch

from .nets import KVCache

__all__ = [
    "prompt_tokens", "time_prefill", "time_decode_step", "cache_bytes",
]


def _best(fn, repeats: int, warmup: bool = True) -> float:
    """Best wall seconds of ``fn()`` over ``repeats`` runs (after a warm-up run)."""
    if warmup:
        fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def prompt_tokens(cfg, batch: int, length: int, seed: int = 0) -> torch.Tensor:
    """A seeded random prompt: (batch, length) token ids."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, cfg.vocab_size, (batch, length), generator=g)


@torch.no_grad()
def time_prefill(model, batch: int, prompt_len: int, repeats: int = 3, seed: int = 0) -> float:
    """Best seconds of one prefill pass: ``batch`` prompts of ``prompt_len`` tokens run through
    the model, writing a fresh KV cache."""
    model.eval()
    prompt = prompt_tokens(model.cfg, batch, prompt_len, seed)
    dtype = model.tokens.weight.dtype

    def prefill():
        model(prompt, cache=KVCache(model.cfg, batch, prompt_len, dtype))

    return _best(prefill, repeats)


@torch.no_grad()
def time_decode_step(model, batch: int, context: int, steps: int = 5, seed: int = 0) -> float:
    """Best seconds of one decode step (every sequence of the batch gains one token) at a
    context of about ``context`` cached tokens: a prefill of ``context`` tokens, then
    ``steps`` single-token steps, each timed."""
    model.eval()
    cfg = model.cfg
    prompt = prompt_tokens(cfg, batch, context, seed)
    cache = KVCache(cfg, batch, context + steps + 1, model.tokens.weight.dtype)
    logits = model(prompt, cache=cache)
    token = logits[:, -1].argmax(dim=-1, keepdim=True)
    best = float("inf")
    for _ in range(steps):
        t0 = time.perf_counter()
        logits = model(token, cache=cache)
        best = min(best, time.perf_counter() - t0)
        token = logits[:, -1].argmax(dim=-1, keepdim=True)
    return best


def cache_bytes(model, batch: int, length: int) -> int:
    """Bytes of the KV cache the model allocates for ``batch`` sequences of ``length`` tokens
    (at the model's dtype)."""
    return KVCache(model.cfg, batch, length, model.tokens.weight.dtype).nbytes()
