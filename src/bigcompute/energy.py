"""Energy, carbon and money from device-hours.

The accounting published runs use (Patterson et al. 2021, "Carbon emissions and large neural
network training", sec. 2; Touvron et al. 2023, LLaMA, sec. 6, after Wu et al. 2022):

    energy (kWh)  = device-hours x power per device (W) / 1000 x PUE
    CO2 (tonnes)  = energy (kWh) x grid intensity (kg CO2e/kWh) / 1000
    cost ($)      = device-hours x price per device-hour

PUE (power usage effectiveness) is the datacentre's total energy over the IT equipment's:
1.1 for a hyperscale site, 1.5+ for an ordinary one. The power is either the device's TDP (an
upper bound, LLaMA's and BLOOM's choice) or a measured average (Patterson's 330 W per V100,
including the host's share).
"""

from __future__ import annotations

from .errors import (
    check_at_least,
    check_non_negative,
    check_positive,
    check_positive_int,
    finite_result,
)

__all__ = [
    "PF_DAY_FLOPS", "energy_kwh", "co2_tonnes", "cost_dollars", "pf_days",
    "flops_from_pf_days", "device_hours",
]

PF_DAY_FLOPS = 1e15 * 86_400  # one petaFLOP/s sustained for a day: 8.64e19 FLOP


def device_hours(seconds: float, n_devices: int = 1) -> float:
    """Device-hours of ``n_devices`` busy for ``seconds``: seconds x n / 3600."""
    check_non_negative("seconds", seconds)
    check_positive_int("n_devices", n_devices)
    return finite_result(seconds * n_devices / 3600.0, seconds=seconds, n_devices=n_devices)


def energy_kwh(device_hours: float, power_watts: float, pue: float = 1.0) -> float:
    """Energy in kWh: device_hours x power_watts / 1000 x pue.

    ``power_watts`` is per device (TDP or measured average); ``pue`` >= 1 adds the
    datacentre's cooling and power-delivery overhead.
    """
    check_non_negative("device_hours", device_hours)
    check_positive("power_watts", power_watts)
    check_at_least("pue", pue, 1)  # total facility energy / IT energy
    return finite_result(device_hours * power_watts / 1000.0 * pue, device_hours=device_hours,
                   power_watts=power_watts, pue=pue)


def co2_tonnes(energy_kwh: float, grid_kg_per_kwh: float) -> float:
    """Tonnes of CO2-equivalent: energy_kwh x grid_kg_per_kwh / 1000.

    Grid intensity in kg CO2e per kWh: 0.057 France 2022 (BLOOM), 0.385 the US average used
    for LLaMA, 0.429 for GPT-3's datacentre (Patterson et al. 2021). 0 for carbon-free power.
    """
    check_non_negative("energy_kwh", energy_kwh)
    check_non_negative("grid_kg_per_kwh", grid_kg_per_kwh)
    return finite_result(energy_kwh * grid_kg_per_kwh / 1000.0, energy_kwh=energy_kwh,
                   grid_kg_per_kwh=grid_kg_per_kwh)


def cost_dollars(device_hours: float, price_per_device_hour: float) -> float:
    """Money for compute rented by the hour: device_hours x price_per_device_hour."""
    check_non_negative("device_hours", device_hours)
    check_non_negative("price_per_device_hour", price_per_device_hour)
    return finite_result(device_hours * price_per_device_hour, device_hours=device_hours,
                   price_per_device_hour=price_per_device_hour)


def pf_days(flops: float) -> float:
    """Compute in petaFLOP/s-days, the unit of Kaplan et al. (2020) and Brown et al. (2020):
    flops / (1e15 x 86400). GPT-3 175B: 3.14e23 FLOP = 3640 PF-days."""
    check_non_negative("flops", flops)
    return flops / PF_DAY_FLOPS


def flops_from_pf_days(pf_days: float) -> float:
    """FLOPs in ``pf_days`` petaFLOP/s-days: pf_days x 8.64e19."""
    check_non_negative("pf_days", pf_days)
    return finite_result(pf_days * PF_DAY_FLOPS, pf_days=pf_days)
