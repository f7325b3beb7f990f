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

from .. import catalog
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
    "ACTIVATION_FNS", "rotary_tables", "KVCache", "Attention", "MLP", "MoE",
    "Block", "relative_position_bucket", "Stack", "Transformer", "MLPNet", "CNNNet", "LSTMNet",
    "Bottleneck", "ResNet", "DocumentAttention", "AdditiveAttention", "AttentionClassifier",
    "build", "example_inputs",
]

ACTIVATION_FNS = {"gelu": F.gelu, "relu": F.relu, "silu": F.silu}


def _norm(cfg: TransformerConfig) -> nn.Module:
    if cfg.norm == "rmsnorm":
        return nn.RMSNorm(cfg.d_model, eps=1e-6)
    return nn.LayerNorm(cfg.d_model, bias=cfg.bias)


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
    head_dim). Its bytes are what `kv_cache.kv_cache_bytes` predicts."""

    def __init__(self, cfg: TransformerConfig, batch: int, max_len: int, dtype=torch.float32,
                 device=None):
        shape = (batch, cfg.n_kv_heads, max_len, cfg.head_dim)
        self.keys = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(cfg.n_layers)]
        self.values = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(cfg.n_layers)]
        self.length = 0

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.keys + self.values)


class Attention(nn.Module):
    """Multi-head attention with grouped K/V heads. ``attention="naive"`` materialises the
    score matrix; "flash" calls scaled_dot_product_attention (never materialises it)."""

    def __init__(self, cfg: TransformerConfig, causal: bool):
        super().__init__()
        self.cfg, self.causal = cfg, causal
        q_width, kv_width = cfg.n_heads * cfg.head_dim, cfg.n_kv_heads * cfg.head_dim
        self.q = nn.Linear(cfg.d_model, q_width, bias=cfg.bias)
        self.k = nn.Linear(cfg.d_model, kv_width, bias=cfg.bias)
        self.v = nn.Linear(cfg.d_model, kv_width, bias=cfg.bias)
        self.o = nn.Linear(q_width, cfg.d_model, bias=cfg.bias)
        self.attention = "naive"
        self.recompute_core = False

    def _heads(self, x, n_heads, rope=None, offset=0):
        b, s, _ = x.shape
        x = x.view(b, s, n_heads, self.cfg.head_dim)
        if rope is not None:
            cos, sin = (t[offset:offset + s, None, :] for t in rope)
            x = x * cos + _rotate_half(x) * sin
        return x.transpose(1, 2).contiguous()  # (batch, heads, seq, head_dim)

    def core(self, q, k, v, bias=None):
        """softmax(QK^T / sqrt(d_head) + bias) V, causal when this is a decoder self-attention."""
        causal = self.causal and q.shape[2] > 1
        if self.attention == "flash" and bias is None:
            gqa = self.cfg.n_kv_heads != self.cfg.n_heads
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=gqa)
        groups = self.cfg.n_heads // self.cfg.n_kv_heads
        if groups > 1:
            k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        scores = torch.matmul(q * (1.0 / math.sqrt(self.cfg.head_dim)), k.transpose(-2, -1))
        if bias is not None:
            scores = scores + bias
        if causal:
            s_q, s_k = scores.shape[-2:]
            mask = torch.ones(s_q, s_k, dtype=torch.bool, device=q.device).triu(s_k - s_q + 1)
            scores = scores.masked_fill(mask, float("-inf"))
        return torch.matmul(scores.softmax(dim=-1), v)

    def forward(self, x, memory=None, rope=None, bias=None, cache=None, layer=0):
        b, s, _ = x.shape
        source = x if memory is None else memory
        q = self._heads(self.q(x), self.cfg.n_heads, rope, cache.length if cache else 0)
        k = self._heads(self.k(source), self.cfg.n_kv_heads, rope,
                        cache.length if cache else 0)
        v = self._heads(self.v(source), self.cfg.n_kv_heads)
        if cache is not None:
            start, end = cache.length, cache.length + s
            cache.keys[layer][:, :, start:end] = k
            cache.values[layer][:, :, start:end] = v
            k, v = cache.keys[layer][:, :, :end], cache.values[layer][:, :, :end]
        if self.recompute_core and torch.is_grad_enabled():
            out = checkpoint(self.core, q, k, v, bias, use_reentrant=True)
        else:
            out = self.core(q, k, v, bias)
        return self.o(out.transpose(1, 2).reshape(b, s, -1))


class MLP(nn.Module):
    """d_model -> d_ff -> d_model; gated (SwiGLU-style) with a third matrix."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.act = ACTIVATION_FNS[cfg.activation]
        self.up = nn.Linear(cfg.d_model, cfg.d_ff, bias=cfg.bias)
        self.gate = nn.Linear(cfg.d_model, cfg.d_ff, bias=cfg.bias) if cfg.gated_mlp else None
        self.down = nn.Linear(cfg.d_ff, cfg.d_model, bias=cfg.bias)

    def forward(self, x):
        h = self.act(self.up(x))
        if self.gate is not None:
            h = h * self.gate(x)
        return self.down(h)


class MoE(nn.Module):
    """Mixture of experts (Shazeer et al. 2017; Mixtral): a linear router picks top_k experts
    per token; their outputs are mixed with the renormalised router weights."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.top_k = cfg.top_k
        self.router = nn.Linear(cfg.d_model, cfg.n_experts, bias=False)
        self.experts = nn.ModuleList(MLP(cfg) for _ in range(cfg.n_experts))

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
        return out.reshape(shape)


class Block(nn.Module):
    """Pre-norm transformer block (post-norm for BERT), optionally with cross-attention."""

    def __init__(self, cfg: TransformerConfig, causal: bool, cross: bool = False):
        super().__init__()
        self.post_norm = cfg.post_norm
        self.norm1, self.attn = _norm(cfg), Attention(cfg, causal)
        self.cross = Attention(cfg, causal=False) if cross else None
        self.norm_cross = _norm(cfg) if cross else None
        self.norm2 = _norm(cfg)
        self.mlp = MoE(cfg) if cfg.is_moe else MLP(cfg)

    def _residual(self, x, norm, fn):
        if self.post_norm:
            return norm(x + fn(x))
        return x + fn(norm(x))

    def forward(self, x, memory=None, rope=None, bias=None, cache=None, layer=0):
        x = self._residual(x, self.norm1,
                           lambda h: self.attn(h, rope=rope, bias=bias, cache=cache, layer=layer))
        if self.cross is not None:
            x = self._residual(x, self.norm_cross, lambda h: self.cross(h, memory=memory))
        return self._residual(x, self.norm2, self.mlp)


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
        self.layers = nn.ModuleList(Block(cfg, causal, cross) for _ in range(n_layers))
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
        if cfg.positions == "rotary":
            cos, sin = rotary_tables(cfg.max_seq_len, cfg.head_dim)
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
            if isinstance(m, Attention):
                m.attention = attention
        return self

    def set_recompute(self, recompute: str | None = None) -> "Transformer":
        """None, "selective" (attention core, Korthikanti et al. 2022) or "full" (each block)."""
        check_choice("recompute", recompute, (None, "selective", "full"))
        for m in self.modules():
            if isinstance(m, Attention):
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
