"""ipywidgets explorers: each explorer's pure half (`bigcompute.explorers`) in an ipywidgets
shell (`base.Explorer`), and the static figure that accompanies it in the book.

    from bigcompute.widgets import memory_explorer
    memory_explorer(model="llama2-13b", seq=2048)

Each factory takes the explorer's settings as keywords (an unknown one raises TypeError);
each ``*_figure`` draws the explorer's static companion with matplotlib. ipywidgets and
matplotlib are needed here, so ``import bigcompute`` never imports this package.
"""

from __future__ import annotations

import inspect

from .. import plots
from ..explorers import costs, faq, hardware, memory, parameters, planner, reliability, trends
from ..explorers import workloads as workload_explorers
from ..explorers.base import check_settings
from .base import Explorer, control_widget
from .snapshot import controls_snapshot_html, snapshot_with_controls

__all__ = [
    "Explorer", "control_widget", "controls_snapshot_html", "snapshot_with_controls",
    "parameter_explorer", "parameter_scaling_figure", "hardware_explorer", "hardware_figure",
    "roofline_explorer", "roofline_figure", "memory_explorer", "memory_sharding_figure",
    "training_cost_explorer", "scaling_explorer", "compute_optimal_figure",
    "workload_explorer", "workload_cost_figure", "workload_map_figure",
    "reliability_explorer", "goodput_figure", "faq_explorer", "faq_figure",
    "parallelism_planner", "parallelism_plan_figure", "trend_explorer", "trend_figure",
    "explorer_factories",
]


def _explorer(spec, **settings) -> Explorer:
    return Explorer(spec, spec.settings(**settings))


# ---------------------------------------------------------------- parameters (4.1)

def parameter_explorer(**settings) -> Explorer:
    """The chapter 4.1 explorer, opening on GPT-2 small unless ``settings`` (d_model,
    n_layers, n_heads, vocab_size) say otherwise."""
    return _explorer(parameters.ParameterSpec(), **settings)


def parameter_scaling_figure(**kwargs):
    """Parameters against d_model for a few depths
    (`explorers.parameters.parameter_scaling_chart`)."""
    return plots.draw(parameters.parameter_scaling_chart(**kwargs))


# ---------------------------------------------------------------- hardware (2.2, 2.3)

def hardware_explorer(**settings) -> Explorer:
    """The chapter 2.2 explorer: ``devices`` (catalogue names) and ``dtype``."""
    return _explorer(hardware.HardwareSpec(), **settings)


def hardware_figure(devices=hardware.HARDWARE_DEFAULTS["devices"],
                    dtype=hardware.HARDWARE_DEFAULTS["dtype"]):
    """The hardware explorer's static companion: its chart at the given (default) settings."""
    return plots.draw(hardware.hardware_chart(devices, dtype))


def roofline_explorer(**settings) -> Explorer:
    """The chapter 2.3 explorer: ``device``, ``dtype``, and the matmul's ``m``, ``n``, ``k``;
    opens on decoding one token of Llama-2-7B's MLP on an H100."""
    return _explorer(hardware.RooflineSpec(), **settings)


def roofline_figure(device=hardware.ROOFLINE_DEFAULTS["device"],
                    dtype=hardware.ROOFLINE_DEFAULTS["dtype"], model=hardware.ROOFLINE_MODEL):
    """The roofline explorer's static companion: every preset shape of ``model`` on the
    device's roofline."""
    return plots.draw(hardware.roofline_presets_chart(device, dtype, model))


# ---------------------------------------------------------------- memory (4.3)

def memory_explorer(**settings) -> Explorer:
    """The chapter 4.3 explorer, opening on LLaMA-2-7B with mixed-precision AdamW on one H100
    (`explorers.memory.MEMORY_DEFAULTS`) unless ``settings`` say otherwise."""
    return _explorer(memory.MemorySpec(), **settings)


def memory_sharding_figure(model: str = memory.MEMORY_DEFAULTS["model"], dp: int = 8,
                           **settings):
    """The memory explorer's static companion: one device, ZeRO-1/2/3 over ``dp`` devices,
    ZeRO-3 with full recomputation."""
    check_settings(settings, memory.MEMORY_DEFAULTS)
    return plots.draw(memory.memory_sharding_chart(model, dp, **settings))


# ---------------------------------------------------------------- costs (4.4, 4.5)

def training_cost_explorer(*, price_per_device_hour: float, grid_kg_per_kwh: float,
                           **settings) -> Explorer:
    """The chapter 4.4 explorer. The price and the grid intensity are yours to give (cite
    them where you show them); the rest opens on LLaMA-65B's run
    (`explorers.costs.TRAINING_COST_DEFAULTS`) unless ``settings`` (params, tokens, device,
    n_devices, mfu, pue, power_watts; 0 W means the device's TDP) say otherwise."""
    return _explorer(costs.TrainingCostSpec(), price_per_device_hour=price_per_device_hour,
                     grid_kg_per_kwh=grid_kg_per_kwh, **settings)


