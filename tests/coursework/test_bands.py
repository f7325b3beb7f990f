"""check_answer: full credit in the 1% band, a configured share for a named convention slip,
partial credit in the 10% band, nothing outside; and no message gives the expected value."""

from __future__ import annotations

import random

import pytest

from bigcompute.coursework import checks
from bigcompute.coursework.checks import (
    BITS_FOR_BYTES,
    GIB_FOR_GB,
    MACS_FOR_FLOPS,
    ONE_DIRECTION_FOR_BOTH,
    SIX_ND_FOR_EXACT,
    carried_forward,
    check_answer,
)


def test_full_credit_within_one_percent_both_ways(capsys):
    assert check_answer("gpu_days", 1005.0, 1000.0, points=2, unit="GPU-days") == 2.0
    assert check_answer("gpu_days", 991.0, 1000.0, points=2) == 2.0
    assert capsys.readouterr().out.startswith("gpu_days: within the 1% band: full credit")


def test_partial_credit_within_ten_percent(capsys):
    assert check_answer("x", 1070.0, 1000.0, points=2) == 1.0
    assert check_answer("x", 930.0, 1000.0, points=3, partial_credit=1 / 3) == 1.0
    out = capsys.readouterr().out
    assert "x: within the 10% band but outside the 1% band: partial credit, 1 point of 2" in out


def test_outside_the_wider_band_raises_without_the_expected_value():
    with pytest.raises(AssertionError) as failed:
        check_answer("x", 1200.0, 1000.0, points=1, unit="GB", hint="16 bytes per parameter")
    assert str(failed.value) == ("x: 1,200 GB is outside the 10% band: no credit. "
                                 "Hint: 16 bytes per parameter")


def test_bands_are_set_per_exercise():
    assert check_answer("x", 1004.0, 1000.0, points=1, full_band=0.005) == 1.0
    assert check_answer("x", 1040.0, 1000.0, points=1, full_band=0.05) == 1.0
    with pytest.raises(AssertionError, match="outside the 2% band"):
        check_answer("x", 1030.0, 1000.0, points=1, partial_band=0.02)


@pytest.mark.parametrize("slip, given", [
    (GIB_FOR_GB, 1000.0 * 1e9 / 2**30),
    (MACS_FOR_FLOPS, 500.0),
    (BITS_FOR_BYTES, 8000.0),
    (ONE_DIRECTION_FOR_BOTH, 500.0),
])
def test_a_known_slip_is_named_and_earns_its_configured_credit(capsys, slip, given):
    assert check_answer("x", given, 1000.0, points=2, slips=[slip.credit(0.25)]) == 0.5
    out = capsys.readouterr().out
    assert slip.description in out and "0.5 points of 2 (the credit set for this slip)" in out


def test_gib_for_gb_is_a_slip_not_partial_credit_though_it_is_7_percent_off(capsys):
    given = 1000.0 * 1e9 / 2**30  # 931.3: inside the 10% band
    assert check_answer("x", given, 1000.0, points=1, slips=[GIB_FOR_GB.credit(0.75)]) == 0.75
    assert "GiB (2^30 bytes) where GB (10^9 bytes)" in capsys.readouterr().out
    assert check_answer("x", given, 1000.0, points=1) == 0.5  # not configured: partial band


def test_six_nd_is_a_slip_with_a_value_and_a_zero_credit_slip_raises_naming_it():
    assert check_answer("flops", 6.0e20, 7.5e20, points=1,
                        slips=[SIX_ND_FOR_EXACT.credit(0.5, value=6.0e20)]) == 0.5
    with pytest.raises(AssertionError, match="is 6ND where the exact FLOP count"):
        check_answer("ratio", 1.0, 1.3, points=1, slips=[SIX_ND_FOR_EXACT.credit(0, value=1)])


def test_no_message_ever_contains_the_expected_value_or_the_error(capsys):
    rng = random.Random(7)
    for _ in range(400):
        expected = 10 ** rng.uniform(-3, 25) * rng.choice([1, -1])
        value = expected * rng.choice([1.003, 0.95, 1.08, 1.5, 3.0, 1e3, 1e9 / 2**30, 0.5])
        try:
            check_answer("x", value, expected, points=1, slips=[GIB_FOR_GB.credit(0.5)])
            text = capsys.readouterr().out
        except AssertionError as failed:
            text = str(failed)
        error = (value - expected) / abs(expected)
        for form in {f"{expected:.3g}", f"{expected:.4g}", f"{abs(expected):,.0f}",
                     f"{error:+.0%}", f"{abs(error):.0%}", f"{value / expected:.3g}x"}:
            if len(form.strip("+-%x")) >= 3 and form not in f"{value:,.0f} {value:.4g}":
                assert form not in text, (form, text)


@pytest.mark.parametrize("kwargs, word", [
    ({"points": 0}, "points=0"),
    ({"points": float("nan")}, "points=nan"),
    ({"points": 1, "full_band": 0}, "full_band=0"),
    ({"points": 1, "partial_band": 1.5}, "partial_band=1.5"),
    ({"points": 1, "full_band": 0.1, "partial_band": 0.05}, "partial_band=0.05"),
    ({"points": 1, "partial_credit": 2}, "partial_credit=2"),
    ({"points": 1, "slips": ["gib_for_gb"]}, "slips="),
])
def test_bad_configuration_is_a_value_error_naming_the_parameter(kwargs, word):
    with pytest.raises(ValueError, match=word.replace("(", r"\(").replace("[", r"\[")):
        check_answer("x", 1.0, 1.0, **kwargs)


def test_bad_expected_and_slip_values_are_value_errors():
    with pytest.raises(ValueError, match="expected=0 is not allowed"):
        check_answer("x", 1.0, 0, points=1)
    with pytest.raises(ValueError, match="credit=1.5 is not allowed"):
        GIB_FOR_GB.credit(1.5)
    with pytest.raises(ValueError, match="value=None is not allowed"):
        SIX_ND_FOR_EXACT.credit(0.5)
    with pytest.raises(ValueError, match="slip='gib' is not allowed"):
        checks.SlipCredit("gib", 0.5)


def test_a_missing_answer_is_still_an_assertion_for_the_student():
    with pytest.raises(AssertionError, match="x: expected a number"):
        check_answer("x", None, 1.0, points=1)


def test_carried_forward_uses_the_students_number_when_usable():
    assert carried_forward({"budget": 2e24}, "budget", 1e24) == 2e24
    for unusable in ({}, {"budget": None}, {"budget": "2e24"}, {"budget": True},
                     {"budget": -1.0}, {"budget": float("nan")}):
        assert carried_forward(unusable, "budget", 1e24) == 1e24
    with pytest.raises(ValueError, match="name='not a name'"):
        carried_forward({}, "not a name", 1.0)
    with pytest.raises(ValueError, match="namespace=list"):
        carried_forward([], "budget", 1.0)
