"""Failures at scale and checkpoint intervals, checked against Young (1974), Daly (2006), a
simulation of random failures, and Llama 3's reported interruptions."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bigcompute import reference_figures as rf
from bigcompute import reliability as rel

HOUR, DAY = 3600.0, 86400.0


# ---------------------------------------------------------------- failures per day

def test_a_thousand_devices_with_a_1000_hour_mtbf_fail_24_times_a_day():
    assert rel.failures_per_day(1000, 1000) == pytest.approx(24)
    assert rel.job_mtbf_hours(1000, 1000) == pytest.approx(1.0)


def test_llama3_419_interruptions_in_54_days_on_16384_gpus():
    n = rf.value("llama3-unexpected-interruptions")
    days = rf.value("llama3-snapshot-days")
    gpus = rf.value("llama3-gpus")
    assert (n, days, gpus) == (419, 54, 16384)
    mtbf = rel.device_mtbf_hours(n, days, gpus)
    # each GPU (with its share of hosts and network) fails once in about 5.8 years
    assert mtbf == pytest.approx(16384 * 54 * 24 / 419)
    assert mtbf / (24 * 365.25) == pytest.approx(5.78, abs=0.01)
    # and the same arithmetic run forwards gives back the published count...
    assert rel.failures_per_day(gpus, mtbf) * days == pytest.approx(419)
    # ...and the "one failure about every three hours" reported for the run
    assert rel.job_mtbf_hours(gpus, mtbf) == pytest.approx(54 * 24 / 419)
    assert 2.9 < rel.job_mtbf_hours(gpus, mtbf) < 3.2


def test_twice_the_devices_fail_twice_as_often():
    assert rel.failures_per_day(2048, 5e4) == pytest.approx(2 * rel.failures_per_day(1024, 5e4))


def test_probability_of_a_clean_run_is_exp_minus_hours_over_job_mtbf():
    # one job MTBF without failure: e^-1
    assert rel.probability_no_failure(10, 100, 1000) == pytest.approx(math.exp(-1))
    assert rel.probability_no_failure(0, 100, 1000) == 1.0


# ---------------------------------------------------------------- Young and Daly

def test_young_five_minute_checkpoints_with_a_one_day_mtbf_every_two_hours():
    # sqrt(2 x 300 s x 86400 s) = 7200 s exactly
    assert rel.young_interval(300, DAY) == pytest.approx(2 * HOUR)


def test_daly_formula_as_published():
    d, m = 600.0, 6 * HOUR
    x = d / (2 * m)
    expected = math.sqrt(2 * d * m) * (1 + math.sqrt(x) / 3 + x / 9) - d
    assert rel.daly_interval(d, m) == pytest.approx(expected)
    # a checkpoint longer than twice the MTBF: checkpoint once per MTBF
    assert rel.daly_interval(3 * HOUR, HOUR) == HOUR


@pytest.mark.parametrize("ratio", [1e-6, 1e-4, 1e-3])
def test_daly_tends_to_young_when_checkpoints_are_short(ratio):
    m = DAY
    d = ratio * m
    young = rel.young_interval(d, m)
    # Daly's interval excludes the checkpoint; the difference is O(delta)
    assert rel.daly_interval(d, m) == pytest.approx(young, rel=2 * math.sqrt(ratio) + 1e-9)


@pytest.mark.parametrize("ratio", [1e-4, 1e-3, 1e-2, 0.1, 0.5])
def test_daly_interval_minimises_the_expected_wall_time(ratio):
    m, r = HOUR, 60.0
    d = ratio * m
    best = rel.daly_interval(d, m)

    def wall(tau):
        return rel.expected_wall_time(1e6, tau, d, r, m)

    # a grid search over the interval finds nothing more than 0.5% better
    grid = [best * 10 ** (k / 200) for k in range(-400, 401)]
    assert wall(best) <= min(wall(t) for t in grid) * 1.005
    assert min(grid, key=wall) == pytest.approx(best, rel=0.25)


def test_without_failures_the_wall_time_is_work_plus_checkpoints():
    # M -> infinity: T_w -> work (tau + delta) / tau
    w = rel.expected_wall_time(1000 * HOUR, HOUR, 60, 600, 1e15)
    assert w == pytest.approx(1000 * HOUR * (HOUR + 60) / HOUR, rel=1e-6)


def _simulated_wall_time(work, tau, delta, restart, mtbf, rng):
    """Run the job: segments of tau + delta must each finish without a failure; a failure
    costs the time since the segment began, then a restart (which can fail too)."""
    clock, done = 0.0, 0.0
    while done < work:
        need = min(tau, work - done) + delta
        while True:
            failure_in = rng.expovariate(1 / mtbf)
            if failure_in >= need:
                clock += need
                break
            clock += failure_in
            while True:  # restart until one restart completes
                failure_in = rng.expovariate(1 / mtbf)
                if failure_in >= restart:
                    clock += restart
                    break
                clock += failure_in
        done += min(tau, work - done)
    return clock


def test_daly_expected_wall_time_matches_a_simulation_of_random_failures():
    rng = random.Random(0)
    m, d, r, tau = HOUR, 120.0, 300.0, 1200.0
    work = 200 * tau
    runs = [_simulated_wall_time(work, tau, d, r, m, rng) for _ in range(200)]
    simulated = sum(runs) / len(runs)
    assert rel.expected_wall_time(work, tau, d, r, m) == pytest.approx(simulated, rel=0.02)


def test_first_order_waste_at_youngs_interval_is_sqrt_2_delta_over_m():
    d, m, r = 60.0, 3 * HOUR, 0.0
    tau = rel.young_interval(d, m)
    assert rel.waste_fraction_first_order(tau, d, r, m) == pytest.approx(math.sqrt(2 * d / m))
    # and agrees with the exact model to first order when delta << M
    exact = 1 - rel.goodput(tau, d, r, m)
    assert exact == pytest.approx(rel.waste_fraction_first_order(tau, d, r, m), rel=0.15)


@given(st.floats(1, 3600), st.floats(600, 1e6), st.floats(0, 3600))
def test_goodput_is_a_fraction_and_best_near_daly(delta, mtbf, restart):
    best = rel.daly_interval(delta, mtbf)
    g = rel.goodput(best, delta, restart, mtbf)
    assert 0 < g < 1
    assert g >= rel.goodput(best * 3, delta, restart, mtbf)
    assert g >= rel.goodput(best / 3, delta, restart, mtbf)


def test_checkpoint_time_is_bytes_over_bandwidth():
    # 6.48 TB of model states (405B x 16 B) at 2 TB/s: 3.24 s
    assert rel.checkpoint_seconds(405e9 * 16, 2e12) == pytest.approx(3.24)


@pytest.mark.parametrize("call, name", [
    (lambda: rel.failures_per_day(0, 100), "n_devices"),
    (lambda: rel.young_interval(60, 0), "mtbf_seconds"),
    (lambda: rel.daly_interval(-1, 100), "checkpoint_seconds"),
    (lambda: rel.goodput(0, 60, 60, 3600), "interval_seconds"),
    (lambda: rel.device_mtbf_hours(0, 54, 16384), "n_failures"),
])
def test_bad_inputs_name_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_what_would_overflow_the_wall_time_is_refused_by_name():
    """An interval (or a restart) hundreds of MTBFs long: the job would practically never
    finish, and the wall time overflows a float."""
    for args in ((1e300, 60, 600, 1e4), (3600, 1e300, 600, 1e4), (3600, 60, 1e300, 1e4)):
        with pytest.raises(ValueError, match="interval_seconds, checkpoint_seconds, "
                                             "restart_seconds, mtbf_seconds=.*never finish"):
            rel.expected_wall_time(1e5, *args)
        with pytest.raises(ValueError, match="never finish"):
            rel.goodput(*args)


def test_goodput_is_never_above_1_nor_the_wall_time_below_the_work():
    for mtbf in (1e8, 1e15, 1e300):
        assert rel.goodput(1e-10, 0, 0, mtbf) <= 1.0
        assert rel.expected_wall_time(100, 1e-10, 0, 0, mtbf) >= 100


def test_checkpoint_plan_names_its_own_inputs():
    with pytest.raises(ValueError, match="n_devices=10{30}.*job MTBF"):
        rel.checkpoint_plan(10**30, 5e4, 60, 600)
    with pytest.raises(ValueError, match="checkpoint_seconds=0"):
        rel.checkpoint_plan(16384, 5e4, 0, 600)
    with pytest.raises(ValueError, match="n_devices=2.5"):
        rel.checkpoint_plan(2.5, 5e4, 60, 600)
