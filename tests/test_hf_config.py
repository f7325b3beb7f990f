"""Hugging Face config.json files read by `from_hf_config`, held against transformers' own
modules: parameters (on the meta device, at full size), forward matmul FLOPs
(FlopCounterMode) and the KV cache transformers allocates. The published configs are written
out in tests/hf_configs.py with their addresses; nothing is downloaded. Tests that need
transformers (a test-only dependency) skip without it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from hf_configs import CONFIGS, DENSE, MLA, MOE, small
from torch.utils.flop_counter import FlopCounterMode

import bigcompute as bc
from bigcompute import blocks, counts, kv_cache, memory, timing
from bigcompute.hf_config import SUPPORTED_MODEL_TYPES, from_hf_config
from bigcompute.lab import measure, nets

# (parameters, parameters used per token) of each published config, by from_hf_config: the
# first equals transformers' count exactly (test_parameters_equal_transformers' below)
PARAMS = {
    "llama3.1-8b": (8_030_261_248, 8_030_261_248),
    "mistral-7b": (7_241_732_096, 7_241_732_096),
    "mixtral-8x22b": (140_630_071_296, 39_161_468_928),
    "qwen2.5-7b": (7_615_616_512, 7_615_616_512),
    "qwen3-8b": (8_190_735_360, 8_190_735_360),
    "qwen1.5-moe-a2.7b": (14_315_784_192, 2_689_173_504),
    "qwen3-30b-a3b": (30_532_122_624, 3_353_032_704),
    "gpt2": (124_439_808, 124_439_808),
    "pythia-160m": (162_322_944, 162_322_944),
    "phi3-mini-4k": (3_821_079_552, 3_821_079_552),
    "phi-4": (14_659_507_200, 14_659_507_200),
    "olmo2-7b": (7_298_617_344, 7_298_617_344),
    "gemma2-9b": (9_241_705_984, 9_241_705_984),
    "gemma3-1b": (999_885_952, 999_885_952),
    "gemma3-27b": (27_009_346_304, 27_009_346_304),
    "deepseek-v2-lite": (15_706_484_224, 2_661_150_208),
    "deepseek-v3": (671_026_404_352, 37_552_282_624),
}


# ---------------------------------------------------------------- the library alone

def test_every_supported_model_type_is_read_from_a_published_config():
    assert {c["model_type"] for c in CONFIGS.values()} == set(SUPPORTED_MODEL_TYPES)
    assert set(PARAMS) == set(CONFIGS)


@pytest.mark.parametrize("name", CONFIGS)
def test_parameters_of_the_published_configs(name):
    cfg = from_hf_config(CONFIGS[name])
    assert (bc.param_count(cfg), bc.active_param_count(cfg)) == PARAMS[name]
    assert sum(counts.parameter_breakdown(cfg).values()) == PARAMS[name][0]


def test_what_each_model_type_reads():
    qwen3 = from_hf_config(CONFIGS["qwen3-8b"])
    assert (qwen3.qk_norm, qwen3.head_dim, qwen3.attention_bias) == ("head", 128, False)
    assert from_hf_config(CONFIGS["qwen2.5-7b"]).attention_bias == "qkv"
    gemma2 = from_hf_config(CONFIGS["gemma2-9b"])
    assert (gemma2.sliding_window, gemma2.window_pattern, gemma2.norm_placement) == (
        4096, "LG", "sandwich")
    gemma3 = from_hf_config(CONFIGS["gemma3-27b"])
    assert (gemma3.window_pattern, gemma3.vocab_size, gemma3.max_seq_len) == (
        "LLLLLG", 262208, 131072)  # Gemma3TextConfig's defaults
    olmo = from_hf_config(CONFIGS["olmo2-7b"])
    assert (olmo.qk_norm, olmo.norm_placement) == ("full", "output")
    assert from_hf_config(CONFIGS["pythia-160m"]).parallel_block
    mistral = from_hf_config(CONFIGS["mistral-7b"])
    assert (mistral.sliding_window, mistral.window_pattern) == (4096, None)  # every layer
    v3 = from_hf_config(CONFIGS["deepseek-v3"])
    assert (v3.head_dim, v3.v_head_dim, v3.q_lora_rank, v3.kv_lora_rank) == (192, 128, 1536, 512)
    assert (v3.d_ff, v3.d_ff_expert, v3.shared_expert_d_ff, v3.dense_layers) == (
        18432, 2048, 2048, 3)
    lite = from_hf_config(CONFIGS["deepseek-v2-lite"])
    assert (lite.q_lora_rank, lite.shared_expert_d_ff, lite.top_k) == (0, 2 * 1408, 6)
    assert from_hf_config(CONFIGS["qwen1.5-moe-a2.7b"]).shared_expert_gate
    assert v3.name == "deepseek_v3"
    assert from_hf_config(CONFIGS["gpt2"], name="gpt2").name == "gpt2"


def test_a_path_as_str_or_pathlib_reads_as_the_dict(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(CONFIGS["qwen3-30b-a3b"]))
    assert from_hf_config(path) == from_hf_config(str(path)) == from_hf_config(
        CONFIGS["qwen3-30b-a3b"])


def test_rope_scaling_of_any_type_changes_no_count():
    """Positions hold no parameters and the rotation is element-wise: read and left out."""
    base = from_hf_config(CONFIGS["llama3.1-8b"])
    odd = dict(CONFIGS["llama3.1-8b"], rope_scaling={"rope_type": "never-heard-of-it"})
    assert from_hf_config(odd) == base


def test_mla_caches_its_latent_576_numbers_per_token_and_layer():
    """DeepSeek-V2 sec. 2.1.2: (d_c + d_h^R) l elements per token; the 128 heads' keys and
    values expanded would be 128 x (192 + 128) per layer."""
    v3 = from_hf_config(CONFIGS["deepseek-v3"])
    assert bc.kv_cache_bytes(v3, 1, 1, "bf16") == 61 * (512 + 64) * 2
    assert bc.kv_cache_bytes(v3, 1, 1, "bf16", mla_cache="expanded") == 61 * 128 * 320 * 2
    with pytest.raises(ValueError, match="mla_cache='full'.*'latent', 'expanded'"):
        bc.kv_cache_bytes(v3, 1, 1, mla_cache="full")


def test_a_windowed_layer_caches_at_most_the_window():
    """Mistral 7B: every layer windowed at 4096, so the cache stops at 4095 positions;
    Gemma 2: every other layer, so it keeps growing at half the rate."""
    mistral = from_hf_config(CONFIGS["mistral-7b"])
    per_position = 2 * 32 * 8 * 128 * 2
    assert bc.kv_cache_bytes(mistral, 1, 1000) == 1000 * per_position
    assert bc.kv_cache_bytes(mistral, 1, 32768) == 4095 * per_position
    gemma = from_hf_config(CONFIGS["gemma2-9b"])
    grow = bc.kv_cache_bytes(gemma, 1, 8000) - bc.kv_cache_bytes(gemma, 1, 7999)
    assert grow == 21 * 2 * 8 * 256 * 2  # the 21 global layers


def test_windowed_attention_flops_follow_the_window():
    cfg = from_hf_config(CONFIGS["mistral-7b"])
    full = cfg.scaled(sliding_window=None)
    core = counts.flops_by_layer(cfg, 1, 8192)["core"]
    assert core == counts.flops_by_layer(full, 1, 8192)["core"] // 2  # 8192 x 4096 pairs
    assert counts.flops(cfg, 1, 4096) == counts.flops(full, 1, 4096)  # within the window
    halved = counts.flops_by_layer(cfg, 1, 8192, causal_halving=True)["core"]
    pairs = 4096 * 4097 // 2 + 4096 * 4096
    assert halved == 2 * 32 * 32 * pairs * 2 * 128


def test_activation_memory_refuses_what_it_does_not_model():
    qwen3 = from_hf_config(CONFIGS["qwen3-8b"])
    with pytest.raises(ValueError, match="qk_norm='head'.*activation memory"):
        bc.training_memory(qwen3, 1, 1024)
    with pytest.raises(ValueError, match="d_ff_expert=2048"):
        memory.activation_bytes(from_hf_config(CONFIGS["deepseek-v3"]), 1, 1024)
    mistral = from_hf_config(CONFIGS["mistral-7b"])
    memory.activation_bytes(mistral, 1, 4096)  # within the window: the global layer's bytes
    with pytest.raises(ValueError, match="sliding_window=4096.*seq=8192"):
        memory.activation_bytes(mistral, 1, 8192)
    qwen2 = from_hf_config(CONFIGS["qwen2.5-7b"])  # separate biases save nothing more
    assert bc.training_memory(qwen2, 1, 1024).total > 0


def test_decode_timing_follows_windows_and_the_latent():
    mistral = from_hf_config(CONFIGS["mistral-7b"])
    at = {c: timing.decode_step_roofline(mistral, "h100-sxm", 8, c) for c in (5000, 9000)}
    assert at[5000].flops == at[9000].flops and at[5000].bytes_moved == at[9000].bytes_moved
    total = timing.generation_time(mistral, "h100-sxm", 8, 3000, 3000)
    steps = sum(timing.decode_time_per_token(mistral, "h100-sxm", 8, c)
                for c in range(3000, 6000))
    assert total - timing.prefill_time(mistral, "h100-sxm", 8, 3000) == pytest.approx(
        steps, rel=1e-9)
    lite = from_hf_config(CONFIGS["deepseek-v2-lite"])
    r1, r2 = (timing.decode_step_roofline(lite, "h100-sxm", 1, c) for c in (1000, 1001))
    assert r2.bytes_moved - r1.bytes_moved == 27 * 576 * 2  # one more latent per layer
    # absorbed MLA: scores over the latent and the rotary key, the sum over the latent
    assert r2.flops - r1.flops == 27 * 2 * 16 * (2 * 512 + 64)


def test_serving_checks_name_the_longest_context_of_a_windowed_model():
    mistral = from_hf_config(CONFIGS["mistral-7b"])
    largest = kv_cache.max_decode_batch(mistral, "h100-sxm", 4095)
    assert kv_cache.max_decode_batch(mistral, "h100-sxm", 100_000) == largest  # saturated
    with pytest.raises(ValueError, match=r"longest context that fits is ([\d,]+)") as err:
        kv_cache.check_serving_fits(mistral, "h100-sxm", largest + 50, 30_000)
    longest = int(str(err.value).rsplit("is ", 1)[1].split()[0].replace(",", ""))
    assert kv_cache.max_decode_batch(mistral, "h100-sxm", longest) >= largest + 50
    assert kv_cache.max_decode_batch(mistral, "h100-sxm", longest + 1) < largest + 50


@pytest.mark.parametrize("entry, published", [
    ("llama3.1-8b", "llama3.1-8b"), ("mixtral-8x22b", "mixtral-8x22b"),
    ("qwen2.5-7b", "qwen2.5-7b"), ("qwen3-8b", "qwen3-8b"), ("qwen3-30b-a3b", "qwen3-30b-a3b"),
    ("deepseek-v3", "deepseek-v3"), ("gemma2-9b", "gemma2-9b"), ("gemma3-27b", "gemma3-27b"),
    ("phi3-mini", "phi3-mini-4k"), ("phi-4", "phi-4"), ("olmo2-7b", "olmo2-7b"),
])
def test_the_catalogue_entries_count_as_their_released_config(entry, published):
    ours, released = bc.model(entry), from_hf_config(CONFIGS[published])
    for fn in (bc.param_count, bc.active_param_count):
        assert fn(ours) == fn(released)
    assert bc.flops(ours, 1, 4096) == bc.flops(released, 1, 4096)
    assert bc.kv_cache_bytes(ours, 1, 4096) == bc.kv_cache_bytes(released, 1, 4096)


@pytest.mark.parametrize("name", MOE)
def test_one_decode_token_reads_the_parameters_it_uses(name):
    """Shared experts and dense layers are always read; of the routed experts, top_k."""
    cfg = from_hf_config(CONFIGS[name])
    read = timing.weight_bytes_read(cfg, 1, "bf16", decode=True)
    assert read == pytest.approx(2 * bc.active_param_count(cfg), rel=1e-12)
    assert timing.weight_bytes_read(cfg, 10**6, "bf16") == pytest.approx(
        2 * bc.param_count(cfg), rel=1e-6)


def test_a_model_with_dense_first_layers_has_two_kinds_of_block():
    v3 = from_hf_config(CONFIGS["deepseek-v3"])
    with pytest.raises(ValueError, match="dense_layers=3"):
        counts.layer_params(v3)
    moe, dense = blocks.layer_params(v3), blocks.layer_params(v3, moe=False)
    assert 3 * dense + 58 * moe == bc.param_count(v3) - counts.embedding_params(v3) - (
        counts.head_params(v3) + blocks.norm_params(v3))


def test_the_explorers_offer_only_models_whose_training_memory_is_modelled():
    from bigcompute.explorers.memory import decoder_models

    offered = decoder_models()
    assert {"llama3.1-8b", "qwen2.5-7b", "mixtral-8x22b", "phi-4"} <= set(offered)
    assert not {"qwen3-8b", "gemma2-9b", "deepseek-v3", "olmo2-7b", "phi3-mini"} & set(offered)
    for name in offered:
        memory.activation_bytes(name, 1, None)  # none refused, at its own context


@pytest.mark.parametrize("name", CONFIGS)
def test_matmul_weights_are_the_reference_modules_linear_weights(name):
    cfg = from_hf_config(small(name))
    module = nets.build(cfg, device="meta")
    in_blocks = sum(m.weight.numel() for m in module.decoder.layers.modules()
                    if isinstance(m, torch.nn.Linear))
    assert counts.matmul_weight_params(cfg) == (in_blocks, cfg.vocab_size * cfg.d_model)


# ---------------------------------------------------------------- bad input

def _message(config):
    with pytest.raises(ValueError) as err:
        from_hf_config(config)
    return str(err.value)


@pytest.mark.parametrize("change, field", [
    ({"model_type": "mamba"}, "model_type='mamba'"),
    ({"model_type": None}, "model_type=None"),
    ({"hidden_size": None}, "hidden_size=None.*required"),
    ({"num_hidden_layers": 0}, "num_hidden_layers=0"),
    ({"hidden_act": "tanh"}, "hidden_act='tanh'"),
    ({"tie_word_embeddings": "yes"}, "tie_word_embeddings='yes'"),
    ({"layer_types": ["full_attention"]}, "layer_types"),
])
def test_a_bad_field_is_named_with_the_supported_model_types(change, field):
    config = dict(CONFIGS["qwen3-8b"], use_sliding_window=True, sliding_window=4096, **change)
    if change.get("hidden_size", 1) is None:
        del config["hidden_size"]
    message = _message(config)
    assert re.search(field, message), message
    assert "Supported model_types: llama, mistral" in message


@pytest.mark.parametrize("name, change, field", [
    ("deepseek-v3", {"attention_bias": True}, "attention_bias=True"),
    ("deepseek-v2-lite", {"mlp_bias": True}, "mlp_bias=True"),
    ("deepseek-v3", {"moe_layer_freq": 2}, "moe_layer_freq=2"),
    ("qwen3-30b-a3b", {"mlp_only_layers": [5]}, r"mlp_only_layers=\[5\]"),
    ("qwen3-30b-a3b", {"decoder_sparse_step": 2}, "decoder_sparse_step=2"),
    ("gpt2", {"add_cross_attention": True}, "add_cross_attention=True"),
    ("gemma3-1b", {"use_bidirectional_attention": True}, "use_bidirectional_attention"),
    ("qwen3-8b", {"num_key_value_heads": 5}, "n_kv_heads=5"),  # the config's own check
])
def test_a_structure_the_library_cannot_count_is_refused(name, change, field):
    message = _message(dict(CONFIGS[name], **change))
    assert re.search(field, message), message
    assert "Supported model_types" in message


def test_a_multimodal_gemma3_points_to_its_text_config():
    message = _message({"model_type": "gemma3", "text_config": CONFIGS["gemma3-27b"]})
    assert "model_type='gemma3'" in message and "text_config" in message


@pytest.mark.parametrize("config", [42, None, "no/such/config.json", Path("nowhere.json")])
def test_a_config_that_is_not_a_dict_or_a_readable_file_is_named(config):
    assert "config=" in _message(config)


def test_a_file_that_is_not_json_is_named(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    assert "JSONDecodeError" in _message(path)
    path.write_text("[1, 2]")
    assert "a JSON object" in _message(path)


# ---------------------------------------------------------------- the reference modules

@pytest.mark.parametrize("name", CONFIGS)
def test_the_reference_modules_of_a_small_variant_count_as_the_formulas(name):
    """lab.nets built from the config: parameters, forward and training FLOPs (at a length
    beyond a windowed variant's window of 6), the cache it allocates, and the same tokens
    generated with and without it."""
    cfg = from_hf_config(small(name))
    torch.manual_seed(0)
    module = nets.build(cfg)
    assert sum(p.numel() for p in module.parameters()) == bc.param_count(cfg)
    inputs = nets.example_inputs(cfg, 2, 13)
    for pass_ in ("forward", "train"):
        assert measure.count_flops(module, inputs, pass_) == bc.flops(cfg, 2, 13, pass_)
    module.eval()
    cache = nets.KVCache(cfg, 2, 20)
    with torch.no_grad():
        module(inputs[0], cache=cache)
    assert cache.nbytes() == bc.kv_cache_bytes(cfg, 2, 20, "fp32")
    prompt = inputs[0][:, :4]
    assert torch.equal(module.generate(prompt, 12, use_cache=True),
                       module.generate(prompt, 12, use_cache=False))


# ---------------------------------------------------------------- against transformers

def _hf_model(config: dict, device="meta"):
    """transformers' causal LM of a config dict: eager attention and experts (every matmul
    visible to FlopCounterMode), fp32."""
    transformers = pytest.importorskip("transformers")
    kwargs = {k: v for k, v in config.items() if k not in ("model_type", "quantization_config")}
    hf_config = transformers.AutoConfig.for_model(config["model_type"], **kwargs)
    with torch.device(device):
        model = transformers.AutoModelForCausalLM.from_config(
            hf_config, attn_implementation="eager", experts_implementation="eager",
            dtype=torch.float32)
    return model.eval()


def _hf_forward_flops(model, batch, seq):
    """FlopCounterMode over one forward pass (no cache) of random tokens."""
    device = next(model.parameters()).device
    if device.type == "meta":  # a mask spares transformers' packed-sequence check (.item())
        ids = torch.zeros(batch, seq, dtype=torch.long, device=device)
        mask = torch.ones(batch, seq, dtype=torch.long, device=device)
    else:
        ids = torch.randint(0, model.config.vocab_size, (batch, seq),
                            generator=torch.Generator().manual_seed(0))
        mask = None
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(input_ids=ids, attention_mask=mask, use_cache=False)
    return counter.get_total_flops()


@pytest.mark.parametrize("name", CONFIGS)
def test_parameters_equal_transformers(name):
    for config in (CONFIGS[name], small(name)):
        model = _hf_model(config)
        assert sum(p.numel() for p in model.parameters()) == bc.param_count(
            from_hf_config(config))


@pytest.mark.parametrize("name", DENSE)
def test_forward_flops_equal_transformers_at_full_size(name):
    """On the meta device, 32 tokens (inside every window: Phi-3's 2,047, Gemma 3's 512)."""
    model = _hf_model(CONFIGS[name])
    assert _hf_forward_flops(model, 1, 32) == bc.flops(from_hf_config(CONFIGS[name]), 1, 32)


@pytest.mark.parametrize("name", MOE)
def test_forward_flops_equal_transformers_for_experts_and_latent_attention(name):
    """Small variants on random weights: top-k experts cost the same whatever the routing."""
    torch.manual_seed(0)
    model = _hf_model(small(name), device="cpu")
    assert _hf_forward_flops(model, 2, 16) == bc.flops(from_hf_config(small(name)), 2, 16)


@pytest.mark.parametrize("name", ["mistral-7b", "gemma2-9b", "gemma3-1b", "phi3-mini-4k"])
def test_beyond_the_window_transformers_eager_attention_scores_the_whole_square(name):
    """transformers' eager attention computes every score and masks those outside the window,
    so FlopCounterMode counts the full square there; a windowed kernel (and the library's
    count) scores seq x window. Everything but the attention core agrees."""
    config = small(name)  # window 6
    cfg = from_hf_config(config)
    measured = _hf_forward_flops(_hf_model(config, device="cpu"), 2, 16)
    unwindowed = cfg.scaled(sliding_window=None, window_pattern=None)
    assert measured == bc.flops(unwindowed, 2, 16) > bc.flops(cfg, 2, 16)
    ours, theirs = counts.flops_by_layer(cfg, 2, 16), counts.flops_by_layer(unwindowed, 2, 16)
    assert {k: v for k, v in ours.items() if k != "core"} == {
        k: v for k, v in theirs.items() if k != "core"}


def _cache_bytes(model, seq):
    ids = torch.randint(0, model.config.vocab_size, (2, seq),
                        generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        cache = model(input_ids=ids, use_cache=True).past_key_values
    return cache, sum(t.numel() * t.element_size() for layer in cache.layers
                      for t in (layer.keys, layer.values))


@pytest.mark.parametrize("seq", [5, 13])
@pytest.mark.parametrize("name", CONFIGS)
def test_kv_cache_equals_the_dynamic_cache_transformers_fills(name, seq):
    """Small variants (windows of 6: at 13 tokens a windowed layer keeps 5). For multi-head
    latent attention transformers 5 caches the latent, the DeepSeek-V2 paper's count."""
    torch.manual_seed(0)
    model = _hf_model(small(name), device="cpu")
    _, allocated = _cache_bytes(model, seq)
    assert allocated == bc.kv_cache_bytes(from_hf_config(small(name)), 2, seq, "fp32")


@pytest.mark.parametrize("name", MLA)
def test_the_expanded_mla_cache_is_every_heads_keys_and_values(name):
    """What a plain attention kernel reads: transformers' expand_kv of the cached latent."""
    torch.manual_seed(0)
    model = _hf_model(small(name), device="cpu")
    cache, _ = _cache_bytes(model, 9)
    expanded = 0
    for i, layer in enumerate(cache.layers):
        keys, values = model.model.layers[i].self_attn.expand_kv(layer.keys, layer.values)
        expanded += keys.numel() * keys.element_size() + values.numel() * values.element_size()
    cfg = from_hf_config(small(name))
    assert expanded == bc.kv_cache_bytes(cfg, 2, 9, "fp32", mla_cache="expanded")
    assert blocks.kv_width_per_token(cfg, "expanded") > blocks.kv_width_per_token(cfg)
