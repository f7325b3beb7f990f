"""The memory explorer (chapter 4.3): bytes per device of one training step."""

from __future__ import annotations

import html
from dataclasses import dataclass

from .. import blocks, catalog, counts, hardware, memory, units
from ..configs import TransformerConfig
from ..precision import OPTIMIZERS, RECIPES
from ..tables import key_value_html
from .base import Chart, Control, Rendered, Spec, note_html, verdict_html
from .parameters import explorer_config, head_hint

__all__ = ["MEMORY_DEFAULTS", "PRECISIONS", "RECOMPUTE_CHOICES", "SEQ_CHOICES", "DP_CHOICES",
           "TP_CHOICES", "PP_CHOICES", "MemoryReport", "MemorySpec", "decoder_models",
           "memory_explorer_config", "training_kwargs", "memory_report", "memory_summary_html",
           "memory_chart", "memory_sharding_chart"]

# The training precisions the explorers offer (the recipes a reader would choose).
PRECISIONS = tuple(p for p in RECIPES if p != "mixed-bf16-fp32-grads")
RECOMPUTE_CHOICES = {"none": None, "selective": "selective", "full": "full"}
SEQ_CHOICES = tuple(2**k for k in range(7, 18))  # 128 ... 131,072 tokens
DP_CHOICES = tuple(2**k for k in range(13))      # 1 ... 4096
TP_CHOICES = tuple(2**k for k in range(7))       # 1 ... 64
PP_CHOICES = tuple(2**k for k in range(8))       # 1 ... 128
_CUSTOM = ("d_model", "n_layers", "n_heads", "vocab_size")

# LLaMA-2-7B (Touvron et al. 2023b) with mixed-precision AdamW at its 4096-token context:
# the explorer opens on a model whose states alone (16 B/param, 108 GB) overflow one GPU.
MEMORY_DEFAULTS = {
    "model": "llama2-7b", "batch": 1, "seq": 4096, "precision": "mixed-bf16",
    "optimizer": "adamw", "attention": "flash", "recompute": "none", "zero_stage": 0,
    "dp": 1, "tp": 1, "pp": 1, "device": "h100-sxm",
    # the custom model (model="custom"): a GPT-2-style decoder, as in the parameter explorer
    "d_model": 2048, "n_layers": 24, "n_heads": 16, "vocab_size": 50257,
}


def decoder_models() -> list[str]:
    """The catalogue's decoder-only language models whose training memory the library
    models (what the memory, FAQ and planner explorers offer): one whose structure
    `memory.activation_bytes` refuses (a qk_norm, sandwich norms, sliding windows,
    fine-grained experts, latent attention: `blocks.activation_unmodelled`) is left out."""
    return [name for name in catalog.models()
            if isinstance(catalog.model(name), TransformerConfig)
            and catalog.model(name).arch == "decoder" and catalog.model(name).frontend == "tokens"
            and blocks.activation_unmodelled(catalog.model(name)) is None]


def memory_explorer_config(settings: dict) -> TransformerConfig:
    """The model of a memory-explorer setting: a catalogue model, or for "custom" a
    GPT-2-style decoder (`explorer_config`) with positions up to the sequence length."""
    if settings["model"] != "custom":
        return catalog.model(settings["model"])
    return explorer_config(settings["d_model"], settings["n_layers"], settings["n_heads"],
                           settings["vocab_size"], max_seq_len=settings["seq"])


def training_kwargs(settings: dict) -> dict:
    """The `memory.training_memory` keywords of an explorer setting."""
    return {"precision": settings["precision"], "optimizer": settings["optimizer"],
            "attention": settings["attention"],
            "recompute": RECOMPUTE_CHOICES.get(settings["recompute"], settings["recompute"]),
            "zero_stage": settings["zero_stage"], "dp": settings["dp"], "tp": settings["tp"],
            "pp": settings["pp"]}


