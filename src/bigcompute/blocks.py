"""A transformer block's parts, counted: the parameters and forward matmul FLOPs of its
attention (multi-head, grouped-query, windowed, multi-head latent), its MLP (dense, gated, a
mixture of experts with fine-grained and shared experts) and its norms, and which layers of a
stack are windowed or dense.

These are the unchecked formulas `counts` calls after checking its arguments (and `kv_cache`,
`timing` and `memory` after theirs); each takes a `configs.TransformerConfig`. The torch
modules they describe are `lab.nets`' Attention, LatentAttention, MLP, MoE and Block.

Layers of one stack differ in two ways only: a windowed layer (``sliding_window``, its
``window_pattern``) attends to at most the window, and with ``dense_layers`` the first layers
of a mixture of experts have a dense MLP. `layer_groups` gives the stack as groups of identical
layers, which is how `counts` multiplies one layer's terms by a number of layers.
"""

from __future__ import annotations

from dataclasses import dataclass

from .catalog import model
from .configs import TransformerConfig
from .errors import fail

__all__ = [
    "FlopTerm", "dense_params", "norm_width_params", "norm_params", "attention_biases",
    "mlp_has_bias", "value_head_dim", "attention_params", "mlp_params", "expert_params",
    "moe_params", "attention_matmul_weights", "mlp_matmul_weights", "block_norms", "layer_params", "is_windowed", "window_layers",
    "layer_groups", "moe_layers", "stack_layer_params", "core_pairs", "attention_terms",
    "mlp_terms", "kv_positions", "kv_width_per_token", "attention_flops_per_cached_token",
    "activation_unmodelled", "check_activations_modelled",
]


@dataclass(frozen=True)
class FlopTerm:
    """One matmul-like piece of a forward pass and how its backward and recomputation cost.

    backward: FLOPs of the backward pass as a multiple of the forward (2 when both the input
    and the weight need gradients, 1 when only the weight does, 2.5 for flash attention,
    which recomputes the scores). recompute: the recomputation policies that redo it.
    """

    name: str
    forward: int
    backward: float = 2.0
    recompute: tuple[str, ...] = ("full",)


# ---------------------------------------------------------------- parameters

def dense_params(n_in, n_out, bias=True):
    """A dense layer y = Wx + b: n_in*n_out weights plus n_out biases."""
    return n_in * n_out + (n_out if bias else 0)


def norm_width_params(cfg, width):
    """A norm over ``width`` features: RMSNorm a scale each; LayerNorm a scale and (with
    biases) a shift."""
    if cfg.norm == "rmsnorm":
        return width
    return width * (2 if cfg.bias else 1)


def norm_params(cfg):
    """A norm over the model width."""
    return norm_width_params(cfg, cfg.d_model)


def attention_biases(cfg) -> tuple[bool, bool]:
    """(biases on Q, K and V; a bias on the output projection)."""
    bias = cfg.bias if cfg.attention_bias is None else cfg.attention_bias
    if bias == "qkv":
        return True, False
    return bias, bias


def mlp_has_bias(cfg) -> bool:
    return cfg.bias if cfg.mlp_bias is None else cfg.mlp_bias


def value_head_dim(cfg):
    """The width of a value head (multi-head latent attention may give it its own)."""
    return cfg.head_dim if cfg.v_head_dim is None else cfg.v_head_dim


def attention_params(cfg):
    """Q, K, V and output projections (K and V with n_kv_heads heads: GQA/MQA), and the
    norms inside the attention: a qk_norm's, or multi-head latent attention's two latents'."""
    d, hd = cfg.d_model, cfg.head_dim
    q_width, kv_width = cfg.n_heads * hd, cfg.n_kv_heads * hd
    if cfg.kv_lora_rank:
        return _latent_attention_params(cfg)
    qkv_bias, out_bias = attention_biases(cfg)
    n = (dense_params(d, q_width, qkv_bias) + 2 * dense_params(d, kv_width, qkv_bias)
         + dense_params(q_width, d, out_bias))
    if cfg.qk_norm == "head":  # one scale over head_dim, shared by the heads (Qwen3)
        n += 2 * norm_width_params(cfg, hd)
    elif cfg.qk_norm == "full":  # over all the queries and all the keys (OLMo 2)
        n += norm_width_params(cfg, q_width) + norm_width_params(cfg, kv_width)
    return n


