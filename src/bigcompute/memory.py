"""Memory of training and inference: model states, activations, logits, KV cache, sharding.

Activation bytes are modelled on what autograd saves in `bigcompute.lab.nets` (tested against
`measure.saved_activation_bytes`). They follow the same accounting as Korthikanti et al. 2022
("Reducing activation recomputation in large transformer models"), whose per-layer
sbh(34 + 5as/h) assumes 16-bit activations and dropout; the reference modules have no dropout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .blocks import check_activations_modelled
from .configs import (
    ATTENTIONS,
    RECOMPUTE,
    SEQUENCE_STEPS,
    AttentionConfig,
    CNNConfig,
    LSTMConfig,
    MLPConfig,
    TransformerConfig,
)
from .counts import (
    check_seq,
    check_tp,
    matmul_weight_params,
    param_count,
    transformer_config,
)
from .errors import (
    check_bool,
    check_choice,
    check_non_negative,
    check_non_negative_int,
    check_positive_int,
    fail,
)
from .hardware import device as get_device
from .hf_accounting import hf_saved_parts

# the book calls these as memory.kv_cache_bytes and so on: they live in kv_cache
from .kv_cache import (  # noqa: F401
    InferenceMemory,
    cached_kv_bytes,
    check_kv_dtype,
    check_serving_fits,
    inference_memory,
    kv_cache_bytes,
    max_decode_batch,
)
from .megatron_accounting import megatron_layer_bytes
from .precision import (
    DTYPE_BYTES,
    INDEX_BYTES,
    OPTIMIZER_MOMENTS,
    Recipe,
)
from .precision import recipe as _recipe
from .step_memory import OPTIMIZER_KERNELS, StepTimeline, transformer_step_timeline
from .units import format_bytes

__all__ = [
    "ModelStates", "model_state_bytes", "Activations", "layer_activation_bytes",
    "activation_bytes", "SIMPLE_CONFIGS", "SIMPLE_LOSSES", "simple_activation_bytes",
    "step_bytes_moved", "zero_memory_per_device",
    "TrainingMemory", "LEDGER_LABELS", "training_memory", "step_timeline", "Fit", "fit",
    "max_batch", "fewest_zero3_devices", "IMPLEMENTATIONS",
]


ZERO_STAGES = (0, 1, 2, 3)


def _check_zero_stage(name: str, stage) -> None:
    check_non_negative_int(name, stage)
    check_choice(name, stage, ZERO_STAGES)


def _check_n_params(name: str, n_params) -> None:
    """A non-negative finite parameter count; `sweep` passes a numpy array of them (one per
    shape), checked element by element (without importing numpy: the explorers' pure
    halves run without it)."""
    if getattr(n_params, "ndim", 0):  # an array of counts
        if (getattr(n_params, "dtype", None) is None or n_params.dtype.kind not in "iuf"
                or not ((n_params >= 0) & (n_params < math.inf)).all()):
            fail(name, n_params, "non-negative finite numbers")
    else:
        check_non_negative(name, n_params)


@dataclass(frozen=True)
class ModelStates:
    weights: float
    grads: float
    optimizer: float

    @property
    def total(self) -> float:
        return self.weights + self.grads + self.optimizer


def model_state_bytes(n_params: float, precision: str = "mixed-bf16",
                      optimizer: str = "adamw") -> ModelStates:
    """Weights, gradients and optimizer states (with the fp32 master copy) in bytes:
    (w + g + m + k s) Ψ for Ψ parameters, k optimizer moments of s bytes (`precision.RECIPES`);
    mixed-precision Adam is (2 + 2 + 4 + 2 x 4) Ψ = 16Ψ (Rajbhandari et al. 2020, sec. 3.1).
    ``n_params`` may be a numpy array (one count per shape, as `sweep` passes)."""
    _check_n_params("n_params", n_params)
    r = _recipe(precision)
    check_choice("optimizer", optimizer, tuple(OPTIMIZER_MOMENTS))
    moments = OPTIMIZER_MOMENTS[optimizer]
    return ModelStates(n_params * r.weights, n_params * r.grads,
                       n_params * (r.master + moments * r.state))


# ---------------------------------------------------------------- activations

@dataclass(frozen=True)
class Activations:
    """Bytes saved for the backward pass, by where they are saved."""

    inputs: float       # token ids, positions, images or audio frames, frontend convolutions
    layers: float       # all transformer blocks
    final: float        # final norm and the LM head's input
    loss: float         # log-softmax of the logits (B x S x V) and the targets
    weight_copies: float = 0.0  # autocast's 16-bit copies of the matmul weights

    @property
    def total(self) -> float:
        return self.inputs + self.layers + self.final + self.loss + self.weight_copies


def _norm_bytes(cfg, tokens, r: Recipe, output: bool = True) -> float:
    """A norm saves its input and statistics, and its output is saved by the next matmul
    (``output=False`` leaves that to the caller). torch's RMSNorm computes in fp32 whatever
    the input: it keeps an fp32 copy of the input, the normalised input and 1/rms. Under
    autocast a norm's output is fp32 and each matmul keeps its own 16-bit cast of it: the
    one counted here is the first reader's."""
    d = cfg.d_model
    out = tokens * d * r.activation if output else 0
    if cfg.norm == "rmsnorm":
        return tokens * (2 * d * 4 + 4) + out
    stats = 2 * tokens * (4 if r.wide_activation == 4 else r.wide_activation)
    return tokens * d * r.wide_activation + stats + out


