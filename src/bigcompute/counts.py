"""Parameter counts and FLOPs, exact for the reference modules in `bigcompute.lab.nets`.

FLOPs here are matmul FLOPs (2 per multiply-add), the quantity `torch.utils.flop_counter.
FlopCounterMode` reports: dense layers, attention score and value products, convolutions.
Element-wise work (norms, activations, softmax) is left out, as in the counter and in the
papers' 6ND rule. MACs (multiply-accumulates) are half the FLOPs: see `macs`.

Every public function checks its arguments at the door (a config or catalogue name of the
right kind, positive integer sizes, True/False flags, a sequence the model can take:
`check_seq`), then calls its unchecked twin ``_name``. The functions call one another through
the twins, and so does `sweep`, whose config holds arrays of sizes it has checked itself.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import is_dataclass

from . import blocks
from .blocks import FlopTerm
from .catalog import model
from .configs import (
    ATTENTIONS,
    RECOMPUTE,
    RELATIVE_BUCKETS,
    SEQUENCE_STEPS,
    AttentionConfig,
    CNNConfig,
    LSTMConfig,
    MLPConfig,
    ResNetConfig,
    TransformerConfig,
)
from .errors import (check_bool, check_choice, check_name, check_positive, check_positive_int,
                     fail, finite_result)

__all__ = [
    "PASSES", "dense_layer_params", "conv2d_params", "lstm_layer_params", "norm_params",
    "attention_params", "mlp_params", "moe_params", "layer_params", "embedding_params",
    "encoder_param_count", "head_params", "transformer_params", "unchecked_transformer_params",
    "resnet_params", "cnn_params", "lstm_params", "attention_classifier_params", "param_count",
    "active_param_count", "matmul_weight_params", "non_embedding_param_count",
    "parameter_breakdown", "transformer_matmul_shapes", "transformer_config", "FlopTerm",
    "flop_terms", "unchecked_flop_terms", "check_seq", "check_tp", "default_seq", "flops",
    "flops_by_layer", "macs", "simple_flop_terms", "resnet_forward_flops", "flops_6nd",
    "flops_palm", "flops_megatron",
]

PASSES = ("forward", "backward", "train")
_MODEL_CONFIGS = (TransformerConfig, MLPConfig, CNNConfig, LSTMConfig, ResNetConfig,
                 AttentionConfig)
# the small networks of chapters 3 and 5, whose FLOPs `simple_flop_terms` counts
_SIMPLE_FLOP_CONFIGS = (MLPConfig, CNNConfig, LSTMConfig, ResNetConfig, AttentionConfig)


# ---------------------------------------------------------------- checks at the door

def _shown(cfg):
    """A config in an error message by its type ('LSTMConfig'); anything else as it is."""
    return type(cfg).__name__ if is_dataclass(cfg) and not isinstance(cfg, type) else cfg


def _config(cfg, kinds=_MODEL_CONFIGS, allowed: str = "a model config or a catalogue model name"):
    """``cfg`` as a config (a catalogue name becomes its model), refused unless of ``kinds``."""
    cfg = model(cfg)
    if not isinstance(cfg, kinds):
        fail("cfg", _shown(cfg), allowed)
    return cfg


def transformer_config(cfg, others: str = "") -> TransformerConfig:
    """A TransformerConfig, or the catalogue model a name stands for; anything else is
    refused with what is allowed (``others``: where the other models are handled)."""
    return _config(cfg, TransformerConfig, "a TransformerConfig or a catalogue model name"
                   + (f" ({others})" if others else ""))


def _check_experts(cfg, experts) -> None:
    """None (every expert), or how many experts of a mixture of experts to count."""
    if experts is not None:
        check_positive_int("experts", experts)
        if isinstance(cfg, TransformerConfig) and cfg.is_moe and experts > cfg.n_experts:
            fail("experts", experts, f"None or at most n_experts={cfg.n_experts}")


def _float_formula(formula, **given) -> float:
    """``formula()``, refused where its inputs (``given``) take it beyond float64."""
    try:
        result = formula()
    except OverflowError:  # an int beyond float64
        result = math.inf
    return finite_result(result, **given)


# ---------------------------------------------------------------- parameters, layer by layer

def dense_layer_params(n_in: int, n_out: int, bias: bool = True) -> int:
    """A dense layer y = Wx + b: n_in*n_out weights plus n_out biases."""
    check_positive_int("n_in", n_in)
    check_positive_int("n_out", n_out)
    check_bool("bias", bias)
    return _dense_layer_params(n_in, n_out, bias)


_dense_layer_params = blocks.dense_params


def conv2d_params(c_in: int, c_out: int, kernel: int, bias: bool = True) -> int:
    """A k x k convolution: c_out filters of c_in*k*k weights, plus a bias each."""
    check_positive_int("c_in", c_in)
    check_positive_int("c_out", c_out)
    check_positive_int("kernel", kernel)
    check_bool("bias", bias)
    return _conv2d_params(c_in, c_out, kernel, bias)


def _conv2d_params(c_in, c_out, kernel, bias=True):
    return c_in * c_out * kernel * kernel + (c_out if bias else 0)


def lstm_layer_params(n_in: int, hidden: int, two_biases: bool = True) -> int:
    """One LSTM layer: four gates, each W (h x n_in), U (h x h) and a bias.

    PyTorch keeps two bias vectors per gate (b_ih and b_hh), Keras one: 4h(n_in+h) + 8h vs + 4h.
    """
    check_positive_int("n_in", n_in)
    check_positive_int("hidden", hidden)
    check_bool("two_biases", two_biases)
    return _lstm_layer_params(n_in, hidden, two_biases)


def _lstm_layer_params(n_in, hidden, two_biases=True):
    return 4 * hidden * (n_in + hidden) + (8 if two_biases else 4) * hidden


def norm_params(cfg: TransformerConfig) -> int:
    """LayerNorm has a scale and (with biases) a shift per feature; RMSNorm a scale only."""
    return _norm_params(transformer_config(cfg))


_norm_params = blocks.norm_params


def attention_params(cfg: TransformerConfig) -> int:
    """Q, K, V and output projections; K and V have n_kv_heads heads (GQA/MQA). With a
    qk_norm its norms; multi-head latent attention's latent projections and norms instead."""
    return blocks.attention_params(transformer_config(cfg))


