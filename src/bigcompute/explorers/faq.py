"""The FAQ explorer (chapter 9): will this model train and serve on this device?"""

from __future__ import annotations

import html

from .. import hardware, units
from ..estimate import ModelOnDevice, model_on_device
from ..tables import key_value_html
from .base import Chart, Control, Rendered, Spec
from .memory import SEQ_CHOICES, decoder_models

__all__ = ["FAQ_DEFAULTS", "FAQSpec", "faq_summary_html", "faq_chart"]

# The FAQ explorer opens on LLaMA-2-7B (Touvron et al. 2023b) and one H100: the model the FAQ
# answers with, on the device most questions are about. MFU 0.4 as `timing.training_time`'s
# default; serving at batch 1, the latency-bound case.
FAQ_DEFAULTS = {"model": "llama2-7b", "device": "h100-sxm", "n_devices": 1024, "mfu": 0.4,
                "seq": 4096}


def faq_summary_html(report: ModelOnDevice) -> str:
    """The FAQ report as a short table of answers."""
    dev, cap = report.device, report.device.memory_bytes
    one = report.train_one_device
    params = units.format_count(report.params)
    if report.active_params != report.params:
        params += f" ({units.format_count(report.active_params)} active per token)"
    fits_one = "yes" if one.peak <= cap else "no"
    rows = [("parameters", params),
            (f"train on one {html.escape(dev.name)}?",
             (f"{fits_one}: peaks at {units.format_bytes(one.peak)} of "
              f"{units.format_bytes(cap)} (micro-batch 1, {report.seq:,} tokens)"))]
    if report.train_zero3:
        dp, mem = report.train_zero3
        rows.append(("fewest devices, ZeRO-3",
                     f"{dp:,} (peak {units.format_bytes(mem.peak)} each)"))
    else:
        rows.append(("fewest devices, ZeRO-3",
                     ("none: one sequence's activations overflow the device; add tensor or "
                      "pipeline parallelism")))
    est = report.train
    energy = (f"; {est.energy_kwh / 1000:,.0f} MWh at TDP" if dev.tdp_watts
              else "; no published TDP, so no energy")
    rows.append((f"train on {units.format_count(est.tokens)} tokens ({report.tokens_note})",
                 (f"{units.format_days(est.days)} on {est.n_devices:,} devices at MFU "
                  f"{est.mfu:.0%}{energy}")))
    for dtype, s in report.serving.items():
        speed = (f"{s.tokens_per_s:,.0f} tokens/s at batch 1" if s.tokens_per_s
                 else "no speed where it does not fit" if not s.fits
                 else "no peak listed for this dtype")
        verdict = "fits" if s.fits else "does not fit"
        rows.append((f"serve with {dtype} weights",
                     f"{verdict}: {units.format_bytes(s.memory.total)}; {speed}"))
    return key_value_html(rows)


def faq_chart(model: str = FAQ_DEFAULTS["model"], device: str = FAQ_DEFAULTS["device"],
              seq: int = FAQ_DEFAULTS["seq"], report: ModelOnDevice | None = None) -> Chart:
    """The FAQ explorer's chart: memory per device to train (one device; ZeRO-3 on the
    fewest devices that fit) and to serve (16-bit, int8, int4) against the device's memory."""
    report = report or model_on_device(model, device, FAQ_DEFAULTS["n_devices"],
                                       FAQ_DEFAULTS["mfu"], seq)
    stacks = {"train, 1 device": report.train_one_device.parts()}
    if report.train_zero3:
        dp, mem = report.train_zero3
        stacks[f"train, ZeRO-3 over {dp:,}"] = mem.parts()
    for dtype, s in report.serving.items():
        stacks[f"serve, {dtype} weights"] = {"weights": s.memory.weights,
                                             "KV cache": s.memory.kv_cache}
    dev = report.device
    return Chart("memory_stack_chart", {
        "stacks": stacks, "capacity_bytes": dev.memory_bytes, "capacity_label": dev.memory_label,
        "title": f"{report.cfg.name}, {report.seq:,} tokens: memory per device"})


class FAQSpec(Spec):
    """Pick a model and a device: the FAQ's answers for that pair
    (`estimate.model_on_device`)."""

    name = "FAQ explorer"
    title_html = ("<b>FAQ explorer</b>: does this model train and serve on this device, how "
                  "long does training take, how fast does it generate?")
    defaults = FAQ_DEFAULTS

    def controls(self) -> dict[str, Control]:
        return {"model": Control("dropdown", "model", tuple(decoder_models())),
                "device": Control("dropdown", "device", tuple(hardware.devices())),
                "n_devices": Control("int", "devices", lo=1, hi=10_000_000),
                "mfu": Control("fraction", "MFU", lo=0.01, hi=1.0, step=0.01, width="420px"),
                "seq": Control("dropdown", "tokens", SEQ_CHOICES)}

    def render(self, settings: dict) -> Rendered:
        report = model_on_device(**settings)
        numbers = {"params": report.params,
                   "train_one_device_bytes": report.train_one_device.total,
                   "zero3_devices": report.train_zero3[0] if report.train_zero3 else None,
                   "train_days": report.train.days,
                   **{f"serve {d}: tokens_per_s": s.tokens_per_s
                      for d, s in report.serving.items()}}
        return Rendered(faq_summary_html(report), faq_chart(report=report), numbers)
