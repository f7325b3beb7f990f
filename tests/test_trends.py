"""The doubling-time fit of chapter 1 (bigcompute.trends)."""

import math

import numpy as np
import pytest

from bigcompute import trends


def synthetic(doubling_months, n=40, noise_doublings=1.5, seed=0):
    """Models from 2012 to 2025 whose compute doubles every ``doubling_months``, with
    log-normal scatter of ``noise_doublings`` (sd, in factors of two) around the trend."""
    rng = np.random.default_rng(seed)
    years = rng.integers(2012, 2026, size=n).astype(float)
    log2_flops = 60 + (years - 2012) * 12 / doubling_months + rng.normal(0, noise_doublings, n)
    return years, 2.0**log2_flops


@pytest.mark.parametrize("t, df, table", [
    # Student's t table (two-sided 95%: the 0.975 quantile), e.g. NIST/SEMATECH handbook 1.3.6.7.2
    (0.975, 1, 12.706), (0.975, 2, 4.303), (0.975, 5, 2.571), (0.975, 10, 2.228),
    (0.975, 28, 2.048), (0.975, 100, 1.984), (0.95, 10, 1.812), (0.995, 20, 2.845),
])
def test_student_t_quantile_matches_the_printed_table(t, df, table):
    assert trends.student_t_quantile(t, df) == pytest.approx(table, abs=6e-4)


def test_student_t_quantile_is_symmetric_and_tends_to_the_normal():
    assert trends.student_t_quantile(0.025, 7) == pytest.approx(
        -trends.student_t_quantile(0.975, 7))
    assert trends.student_t_quantile(0.975, 1e6) == pytest.approx(1.95996, abs=1e-4)


def test_a_noise_free_trend_gives_its_doubling_time_exactly():
    years = np.arange(2012, 2026, dtype=float)
    flops = 1e17 * 2.0 ** ((years - 2012) * 12 / 6.0)
    fit = trends.fit_doubling_time(years, flops)
    assert fit.doubling_months == pytest.approx(6.0)
    assert fit.r_squared == pytest.approx(1.0)
    assert fit.slope_se == pytest.approx(0.0, abs=1e-9)
    assert fit.predict(2020) == pytest.approx(1e17 * 2.0**16)


@pytest.mark.parametrize("doubling_months", [3.4, 6.0, 10.0, 20.0])
def test_doubling_time_is_recovered_from_noisy_synthetic_data(doubling_months):
    fit = trends.fit_doubling_time(*synthetic(doubling_months))
    lo, hi = fit.doubling_ci_months
    assert lo < doubling_months < hi
    assert fit.doubling_months == pytest.approx(doubling_months, rel=0.2)
    boot_lo, boot_hi = trends.bootstrap_doubling_time(*synthetic(doubling_months))
    assert boot_lo < doubling_months < boot_hi


def test_the_95_percent_interval_covers_the_truth_about_95_percent_of_the_time():
    covered = 0
    trials = 400
    for seed in range(trials):
        lo, hi = trends.fit_doubling_time(*synthetic(6.0, n=25, seed=seed)).doubling_ci_months
        covered += lo < 6.0 < hi
    assert 0.92 < covered / trials < 0.98


def test_the_interval_narrows_with_more_models():
    wide = trends.fit_doubling_time(*synthetic(6.0, n=10, seed=1))
    narrow = trends.fit_doubling_time(*synthetic(6.0, n=400, seed=1))
    assert narrow.slope_se < wide.slope_se / 3


def test_no_growth_means_an_unbounded_doubling_time():
    years, flops = synthetic(6.0)
    flat = flops / 2.0 ** ((years - 2012) * 2)  # remove the trend exactly
    fit = trends.fit_doubling_time(years, flat)
    assert fit.doubling_ci_months[1] == math.inf


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="at least 3"):
        trends.fit_doubling_time([2020, 2021], [1e20, 1e21])
    with pytest.raises(ValueError, match="two different years"):
        trends.fit_doubling_time([2020] * 4, [1e20, 2e20, 3e20, 4e20])
    with pytest.raises(ValueError, match="positive"):
        trends.fit_doubling_time([2019, 2020, 2021], [1e20, 0, 1e21])


def test_the_endpoint_estimate_depends_on_the_pair_chosen():
    """AlexNet (4.7e17, 2012) to Llama 3.1 405B (3.8e25, 2024): 12 years, 26.3 doublings."""
    assert trends.endpoint_doubling_time(2012, 4.7e17, 2024, 3.8e25) * 12 == pytest.approx(
        12 * 12 / math.log2(3.8e25 / 4.7e17))


def test_the_dataset_loads_and_filters():
    rows = trends.notable_models()
    assert len(rows) >= 30
    language = trends.select(domains="language", years=(2018, 2025))
    assert language and all(r.domain == "language" and 2018 <= r.year <= 2025 for r in language)
    assert all(r.training_flops for r in trends.select())
    with pytest.raises(ValueError, match="domain"):
        trends.select(domains="poetry")


def test_compute_has_doubled_faster_than_moores_law():
    """Sevilla et al. 2022 fit about 6 months for 2010-2022; Moore's law is about 24."""
    rows = trends.select()
    fit = trends.fit_doubling_time([r.year for r in rows], [r.training_flops for r in rows])
    assert 4 < fit.doubling_months < 9
    assert fit.doubling_ci_months[1] < 24


def test_6nd_reproduces_the_published_figures_that_give_n_and_d():
    """GPT-3: 6 x 175e9 x 300e9 = 3.15e23 against the paper's 3.14e23."""
    checks = {c.name: c for c in trends.six_nd_checks()}
    assert checks["GPT-3 175B"].six_nd_flops == pytest.approx(3.15e23)
    assert checks["GPT-3 175B"].ratio == pytest.approx(3.14 / 3.15, rel=1e-3)
    assert all(0.8 < c.ratio < 1.3 for c in checks.values())


@pytest.mark.parametrize("args, name", [
    ((2022, 1e24, 2018, 1e20), "year1"),      # years that do not increase
    ((2018, 1e24, 2022, 1e20), "flops1"),     # compute that does not grow
    ((2018, 1e20, 2022, 1e20), "flops1"),
    ((float("nan"), 1e20, 2022, 1e24), "year0"),
    ((2018, -1.0, 2022, 1e24), "flops0"),
    ((2018, 1e20, True, 1e24), "year1"),
])
def test_endpoint_doubling_time_refuses_a_pair_without_growth(args, name):
    with pytest.raises(ValueError, match=f"{name}="):
        trends.endpoint_doubling_time(*args)


def test_bad_fit_arguments_are_named():
    with pytest.raises(ValueError, match="confidence"):
        trends.fit_doubling_time([2018, 2019, 2020], [1e20, 1e21, 1e22], confidence=1.0)
    with pytest.raises(ValueError, match=r"years\[1\]"):
        trends.fit_doubling_time([2018, float("nan"), 2020], [1e20, 1e21, 1e22])
    with pytest.raises(ValueError, match="df="):
        trends.student_t_quantile(0.975, None)
    with pytest.raises(ValueError, match="with_flops"):
        trends.select(with_flops="no")
    with pytest.raises(ValueError, match="years"):
        trends.select(years=2020)
