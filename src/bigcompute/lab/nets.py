"""Reference torch modules built from the configs in `bigcompute.configs`.

They are written to be measured: every parameter the formulas count exists here and nothing
else, so `counts.param_count(cfg) == sum(p.numel() for p in build(cfg).parameters())`, and
FlopCounterMode on a forward pass equals `counts.flops`. Build large models on the meta
device (`build(cfg, device="meta")`) to count without allocating.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from .. import blocks, catalog
from ..configs import (
    ATTENTIONS,
    RELATIVE_BUCKETS,
    AttentionConfig,
    CNNConfig,
    LSTMConfig,
    MLPConfig,
    ResNetConfig,
    TransformerConfig,
)
from ..counts import default_seq
from ..errors import check_choice

__all__ = [
    "ACTIVATION_FNS", "rotary_tables", "KVCache", "Attention", "LatentAttention", "MLP", "MoE",
    "Block", "relative_position_bucket", "Stack", "Transformer", "MLPNet", "CNNNet", "LSTMNet",
    "Bottleneck", "ResNet", "DocumentAttention", "AdditiveAttention", "AttentionClassifier",
    "build", "example_inputs",
]

ACTIVATION_FNS = {"gelu": F.gelu, "relu": F.relu, "silu": F.silu}


def _norm(cfg: TransformerConfig, width: int | None = None) -> nn.Module:
    """The config's norm over ``width`` features (the model width by default)."""
    width = cfg.d_model if width is None else width
    if cfg.norm == "rmsnorm":
        return nn.RMSNorm(width, eps=1e-6)
    return nn.LayerNorm(width, bias=cfg.bias)


def rotary_tables(seq: int, head_dim: int, base: float = 10000.0, device=None):
    """cos and sin of RoPE (Su et al. 2021) for positions 0..seq-1, shape (seq, head_dim)."""
    inv = 1.0 / base ** (torch.arange(0, head_dim, 2, device=device).float() / head_dim)
    angles = torch.outer(torch.arange(seq, device=device).float(), inv)
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def _rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


class KVCache:
    """Pre-allocated keys and values of every layer: 2 x layers x (batch, kv_heads, max_len,
    head_dim). A windowed layer keeps only the sliding_window - 1 latest positions (a ring:
    position p at p mod its length); multi-head latent attention keeps its latent, (batch, 1,
    max_len, kv_lora_rank + qk_rope_head_dim), in ``keys`` and nothing in ``values``. Its
    bytes are what `kv_cache.kv_cache_bytes` predicts."""

    def __init__(self, cfg: TransformerConfig, batch: int, max_len: int, dtype=torch.float32,
                 device=None):
        def zeros(heads, length, width):
            return torch.zeros(batch, heads, length, width, dtype=dtype, device=device)

        if cfg.kv_lora_rank:
            width = cfg.kv_lora_rank + cfg.qk_rope_head_dim
            self.keys = [zeros(1, max_len, width) for _ in range(cfg.n_layers)]
            self.values = []
        else:
            lengths = [min(max_len, cfg.sliding_window - 1) if blocks.is_windowed(cfg, i)
                       else max_len for i in range(cfg.n_layers)]
            self.keys = [zeros(cfg.n_kv_heads, n, cfg.head_dim) for n in lengths]
            self.values = [zeros(cfg.n_kv_heads, n, cfg.head_dim) for n in lengths]
        self.length = 0

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.keys + self.values)

    def update(self, layer: int, k, v, start: int):
        """Store the keys and values of positions start, start + 1, ... and return those the
        new queries attend to: every cached position (a windowed layer: the ones it kept)
        followed by the new ones."""
        keys, values = self.keys[layer], self.values[layer]
        length, end = keys.shape[2], start + k.shape[2]
        if length >= end:  # in order
            keys[:, :, start:end], values[:, :, start:end] = k, v
            return keys[:, :, :end], values[:, :, :end]
        past = torch.arange(max(0, start - length), start, device=k.device) % max(length, 1)
        k_all = torch.cat([keys[:, :, past], k], dim=2)
        v_all = torch.cat([values[:, :, past], v], dim=2)
        if length:
            kept = torch.arange(max(start, end - length), end, device=k.device)
            keys[:, :, kept % length] = k[:, :, kept - start]
            values[:, :, kept % length] = v[:, :, kept - start]
        return k_all, v_all


def _rope(x, rope, offset):
    """RoPE on x (batch, seq, heads, dim) at positions offset, offset + 1, ..."""
    cos, sin = (t[offset:offset + x.shape[1], None, :] for t in rope)
    return x * cos + _rotate_half(x) * sin


