"""Roofline, training time, MFU/HFU, prefill and decode.

Most checks use a made-up device with round numbers (100 TFLOP/s, 1 TB/s) so that every
expected value can be worked out by hand.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bigcompute import counts, timing
from bigcompute.configs import TransformerConfig
from bigcompute.hardware import Device

ROUND = Device.custom("round-numbers", {"bf16": 100e12, "fp16": 100e12}, memory_bytes=80e9,
                      bandwidth_bytes_per_s=1e12, tdp_watts=500,
                      interconnect_bytes_per_s=200e9)

# Llama-2-7B's shape (Touvron et al. 2023): 6,738,415,616 parameters.
LLAMA2_7B = TransformerConfig(
    n_layers=32, d_model=4096, n_heads=32, d_ff=11008, vocab_size=32000, max_seq_len=4096,
    gated_mlp=True, activation="silu", norm="rmsnorm", bias=False, tied_embeddings=False,
    positions="rotary", name="llama2-7b-shape")
# Mixtral 8x7B's shape (Jiang et al. 2024): 8 experts, 2 per token.
MIXTRAL = LLAMA2_7B.scaled(n_kv_heads=8, d_ff=14336, n_experts=8, top_k=2, name="mixtral")


# ---------------------------------------------------------------- roofline

def test_roofline_of_a_compute_bound_op_is_flops_over_peak():
    r = timing.roofline_time(1e12, 1e9, ROUND)
    assert r.seconds == pytest.approx(0.01)          # 1e12 / 1e14
    assert r.compute_seconds == pytest.approx(0.01)
    assert r.memory_seconds == pytest.approx(0.001)  # 1e9 / 1e12
    assert r.bound == "compute"
    assert r.arithmetic_intensity == pytest.approx(1000)
    assert r.ridge_point == pytest.approx(100)


def test_roofline_of_a_memory_bound_op_is_bytes_over_bandwidth():
    r = timing.roofline_time(1e10, 1e9, ROUND)
    assert r.seconds == pytest.approx(0.001)
    assert r.bound == "memory"
    assert r.arithmetic_intensity == pytest.approx(10)
    assert r.arithmetic_intensity < r.ridge_point


def test_roofline_ridge_point_matches_the_device():
    r = timing.roofline_time(1e12, 1e9, "h100-sxm")
    assert r.ridge_point == pytest.approx(989.4e12 / 3350e9)


def test_roofline_efficiencies_scale_the_roofs():
    r = timing.roofline_time(1e12, 1e9, ROUND, compute_efficiency=0.5,
                             bandwidth_efficiency=0.25)
    assert r.compute_seconds == pytest.approx(0.02)
    assert r.memory_seconds == pytest.approx(0.004)


def test_h100_does_its_bf16_peak_in_one_second():
    assert timing.roofline_time(989.4e12, 1, "h100-sxm").seconds == pytest.approx(1.0)


@given(st.floats(1e3, 1e18), st.floats(1e3, 1e15))
def test_roofline_time_is_the_larger_of_the_two_times(flops, nbytes):
    r = timing.roofline_time(flops, nbytes, ROUND)
    assert r.seconds == max(r.compute_seconds, r.memory_seconds)
    assert (r.bound == "compute") == (r.arithmetic_intensity >= r.ridge_point)


@pytest.mark.parametrize("flops, nbytes, name", [(-1, 10, "flops"), (10, -1, "bytes_moved"),
                                                 (0, 0, "bytes_moved"),
                                                 (10, 0, "bytes_moved=0.*infinite")])
def test_roofline_rejects_bad_work(flops, nbytes, name):
    with pytest.raises(ValueError, match=name):
        timing.roofline_time(flops, nbytes, ROUND)


def test_matmul_cost_counts_two_flops_per_multiply_add_and_each_operand_once():
    flops, nbytes = timing.matmul_cost(2, 3, 4, 2)
    assert flops == 2 * 2 * 3 * 4 == 48
    assert nbytes == (2 * 4 + 4 * 3 + 2 * 3) * 2 == 52


@given(st.integers(1, 4096))
def test_square_matmul_intensity_grows_with_size(n):
    # 2n^3 FLOPs over 3n^2 x 2 bytes = n/3 FLOP/B
    flops, nbytes = timing.matmul_cost(n, n, n, 2)
    assert flops / nbytes == pytest.approx(n / 3)


def test_small_matmul_is_memory_bound_and_large_is_compute_bound():
    small = timing.roofline_time(*timing.matmul_cost(64, 64, 64, 2), "h100-sxm")
    large = timing.roofline_time(*timing.matmul_cost(8192, 8192, 8192, 2), "h100-sxm")
    assert (small.bound, large.bound) == ("memory", "compute")


def test_matmul_cost_rejects_zero_size():
    with pytest.raises(ValueError, match="k=0"):
        timing.matmul_cost(4, 4, 0)


# ---------------------------------------------------------------- training time and MFU

def test_training_time_is_flops_over_devices_peak_and_mfu():
    # 1e18 FLOP on 10 devices of 1e14 FLOP/s at 50%: 1e18 / 5e14 = 2000 s
    assert timing.training_time(1e18, ROUND, n_devices=10, mfu=0.5) == pytest.approx(2000)


def test_training_a_7b_model_on_1t_tokens_on_1000_h100s_at_40_percent():
    flops = 6 * 7e9 * 1e12
    seconds = timing.training_time(flops, "h100-sxm", n_devices=1000, mfu=0.4)
    assert seconds == pytest.approx(4.2e22 / (1000 * 989.4e12 * 0.4))
    assert 1.2 < seconds / 86400 < 1.3  # about 1.2 days


@pytest.mark.parametrize("mfu", [0, 1.5, -0.2, True])
def test_training_time_rejects_an_impossible_mfu(mfu):
    with pytest.raises(ValueError, match="mfu"):
        timing.training_time(1e20, ROUND, mfu=mfu)


def test_training_time_rejects_negative_flops_and_zero_devices():
    with pytest.raises(ValueError, match="flops=-1"):
        timing.training_time(-1, ROUND)
    with pytest.raises(ValueError, match="n_devices=0"):
        timing.training_time(1e20, ROUND, n_devices=0)


def test_training_time_names_an_unknown_device():
    with pytest.raises(ValueError, match="h100"):
        timing.training_time(1e20, "h10")


def test_v100_has_no_bf16_so_training_time_says_so():
    with pytest.raises(ValueError, match="bf16"):
        timing.training_time(1e20, "v100")
    assert timing.training_time(125e12, "v100", mfu=1.0, dtype="fp16") == pytest.approx(1.0)


@given(st.floats(0.01, 1.0), st.integers(1, 10_000))
def test_training_time_and_tokens_per_second_agree(mfu, n_devices):
    tokens, per_token = 1e12, 6 * 7e9
    seconds = timing.training_time(tokens * per_token, ROUND, n_devices, mfu)
    rate = timing.training_tokens_per_second(per_token, ROUND, n_devices, mfu)
    assert seconds == pytest.approx(tokens / rate)


def test_mfu_of_a_hand_worked_example():
    # 1000 tokens/s x 6e9 FLOP/token on one 1e14 FLOP/s device = 6%
    assert timing.mfu(1000, 6e9, ROUND) == pytest.approx(0.06)
    assert timing.mfu(1000, 6e9, ROUND, n_devices=2) == pytest.approx(0.03)


def test_mfu_inverts_training_time():
    per_token, tokens, n = 6 * 1e9, 1e11, 8
    seconds = timing.training_time(per_token * tokens, ROUND, n, mfu=0.37)
    assert timing.mfu(tokens / seconds, per_token, ROUND, n) == pytest.approx(0.37)


def test_hfu_with_recomputation_exceeds_mfu():
    # PaLM appendix B: 3.28 TFLOP per token of model FLOPs, 4.10 with rematerialisation
    m = timing.mfu(238.3e3, 3.28e12, "tpu-v4", 6144)
    h = timing.hfu(238.3e3, 4.10e12, "tpu-v4", 6144)
    assert h > m
    assert h / m == pytest.approx(4.10 / 3.28)


def test_mfu_rejects_zero_throughput():
    with pytest.raises(ValueError, match="tokens_per_s"):
        timing.mfu(0, 6e9, ROUND)
    with pytest.raises(ValueError, match="hardware_flops_per_token"):
        timing.hfu(10, -1, ROUND)


# ---------------------------------------------------------------- inference

def test_expected_experts_touched_by_one_two_and_many_tokens():
    assert timing.expected_experts_touched(8, 2, 1) == pytest.approx(2)
    assert timing.expected_experts_touched(8, 2, 2) == pytest.approx(8 * (1 - 0.75**2))  # 3.5
    assert timing.expected_experts_touched(8, 2, 1000) == pytest.approx(8)


@given(st.integers(1, 64), st.integers(1, 8), st.integers(1, 500))
def test_experts_touched_grow_with_tokens_and_stay_between_top_k_and_all(e, k, t):
    k = min(k, e)
    touched = timing.expected_experts_touched(e, k, t)
    assert k - 1e-9 <= touched <= e + 1e-9
    assert timing.expected_experts_touched(e, k, t + 1) >= touched - 1e-12


def test_dense_model_reads_all_its_weights_whatever_the_batch():
    n = counts.param_count(LLAMA2_7B)
    assert n == 6_738_415_616
    for tokens in (1, 64, 4096):
        assert timing.weight_bytes_read(LLAMA2_7B, tokens, "bf16") == 2 * n


def test_moe_reads_active_weights_at_batch_1_and_nearly_all_at_batch_64():
    active = counts.active_param_count(MIXTRAL)
    total = counts.param_count(MIXTRAL)
    assert timing.weight_bytes_read(MIXTRAL, 1) == pytest.approx(2 * active)
    assert timing.weight_bytes_read(MIXTRAL, 64) == pytest.approx(2 * total, rel=1e-6)
    # two tokens: 3.5 experts per layer instead of 2
    per_expert = (total - active) / 6
    assert timing.weight_bytes_read(MIXTRAL, 2) == pytest.approx(2 * (active + 1.5 * per_expert))


def test_moe_weights_read_by_catalogue_name():
    active = counts.active_param_count("mixtral-8x7b")
    assert active < counts.param_count("mixtral-8x7b")
    assert timing.weight_bytes_read("mixtral-8x7b", 1) == pytest.approx(2 * active)


def test_decode_at_batch_1_is_the_weights_over_bandwidth():
    # 13.48 GB of bf16 weights at 3.35 TB/s: 4.0 ms per token
    seconds = timing.decode_time_per_token(LLAMA2_7B, "h100-sxm", 1, 1)
    kv = 2 * 32 * 32 * 128 * 2  # K and V, layers, kv heads, head dim, bf16
    assert seconds == pytest.approx((2 * 6_738_415_616 + kv) / 3350e9)
    assert isinstance(seconds, float)


def test_decode_reads_the_kv_cache_of_the_whole_context():
    r = timing.decode_step_roofline(LLAMA2_7B, "h100-sxm", 4, 4096)
    kv = 2 * 32 * 4 * 4096 * 32 * 128 * 2
    assert r.bytes_moved == pytest.approx(2 * 6_738_415_616 + kv)
    assert r.flops == pytest.approx(2 * 6_738_415_616 * 4 + 4 * 4 * 32 * 32 * 128 * 4096)
    assert r.bound == "memory"


def test_decode_becomes_compute_bound_at_a_large_batch():
    assert timing.decode_step_roofline(LLAMA2_7B, "h100-sxm", 1, 128).bound == "memory"
    assert timing.decode_step_roofline(LLAMA2_7B, "h100-sxm", 2048, 1).bound == "compute"


@given(st.integers(1, 64))
def test_decode_throughput_grows_with_batch_while_memory_bound(batch):
    one = timing.decode_throughput(LLAMA2_7B, "h100-sxm", batch, 512)
    two = timing.decode_throughput(LLAMA2_7B, "h100-sxm", batch + 1, 512)
    assert two > one


@given(st.integers(1, 16_000))  # batch 8 fits on an H100 up to 17,266 tokens
def test_decode_slows_as_the_context_grows(context):
    t = timing.decode_time_per_token(LLAMA2_7B, "h100-sxm", 8, context)
    assert timing.decode_time_per_token(LLAMA2_7B, "h100-sxm", 8, context + 1000) > t


def test_decode_accepts_a_catalogue_name():
    from bigcompute.catalog import model

    by_name = timing.decode_time_per_token("llama2-7b", "h100-sxm", 1, 128)
    assert by_name == timing.decode_time_per_token(model("llama2-7b"), "h100-sxm", 1, 128)


def test_decode_throughput_is_batch_over_step_time():
    step = timing.decode_time_per_token(LLAMA2_7B, "h100-sxm", 16, 1024)
    assert timing.decode_throughput(LLAMA2_7B, "h100-sxm", 16, 1024) == pytest.approx(16 / step)


def test_int8_weights_decode_about_twice_as_fast_as_bf16():
    bf16 = timing.decode_time_per_token(LLAMA2_7B, "h100-sxm", 1, 1, dtype="bf16")
    int8 = timing.decode_time_per_token(LLAMA2_7B, "h100-sxm", 1, 1, dtype="int8")
    assert bf16 / int8 == pytest.approx(2, rel=0.01)


def test_decode_with_bandwidth_efficiency_half_takes_twice_as_long():
    full = timing.decode_time_per_token(LLAMA2_7B, "h100-sxm", 1, 100)
    half = timing.decode_time_per_token(LLAMA2_7B, "h100-sxm", 1, 100, bandwidth_efficiency=0.5)
    assert half == pytest.approx(2 * full)


def test_decode_rejects_an_encoder_and_bad_sizes():
    bert = TransformerConfig(n_layers=2, d_model=64, n_heads=4, vocab_size=100, arch="encoder")
    with pytest.raises(ValueError, match="encoder"):
        timing.decode_time_per_token(bert, ROUND, 1, 1)
    with pytest.raises(ValueError, match="batch=0"):
        timing.decode_time_per_token(LLAMA2_7B, ROUND, 0, 1)
    with pytest.raises(ValueError, match="bandwidth_efficiency"):
        timing.decode_time_per_token(LLAMA2_7B, ROUND, 1, 1, bandwidth_efficiency=2)


def test_prefill_of_a_long_prompt_is_compute_bound_at_the_given_mfu():
    r = timing.prefill_roofline(LLAMA2_7B, "h100-sxm", 1, 2048, mfu=0.5)
    assert r.bound == "compute"
    flops = counts.flops(LLAMA2_7B, 1, 2048, "forward", causal_halving=True)
    assert r.seconds == pytest.approx(flops / (989.4e12 * 0.5))
    assert timing.prefill_time(LLAMA2_7B, "h100-sxm", 1, 2048, mfu=0.5) == r.seconds


def test_prefill_of_a_one_token_prompt_is_memory_bound():
    assert timing.prefill_roofline(LLAMA2_7B, "h100-sxm", 1, 1).bound == "memory"


def test_generation_is_prefill_plus_each_decode_step():
    total = timing.generation_time(LLAMA2_7B, "h100-sxm", 2, 100, 5)
    expected = timing.prefill_time(LLAMA2_7B, "h100-sxm", 2, 100) + sum(
        timing.decode_time_per_token(LLAMA2_7B, "h100-sxm", 2, c) for c in range(100, 105))
    assert total == pytest.approx(expected)


# H100 SXM at bf16: 989.4 TFLOP/s dense and 3.35 TB/s (NVIDIA datasheet), ridge 295.3 FLOP/B.
H100_RIDGE = 989.4e12 / 3.35e12


@pytest.mark.parametrize("n, bound", [(880, "memory"), (890, "compute")])
def test_square_bf16_matmul_crosses_the_h100_ridge_near_n_886(n, bound):
    # An n x n x n bf16 matmul: 2n^3 FLOPs over 3n^2 x 2 bytes = n/3 FLOP/B; it is
    # compute-bound once n/3 >= 295.3, i.e. n >= 886.
    assert (n / 3 >= H100_RIDGE) == (bound == "compute")
    r = timing.matmul_roofline(n, n, n, "h100-sxm", "bf16")
    assert r.bound == bound
    assert r.arithmetic_intensity == pytest.approx(n / 3)


def test_utilisation_above_1_is_refused_naming_the_throughput():
    """More than the devices' peak: the inputs are inconsistent (once, 134,615 was returned)."""
    with pytest.raises(ValueError, match=r"tokens_per_s=1000000\.0.*at most 2\.356e\+04.*"
                                         "flops_per_token"):
        timing.mfu(1e6, 6 * 7e9, "h100-sxm")
    with pytest.raises(ValueError, match="tokens_per_s.*hardware_flops_per_token"):
        timing.hfu(1e6, 6 * 7e9, "h100-sxm")
    at_peak = timing.training_tokens_per_second(6e9, ROUND, 4, mfu=1.0)
    assert timing.mfu(at_peak, 6e9, ROUND, 4) == pytest.approx(1.0)


