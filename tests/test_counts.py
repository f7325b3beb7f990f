"""Parameter and FLOP counts against the torch modules and FlopCounterMode."""

from __future__ import annotations

import pytest
import torch
from shapes import ALL, GPT, LLAMA_GQA, TRANSFORMERS
from torch.utils.flop_counter import sdpa_backward_flop_count, sdpa_flop_count

from bigcompute import counts
from bigcompute.catalog import model
from bigcompute.configs import LSTMConfig, ResNetConfig, TransformerConfig
from bigcompute.lab import measure, nets

GPT2_SMALL = TransformerConfig(n_layers=12, d_model=768, n_heads=12, vocab_size=50257,
                               max_seq_len=1024)
LLAMA2_7B = TransformerConfig(n_layers=32, d_model=4096, n_heads=32, vocab_size=32000,
                              max_seq_len=4096, d_ff=11008, gated_mlp=True, activation="silu",
                              tied_embeddings=False, positions="rotary", bias=False,
                              norm="rmsnorm")


def _seq(cfg):
    if isinstance(cfg, TransformerConfig) and cfg.frontend == "patches":
        return cfg.n_patches + 1  # a ViT takes its own sequence: its patches and a class token
    return 16 if isinstance(cfg, (TransformerConfig, LSTMConfig)) else None


def _module(cfg, **kw):
    return nets.build(cfg, unrolled=True, **kw) if isinstance(cfg, LSTMConfig) else \
        nets.build(cfg, **kw)


@pytest.mark.parametrize("name", ALL)
def test_param_count_equals_module(name):
    cfg = ALL[name]
    module = _module(cfg)
    assert counts.param_count(cfg) == sum(p.numel() for p in module.parameters())


def test_gpt2_small_has_124_439_808_parameters():
    module = nets.build(GPT2_SMALL, device="meta")
    assert sum(p.numel() for p in module.parameters()) == 124_439_808
    assert counts.param_count(GPT2_SMALL) == 124_439_808


def test_llama2_7b_shape_has_6_738_415_616_parameters():
    module = nets.build(LLAMA2_7B, device="meta")
    assert sum(p.numel() for p in module.parameters()) == 6_738_415_616
    assert counts.param_count(LLAMA2_7B) == 6_738_415_616


def test_resnet50_has_torchvisions_25_557_032_parameters():
    assert counts.param_count(ResNetConfig()) == 25_557_032
    assert sum(p.numel() for p in nets.build(ResNetConfig(), device="meta").parameters()) \
        == 25_557_032


@pytest.mark.parametrize("pass_", ["forward", "train"])
@pytest.mark.parametrize("name", ALL)
def test_flops_equal_flop_counter(name, pass_):
    cfg = ALL[name]
    torch.manual_seed(0)
    inputs = nets.example_inputs(cfg, 2, _seq(cfg))
    measured = measure.count_flops(_module(cfg), inputs, pass_)
    assert counts.flops(cfg, 2, _seq(cfg), pass_) == measured


def test_gpt2_small_forward_is_291_648_307_200_flops():
    module = nets.build(GPT2_SMALL, device="meta")
    inputs = nets.example_inputs(GPT2_SMALL, 1, 1024, device="meta")
    assert measure.count_flops(module, inputs) == 291_648_307_200
    assert counts.flops(GPT2_SMALL, 1, 1024) == 291_648_307_200


@pytest.mark.parametrize("recompute", ["selective", "full"])
def test_recompute_adds_the_recomputed_forward(recompute):
    module = nets.build(GPT).set_recompute(recompute)
    inputs = nets.example_inputs(GPT, 2, 16)
    measured = measure.count_flops(module, inputs, "train")
    assert counts.flops(GPT, 2, 16, "train", recompute=recompute) == measured
    assert measured > counts.flops(GPT, 2, 16, "train")


@pytest.mark.parametrize("name", ["gpt", "llama_gqa", "bert"])
def test_flash_forward_on_meta_device_equals_formula(name):
    # on CPU, FlopCounterMode counts scaled_dot_product_attention as 0 (torch 2.13);
    # on the meta device it decomposes into counted matmuls
    cfg = TRANSFORMERS[name]
    module = nets.build(cfg, device="meta").set_attention("flash")
    inputs = nets.example_inputs(cfg, 2, 16, device="meta")
    assert counts.flops(cfg, 2, 16, attention="flash") == measure.count_flops(module, inputs)


def test_flash_backward_core_is_torchs_sdpa_backward_count():
    b, h, s, d = 2, 4, 16, 16
    shape = (b, h, s, d)
    forward = sdpa_flop_count(shape, shape, shape)
    backward = sdpa_backward_flop_count(shape, shape, shape, shape)
    cfg = GPT.scaled(n_layers=1)
    core = [t for t in counts.flop_terms(cfg, b, s, attention="flash") if t.name.endswith("core")]
    assert core[0].forward == forward
    assert core[0].backward * core[0].forward == backward