class _AttentionCore(nn.Module):
    """The attention core shared by `Attention` and `LatentAttention`: softmax(QK^T /
    sqrt(head_dim) + bias) V, causal for a decoder's self-attention, within ``window``
    positions (the query's own included) for a windowed layer. ``attention="naive"``
    materialises the scores; "flash" calls scaled_dot_product_attention."""

    def __init__(self, cfg: TransformerConfig, causal: bool, window: int | None):
        super().__init__()
        self.cfg, self.causal, self.window = cfg, causal, window
        self.groups = cfg.n_heads // cfg.n_kv_heads
        self.attention = "naive"
        self.recompute_core = False

    def core(self, q, k, v, bias=None):
        s_q, s_k = q.shape[2], k.shape[2]
        if self.window is not None and s_k > self.window:
            return self._windowed(q, k, v)
        causal = self.causal and s_q > 1
        if self.attention == "flash" and bias is None:
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal,
                                                  enable_gqa=self.groups > 1)
        if self.groups > 1:
            k, v = (t.repeat_interleave(self.groups, dim=1) for t in (k, v))
        scores = torch.matmul(q * (1.0 / math.sqrt(self.cfg.head_dim)), k.transpose(-2, -1))
        if bias is not None:
            scores = scores + bias
        if causal:
            mask = torch.ones(s_q, s_k, dtype=torch.bool, device=q.device).triu(s_k - s_q + 1)
            scores = scores.masked_fill(mask, float("-inf"))
        return torch.matmul(scores.softmax(dim=-1), v)

    def _windowed(self, q, k, v):
        """A windowed layer longer than its window: each query against the ``window`` keys
        ending at its own position, a band (keys before position 0 masked), so that the
        scores are s x window, as `blocks.core_pairs` counts them. The keys end at the last
        query (a cache may hold fewer keys before the queries than the window)."""
        w, s_q, s_k = self.window, q.shape[2], k.shape[2]
        if self.groups > 1:
            k, v = (t.repeat_interleave(self.groups, dim=1) for t in (k, v))
        pad = w - 1 - (s_k - s_q)  # slots before the first key
        k, v = (F.pad(t, (0, 0, max(pad, 0), 0))[:, :, max(-pad, 0):] for t in (k, v))
        k, v = (t.unfold(2, w, 1).transpose(-1, -2) for t in (k, v))  # (b, h, s_q, w, d)
        slot = torch.arange(w, device=q.device)
        query = torch.arange(s_q, device=q.device)[:, None]
        empty = (query + slot < pad)[:, None, :]  # (s_q, 1, w): no key in that slot
        q = q.unsqueeze(-2)  # (b, h, s_q, 1, d)
        if self.attention == "flash":
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=~empty)
        else:
            scores = torch.matmul(q * (1.0 / math.sqrt(self.cfg.head_dim)),
                                  k.transpose(-2, -1))
            out = torch.matmul(scores.masked_fill(empty, float("-inf")).softmax(dim=-1), v)
        return out.squeeze(-2)

    def _attend(self, q, k, v, bias=None):
        if self.recompute_core and torch.is_grad_enabled():
            return checkpoint(self.core, q, k, v, bias, use_reentrant=True)
        return self.core(q, k, v, bias)


class Attention(_AttentionCore):
    """Multi-head attention with grouped K/V heads (biases as the config gives them; a
    qk_norm over each head or over all of Q and K; a sliding window on windowed layers)."""

    def __init__(self, cfg: TransformerConfig, causal: bool, window: int | None = None):
        super().__init__(cfg, causal, window)
        q_width, kv_width = cfg.n_heads * cfg.head_dim, cfg.n_kv_heads * cfg.head_dim
        qkv_bias, out_bias = blocks.attention_biases(cfg)
        self.q = nn.Linear(cfg.d_model, q_width, bias=qkv_bias)
        self.k = nn.Linear(cfg.d_model, kv_width, bias=qkv_bias)
        self.v = nn.Linear(cfg.d_model, kv_width, bias=qkv_bias)
        self.o = nn.Linear(q_width, cfg.d_model, bias=out_bias)
        self.q_norm = self.k_norm = None
        if cfg.qk_norm == "head":
            self.q_norm, self.k_norm = _norm(cfg, cfg.head_dim), _norm(cfg, cfg.head_dim)
        elif cfg.qk_norm == "full":
            self.q_norm, self.k_norm = _norm(cfg, q_width), _norm(cfg, kv_width)

    def _heads(self, x, n_heads, rope=None, offset=0, norm=None):
        b, s, _ = x.shape
        if norm is not None and self.cfg.qk_norm == "full":
            x = norm(x)
        x = x.view(b, s, n_heads, self.cfg.head_dim)
        if norm is not None and self.cfg.qk_norm == "head":
            x = norm(x)
        if rope is not None:
            x = _rope(x, rope, offset)
        return x.transpose(1, 2).contiguous()  # (batch, heads, seq, head_dim)

    def forward(self, x, memory=None, rope=None, bias=None, cache=None, layer=0):
        b, s, _ = x.shape
        source = x if memory is None else memory
        offset = cache.length if cache else 0
        q = self._heads(self.q(x), self.cfg.n_heads, rope, offset, self.q_norm)
        k = self._heads(self.k(source), self.cfg.n_kv_heads, rope, offset, self.k_norm)
        v = self._heads(self.v(source), self.cfg.n_kv_heads)
        if cache is not None:
            k, v = cache.update(layer, k, v, offset)
        out = self._attend(q, k, v, bias)
        return self.o(out.transpose(1, 2).reshape(b, s, -1))