def _latent_attention_params(cfg):
    """DeepSeek-V2's MLA (Liu et al. 2024, sec. 2.1): queries d -> q_lora_rank -> heads x
    head_dim (or d -> heads x head_dim directly), a latent d -> kv_lora_rank plus one shared
    rotary key of qk_rope_head_dim, the latent up to each head's key (no-position part) and
    value, and the output; RMSNorms on the two latents. No biases."""
    d, h, hd, r_q, r_kv = (cfg.d_model, cfg.n_heads, cfg.head_dim, cfg.q_lora_rank,
                           cfg.kv_lora_rank)
    rope, v = cfg.qk_rope_head_dim, value_head_dim(cfg)
    if r_q:
        n = d * r_q + norm_width_params(cfg, r_q) + r_q * h * hd
    else:
        n = d * h * hd
    n += d * (r_kv + rope) + norm_width_params(cfg, r_kv) + r_kv * h * (hd - rope + v)
    return n + h * v * d


def mlp_params(cfg, d_ff=None):
    """Two matrices d x d_ff, or three for a gated MLP (SwiGLU); ``d_ff`` defaults to the
    dense MLP's."""
    f = cfg.d_ff if d_ff is None else d_ff
    bias = mlp_has_bias(cfg)
    up = dense_params(cfg.d_model, f, bias)
    return (2 * up if cfg.gated_mlp else up) + dense_params(f, cfg.d_model, bias)


def expert_params(cfg):
    """One routed expert: an MLP of d_ff_expert (d_ff when not given)."""
    return mlp_params(cfg, cfg.d_ff if cfg.d_ff_expert is None else cfg.d_ff_expert)


def moe_params(cfg, experts=None):
    """The MLP of a layer with experts: a router (d x n_experts, no bias), ``experts`` of the
    routed experts (all of them when None; top_k for the parameters one token uses), the
    shared expert and its gate (d x 1). A dense model's MLP whatever ``experts``."""
    if not cfg.is_moe:
        return mlp_params(cfg)
    n = cfg.n_experts if experts is None else experts
    shared = mlp_params(cfg, cfg.shared_expert_d_ff) if cfg.shared_expert_d_ff else 0
    gate = cfg.d_model if cfg.shared_expert_gate else 0
    return cfg.d_model * cfg.n_experts + n * expert_params(cfg) + shared + gate


def block_norms(cfg, cross_attention=False):
    """Norms of the model width in one block: one per sublayer, two with sandwich norms."""
    per_sublayer = 2 if cfg.norm_placement == "sandwich" else 1
    return (3 if cross_attention else 2) * per_sublayer


def layer_params(cfg, cross_attention=False, experts=None, moe=True):
    """One block: attention (and cross-attention), its MLP (the experts' when ``moe`` and the
    model has them, else the dense one) and its norms."""
    n_attn = 2 if cross_attention else 1
    mlp = moe_params(cfg, experts) if moe and cfg.is_moe else mlp_params(cfg)
    return n_attn * attention_params(cfg) + mlp + block_norms(cfg, cross_attention) * norm_params(cfg)


def moe_layers(cfg, n_layers=None):
    """How many of a stack's layers have experts: all but the first dense_layers."""
    n_layers = cfg.n_layers if n_layers is None else n_layers
    return n_layers - cfg.dense_layers if cfg.is_moe else 0


def stack_layer_params(cfg, n_layers, cross_attention=False, experts=None):
    """The blocks of a stack of ``n_layers`` (``n_layers`` may be a `sweep` array)."""
    if not cfg.dense_layers:
        return n_layers * layer_params(cfg, cross_attention, experts)
    return (cfg.dense_layers * layer_params(cfg, cross_attention, experts, moe=False)
            + (n_layers - cfg.dense_layers) * layer_params(cfg, cross_attention, experts))


def attention_matmul_weights(cfg):
    """The attention's weight matrices alone (no biases, no norms)."""
    d, h, hd = cfg.d_model, cfg.n_heads, cfg.head_dim
    if cfg.kv_lora_rank:
        r_q, r_kv, rope = cfg.q_lora_rank, cfg.kv_lora_rank, cfg.qk_rope_head_dim
        q = d * r_q + r_q * h * hd if r_q else d * h * hd
        v = value_head_dim(cfg)
        return q + d * (r_kv + rope) + r_kv * h * (hd - rope + v) + h * v * d
    return 2 * d * h * hd + 2 * d * cfg.n_kv_heads * hd


