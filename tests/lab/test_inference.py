"""Inference measurements on a tiny decoder: the cache the model allocates is the formula's,
the cache changes the cost and not the tokens, and the timers return sensible numbers.
(Timings themselves are not compared here: they depend on the machine and its load.)"""

import pytest
import shapes
import torch

import bigcompute as bc
from bigcompute.lab import inference, nets

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
    assert inference.time_prefill(model, 2, 16, repeats=1) > 0
    assert inference.time_decode_step(model, 2, 16, steps=2) > 0



# ---------------------------------------------------------------- encoder-decoders decode

def _numel(*modules):
    return sum(p.numel() for m in modules if m is not None for p in m.parameters())


ENCODER_DECODERS = {"t5": shapes.T5, "whisper": shapes.WHISPER,
                    "learned_positions": shapes.T5.scaled(positions="learned", max_seq_len=32,
                                                          name="t5_learned")}


@pytest.mark.parametrize("name", ENCODER_DECODERS)
def test_a_decode_step_reads_the_decoder_only(name):
    """Against the module: the encoder's blocks, front end and position table are not read,
    nor the cross-attention K/V projections (their outputs are cached at prefill)."""
    cfg = ENCODER_DECODERS[name]
    module = nets.build(cfg)
    encoder_only = _numel(module.encoder, getattr(module, "conv1", None),
                          getattr(module, "conv2", None), module.enc_token_positions)
    cross_kv = sum(_numel(b.cross.k, b.cross.v) for b in module.decoder.layers)
    assert bc.counts.encoder_param_count(cfg) == encoder_only > 0
    step = _numel(module) - encoder_only - cross_kv
    assert bc.timing.decode_step_params(cfg) == step
    assert bc.timing.decode_step_params(cfg, active=False) == step


def test_whisper_decode_bytes_are_decoder_weights_and_both_caches():
    cfg = bc.catalog.model("whisper-large-v2")
    module = nets.build(cfg, device="meta")
    step = (_numel(module) - _numel(module.encoder, module.conv1, module.conv2)
            - sum(_numel(b.cross.k, b.cross.v) for b in module.decoder.layers))
    context, bf16 = 100, 2
    kv_width = cfg.n_kv_heads * cfg.head_dim
    self_cache = 2 * cfg.n_layers * context * kv_width * bf16
    cross_cache = 2 * cfg.n_layers * cfg.encoder_seq_len * kv_width * bf16
    r = bc.timing.decode_step_roofline(cfg, "h100-sxm", 1, context)
    assert r.bytes_moved == step * bf16 + self_cache + cross_cache
    assert step < 0.6 * _numel(module)  # the encoder and cross K/V are over 40% of Whisper
    assert bc.timing.encoder_memory_len(cfg) == cfg.encoder_seq_len
    assert bc.timing.encoder_memory_len("llama2-7b") == 0