def _attention_core_bytes(cfg, batch, s_q, s_kv, causal, attention, recompute, e,
                          tp=1, e_qk=None, e_softmax=0) -> float:
    """Saved by one attention: Q, K, V, scores/softmax or flash statistics, merged output.
    ``e_qk``: bytes of the rotated Q and K kept by a checkpoint (fp32 under autocast, as the
    rotation multiplies by fp32 tables). ``e_softmax``: bytes of a separate wide softmax
    output (under autocast an fp32 position bias promotes the scores to fp32: softmax keeps
    fp32 probabilities and the matmul with V its own 16-bit cast of them)."""
    h, hkv, hd = cfg.n_heads / tp, cfg.n_kv_heads / tp, cfg.head_dim
    q = batch * s_q * h * hd * e
    kv = batch * s_kv * hkv * hd * e
    merged = batch * s_q * h * hd * e
    if recompute == "selective":
        widen = (e_qk or e) / e
        return q * widen + kv * widen + kv + merged
    if attention == "flash":
        lse = batch * h * s_q * 4
        return q + 2 * kv + q + lse + merged  # inputs, output, logsumexp
    kv_full = batch * s_kv * h * hd * e  # K and V repeated to every query head
    scores = batch * h * s_q * s_kv * (e + e_softmax)
    mask = s_q * s_kv if causal else 0
    return q + 2 * kv_full + scores + mask + merged


def _mlp_bytes(cfg, tokens, r: Recipe) -> float:
    """Saved inside the MLP: up-projection output(s), activation output, product."""
    f, e = cfg.d_ff, r.activation
    per_token = {("relu", False): 1, ("gelu", False): 2, ("silu", False): 2,
                 ("relu", True): 3, ("gelu", True): 4, ("silu", True): 4}
    n = tokens * f * e * per_token[(cfg.activation, cfg.gated_mlp)]
    if not cfg.is_moe:
        return n
    # router: softmax output, top-k values and indices, their sum; per routed token: its
    # gathered input, expert output and weighted output, its weight, two indices. Under
    # autocast the gathered rows are fp32 and each expert matmul (up, gate) keeps its own
    # 16-bit cast; the weighted output is cast back to the fp32 stream before index_add.
    k, d = cfg.top_k, cfg.d_model
    router = tokens * (cfg.n_experts * e + k * e + k * INDEX_BYTES + e)
    gathered = (2 if r.autocast and cfg.gated_mlp else 1) * d * e
    routed = gathered + d * e + d * r.wide_activation + e + 2 * INDEX_BYTES
    return k * n + router + tokens * k * routed


def layer_activation_bytes(cfg: TransformerConfig, batch: int, seq: int, precision="fp32",
                           attention="naive", recompute=None, cross_seq: int = 0,
                           causal: bool | None = None, tp: int = 1, sp: bool = False) -> float:
    """Bytes one block saves for backward.

    With ``recompute="full"`` only the block's input is kept. Tensor parallelism (``tp``)
    splits the heads and the MLP; with sequence parallelism (``sp``) the norms and the
    residual stream are split too (Korthikanti et al. 2022, sec. 4.2). ``cross_seq``: the
    length of the encoder output a decoder block's cross-attention reads (0: none)."""
    cfg = _transformer(cfg)
    check_positive_int("batch", batch)
    seq = check_seq(cfg, seq)
    _recipe(precision)
    check_choice("attention", attention, ATTENTIONS)
    check_choice("recompute", recompute, RECOMPUTE)
    check_non_negative_int("cross_seq", cross_seq)
    if causal is not None:
        check_bool("causal", causal)
    check_tp(cfg, tp)
    check_bool("sp", sp)
    return _layer_activation_bytes(cfg, batch, seq, precision, attention, recompute, cross_seq,
                                   causal, tp, sp)


