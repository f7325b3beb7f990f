"""One report for a training run: FLOPs, time, device-hours, energy, CO2 and money."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from . import energy, timing
from .counts import _resolve, flops, flops_6nd
from .errors import check_positive
from .hardware import device as get_device
from .units import format_count, format_dollars, format_flops, format_seconds


@dataclass(frozen=True)
class TrainingEstimate:
    """Inputs and results of `estimate_training`; money and CO2 are None without a price or a
    grid intensity."""

    n_params: float
    tokens: float
    device: str
    n_devices: int
    mfu: float
    flops: float
    flops_method: str
    seconds: float
    device_hours: float
    power_watts: float
    pue: float
    energy_kwh: float
    co2_tonnes: float | None
    cost_dollars: float | None

    @property
    def days(self) -> float:
        return self.seconds / 86400

    @property
    def pf_days(self) -> float:
        return energy.pf_days(self.flops)

    def as_dict(self) -> dict:
        return {**asdict(self), "days": self.days, "pf_days": self.pf_days}

    def __str__(self) -> str:
        lines = [
            f"model        {format_count(self.n_params)} parameters, "
            f"{format_count(self.tokens)} tokens",
            f"compute      {format_flops(self.flops)} ({self.flops_method}), "
            f"{self.pf_days:,.0f} PF-days",
            f"hardware     {self.n_devices} x {self.device} at MFU {self.mfu:.0%}",
            f"time         {format_seconds(self.seconds)}",
            f"device-hours {self.device_hours:,.0f}",
            f"energy       {self.energy_kwh / 1000:,.1f} MWh "
            f"({self.power_watts:.0f} W/device, PUE {self.pue})",
        ]
        if self.co2_tonnes is not None:
            lines.append(f"CO2          {self.co2_tonnes:,.1f} t")
        if self.cost_dollars is not None:
            lines.append(f"cost         {format_dollars(self.cost_dollars)}")
        return "\n".join(lines)


def estimate_training(cfg_or_params, tokens: float, device, n_devices: int = 1,
                      mfu: float = 0.4, *, dtype: str = "bf16", seq: int | None = None,
                      power_watts: float | None = None, pue: float = 1.0,
                      grid_kg_per_kwh: float | None = None,
                      price_per_device_hour: float | None = None) -> TrainingEstimate:
    """Estimate a training run of ``tokens`` tokens.

    ``cfg_or_params``: a config or catalogue name (exact training FLOPs per token at ``seq``,
    default the model's context) or a parameter count (6ND). ``mfu`` is the fraction of the
    device's dense ``dtype`` peak the run achieves — an input you must choose (0.3-0.5 is
    typical of large runs), shown in the report. Power defaults to the device's TDP."""
    check_positive("tokens", tokens)
    dev = get_device(device)
    model = _resolve(cfg_or_params)
    if isinstance(model, (int, float)) and not isinstance(model, bool):
        check_positive("cfg_or_params", model)
        n_params, total, method = float(model), flops_6nd(model, tokens), "6ND"
    else:
        from .counts import default_seq, param_count

        seq = seq or default_seq(model)
        n_params = param_count(model)
        total = flops(model, 1, seq, "train") / seq * tokens
        method = f"exact matmul FLOPs at {seq}-token sequences"
    seconds = timing.training_time(total, dev, n_devices, mfu, dtype)
    hours = energy.device_hours(seconds, n_devices)
    if power_watts is None:
        if dev.tdp_watts is None:
            raise ValueError(f"device {dev.name!r} has no published TDP: pass power_watts")
        power_watts = dev.tdp_watts
    kwh = energy.energy_kwh(hours, power_watts, pue)
    co2 = energy.co2_tonnes(kwh, grid_kg_per_kwh) if grid_kg_per_kwh is not None else None
    cost = (energy.cost_dollars(hours, price_per_device_hour)
            if price_per_device_hour is not None else None)
    return TrainingEstimate(n_params, float(tokens), dev.name, n_devices, mfu, total, method,
                            seconds, hours, power_watts, pue, kwh, co2, cost)


__all__ = ["TrainingEstimate", "estimate_training"]