class LatentAttention(_AttentionCore):
    """Multi-head latent attention (DeepSeek-V2, Liu et al. 2024, sec. 2.1): the keys'
    no-position part and the values come up from a latent of kv_lora_rank, each head's rotary
    part of the key is one shared qk_rope_head_dim key, and the queries go through a latent of
    q_lora_rank (or straight from the input). A cache keeps the (normed) latent and the
    rotated shared key; every head's keys and values are expanded from it each step."""

    def __init__(self, cfg: TransformerConfig, causal: bool = True, window=None):
        super().__init__(cfg, causal, window)
        d, h, hd, rope = cfg.d_model, cfg.n_heads, cfg.head_dim, cfg.qk_rope_head_dim
        self.v_dim, self.rope_dim = blocks.value_head_dim(cfg), rope
        if cfg.q_lora_rank:
            self.q_a = nn.Linear(d, cfg.q_lora_rank, bias=False)
            self.q_a_norm = _norm(cfg, cfg.q_lora_rank)
            self.q_b = nn.Linear(cfg.q_lora_rank, h * hd, bias=False)
        else:
            self.q = nn.Linear(d, h * hd, bias=False)
        self.kv_a = nn.Linear(d, cfg.kv_lora_rank + rope, bias=False)
        self.kv_a_norm = _norm(cfg, cfg.kv_lora_rank)
        self.kv_b = nn.Linear(cfg.kv_lora_rank, h * (hd - rope + self.v_dim), bias=False)
        self.o = nn.Linear(h * self.v_dim, d, bias=False)

    def forward(self, x, memory=None, rope=None, bias=None, cache=None, layer=0):
        cfg = self.cfg
        b, s, _ = x.shape
        h, nope, r_kv = cfg.n_heads, cfg.head_dim - self.rope_dim, cfg.kv_lora_rank
        offset = cache.length if cache else 0
        q = self.q_b(self.q_a_norm(self.q_a(x))) if cfg.q_lora_rank else self.q(x)
        q_nope, q_rot = q.view(b, s, h, cfg.head_dim).split([nope, self.rope_dim], dim=-1)
        latent, k_rot = self.kv_a(x).split([r_kv, self.rope_dim], dim=-1)
        latent, k_rot = self.kv_a_norm(latent), k_rot[:, :, None, :]
        if rope is not None:
            q_rot, k_rot = _rope(q_rot, rope, offset), _rope(k_rot, rope, offset)
        if cache is not None:
            stored = cache.keys[layer]
            stored[:, 0, offset:offset + s] = torch.cat([latent, k_rot[:, :, 0]], dim=-1)
            latent, k_rot = stored[:, 0, :offset + s].split([r_kv, self.rope_dim], dim=-1)
            k_rot = k_rot[:, :, None, :]
        length = latent.shape[1]
        k_nope, v = self.kv_b(latent).view(b, length, h, nope + self.v_dim).split(
            [nope, self.v_dim], dim=-1)
        k = torch.cat([k_nope, k_rot.expand(b, length, h, self.rope_dim)], dim=-1)
        q = torch.cat([q_nope, q_rot], dim=-1)
        out = self._attend(*(t.transpose(1, 2) for t in (q, k, v)), bias)
        return self.o(out.transpose(1, 2).reshape(b, s, h * self.v_dim))


