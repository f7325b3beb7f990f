"""What Hugging Face's transformers modules save for backward, byte for byte.

`memory.activation_bytes` counts what the library's own reference modules (`lab.nets`) save.
Hugging Face's modules compute the same functions but save more for the backward pass:
dropout masks, GELU written as several element-wise ops, RMSNorm's fp32 upcast, eager
attention's fp32 softmax, the rotary tables, the KV cache's copies of K and V, and a loss
that upcasts the logits. This module is that accounting, as plain arithmetic, for three
families of Hugging Face modules, picked from the config's fields:

* ``GPT2LMHeadModel`` (a decoder with LayerNorm, learned positions and a GELU MLP);
* ``LlamaForCausalLM``, ``MistralForCausalLM``, ``Qwen2ForCausalLM`` and, with experts,
  ``MixtralForCausalLM`` (a decoder with RMSNorm, rotary positions and a SwiGLU MLP);
* ``BertModel`` (an encoder: post-norm, an embedding LayerNorm, the pooler).

Measured with transformers 5.23.0 and torch 2.13 on CPU (`tests/test_hf_accounting.py`), in
training mode, called as ``model(input_ids=ids, labels=ids)`` (decoders, Hugging Face's own
``ForCausalLMLoss``) or ``model(input_ids=ids).pooler_output`` (BERT), with no attention mask
and the config's default ``use_cache=True``. ``attention="naive"`` is
``attn_implementation="eager"``; ``"flash"`` is ``"sdpa"``, which on CPU runs torch's flash
kernel when no mask and no dropout are given.

Two things are specific to the CPU and would differ on a GPU: a dropout with p > 0 saves its
scaled mask in the activation's dtype (``input * noise``; CUDA's fused ``native_dropout``
keeps a 1-byte bool mask instead), and SDPA with ``dropout_p > 0`` falls back to torch's math
kernel, which upcasts 16-bit inputs to fp32 and saves Q, K, V and the score-sized softmax,
mask and dropped probabilities (CUDA's flash kernel takes dropout itself).

Symbols below: t = batch x seq tokens, d = d_model, f = d_ff, h (h_kv) query (key/value)
heads of width hd, V the vocabulary, e the bytes of an activation (`Recipe.activation`: 2 in
bf16 and under autocast, 4 in fp32), w the bytes of the wide stream (`Recipe.wide_activation`:
the residual stream and the norms, fp32 under autocast).
"""

from __future__ import annotations

from dataclasses import dataclass

from .configs import ATTENTIONS, TransformerConfig
from .counts import check_seq, transformer_config
from .errors import check_choice, check_positive_int, fail
from .precision import DTYPE_BYTES, INDEX_BYTES, recipe

__all__ = ["TRANSFORMERS_VERSION", "HF_FAMILIES", "HFSaved", "hf_family", "hf_saved_parts"]

TRANSFORMERS_VERSION = "5.23.0"  # the version these formulas were measured against
# the config family -> the Hugging Face modules it stands for
HF_FAMILIES = {
    "gpt2": "GPT2LMHeadModel",
    "llama": "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, MixtralForCausalLM",
    "bert": "BertModel",
}
FP32 = DTYPE_BYTES["fp32"]


@dataclass(frozen=True)
class HFSaved:
    """Bytes a Hugging Face model saves for backward, by where they are saved.

    inputs: token ids, positions, rotary tables, the embeddings' norm and dropout (before
    the first block); per_layer: what ONE block saves (every block saves the same);
    final: the final norm and the LM head's input, or the pooler; loss: the cross-entropy
    (0 without an LM head); weight_copies: autocast's 16-bit copies of the matmul weights
    (0 outside autocast)."""

    inputs: float
    per_layer: float
    final: float
    loss: float
    weight_copies: float = 0.0

    def total(self, n_layers: int) -> float:
        """Everything, for a model of ``n_layers`` blocks."""
        return (self.inputs + n_layers * self.per_layer + self.final + self.loss
                + self.weight_copies)