def _layer_activation_bytes(cfg, batch, seq, precision="fp32", attention="naive",
                            recompute=None, cross_seq=0, causal=None, tp=1, sp=False) -> float:
    """`layer_activation_bytes` unchecked, for `activation_bytes` (which has checked its
    inputs, and may hold a `sweep` config of arrays)."""
    check_activations_modelled(cfg, seq)  # structure whose saves are not modelled: refused
    r = _recipe(precision)
    e, tokens = r.activation, batch * seq
    causal = cfg.is_causal if causal is None else causal
    shard = tp if sp else 1
    if recompute == "full":
        return tokens * cfg.d_model * r.wide_activation / shard
    # a relative-position bias needs the score matrix: that self-attention runs naive
    relative = cfg.positions == "relative"
    self_attention = "naive" if relative else attention
    n = 2 * _norm_bytes(cfg, tokens, r) / shard
    if r.autocast:
        # autocast casts a matmul's input per matmul: K and V (and a dense gated MLP's gate)
        # each keep their own 16-bit copy of the normalised input; in a mixture of experts
        # only the router reads it whole (the experts cast their gathered rows)
        casts = 2 + (1 if cfg.gated_mlp and not cfg.is_moe else 0)
        n += casts * tokens * cfg.d_model * e / shard
    e_qk = r.wide_activation if r.autocast and cfg.positions == "rotary" else e
    e_softmax = r.wide_activation if r.autocast and relative else 0
    n += _attention_core_bytes(cfg, batch, seq, seq, causal, self_attention, recompute, e, tp,
                               e_qk, e_softmax)
    if cross_seq:
        n += _norm_bytes(cfg, tokens, r) / shard
        n += _attention_core_bytes(cfg, batch, seq, cross_seq, False, attention, recompute,
                                   e, tp)
    return n + _mlp_bytes(cfg, tokens, r) / tp


def _stack_output_bytes(cfg, tokens, r: Recipe, kept, full) -> float:
    """A stack's last hidden state, which its reader keeps as ``kept`` bytes. Pre-norm: the
    final norm made it. Post-norm: the last block's second norm made it, and the block
    counted one 16-bit copy of that norm's output (unless recomputed), which ``kept``
    replaces."""
    if not cfg.post_norm:
        return _norm_bytes(cfg, tokens, r, output=False) + kept
    return kept - (0 if full else tokens * cfg.d_model * r.activation)


def _stack_input_bytes(cfg, tokens, r: Recipe, full, embedding_norm) -> float:
    """A post-norm stack's first input, which its first block's Q, K and V read where a
    pre-norm block's norm saves it; an embedding norm counts it as its output, and under
    full recomputation the checkpoint keeps it."""
    if not cfg.post_norm or full or embedding_norm:
        return 0.0
    return tokens * cfg.d_model * r.activation


def _transformer(cfg) -> TransformerConfig:
    """These formulas are the transformer's: other models are refused, saying where they are
    handled."""
    return transformer_config(cfg, "for the chapter 3 and 5 models: activation_bytes of an "
                              "MLP, CNN, LSTM or attention classifier, "
                              "lab.measure.saved_activation_bytes")