def mlp_params(cfg: TransformerConfig) -> int:
    """Two matrices d x d_ff, or three for a gated MLP (SwiGLU): the dense MLP (a mixture of
    experts' routed expert is `blocks.expert_params`, of d_ff_expert)."""
    return blocks.mlp_params(transformer_config(cfg))


def moe_params(cfg: TransformerConfig, experts: int | None = None) -> int:
    """A mixture-of-experts MLP: a router (d x n_experts, no bias), the routed experts, the
    shared expert and its gate. ``experts`` counts only that many routed experts (top_k for
    the parameters active per token); a dense model's MLP is counted once, whatever
    ``experts``."""
    cfg = transformer_config(cfg)
    _check_experts(cfg, experts)
    return blocks.moe_params(cfg, experts)


def layer_params(cfg: TransformerConfig, cross_attention: bool = False, experts=None) -> int:
    """One transformer block: attention, (MoE) MLP and their norms (+ cross-attention).
    A model whose first dense_layers blocks have a dense MLP has two kinds of block: refused
    (`blocks.layer_params` counts either)."""
    cfg = transformer_config(cfg)
    check_bool("cross_attention", cross_attention)
    _check_experts(cfg, experts)
    if cfg.dense_layers:
        fail("dense_layers", cfg.dense_layers, "0 for one block's parameters: this model's "
             "first blocks have a dense MLP, the others experts (blocks.layer_params(cfg, "
             "moe=False) and blocks.layer_params(cfg) count each)")
    return blocks.layer_params(cfg, cross_attention, experts)


def _stack_params(cfg: TransformerConfig, n_layers: int, cross: bool, experts=None) -> int:
    """A stack of blocks with its final norm (post-norm stacks have none) and position table."""
    n = blocks.stack_layer_params(cfg, n_layers, cross, experts)
    n += 0 if cfg.post_norm else _norm_params(cfg)
    if cfg.positions == "relative":
        n += cfg.n_heads * RELATIVE_BUCKETS
    return n


def embedding_params(cfg: TransformerConfig) -> int:
    """Input embeddings: tokens (or patches / audio convolutions), positions, segments."""
    return _embedding_params(transformer_config(cfg))


def _embedding_params(cfg):
    d = cfg.d_model
    learned = cfg.positions == "learned"
    n = 0
    if cfg.frontend == "patches":  # patch convolution with bias, class token, positions
        n += d * cfg.in_channels * cfg.patch_size**2 + d + d
        n += (cfg.n_patches + 1) * d if learned else 0
    elif cfg.frontend == "audio":  # two width-3 convolutions; encoder positions are sinusoids
        n += _audio_frontend_params(cfg)
    if cfg.frontend == "tokens" or cfg.arch == "encoder-decoder":
        n += cfg.vocab_size * d  # one table, shared by encoder and decoder
        stacks = 2 if cfg.arch == "encoder-decoder" and cfg.frontend == "tokens" else 1
        n += stacks * cfg.max_seq_len * d if learned else 0
    n += cfg.type_vocab_size * d
    n += _norm_params(cfg) if cfg.embedding_norm else 0
    return n


