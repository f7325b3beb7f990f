"""Units parse and format; bad configurations give messages that say what is allowed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bigcompute import units
from bigcompute.configs import LSTMConfig, MLPConfig, TransformerConfig


def test_parse_counts_and_bytes():
    assert units.parse_count("7B") == 7e9
    assert units.parse_count("124M") == 124e6
    assert units.parse_count("1.4T") == 1.4e12
    assert units.parse_bytes("80GB") == 80e9
    assert units.parse_bytes("80GiB") == 80 * 2**30
    assert units.parse_flops("989 TFLOPS") == pytest.approx(989e12)


@given(st.floats(1, 1e15))
def test_count_format_round_trips(x):
    assert units.parse_count(units.format_count(x, precision=12)) == pytest.approx(x, rel=1e-9)


@given(st.integers(1, 2**50))
def test_bytes_format_round_trips(n):
    text = units.format_bytes(n, precision=15).replace(" ", "")
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
    with pytest.raises(ValueError, match="count='7X'.*suffix"):
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
