"""The workload explorer (chapter 6.1): one prediction of each workload on one device."""

from __future__ import annotations

import html

from .. import hardware, units, workloads
from ..tables import key_value_html
from .base import Chart, Control, Rendered, Spec

__all__ = ["WORKLOAD_DEFAULTS", "SERVING_DTYPES", "WorkloadSpec", "workload_summary_html",
           "workload_cost_chart", "workload_map_chart"]

# Opens on the GPT-style workload on an H100, 32 predictions at a time, at the library's
# prefill efficiency (timing.prefill_time's mfu=0.5).
WORKLOAD_DEFAULTS = {"workload": "llama2-7b", "device": "h100-sxm", "dtype": "bf16",
                     "batch": 32, "mfu": 0.5}
SERVING_DTYPES = ("bf16", "fp16", "fp8", "int8", "fp32")


def workload_summary_html(p: workloads.WorkloadProfile) -> str:
    """A `workloads.WorkloadProfile` as a table."""
    w = workloads.workload(p.key)
    params = (f"{p.params:,.0f} ({units.format_count(p.params)})" if p.params
              else "not published")
    rows = [
        ("one prediction", html.escape(w.prediction)),
        ("parameters", params),
        ("FLOPs per prediction", (f"{units.format_flops(p.forward_flops)} "
                                  f"({html.escape(p.forward_flops_how)})")),
        ("training compute", (f"{units.format_flops(p.training_flops)} "
                              f"({html.escape(p.training_flops_how)})")),
        ("device time per prediction", (f"{units.format_seconds(p.seconds_per_prediction)} "
                                        f"on {html.escape(p.device)}, {html.escape(p.bound)}-"
                                        f"bound ({html.escape(p.serving_how)})")),
        ("predictions per device-hour", f"{p.predictions_per_device_hour:,.0f}"),
        ("device-hours per 1,000", f"{p.device_hours_per_1000:.3g}"),
    ]
    if p.cost_per_1000 is not None:
        rows.append(("cost per 1,000 predictions",
                     (f"{units.format_small_dollars(p.cost_per_1000)} at "
                      f"${p.price_per_device_hour:g} per device-hour")))
    if p.energy_wh_per_prediction is not None:
        rows.append(("energy per prediction (TDP)", f"{p.energy_wh_per_prediction:.3g} Wh"))
    return key_value_html(rows)


def workload_cost_chart(settings: dict, price_per_device_hour: float) -> Chart:
    """Device-seconds per prediction of every workload that runs on the settings' device,
    the chosen one highlighted, each bar noting the cost per 1,000 predictions."""
    ps = workloads.profiles(settings["device"], settings["batch"], settings["dtype"],
                            settings["mfu"], price_per_device_hour)
    values, notes, skipped = {}, {}, []
    for key, p in ps.items():
        if isinstance(p, str):
            skipped.append(key)
            continue
        values[key] = p.seconds_per_prediction
        notes[key] = (f"{units.format_seconds(p.seconds_per_prediction)}, "
                      f"{units.format_small_dollars(p.cost_per_1000)} per 1,000")
    if not values:
        raise ValueError(f"no workload runs on {settings['device']} in {settings['dtype']}")
    title = (f"Serving on {settings['device']} ({settings['dtype']}, batch "
             f"{settings['batch']}, {settings['mfu']:.0%} of peak) at "
             f"${price_per_device_hour:g}/device-hour")
    if skipped:
        title += f"\nnot shown: {', '.join(skipped)} (no timing on this device)"
    return Chart("ranked_bar_chart", {
        "values": values, "xlabel": "device-seconds per prediction (roofline)",
        "highlight": settings["workload"], "notes": notes, "title": title})


class WorkloadSpec(Spec):
    """Pick a workload and a device: parameters, FLOPs per prediction, training compute,
    device time, energy and cost per 1,000 predictions (`workloads.profile`)."""

    name = "Workload explorer"
    title_html = ("<b>Workload explorer</b>: one prediction of each workload on one device. "
                  "Time is the roofline (FLOPs at the chosen share of peak vs the weights "
                  "read), or prefill + decode for generated text; cost = device-hours "
                  "&times; your price.")
    defaults = WORKLOAD_DEFAULTS
    extra = ("price_per_device_hour",)  # no default: cite yours

    def controls(self) -> dict[str, Control]:
        return {
            "workload": Control("dropdown", "workload", tuple(workloads.workloads())),
            "device": Control("dropdown", "device", tuple(hardware.devices())),
            "dtype": Control("dropdown", "dtype", SERVING_DTYPES),
            "batch": Control("int", "batch", lo=1, hi=4096),
            "mfu": Control("fraction", "share of peak", lo=0.01, hi=1.0, step=0.01,
                           width="420px"),
            "price_per_device_hour": Control("float", "$/device-hour", lo=0.0, hi=10_000.0,
                                             step=0.01),
        }

    def render(self, settings: dict) -> Rendered:
        s = dict(settings)
        price = s.pop("price_per_device_hour")
        p = workloads.profile(s["workload"], s["device"], s["batch"], s["dtype"], s["mfu"],
                              price)
        return Rendered(workload_summary_html(p), workload_cost_chart(s, price), p.as_dict())


def workload_map_chart(highlight: str | None = None) -> Chart:
    """Every workload by FLOPs per prediction and training compute (`plots.workload_map_chart`);
    no device is involved (neither axis depends on one)."""
    points = []
    for key in workloads.workloads():
        w = workloads.workload(key)
        fwd, how = workloads.forward_flops(key)
        points.append({"label": key, "domain": w.domain, "forward_flops": fwd,
                       "training_flops": workloads.training_flops(key)[0],
                       "params": workloads.param_count(key),
                       "upper_bound": how.startswith("upper bound")})
    return Chart("workload_map_chart", {
        "points": points, "highlight": highlight,
        "title": "Representative workloads: cost of one prediction vs cost of training"})