@dataclass(frozen=True)
class _Shape:
    """The sizes the formulas read, and the precision's bytes."""

    b: int       # sequences
    s: int       # tokens per sequence
    d: int
    f: int
    h: int       # query heads
    hkv: int     # key/value heads
    hd: int      # head width
    vocab: int
    e: float     # a 16-bit (or fp32) activation
    w: float     # the wide stream: residual, norms (fp32 under autocast)
    amp: bool    # torch.autocast: each matmul casts its inputs and weights to 16 bits
    dropout: bool
    sdpa: bool   # attn_implementation="sdpa"
    flash: bool  # ... and torch picks its flash kernel (no dropout)

    @property
    def t(self) -> int:
        return self.b * self.s

    @property
    def bhss(self) -> int:
        """Elements of the score matrices: batch x heads x seq x seq."""
        return self.b * self.h * self.s * self.s

    @property
    def heads_out(self) -> int:
        """Elements of Q (or of K and V repeated to every query head): t x h x hd."""
        return self.t * self.h * self.hd


def hf_family(cfg: TransformerConfig) -> str:
    """The Hugging Face family (a key of `HF_FAMILIES`) a config maps onto, or a ValueError
    saying which fields do not fit any of them. ``cfg``: a config or a catalogue name."""
    cfg = transformer_config(cfg)
    if cfg.frontend != "tokens" or cfg.arch == "encoder-decoder" or cfg.n_classes:
        fail("cfg", cfg.name, "a token-input decoder (GPT-2, Llama, Mistral, Mixtral) or "
             "encoder (BERT) without a classifier: the families hf_accounting models")
    if cfg.arch == "encoder":
        family, wants = "bert", dict(norm="layernorm", positions="learned", post_norm=True,
                                     embedding_norm=True, pooler=True, activation="gelu",
                                     gated_mlp=False, n_experts=1, n_kv_heads=cfg.n_heads)
    elif cfg.norm == "rmsnorm":
        family, wants = "llama", dict(positions="rotary", post_norm=False, gated_mlp=True,
                                      activation="silu")
    else:
        family, wants = "gpt2", dict(positions="learned", post_norm=False, gated_mlp=False,
                                     activation="gelu", n_experts=1, n_kv_heads=cfg.n_heads,
                                     head_dim=cfg.d_model // cfg.n_heads)
    for key, value in wants.items():
        if getattr(cfg, key) != value:
            fail(key, getattr(cfg, key), f"{value!r} for a {HF_FAMILIES[family]} "
                 f"(the Hugging Face family this config maps onto)")
    return family


def _layernorm(z: _Shape) -> float:
    """nn.LayerNorm (native_layer_norm) saves its input and the per-token mean and 1/std, in
    the input's dtype (fp32 under autocast): t d w + 2 t w. Its output is saved by its reader."""
    return z.t * z.d * z.w + 2 * z.t * z.w


def _rmsnorm(z: _Shape) -> float:
    """LlamaRMSNorm (also Mistral's, Mixtral's): ``x.to(float32)`` is saved by ``pow(2)`` and
    the multiply by ``rsqrt(variance + eps)`` (t d 4 whatever the model's dtype), the rsqrt
    (t 4), and the normalised ``.to(input_dtype)`` is saved by ``weight * ...`` (t d w)."""
    return z.t * z.d * FP32 + z.t * FP32 + z.t * z.d * z.w


def _matmul_input(z: _Shape, width: int, readers: int) -> float:
    """The input of ``readers`` linear layers reading one tensor of ``width`` per token: saved
    once (one storage); under autocast each matmul keeps its own 16-bit cast of it."""
    return (readers if z.amp else 1) * z.t * width * z.e


def _dropout_mask(z: _Shape, elements: float, dtype_bytes: float) -> float:
    """A dropout with p > 0 in training mode saves, on CPU, its mask scaled by 1/(1-p) in
    the input's dtype (``input * noise``: MulBackward0 keeps ``noise``); with p = 0 it returns
    its input and saves nothing."""
    return elements * dtype_bytes if z.dropout else 0.0


def _probabilities(z: _Shape, soft: float, probs: float) -> float:
    """Eager attention from the scores on: the softmax saves its output (``soft`` bytes; a
    dtype=float32 softmax, or scores promoted to fp32 by an fp32 additive mask); the
    probabilities go on in ``probs`` bytes (a cast when they differ), through dropout (its
    mask, ``probs`` bytes) and into ``matmul(probs, V)``, which saves its input, in e bytes
    (autocast's cast when ``probs`` is not e). When no dropout runs and the softmax output is
    already that input, nothing more is saved."""
    n = z.bhss * soft + _dropout_mask(z, z.bhss, probs)
    if z.dropout or not soft == probs == z.e:
        n += z.bhss * z.e
    return n


def _attention_core(z: _Shape, family: str) -> float:
    """Q, K, V and what the attention kernel saves between them, and the merged heads that the
    output projection reads.

    K and V: called with ``use_cache=True`` (the configs' default), ``DynamicCache.update``
    concatenates them into the cache, a contiguous copy; eager ``repeat_kv`` (Llama family)
    copies them to every query head, and so does SDPA's math kernel; flash keeps h_kv heads.

    * eager (``eager_attention_forward``): ``matmul(Q, K^T)`` saves Q and K (t h hd e each,
      16-bit casts under autocast); GPT-2's Q is a view of ``c_attn``'s fused QKV output,
      which ``matmul`` can fold to 3-D without a copy when batch = 1 (or one head), so it
      saves that whole 3 t d buffer; then the softmax and dropout (`_probabilities`);
      ``matmul(P, V)`` saves V; the merged heads (``transpose(1, 2).contiguous()``) are a new
      t h hd buffer.
    * sdpa, no dropout: the CPU flash kernel saves Q, K, V as passed (GPT-2's Q again a view
      of the 3 t d QKV buffer, at every batch), its output and the fp32 logsumexp (b h s);
      its output is laid out (b, s, h, hd), so the merge is a view of it.
    * sdpa with dropout: the math kernel (``_scaled_dot_product_attention_math``) upcasts
      16-bit inputs to fp32 and saves sqrt(scale)-scaled Q and K, V (all heads), the
      ``_safe_softmax`` output, dropout mask and dropped probabilities, all in fp32; its
      output goes back to the input dtype and is merged into a new buffer.
    """
    full, kv, e = z.heads_out, z.t * z.hkv * z.hd, z.e
    qkv_view = 3 * z.t * z.d if family == "gpt2" else full  # GPT-2's Q: view of c_attn out
    if z.flash:
        return (qkv_view + 2 * kv + full) * e + z.b * z.h * z.s * FP32
    merged = full * e
    if z.sdpa:  # math kernel (dropout > 0 on CPU)
        return 3 * full * FP32 + 3 * z.bhss * FP32 + merged
    q = qkv_view if family == "gpt2" and (z.b == 1 or z.h == 1) else full
    # softmax bytes, then the probabilities' dtype: GPT-2 adds an additive mask in the
    # embeddings' dtype (fp32 under autocast, promoting the scores) and casts the softmax to
    # V's dtype; Llama's softmax is dtype=float32, cast to the query's dtype (fp32 under
    # autocast: the rotated Q); BERT has no mask and CPU autocast keeps softmax in 16 bits
    soft, probs = {"gpt2": (z.w, e), "llama": (FP32, z.w), "bert": (e, e)}[family]
    return (q + 2 * full) * e + _probabilities(z, soft, probs) + merged


def _gpt2_mlp(z: _Shape) -> float:
    """GPT2MLP: ``c_fc`` (Conv1D, addmm) saves its input (t d e); gelu_new
    (NewGELUActivation) is written as ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 *
    pow(x, 3))))``: ``pow`` saves x, ``tanh`` its output, and the last multiply both
    factors, ``0.5 * x`` and ``1 + tanh`` (4 t f e, where torch's fused GELU saves x alone);
    ``c_proj`` saves the product (t f e); the MLP's dropout its mask (t d e)."""
    return (_matmul_input(z, z.d, 1) + 4 * z.t * z.f * z.e + z.t * z.f * z.e
            + _dropout_mask(z, z.t * z.d, z.e))


def _gpt2_layer(z: _Shape) -> float:
    """GPT2Block: ``ln_1``; ``c_attn`` (one Conv1D for Q, K and V) saves its input; the
    attention core; ``c_proj``'s input (the merged heads); ``resid_dropout``'s mask (t d e);
    ``ln_2``; GPT2MLP."""
    return (_layernorm(z) + _matmul_input(z, z.d, 1) + _attention_core(z, "gpt2")
            + _dropout_mask(z, z.t * z.d, z.e) + _layernorm(z) + _gpt2_mlp(z))


def _llama_mlp(z: _Shape) -> float:
    """LlamaMLP ``down_proj(act_fn(gate_proj(x)) * up_proj(x))``: x once (``gate_proj`` and
    ``up_proj`` read one tensor; two casts under autocast), SiLU's input (the gate output),
    the multiply's two factors (SiLU's output, the up output) and ``down_proj``'s input, the
    product: 4 t f e, as the reference MLP."""
    return _matmul_input(z, z.d, 2) + 4 * z.t * z.f * z.e


def _mixtral_moe(z: _Shape, n_experts: int, top_k: int) -> float:
    """MixtralSparseMoeBlock with the default ``experts_implementation="grouped_mm"``
    (``grouped_mm_experts_forward``), over S = t top_k routed token-slots: every expert's
    rows are computed by one grouped matmul, so the bytes do not depend on the routing.

    MixtralTopKRouter: ``F.linear`` saves x (a cast under autocast); ``softmax(logits.float())``
    its fp32 output (t E 4); ``topk`` its int64 indices (t k 8); the in-place division by the
    sum its fp32 operands (t k 4 + t 4). Experts: three int64 index vectors (the tokens
    gathered by ``perm // top_k``, the weights by ``perm``, the order restored by
    ``inv_perm``: 3 S 8); the int32 ``offsets`` (E 4); the gathered rows (S d); the fused
    ``gate_up_proj`` output, saved by SiLU (gate half) and the multiply (up half) (S 2f);
    SiLU's output and the product (2 S f); the down projection's output and the fp32 routing
    weights, saved by the weighting multiply (S d, S 4). ``torch._grouped_mm`` is not
    autocast: under autocast the experts run in fp32 on the fp32 stream."""
    t, slots = z.t, z.t * top_k
    x = FP32 if z.amp else z.e  # the experts' dtype
    router = _matmul_input(z, z.d, 1) + t * (n_experts * FP32 + top_k * INDEX_BYTES + FP32
                                             + top_k * FP32)
    experts = slots * (3 * INDEX_BYTES + FP32) + n_experts * 4  # int32 offsets
    experts += slots * x * (z.d + 2 * z.f + 2 * z.f + z.d)
    return router + experts


def _llama_layer(z: _Shape, cfg: TransformerConfig) -> float:
    """LlamaDecoderLayer (Mistral's, Qwen2's, Mixtral's): ``input_layernorm`` (RMSNorm);
    Q, K, V projections reading one tensor (three casts under autocast); ``apply_rotary_pos_emb``
    (``q * cos + rotate_half(q) * sin`` saves only cos and sin, shared by every layer:
    `hf_saved_parts` counts them once in ``inputs``); the attention core (attention_dropout
    on the probabilities only: these models have no hidden dropout); ``o_proj``'s input;
    ``post_attention_layernorm``; the MLP or the mixture of experts."""
    mlp = (_mixtral_moe(z, cfg.n_experts, cfg.top_k) if cfg.is_moe else _llama_mlp(z))
    return (_rmsnorm(z) + _matmul_input(z, z.d, 3) + _attention_core(z, "llama")
            + _rmsnorm(z) + mlp)


def _bert_layer(z: _Shape) -> float:
    """BertLayer (post-norm): BertSelfAttention's query, key and value read the layer's
    input (three casts under autocast); the attention core (``attention_probs_dropout_prob``
    on the probabilities); BertSelfOutput: ``dense`` saves the merged heads, its dropout a
    mask (t d e), ``LayerNorm(hidden + input)`` its input and statistics; BertIntermediate
    saves the norm's output (its ``dense`` input) and exact GELU (``GeluBackward0``) its
    input (t f e); BertOutput's ``dense`` saves GELU's output (t f e), then dropout and
    LayerNorm as before. The second norm's output is the next layer's input."""
    return (_matmul_input(z, z.d, 3) + _attention_core(z, "bert")
            + _dropout_mask(z, z.t * z.d, z.e) + _layernorm(z)
            + _matmul_input(z, z.d, 1) + 2 * z.t * z.f * z.e
            + _dropout_mask(z, z.t * z.d, z.e) + _layernorm(z))


def _causal_lm_loss(z: _Shape) -> float:
    """ForCausalLMLoss: ``logits.float()`` (an fp32 copy in every precision) then
    ``cross_entropy(ignore_index=-100, reduction="mean")``: log_softmax saves its fp32 output
    (t V 4); nll_loss the shifted labels and the fp32 total weight (4). The labels are padded
    by one -100 and sliced ``[..., 1:].contiguous()``: at batch 1 that slice is already
    contiguous and keeps the padded (s + 1) buffer; otherwise a copy of t labels."""
    labels = (z.s + 1 if z.b == 1 else z.t) * INDEX_BYTES
    return z.t * z.vocab * FP32 + labels + FP32


def _weight_copies(z: _Shape, cfg: TransformerConfig, family: str) -> float:
    """Autocast's 16-bit copies of every weight a matmul reads (kept for the backward of the
    layer that cast it): Q, K, V, O and the MLP's matrices per layer, the LM head (GPT-2's
    tied to the token embedding) or BERT's pooler. Mixtral's experts run in
    ``torch._grouped_mm``, which autocast does not cast: only the router's weight is copied.
    Biases are cast too, but no backward saves them."""
    if not z.amp:
        return 0.0
    d = z.d
    attention = 2 * d * z.h * z.hd + 2 * d * z.hkv * z.hd
    if cfg.is_moe:
        mlp = d * cfg.n_experts
    else:
        mlp = d * z.f * (3 if cfg.gated_mlp else 2)
    head = d * d if family == "bert" else z.vocab * d  # BERT's pooler; the LM head
    return z.e * (cfg.n_layers * (attention + mlp) + head)


def hf_saved_parts(cfg: TransformerConfig, batch: int, seq: int, precision: str,
                   attention: str) -> HFSaved:
    """Bytes the Hugging Face module for ``cfg`` (see `hf_family`) saves for backward in one
    training step of ``batch`` sequences of ``seq`` tokens, by part.

    ``precision``: "fp32"; "bf16" (the model ``.to(torch.bfloat16)``); "amp-bf16" (an fp32
    model under ``torch.autocast``); the other 16-bit recipes ("fp16", "amp-fp16") are
    counted as their bf16 twins, by their bytes (measured in bf16 only). ``attention``:
    "naive" (``attn_implementation="eager"``) or "flash" (``"sdpa"``). ``cfg.dropout`` is
    every dropout of the model (GPT-2's embd/attn/resid_pdrop, BERT's hidden and
    attention-probs dropout, the Llama family's attention_dropout).

    GPT-2 (``GPT2Model``): the token ids (t 8, ``wte``), the position ids (s 8: one
    ``arange`` shared by the batch, ``wpe``), the embeddings' dropout mask (t d w), the
    blocks (`_gpt2_layer`), ``ln_f`` and the LM head's input (t d e).
    Llama family: the token ids, RoPE's cos and sin (2 s hd w: LlamaRotaryEmbedding casts
    them to the embeddings' dtype, fp32 under autocast; one (1, s, hd) pair shared by every
    layer), the blocks (`_llama_layer`), the final RMSNorm and the LM head's input.
    BERT (``BertModel``): the token ids, the token-type ids (s 8: gathered once from the
    buffer and expanded over the batch; the position ids are a slice of a buffer), the
    embeddings' LayerNorm and dropout mask, the blocks (`_bert_layer`), and the pooler:
    ``dense`` reads ``hidden[:, 0]``, a view that keeps the whole last hidden state (t d e;
    under autocast a cast of the first tokens alone, b d e), and ``tanh`` saves its output
    (b d e).
    """
    cfg = transformer_config(cfg)
    family = hf_family(cfg)
    check_positive_int("batch", batch)
    seq = check_seq(cfg, seq)
    check_choice("attention", attention, ATTENTIONS)
    r = recipe(precision)
    dropout = cfg.dropout > 0
    z = _Shape(b=batch, s=seq, d=cfg.d_model, f=cfg.d_ff, h=cfg.n_heads, hkv=cfg.n_kv_heads,
               hd=cfg.head_dim, vocab=cfg.vocab_size, e=r.activation, w=r.wide_activation,
               amp=r.autocast, dropout=dropout, sdpa=attention == "flash",
               flash=attention == "flash" and not dropout)
    t, d = z.t, z.d
    tokens = t * INDEX_BYTES
    if family == "gpt2":
        inputs = tokens + seq * INDEX_BYTES + _dropout_mask(z, t * d, z.w)
        per_layer = _gpt2_layer(z)
        final = _layernorm(z) + t * d * z.e
    elif family == "llama":
        inputs = tokens + 2 * seq * z.hd * z.w
        per_layer = _llama_layer(z, cfg)
        final = _rmsnorm(z) + t * d * z.e
    else:
        inputs = tokens + seq * INDEX_BYTES + _layernorm(z) + _dropout_mask(z, t * d, z.w)
        per_layer = _bert_layer(z)
        final = (batch if z.amp else t) * d * z.e + batch * d * z.e  # the pooler
    loss = _causal_lm_loss(z) if family != "bert" else 0.0
    return HFSaved(inputs, per_layer, final, loss, _weight_copies(z, cfg, family))