def activation_bytes(cfg, batch: int, seq: int | None = None,
                     precision: str = "fp32", attention: str = "naive",
                     recompute: str | None = None, tp: int = 1, sp: bool = False,
                     loss: bool | str | None = True,
                     implementation: str = "reference") -> Activations:
    """Bytes autograd saves in one forward pass (plus the loss), by part.

    Per transformer layer ≈ s b h (34 + 5 a s / h) bytes in 16-bit with dropout (Korthikanti et
    al. 2022, eq. 1: s tokens, b sequences, h = d_model, a heads); 34 s b h with FlashAttention
    or selective recomputation, 2 s b h with full recomputation. This is the exact accounting
    of the reference modules, which have no dropout masks (so fewer bytes than 34) and keep
    what autocast and each norm really save (`layer_activation_bytes`). It equals
    `measure.saved_activation_bytes` on `nets.build(cfg)` in fp32, pure bf16 and
    amp-bf16 (torch.autocast: 16-bit matmul inputs and outputs, each matmul's own cast of
    its input, 16-bit weight copies; fp32 residual stream, norms and loss).

    ``implementation`` says whose modules save them (`IMPLEMENTATIONS`): "reference" the
    library's own (`lab.nets`), "hf" Hugging Face transformers' (`hf_accounting`: GPT-2,
    the Llama family with Mistral, Qwen2 and Mixtral, BERT), "megatron" Megatron-LM's fused
    kernels as Korthikanti et al. count them (`megatron_accounting`).

    The small networks of chapters 3 and 5 (MLP, CNN, LSTM, attention classifier) go to
    `simple_activation_bytes`, in fp32 only: there ``loss`` is "ce" (cross-entropy, as True),
    "bce" (BCEWithLogits) or None (no loss)."""
    check_activations_modelled(cfg, seq)  # structure whose saves are not modelled: refused
    check_choice("implementation", implementation, IMPLEMENTATIONS)
    check_positive_int("tp", tp)
    check_bool("sp", sp)
    if not (loss is None or isinstance(loss, bool) or loss in SIMPLE_LOSSES):
        fail("loss", loss, "True, False, None, 'ce' (cross-entropy) or 'bce'")
    if isinstance(cfg, SIMPLE_CONFIGS):
        if precision != "fp32":
            fail("precision", precision, f"'fp32' for a {type(cfg).__name__}")
        if recompute or tp != 1 or sp:
            fail("recompute, tp, sp", (recompute, tp, sp),
                 f"(None, 1, False) for a {type(cfg).__name__}: they apply to transformers")
        return simple_activation_bytes(cfg, batch, seq, "ce" if loss is True else loss or None)
    cfg = _transformer(cfg)
    check_positive_int("batch", batch)
    check_choice("attention", attention, ATTENTIONS)
    check_choice("recompute", recompute, RECOMPUTE)
    r = _recipe(precision)
    seq = check_seq(cfg, seq)
    check_tp(cfg, tp)
    if loss == "bce":
        fail("loss", loss, "True, False, None or 'ce' for a transformer (its loss is "
                           "cross-entropy)")
    if implementation == "megatron":
        return _megatron_activation_bytes(cfg, batch, seq, precision, attention, recompute,
                                          tp, sp, loss)
    if implementation == "hf":
        return _hf_activation_bytes(cfg, batch, seq, precision, attention, recompute, tp, sp,
                                    loss)
    token_stacks = 0  # stacks whose input is token embeddings
    if cfg.frontend == "tokens" or cfg.arch == "encoder-decoder":
        token_stacks = 2 if cfg.arch == "encoder-decoder" and cfg.frontend == "tokens" else 1
    e, d = r.activation, cfg.d_model
    full = recompute == "full"
    tokens = batch * seq
    inputs, layers = 0.0, 0.0
    enc_seq = 0
    if cfg.frontend == "patches":
        seq = cfg.n_patches + 1
        tokens = batch * seq
        inputs += batch * cfg.in_channels * cfg.image_size**2 * e
    elif cfg.frontend == "audio":
        enc_seq = cfg.encoder_seq_len
        inputs += batch * cfg.n_mels * 2 * enc_seq * e + batch * d * enc_seq * e * (2 * 2 + 1)
    inputs += token_stacks * tokens * INDEX_BYTES
    inputs += token_stacks * seq * INDEX_BYTES if cfg.positions == "learned" else 0
    inputs += token_stacks * tokens * INDEX_BYTES if cfg.type_vocab_size else 0
    if cfg.embedding_norm:  # under full recomputation its output is the first block's input
        inputs += token_stacks * _norm_bytes(cfg, tokens, r, output=not full)
    if cfg.positions == "relative":
        # bucket ids; the bias itself (fp32 under autocast: an embedding is not autocast)
        # when it goes into a checkpoint with Q, K, V or with each block, once per stack
        per_stack = seq * seq * INDEX_BYTES
        per_stack += cfg.n_heads * seq * seq * r.wide_activation if recompute else 0
        inputs += (2 if cfg.arch == "encoder-decoder" else 1) * per_stack
    kw = dict(precision=precision, attention=attention, recompute=recompute, tp=tp, sp=sp)
    # what reads the last hidden state keeps: the LM head all of it; a pooler or classifier
    # the first token, which without autocast is a view that keeps the whole tensor alive,
    # and under autocast a 16-bit cast of that token alone
    if cfg.has_lm_head:
        kept = tokens * d * e
    elif cfg.pooler or cfg.n_classes:
        kept = (batch if r.autocast else tokens) * d * e
    else:
        kept = 0.0
    final = 0.0
    if cfg.arch == "encoder-decoder":
        enc_seq = enc_seq or seq
        enc_tokens = batch * enc_seq
        layers += cfg.n_encoder_layers * _layer_activation_bytes(cfg, batch, enc_seq,
                                                                 causal=False, **kw)
        layers += cfg.n_layers * _layer_activation_bytes(cfg, batch, seq, cross_seq=enc_seq,
                                                         causal=True, **kw)
        # the encoder's output, read by every cross-attention's K and V: one tensor, kept
        # once by the checkpoints under full recomputation (fp32 under autocast); otherwise
        # under autocast each of those 2 x layers matmuls keeps its own 16-bit cast
        readers = 1 if not r.autocast else 2 * cfg.n_layers
        enc_output = enc_tokens * d * (r.wide_activation if full else readers * e)
        final += _stack_output_bytes(cfg, enc_tokens, r, enc_output, full)
        inputs += _stack_input_bytes(cfg, enc_tokens, r, full,
                                     cfg.embedding_norm and cfg.frontend == "tokens")
    else:
        layers += cfg.n_layers * _layer_activation_bytes(cfg, batch, seq, **kw)
    final += _stack_output_bytes(cfg, tokens, r, kept, full)
    inputs += _stack_input_bytes(cfg, tokens, r, full, cfg.embedding_norm and token_stacks > 0)
    if cfg.pooler:  # tanh's output
        final += batch * d * e
    loss_bytes = 0.0
    if cfg.has_lm_head and loss:
        loss_bytes = tokens * cfg.vocab_size * r.wide_activation / tp + tokens * INDEX_BYTES
        loss_bytes += r.wide_activation  # the loss itself
    copies = 0.0
    if r.autocast:  # the weight copies are cached for the backward; recomputed blocks' are not
        blocks, head = matmul_weight_params(cfg)
        copies = r.activation * ((0 if recompute == "full" else blocks) + head) / tp
    return Activations(inputs, layers, final, loss_bytes, copies)