@dataclass(frozen=True)
class MemoryReport:
    """Everything the memory explorer shows: the config, the device, the per-device memory at
    the chosen batch, `memory.fit` (fits? largest batch), the memory at the largest batch
    that fits (None when no batch fits or it is the chosen one), and the device count."""

    cfg: TransformerConfig
    device: hardware.Device
    memory: memory.TrainingMemory
    fit: memory.Fit
    largest: memory.TrainingMemory | None
    n_devices: int


def memory_report(settings: dict) -> MemoryReport:
    """The `MemoryReport` of a memory-explorer setting, from `memory.training_memory` and
    `memory.fit` (which refuse what the model cannot do, e.g. a sequence longer than its
    learned positions)."""
    cfg = memory_explorer_config(settings)
    dev = hardware.device(settings["device"])
    kw = training_kwargs(settings)
    batch, seq = settings["batch"], settings["seq"]
    mem = memory.training_memory(cfg, batch, seq, **kw)
    fit = memory.fit(cfg, dev, batch, seq, **kw)
    largest = None
    if fit.max_batch >= 1 and fit.max_batch != batch:
        largest = memory.training_memory(cfg, fit.max_batch, seq, **kw)
    return MemoryReport(cfg, dev, mem, fit, largest,
                        settings["dp"] * settings["tp"] * settings["pp"])


def memory_summary_html(report: MemoryReport, settings: dict) -> str:
    """The ledger per device, the verdict and the largest batch, as HTML."""
    mem, fit, dev = report.memory, report.fit, report.device
    n = counts.param_count(report.cfg)
    rows = [("model", f"{html.escape(settings['model'])}, {units.format_count(n)} parameters")]
    for label, value in mem.parts().items():
        rows.append((f"&nbsp;&nbsp;{label}", (f"{units.format_bytes(value)} "
                                              f"({units.format_share(value, mem.total)})")))
    rows.append(("<b>total per device</b>", f"<b>{units.format_bytes(mem.total)}</b>"))
    rows.append(("<b>peak of the step</b>",
                 f"<b>{units.format_bytes(mem.peak)}</b> ({html.escape(mem.peak_phase)})"))
    rows.append((f"{html.escape(dev.name)} memory", units.format_bytes(dev.memory_bytes)))
    rows.append(("devices (dp &times; tp &times; pp)",
                 (f"{settings['dp']} &times; {settings['tp']} &times; {settings['pp']} = "
                 f"{report.n_devices:,}")))
    rows.append(("largest micro-batch that fits", f"{fit.max_batch:,}"))
    notes = []
    if settings["pp"] > 1:
        notes.append("With pipeline parallelism this is the first stage, which holds the "
                     "activations of pp micro-batches in flight; the logits live on the last.")
    if settings["zero_stage"] and settings["dp"] == 1:
        notes.append("ZeRO shards the model states over the data-parallel replicas: with "
                     "dp = 1 it changes nothing.")
    return (verdict_html(fit.fits, fit.message) + key_value_html(rows)
            + "".join(note_html(t) for t in notes))


def memory_chart(report: MemoryReport, settings: dict | None = None) -> Chart:
    """Stacked bars: the chosen batch and the largest batch that fits, against the device."""
    mem, fit, dev = report.memory, report.fit, report.device
    batch = settings["batch"] if settings else None
    stacks = {f"micro-batch {batch:,} (your settings)" if batch else "your settings":
              mem.parts()}
    if report.largest is not None:
        stacks[f"micro-batch {fit.max_batch:,} (largest that fits)"] = report.largest.parts()
    name = settings["model"] if settings else report.cfg.name
    return Chart("memory_stack_chart", {
        "stacks": stacks, "capacity_bytes": dev.memory_bytes,
        "capacity_label": dev.memory_label,
        "title": f"{name} on {dev.name}: memory per device"})


