"""Memory: activations against what autograd saves, KV cache against the cache the model
allocates, model states against the ZeRO paper, and properties of sharding."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from shapes import GPT, LLAMA_GQA, MOE, RELU_WIDE, TRANSFORMERS

import bigcompute as bc
from bigcompute import memory, precision
from bigcompute.catalog import model
from bigcompute.configs import LSTMConfig, MLPConfig, ResNetConfig, TransformerConfig
from bigcompute.lab import measure, nets

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "amp-bf16": None}  # the module's dtype


def _measured(cfg, batch, seq, precision, attention, recompute):
    """Bytes autograd saves; amp-bf16 runs the fp32 module under torch.autocast (CPU, bf16)."""
    torch.manual_seed(0)
    module = nets.build(cfg, dtype=PRECISIONS[precision]).set_attention(attention)
    module.set_recompute(recompute)
    inputs = nets.example_inputs(cfg, batch, seq)
    if PRECISIONS[precision] is not None:
        inputs = tuple(x.to(PRECISIONS[precision]) if x.is_floating_point() else x
                       for x in inputs)
    loss = None
    if cfg.has_lm_head:
        loss = measure.lm_loss(torch.randint(0, cfg.vocab_size, (batch, seq)))
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "amp-bf16"):
        return measure.saved_activation_bytes(module, inputs, loss)


@pytest.mark.parametrize("recompute", [None, "selective", "full"])
@pytest.mark.parametrize("attention", ["naive", "flash"])
@pytest.mark.parametrize("name", ["gpt", "llama_gqa", "relu_wide"])
def test_activation_bytes_within_5_percent_of_autograd(name, attention, recompute):
    cfg = TRANSFORMERS[name]
    predicted = memory.activation_bytes(cfg, 3, 48, "fp32", attention, recompute).total
    measured = _measured(cfg, 3, 48, "fp32", attention, recompute)
    assert predicted == pytest.approx(measured, rel=0.05)


@pytest.mark.parametrize("name", ["gpt", "llama_gqa", "moe", "bert", "vit", "t5", "whisper"])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_activation_bytes_of_every_architecture(name, precision):
    cfg = TRANSFORMERS[name]
    seq = {"whisper": 16, "vit": None}.get(name, 40)  # a ViT sees its own patches
    for attention in ("naive", "flash"):
        predicted = memory.activation_bytes(cfg, 2, seq, precision, attention).total
        measured = _measured(cfg, 2, seq, precision, attention, None)
        assert predicted == pytest.approx(measured, rel=0.05), attention


def test_logits_dominate_gpt2_small_at_batch_8():
    gpt2 = TransformerConfig(n_layers=12, d_model=768, n_heads=12, vocab_size=50257,
                             max_seq_len=1024)
    acts = memory.activation_bytes(gpt2, 8, 1024, "amp-bf16", "flash", "full")
    assert acts.loss > acts.layers


@pytest.mark.parametrize("cfg", [GPT, LLAMA_GQA])
def test_kv_cache_bytes_equal_the_allocated_cache(cfg):
    module = nets.build(cfg)
    prompt = torch.randint(0, cfg.vocab_size, (3, 5))
    cache = nets.KVCache(cfg, batch=3, max_len=12)
    module(prompt, cache=cache)
    assert cache.nbytes() == memory.kv_cache_bytes(cfg, 3, 12, "fp32")
    bf16 = nets.KVCache(cfg, 3, 12, dtype=torch.bfloat16)
    assert bf16.nbytes() == memory.kv_cache_bytes(cfg, 3, 12, "bf16")


def test_generation_with_cache_equals_without():
    torch.manual_seed(0)
    module = nets.build(LLAMA_GQA).eval()
    prompt = torch.randint(0, 100, (2, 6))
    with_cache = module.generate(prompt, 8, use_cache=True)
    without = module.generate(prompt, 8, use_cache=False)
    assert torch.equal(with_cache, without)


def test_gqa_shrinks_the_cache_by_the_group_size():
    mha = LLAMA_GQA.scaled(n_kv_heads=4)
    assert memory.kv_cache_bytes(mha, 1, 64) == 2 * memory.kv_cache_bytes(LLAMA_GQA, 1, 64)


def test_mixed_precision_adam_is_16_bytes_per_parameter():
    states = memory.model_state_bytes(1e9, "amp-bf16", "adamw")
    assert states.total == 16e9
    assert memory.model_state_bytes(1e9, "fp32", "adamw").total == 16e9
    assert memory.model_state_bytes(1e9, "fp32", "sgd").total == 8e9
    assert memory.model_state_bytes(1e9, "bf16", "momentum").total == 6e9


def test_zero_paper_7_5b_model_on_64_devices():
    # Rajbhandari et al. 2020, fig. 1: Psi = 7.5B, K = 12, N_d = 64
    psi = 7.5e9
    expected = {0: 120e9, 1: 31.4e9, 2: 16.6e9, 3: 1.9e9}
    for stage, gb in expected.items():
        # the paper rounds to 0.1 GB
        assert memory.zero_memory_per_device(psi, 64, stage) == pytest.approx(gb, abs=0.05e9)


def test_training_memory_shards_model_states_with_zero():
    full = memory.training_memory(GPT, 2, 16, zero_stage=0, dp=4)
    z3 = memory.training_memory(GPT, 2, 16, zero_stage=3, dp=4)
    assert z3.model_states * 4 == pytest.approx(full.model_states)
    assert z3.activations == full.activations


@settings(max_examples=40, deadline=None)
@given(stage=st.sampled_from([0, 1, 2, 3]), dp=st.integers(1, 512),
       n=st.floats(1e6, 1e12))
def test_zero_sharding_conserves_the_total(stage, dp, n):
    per_device = memory.zero_memory_per_device(n, dp, stage)
    replicated = memory.zero_memory_per_device(n, 1, 0)
    # the whole cluster holds at least one full copy, and ZeRO-3 holds exactly one
    assert per_device * dp >= replicated * (1 - 1e-9)
    if stage == 3:
        assert per_device * dp == pytest.approx(replicated)


@settings(max_examples=40, deadline=None)
@given(layers=st.integers(1, 8), heads=st.sampled_from([1, 2, 4]), width=st.integers(1, 8),
       batch=st.integers(1, 8), seq=st.integers(1, 256),
       precision=st.sampled_from(list(precision.RECIPES)),
       attention=st.sampled_from(["naive", "flash"]),
       recompute=st.sampled_from([None, "selective", "full"]))
def test_more_parameters_or_longer_sequences_never_need_less_memory(
        layers, heads, width, batch, seq, precision, attention, recompute):
    cfg = TransformerConfig(n_layers=layers, d_model=16 * heads * width, n_heads=heads,
                            vocab_size=1000, max_seq_len=512)
    kw = dict(precision=precision, attention=attention, recompute=recompute)
    base = memory.training_memory(cfg, batch, seq, **kw).total
    assert memory.training_memory(cfg.scaled(n_layers=layers + 1), batch, seq, **kw).total > base
    assert memory.training_memory(cfg.scaled(d_ff=cfg.d_ff + 16), batch, seq, **kw).total > base
    assert memory.training_memory(cfg, batch, seq + 1, **kw).total > base
    assert memory.training_memory(cfg, batch + 1, seq, **kw).total > base


def test_fit_reports_the_largest_batch_and_never_a_negative_one():
    result = memory.fit(model("llama2-7b"), "h100-sxm", 1, 4096, precision="amp-bf16")
    assert not result.fits and result.max_batch == 0
    assert "does not fit on h100-sxm even at batch 1" in result.message
    small = memory.fit(model("gpt2-small"), "h100-sxm", 8, 1024)
    assert small.fits and small.max_batch >= 8
    at_max = memory.training_memory(model("gpt2-small"), small.max_batch, 1024).peak
    beyond = memory.training_memory(model("gpt2-small"), small.max_batch + 1, 1024).peak
    assert at_max <= small.capacity_bytes < beyond


def test_tensor_parallel_must_divide_the_heads():
    with pytest.raises(ValueError, match="tp=3.*divisor of n_heads=4"):
        memory.training_memory(GPT, 1, 16, tp=3)


def test_unknown_precision_lists_the_allowed_ones():
    with pytest.raises(ValueError, match="precision='fp64'.*'amp-bf16'"):
        memory.training_memory(GPT, 1, 16, precision="fp64")


def test_moe_activation_model_within_5_percent():
    predicted = memory.activation_bytes(MOE, 3, 48, "fp32", "naive").total
    assert predicted == pytest.approx(_measured(MOE, 3, 48, "fp32", "naive", None), rel=0.05)


def test_relu_mlp_saves_one_tensor_where_gelu_saves_two():
    gelu = RELU_WIDE.scaled(activation="gelu")
    diff = (memory.activation_bytes(gelu, 1, 8).layers
            - memory.activation_bytes(RELU_WIDE, 1, 8).layers)
    assert diff == RELU_WIDE.n_layers * 8 * RELU_WIDE.d_ff * 4
    measured = _measured(gelu, 1, 8, "fp32", "naive", None) - _measured(
        RELU_WIDE, 1, 8, "fp32", "naive", None)
    assert measured == diff


@pytest.mark.parametrize("recompute", [None, "selective", "full"])
@pytest.mark.parametrize("name", list(TRANSFORMERS))
def test_amp_activations_include_autocast_copies(name, recompute):
    """Under torch.autocast, autograd keeps 16-bit copies of the weights and one cast of a
    matmul's input per matmul (K and V each cast the same normalised input; every decoder
    layer's cross-attention casts the encoder's output again); a position bias promotes
    the scores to fp32; a pooler or classifier casts only the first token. The model is an
    itemisation of what autograd keeps, so it is exact, not merely within 5%."""
    cfg = TRANSFORMERS[name]
    seq = None if name == "vit" else 16  # a ViT sees its own patches
    for attention in ("naive", "flash"):
        predicted = memory.activation_bytes(cfg, 2, seq, "amp-bf16", attention, recompute)
        measured = _measured(cfg, 2, seq, "amp-bf16", attention, recompute)
        assert predicted.total == measured, (attention, predicted)
    assert predicted.weight_copies > 0


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("name", ["bert", "t5", "whisper"])
def test_full_recomputation_keeps_each_block_input_and_what_the_stack_shares(name, precision):
    """Each checkpoint keeps its block's input, plus what every block of a stack reads: the
    encoder's output and T5's position bias, once each (one tensor)."""
    cfg = TRANSFORMERS[name]
    for attention in ("naive", "flash"):
        predicted = memory.activation_bytes(cfg, 2, 16, precision, attention, "full").total
        assert predicted == _measured(cfg, 2, 16, precision, attention, "full"), attention


def test_memory_refuses_sequences_beyond_learned_positions():
    with pytest.raises(ValueError, match="seq=65.*max_seq_len=64"):
        memory.training_memory(GPT, 1, 65)
    with pytest.raises(ValueError, match="seq=17.*max_seq_len=16"):  # Whisper's decoder
        memory.training_memory(TRANSFORMERS["whisper"], 1, 17)


def test_training_memory_counts_autocast_weight_copies():
    acts = memory.activation_bytes(GPT, 2, 16, "amp-bf16", "flash")
    mem = memory.training_memory(GPT, 2, 16, "amp-bf16", attention="flash")
    assert mem.activations + mem.logits == pytest.approx(acts.total)


@pytest.mark.parametrize("cfg", [LSTMConfig(hidden_size=8, input_size=3, n_outputs=2),
                                 MLPConfig((4, 8, 2)), ResNetConfig()])
def test_memory_formulas_refuse_models_that_are_not_transformers(cfg):
    calls = {"training_memory": lambda: memory.training_memory(cfg, 1, 10),
             "kv_cache_bytes": lambda: memory.kv_cache_bytes(cfg, 1, 10),
             "inference_memory": lambda: memory.inference_memory(cfg, 1, 10),
             "fit": lambda: memory.fit(cfg, "h100-sxm", 1, 10)}
    if not isinstance(cfg, memory.SIMPLE_CONFIGS):  # the small networks have their own model
        calls["activation_bytes"] = lambda: memory.activation_bytes(cfg, 1, 10)
    for name, call in calls.items():
        with pytest.raises(ValueError, match=f"cfg='{type(cfg).__name__}'.*TransformerConfig"):
            call()


def test_activation_bytes_of_the_small_networks_are_their_fp32_model():
    """MLP, CNN, LSTM and attention classifier: `simple_activation_bytes` (in fp32, with the
    loss named: True is cross-entropy); the transformer switches are refused."""
    mlp = MLPConfig((4, 8, 2))
    assert (memory.activation_bytes(mlp, 3).total
            == memory.simple_activation_bytes(mlp, 3, loss="ce").total
            == 3 * (4 + 8) * 4 + 3 * (2 * 4 + 8) + 4)
    assert memory.activation_bytes(mlp, 3, loss=None).total == 3 * (4 + 8) * 4
    with pytest.raises(ValueError, match="precision='bf16'"):
        memory.activation_bytes(mlp, 3, precision="bf16")
    with pytest.raises(ValueError, match="apply to transformers"):
        memory.activation_bytes(mlp, 3, recompute="full")


def test_memory_formulas_take_catalogue_names():
    cfg = model("llama2-7b")
    assert memory.kv_cache_bytes("llama2-7b", 2, 128) == memory.kv_cache_bytes(cfg, 2, 128)
    assert (memory.inference_memory("llama2-7b", 1, 64).total
            == memory.inference_memory(cfg, 1, 64).total)


@pytest.mark.parametrize("call", [
    lambda tp: memory.inference_memory("llama2-7b", 1, 128, tp=tp),
    lambda tp: memory.activation_bytes("llama2-7b", 1, 128, tp=tp),
    lambda tp: memory.layer_activation_bytes("llama2-7b", 1, 128, tp=tp),
    lambda tp: memory.training_memory("llama2-7b", 1, 128, tp=tp),
])
def test_tp_is_checked_the_same_wherever_it_appears(call):
    """A positive integer that divides the heads (`counts.check_tp`): never a negative byte
    count or a ZeroDivisionError deep inside."""
    with pytest.raises(ValueError, match="tp=3.*divisor of n_heads=32"):
        call(3)
    for bad in (0, -1, 2.5, True, None):
        with pytest.raises(ValueError, match="tp="):
            call(bad)


def test_every_sequence_is_one_the_model_can_take():
    """gpt2-small has 1,024 learned positions: no KV cache or memory beyond them."""
    for call in (lambda: memory.kv_cache_bytes("gpt2-small", 1, 1_000_000),
                 lambda: memory.inference_memory("gpt2-small", 1, 1_000_000),
                 lambda: memory.layer_activation_bytes("gpt2-small", 1, 1_000_000)):
        with pytest.raises(ValueError, match="seq=1000000.*max_seq_len=1024"):
            call()


def test_model_states_and_zero_check_every_input():
    with pytest.raises(ValueError, match="n_params='abc'"):
        memory.model_state_bytes("abc")
    for bad in (-1, float("nan"), float("inf"), None):
        with pytest.raises(ValueError, match="n_params"):
            memory.model_state_bytes(bad)
    # sweep's arrays of counts, element by element
    sizes = np.array([1.0, 7e9])
    assert list(memory.model_state_bytes(sizes).total) == [
        memory.model_state_bytes(n).total for n in sizes]
    with pytest.raises(ValueError, match="n_params"):
        memory.model_state_bytes(np.array([1.0, float("nan")]))
    for name, bad in (("n_params", "1e9"), ("stage", True), ("stage", 1.0), ("dp", 0),
                      ("weight_bytes", float("nan")), ("grad_bytes", None),
                      ("optimizer_bytes_per_param", -1)):
        kwargs = {"n_params": 7e9, "dp": 8, "stage": 1, name: bad}
        with pytest.raises(ValueError, match=name):
            memory.zero_memory_per_device(**kwargs)


def test_flags_and_names_are_what_they_say():
    with pytest.raises(ValueError, match="sp='abc'.*True or False"):
        memory.activation_bytes("llama2-7b", 1, 128, sp="abc")
    with pytest.raises(ValueError, match="sp='abc'"):
        memory.training_memory("llama2-7b", 1, 128, sp="abc")
    with pytest.raises(ValueError, match="zero_stage=True"):
        memory.training_memory("llama2-7b", 1, 128, zero_stage=True)
    with pytest.raises(ValueError, match="kv_dtype='fp7'"):
        memory.inference_memory("llama2-7b", 1, 128, kv_dtype="fp7")
    with pytest.raises(ValueError, match="loss='bce'.*transformer"):
        memory.activation_bytes("llama2-7b", 1, 128, loss="bce")
    with pytest.raises(ValueError, match="loss=3"):
        memory.activation_bytes("llama2-7b", 1, 128, loss=3)
    with pytest.raises(ValueError, match="max_devices=None"):
        memory.fewest_zero3_devices("gpt2-small", "h100-sxm", 1024, max_devices=None)
    assert (memory.activation_bytes("llama2-7b", 1, 128, loss="ce").total
            == memory.activation_bytes("llama2-7b", 1, 128).total)


# ---------------------------------------------------------------- the largest decode batch

@pytest.mark.parametrize("context, largest", [(1024, 134), (4096, 33)])
def test_llama2_7b_decodes_at_most_134_sequences_of_1024_tokens_on_one_h100(context, largest):
    # 80 GiB less 13.5 GB of bf16 weights, over 0.5 MiB of K and V per token (2 x 32 layers x
    # 4096 x 2 bytes): the capacity issue 20 quotes for chapter 8.2's batch of 256
    assert bc.max_decode_batch("llama2-7b", "h100-sxm", context) == largest


@pytest.mark.parametrize("tp", [1, 2, 8])
def test_the_largest_decode_batch_fits_and_one_more_does_not(tp):
    dev = bc.device("h100-sxm")
    cfg = model("llama2-70b")
    batch = memory.max_decode_batch(cfg, dev, 4096, tp=tp)

    def used(b):
        logits = b * cfg.vocab_size * 4 / tp
        return memory.inference_memory(cfg, b, 4096, tp=tp).total + logits

    if batch:
        assert used(batch) <= dev.memory_bytes < used(batch + 1)
    else:  # the weights alone overflow one device
        assert memory.inference_memory(cfg, 1, 4096, tp=tp).weights > dev.memory_bytes


def test_a_smaller_kv_cache_fits_a_larger_batch():
    full = memory.max_decode_batch("llama2-7b", "h100-sxm", 4096)
    assert memory.max_decode_batch("llama2-7b", "h100-sxm", 4096, kv_dtype="fp8") > 1.9 * full


def test_opt_13b_kv_cache_is_vllms_800_kb_per_token_and_1_6_gb_per_request():
    # Kwon et al. 2023 (vLLM, SOSP), sec. 3: "the KV cache of a single token demands 800 KB
    # of space, calculated as 2 x 5120 x 40 x 2 ... the KV cache of one request [2,048 tokens]
    # can be as much as 1.6 GB". OPT-13B: 40 layers, d_model 5120, 40 heads, vocabulary 50272.
    opt_13b = TransformerConfig(n_layers=40, d_model=5120, n_heads=40, vocab_size=50272,
                                max_seq_len=2048, name="opt-13b")
    assert memory.kv_cache_bytes(opt_13b, 1, 1, "fp16") == 2 * 5120 * 40 * 2  # exact
    per_request = memory.kv_cache_bytes(opt_13b, 1, 2048, "fp16")
    assert per_request == pytest.approx(1.6e9, rel=0.06)  # 1.68e9: the paper rounds to 1.6 GB
