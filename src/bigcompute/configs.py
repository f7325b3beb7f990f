"""Model configurations, validated on construction.

A config is a plain, frozen description of a network's shape. The same config drives the
formulas (`counts`, `memory`) and the reference torch modules (`lab.nets`), which is how the
library checks one against the other.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace

from .errors import (check_bool, check_choice, check_name, check_non_negative_int,
                     check_positive_int, fail)

__all__ = [
    "ARCHS", "FRONTENDS", "POSITIONS", "NORMS", "ACTIVATIONS", "RELATIVE_BUCKETS",
    "LSTM_OUTPUTS", "ATTENTIONS", "RECOMPUTE", "QK_NORMS", "NORM_PLACEMENTS",
    "DECODER_EXTRAS", "TransformerConfig", "MLPConfig", "CNNConfig",
    "LSTMConfig", "ResNetConfig", "AttentionConfig",
]

ARCHS = ("decoder", "encoder", "encoder-decoder")
FRONTENDS = ("tokens", "patches", "audio")
POSITIONS = ("learned", "rotary", "sinusoidal", "relative", "none")
NORMS = ("layernorm", "rmsnorm")
ACTIVATIONS = ("gelu", "relu", "silu")
RELATIVE_BUCKETS = 32  # T5's relative-attention buckets per head (Raffel et al. 2020, sec. 2.1)
LSTM_OUTPUTS = ("every_step", "last_step")
ATTENTIONS = ("naive", "flash")  # score-materialising, or fused (FlashAttention)
RECOMPUTE = (None, "selective", "full")  # activation recomputation (Korthikanti et al. 2022)
# a norm of the queries and keys: over each head's head_dim, one scale shared by the heads
# (Qwen3, Gemma 3), or over all of the queries' and the keys' widths (OLMo 2)
QK_NORMS = (None, "head", "full")
# where a block's norms sit: before each sublayer ("pre", GPT-2, Llama), before and after it
# ("sandwich", Gemma 2 and 3), or only on its output, before the residual add ("output", OLMo 2)
NORM_PLACEMENTS = ("pre", "sandwich", "output")
# The sequences of source document 003 (chapter 5): its LSTM's input_shape=(100, 10)
SEQUENCE_STEPS, SEQUENCE_CHANNELS = 100, 10


def _check_fields(cfg, positive=(), non_negative=(), flags=()) -> None:
    """Each named field of ``cfg`` checked by its kind, and its ``name`` a non-empty name."""
    for key in positive:
        check_positive_int(key, getattr(cfg, key))
    for key in non_negative:
        check_non_negative_int(key, getattr(cfg, key))
    for key in flags:
        check_bool(key, getattr(cfg, key))
    check_name("name", cfg.name)


def _check_dropout(value) -> None:
    """A dropout probability: a number in [0, 1) (0: no dropout); NaN and bools refused."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not 0 <= value < 1):
        fail("dropout", value, "a number in [0, 1) (0: no dropout)")