class MemorySpec(Spec):
    """Training memory per device: model (catalogue or custom), batch, sequence, precision,
    optimizer, attention kernel, recomputation, ZeRO stage, DP/TP/PP and device. Shows the
    ledger, whether it fits and the largest micro-batch that does, as stacked bars against
    the device's memory."""

    name = "Memory explorer"
    title_html = ("<b>Memory explorer</b>: bytes per device for one training step. "
                  "The custom model is a GPT-2-style decoder (its four settings apply when "
                  "model = custom).")
    defaults = MEMORY_DEFAULTS

    def controls(self) -> dict[str, Control]:
        def dropdown(label, options):
            return Control("dropdown", label, tuple(options))

        def whole(label, lo, hi):
            return Control("int", label, lo=lo, hi=hi)

        return {
            "model": dropdown("model", decoder_models() + ["custom"]),
            "batch": whole("micro-batch", 1, 1_000_000),
            "seq": dropdown("sequence", SEQ_CHOICES),
            "precision": dropdown("precision", PRECISIONS),
            "optimizer": dropdown("optimizer", [o for o in OPTIMIZERS if o != "adam"]),
            "attention": dropdown("attention", ("flash", "naive")),
            "recompute": dropdown("recompute", RECOMPUTE_CHOICES),
            "zero_stage": dropdown("ZeRO stage", (0, 1, 2, 3)),
            "dp": dropdown("data parallel", DP_CHOICES),
            "tp": dropdown("tensor parallel", TP_CHOICES),
            "pp": dropdown("pipeline parallel", PP_CHOICES),
            "device": dropdown("device", hardware.devices()),
            "d_model": whole("custom d_model", 64, 65536),
            "n_layers": whole("custom layers", 1, 512),
            "n_heads": whole("custom heads", 1, 512),
            "vocab_size": whole("custom vocab", 1, 1_000_000),
        }

    def inactive(self, settings: dict) -> tuple[str, ...]:
        """The custom model's settings, unless model = custom."""
        return () if settings["model"] == "custom" else _CUSTOM

    def render(self, settings: dict) -> Rendered:
        custom = settings["model"] == "custom"
        try:
            report = memory_report(settings)
        except ValueError as exc:
            if custom and settings["d_model"] % settings["n_heads"]:
                raise ValueError(f"{exc} {head_hint(settings['d_model'], settings['n_heads'])}"
                                 ) from None
            raise
        numbers = {**report.memory.as_dict(), "fits": report.fit.fits,
                   "max_batch": report.fit.max_batch, "n_devices": report.n_devices}
        return Rendered(memory_summary_html(report, settings), memory_chart(report, settings),
                        numbers)


def memory_sharding_chart(model: str = MEMORY_DEFAULTS["model"], dp: int = 8,
                          **settings) -> Chart:
    """The memory explorer's static companion: the default setting on one device, then
    ZeRO stages 1-3 over ``dp`` data-parallel devices, then ZeRO-3 with full recomputation,
    against the device's memory."""
    base = {**MEMORY_DEFAULTS, **settings, "model": model}
    variants = {"1 device, no sharding": {"dp": 1, "zero_stage": 0}}
    for stage in (1, 2, 3):
        variants[f"ZeRO-{stage}, dp = {dp}"] = {"dp": dp, "zero_stage": stage}
    variants[f"ZeRO-3, dp = {dp}, full recompute"] = {"dp": dp, "zero_stage": 3,
                                                       "recompute": "full"}
    stacks = {}
    for label, change in variants.items():
        report = memory_report({**base, **change})
        stacks[label] = report.memory.parts()
    dev = report.device
    return Chart("memory_stack_chart", {
        "stacks": stacks, "capacity_bytes": dev.memory_bytes,
        "capacity_label": dev.memory_label,
        "title": (f"{report.cfg.name}, micro-batch {base['batch']}, {base['seq']} tokens, "
                  f"{base['precision']} {base['optimizer']}: memory per device")})