class MLP(nn.Module):
    """d_model -> d_ff -> d_model; gated (SwiGLU-style) with a third matrix. ``d_ff`` defaults
    to the config's (an expert's or a shared expert's is given)."""

    def __init__(self, cfg: TransformerConfig, d_ff: int | None = None):
        super().__init__()
        f, bias = cfg.d_ff if d_ff is None else d_ff, blocks.mlp_has_bias(cfg)
        self.act = ACTIVATION_FNS[cfg.activation]
        self.up = nn.Linear(cfg.d_model, f, bias=bias)
        self.gate = nn.Linear(cfg.d_model, f, bias=bias) if cfg.gated_mlp else None
        self.down = nn.Linear(f, cfg.d_model, bias=bias)

    def forward(self, x):
        h = self.act(self.up(x))
        if self.gate is not None:
            h = h * self.gate(x)
        return self.down(h)


class MoE(nn.Module):
    """Mixture of experts (Shazeer et al. 2017; Mixtral): a linear router picks top_k experts
    per token; their outputs are mixed with the renormalised router weights. Fine-grained
    experts have their own width (d_ff_expert); a shared expert (DeepSeekMoE, Qwen2-MoE) runs
    on every token, scaled by a sigmoid gate where the config has one (Qwen2-MoE)."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.top_k = cfg.top_k
        self.router = nn.Linear(cfg.d_model, cfg.n_experts, bias=False)
        width = cfg.d_ff if cfg.d_ff_expert is None else cfg.d_ff_expert
        self.experts = nn.ModuleList(MLP(cfg, width) for _ in range(cfg.n_experts))
        self.shared = MLP(cfg, cfg.shared_expert_d_ff) if cfg.shared_expert_d_ff else None
        self.shared_gate = (nn.Linear(cfg.d_model, 1, bias=False) if cfg.shared_expert_gate
                            else None)

    def forward(self, x):
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        weights, chosen = self.router(x).softmax(dim=-1).topk(self.top_k, dim=-1)
        weights = weights / weights.sum(dim=-1, keepdim=True)
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            token, slot = torch.where(chosen == e)
            if token.numel():
                y = expert(x[token]) * weights[token, slot, None]
                out = out.index_add(0, token, y.to(out.dtype))  # autocast: bf16 into fp32
        if self.shared is not None:
            y = self.shared(x)
            if self.shared_gate is not None:
                y = torch.sigmoid(self.shared_gate(x)) * y
            out = out + y.to(out.dtype)
        return out.reshape(shape)


class Block(nn.Module):
    """Pre-norm transformer block (post-norm for BERT), optionally with cross-attention.
    Layer ``layer`` of a decoder may be windowed, or dense among experts (`blocks`); its norms
    may also follow each sublayer (norm_placement "sandwich", Gemma 2) or only follow it
    ("output", OLMo 2); a parallel block (GPT-NeoX) adds both sublayers to its input."""

    def __init__(self, cfg: TransformerConfig, causal: bool, cross: bool = False,
                 layer: int = 0):
        super().__init__()
        self.post_norm, self.parallel = cfg.post_norm, cfg.parallel_block
        before, after = cfg.norm_placement != "output", cfg.norm_placement != "pre"
        window = cfg.sliding_window if blocks.is_windowed(cfg, layer) else None
        attention = LatentAttention if cfg.kv_lora_rank else Attention
        self.norm1, self.attn = (_norm(cfg) if before else None), attention(cfg, causal, window)
        self.cross = Attention(cfg, causal=False) if cross else None
        self.norm_cross = _norm(cfg) if cross else None
        self.norm2 = _norm(cfg) if before else None
        self.post_attn = _norm(cfg) if after else None
        self.post_mlp = _norm(cfg) if after else None
        self.mlp = MoE(cfg) if cfg.is_moe and layer >= cfg.dense_layers else MLP(cfg)

    def _residual(self, x, norm, fn, post=None):
        if self.post_norm:
            return norm(x + fn(x))
        h = fn(x if norm is None else norm(x))
        return x + (h if post is None else post(h))

    def forward(self, x, memory=None, rope=None, bias=None, cache=None, layer=0):
        def attend(h):
            return self.attn(h, rope=rope, bias=bias, cache=cache, layer=layer)

        if self.parallel:
            return x + attend(self.norm1(x)) + self.mlp(self.norm2(x))
        x = self._residual(x, self.norm1, attend, self.post_attn)
        if self.cross is not None:
            x = self._residual(x, self.norm_cross, lambda h: self.cross(h, memory=memory))
        return self._residual(x, self.norm2, self.mlp, self.post_mlp)


def relative_position_bucket(rel, bidirectional: bool, n_buckets=RELATIVE_BUCKETS,
                             max_distance=128):
    """T5's log-spaced buckets of relative position (Raffel et al. 2020)."""
    out = torch.zeros_like(rel)
    if bidirectional:
        n_buckets //= 2
        out += (rel > 0).long() * n_buckets
        rel = rel.abs()
    else:
        rel = -torch.clamp(rel, max=0)
    exact = n_buckets // 2
    large = exact + (torch.log(rel.float().clamp(min=1) / exact)
                     / math.log(max_distance / exact) * (n_buckets - exact)).long()
    large = torch.clamp(large, max=n_buckets - 1)
    return out + torch.where(rel < exact, rel, large)


