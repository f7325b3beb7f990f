"""The training-cost explorer (chapter 4.4) and the scaling explorer (chapter 4.5)."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

from .. import catalog, energy, hardware, published, scaling, timing, units
from ..estimate import TrainingEstimate, estimate_training
from ..tables import key_value_html
from .base import Chart, Control, Rendered, Spec, note_html

__all__ = ["REFERENCE_RUNS", "TRAINING_COST_DEFAULTS", "TrainingCostSpec", "reference_runs",
           "training_cost_html", "SCALING_DEFAULTS", "ScalingReport", "ScalingSpec",
           "scaling_report", "scaling_summary_html", "compute_optimal_chart"]

# Reference runs the training-cost explorer sets your run against: catalogue models with
# published parameters and training tokens (data/models.yaml cites each).
REFERENCE_RUNS = ("gpt3-175b", "gopher-280b", "chinchilla-70b", "palm-540b", "llama-65b",
                  "llama2-70b", "llama3.1-405b")
# LLaMA-65B's run (Touvron et al. 2023a, sec. 2.4: 2048 A100-80GB GPUs); parameters and tokens
# come from the catalogue. MFU 0.4: `timing.training_time`'s default, typical of large runs.
TRAINING_COST_DEFAULTS = {"model": "llama-65b", "device": "a100-80gb", "n_devices": 2048,
                          "mfu": 0.4, "pue": 1.0, "power_watts": 0.0}
# The compute budget opens at Gopher's, 5.76e23 FLOP: the budget of Chinchilla's Table 3 row
# "67 Billion" (data/published_runs.yaml, chinchilla-67b-gopher-budget).
SCALING_DEFAULTS = {"budget_run": "chinchilla-67b-gopher-budget", "device": "a100-80gb",
                    "n_devices": 2048, "mfu": 0.4}


def _log_slider(label, lo_exp, hi_exp):
    return Control("log", label, lo=lo_exp, hi=hi_exp, step=0.01, width="420px")


def _fraction(label):
    return Control("fraction", label, lo=0.01, hi=1.0, step=0.01, width="420px")


def reference_runs() -> dict[str, tuple[float, float]]:
    """{name: (parameters, training tokens)} of `REFERENCE_RUNS` (active parameters for a
    mixture of experts), from the catalogue."""
    out = {}
    for name in REFERENCE_RUNS:
        info = catalog.model_info(name)
        if info["training_tokens"]:
            params = info["active_params"] or info["published_params"]
            out[name] = (float(params), float(info["training_tokens"]))
    return out


def _estimate(settings: dict, params=None, tokens=None) -> TrainingEstimate:
    return estimate_training(
        params or settings["params"], tokens or settings["tokens"], settings["device"],
        settings["n_devices"], settings["mfu"], pue=settings["pue"],
        power_watts=settings["power_watts"] or None,
        grid_kg_per_kwh=settings["grid_kg_per_kwh"],
        price_per_device_hour=settings["price_per_device_hour"])


def training_cost_html(est: TrainingEstimate) -> str:
    """The estimate as a table: compute, time, device-hours, energy, CO2, cost."""
    rows = [
        ("compute (6ND)", f"{units.format_flops(est.flops)} = {est.pf_days:,.0f} PF-days"),
        ("time", (f"{units.format_days(est.days)} on {est.n_devices:,} &times; "
                 f"{html.escape(est.device)}")),
        ("device-hours", f"{est.device_hours:,.0f}"),
        ("energy", (f"{est.energy_kwh / 1000:,.1f} MWh ({est.power_watts:.0f} W/device, "
                   f"PUE {est.pue:g})")),
        ("CO2e", f"{est.co2_tonnes:,.1f} t"),
        ("cost", units.format_dollars(est.cost_dollars)),
    ]
    return key_value_html(rows)


class TrainingCostSpec(Spec):
    """Days, device-hours, energy, CO2 and money for training N parameters on D tokens
    (`estimate.estimate_training`, 6ND), with the price and grid intensity as inputs."""

    name = "Training-cost explorer"
    title_html = ("<b>Training-cost explorer</b>: time = 6ND / (devices &times; peak &times; "
                  "MFU); energy = device-hours &times; power &times; PUE; "
                  "CO2 = energy &times; grid intensity; cost = device-hours &times; price.")
    defaults = TRAINING_COST_DEFAULTS
    extra = ("params", "tokens", "price_per_device_hour", "grid_kg_per_kwh")

    def settings(self, **given) -> dict:
        """The defaults' model gives the parameters and tokens unless ``given`` names them;
        the price and the grid intensity have no default (cite yours)."""
        s = super().settings(**given)
        info = catalog.model_info(s.pop("model"))
        s.setdefault("params", float(info["published_params"]))
        s.setdefault("tokens", float(info["training_tokens"]))
        return s

    def controls(self) -> dict[str, Control]:
        return {
            "params": _log_slider("parameters N", 7, 13),
            "tokens": _log_slider("tokens D", 9, 14),
            "device": Control("dropdown", "device", tuple(hardware.devices())),
            "n_devices": Control("int", "devices", lo=1, hi=10_000_000),
            "mfu": _fraction("MFU"),
            "pue": Control("float", "PUE", lo=1.0, hi=5.0, step=0.01),
            "power_watts": Control("float", "W/device (0=TDP)", lo=0.0, hi=10_000.0, step=1.0),
            "price_per_device_hour": Control("float", "$/device-hour", lo=0.0, hi=10_000.0,
                                             step=0.01),
            "grid_kg_per_kwh": Control("float", "kg CO2e/kWh", lo=0.0, hi=5.0, step=0.001),
        }

    def render(self, settings: dict) -> Rendered:
        est = _estimate(settings)
        label = (f"your run: {units.format_count(est.n_params)} params, "
                 f"{units.format_count(est.tokens)} tokens")
        values = {label: est.device_hours}
        notes = {label: f"{units.format_days(est.days)}, {units.format_dollars(est.cost_dollars)}"}
        for name, (n, d) in reference_runs().items():
            ref = _estimate(settings, n, d)
            key = f"{name}: {units.format_count(n)}, {units.format_count(d)} tokens"
            values[key] = ref.device_hours
            notes[key] = (f"{units.format_days(ref.days)}, "
                          f"{units.format_dollars(ref.cost_dollars)}")
        chart = Chart("ranked_bar_chart", {
            "values": values, "xlabel": f"{est.device} device-hours at MFU {est.mfu:.0%} (6ND)",
            "highlight": label, "notes": notes,
            "title": (f"The same hardware for famous runs: {est.n_devices:,} x {est.device} "
                      f"(days on that many devices, cost)")})
        return Rendered(training_cost_html(est), chart, est.as_dict())


# ---------------------------------------------------------------- the scaling explorer

@dataclass(frozen=True)
class ScalingReport:
    """Compute-optimal allocations of a budget (`scaling.allocations`), the loss Chinchilla's
    fit predicts for each, and the time, device-hours and cost of training Chinchilla's
    D = 20N choice."""

    rules: dict
    losses: dict
    seconds: float
    device_hours: float
    cost: float
    params: float
    tokens: float


def scaling_report(compute_flops: float, device, n_devices: int, mfu: float,
                   price_per_device_hour: float) -> ScalingReport:
    """The `ScalingReport` of a budget on ``n_devices`` at ``mfu``."""
    rules = scaling.allocations(compute_flops)
    losses = {k: scaling.chinchilla_loss(n, d) for k, (n, d) in rules.items()}
    n, d = rules["Chinchilla, D = 20N"]
    seconds = timing.training_time(compute_flops, device, n_devices, mfu)
    hours = energy.device_hours(seconds, n_devices)
    return ScalingReport(rules, losses, seconds, hours,
                         energy.cost_dollars(hours, price_per_device_hour), n, d)


def scaling_summary_html(report: ScalingReport, settings: dict) -> str:
    rows = [("<b>rule</b>", "<b>parameters N, tokens D, predicted loss</b>")]
    for rule, (n, d) in report.rules.items():
        rows.append((rule, (f"N = {units.format_count(n)}, D = {units.format_count(d)}, "
                           f"loss {report.losses[rule]:.3f}")))
    rows += [
        ("compute", f"{units.format_flops(settings['compute_flops'])}"),
        ("time (Chinchilla's model)",
         (f"{units.format_days(report.seconds / 86400)} on {settings['n_devices']:,} &times; "
         f"{html.escape(str(settings['device']))} at MFU {settings['mfu']:.0%}")),
        ("device-hours", f"{report.device_hours:,.0f}"),
        ("cost", units.format_dollars(report.cost)),
    ]
    note = ("Losses are Chinchilla's fit (nats per token on its data); Kaplan's N is "
            "non-embedding parameters, trained here on the tokens the budget leaves, "
            "D = C / 6N.")
    return key_value_html(rows) + note_html(note)


def compute_optimal_chart(budget: float | None = None, lo: float = 1e18,
                          hi: float = 1e27) -> Chart:
    """Compute-optimal N and D against the budget for the three rules, the budget marked."""
    steps = 36  # 37 budgets, four per decade over 1e18 ... 1e27
    budgets = [10 ** (math.log10(lo) + (math.log10(hi) - math.log10(lo)) * i / steps)
               for i in range(steps + 1)]
    per_budget = [scaling.allocations(c) for c in budgets]
    allocations = {rule: ([a[rule][0] for a in per_budget], [a[rule][1] for a in per_budget])
                   for rule in per_budget[0]}
    return Chart("compute_optimal_chart", {
        "budgets": budgets, "allocations": allocations, "budget": budget,
        "title": "Compute-optimal allocation of a budget C = 6ND"})


class ScalingSpec(Spec):
    """A compute budget -> the compute-optimal parameters and tokens (Chinchilla, Kaplan),
    the loss Chinchilla's fit predicts, and the days, device-hours and money to train it."""

    name = "Scaling explorer"
    title_html = ("<b>Scaling explorer</b>: how to spend a training budget C = 6ND, and what "
                  "it costs to train the compute-optimal model.")
    defaults = SCALING_DEFAULTS
    extra = ("compute_flops", "price_per_device_hour")

    def settings(self, **given) -> dict:
        """The budget opens at the defaults' published run unless ``given`` names one; the
        price has no default (cite yours)."""
        s = super().settings(**given)
        budget_run = s.pop("budget_run")
        s.setdefault("compute_flops", float(published.run(budget_run)["inputs"]["compute_flops"]))
        return s

    def controls(self) -> dict[str, Control]:
        return {
            "compute_flops": _log_slider("budget C (FLOP)", 18, 27),
            "device": Control("dropdown", "device", tuple(hardware.devices())),
            "n_devices": Control("int", "devices", lo=1, hi=10_000_000),
            "mfu": _fraction("MFU"),
            "price_per_device_hour": Control("float", "$/device-hour", lo=0.0, hi=10_000.0,
                                             step=0.01),
        }

    def render(self, settings: dict) -> Rendered:
        report = scaling_report(**settings)
        numbers = {"seconds": report.seconds, "device_hours": report.device_hours,
                   "cost": report.cost, "params": report.params, "tokens": report.tokens,
                   **{f"{rule}: loss": loss for rule, loss in report.losses.items()}}
        return Rendered(scaling_summary_html(report, settings),
                        compute_optimal_chart(settings["compute_flops"]), numbers)