# ---------------------------------------------------------------- other implementations

IMPLEMENTATIONS = ("reference", "hf", "megatron")
_MEGATRON_PRECISIONS = ("mixed-bf16", "mixed-fp16", "mixed-bf16-fp32-grads", "bf16", "fp16")
_HF_PRECISIONS = ("fp32", "amp-bf16", "amp-fp16", *_MEGATRON_PRECISIONS)


def _hf_activation_bytes(cfg, batch, seq, precision, attention, recompute, tp, sp,
                         loss) -> Activations:
    """`activation_bytes` for implementation="hf": Hugging Face's modules in one process
    (`hf_accounting`; no tensor parallelism or recomputation there)."""
    check_choice("precision", precision, _HF_PRECISIONS)
    if recompute or tp != 1 or sp:
        fail("recompute, tp, sp", (recompute, tp, sp),
             "(None, 1, False) for implementation='hf' (Hugging Face's modules on one device)")
    parts = hf_saved_parts(cfg, batch, check_seq(cfg, seq), precision, attention)
    return Activations(parts.inputs, cfg.n_layers * parts.per_layer, parts.final,
                       parts.loss if loss else 0.0, parts.weight_copies)


def _megatron_activation_bytes(cfg, batch, seq, precision, attention, recompute, tp, sp,
                               loss) -> Activations:
    """`activation_bytes` for implementation="megatron": the blocks as
    `megatron_layer_bytes`; the input and output layers as Korthikanti et al.
    count them (sec. 4.3): the embeddings' dropout mask (sbh), the final norm's and the
    head's inputs (4sbh) and the fp32 logits cross-entropy keeps (4sbv), over t with sp."""
    check_choice("precision", precision, _MEGATRON_PRECISIONS)
    if cfg.arch != "decoder" or cfg.frontend != "tokens":
        fail("cfg", cfg.name, "a decoder-only model with token inputs for "
                              "implementation='megatron' (Megatron-LM's GPT)")
    seq = check_seq(cfg, seq)
    sbh, shard = seq * batch * cfg.d_model, tp if sp else 1
    layer = megatron_layer_bytes(cfg, batch, seq, attention, recompute, tp, sp)
    loss_bytes = 4 * seq * batch * cfg.vocab_size / tp if loss else 0.0
    return Activations(inputs=sbh / shard, layers=cfg.n_layers * layer,
                       final=4 * sbh / shard, loss=loss_bytes)


# ---------------------------------------------------------------- the small networks, in fp32

SIMPLE_CONFIGS = (MLPConfig, CNNConfig, LSTMConfig, AttentionConfig)
SIMPLE_LOSSES = ("bce", "ce")


def _loss_bytes(loss: str, batch: int, n_out: int, per: int = 1) -> int:
    """What the loss saves for ``per`` outputs per example: BCEWithLogits its logits and float
    targets; cross-entropy the log-softmax (outputs x classes) and the int64 targets."""
    e = DTYPE_BYTES["fp32"]
    if loss == "bce":
        return 2 * per * batch * n_out * e
    return per * batch * (n_out * e + INDEX_BYTES) + e  # and the mean