class Stack(nn.Module):
    """Blocks of one encoder or decoder, with positions and a final norm."""

    def __init__(self, cfg: TransformerConfig, n_layers: int, causal: bool, cross: bool):
        super().__init__()
        self.cfg, self.causal = cfg, causal
        self.layers = nn.ModuleList(Block(cfg, causal, cross, i) for i in range(n_layers))
        self.final_norm = None if cfg.post_norm else _norm(cfg)
        self.relative = (nn.Embedding(RELATIVE_BUCKETS, cfg.n_heads)
                         if cfg.positions == "relative" else None)
        self.recompute_layers = False

    def _relative_bias(self, s_q, s_k, offset, device):
        rel = (torch.arange(s_k, device=device)[None, :]
               - torch.arange(offset, offset + s_q, device=device)[:, None])
        buckets = relative_position_bucket(rel, bidirectional=not self.causal)
        return self.relative(buckets).permute(2, 0, 1)[None]  # (1, heads, s_q, s_k)

    def forward(self, x, memory=None, rope=None, cache=None):
        bias = None
        if self.relative is not None:
            offset = cache.length if cache else 0
            bias = self._relative_bias(x.shape[1], offset + x.shape[1], offset, x.device)
        for i, layer in enumerate(self.layers):
            if self.recompute_layers and torch.is_grad_enabled():
                # the shared position bias goes in as an input, so its graph is not
                # backpropagated once per recomputed layer
                x = checkpoint(lambda h, m, b, lyr=layer: lyr(h, m, rope, b), x, memory, bias,
                               use_reentrant=True)
            else:
                x = layer(x, memory, rope, bias, cache, i)
        return x if self.final_norm is None else self.final_norm(x)