def _positive_ints(name: str, values) -> tuple[int, ...]:
    """``values`` as a tuple of positive integers (layer sizes, channels, blocks)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        fail(name, values, "a sequence of positive integers")
    values = tuple(values)
    for i, n in enumerate(values):
        check_positive_int(f"{name}[{i}]", n)
    return values


# The recent decoders' fields (`TransformerConfig`, from attention_bias on) at their defaults,
# which leave a config as the library modelled it before them.
DECODER_EXTRAS = {
    "attention_bias": None, "mlp_bias": None, "qk_norm": None, "norm_placement": "pre",
    "parallel_block": False, "sliding_window": None, "window_pattern": None,
    "d_ff_expert": None, "shared_expert_d_ff": 0, "shared_expert_gate": False,
    "dense_layers": 0, "q_lora_rank": 0, "kv_lora_rank": 0, "qk_rope_head_dim": 0,
    "v_head_dim": None,
}
_MOE_EXTRAS = ("d_ff_expert", "shared_expert_d_ff", "shared_expert_gate", "dense_layers")
_MLA_EXTRAS = ("q_lora_rank", "qk_rope_head_dim", "v_head_dim")


def _check_extra_kinds(cfg) -> None:
    """Each recent-decoder field of the right kind (before any rule that combines them)."""
    bias = cfg.attention_bias
    if not (bias is None or isinstance(bias, bool) or (isinstance(bias, str) and bias == "qkv")):
        fail("attention_bias", bias, "None (follow bias), True, False or 'qkv' (biases on Q, K "
                                     "and V only, as Qwen2)")
    if cfg.mlp_bias is not None:
        check_bool("mlp_bias", cfg.mlp_bias)
    check_choice("qk_norm", cfg.qk_norm, QK_NORMS)
    check_choice("norm_placement", cfg.norm_placement, NORM_PLACEMENTS)
    check_bool("parallel_block", cfg.parallel_block)
    check_bool("shared_expert_gate", cfg.shared_expert_gate)
    for key in ("sliding_window", "d_ff_expert", "v_head_dim"):  # None: none, or derived
        if getattr(cfg, key) is not None:
            check_positive_int(key, getattr(cfg, key))
    for key in ("shared_expert_d_ff", "dense_layers", "q_lora_rank", "kv_lora_rank",
                "qk_rope_head_dim"):
        check_non_negative_int(key, getattr(cfg, key))
    pattern = cfg.window_pattern
    if pattern is not None and (not isinstance(pattern, str) or not pattern
                                or set(pattern) - {"L", "G"} or "L" not in pattern):
        fail("window_pattern", pattern, "None (every layer windowed) or a string of 'L' "
                                        "(windowed) and 'G' (global) layers with at least one 'L'")


def _check_decoder_extras(cfg) -> None:
    """The recent decoders' structure: each field of its kind, then the combinations the
    formulas and the reference modules implement (all of them decoder-only)."""
    _check_extra_kinds(cfg)
    used = [k for k, default in DECODER_EXTRAS.items() if getattr(cfg, k) != default]
    if not used:
        return
    first = used[0]
    if cfg.arch != "decoder" or cfg.frontend != "tokens":
        fail(first, getattr(cfg, first), f"{DECODER_EXTRAS[first]!r} for arch={cfg.arch!r}, "
             f"frontend={cfg.frontend!r}: these fields describe decoder-only token models")
    if cfg.post_norm:
        fail("post_norm", cfg.post_norm, f"False with {first}={getattr(cfg, first)!r} "
                                         "(BERT's post-norm is an encoder's)")
    if cfg.window_pattern is not None and cfg.sliding_window is None:
        fail("window_pattern", cfg.window_pattern, "None unless sliding_window is set")
    if cfg.parallel_block and cfg.norm_placement != "pre":
        fail("parallel_block", cfg.parallel_block,
             f"False with norm_placement={cfg.norm_placement!r} (a parallel block has pre-norms)")
    for key in _MOE_EXTRAS:
        if not cfg.is_moe and getattr(cfg, key) != DECODER_EXTRAS[key]:
            fail(key, getattr(cfg, key), f"{DECODER_EXTRAS[key]!r} unless n_experts > 1 "
                                         f"(n_experts={cfg.n_experts}: no mixture of experts)")
    if cfg.shared_expert_gate and not cfg.shared_expert_d_ff:
        fail("shared_expert_gate", True, "False unless shared_expert_d_ff > 0 (a shared expert)")
    if cfg.dense_layers >= cfg.n_layers:
        fail("dense_layers", cfg.dense_layers, f"fewer than n_layers={cfg.n_layers} (the "
                                               "layers after them have experts)")
    if not cfg.is_mla:
        for key in _MLA_EXTRAS:
            if getattr(cfg, key) != DECODER_EXTRAS[key]:
                fail(key, getattr(cfg, key), f"{DECODER_EXTRAS[key]!r} unless kv_lora_rank > 0 "
                                             "(multi-head latent attention)")
        return
    mla = "with multi-head latent attention (kv_lora_rank > 0)"
    rope = cfg.qk_rope_head_dim
    if not rope or rope % 2 or rope >= cfg.head_dim:
        fail("qk_rope_head_dim", rope, f"a positive even number below head_dim={cfg.head_dim} "
                                       f"(the query/key head: no-position part + rotary part) {mla}")
    if cfg.n_kv_heads != cfg.n_heads:
        fail("n_kv_heads", cfg.n_kv_heads, f"n_heads={cfg.n_heads} {mla}: every head reads the "
                                           "latent")
    if cfg.positions != "rotary":
        fail("positions", cfg.positions, f"'rotary' {mla}")
    attention_bias = cfg.bias if cfg.attention_bias is None else cfg.attention_bias
    if attention_bias is not False:
        fail("attention_bias", cfg.attention_bias, f"False (or None with bias=False) {mla}")
    for key in ("qk_norm", "sliding_window"):
        if getattr(cfg, key) is not None:
            fail(key, getattr(cfg, key), f"None {mla}")


@dataclass(frozen=True)
class TransformerConfig:
    """A transformer: decoder-only (GPT, LLaMA), encoder-only (BERT, ViT) or encoder-decoder
    (T5, Whisper).

    ``n_layers`` counts the decoder layers (the encoder layers for an encoder-only model);
    ``n_encoder_layers`` the encoder layers of an encoder-decoder. ``head_dim`` defaults to
    ``d_model // n_heads`` but may differ (T5-11B: 128 heads of 128 on d_model 1024).
    A gated MLP (SwiGLU) has three matrices d_model x d_ff. With ``n_experts > 1`` every MLP is
    a mixture of experts with a router of d_model x n_experts; ``top_k`` experts run per token.
    """

    n_layers: int
    d_model: int
    n_heads: int
    vocab_size: int = 0
    max_seq_len: int = 2048
    n_kv_heads: int | None = None
    head_dim: int | None = None
    d_ff: int | None = None
    gated_mlp: bool = False
    activation: str = "gelu"
    n_experts: int = 1
    top_k: int = 1
    tied_embeddings: bool = True
    positions: str = "learned"
    bias: bool = True
    norm: str = "layernorm"
    post_norm: bool = False  # BERT: norm after each residual add, no final norm
    arch: str = "decoder"
    n_encoder_layers: int = 0
    # BERT-style extras: segment embeddings, a norm after the embeddings, a pooler
    type_vocab_size: int = 0
    embedding_norm: bool = False
    pooler: bool = False
    # input frontends other than a token embedding
    frontend: str = "tokens"
    image_size: int = 224
    patch_size: int = 16
    in_channels: int = 3
    n_mels: int = 80
    encoder_seq_len: int = 1500
    n_classes: int = 0
    # the dropout probability the model trains with (Hugging Face's configs: hidden/attention/
    # residual dropout); the reference modules have none
    dropout: float = 0.0
    # ---- the structure of recent decoders; the defaults leave every other config as it was
    # (`blocks` counts them; validated in `_check_decoder_extras`)
    # biases by part (None: follow ``bias``); attention_bias="qkv": on Q, K and V only (Qwen2)
    attention_bias: bool | str | None = None
    mlp_bias: bool | None = None
    qk_norm: str | None = None
    norm_placement: str = "pre"
    # GPT-NeoX: x + attn(norm1(x)) + mlp(norm2(x)), both sublayers reading the block's input
    parallel_block: bool = False
    # a windowed layer's query attends to itself and the sliding_window - 1 positions before
    # it; window_pattern says which layers are windowed ("L") or global ("G"), repeated from
    # the first layer ("LG": Gemma 2; "LLLLLG": Gemma 3); None: every layer (Mistral 7B)
    sliding_window: int | None = None
    window_pattern: str | None = None
    # mixture of experts: routed experts of d_ff_expert (None: d_ff), an always-on shared
    # expert MLP of shared_expert_d_ff (0: none; DeepSeek's n shared experts of width f are one
    # MLP of n f), Qwen2-MoE's sigmoid gate on it, and dense_layers dense MLPs (of d_ff) first
    d_ff_expert: int | None = None
    shared_expert_d_ff: int = 0
    shared_expert_gate: bool = False
    dense_layers: int = 0
    # multi-head latent attention (DeepSeek-V2 and V3): keys and values from a latent of
    # kv_lora_rank (the cache), queries through a latent of q_lora_rank (0: a full
    # projection); head_dim is the query/key head (no-position part + qk_rope_head_dim),
    # v_head_dim the value head (None: head_dim)
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int | None = None
    name: str = "custom"

    def __post_init__(self):
        _check_fields(
            self,
            positive=("n_layers", "d_model", "n_heads", "max_seq_len", "n_experts", "top_k",
                      "image_size", "patch_size", "in_channels", "n_mels", "encoder_seq_len"),
            non_negative=("vocab_size", "n_encoder_layers", "type_vocab_size", "n_classes"),
            flags=("gated_mlp", "tied_embeddings", "bias", "post_norm", "embedding_norm",
                   "pooler"))
        for key in ("n_kv_heads", "head_dim", "d_ff"):  # None: derived below
            if getattr(self, key) is not None:
                check_positive_int(key, getattr(self, key))
        check_choice("arch", self.arch, ARCHS)
        check_choice("frontend", self.frontend, FRONTENDS)
        check_choice("positions", self.positions, POSITIONS)
        check_choice("norm", self.norm, NORMS)
        check_choice("activation", self.activation, ACTIVATIONS)
        _check_dropout(self.dropout)
        if self.n_kv_heads is None:
            object.__setattr__(self, "n_kv_heads", self.n_heads)
        if self.head_dim is None:
            if self.d_model % self.n_heads:
                fail("n_heads", self.n_heads,
                     f"a divisor of d_model={self.d_model} (or give head_dim explicitly)")
            object.__setattr__(self, "head_dim", self.d_model // self.n_heads)
        if self.d_ff is None:
            object.__setattr__(self, "d_ff", 4 * self.d_model)
        check_positive_int("n_kv_heads", self.n_kv_heads)
        check_positive_int("head_dim", self.head_dim)
        check_positive_int("d_ff", self.d_ff)
        if self.n_heads % self.n_kv_heads:
            fail("n_kv_heads", self.n_kv_heads, f"a divisor of n_heads={self.n_heads}")
        if self.top_k > self.n_experts:
            fail("top_k", self.top_k, f"at most n_experts={self.n_experts}")
        if self.frontend == "tokens":
            check_positive_int("vocab_size", self.vocab_size)
        if self.arch == "encoder-decoder":
            check_positive_int("n_encoder_layers", self.n_encoder_layers)
            if self.frontend == "patches":
                fail("frontend", self.frontend, "'tokens' or 'audio' for an encoder-decoder")
        elif self.n_encoder_layers:
            fail("n_encoder_layers", self.n_encoder_layers,
                 "0 unless arch='encoder-decoder'")
        if self.frontend == "patches":
            if self.arch != "encoder":
                fail("arch", self.arch, "'encoder' for a patch (ViT) frontend")
            if self.image_size % self.patch_size:
                fail("patch_size", self.patch_size,
                     f"a divisor of image_size={self.image_size}")
        if self.frontend == "audio" and self.arch != "encoder-decoder":
            fail("arch", self.arch, "'encoder-decoder' for an audio (Whisper) frontend")
        _check_decoder_extras(self)

    @property
    def is_causal(self) -> bool:
        """True when the (decoder) self-attention is masked to the past."""
        return self.arch != "encoder"

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 1

    @property
    def is_mla(self) -> bool:
        """Multi-head latent attention (DeepSeek-V2): keys and values from a cached latent."""
        return self.kv_lora_rank > 0

    @property
    def n_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def has_lm_head(self) -> bool:
        """Decoders predict tokens; encoders end in a pooler or a classifier instead."""
        return self.arch != "encoder" and self.vocab_size > 0

    def scaled(self, **changes) -> "TransformerConfig":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MLPConfig:
    """A stack of dense layers: sizes = (n_in, hidden..., n_out); bias on every layer."""

    sizes: tuple[int, ...]
    activation: str = "relu"
    bias: bool = True
    name: str = "mlp"

    def __post_init__(self):
        sizes = _positive_ints("sizes", self.sizes)
        if len(sizes) < 2:
            fail("sizes", sizes, "at least two sizes (inputs and outputs)")
        object.__setattr__(self, "sizes", sizes)
        check_choice("activation", self.activation, ACTIVATIONS)
        _check_fields(self, flags=("bias",))


@dataclass(frozen=True)
class CNNConfig:
    """A plain convolutional network: conv layers (channels, kernel, stride, padding) each
    followed by ReLU and optional 2x2 max-pooling, then dense layers to ``n_classes``."""

    in_channels: int = 1
    image_size: int = 28
    channels: tuple[int, ...] = (32, 64)
    kernel_size: int = 3
    stride: int = 1
    padding: int = 0
    pool: bool = True
    hidden: tuple[int, ...] = (128,)
    n_classes: int = 10
    name: str = "cnn"

    def __post_init__(self):
        _check_fields(self, positive=("in_channels", "image_size", "kernel_size", "stride",
                                      "n_classes"),
                      non_negative=("padding",), flags=("pool",))
        channels = _positive_ints("channels", self.channels)
        if not channels:
            fail("channels", channels, "at least one convolution")
        object.__setattr__(self, "channels", channels)
        object.__setattr__(self, "hidden", _positive_ints("hidden", self.hidden))
        if self.feature_sizes()[-1] < 1:
            fail("image_size", self.image_size,
                 f"large enough for every convolution (kernel_size={self.kernel_size}, "
                 f"stride={self.stride}, padding={self.padding}) and pooling to leave at "
                 "least 1 pixel")

    def feature_sizes(self) -> list[int]:
        """Spatial size after each conv (+pool) stage."""
        sizes, s = [], self.image_size
        for _ in self.channels:
            s = (s + 2 * self.padding - self.kernel_size) // self.stride + 1
            if self.pool:
                s //= 2
            sizes.append(s)
        return sizes


@dataclass(frozen=True)
class LSTMConfig:
    """An LSTM: optional token embedding, ``n_layers`` stacked LSTM layers, a dense output.

    With ``vocab_size`` > 0 the input is tokens (a language model; ``n_outputs`` defaults to
    vocab_size); otherwise the input is ``input_size`` features per step.

    ``output`` says where the dense output layer reads: ``"every_step"`` (sequence to
    sequence, ``(batch, seq, n_outputs)``: a language model's next-token scores, a tagger) or
    ``"last_step"`` (many to one, ``(batch, n_outputs)``: a sequence classifier, Keras's
    default ``return_sequences=False``), where it runs once per sequence instead of ``seq``
    times. A language model normally reads every step; ``"last_step"`` is allowed for it too
    (scoring only the token after the window).
    """

    hidden_size: int
    n_layers: int = 1
    input_size: int = 0
    vocab_size: int = 0
    embed_dim: int = 0
    n_outputs: int = 0
    name: str = "lstm"
    output: str = "every_step"

    def __post_init__(self):
        _check_fields(self, positive=("hidden_size", "n_layers"),
                      non_negative=("input_size", "vocab_size", "embed_dim", "n_outputs"))
        check_choice("output", self.output, LSTM_OUTPUTS)
        if self.vocab_size:
            if not self.embed_dim:
                fail("embed_dim", self.embed_dim,
                     f"a positive integer for a token input (vocab_size={self.vocab_size})")
            if not self.n_outputs:
                object.__setattr__(self, "n_outputs", self.vocab_size)
        elif not self.input_size:
            fail("input_size", self.input_size,
                 "a positive integer (features per step) when vocab_size=0")
        if not self.n_outputs:
            fail("n_outputs", self.n_outputs,
                 "a positive integer (it defaults to vocab_size for a token input only)")

    @property
    def first_input_size(self) -> int:
        return self.embed_dim if self.vocab_size else self.input_size

    def output_steps(self, seq: int) -> int:
        """Steps of a ``seq``-step sequence the output layer reads: all of them, or the last."""
        return seq if self.output == "every_step" else 1


@dataclass(frozen=True)
class ResNetConfig:
    """A ResNet (He et al. 2016): a 7x7 stem, four stages of bottleneck (or basic) blocks,
    global average pooling and a classifier. ResNet-50: blocks=(3, 4, 6, 3), bottleneck."""

    blocks: tuple[int, ...] = (3, 4, 6, 3)
    bottleneck: bool = True
    width: int = 64
    in_channels: int = 3
    image_size: int = 224
    n_classes: int = 1000
    name: str = "resnet"

    def __post_init__(self):
        blocks = _positive_ints("blocks", self.blocks)
        if not blocks:
            fail("blocks", blocks, "at least one stage")
        object.__setattr__(self, "blocks", blocks)
        _check_fields(self, positive=("width", "in_channels", "image_size", "n_classes"),
                      flags=("bottleneck",))
        if self.image_size < 32:
            fail("image_size", self.image_size, "at least 32 (five stride-2 reductions)")

    @property
    def expansion(self) -> int:
        return 4 if self.bottleneck else 1


@dataclass(frozen=True)
class AttentionConfig:
    """Seed 003's attention model made trainable: project each step's features to d_model,
    pool the steps with additive attention under a learned query, classify the context."""

    n_features: int = SEQUENCE_CHANNELS
    d_model: int = 64
    d_attn: int = 32
    n_classes: int = 10
    name: str = "seed 003 attention"

    def __post_init__(self):
        _check_fields(self, positive=("n_features", "d_model", "d_attn", "n_classes"))
