"""`hf_accounting` against what Hugging Face's modules really save for backward.

Small models are built from config objects made here (random weights, nothing downloaded),
trained one forward pass in train mode, and measured with `measure.saved_activation_bytes`.
Decoders are called as ``model(input_ids=ids, labels=ids)``: the loss is Hugging Face's own
``ForCausalLMLoss`` (what a Hugging Face training step runs), so the measured bytes include
it. BERT is ``BertModel`` (the library's BERT config: embedding norm, post-norm, pooler, no
LM head), measured to its ``pooler_output``. ``pytest -s`` prints the table of cases.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models are built from configs: no hub
transformers = pytest.importorskip("transformers")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from bigcompute import hf_accounting, memory  # noqa: E402
from bigcompute.configs import TransformerConfig  # noqa: E402
from bigcompute.lab import measure  # noqa: E402

transformers.logging.set_verbosity_error()

TOLERANCE = 0.02
VOCAB, SEQ, D, HEADS, LAYERS = 500, 48, 64, 4, 2
IMPLEMENTATION = {"naive": "eager", "flash": "sdpa"}
DTYPES = {"fp32": None, "bf16": torch.bfloat16, "amp-bf16": None}  # the model's dtype
SPECIAL_TOKENS = dict(bos_token_id=0, eos_token_id=1)  # inside the small vocabulary


def hf_config(arch: str, dropout: float):
    """A small Hugging Face config of ``arch``, every dropout of it set to ``dropout``."""
    if arch == "gpt2":
        return transformers.GPT2Config(
            n_layer=LAYERS, n_embd=D, n_head=HEADS, vocab_size=VOCAB, n_positions=128,
            resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout, **SPECIAL_TOKENS)
    if arch == "bert":
        return transformers.BertConfig(
            num_hidden_layers=LAYERS, hidden_size=D, num_attention_heads=HEADS,
            intermediate_size=4 * D, vocab_size=VOCAB, max_position_embeddings=128,
            type_vocab_size=2, hidden_dropout_prob=dropout,
            attention_probs_dropout_prob=dropout)
    common = dict(num_hidden_layers=LAYERS, hidden_size=D, num_attention_heads=HEADS,
                  intermediate_size=96, vocab_size=VOCAB, max_position_embeddings=128,
                  attention_dropout=dropout, tie_word_embeddings=False, **SPECIAL_TOKENS)
    if arch == "llama":
        return transformers.LlamaConfig(num_key_value_heads=HEADS, **common)
    if arch == "mistral":  # grouped-query attention
        return transformers.MistralConfig(num_key_value_heads=2, **common)
    if arch == "mixtral":
        return transformers.MixtralConfig(num_key_value_heads=HEADS, num_local_experts=4,
                                          num_experts_per_tok=2, **common)
    raise KeyError(arch)


def library_config(hf) -> TransformerConfig:
    """The library's TransformerConfig of the same model."""
    if hf.model_type == "gpt2":
        return TransformerConfig(
            n_layers=hf.n_layer, d_model=hf.n_embd, n_heads=hf.n_head,
            d_ff=hf.n_inner or 4 * hf.n_embd, vocab_size=hf.vocab_size,
            max_seq_len=hf.n_positions, activation="gelu", tied_embeddings=True,
            positions="learned", bias=True, norm="layernorm", dropout=hf.resid_pdrop,
            name="hf-gpt2")
    if hf.model_type == "bert":
        return TransformerConfig(
            n_layers=hf.num_hidden_layers, d_model=hf.hidden_size,
            n_heads=hf.num_attention_heads, d_ff=hf.intermediate_size,
            vocab_size=hf.vocab_size, max_seq_len=hf.max_position_embeddings,
            arch="encoder", type_vocab_size=hf.type_vocab_size, embedding_norm=True,
            pooler=True, post_norm=True, activation="gelu", positions="learned", bias=True,
            norm="layernorm", dropout=hf.hidden_dropout_prob, name="hf-bert")
    moe = hf.model_type == "mixtral"
    return TransformerConfig(
        n_layers=hf.num_hidden_layers, d_model=hf.hidden_size,
        n_heads=hf.num_attention_heads, n_kv_heads=hf.num_key_value_heads,
        head_dim=getattr(hf, "head_dim", None) or hf.hidden_size // hf.num_attention_heads,
        d_ff=hf.intermediate_size, gated_mlp=True, activation="silu",
        n_experts=hf.num_local_experts if moe else 1,
        top_k=hf.num_experts_per_tok if moe else 1, vocab_size=hf.vocab_size,
        max_seq_len=hf.max_position_embeddings, tied_embeddings=hf.tie_word_embeddings,
        positions="rotary", bias=False, norm="rmsnorm", dropout=hf.attention_dropout,
        name=f"hf-{hf.model_type}")