class Transformer(nn.Module):
    """A decoder (GPT, LLaMA, Mixtral), an encoder (BERT, ViT) or an encoder-decoder (T5,
    Whisper), built from a TransformerConfig.

    forward(tokens or images or mel frames, [decoder tokens]) -> logits (or pooled features /
    class scores for encoders). Set the attention kernel and recomputation with
    `set_attention` and `set_recompute`.
    """

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.tokens = (nn.Embedding(cfg.vocab_size, d)
                       if cfg.frontend == "tokens" or cfg.arch == "encoder-decoder" else None)
        learned = cfg.positions == "learned"
        if cfg.frontend == "patches":
            self.patch = nn.Conv2d(cfg.in_channels, d, cfg.patch_size, stride=cfg.patch_size)
            self.cls = nn.Parameter(torch.zeros(1, 1, d))
        if cfg.frontend == "audio":
            self.conv1 = nn.Conv1d(cfg.n_mels, d, 3, padding=1)
            self.conv2 = nn.Conv1d(d, d, 3, stride=2, padding=1)
            self.register_buffer("enc_positions", _sinusoids(cfg.encoder_seq_len, d),
                                 persistent=False)
        n_pos = cfg.n_patches + 1 if cfg.frontend == "patches" else cfg.max_seq_len
        self.positions = nn.Embedding(n_pos, d) if learned else None
        self.enc_token_positions = (nn.Embedding(cfg.max_seq_len, d)
                                    if learned and cfg.arch == "encoder-decoder"
                                    and cfg.frontend == "tokens" else None)
        self.segments = nn.Embedding(cfg.type_vocab_size, d) if cfg.type_vocab_size else None
        self.embedding_norm = _norm(cfg) if cfg.embedding_norm else None
        if cfg.positions == "rotary":  # multi-head latent attention rotates its rotary part
            cos, sin = rotary_tables(cfg.max_seq_len, cfg.qk_rope_head_dim or cfg.head_dim)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        if cfg.arch == "encoder-decoder":
            self.encoder = Stack(cfg, cfg.n_encoder_layers, causal=False, cross=False)
            self.decoder = Stack(cfg, cfg.n_layers, causal=True, cross=True)
        else:
            self.decoder = Stack(cfg, cfg.n_layers, causal=cfg.is_causal, cross=False)
        self.lm_head = None
        if cfg.has_lm_head and not cfg.tied_embeddings:
            self.lm_head = nn.Linear(d, cfg.vocab_size, bias=False)
        self.pooler = nn.Linear(d, d) if cfg.pooler else None
        self.classifier = nn.Linear(d, cfg.n_classes) if cfg.n_classes else None

    # -- switches
    def set_attention(self, attention: str = "naive") -> "Transformer":
        check_choice("attention", attention, ATTENTIONS)
        for m in self.modules():
            if isinstance(m, _AttentionCore):
                m.attention = attention
        return self

    def set_recompute(self, recompute: str | None = None) -> "Transformer":
        """None, "selective" (attention core, Korthikanti et al. 2022) or "full" (each block)."""
        check_choice("recompute", recompute, (None, "selective", "full"))
        for m in self.modules():
            if isinstance(m, _AttentionCore):
                m.recompute_core = recompute == "selective"
            if isinstance(m, Stack):
                m.recompute_layers = recompute == "full"
        return self

    # -- forward
    def _rope(self):
        return (self.rope_cos, self.rope_sin) if self.cfg.positions == "rotary" else None

    def _embed_tokens(self, tokens, positions, offset=0, segments=None):
        x = self.tokens(tokens)
        if positions is not None:
            x = x + positions(torch.arange(offset, offset + tokens.shape[1], device=x.device))
        if self.segments is not None:
            seg = torch.zeros_like(tokens) if segments is None else segments
            x = x + self.segments(seg)
        return x if self.embedding_norm is None else self.embedding_norm(x)

    def _encode(self, inputs):
        cfg = self.cfg
        if cfg.frontend == "patches":
            x = self.patch(inputs).flatten(2).transpose(1, 2)
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)
            return x + self.positions.weight if self.positions is not None else x
        if cfg.frontend == "audio":
            x = F.gelu(self.conv2(F.gelu(self.conv1(inputs)))).transpose(1, 2)
            return x + self.enc_positions[: x.shape[1]]
        return self._embed_tokens(inputs, self.enc_token_positions or self.positions)

    def forward(self, inputs, decoder_tokens=None, cache: KVCache | None = None):
        cfg = self.cfg
        if cfg.arch == "encoder-decoder":
            memory = self.encoder(self._encode(inputs))
            x = self._embed_tokens(decoder_tokens, self.positions)
            x = self.decoder(x, memory)
        elif cfg.arch == "encoder":
            x = self.decoder(self._encode(inputs))
            first = x[:, 0]
            if self.pooler is not None:
                return torch.tanh(self.pooler(first))
            return self.classifier(first) if self.classifier is not None else x
        else:
            offset = cache.length if cache else 0
            x = self._embed_tokens(inputs, self.positions, offset)
            x = self.decoder(x, rope=self._rope(), cache=cache)
            if cache is not None:
                cache.length += inputs.shape[1]
        weight = self.tokens.weight if self.lm_head is None else self.lm_head.weight
        return F.linear(x, weight)

    @torch.no_grad()
    def generate(self, prompt, n_new: int, use_cache: bool = True, greedy: bool = True,
                 generator=None):
        """Extend ``prompt`` (batch, len) by ``n_new`` tokens, with or without a KV cache."""
        tokens = prompt
        cache = (KVCache(self.cfg, prompt.shape[0], prompt.shape[1] + n_new,
                         self.tokens.weight.dtype, prompt.device) if use_cache else None)
        step_input = tokens
        for _ in range(n_new):
            logits = self(step_input, cache=cache)[:, -1]
            if greedy:
                nxt = logits.argmax(dim=-1, keepdim=True)
            else:
                nxt = torch.multinomial(logits.softmax(-1), 1, generator=generator)
            tokens = torch.cat([tokens, nxt], dim=1)
            step_input = nxt if use_cache else tokens
        return tokens