def simple_activation_bytes(cfg, batch: int, seq: int | None = None,
                            loss: str | None = None) -> Activations:
    """Bytes autograd keeps for the backward pass of one fp32 training step.

    MLP: the input and every hidden layer's ReLU output (each linear layer saves its input; a
    ReLU saves its output, which is the next layer's input: one buffer). CNN: the input, each
    convolution's ReLU output, each max-pool's int64 indices and its output. LSTM (the
    recurrence as written, one cell per step): per layer and step the four gates, the cell
    state, its tanh and the hidden state (7h numbers), plus each layer's input sequence.
    Attention classifier: input, embedded steps, the tanh scores, weights and context.
    ``loss`` ("bce" or "ce") adds what the loss saves. A sequence model's ``seq`` defaults to
    source document 003's 100 steps."""
    if not isinstance(cfg, SIMPLE_CONFIGS):
        fail("cfg", cfg, "an MLPConfig, CNNConfig, LSTMConfig or AttentionConfig")
    check_positive_int("batch", batch)
    check_choice("loss", loss, (*SIMPLE_LOSSES, None))
    if seq is not None:
        check_positive_int("seq", seq)
    e = DTYPE_BYTES["fp32"]
    if isinstance(cfg, MLPConfig):
        inputs = batch * cfg.sizes[0] * e
        layers = batch * sum(cfg.sizes[1:-1]) * e
        out, per = cfg.sizes[-1], 1
    elif isinstance(cfg, CNNConfig):
        inputs, s = batch * cfg.in_channels * cfg.image_size**2 * e, cfg.image_size
        layers = 0
        for c_out in cfg.channels:
            s = (s + 2 * cfg.padding - cfg.kernel_size) // cfg.stride + 1
            layers += batch * c_out * s * s * e  # ReLU output (the pool's or next conv's input)
            if cfg.pool:
                s //= 2
                layers += batch * c_out * s * s * (INDEX_BYTES + e)  # indices, pooled output
        layers += batch * sum(cfg.hidden) * e
        out, per = cfg.n_classes, 1
    elif isinstance(cfg, LSTMConfig):
        seq = seq or SEQUENCE_STEPS
        h, tokens = cfg.hidden_size, batch * seq
        inputs = tokens * cfg.first_input_size * e  # the first layer's input sequence
        inputs += tokens * INDEX_BYTES if cfg.vocab_size else 0
        layers = cfg.n_layers * tokens * (7 * h + h) * e  # gates, c, tanh c, h; output sequence
        out = cfg.n_outputs
        per = cfg.output_steps(seq)  # the loss sees one output per step, or only the last
    elif isinstance(cfg, AttentionConfig):
        seq = seq or SEQUENCE_STEPS
        tokens, d, a = batch * seq, cfg.d_model, cfg.d_attn
        inputs = tokens * cfg.n_features * e
        layers = tokens * (d + a + 1) * e + batch * d * e
        out, per = cfg.n_classes, 1
    else:
        raise TypeError(f"no activation model for {type(cfg).__name__}")
    return Activations(inputs, layers, 0, _loss_bytes(loss, batch, out, per) if loss else 0, 0)


def step_bytes_moved(n_params: int, activation_bytes: float) -> float:
    """A floor on the bytes one fp32 Adam step moves through memory: weights read in the
    forward and again in the backward, gradients written, Adam reading weights, gradients and
    two moments and writing back three (10 x 4 B per parameter); activations written in the
    forward and read in the backward (2 x)."""
    check_non_negative("n_params", n_params)
    check_non_negative("activation_bytes", activation_bytes)
    return 10 * DTYPE_BYTES["fp32"] * n_params + 2 * activation_bytes


# ---------------------------------------------------------------- sharding and the total