def _audio_frontend_params(cfg: TransformerConfig) -> int:
    """Whisper's two width-3 convolutions (n_mels -> d, d -> d), with biases."""
    d = cfg.d_model
    return (cfg.n_mels * d * 3 + d) + (d * d * 3 + d)


def encoder_param_count(cfg, experts: int | None = None) -> int:
    """Parameters only the encoder of an encoder-decoder uses: its blocks and final norm (and
    relative-position table), the audio front end or the encoder's learned positions. A decode
    step runs the decoder alone and reads none of them. 0 for other models. ``experts`` as in
    `moe_params`."""
    cfg = _config(cfg)
    _check_experts(cfg, experts)
    if not isinstance(cfg, TransformerConfig) or cfg.arch != "encoder-decoder":
        return 0
    n = _stack_params(cfg, cfg.n_encoder_layers, False, experts)
    if cfg.frontend == "audio":
        n += _audio_frontend_params(cfg)
    elif cfg.positions == "learned":  # the encoder's own position table
        n += cfg.max_seq_len * cfg.d_model
    return n


def head_params(cfg: TransformerConfig) -> int:
    """Output heads: an untied LM head, a pooler, a classifier."""
    return _head_params(transformer_config(cfg))


def _head_params(cfg):
    n = 0
    if cfg.has_lm_head and not cfg.tied_embeddings:
        n += cfg.vocab_size * cfg.d_model
    if cfg.pooler:
        n += _dense_layer_params(cfg.d_model, cfg.d_model)
    if cfg.n_classes:
        n += _dense_layer_params(cfg.d_model, cfg.n_classes)
    return n


def transformer_params(cfg: TransformerConfig, experts: int | None = None) -> int:
    """Every parameter of a transformer (``experts`` as in `moe_params`)."""
    cfg = transformer_config(cfg)
    _check_experts(cfg, experts)
    return unchecked_transformer_params(cfg, experts)


def unchecked_transformer_params(cfg, experts=None):
    """`transformer_params` for a caller that checked ``cfg`` itself (`sweep`'s array sizes)."""
    n = _embedding_params(cfg) + _head_params(cfg)
    if cfg.arch == "encoder-decoder":
        n += _stack_params(cfg, cfg.n_encoder_layers, False, experts)
        n += _stack_params(cfg, cfg.n_layers, True, experts)
    else:
        n += _stack_params(cfg, cfg.n_layers, False, experts)
    return n


def resnet_params(cfg: ResNetConfig) -> int:
    """Convolutions (no bias) with BatchNorm (scale and shift) after each, then the classifier."""
    return _resnet_params(_config(cfg, ResNetConfig, "a ResNetConfig or its catalogue name"))


def _resnet_params(cfg):
    def conv_bn(c_in, c_out, k):
        return _conv2d_params(c_in, c_out, k, bias=False) + 2 * c_out

    n = conv_bn(cfg.in_channels, cfg.width, 7)
    c_in = cfg.width
    for stage, n_blocks in enumerate(cfg.blocks):
        planes = cfg.width * 2**stage
        c_out = planes * cfg.expansion
        for block in range(n_blocks):
            if cfg.bottleneck:
                n += conv_bn(c_in, planes, 1) + conv_bn(planes, planes, 3) + conv_bn(planes, c_out, 1)
            else:
                n += conv_bn(c_in, planes, 3) + conv_bn(planes, planes, 3)
            stride = 2 if stage > 0 and block == 0 else 1
            if stride != 1 or c_in != c_out:
                n += conv_bn(c_in, c_out, 1)
            c_in = c_out
    return n + _dense_layer_params(c_in, cfg.n_classes)


def cnn_params(cfg: CNNConfig) -> int:
    """Convolutions (with biases), then the dense layers."""
    return _cnn_params(_config(cfg, CNNConfig, "a CNNConfig"))


def _cnn_params(cfg):
    n, c_in = 0, cfg.in_channels
    for c_out in cfg.channels:
        n += _conv2d_params(c_in, c_out, cfg.kernel_size)
        c_in = c_out
    sizes = [c_in * cfg.feature_sizes()[-1] ** 2, *cfg.hidden, cfg.n_classes]
    return n + sum(_dense_layer_params(a, b) for a, b in zip(sizes, sizes[1:]))


def lstm_params(cfg: LSTMConfig) -> int:
    """Embeddings (a language model's), the LSTM layers and the output layer."""
    return _lstm_params(_config(cfg, LSTMConfig, "an LSTMConfig"))


def _lstm_params(cfg):
    n = cfg.vocab_size * cfg.embed_dim
    n_in = cfg.first_input_size
    for _ in range(cfg.n_layers):
        n += _lstm_layer_params(n_in, cfg.hidden_size)
        n_in = cfg.hidden_size
    return n + _dense_layer_params(cfg.hidden_size, cfg.n_outputs)


