"""The reliability explorer (chapter 8.3): failures, checkpoint intervals and goodput."""

from __future__ import annotations

import math
from dataclasses import asdict

from .. import reference_figures, reliability, units
from ..tables import key_value_html
from .base import Chart, Control, Rendered, Spec

__all__ = ["RELIABILITY_DEFAULTS", "ReliabilitySpec", "llama3_device_mtbf_hours",
           "reliability_summary_html", "goodput_chart"]

# Opens on the Llama 3 405B run (16,384 GPUs, the per-GPU MTBF its 419 interruptions in 54
# days imply) with illustrative checkpoint and restart times of 1 and 10 minutes.
RELIABILITY_DEFAULTS = {"n_devices": 16384, "checkpoint_seconds": 60.0,
                        "restart_seconds": 600.0}


def llama3_device_mtbf_hours() -> float:
    """The per-GPU MTBF that Llama 3's reported interruptions imply (`reference_figures`)."""
    value = reference_figures.value
    return reliability.device_mtbf_hours(value("llama3-unexpected-interruptions"),
                                         value("llama3-snapshot-days"), value("llama3-gpus"))


def reliability_summary_html(r: reliability.CheckpointPlan) -> str:
    rows = [
        ("failures per day", f"{r.failures_per_day:.3g}"),
        ("job MTBF", units.format_seconds(r.job_mtbf_seconds)),
        ("chance of a day without failure", f"{r.clean_day:.3g}"),
        ("Young's interval sqrt(2&delta;M)", units.format_seconds(r.young)),
        ("Daly's interval", units.format_seconds(r.daly)),
        ("goodput at Daly's interval", f"{r.goodput_daly:.1%}"),
        ("goodput checkpointing hourly", f"{r.goodput_hourly:.1%}"),
    ]
    return key_value_html(rows)


def goodput_chart(n_devices: int, device_mtbf_hours: float, checkpoint_seconds: float,
                  restart_seconds: float) -> Chart:
    """Goodput against the checkpoint interval (log), Young's and Daly's optima starred."""
    r = reliability.checkpoint_plan(n_devices, device_mtbf_hours, checkpoint_seconds,
                                    restart_seconds)
    m = r.job_mtbf_seconds
    lo, hi = math.log10(max(r.daly / 30, 1.0)), math.log10(r.daly * 30)
    taus = [10 ** (lo + (hi - lo) * i / 120) for i in range(121)]
    minutes = [t / 60 for t in taus]
    good = [100 * reliability.goodput(t, checkpoint_seconds, restart_seconds, m) for t in taus]
    label = (f"Daly {units.format_seconds(r.daly)}, {r.goodput_daly:.1%}\n"
             f"(Young {units.format_seconds(r.young)}, {r.goodput_young:.1%})")
    return Chart("line_chart", {
        "lines": {"goodput (Daly's model)": (minutes, good)},
        "xlabel": "minutes of work between checkpoints",
        "ylabel": "useful share of wall-clock time (%)", "logx": True,
        "marks": {label: (r.daly / 60, 100 * r.goodput_daly)},
        "ylim": (0, 100),  # room above the optimum for its label
        "title": (f"{n_devices:,} devices, device MTBF {device_mtbf_hours:,.0f} h (job MTBF "
                  f"{units.format_seconds(m)}), checkpoint "
                  f"{units.format_seconds(checkpoint_seconds)}, restart "
                  f"{units.format_seconds(restart_seconds)}")})


class ReliabilitySpec(Spec):
    """Devices, per-device MTBF, checkpoint and restart times -> failures per day, the
    optimal checkpoint interval (Young 1974, Daly 2006) and the goodput."""

    name = "Reliability explorer"
    title_html = ("<b>Reliability explorer</b>: a synchronous job stops when any device fails; "
                  "checkpoints bound the work lost. Goodput = useful work / wall-clock time "
                  "(Daly 2006).")
    defaults = RELIABILITY_DEFAULTS
    extra = ("device_mtbf_hours",)

    def settings(self, **given) -> dict:
        """Opens on the per-device MTBF Llama 3's interruptions imply unless ``given`` says."""
        s = super().settings(**given)
        s.setdefault("device_mtbf_hours", llama3_device_mtbf_hours())
        return s

    def controls(self) -> dict[str, Control]:
        def log_slider(label, lo, hi):
            return Control("log", label, lo=lo, hi=hi, step=0.01, width="420px")

        return {"n_devices": Control("int", "devices", lo=1, hi=10_000_000),
                "device_mtbf_hours": log_slider("device MTBF (h)", 2, 7),
                "checkpoint_seconds": log_slider("checkpoint (s)", 0, 4),
                "restart_seconds": log_slider("restart (s)", 0, 5)}

    def render(self, settings: dict) -> Rendered:
        plan = reliability.checkpoint_plan(**settings)
        return Rendered(reliability_summary_html(plan), goodput_chart(**settings), asdict(plan))