@pytest.mark.parametrize("call, name", [
    (lambda: timing.decode_time_per_token("gpt2-small", "h100-sxm", 1, 1_000_000), "context"),
    (lambda: timing.prefill_time("gpt2-small", "h100-sxm", 1, 1025), "prompt_len"),
    (lambda: timing.generation_time("gpt2-small", "h100-sxm", 1, 1000, 25),
     r"prompt_len \+ new_tokens=1025"),
])
def test_sequences_beyond_learned_positions_are_refused(call, name):
    with pytest.raises(ValueError, match=f"{name}.*max_seq_len=1024"):
        call()
    # the whole context is fine: 1,000 + 24 tokens
    assert timing.generation_time("gpt2-small", "h100-sxm", 1, 1000, 24) > 0


@pytest.mark.parametrize("batch", [1, 1024])
def test_generation_sums_every_decode_step_in_closed_form(batch):
    """At a large batch with grouped K/V heads the decode steps turn from compute- to
    memory-bound along the way: the closed form sums each roofline on its side of the
    crossing."""
    cfg, prompt, new = LLAMA2_7B.scaled(n_kv_heads=4), 16, 700
    steps = [timing.decode_step_roofline(cfg, "h100-sxm", batch, c)
             for c in range(prompt, prompt + new)]
    assert len({s.bound for s in steps}) == (2 if batch > 1 else 1)
    expected = timing.prefill_time(cfg, "h100-sxm", batch, prompt) + sum(
        s.seconds for s in steps)
    total = timing.generation_time(cfg, "h100-sxm", batch, prompt, new)
    assert total == pytest.approx(expected, rel=1e-12)
    # rotary positions take any length; so many tokens that their cache cannot fit are refused
    with pytest.raises(ValueError, match="prompt_len \\+ new_tokens"):
        timing.generation_time(LLAMA2_7B, "h100-sxm", 1, 512, 10**30)


def test_kv_dtype_and_flags_are_named():
    for call in (lambda: timing.prefill_time(LLAMA2_7B, "h100-sxm", 1, 128, kv_dtype="fp7"),
                 lambda: timing.decode_time_per_token(LLAMA2_7B, "h100-sxm", 1, 128,
                                                      kv_dtype="fp7")):
        with pytest.raises(ValueError, match="kv_dtype='fp7'"):
            call()
    with pytest.raises(ValueError, match="decode='yes'"):
        timing.weight_bytes_read(LLAMA2_7B, 1, decode="yes")
    with pytest.raises(ValueError, match="tokens=0"):
        timing.weight_bytes_read(LLAMA2_7B, 0)
    with pytest.raises(ValueError, match="active=1"):
        timing.decode_step_params(LLAMA2_7B, active=1)