def zero_memory_per_device(n_params: float, dp: int, stage: int,
                           optimizer_bytes_per_param: float = 12, weight_bytes: float = 2,
                           grad_bytes: float = 2) -> float:
    """Model-state bytes per device under ZeRO (Rajbhandari et al. 2020, fig. 1):
    stage 0: (2 + 2 + K)Ψ; 1: (2 + 2)Ψ + KΨ/N; 2: 2Ψ + (2 + K)Ψ/N; 3: (2 + 2 + K)Ψ/N."""
    check_non_negative("n_params", n_params)
    check_positive_int("dp", dp)
    _check_zero_stage("stage", stage)
    check_non_negative("optimizer_bytes_per_param", optimizer_bytes_per_param)
    check_non_negative("weight_bytes", weight_bytes)
    check_non_negative("grad_bytes", grad_bytes)
    w, g, k = weight_bytes * n_params, grad_bytes * n_params, optimizer_bytes_per_param * n_params
    return (w / (dp if stage >= 3 else 1) + g / (dp if stage >= 2 else 1)
            + k / (dp if stage >= 1 else 1))


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes per device of one training step, by part; ``total`` is their sum (what stays
    resident plus every saved activation). ``peak`` is the step's high-water mark, which an
    out-of-memory error and ``torch.cuda.max_memory_allocated`` report, reached at
    ``peak_phase``; ``timeline`` is the walk it comes from (`step_memory`)."""

    weights: float
    grads: float
    optimizer: float
    activations: float
    logits: float
    peak: float = 0.0
    peak_phase: str = ""
    timeline: StepTimeline | None = field(default=None, repr=False, compare=False)

    @property
    def total(self) -> float:
        return self.weights + self.grads + self.optimizer + self.activations + self.logits

    @property
    def model_states(self) -> float:
        return self.weights + self.grads + self.optimizer

    def as_dict(self) -> dict[str, float]:
        d = {key: getattr(self, key) for key in LEDGER_LABELS}
        d["total"] = self.total
        d["peak"] = self.peak
        return d

    def parts(self) -> dict[str, float]:
        """{label: bytes} in ledger order, labelled as the book's charts and tables label
        them (`LEDGER_LABELS`)."""
        return {label: getattr(self, key) for key, label in LEDGER_LABELS.items()}


# How the book labels each part of `TrainingMemory`, in ledger order.
LEDGER_LABELS = {"weights": "weights", "grads": "gradients", "optimizer": "optimizer states",
                 "activations": "activations", "logits": "logits and loss"}


def _check_parallel_layout(cfg, zero_stage, dp, tp, pp, sp) -> None:
    for name, v in (("dp", dp), ("pp", pp)):
        check_positive_int(name, v)
    _check_zero_stage("zero_stage", zero_stage)
    check_tp(cfg, tp)
    if pp > cfg.n_layers:
        fail("pp", pp, f"at most n_layers={cfg.n_layers}")
    check_bool("sp", sp)


def training_memory(cfg, batch: int, seq: int | None = None, precision: str = "mixed-bf16",
                    optimizer: str = "adamw", attention: str = "flash",
                    recompute: str | None = None, zero_stage: int = 0, dp: int = 1,
                    tp: int = 1, pp: int = 1, sp: bool = False,
                    implementation: str = "reference", optimizer_kernel: str = "fused",
                    accumulate: bool = False) -> TrainingMemory:
    """Memory per device for training ``cfg`` on micro-batches of ``batch`` sequences:

        model states (`model_state_bytes`, sharded by tp, pp and ZeRO over dp)
        + saved activations (`activation_bytes`) + the logits' log-softmax (b s V x 4)

    is ``total``; ``peak`` is the high-water mark of the step's timeline (`step_timeline`:
    the logits and their gradients at the loss, gradients filling while activations are
    alive, the optimizer's temporaries), which is what decides whether the step fits.

    Model states are split by tensor (tp) and pipeline (pp) parallelism, then by ZeRO over
    the dp data-parallel replicas; autocast's weight copies are divided and sharded like the
    weights they copy. With 1F1B pipelining the first stage holds pp micro-batches in flight,
    so its activations are those of all layers for one micro-batch (Korthikanti et al. 2022,
    sec. 4.2.3); logits live on the last stage. ``implementation``: whose modules save the
    activations (`activation_bytes`).
    """
    cfg = _transformer(cfg)
    _check_parallel_layout(cfg, zero_stage, dp, tp, pp, sp)
    states = model_state_bytes(param_count(cfg) / (tp * pp), precision, optimizer)
    shard = {s: (dp if zero_stage >= s else 1) for s in (1, 2, 3)}
    acts = activation_bytes(cfg, batch, seq, precision, attention, recompute, tp, sp,
                            implementation=implementation)
    # the first stage: pp micro-batches in flight, each through its ceil(L/pp) whole layers
    n_blocks = cfg.n_layers + cfg.n_encoder_layers
    per_stage = acts.layers / n_blocks * math.ceil(n_blocks / pp) * pp
    last_stage_too = pp == 1  # with pp > 1 the final norm and logits are on another device
    copies = acts.weight_copies / pp / shard[3]
    timeline = step_timeline(cfg, batch, seq, precision, optimizer, attention, recompute,
                             zero_stage, dp, tp, pp, sp, implementation, optimizer_kernel,
                             accumulate)
    return TrainingMemory(weights=states.weights / shard[3], grads=states.grads / shard[2],
                          optimizer=states.optimizer / shard[1],
                          activations=acts.inputs + per_stage + copies
                          + (acts.final if last_stage_too else 0.0),
                          logits=acts.loss if last_stage_too else 0.0,
                          peak=timeline.peak, peak_phase=timeline.peak_phase,
                          timeline=timeline)


def step_timeline(cfg, batch: int, seq: int | None = None, precision: str = "mixed-bf16",
                  optimizer: str = "adamw", attention: str = "flash",
                  recompute: str | None = None, zero_stage: int = 0, dp: int = 1,
                  tp: int = 1, pp: int = 1, sp: bool = False,
                  implementation: str = "reference", optimizer_kernel: str = "fused",
                  accumulate: bool = False) -> StepTimeline:
    """Memory through one training step on one device, event by event (`step_memory`): its
    ``peak`` and ``peak_phase``, and the curve the book draws. Arguments as
    `training_memory`; ``optimizer_kernel`` is AdamW's implementation ("fused", "foreach",
    "for-loop"); ``accumulate``: gradients are accumulated over micro-batches, so they are
    alive through the forward pass (always so with pp > 1). With pp > 1 the device with the
    higher peak is shown: the first stage (pp micro-batches in flight) or the last (the
    logits)."""
    cfg = _transformer(cfg)
    _check_parallel_layout(cfg, zero_stage, dp, tp, pp, sp)
    check_choice("optimizer_kernel", optimizer_kernel, OPTIMIZER_KERNELS)
    check_bool("accumulate", accumulate)
    r = _recipe(precision)
    seq = check_seq(cfg, seq)
    acts = activation_bytes(cfg, batch, seq, precision, attention, recompute, tp, sp,
                            implementation=implementation)
    states = model_state_bytes(param_count(cfg), precision, optimizer)
    # a recomputed block's activations exist again during its backward
    n_blocks = cfg.n_layers + cfg.n_encoder_layers
    stored = activation_bytes(cfg, batch, seq, precision, attention, None, tp, sp,
                              implementation=implementation).layers / n_blocks
    recomputed = stored - acts.layers / n_blocks
    # the MLP's share of a block's bytes, as the reference modules save them
    reference = _layer_activation_bytes(cfg, batch, seq, precision, attention, None, 0, None,
                                        tp, sp)
    mlp_share = _mlp_bytes(cfg, batch * seq, r) / tp / reference
    return transformer_step_timeline(cfg, batch, seq, acts, states, r, optimizer, attention,
                                      recompute, recomputed, mlp_share, zero_stage, dp, tp, pp,
                                      sp, optimizer_kernel, accumulate,
                                      fp32_loss=implementation != "reference")


@dataclass(frozen=True)
class Fit:
    """Does a configuration fit on a device, and the largest micro-batch that does."""

    fits: bool
    max_batch: int
    required_bytes: float
    capacity_bytes: float
    message: str


def fit(cfg, device, batch: int = 1, seq: int | None = None, **training_kwargs) -> Fit:
    """Whether training at ``batch`` fits in the device's memory, and the largest batch that
    does, judged by the step's peak (`training_memory`). Every event of the step's timeline
    holds bytes affine in the batch, so the largest batch is the smallest, over the events,
    of floor((memory - intercept) / slope)."""
    dev = get_device(device)
    check_positive_int("batch", batch)
    one = training_memory(cfg, 1, seq, **training_kwargs)
    two = training_memory(cfg, 2, seq, **training_kwargs)
    cap = dev.memory_bytes
    if one.peak > cap:
        return Fit(False, 0, one.peak, cap,
                   f"does not fit on {dev.name} even at batch 1: its peak is "
                   f"{format_bytes(one.peak)} of {format_bytes(cap)} (model states alone "
                   f"{format_bytes(one.model_states)})")
    largest = math.inf
    for at_one, at_two in zip(one.timeline.events, two.timeline.events):
        slope = at_two.high - at_one.high
        if slope > 0:
            largest = min(largest, (cap - (at_one.high - slope)) // slope)
    max_batch = int(largest) if largest < math.inf else 2**62
    need = (one if batch == 1 else training_memory(cfg, batch, seq, **training_kwargs)).peak
    ok = need <= cap
    verdict = "fits" if ok else "does not fit"
    return Fit(ok, max_batch, need, cap,
               f"batch {batch} {verdict} on {dev.name}: its peak is {format_bytes(need)} of "
               f"{format_bytes(cap)}; largest batch that fits: {max_batch:,}")


def max_batch(cfg, device, seq: int | None = None, **training_kwargs) -> int:
    """The largest micro-batch whose step peaks within the device's memory (0 when not
    even batch 1 does)."""
    return fit(cfg, device, 1, seq, **training_kwargs).max_batch


def fewest_zero3_devices(cfg, device, seq: int, max_devices: int = 2**16, **training_kwargs):
    """(dp, `TrainingMemory`) at the smallest power-of-two data-parallel degree dp at which
    ZeRO-3 training of ``cfg`` at micro-batch 1 fits in the device's memory (weights,
    gradients and optimizer states sharded over the devices; activations are not), or None
    when even ``max_devices`` do not suffice."""
    dev = get_device(device)
    check_positive_int("max_devices", max_devices)
    dp = 1
    while dp <= max_devices:
        mem = training_memory(cfg, 1, seq, zero_stage=3, dp=dp, **training_kwargs)
        if mem.peak <= dev.memory_bytes:
            return dp, mem
        dp *= 2
    return None
