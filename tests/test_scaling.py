"""Kaplan and Chinchilla scaling laws and compute-optimal allocations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bigcompute import scaling
from bigcompute.counts import flops_6nd

budgets = st.floats(1e18, 1e28)


# ---------------------------------------------------------------- Kaplan et al. 2020

def test_kaplan_losses_are_one_nat_at_their_scale_constants():
    assert scaling.kaplan_loss_params(8.8e13) == pytest.approx(1.0)
    assert scaling.kaplan_loss_data(5.4e13) == pytest.approx(1.0)
    assert scaling.kaplan_loss_compute(3.1e8) == pytest.approx(1.0)


def test_kaplan_loss_of_a_100x_smaller_model_by_hand():
    assert scaling.kaplan_loss_params(8.8e11) == pytest.approx(100 ** 0.076)
    assert scaling.kaplan_loss_data(5.4e11) == pytest.approx(100 ** 0.095)
    assert scaling.kaplan_loss_compute(3.1e6) == pytest.approx(100 ** 0.050)


def test_doubling_parameters_cuts_kaplan_loss_by_5_percent():
    ratio = scaling.kaplan_loss_params(2e9) / scaling.kaplan_loss_params(1e9)
    assert ratio == pytest.approx(2 ** -0.076) == pytest.approx(0.949, abs=1e-3)


def test_kaplan_joint_loss_tends_to_each_single_law():
    assert scaling.kaplan_loss(1e9, 1e30) == pytest.approx(scaling.kaplan_loss_params(1e9))
    assert scaling.kaplan_loss(1e30, 1e9) == pytest.approx(scaling.kaplan_loss_data(1e9))


def test_kaplan_optimal_grows_model_size_as_compute_to_the_0_73():
    assert scaling.kaplan_optimal(1.0) == pytest.approx((1.3e9, 2e10))
    n1, d1 = scaling.kaplan_optimal(1.0)
    n10, d10 = scaling.kaplan_optimal(10.0)
    assert n10 / n1 == pytest.approx(10 ** 0.73)
    assert d10 / d1 == pytest.approx(10 ** 0.27)


@given(st.floats(1e3, 1e15), st.floats(1e3, 1e15))
def test_kaplan_loss_falls_with_more_parameters_and_data(n, d):
    assert scaling.kaplan_loss(2 * n, d) < scaling.kaplan_loss(n, d)
    assert scaling.kaplan_loss(n, 2 * d) < scaling.kaplan_loss(n, d)


# ---------------------------------------------------------------- Hoffmann et al. 2022

def test_chinchilla_loss_by_hand():
    n, d = 70e9, 1.4e12
    expected = 1.69 + 406.4 / n ** 0.34 + 410.7 / d ** 0.28
    assert scaling.chinchilla_loss(n, d) == pytest.approx(expected)
    assert 1.9 < expected < 2.0


def test_chinchilla_loss_approaches_the_entropy_of_text():
    assert scaling.chinchilla_loss(1e30, 1e30) == pytest.approx(1.69, abs=1e-5)


def test_chinchilla_optimal_default_is_20_tokens_per_parameter():
    # C = 6 N (20 N) = 120 N^2 -> N = sqrt(1.2e21 / 120) = sqrt(1e19)
    n, d = scaling.chinchilla_optimal(1.2e21)
    assert n == pytest.approx(1e19 ** 0.5)
    assert d == pytest.approx(20 * n)


@given(budgets, st.sampled_from(["tokens_per_param", "approach3"]))
def test_chinchilla_optimal_spends_exactly_the_budget(c, method):
    n, d = scaling.chinchilla_optimal(c, method=method)
    assert flops_6nd(n, d) == pytest.approx(c)


def test_approach3_closed_form_is_the_minimum_of_the_fitted_loss():
    for c in (1e21, 5.76e23, 1e26):
        n_opt, _ = scaling.chinchilla_optimal(c, method="approach3")
        grid = np.logspace(np.log10(n_opt) - 1, np.log10(n_opt) + 1, 20001)
        losses = [scaling.chinchilla_loss(n, c / (6 * n)) for n in grid]
        assert grid[int(np.argmin(losses))] == pytest.approx(n_opt, rel=2e-3)


@given(budgets)
def test_approach3_loss_is_never_above_the_20_tokens_rule(c):
    n3, d3 = scaling.chinchilla_optimal(c, method="approach3")
    n20, d20 = scaling.chinchilla_optimal(c)
    assert scaling.chinchilla_loss(n3, d3) <= scaling.chinchilla_loss(n20, d20) + 1e-12


def test_approach3_prefers_smaller_models_than_approach_1():
    n3, _ = scaling.chinchilla_optimal(5.76e23, method="approach3")
    n1, _ = scaling.chinchilla_optimal(5.76e23)
    assert 30e9 < n3 < 35e9 < n1  # 32B with the published rounded constants; 69B


@given(budgets)
def test_approach3_exponents_are_0_45_and_0_55(c):
    n, d = scaling.chinchilla_optimal(c, method="approach3")
    n10, d10 = scaling.chinchilla_optimal(10 * c, method="approach3")
    assert np.log10(n10 / n) == pytest.approx(0.28 / 0.62)
    assert np.log10(d10 / d) == pytest.approx(0.34 / 0.62)


def test_scaling_rejects_bad_inputs():
    with pytest.raises(ValueError, match="method='approach9'"):
        scaling.chinchilla_optimal(1e21, method="approach9")
    with pytest.raises(ValueError, match="compute_flops=0"):
        scaling.chinchilla_optimal(0)
    with pytest.raises(ValueError, match="n_params=-1"):
        scaling.chinchilla_loss(-1, 1e9)
    with pytest.raises(ValueError, match="tokens_per_param"):
        scaling.chinchilla_optimal(1e21, method="approach3", tokens_per_param=30)
    with pytest.raises(ValueError, match="compute_pf_days"):
        scaling.kaplan_optimal(-5)