def scaling_explorer(*, price_per_device_hour: float, **settings) -> Explorer:
    """The chapter 4.5 explorer, opening on Gopher's budget on 2048 A100s at MFU 0.4 unless
    ``settings`` (compute_flops, device, n_devices, mfu) say otherwise. The price per
    device-hour is yours to give (and cite)."""
    return _explorer(costs.ScalingSpec(), price_per_device_hour=price_per_device_hour,
                     **settings)


def compute_optimal_figure(budget: float | None = None, lo: float = 1e18, hi: float = 1e27):
    """Compute-optimal N and D against the budget for the three rules, the budget marked."""
    return plots.draw(costs.compute_optimal_chart(budget, lo, hi))


# ---------------------------------------------------------------- workloads (6.1)

def workload_explorer(*, price_per_device_hour: float, **settings) -> Explorer:
    """The chapter 6.1 explorer, opening on `explorers.workloads.WORKLOAD_DEFAULTS` unless
    ``settings`` (workload, device, dtype, batch, mfu) say otherwise. The price per
    device-hour is yours to give (and cite): `reference_figures.price(device)` holds a few
    published ones."""
    return _explorer(workload_explorers.WorkloadSpec(),
                     price_per_device_hour=price_per_device_hour, **settings)


def workload_cost_figure(settings: dict, price_per_device_hour: float):
    """Device-seconds per prediction of every workload on the settings' device."""
    return plots.draw(workload_explorers.workload_cost_chart(settings, price_per_device_hour))


def workload_map_figure(highlight: str | None = None):
    """Every workload by FLOPs per prediction and training compute."""
    return plots.draw(workload_explorers.workload_map_chart(highlight))


# ---------------------------------------------------------------- reliability (8.3)

def reliability_explorer(**settings) -> Explorer:
    """The chapter 8.3 explorer, opening on Llama 3's 16,384 GPUs and the per-device MTBF its
    reported interruptions imply, with 1-minute checkpoints and 10-minute restarts, unless
    ``settings`` say otherwise."""
    return _explorer(reliability.ReliabilitySpec(), **settings)


def goodput_figure(n_devices: int, device_mtbf_hours: float, checkpoint_seconds: float,
                   restart_seconds: float):
    """Goodput against the checkpoint interval, Young's and Daly's optima starred."""
    return plots.draw(reliability.goodput_chart(n_devices, device_mtbf_hours,
                                                checkpoint_seconds, restart_seconds))


# ---------------------------------------------------------------- FAQ (9)

def faq_explorer(**settings) -> Explorer:
    """The chapter 9 explorer, opening on `explorers.faq.FAQ_DEFAULTS` unless ``settings``
    say otherwise."""
    return _explorer(faq.FAQSpec(), **settings)


def faq_figure(model: str = faq.FAQ_DEFAULTS["model"], device: str = faq.FAQ_DEFAULTS["device"],
               seq: int = faq.FAQ_DEFAULTS["seq"], report=None):
    """Memory per device to train and to serve the model, against the device's memory."""
    return plots.draw(faq.faq_chart(model, device, seq, report))


# ---------------------------------------------------------------- parallelism (3.6)

def parallelism_planner(**settings) -> Explorer:
    """The chapter 3.6 planner, opening on `explorers.planner.PLANNER_DEFAULTS` unless
    ``settings`` say otherwise."""
    return _explorer(planner.PlannerSpec(), **settings)


def parallelism_plan_figure(**settings):
    """The planner's static companion at the given settings (defaults: `PLANNER_DEFAULTS`)."""
    s = planner.PlannerSpec().settings(**settings)
    return plots.draw(planner.planner_chart(planner.planner_options(s), s))


# ---------------------------------------------------------------- trends (1.2)

def trend_explorer(**settings) -> Explorer:
    """The chapter 1.2 explorer, opening on all domains, 2012-2025, unless ``settings``
    (domains, years, labels) say otherwise."""
    return _explorer(trends.TrendSpec(), **settings)


def trend_figure(**settings):
    """The explorer's static companion at the given settings (defaults: `TREND_DEFAULTS`)."""
    s = trends.TrendSpec().settings(**settings)
    return plots.draw(trends.trend_chart(s["domains"], s["years"], s["labels"]))


def explorer_factories() -> dict:
    """{name: factory} of every public function here that returns an `Explorer`, found by its
    return annotation, so that a new explorer is benchmarked and tested without a list."""
    return {name: fn for name, fn in sorted(globals().items())
            if inspect.isfunction(fn) and not name.startswith("_")
            and fn.__annotations__.get("return") in (Explorer, "Explorer")}