def attention_classifier_params(cfg: AttentionConfig) -> int:
    """Source document 003's attention classifier: embed (n_f x d + d), query (d), W (d x d_a),
    U (d x d_a + d_a), v (d_a), out (d x C + C)."""
    return _attention_classifier_params(_config(cfg, AttentionConfig, "an AttentionConfig"))


def _attention_classifier_params(cfg):
    d, a = cfg.d_model, cfg.d_attn
    return (_dense_layer_params(cfg.n_features, d) + d + d * a
            + _dense_layer_params(d, a) + a + _dense_layer_params(d, cfg.n_classes))


@functools.lru_cache(maxsize=4096)
def _cached_param_count(cfg) -> int:
    return _param_count(cfg)


def _config_or_count(cfg):
    """A model config (a catalogue name resolved), or a parameter count: a positive int."""
    cfg = model(cfg)
    if isinstance(cfg, numbers.Integral) and not isinstance(cfg, bool) and cfg >= 1:
        return cfg
    return _config(cfg, allowed="a model config, a catalogue model name or a positive int "
                                "(a parameter count)")


def param_count(cfg) -> int:
    """Number of parameters, equal to ``sum(p.numel() for p in nets.build(cfg).parameters())``.

    For a GPT-style decoder the textbook count is N ≈ 12 L d² (attention 4d², MLP 8d² per
    layer; Kaplan et al. 2020, Table 1) plus V d of embeddings; this is the exact sum over
    layers (biases, norms, GQA's smaller K/V, gated MLPs, experts, untied heads).

    Also accepts a catalogue name ("gpt2-small") or a positive int (returned as is)."""
    cfg = _config_or_count(cfg)
    if isinstance(cfg, numbers.Integral):
        return cfg
    return _cached_param_count(cfg)


def _param_count(cfg) -> int:
    if isinstance(cfg, TransformerConfig):
        return unchecked_transformer_params(cfg)
    if isinstance(cfg, MLPConfig):
        s = cfg.sizes
        return sum(_dense_layer_params(a, b, cfg.bias) for a, b in zip(s, s[1:]))
    if isinstance(cfg, CNNConfig):
        return _cnn_params(cfg)
    if isinstance(cfg, LSTMConfig):
        return _lstm_params(cfg)
    if isinstance(cfg, ResNetConfig):
        return _resnet_params(cfg)
    return _attention_classifier_params(cfg)


def active_param_count(cfg) -> int:
    """Parameters used per token: for a mixture of experts, only top_k experts per layer."""
    cfg = _config_or_count(cfg)
    if isinstance(cfg, TransformerConfig) and cfg.is_moe:
        return unchecked_transformer_params(cfg, experts=cfg.top_k)
    return param_count(cfg)


def matmul_weight_params(cfg: TransformerConfig) -> tuple[int, int]:
    """Weights that enter matrix multiplications: (in the blocks, outside them — the LM head,
    pooler, classifier, frontend convolutions). Autocast keeps a 16-bit copy of each."""
    cfg = transformer_config(cfg)
    d = cfg.d_model
    attention = blocks.attention_matmul_weights(cfg)
    dense, moe = cfg.dense_layers, cfg.n_layers - cfg.dense_layers + cfg.n_encoder_layers
    in_blocks = (dense * (attention + blocks.mlp_matmul_weights(cfg, moe=False))
                 + moe * (attention + blocks.mlp_matmul_weights(cfg)))
    in_blocks += cfg.n_layers * attention if cfg.arch == "encoder-decoder" else 0
    head = cfg.vocab_size * d if cfg.has_lm_head else 0
    head += d * d if cfg.pooler else 0
    head += d * cfg.n_classes
    if cfg.frontend == "patches":
        head += d * cfg.in_channels * cfg.patch_size**2
    elif cfg.frontend == "audio":
        head += cfg.n_mels * d * 3 + d * d * 3
    return in_blocks, head


def non_embedding_param_count(cfg: TransformerConfig) -> int:
    """Kaplan et al. (2020)'s N: parameters outside the token and position embeddings."""
    cfg = transformer_config(cfg)
    return unchecked_transformer_params(cfg) - _embedding_params(cfg)


