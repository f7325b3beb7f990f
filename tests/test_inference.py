"""Inference measurements on a tiny decoder: the cache the model allocates is the formula's,
the cache changes the cost and not the tokens, and the timers return sensible numbers.
(Timings themselves are not compared here: they depend on the machine and its load.)"""

import pytest
import torch

import bigcompute as bc
from bigcompute import inference, nets

CFG = bc.TransformerConfig(n_layers=2, d_model=64, n_heads=4, vocab_size=97, max_seq_len=128)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return nets.build(CFG).eval()


@pytest.mark.parametrize("batch, length", [(1, 128), (3, 40)])
def test_allocated_cache_equals_kv_cache_bytes(model, batch, length):
    assert inference.cache_bytes(model, batch, length) == bc.kv_cache_bytes(CFG, batch, length,
                                                                             dtype="fp32")


def test_generation_with_and_without_the_cache_gives_the_same_tokens(model):
    prompt = inference.prompt_tokens(CFG, 2, 8)
    assert torch.equal(model.generate(prompt, 10, use_cache=True),
                       model.generate(prompt, 10, use_cache=False))


def test_prompts_are_seeded_and_in_the_vocabulary():
    a, b = inference.prompt_tokens(CFG, 2, 16, seed=3), inference.prompt_tokens(CFG, 2, 16, seed=3)
    assert torch.equal(a, b) and a.shape == (2, 16) and int(a.max()) < CFG.vocab_size


def test_timers_return_positive_seconds(model):
    g = inference.time_generation(model, 16, 3, use_cache=True, repeats=1)
    assert g.seconds > 0 and g.tokens_per_s == pytest.approx(3 / g.seconds)
    assert inference.time_prefill(model, 2, 16, repeats=1) > 0
    assert inference.time_decode_step(model, 2, 16, steps=2) > 0

