"""Energy, CO2, money and compute units."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bigcompute import energy


def test_energy_of_1000_gpu_hours_at_400_w_with_pue_1_1_is_440_kwh():
    assert energy.energy_kwh(1000, 400, pue=1.1) == pytest.approx(440)
    assert energy.energy_kwh(1000, 400) == pytest.approx(400)


def test_co2_of_440_kwh_on_the_us_average_grid():
    # 440 kWh x 0.385 kg/kWh = 169.4 kg
    assert energy.co2_tonnes(440, 0.385) == pytest.approx(0.1694)
    assert energy.co2_tonnes(440, 0) == 0  # carbon-free power


def test_cost_of_1000_gpu_hours_at_2_50_dollars():
    assert energy.cost_dollars(1000, 2.5) == pytest.approx(2500)


def test_one_pf_day_is_8_64e19_flop():
    assert energy.PF_DAY_FLOPS == 8.64e19
    assert energy.pf_days(8.64e19) == pytest.approx(1.0)
    assert energy.pf_days(3.14e23) == pytest.approx(3634, rel=1e-3)  # GPT-3
    assert energy.flops_from_pf_days(energy.pf_days(1.23e22)) == pytest.approx(1.23e22)


def test_device_hours_of_8_gpus_for_an_hour_and_a_day():
    assert energy.device_hours(3600, 8) == pytest.approx(8)
    assert energy.device_hours(86400, 1024) == pytest.approx(24 * 1024)


@given(st.floats(0, 1e9), st.floats(1, 2000), st.floats(1, 3))
def test_energy_is_linear_in_hours_and_power(hours, watts, pue):
    one = energy.energy_kwh(hours, watts, pue)
    assert energy.energy_kwh(2 * hours, watts, pue) == pytest.approx(2 * one)
    assert energy.energy_kwh(hours, 2 * watts, pue) == pytest.approx(2 * one)
    assert one >= energy.energy_kwh(hours, watts, 1.0) - 1e-9


@pytest.mark.parametrize("args, name", [((100, 400, 0.9), "pue=0.9"),
                                        ((-1, 400), "device_hours=-1"),
                                        ((100, 0), "power_watts=0")])
def test_energy_rejects_bad_inputs(args, name):
    with pytest.raises(ValueError, match=name):
        energy.energy_kwh(*args)


def test_co2_cost_and_units_reject_negatives():
    with pytest.raises(ValueError, match="grid_kg_per_kwh=-0.1"):
        energy.co2_tonnes(100, -0.1)
    with pytest.raises(ValueError, match="price_per_device_hour"):
        energy.cost_dollars(100, -2)
    with pytest.raises(ValueError, match="flops=-1"):
        energy.pf_days(-1)
    with pytest.raises(ValueError, match="n_devices=0"):
        energy.device_hours(3600, 0)


def test_overflow_and_fractional_devices_are_refused():
    with pytest.raises(ValueError, match="pf_days=1e\\+300.*overflows"):
        energy.flops_from_pf_days(1e300)
    with pytest.raises(ValueError, match="n_devices=2.5"):
        energy.device_hours(3600, 2.5)
    with pytest.raises(ValueError, match="pue=0.5.*at least 1"):
        energy.energy_kwh(100, 400, 0.5)