def test_causal_halving_counts_the_lower_triangle():
    full = counts.flops_by_layer(GPT, 1, 16)["core"]
    half = counts.flops_by_layer(GPT, 1, 16, causal_halving=True)["core"]
    assert half * 2 * 16 == full * 17


def test_backward_is_twice_forward_for_a_token_model():
    assert counts.flops(GPT, 2, 16, "backward") == 2 * counts.flops(GPT, 2, 16)


def test_six_nd_is_close_to_exact_training_flops_at_short_context():
    cfg = GPT2_SMALL
    tokens = 1024
    exact = counts.flops(cfg, 1, 1024, "train")
    approx = counts.flops_6nd(counts.param_count(cfg), tokens)
    # 6ND misses attention (+) but counts embeddings (-): within 25% at 1024 tokens
    assert abs(approx / exact - 1) < 0.25


def test_palm_formula_adds_attention_to_6n():
    cfg = GPT2_SMALL
    n = counts.non_embedding_param_count(cfg)
    palm = counts.flops_palm(n, cfg.n_layers, cfg.n_heads, cfg.head_dim, 1024, 1)
    assert palm == 6 * n + 12 * 12 * 12 * 64 * 1024


def test_megatron_formula_matches_exact_count_with_full_recompute():
    cfg = GPT.scaled(positions="none")
    b, s = 2, 16
    exact = counts.flops(cfg, b, s, "train", recompute="full")
    mega = counts.flops_megatron(b, s, cfg.n_layers, cfg.d_model, cfg.vocab_size)
    # eq. 3: blocks 4x forward (recomputed), the LM head 3x (not recomputed)
    assert mega == pytest.approx(exact, rel=1e-12)


def test_macs_are_half_the_flops():
    assert counts.macs(LLAMA_GQA, 2, 16) * 2 == counts.flops(LLAMA_GQA, 2, 16)


def test_moe_active_parameters_use_top_k_experts():
    from shapes import MOE
    per_expert = counts.mlp_params(MOE)
    total, active = counts.param_count(MOE), counts.active_param_count(MOE)
    assert total - active == MOE.n_layers * (MOE.n_experts - MOE.top_k) * per_expert


def test_flops_refuse_sequences_beyond_learned_positions():
    with pytest.raises(ValueError, match="seq=65.*max_seq_len=64"):
        counts.flops(GPT, 1, 65)


def test_t5_trains_with_full_recomputation():
    from shapes import T5

    module = nets.build(T5).set_recompute("full")
    inputs = nets.example_inputs(T5, 1, 16)
    measured = measure.count_flops(module, inputs, "train")
    assert measured == counts.flops(T5, 1, 16, "train", recompute="full")