def parameter_breakdown(cfg) -> dict[str, int]:
    """Parameters of a decoder-only, token-input transformer by kind.

    embeddings (token and learned position tables), attention (Q, K, V and output
    projections of every layer, with the norms inside them: qk_norm's, multi-head latent
    attention's), MLP (every layer's MLP, or router, experts and shared expert), norms,
    output head (an untied LM head). The parts add up to ``param_count(cfg)``.
    """
    cfg = _config(cfg, allowed="a decoder-only transformer with token inputs")
    decoder = isinstance(cfg, TransformerConfig) and cfg.arch == "decoder"
    if not decoder or cfg.frontend != "tokens":
        fail("cfg", getattr(cfg, "name", cfg), "a decoder-only transformer with token inputs")
    n_layers, moe_layers = cfg.n_layers, blocks.moe_layers(cfg)
    n_norms = n_layers * blocks.block_norms(cfg) + (0 if cfg.post_norm else 1)
    parts = {
        "embeddings": _embedding_params(cfg),
        "attention": n_layers * blocks.attention_params(cfg),
        "MLP": ((n_layers - moe_layers) * blocks.mlp_params(cfg)
                + moe_layers * blocks.moe_params(cfg)),
        "norms": n_norms * _norm_params(cfg),
        "output head": _head_params(cfg),
        "relative positions": cfg.n_heads * RELATIVE_BUCKETS if cfg.positions == "relative" else 0,
    }
    if sum(parts.values()) != param_count(cfg):  # a part of the model is missing here
        raise AssertionError(f"parameter breakdown of {cfg.name} does not add up to param_count")
    return {k: v for k, v in parts.items() if v}


def transformer_matmul_shapes(cfg, tokens: int = 4096, context: int = 4096,
                              decode_batch: int = 64) -> dict[str, tuple[int, int, int]]:
    """(m, n, k) of the matmuls that dominate a decoder, for the roofline: (m x k) @ (k x n).

    * training or prefill of ``tokens`` tokens: the MLP's up-projection (every weight matmul
      has this form) and one head's attention scores Q Kᵀ over ``tokens`` positions, as a
      naive (score-materialising) kernel computes them;
    * decoding one token per sequence: the same up-projection for a batch of 1 and of
      ``decode_batch`` sequences, and one head's q Kᵀ against ``context`` cached keys.
    """
    cfg = transformer_config(cfg)
    check_positive_int("tokens", tokens)
    check_positive_int("context", context)
    check_positive_int("decode_batch", decode_batch)
    d, h = cfg.d_model, cfg.head_dim
    # a mixture of experts' layers mostly run its routed experts (DeepSeek-V3: d_ff_expert
    # 2,048 in 58 layers, d_ff 18,432 in the 3 dense ones)
    f = cfg.d_ff_expert if cfg.is_moe and cfg.d_ff_expert else cfg.d_ff
    return {
        f"MLP up-projection, {tokens:,} tokens (training/prefill)": (tokens, f, d),
        f"attention scores QKᵀ, one head, {tokens:,} tokens": (tokens, tokens, h),
        f"MLP up-projection, decode batch {decode_batch}": (decode_batch, f, d),
        "MLP up-projection, decode batch 1": (1, f, d),
        f"attention q·Kᵀ, decode, {context:,} cached tokens": (1, context, h),
    }


# ---------------------------------------------------------------- FLOPs

def _stack_terms(cfg, batch, seq, n_layers, causal, cross_seq, prefix, attention, halving):
    """The terms of a stack: each group of identical blocks' (`blocks.layer_groups`: windowed
    or global, dense or with experts), times the blocks in it, added up by name."""
    # a relative-position bias needs the score matrix: those self-attentions run naive
    self_attention = "naive" if cfg.positions == "relative" else attention
    summed: dict[str, FlopTerm] = {}
    for count, window, moe in blocks.layer_groups(cfg, n_layers):
        terms = blocks.attention_terms(cfg, batch, seq, seq, f"{prefix}.attn", causal,
                                       self_attention, halving, window)
        if cross_seq:
            terms += blocks.attention_terms(cfg, batch, seq, cross_seq, f"{prefix}.cross",
                                            False, attention, halving)
        terms += blocks.mlp_terms(cfg, batch * seq, prefix, moe)
        for t in terms:
            before = summed[t.name].forward if t.name in summed else 0
            summed[t.name] = FlopTerm(t.name, before + t.forward * count, t.backward,
                                      t.recompute)
    return list(summed.values())



def flop_terms(cfg: TransformerConfig, batch: int, seq: int | None = None, *,
               attention: str = "naive", causal_halving: bool = False) -> list[FlopTerm]:
    """The forward pass as a list of FlopTerm, input to output."""
    cfg = transformer_config(cfg, "for the other models: simple_flop_terms")
    check_positive_int("batch", batch)
    seq = check_seq(cfg, seq)
    check_choice("attention", attention, ATTENTIONS)
    check_bool("causal_halving", causal_halving)
    return unchecked_flop_terms(cfg, batch, seq, attention, causal_halving)


