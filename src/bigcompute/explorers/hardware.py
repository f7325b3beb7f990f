"""The hardware explorer (chapter 2.2) and the roofline explorer (chapter 2.3)."""

from __future__ import annotations

import html
from dataclasses import asdict

from .. import counts, hardware, units
from ..precision import PEAK_DTYPES
from ..tables import Column, html_table, key_value_html
from ..timing import matmul_roofline
from .base import Chart, Control, Rendered, Spec, error_html

__all__ = ["HARDWARE_DEFAULTS", "HardwareSpec", "device_comparison_html", "hardware_chart",
           "ROOFLINE_MODEL", "ROOFLINE_DEFAULTS", "RooflineSpec", "roofline_summary_html",
           "roofline_presets_chart"]

# Devices the hardware explorer opens on: three NVIDIA generations' flagships, AMD's and
# Google's, all of which have a bf16 peak.
HARDWARE_DEFAULTS = {"devices": ("a100-80gb", "h100-sxm", "b200", "mi300x", "tpu-v5p"),
                     "dtype": "bf16"}

_COMPARISON_COLUMNS = [Column("device", align="left"), Column("year", align="right"),
                       Column("peak", align="right"), Column("memory", align="right"),
                       Column("bandwidth", align="right"),
                       Column("FLOP/s per watt", align="right"),
                       Column("ridge (FLOP/B)", align="right")]


def device_comparison_html(devices, dtype: str) -> str:
    """A table of `hardware.Device.metrics` for each device, and a message for each device
    that has no ``dtype`` peak."""
    rows, errors = [], []
    for dev in devices:
        try:
            m = dev.metrics(dtype)
        except ValueError as exc:
            errors.append(error_html(exc, f"Pick another dtype to include {dev.name}."))
            continue
        per_watt = m["FLOP/s per watt"]
        rows.append({
            "device": dev.full_name, "year": str(dev.year or ""),
            "peak": units.format_rate(m["peak FLOP/s"]),
            "memory": units.format_bytes(m["memory (bytes)"], binary=False),
            "bandwidth": units.format_bytes(m["bandwidth (bytes/s)"], binary=False) + "/s",
            "FLOP/s per watt": (units.format_rate(per_watt) + "/W" if per_watt
                                else "no published TDP"),
            "ridge (FLOP/B)": f"{m['ridge point (FLOP/B)']:.3g}"})
    columns = [Column(c.key, f"peak ({dtype}, dense)" if c.key == "peak" else None,
                      align=c.align) for c in _COMPARISON_COLUMNS]
    table = html_table(rows, columns, css_class="bigcompute-summary") if rows else ""
    return table + "".join(errors)


class HardwareSpec(Spec):
    """Pick catalogue devices and a dtype; compare peak FLOP/s, memory, bandwidth, FLOP/s per
    watt and the ridge point. A device without a peak in that dtype shows why instead."""

    name = "Hardware explorer"
    title_html = ("<b>Hardware explorer</b>: dense datasheet peaks from the catalogue. "
                  "Ctrl/Cmd-click to pick several devices.")
    defaults = HARDWARE_DEFAULTS
    columns = 1
    chart_dpi = 72
    chart_width = "900px"

    def controls(self) -> dict[str, Control]:
        return {"devices": Control("multi", "devices", tuple(hardware.devices()), rows=9,
                                   width="260px", label_width="60px"),
                "dtype": Control("dropdown", "dtype", PEAK_DTYPES, width="200px",
                                 label_width="60px")}

    def render(self, settings: dict) -> Rendered:
        devices = [hardware.device(name) for name in settings["devices"]]
        if not devices:
            raise ValueError("no device picked: pick at least one device")
        dtype = settings["dtype"]
        usable = [d for d in devices if d.has_peak(dtype)]
        chart = hardware_chart(usable, dtype, width=10) if usable else None
        numbers = {d.name: d.metrics(dtype) for d in usable}
        return Rendered(device_comparison_html(devices, dtype), chart, numbers)


def hardware_chart(devices=HARDWARE_DEFAULTS["devices"], dtype=HARDWARE_DEFAULTS["dtype"],
                   **style) -> Chart:
    """The hardware explorer's chart (and static companion): the devices' metrics."""
    return Chart("device_comparison_chart",
                 {"devices": [hardware.device(d) for d in devices], "dtype": dtype, **style})


# ---------------------------------------------------------------- the roofline explorer

# Llama-2-7B (Touvron et al. 2023) gives the explorer's preset shapes; it opens on decoding.
ROOFLINE_MODEL = "llama2-7b"
ROOFLINE_DEFAULTS = {"device": "h100-sxm", "dtype": "bf16", "m": 1, "n": 11008, "k": 4096}