@pytest.mark.parametrize("n_layers", [1, 2])
def test_a_last_step_lstm_reads_the_last_step_of_the_same_network(n_layers):
    """Fused nn.LSTM and its unrolled copy, every-step and last-step output, one set of
    weights: the last-step outputs are the every-step outputs' final step, of shape
    (batch, n_outputs); FlopCounterMode, which sees only the fused module's output layer,
    counts that layer once per step it reads, 2 x batch x steps x h x n_outputs."""
    every = LSTMConfig(hidden_size=24, n_layers=n_layers, input_size=10, n_outputs=3)
    last = LSTMConfig(hidden_size=24, n_layers=n_layers, input_size=10, n_outputs=3,
                      output="last_step")
    torch.manual_seed(0)
    reference = nets.build(every)
    modules = {}
    for cfg in (every, last):
        for unrolled in (False, True):
            module = nets.build(cfg, unrolled=unrolled)
            module.load_state_dict(reference.state_dict())
            modules[cfg.output, unrolled] = module
    inputs = nets.example_inputs(every, 2, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = {key: m(*inputs) for key, m in modules.items()}
    assert out["every_step", False].shape == (2, 16, 3)
    assert out["last_step", False].shape == (2, 3)
    for output in ("every_step", "last_step"):
        assert torch.allclose(out[output, False], out[output, True], atol=1e-6)
    assert torch.allclose(out["last_step", True], out["every_step", False][:, -1], atol=1e-6)
    assert measure.count_flops(modules["every_step", False], inputs) == 2 * 2 * 16 * 24 * 3
    assert measure.count_flops(modules["last_step", False], inputs) == 2 * 2 * 1 * 24 * 3


def test_the_lstm_output_field_says_what_is_allowed():
    with pytest.raises(ValueError, match="output='last'.*'every_step', 'last_step'"):
        LSTMConfig(hidden_size=8, input_size=3, n_outputs=2, output="last")


def test_transformer_shapes_of_llama2_7b():
    shapes = counts.transformer_matmul_shapes("llama2-7b", tokens=2048, context=1024,
                                               decode_batch=8)
    assert shapes["MLP up-projection, decode batch 8"] == (8, 11008, 4096)
    assert shapes["attention q·Kᵀ, decode, 1,024 cached tokens"] == (1, 1024, 128)
    assert shapes["attention scores QKᵀ, one head, 2,048 tokens"] == (2048, 2048, 128)


@pytest.mark.parametrize("name", ["gpt2-small", "llama2-7b", "llama2-70b", "mixtral-8x7b",
                                  "gpt3-175b", "mistral-7b"])
def test_parameter_breakdown_adds_up_to_param_count(name):
    cfg = model(name)
    parts = counts.parameter_breakdown(cfg)
    assert sum(parts.values()) == counts.param_count(cfg)
    assert all(v > 0 for v in parts.values())


def test_gpt2_small_breakdown_is_a_third_embeddings():
    parts = counts.parameter_breakdown(GPT2_SMALL)
    assert parts == {"embeddings": 39_383_808, "attention": 28_348_416, "MLP": 56_669_184,
                     "norms": 38_400}


def test_parameter_breakdown_rejects_an_encoder():
    with pytest.raises(ValueError, match="decoder-only"):
        counts.parameter_breakdown(model("bert-base"))


@pytest.mark.parametrize("fn", [counts.norm_params, counts.attention_params, counts.mlp_params,
                                counts.moe_params, counts.layer_params, counts.embedding_params,
                                counts.head_params, counts.transformer_params,
                                counts.matmul_weight_params, counts.non_embedding_param_count,
                                counts.flops_by_layer])
def test_the_transformer_functions_take_a_name_and_refuse_other_configs(fn):
    assert fn("gpt2-small") == fn(model("gpt2-small"))
    with pytest.raises(ValueError, match="cfg='ResNetConfig'.*TransformerConfig"):
        fn(ResNetConfig())
    with pytest.raises(ValueError, match="cfg=None.*TransformerConfig"):
        fn(None)


@pytest.mark.parametrize("fn, wrong", [(counts.resnet_params, LSTMConfig(8, input_size=3, n_outputs=2)),
                                       (counts.cnn_params, ResNetConfig()),
                                       (counts.lstm_params, ResNetConfig()),
                                       (counts.attention_classifier_params, ResNetConfig()),
                                       (counts.resnet_forward_flops, "gpt2-small")])
def test_the_other_config_functions_refuse_a_config_of_another_kind(fn, wrong):
    with pytest.raises(ValueError, match="cfg="):
        fn(wrong)


@pytest.mark.parametrize("bad", [-1, 0, True, 7e9, None])
def test_param_count_refuses_what_is_not_a_config_or_a_positive_int(bad):
    with pytest.raises(ValueError, match=f"cfg={bad!r}.*positive int"):
        counts.param_count(bad)
    assert counts.param_count(7) == 7


def test_a_vit_takes_only_its_own_sequence():
    vit = model("vit-b16")
    assert counts.flops(vit, 1) == counts.flops(vit, 1, 197)
    with pytest.raises(ValueError, match="seq=500.*None or 197"):
        counts.flops("vit-b16", 1, 500)
    with pytest.raises(ValueError, match="context=16.*None or 197"):
        counts.check_seq(vit, 16, "context")


def test_a_model_without_a_sequence_checks_one_given_and_ignores_it():
    assert counts.flops(ResNetConfig(), 1, 16) == counts.flops(ResNetConfig(), 1)
    with pytest.raises(ValueError, match="seq=0.*positive integer"):
        counts.flops(ResNetConfig(), 1, 0)
    assert counts.check_seq(LSTMConfig(8, input_size=3, n_outputs=2), 64) == 64
    with pytest.raises(ValueError, match="seq=None.*sequence length for a LSTMConfig"):
        counts.check_seq(LSTMConfig(8, input_size=3, n_outputs=2), None)


@pytest.mark.parametrize("call, message", [
    (lambda: counts.moe_params("mixtral-8x7b", experts=9), "experts=9.*at most n_experts=8"),
    (lambda: counts.transformer_params("mixtral-8x7b", experts=0), "experts=0"),
    (lambda: counts.layer_params("gpt2-small", cross_attention=1), "cross_attention=1"),
    (lambda: counts.dense_layer_params(10, -1), "n_out=-1"),
    (lambda: counts.conv2d_params(3, 16, 3, bias="no"), "bias='no'"),
    (lambda: counts.lstm_layer_params(10, 2.5), "hidden=2.5"),
    (lambda: counts.transformer_matmul_shapes("llama2-7b", tokens=2e12), "tokens=2000000000000.0"),
    (lambda: counts.flops("gpt2-small", 1, 16, causal_halving=None), "causal_halving=None"),
    (lambda: counts.flops_6nd(float("nan"), 1e9), "n_params=nan"),
    (lambda: counts.flops_6nd(1e300, 1e300), r"n_params, tokens=\(1e\+300, 1e\+300\).*overflows"),
    (lambda: counts.flops_palm(7e9, 32, 32, 128, 0, 1), "seq=0"),
    (lambda: counts.flops_megatron(1, 2048, 96, 12288, 51200, recompute="full"),
     "recompute='full'.*True or False"),
    (lambda: counts.check_tp("llama2-7b", 3), "tp=3.*divisor of n_heads=32"),
])
def test_bad_numbers_and_flags_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