def unchecked_flop_terms(cfg, batch, seq, attention="naive", causal_halving=False):
    """`flop_terms` for a caller that checked its inputs itself (`sweep`'s array sizes)."""
    d, terms = cfg.d_model, []
    enc_seq = 0
    if cfg.frontend == "patches":
        seq = cfg.n_patches + 1
        conv = 2 * batch * cfg.n_patches * d * cfg.in_channels * cfg.patch_size**2
        terms.append(FlopTerm("patch_embedding", conv, backward=1.0, recompute=()))
    elif cfg.frontend == "audio":
        enc_seq = cfg.encoder_seq_len
        conv1 = 2 * batch * 2 * enc_seq * d * cfg.n_mels * 3   # stride 1 on 2x frames
        conv2 = 2 * batch * enc_seq * d * d * 3               # stride 2
        terms += [FlopTerm("audio_conv1", conv1, backward=1.0, recompute=()),
                  FlopTerm("audio_conv2", conv2, recompute=())]
    if cfg.arch == "encoder-decoder":
        enc_seq = enc_seq or seq
        terms += _stack_terms(cfg, batch, enc_seq, cfg.n_encoder_layers, False, 0, "encoder",
                              attention, causal_halving)
        terms += _stack_terms(cfg, batch, seq, cfg.n_layers, True, enc_seq, "decoder",
                              attention, causal_halving)
    else:
        terms += _stack_terms(cfg, batch, seq, cfg.n_layers, cfg.is_causal, 0, "layers",
                              attention, causal_halving)
    if cfg.has_lm_head:
        terms.append(FlopTerm("lm_head", 2 * batch * seq * d * cfg.vocab_size, recompute=()))
    if cfg.pooler:
        terms.append(FlopTerm("pooler", 2 * batch * d * d, recompute=()))
    if cfg.n_classes:
        terms.append(FlopTerm("classifier", 2 * batch * d * cfg.n_classes, recompute=()))
    return terms


def check_seq(cfg, seq, name: str = "seq") -> int:
    """The sequence length to use for ``cfg``: ``seq``, or the model's own when None, refused
    where the model cannot take it. A token model with learned positions has none beyond
    max_seq_len; a ViT sees exactly its patches and the class token; the other models take
    any positive length, and have none of their own (`default_seq`). Every estimate that
    takes a sequence (``name``: seq, context, prompt_len...) checks it here."""
    cfg = _config(cfg)
    check_name("name", name)
    if seq is None:
        return default_seq(cfg)
    check_positive_int(name, seq)
    if not isinstance(cfg, TransformerConfig):
        return seq
    if cfg.frontend == "patches" and seq != cfg.n_patches + 1:
        fail(name, seq, f"None or {cfg.n_patches + 1}: {cfg.name or 'a ViT'} sees its "
                        f"{cfg.n_patches} patches and a class token")
    takes_tokens = cfg.frontend == "tokens" or cfg.arch == "encoder-decoder"
    if takes_tokens and cfg.positions == "learned" and seq > cfg.max_seq_len:
        fail(name, seq, f"at most max_seq_len={cfg.max_seq_len} with learned positions")
    return seq


def check_tp(cfg, tp: int) -> None:
    """Tensor parallelism splits the heads: ``tp`` must divide the query heads and the
    key/value heads (unless there is one K/V head, which every device keeps). One device
    splits nothing, so tp = 1 asks nothing of ``cfg`` (`sweep`'s array sizes included)."""
    check_positive_int("tp", tp)
    if tp == 1:
        return
    cfg = transformer_config(cfg)
    if cfg.n_heads % tp:
        fail("tp", tp, f"a divisor of n_heads={cfg.n_heads}")
    if cfg.n_kv_heads % tp and cfg.n_kv_heads > 1:
        fail("tp", tp, f"a divisor of n_kv_heads={cfg.n_kv_heads}")


def default_seq(cfg) -> int:
    """The sequence a model is sized for: its context (or its patches); other models have
    none, so a sequence length must be given."""
    cfg = _config(cfg)
    if not isinstance(cfg, TransformerConfig):
        fail("seq", None, f"a sequence length for a {type(cfg).__name__} (it has no context)")
    return cfg.n_patches + 1 if cfg.frontend == "patches" else cfg.max_seq_len