class TrainingStep(nn.Module):
    """One forward pass as Hugging Face trains: the causal-LM loss from ``labels``, or
    BERT's pooled output."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, ids):
        if self.model.config.model_type == "bert":
            return self.model(input_ids=ids).pooler_output
        return self.model(input_ids=ids, labels=ids).loss


def measured_bytes(hf, batch: int, precision: str, attention: str) -> int:
    torch.manual_seed(0)
    auto = transformers.AutoModel if hf.model_type == "bert" else \
        transformers.AutoModelForCausalLM
    model = auto.from_config(hf, attn_implementation=IMPLEMENTATION[attention])
    if DTYPES[precision] is not None:
        model = model.to(DTYPES[precision])
    model.train()
    ids = torch.randint(2, VOCAB, (batch, SEQ), generator=torch.Generator().manual_seed(1))
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "amp-bf16"):
        return measure.saved_activation_bytes(TrainingStep(model), (ids,))


@pytest.fixture(scope="module")
def table():
    rows = []
    yield rows
    if rows:
        print(f"\n{'case':<44}{'predicted':>12}{'measured':>12}{'error':>9}")
        for case, predicted, measured in rows:
            print(f"{case:<44}{predicted:>12,.0f}{measured:>12,}"
                  f"{(predicted - measured) / measured:>+9.2%}")
        worst = max(abs(p - m) / m for _, p, m in rows)
        print(f"worst error {worst:.2%} over {len(rows)} cases")


# Each architecture with the dropout its Hugging Face config trains with by default (GPT-2
# and BERT 0.1, the Llama family's attention_dropout 0.0), then with the other setting: with
# dropout, SDPA on CPU leaves its flash kernel for the math kernel.
ARCHS = [("gpt2", 0.1), ("llama", 0.0), ("mistral", 0.0), ("mixtral", 0.0), ("bert", 0.1),
         ("gpt2", 0.0), ("llama", 0.1), ("mistral", 0.1), ("bert", 0.0)]


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("precision", ["fp32", "bf16", "amp-bf16"])
@pytest.mark.parametrize("attention", ["naive", "flash"])
@pytest.mark.parametrize("arch, dropout", ARCHS, ids=[f"{a}-p{p}" for a, p in ARCHS])
def test_predicted_bytes_match_what_hugging_face_saves(arch, dropout, attention, precision,
                                                       batch, table):
    hf = hf_config(arch, dropout)
    cfg = library_config(hf)
    assert hf_accounting.hf_family(cfg) == ("gpt2" if arch == "gpt2" else
                                            "bert" if arch == "bert" else "llama")
    parts = hf_accounting.hf_saved_parts(cfg, batch, SEQ, precision, attention)
    predicted = (parts.inputs + cfg.n_layers * parts.per_layer + parts.final + parts.loss
                 + parts.weight_copies)
    assert predicted == parts.total(cfg.n_layers)
    measured = measured_bytes(hf, batch, precision, attention)
    table.append((f"{arch} p={dropout} {IMPLEMENTATION[attention]} {precision} b={batch}",
                  predicted, measured))
    assert abs(predicted - measured) / measured <= TOLERANCE


def test_the_parts_are_where_the_docstrings_put_them():
    """Single terms: no loss without an LM head, weight copies only under autocast, GPT-2's
    dropout masks, and the two batch-1 layouts (GPT-2's fused QKV, the padded labels)."""
    gpt2 = library_config(hf_config("gpt2", 0.1))
    bert = library_config(hf_config("bert", 0.1))
    parts = hf_accounting.hf_saved_parts
    assert parts(bert, 2, SEQ, "fp32", "naive").loss == 0
    for cfg in (gpt2, bert):
        assert parts(cfg, 2, SEQ, "bf16", "naive").weight_copies == 0
        assert parts(cfg, 2, SEQ, "amp-bf16", "naive").weight_copies > 0
    with_dropout = parts(gpt2, 2, SEQ, "fp32", "naive")
    without = parts(gpt2.scaled(dropout=0.0), 2, SEQ, "fp32", "naive")
    t, bhss = 2 * SEQ, 2 * HEADS * SEQ * SEQ
    # per layer, in fp32: the probabilities' mask and their dropped copy, the residual and
    # MLP masks; before the blocks, the embeddings' mask
    assert with_dropout.per_layer - without.per_layer == 4 * (2 * bhss + 2 * t * D)
    assert with_dropout.inputs - without.inputs == 4 * t * D
    # at batch 1 eager Q is a view of c_attn's (t, 3d) output, which stays alive: 2 t d more
    # than half of batch 2 (every other term is proportional to the batch)
    assert parts(gpt2, 1, SEQ, "fp32", "naive").per_layer == (
        with_dropout.per_layer / 2 + 2 * SEQ * D * 4)
    # at batch 1 the shifted labels are a view of the padded (seq + 1) labels
    assert parts(gpt2, 1, SEQ, "fp32", "naive").loss == SEQ * VOCAB * 4 + (SEQ + 1) * 8 + 4
    assert with_dropout.loss == t * VOCAB * 4 + t * 8 + 4


@pytest.mark.parametrize("kwargs, match", [
    (dict(arch="encoder-decoder", n_encoder_layers=2), "token-input decoder"),
    (dict(positions="relative"), "positions='relative'"),
    (dict(norm="rmsnorm"), "positions='learned'.*'rotary'"),
    (dict(gated_mlp=True), "gated_mlp=True"),
])
def test_configs_outside_the_modelled_families_are_refused(kwargs, match):
    cfg = TransformerConfig(n_layers=2, d_model=64, n_heads=4, vocab_size=100, **kwargs)
    with pytest.raises(ValueError, match=match):
        hf_accounting.hf_saved_parts(cfg, 1, 16, "fp32", "naive")


GPT2_SMALL = TransformerConfig(n_layers=12, d_model=768, n_heads=12, vocab_size=50257,
                               max_seq_len=1024, dropout=0.1, name="gpt2-small-like")
LLAMA_7B = TransformerConfig(n_layers=32, d_model=4096, n_heads=32, d_ff=11008,
                             gated_mlp=True, activation="silu", vocab_size=32000,
                             max_seq_len=4096, tied_embeddings=False, positions="rotary",
                             bias=False, norm="rmsnorm", name="llama-7b-like")


def hf_over_reference(cfg, precision, attention):
    seq = cfg.max_seq_len
    hf = hf_accounting.hf_saved_parts(cfg, 1, seq, precision, attention).total(cfg.n_layers)
    return hf / memory.activation_bytes(cfg, 1, seq, precision, attention).total


def test_hugging_face_over_the_reference_modules_at_batch_1(capsys):
    """The issue quotes Hugging Face saving 1.7-2.4x what the reference modules save. At
    batch 1 and the full context, each model with its own dropout (GPT-2 0.1, Llama 0):

    * eager GPT-2 is in that range in every precision (dropout masks, gelu_new's four
      tensors, the fused QKV and the cache's K and V copies, the fp32 loss);
    * eager Llama is in it in 16 bits, where its dtype=float32 softmax keeps an fp32 score
      matrix beside the 16-bit one; in fp32 it saves what the reference does;
    * with SDPA, Llama saves about what the reference does (the flash kernel's; its RMSNorm
      keeps the normalised input in 16 bits where torch's keeps fp32), and GPT-2 far more:
      with dropout, SDPA on CPU falls back to the math kernel (fp32 score matrices).
    """
    ratios = {(cfg.name, attention, precision): hf_over_reference(cfg, precision, attention)
              for cfg in (GPT2_SMALL, LLAMA_7B) for attention in ("naive", "flash")
              for precision in ("fp32", "bf16", "amp-bf16")}
    with capsys.disabled():
        print("\nHugging Face / reference activation bytes, batch 1:")
        for (name, attention, precision), ratio in ratios.items():
            print(f"{name:<16}{IMPLEMENTATION[attention]:<7}{precision:<10}{ratio:6.2f}x")
    for (name, attention, precision), ratio in ratios.items():
        if attention == "naive" and (name == GPT2_SMALL.name or precision != "fp32"):
            assert 1.7 <= ratio <= 2.4, (name, attention, precision, ratio)
        elif name == LLAMA_7B.name:
            assert 0.8 <= ratio <= 1.2, (name, attention, precision, ratio)
        else:  # GPT-2 with SDPA and dropout: the math kernel
            assert ratio > 2.4, (name, attention, precision, ratio)