def roofline_summary_html(r, dev, dtype: str) -> str:
    """The roofline verdict of one operation as an HTML table."""
    peak = dev.peak_flops(dtype)
    verdict = ("<b style='color:#8a1f11'>memory-bound</b>" if r.bound == "memory"
               else "<b style='color:#1d6b2f'>compute-bound</b>")
    rows = [
        ("FLOPs", units.format_flops(r.flops)),
        ("bytes moved", units.format_bytes(r.bytes_moved, binary=False)),
        ("arithmetic intensity", f"{r.arithmetic_intensity:.3g} FLOP/B"),
        (f"ridge point of {html.escape(dev.name)} ({dtype})", f"{r.ridge_point:.3g} FLOP/B"),
        ("verdict", verdict),
        ("compute time (FLOPs / peak)", units.format_seconds(r.compute_seconds)),
        ("memory time (bytes / bandwidth)", units.format_seconds(r.memory_seconds)),
        ("<b>roofline time</b>", f"<b>{units.format_seconds(r.seconds)}</b>"),
        ("attainable FLOP/s", (f"{units.format_rate(r.achieved_flops_per_s)} "
                               f"({units.format_share(r.achieved_flops_per_s, peak)} of peak)")),
    ]
    return key_value_html(rows)


def _roof(dev, dtype: str) -> dict:
    return {f"{dev.name} {dtype}": (dev.peak_flops(dtype), dev.bandwidth_bytes_per_s)}


class RooflineSpec(Spec):
    """Choose a device, a dtype and a matmul shape (m x k) @ (k x n), or a preset from a
    transformer; see whether it is compute- or memory-bound and its roofline time."""

    name = "Roofline explorer"
    title_html = (f"<b>Roofline explorer</b>: one matmul (m &times; k) @ (k &times; n). "
                  f"Presets are the shapes of {ROOFLINE_MODEL}'s layers.")
    defaults = ROOFLINE_DEFAULTS
    columns = 1
    chart_dpi = 72
    chart_width = "720px"
    derived = ("preset",)

    def __init__(self):
        self.presets = counts.transformer_matmul_shapes(ROOFLINE_MODEL)

    def controls(self) -> dict[str, Control]:
        box = {"width": "220px", "label_width": "60px"}
        return {"preset": Control("dropdown", "shape", ("custom", *self.presets),
                                  width="440px", label_width="60px"),
                "device": Control("dropdown", "device", tuple(hardware.devices()), **box),
                "dtype": Control("dropdown", "dtype", PEAK_DTYPES, **box),
                "m": Control("int", "m", **box),
                "n": Control("int", "n", **box),
                "k": Control("int", "k", **box)}

    def preset_of(self, settings: dict) -> str:
        """The preset whose shape the settings have, else "custom"."""
        shape = (settings["m"], settings["n"], settings["k"])
        return next((name for name, s in self.presets.items() if s == shape), "custom")

    def derive(self, settings: dict) -> dict:
        return {"preset": self.preset_of(settings)}

    def apply(self, derived: str, value) -> dict:
        return {} if value == "custom" else dict(zip("mnk", self.presets[value]))

    def render(self, settings: dict) -> Rendered:
        dev = hardware.device(settings["device"])
        m, n, k, dtype = settings["m"], settings["n"], settings["k"], settings["dtype"]
        r = matmul_roofline(m, n, k, dev, dtype)
        chart = Chart("roofline_chart", {
            "roofs": _roof(dev, dtype),
            "points": {"this matmul": [(r.arithmetic_intensity, r.achieved_flops_per_s,
                                        f"{m}x{n}x{k}")]},
            "width": 7, "height": 4.2})
        return Rendered(roofline_summary_html(r, dev, dtype), chart, asdict(r))


def roofline_presets_chart(device=ROOFLINE_DEFAULTS["device"], dtype=ROOFLINE_DEFAULTS["dtype"],
                           model: str = ROOFLINE_MODEL) -> Chart:
    """The roofline explorer's static companion: every preset shape of ``model`` on the
    device's roofline, each at its roofline time."""
    dev = hardware.device(device)
    points = {}
    for label, (m, n, k) in counts.transformer_matmul_shapes(model).items():
        r = matmul_roofline(m, n, k, dev, dtype)
        points[label] = [(r.arithmetic_intensity, r.achieved_flops_per_s, None)]
    return Chart("roofline_chart", {
        "roofs": _roof(dev, dtype), "points": points,
        "title": f"Where {model}'s matmuls sit on the {dev.name} roofline ({dtype})"})