def flops(cfg, batch: int = 1, seq: int | None = None, pass_: str = "forward", *,
          attention: str = "naive", recompute: str | None = None,
          causal_halving: bool = False) -> int:
    """Matmul FLOPs of a forward, backward or training (forward + backward) pass.

    Per token the forward is ≈ 2N + 4 L s d (every weight once, multiply and add, plus the
    attention scores and their weighted sum; Kaplan et al. 2020, Table 1), the backward
    twice that, so training ≈ 6N per token (`flops_6nd`); this is the exact matmul count.

    Equal to FlopCounterMode on `nets.build(cfg)` with the same settings. Switches:
    ``attention="flash"`` — the backward recomputes the scores (2.5x the core's forward,
    torch's count for scaled_dot_product_attention); ``recompute`` — "full" re-runs every
    block's forward in the backward, "selective" only the attention core (Korthikanti et al.
    2022); ``causal_halving`` — count only the unmasked half of a causal attention, as an ideal
    causal kernel would (FlopCounterMode counts the full square).
    """
    cfg = _config(cfg)
    check_choice("pass_", pass_, PASSES)
    check_choice("recompute", recompute, RECOMPUTE)
    if isinstance(cfg, TransformerConfig):
        terms = flop_terms(cfg, batch, seq, attention=attention, causal_halving=causal_halving)
    else:  # attention and causal_halving apply to transformers, but are checked all the same
        check_choice("attention", attention, ATTENTIONS)
        check_bool("causal_halving", causal_halving)
        terms = simple_flop_terms(cfg, batch, seq)
    forward = sum(t.forward for t in terms)
    backward = sum(round(t.backward * t.forward) for t in terms)
    backward += sum(t.forward for t in terms if recompute in t.recompute)
    return {"forward": forward, "backward": backward, "train": forward + backward}[pass_]


def flops_by_layer(cfg: TransformerConfig, batch: int = 1, seq: int | None = None,
                   **kwargs) -> dict[str, int]:
    """Forward FLOPs grouped by kind (qkv, attention core, out, mlp, lm_head, ...)."""
    out: dict[str, int] = {}
    for t in flop_terms(cfg, batch, seq, **kwargs):
        kind = t.name.split(".")[-1]
        out[kind] = out.get(kind, 0) + t.forward
    return out


def macs(cfg, batch: int = 1, seq: int | None = None, pass_: str = "forward", **kwargs) -> int:
    """Multiply-accumulates: half the FLOPs. (Many papers and tools say 'FLOPs' for MACs.)"""
    return flops(cfg, batch, seq, pass_, **kwargs) // 2


def simple_flop_terms(cfg, batch: int = 1, seq: int | None = None) -> list[FlopTerm]:
    """Forward FLOPs of the non-transformer configs, layer by layer. The first layer's input
    (data) needs no gradient, so its backward computes only the weight gradient.

    ``seq``: an LSTM's steps (default 1), an attention classifier's (default 100, source
    document 003's); an MLP, CNN or ResNet has none (a ``seq`` given is checked, not used)."""
    cfg = _config(cfg, _SIMPLE_FLOP_CONFIGS, "an MLP, CNN, LSTM, ResNet or attention-"
                  "classifier config or catalogue name (transformers: flop_terms)")
    check_positive_int("batch", batch)
    if seq is not None:
        seq = check_seq(cfg, seq)
    elif isinstance(cfg, (LSTMConfig, AttentionConfig)):
        seq = 1 if isinstance(cfg, LSTMConfig) else SEQUENCE_STEPS
    first = {"backward": 1.0, "recompute": ()}
    if isinstance(cfg, MLPConfig):
        s = cfg.sizes
        return [FlopTerm(f"dense{i}", 2 * batch * a * b, **(first if i == 0 else {}))
                for i, (a, b) in enumerate(zip(s, s[1:]))]
    if isinstance(cfg, CNNConfig):
        terms, c_in, s = [], cfg.in_channels, cfg.image_size
        for i, c_out in enumerate(cfg.channels):
            s = (s + 2 * cfg.padding - cfg.kernel_size) // cfg.stride + 1
            conv = 2 * batch * c_out * s * s * c_in * cfg.kernel_size**2
            terms.append(FlopTerm(f"conv{i}", conv, **(first if i == 0 else {})))
            s = s // 2 if cfg.pool else s
            c_in = c_out
        sizes = [c_in * s * s, *cfg.hidden, cfg.n_classes]
        return terms + [FlopTerm(f"dense{i}", 2 * batch * a * b)
                        for i, (a, b) in enumerate(zip(sizes, sizes[1:]))]
    if isinstance(cfg, LSTMConfig):
        terms, n_in, h = [], cfg.first_input_size, cfg.hidden_size
        for i in range(cfg.n_layers):
            # the input product Wx of a feature-input first layer needs no input gradient
            no_input_grad = i == 0 and not cfg.vocab_size
            terms.append(FlopTerm(f"lstm{i}.input", 2 * batch * seq * 4 * h * n_in,
                                  backward=1.0 if no_input_grad else 2.0))
            # Uh at step 0 multiplies the zero initial state, which needs no gradient
            step = 2 * batch * 4 * h * h
            terms.append(FlopTerm(f"lstm{i}.recurrent0", step, backward=1.0))
            terms.append(FlopTerm(f"lstm{i}.recurrent", (seq - 1) * step))
            n_in = h
        # the output layer reads every step, or (a classifier) only the last
        return terms + [FlopTerm("output", 2 * batch * cfg.output_steps(seq) * h * cfg.n_outputs)]
    if isinstance(cfg, ResNetConfig):
        stem, rest = _resnet_forward_flops(cfg)
        return [FlopTerm("stem", batch * stem, **first), FlopTerm("body", batch * rest)]
    # an attention classifier: embed 2BTnd, W q 2dd_a (once: the query is shared), U s
    # 2BTdd_a, v 2BTd_a, context (bmm) 2BTd, out 2BdC
    bt, d, a = batch * seq, cfg.d_model, cfg.d_attn
    return [FlopTerm("embed", 2 * bt * cfg.n_features * d, **first),
            FlopTerm("query", 2 * d * a),
            FlopTerm("keys", 2 * bt * d * a),
            FlopTerm("scores", 2 * bt * a),
            FlopTerm("context", 2 * bt * d),
            FlopTerm("output", 2 * batch * d * cfg.n_classes)]