def mlp_matmul_weights(cfg, moe=True):
    """The MLP's weight matrices alone: the dense MLP's, or a layer with experts' router,
    routed experts, shared expert and its gate."""
    per = 3 if cfg.gated_mlp else 2
    if not (moe and cfg.is_moe):
        return per * cfg.d_model * cfg.d_ff
    d_ff_expert = cfg.d_ff if cfg.d_ff_expert is None else cfg.d_ff_expert
    return (cfg.d_model * cfg.n_experts + cfg.n_experts * per * cfg.d_model * d_ff_expert
            + per * cfg.d_model * cfg.shared_expert_d_ff
            + (cfg.d_model if cfg.shared_expert_gate else 0))


# ---------------------------------------------------------------- windows and layer groups

def is_windowed(cfg, layer: int) -> bool:
    """Whether decoder layer ``layer`` (from 0) attends through the sliding window."""
    if cfg.sliding_window is None:
        return False
    pattern = cfg.window_pattern or "L"
    return pattern[layer % len(pattern)] == "L"


def window_layers(cfg) -> int:
    """How many of the decoder's layers are windowed."""
    if cfg.sliding_window is None:
        return 0
    return sum(is_windowed(cfg, i) for i in range(cfg.n_layers))


def layer_groups(cfg, n_layers=None):
    """The stack as [(count, window or None, has experts)], groups of identical layers.
    A config with neither windows nor dense layers is one group (``n_layers`` may then be a
    `sweep` array)."""
    n_layers = cfg.n_layers if n_layers is None else n_layers
    if cfg.sliding_window is None and not cfg.dense_layers:
        return [(n_layers, None, cfg.is_moe)]
    counts: dict[tuple, int] = {}
    for i in range(n_layers):
        key = (cfg.sliding_window if is_windowed(cfg, i) else None,
               cfg.is_moe and i >= cfg.dense_layers)
        counts[key] = counts.get(key, 0) + 1
    return [(n, window, moe) for (window, moe), n in counts.items()]


# ---------------------------------------------------------------- FLOPs

def core_pairs(s_q, s_kv, causal, causal_halving, window=None):
    """(query, key) pairs one head scores. Every pair of the square, as a score-materialising
    kernel computes it (FlopCounterMode's count); with ``causal_halving`` only the lower
    triangle, diagonal included, as an ideal causal kernel would. A windowed self-attention
    longer than its window scores each query against its window only: s x window (a band,
    the first queries' keys before position 0 masked), or the band's own pairs with
    ``causal_halving``."""
    if window is not None and s_kv > window:
        if causal_halving:
            return window * (window + 1) // 2 + (s_q - window) * window
        return s_q * window
    if causal and causal_halving:
        return s_q * (s_q + 1) // 2
    return s_q * s_kv


def attention_terms(cfg, batch, s_q, s_kv, prefix, causal, attention, causal_halving,
                    window=None):
    """Projections and the attention core of one self- or cross-attention: the scores
    (2 x head_dim per pair and head) and the weighted sum of the values (2 x value head)."""
    t_q, t_kv = batch * s_q, batch * s_kv
    h, hd, v = cfg.n_heads, cfg.head_dim, value_head_dim(cfg)
    pairs = core_pairs(s_q, s_kv, causal, causal_halving, window)
    core = 2 * batch * h * pairs * (hd + v)
    if cfg.kv_lora_rank:
        r_q, r_kv, rope = cfg.q_lora_rank, cfg.kv_lora_rank, cfg.qk_rope_head_dim
        q = cfg.d_model * r_q + r_q * h * hd if r_q else cfg.d_model * h * hd
        kv = cfg.d_model * (r_kv + rope) + r_kv * h * (hd - rope + v)
        qkv = 2 * t_q * (q + kv)
    else:
        qkv = 2 * cfg.d_model * (t_q * h * hd + 2 * t_kv * cfg.n_kv_heads * hd)
    return [
        FlopTerm(f"{prefix}.qkv", qkv),
        FlopTerm(f"{prefix}.core", core, 2.5 if attention == "flash" else 2.0,
                 ("full", "selective")),
        FlopTerm(f"{prefix}.out", 2 * t_q * h * v * cfg.d_model),
    ]


def _mlp_flops(cfg, tokens, d_ff):
    return tokens * 2 * cfg.d_model * d_ff * (3 if cfg.gated_mlp else 2)


