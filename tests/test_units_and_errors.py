"""Units parse and format; bad configurations give messages that say what is allowed."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bigcompute import units
from bigcompute.configs import (AttentionConfig, CNNConfig, LSTMConfig, MLPConfig,
                                ResNetConfig, TransformerConfig)


def test_parse_counts_and_bytes():
    assert units.parse_count("7B") == 7e9
    assert units.parse_count("124M") == 124e6
    assert units.parse_count("1.4T") == 1.4e12
    assert units.parse_bytes("80GB") == 80e9
    assert units.parse_bytes("80GiB") == 80 * 2**30
    assert units.parse_flops("989 TFLOPS") == pytest.approx(989e12)


@given(st.floats(1, 1e15))
def test_count_format_round_trips(x):
    assert units.parse_count(units.format_count(x, digits=12)) == pytest.approx(x, rel=1e-9)


@given(st.integers(1, 2**50))
def test_bytes_format_round_trips(n):
    text = units.format_bytes(n, digits=15).replace(" ", "")
    assert units.parse_bytes(text) == pytest.approx(n, rel=1e-9)


def test_large_counts_use_scientific_notation():
    assert units.format_count(1e15) == "1e+15"
    assert units.format_count(999e12) == "999T"


def test_formats_have_units():
    assert units.format_bytes(1.5 * 2**30) == "1.5 GiB"
    assert units.format_seconds(34.2 * 86400) == "34.2 days"
    assert units.format_dollars(4.6e6) == "$4.6M"
    assert units.format_flops(3.14e23) == "3.14e+23 FLOP"
    assert units.format_rate(989e12) == "989 TFLOP/s"
    assert units.flops_to_pf_days(8.64e19) == 1.0


@pytest.mark.parametrize("seconds", [4e-8, 5e-7, 3e-3, 2.0, 59.9, 60.0, 400.0, 7200.0,
                                     9e4, 4e7])
def test_time_unit_is_the_largest_unit_the_time_reaches(seconds):
    lengths = {"ns": 1e-9, "µs": 1e-6, "ms": 1e-3, "s": 1, "min": 60, "h": 3600,
               "days": 86400, "years": 365.25 * 86400}
    unit, scale = units.time_unit(seconds)
    assert scale == lengths[unit] and seconds >= scale
    assert all(seconds < length for length in lengths.values() if length > scale)
    assert units.format_seconds(seconds).endswith(f" {unit}")


def test_bad_unit_says_what_is_allowed():
    with pytest.raises(ValueError, match="text='7X'.*count.*suffix"):
        units.parse_count("7X")


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_layers=2, d_model=64, n_heads=5, vocab_size=10), "n_heads=5.*divisor of d_model=64"),
    (dict(n_layers=2, d_model=64, n_heads=4, n_kv_heads=3, vocab_size=10),
     "n_kv_heads=3.*divisor of n_heads=4"),
    (dict(n_layers=0, d_model=64, n_heads=4, vocab_size=10), "n_layers=0.*positive integer"),
    (dict(n_layers=2, d_model=64, n_heads=4, vocab_size=10, norm="batchnorm"),
     "norm='batchnorm'.*'layernorm', 'rmsnorm'"),
    (dict(n_layers=2, d_model=64, n_heads=4, vocab_size=10, n_experts=2, top_k=3),
     "top_k=3.*at most n_experts=2"),
    (dict(n_layers=2, d_model=64, n_heads=4, vocab_size=0), "vocab_size=0"),
    (dict(n_layers=2, d_model=64, n_heads=4, vocab_size=10, dropout=1.0),
     r"dropout=1.0.*\[0, 1\)"),
    (dict(n_layers=2, d_model=64, n_heads=4, vocab_size=10, dropout=-0.1), "dropout=-0.1"),
    (dict(n_layers=2, d_model=64, n_heads=4, vocab_size=10, dropout=float("nan")), "dropout=nan"),
    (dict(n_layers=2, d_model=64, n_heads=4, vocab_size=10, dropout=True), "dropout=True"),
])
def test_impossible_transformer_configs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TransformerConfig(**kwargs)


def test_other_configs_validate():
    with pytest.raises(ValueError, match="sizes"):
        MLPConfig((10,))
    with pytest.raises(ValueError, match="input_size"):
        LSTMConfig(hidden_size=8)


def test_an_lstm_estimate_needs_a_sequence_length():
    import bigcompute as bc

    lstm = LSTMConfig(hidden_size=16, vocab_size=20, embed_dim=8)
    with pytest.raises(ValueError, match="seq=None.*sequence length for a LSTMConfig"):
        bc.estimate_training(lstm, 1e9, "h100-sxm")
    assert bc.estimate_training(lstm, 1e9, "h100-sxm", seq=64).flops > 0


@pytest.mark.parametrize("part, total, text", [(455, 1000, "45.5%"), (31, 100000, "0.031%"),
                                               (0, 10, "0.0%"), (1, 1, "100.0%")])
def test_share_never_reads_zero_for_a_nonzero_part(part, total, text):
    assert units.format_share(part, total) == text


@pytest.mark.parametrize("cls, kwargs, name", [
    (TransformerConfig, dict(n_layers=2, d_model=64, n_heads=4, vocab_size=10, image_size=-1),
     "image_size"),
    (TransformerConfig, dict(n_layers=2, d_model=64, n_heads=4, vocab_size=10,
                             patch_size=float("nan")), "patch_size"),
    (TransformerConfig, dict(n_layers=2, d_model=64, n_heads=4, vocab_size=10, n_mels=0),
     "n_mels"),
    (TransformerConfig, dict(n_layers=2, d_model=64, n_heads=4, vocab_size=10, bias="yes"),
     "bias"),
    (TransformerConfig, dict(n_layers=2, d_model=64, n_heads=4, vocab_size=10, name=""), "name"),
    (CNNConfig, dict(padding=float("nan")), "padding"),
    (CNNConfig, dict(n_classes=2.5), "n_classes"),
    (CNNConfig, dict(stride=True), "stride"),
    (CNNConfig, dict(hidden=32), "hidden"),
    (CNNConfig, dict(channels=(32, 0)), r"channels\[1\]"),
    (MLPConfig, dict(sizes=3), "sizes"),
    (LSTMConfig, dict(hidden_size=8, input_size=-1), "input_size"),
    (LSTMConfig, dict(hidden_size=8, vocab_size=100), "embed_dim"),
    (ResNetConfig, dict(bottleneck=1), "bottleneck"),
    (AttentionConfig, dict(d_attn=0), "d_attn"),
])
def test_every_config_field_is_checked(cls, kwargs, name):
    with pytest.raises(ValueError, match=f"{name}=.*not allowed"):
        cls(**kwargs)


@pytest.mark.parametrize("call, name", [
    (lambda: units.format_bytes(float("nan")), "n="),
    (lambda: units.format_bytes(1e9, binary="yes"), "binary="),
    (lambda: units.format_seconds(float("inf")), "s="),
    (lambda: units.format_dollars(float("nan")), "x="),
    (lambda: units.format_small_dollars(-1.0), "x="),
    (lambda: units.format_days(float("inf")), "days="),
    (lambda: units.format_share(1.0, 0.0), "total="),
    (lambda: units.format_count(1e9, digits=0), "digits="),
    (lambda: units.flops_to_pf_days(-1.0), "flops="),
    (lambda: units.parse_count(None), "text=None"),
    (lambda: units.parse_bytes("80XB"), "text='80XB'"),
    (lambda: units.parse_flops("1e400"), "text='1e400'"),
    (lambda: units.parse_count(float("nan")), "text=nan"),
])
def test_formatters_and_parsers_refuse_what_they_cannot_show(call, name):
    with pytest.raises(ValueError, match=re.escape(name)):
        call()
