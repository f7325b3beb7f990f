"""The peak of a whole training step, forward to optimizer, measured on the CPU with torch's
profiler (`lab.measure.training_step_memory`), against `memory.step_timeline(...).peak`:
the library's reference modules and Hugging Face's (built from configs, never downloaded),
within 5%. The method is proved first on allocations counted by hand."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from bigcompute import memory
from bigcompute.catalog import model
from bigcompute.lab import measure, nets

TOLERANCE = 0.05
MEASURED: list[tuple[str, float, float]] = []  # (case, measured, predicted), printed with -s

GPT = dict(n_layers=4, d_model=128, n_heads=4, n_kv_heads=4, head_dim=32, d_ff=512,
           vocab_size=4096, max_seq_len=256)
LLAMA = dict(n_layers=4, d_model=128, n_heads=4, n_kv_heads=2, head_dim=32, d_ff=344,
             vocab_size=2048, max_seq_len=256)
MOE = dict(n_layers=2, d_model=128, n_heads=4, n_kv_heads=2, head_dim=32, d_ff=256,
           vocab_size=1024, max_seq_len=256)
KERNELS = {"fused": dict(fused=True), "foreach": dict(foreach=True),
           "for-loop": dict(foreach=False)}


def test_the_profiler_counts_a_peak_made_by_hand():
    """4 MB, then 2 MB, free the 4 MB, then 8 MB: the peak is 10 MB above what was held."""
    holder = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(holder.parameters(), lr=0.1)

    def step():
        a = torch.empty(1_000_000)
        b = torch.empty(500_000)
        del a
        c = torch.empty(2_000_000)
        del b, c

    got = measure.training_step_memory(holder, optimizer, step)
    assert got.peak - got.resident == 10_000_000 and got.after == got.resident


def _check(case: str, measured: float, predicted: float) -> None:
    MEASURED.append((case, measured, predicted))
    error = predicted / measured - 1
    assert abs(error) <= TOLERANCE, f"{case}: predicted {predicted:,.0f} B, measured " \
                                    f"{measured:,.0f} B ({error:+.1%})"


REFERENCE_CASES = [
    ("gpt2-small", GPT, 4, 128, "naive", "fp32", "fused", None),
    ("gpt2-small", GPT, 4, 128, "flash", "fp32", "foreach", None),
    ("gpt2-small", {**GPT, "vocab_size": 256, "d_model": 512, "head_dim": 128, "d_ff": 2048},
     1, 64, "flash", "fp32", "foreach", None),
    ("gpt2-small", {**GPT, "vocab_size": 512, "d_model": 256, "head_dim": 64, "d_ff": 1024},
     2, 256, "flash", "fp32", "for-loop", None),
    ("gpt2-small", GPT, 4, 128, "naive", "amp-bf16", "fused", None),
    ("gpt2-small", GPT, 4, 128, "naive", "bf16", "fused", None),
    ("gpt2-small", GPT, 4, 128, "naive", "fp32", "fused", "selective"),
    ("gpt2-small", GPT, 4, 128, "naive", "fp32", "fused", "full"),
    ("llama2-7b", LLAMA, 2, 128, "flash", "fp32", "fused", None),
    ("llama2-7b", LLAMA, 2, 128, "naive", "amp-bf16", "fused", None),
    ("llama2-7b", LLAMA, 2, 128, "flash", "bf16", "fused", None),
    ("llama2-7b", {**LLAMA, "vocab_size": 128}, 4, 128, "flash", "fp32", "fused", "selective"),
    ("llama2-7b", {**LLAMA, "vocab_size": 128}, 4, 128, "flash", "fp32", "fused", "full"),
    ("mixtral-8x7b", MOE, 2, 64, "flash", "fp32", "fused", None),
    ("mixtral-8x7b", {**MOE, "vocab_size": 64}, 2, 64, "flash", "fp32", "fused", None),
]


@pytest.mark.parametrize("name, shape, batch, seq, attention, precision, kernel, recompute",
                         REFERENCE_CASES)
def test_reference_modules_peak_as_predicted(name, shape, batch, seq, attention, precision,
                                             kernel, recompute):
    torch.manual_seed(0)
    cfg = dataclasses.replace(model(name), **shape)
    dtype = torch.bfloat16 if precision == "bf16" else None
    module = nets.build(cfg, dtype=dtype).set_attention(attention).set_recompute(recompute)
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-4, **KERNELS[kernel])
    step = measure.training_step(module, optimizer, batch, seq, cfg.vocab_size,
                                 autocast=precision == "amp-bf16")
    measured = measure.training_step_memory(module, optimizer, step).peak
    predicted = memory.step_timeline(cfg, batch, seq, precision, attention=attention,
                                     recompute=recompute, optimizer_kernel=kernel).peak
    _check(f"reference {name} d{cfg.d_model} V{cfg.vocab_size} {precision} {attention} "
           f"{kernel} {recompute}", measured,
           predicted)


def _hf_models():
    transformers = pytest.importorskip("transformers")
    gpt2 = (transformers.GPT2LMHeadModel,
            transformers.GPT2Config(n_layer=4, n_embd=128, n_head=4, vocab_size=2048,
                                    n_positions=256, bos_token_id=0, eos_token_id=0),
            dataclasses.replace(model("gpt2-small"), **{**GPT, "vocab_size": 2048},
                                dropout=0.1))
    llama = (transformers.LlamaForCausalLM,
             transformers.LlamaConfig(num_hidden_layers=4, hidden_size=128,
                                      num_attention_heads=4, num_key_value_heads=2,
                                      intermediate_size=344, vocab_size=2048,
                                      max_position_embeddings=256, tie_word_embeddings=False),
             dataclasses.replace(model("llama2-7b"), **LLAMA))
    return {"gpt2": gpt2, "llama": llama}


@pytest.mark.parametrize("family", ["gpt2", "llama"])
@pytest.mark.parametrize("attention", ["naive", "flash"])
@pytest.mark.parametrize("precision", ["fp32", "bf16", "amp-bf16"])
def test_hugging_face_modules_peak_as_predicted(family, attention, precision):
    """GPT2LMHeadModel (dropout 0.1) and LlamaForCausalLM (GQA), eager and sdpa attention,
    trained with their own loss (which upcasts the logits to fp32)."""
    cls, hf_config, cfg = _hf_models()[family]
    hf_config._attn_implementation = "eager" if attention == "naive" else "sdpa"
    torch.manual_seed(0)
    module = cls(hf_config)
    if precision == "bf16":
        module = module.to(torch.bfloat16)
    module.train()
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-4, fused=True)
    step = measure.training_step(module, optimizer, 4, 128, cfg.vocab_size,
                                 autocast=precision == "amp-bf16", model_loss=True)
    measured = measure.training_step_memory(module, optimizer, step).peak
    predicted = memory.step_timeline(cfg, 4, 128, precision, attention=attention,
                                     implementation="hf").peak
    _check(f"hf {family} {precision} {attention}", measured, predicted)


def test_print_the_cases(capsys):
    """Run last in this file (-s shows it): the table the closing note and the book quote."""
    with capsys.disabled():
        for case, measured, predicted in MEASURED:
            print(f"{case:60s} measured {measured / 1e6:8.2f} MB predicted "
                  f"{predicted / 1e6:8.2f} MB ({predicted / measured - 1:+.2%})")