def mlp_terms(cfg, tokens, prefix, moe=True):
    """The MLP of ``tokens`` tokens: dense, or router, top_k routed experts per token (their
    FLOPs do not depend on the routing), the shared expert and its gate."""
    if not (moe and cfg.is_moe):
        return [FlopTerm(f"{prefix}.mlp", _mlp_flops(cfg, tokens, cfg.d_ff))]
    d_ff_expert = cfg.d_ff if cfg.d_ff_expert is None else cfg.d_ff_expert
    terms = [FlopTerm(f"{prefix}.router", 2 * tokens * cfg.d_model * cfg.n_experts),
             FlopTerm(f"{prefix}.experts", cfg.top_k * _mlp_flops(cfg, tokens, d_ff_expert))]
    if cfg.shared_expert_d_ff:
        terms.append(FlopTerm(f"{prefix}.shared_expert",
                              _mlp_flops(cfg, tokens, cfg.shared_expert_d_ff)))
    if cfg.shared_expert_gate:
        terms.append(FlopTerm(f"{prefix}.shared_gate", 2 * tokens * cfg.d_model))
    return terms


# ---------------------------------------------------------------- the KV cache and decoding

def kv_positions(cfg, seq):
    """Positions the decoder's layers cache after ``seq`` tokens, summed over the layers: a
    global layer all of them, a windowed one the sliding_window - 1 before the next token
    (which attends to them and to itself), as Hugging Face's DynamicSlidingWindowLayer keeps."""
    if cfg.sliding_window is None:
        return cfg.n_layers * seq
    local = window_layers(cfg)
    return (cfg.n_layers - local) * seq + local * min(seq, cfg.sliding_window - 1)


def kv_width_per_token(cfg, mla_cache="latent"):
    """Numbers cached per position and layer: a key and a value of n_kv_heads x head_dim; for
    multi-head latent attention the latent and the shared rotary key, kv_lora_rank +
    qk_rope_head_dim (``mla_cache="latent"``, DeepSeek-V2 sec. 2.1.2), or every head's key
    and value expanded from it (``"expanded"``: n_heads x (head_dim + v_head_dim))."""
    if cfg.kv_lora_rank:
        if mla_cache == "latent":
            return cfg.kv_lora_rank + cfg.qk_rope_head_dim
        return cfg.n_heads * (cfg.head_dim + value_head_dim(cfg))
    return 2 * cfg.n_kv_heads * cfg.head_dim


def attention_flops_per_cached_token(cfg, batch):
    """Decode-step FLOPs of one layer's attention per cached position a token attends to:
    scores and weighted sum, 2 x heads x (head_dim + value head). Multi-head latent attention
    decodes against the latent (DeepSeek-V2 sec. 2.1.2: W_UK absorbed into the query, W_UV
    into the output): scores over kv_lora_rank + qk_rope_head_dim, the sum over kv_lora_rank."""
    if cfg.kv_lora_rank:
        return 2 * batch * cfg.n_heads * (2 * cfg.kv_lora_rank + cfg.qk_rope_head_dim)
    return 2 * batch * cfg.n_heads * (cfg.head_dim + value_head_dim(cfg))


# ---------------------------------------------------------------- what activation_bytes models

def activation_unmodelled(cfg, seq=None):
    """(field, value) of the first structure `memory.activation_bytes` does not model exactly
    (what autograd saves in `lab.nets` differs), or None. Separate biases save nothing more;
    a windowed layer no longer than its window runs as a global one (``seq`` None: any
    length, so a window counts)."""
    for key in ("qk_norm", "parallel_block", "d_ff_expert", "shared_expert_d_ff",
                "dense_layers", "kv_lora_rank"):
        value = getattr(cfg, key, None)
        if value:
            return key, value
    if getattr(cfg, "norm_placement", "pre") != "pre":
        return "norm_placement", cfg.norm_placement
    window = getattr(cfg, "sliding_window", None)
    if window is not None and (seq is None or seq > window):
        return "sliding_window", window
    return None


def check_activations_modelled(cfg, seq=None) -> None:
    """Refuse a transformer whose saved activations `memory` does not model
    (`activation_unmodelled`), naming the field, rather than give a wrong number. Anything
    else (a bad ``cfg`` or ``seq``) is left to the caller's own checks."""
    cfg = model(cfg)
    if not isinstance(cfg, TransformerConfig):
        return
    if seq is None:
        seq = cfg.max_seq_len
    found = activation_unmodelled(cfg, seq if isinstance(seq, int) else None)
    if found is None:
        return
    key, value = found
    if key == "sliding_window":
        fail(key, value, f"None or at least seq={seq} for activation memory: a windowed layer "
             "longer than its window saves a band of scores, which memory.activation_bytes "
             "does not model yet (param_count, flops, kv_cache_bytes and the inference "
             "timings count windows)")
    fail(key, value, "its default for activation memory (activation_bytes, training_memory, "
         "step_timeline): what autograd saves in this structure is not modelled yet "
         "(param_count, flops, kv_cache_bytes and the inference timings count it)")