def resnet_forward_flops(cfg: ResNetConfig, split_stem: bool = False):
    """Convolution and classifier FLOPs of one image (ResNet-50 at 224: about 8.2 GFLOP):
    (stem, the rest) with ``split_stem``."""
    cfg = _config(cfg, ResNetConfig, "a ResNetConfig or its catalogue name")
    check_bool("split_stem", split_stem)
    stem, rest = _resnet_forward_flops(cfg)
    return (stem, rest) if split_stem else stem + rest


def _resnet_forward_flops(cfg) -> tuple[int, int]:
    s = (cfg.image_size + 2 * 3 - 7) // 2 + 1
    stem = 2 * s * s * cfg.width * cfg.in_channels * 49
    n = 0
    s = (s + 2 - 3) // 2 + 1  # max-pool 3x3 stride 2
    c_in = cfg.width
    for stage, n_blocks in enumerate(cfg.blocks):
        planes = cfg.width * 2**stage
        c_out = planes * cfg.expansion
        for block in range(n_blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            s_out = (s - 1) // stride + 1
            if cfg.bottleneck:
                n += 2 * s * s * planes * c_in  # 1x1 at the input resolution
                n += 2 * s_out * s_out * planes * planes * 9 + 2 * s_out**2 * c_out * planes
            else:
                n += 2 * s_out**2 * planes * c_in * 9 + 2 * s_out**2 * planes * planes * 9
            if stride != 1 or c_in != c_out:
                n += 2 * s_out**2 * c_out * c_in
            c_in, s = c_out, s_out
    n += 2 * c_in * cfg.n_classes
    return stem, n


# ---------------------------------------------------------------- approximations

def flops_6nd(n_params: float, tokens: float) -> float:
    """Training FLOPs ~ 6ND (Kaplan et al. 2020): 2N per token forward, 4N backward.
    Leaves out attention's sequence-length term and any recomputation."""
    check_positive("n_params", n_params)
    check_positive("tokens", tokens)
    return _float_formula(lambda: 6.0 * n_params * tokens, n_params=n_params, tokens=tokens)


def flops_palm(n_params: float, n_layers: int, n_heads: int, head_dim: int, seq: int,
               tokens: float) -> float:
    """Training FLOPs with attention (Chowdhery et al. 2022, appendix B): (6N + 12LHQT) per
    token, N the non-embedding parameters, T the sequence length."""
    check_positive("n_params", n_params)
    ints = {"n_layers": n_layers, "n_heads": n_heads, "head_dim": head_dim, "seq": seq}
    for name, value in ints.items():
        check_positive_int(name, value)
    check_positive("tokens", tokens)
    return _float_formula(
        lambda: (6.0 * n_params + 12.0 * n_layers * n_heads * head_dim * seq) * tokens,
        n_params=n_params, **ints, tokens=tokens)


def flops_megatron(batch: int, seq: int, n_layers: int, d_model: int, vocab: int,
                   recompute: bool = True) -> float:
    """FLOPs of one training iteration of a GPT (Narayanan et al. 2021, eq. 3):
    96Bslh^2 (1 + s/6h + V/16lh) with full recomputation; 72Bslh^2 (1 + s/6h + V/12lh) without."""
    ints = {"batch": batch, "seq": seq, "n_layers": n_layers, "d_model": d_model, "vocab": vocab}
    for name, value in ints.items():
        check_positive_int(name, value)
    check_bool("recompute", recompute)
    b, s, l, h, v = batch, seq, n_layers, d_model, vocab
    k, m = (96, 16) if recompute else (72, 12)
    return _float_formula(lambda: k * b * s * l * h * h * (1 + s / (6 * h) + v / (m * l * h)),
                          **ints)