def _sinusoids(length: int, channels: int):
    """Whisper's fixed sinusoidal positions for the audio encoder."""
    inc = math.log(10000) / (channels // 2 - 1)
    inv = torch.exp(-inc * torch.arange(channels // 2))
    t = torch.arange(length)[:, None] * inv[None, :]
    return torch.cat([t.sin(), t.cos()], dim=1)


# ---------------------------------------------------------------- small classic networks

class MLPNet(nn.Sequential):
    def __init__(self, cfg: MLPConfig):
        layers = []
        for i, (a, b) in enumerate(zip(cfg.sizes, cfg.sizes[1:])):
            layers.append(nn.Linear(a, b, bias=cfg.bias))
            if i < len(cfg.sizes) - 2:
                layers.append({"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}[cfg.activation]())
        super().__init__(*layers)


class CNNNet(nn.Sequential):
    def __init__(self, cfg: CNNConfig):
        layers, c_in = [], cfg.in_channels
        for c_out in cfg.channels:
            layers += [nn.Conv2d(c_in, c_out, cfg.kernel_size, cfg.stride, cfg.padding), nn.ReLU()]
            layers += [nn.MaxPool2d(2)] if cfg.pool else []
            c_in = c_out
        layers.append(nn.Flatten())
        sizes = [c_in * cfg.feature_sizes()[-1] ** 2, *cfg.hidden, cfg.n_classes]
        for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        super().__init__(*layers)


class LSTMNet(nn.Module):
    """An LSTM classifier/regressor (features in) or language model (tokens in): the output
    layer reads every step (seq-to-seq) or, with ``cfg.output == "last_step"``, only the
    final one (a sequence classifier).

    ``unrolled=True`` runs the same weights step by step with LSTM cells, so FlopCounterMode
    sees the gate matmuls (it does not see inside the fused ``nn.LSTM`` kernel).
    """

    def __init__(self, cfg: LSTMConfig, unrolled: bool = False):
        super().__init__()
        self.last_step, self.unrolled = cfg.output == "last_step", unrolled
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.embed_dim) if cfg.vocab_size else None
        self.lstm = nn.LSTM(cfg.first_input_size, cfg.hidden_size, cfg.n_layers,
                            batch_first=True)
        self.out = nn.Linear(cfg.hidden_size, cfg.n_outputs)

    def _unrolled(self, x):
        for layer in range(self.lstm.num_layers):
            w_ih, w_hh, b_ih, b_hh = (getattr(self.lstm, f"{name}_l{layer}") for name in
                                      ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
            h, c = (x.new_zeros(x.shape[0], self.lstm.hidden_size) for _ in range(2))
            steps = []
            for t in range(x.shape[1]):
                h, c = torch.lstm_cell(x[:, t], (h, c), w_ih, w_hh, b_ih, b_hh)
                steps.append(h)
            x = torch.stack(steps, dim=1)
        return x, None

    def forward(self, x, state=None):
        if self.embedding is not None:
            x = self.embedding(x)
        h, state = self._unrolled(x) if self.unrolled else self.lstm(x, state)
        return self.out(h[:, -1] if self.last_step else h)


class Bottleneck(nn.Module):
    def __init__(self, c_in, planes, expansion, stride, bottleneck):
        super().__init__()
        c_out = planes * expansion

        def conv_bn(a, b, k, s=1):
            return nn.Sequential(nn.Conv2d(a, b, k, s, k // 2, bias=False), nn.BatchNorm2d(b))

        if bottleneck:
            self.body = nn.Sequential(conv_bn(c_in, planes, 1), nn.ReLU(),
                                      conv_bn(planes, planes, 3, stride), nn.ReLU(),
                                      conv_bn(planes, c_out, 1))
        else:
            self.body = nn.Sequential(conv_bn(c_in, planes, 3, stride), nn.ReLU(),
                                      conv_bn(planes, planes, 3))
        self.shortcut = (conv_bn(c_in, c_out, 1, stride)
                         if stride != 1 or c_in != c_out else nn.Identity())

    def forward(self, x):
        return F.relu(self.body(x) + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet (He et al. 2016), torchvision's layout: ResNet-50 has 25,557,032 parameters."""

    def __init__(self, cfg: ResNetConfig):
        super().__init__()
        w = cfg.width
        self.stem = nn.Sequential(nn.Conv2d(cfg.in_channels, w, 7, 2, 3, bias=False),
                                  nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        blocks, c_in = [], w
        for stage, n in enumerate(cfg.blocks):
            planes = w * 2**stage
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(Bottleneck(c_in, planes, cfg.expansion, stride, cfg.bottleneck))
                c_in = planes * cfg.expansion
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c_in, cfg.n_classes)

    def forward(self, x):
        return self.fc(self.blocks(self.stem(x)).mean(dim=(2, 3)))


# ---------------------------------------------------------------- source document 003's attention

class DocumentAttention(nn.Module):
    """Document 003's attention layer as printed (TensorFlow), in PyTorch:
    e_t = W h + V s_t, a = softmax(e), c = sum_t a_t s_t. W h is the same for every t, and
    softmax ignores a constant added to all its inputs: the query h has no effect at all."""

    def __init__(self, d_query: int, d_key: int):
        super().__init__()
        self.W = nn.Linear(d_query, 1)
        self.V = nn.Linear(d_key, 1)

    def forward(self, h, s):
        """h: (batch, d_query), s: (batch, steps, d_key) -> context (batch, d_key), weights."""
        e = self.W(h)[:, None, :] + self.V(s)  # (batch, steps, 1)
        a = torch.softmax(e, dim=1)
        return (a * s).sum(dim=1), a.squeeze(-1)


class AdditiveAttention(nn.Module):
    """Additive attention (Bahdanau, Cho and Bengio 2015): e_t = v . tanh(W q + U s_t),
    a = softmax_t(e), c = sum_t a_t s_t. The tanh makes the score depend on the query and the
    key together, so the query changes which steps are attended to."""

    def __init__(self, d_query: int, d_key: int, d_attn: int):
        super().__init__()
        self.W = nn.Linear(d_query, d_attn, bias=False)
        self.U = nn.Linear(d_key, d_attn)
        self.v = nn.Linear(d_attn, 1, bias=False)

    def forward(self, q, s):
        """q: (batch or 1, d_query), s: (batch, steps, d_key) -> context (batch, d_key) and
        the attention weights (batch, steps)."""
        e = self.v(torch.tanh(self.W(q)[:, None, :] + self.U(s))).squeeze(-1)
        a = torch.softmax(e, dim=1)
        return torch.bmm(a.unsqueeze(1), s).squeeze(1), a


class AttentionClassifier(nn.Module):
    """(batch, steps, n_features) -> class logits: a linear embedding of every step, additive
    attention pooling under a learned query (the document's h), and a linear classifier.
    ``return_weights=True`` also returns the attention weights (batch, steps)."""

    def __init__(self, cfg: AttentionConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Linear(cfg.n_features, cfg.d_model)
        self.query = nn.Parameter(torch.randn(1, cfg.d_model) / math.sqrt(cfg.d_model))
        self.attention = AdditiveAttention(cfg.d_model, cfg.d_model, cfg.d_attn)
        self.out = nn.Linear(cfg.d_model, cfg.n_classes)

    def forward(self, x, return_weights: bool = False):
        s = self.embed(x)  # (batch, steps, d_model)
        context, weights = self.attention(self.query, s)
        logits = self.out(context)
        return (logits, weights) if return_weights else logits


def build(cfg, device=None, dtype=None, **options) -> nn.Module:
    """The torch module for a config (or catalogue name), on ``device`` ("meta" to count
    without allocating). ``options`` go to the module (e.g. LSTMNet's ``unrolled``)."""
    cfg = catalog.model(cfg)
    cls = {TransformerConfig: Transformer, MLPConfig: MLPNet, CNNConfig: CNNNet,
           LSTMConfig: LSTMNet, ResNetConfig: ResNet,
           AttentionConfig: AttentionClassifier}[type(cfg)]
    with torch.device(device or "cpu"):
        module = cls(cfg, **options)
    return module.to(dtype) if dtype is not None else module


def example_inputs(cfg, batch: int = 1, seq: int | None = None, device=None, generator=None):
    """Random inputs of the right shape and kind for ``build(cfg)``: a tuple of arguments."""
    cfg = catalog.model(cfg)
    kw = {"device": device or "cpu"}
    if isinstance(cfg, TransformerConfig):
        seq = default_seq(cfg) if seq is None else seq
        vocab = max(cfg.vocab_size, 1)

        def toks(n):
            if kw["device"] == "meta":
                return torch.empty(batch, n, dtype=torch.long, **kw)
            return torch.randint(0, vocab, (batch, n), generator=generator, **kw)

        if cfg.frontend == "patches":
            return (torch.randn(batch, cfg.in_channels, cfg.image_size, cfg.image_size, **kw),)
        if cfg.frontend == "audio":
            return (torch.randn(batch, cfg.n_mels, 2 * cfg.encoder_seq_len, **kw), toks(seq))
        if cfg.arch == "encoder-decoder":
            return (toks(seq), toks(seq))
        return (toks(seq),)
    if isinstance(cfg, MLPConfig):
        return (torch.randn(batch, cfg.sizes[0], **kw),)
    if isinstance(cfg, (CNNConfig, ResNetConfig)):
        return (torch.randn(batch, cfg.in_channels, cfg.image_size, cfg.image_size, **kw),)
    if isinstance(cfg, LSTMConfig):
        seq = seq or 1
        if cfg.vocab_size:
            return (torch.randint(0, cfg.vocab_size, (batch, seq), **kw),)
        return (torch.randn(batch, seq, cfg.input_size, **kw),)
    raise TypeError(type(cfg))
