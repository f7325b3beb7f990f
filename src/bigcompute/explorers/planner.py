"""The parallelism planner (chapter 3.6): every DP x TP x PP split of a training run."""

from __future__ import annotations

from .. import hardware, units
from ..planner import plan_parallelism
from ..tables import Column, html_table
from .base import Chart, Control, Rendered, Spec, note_html, verdict_html
from .memory import PRECISIONS, RECOMPUTE_CHOICES, SEQ_CHOICES, decoder_models

__all__ = ["PLANNER_DEFAULTS", "PLANNER_DEVICE_COUNTS", "PLANNER_ROWS", "PlannerSpec",
           "planner_options", "planner_summary_html", "planner_chart"]

# LLaMA-2-13B trained on 4M-token batches of 4096-token sequences (Touvron et al. 2023b,
# sec. 2.2: "global batch-size of 4M tokens"), i.e. 1024 sequences per step; 64 H100s.
PLANNER_DEFAULTS = {"model": "llama2-13b", "device": "h100-sxm", "n_devices": 64,
                    "global_batch": 1024, "seq": 4096, "micro_batch": 1, "zero_stage": 1,
                    "recompute": "selective", "precision": "mixed-bf16"}
PLANNER_DEVICE_COUNTS = tuple(2**k for k in range(3, 15))  # 8 ... 16,384
PLANNER_ROWS = 10

_PLAN_COLUMNS = [Column(key, align="right") for key in (
    "plan", "micro-batches", "memory / device", "step", "TP comm", "DP comm", "bubble", "MFU")]


def planner_options(settings: dict) -> list:
    """`planner.plan_parallelism` for a planner setting (best first)."""
    return plan_parallelism(
        settings["model"], settings["n_devices"], settings["global_batch"], settings["seq"],
        settings["device"], micro_batch=settings["micro_batch"],
        precision=settings["precision"], zero_stage=settings["zero_stage"],
        recompute=RECOMPUTE_CHOICES.get(settings["recompute"], settings["recompute"]))


def planner_summary_html(options: list, settings: dict, rows: int = PLANNER_ROWS) -> str:
    """The verdict (the fastest plan that fits) and a table of the best ``rows`` plans."""
    fitting = [o for o in options if o.fits]
    if fitting:
        best = fitting[0]
        verdict = verdict_html(True, (
            f"Fastest plan that fits: {best.label} ({best.n_microbatches} micro-batches of "
            f"{best.micro_batch}), {units.format_seconds(best.step.total_seconds)} per step, "
            f"MFU {best.step.mfu:.0%}, peak {units.format_bytes(best.memory.peak)} per device. "
            f"{len(fitting)} of {len(options)} valid splits fit."))
    else:
        smallest = min(options, key=lambda o: o.memory.peak)
        verdict = verdict_html(False, (
            f"None of the {len(options)} valid splits fits in "
            f"{units.format_bytes(smallest.capacity_bytes)}: the smallest needs "
            f"{units.format_bytes(smallest.memory.peak)} per device at its peak "
            f"({smallest.label}). "
            "Try more devices, a higher ZeRO stage or full recomputation."))
    table_rows = [{"plan": o.label, "micro-batches": f"{o.n_microbatches:,}",
                   "memory / device": (units.format_bytes(o.memory.peak)
                                       + ("" if o.fits else " (too big)")),
                   "step": units.format_seconds(o.step.total_seconds),
                   "TP comm": units.format_seconds(o.step.tp_comm_seconds),
                   "DP comm": units.format_seconds(o.step.dp_comm_seconds),
                   "bubble": f"{o.bubble_fraction:.1%}", "MFU": f"{o.step.mfu:.0%}",
                   "fits": o.fits} for o in options[:rows]]
    table = html_table(table_rows, _PLAN_COLUMNS, css_class="bigcompute-summary",
                       row_style=lambda r: "" if r["fits"] else ";color:#8a1f11")
    note = ("Memory: the step's peak from memory.training_memory (flash attention, sequence "
            "parallel with TP); "
            "time from parallel.step_time at 60% of peak for the matmuls, TP inside a node on "
            "NVLink, DP across nodes at 50 GB/s per GPU once the run spans more than one "
            "8-GPU node. Bubble = (p-1)/(m+p-1).")
    return verdict + table + note_html(note)


def planner_chart(options: list, settings: dict, rows: int = PLANNER_ROWS) -> Chart:
    """The best ``rows`` plans: step time by part and memory per device."""
    dev = hardware.device(settings["device"])
    data = [{"label": o.label, "fits": o.fits, "memory": o.memory.peak,
             "parts": {"compute": o.step.compute_seconds,
                       "tensor-parallel comm": o.step.tp_comm_seconds,
                       "data-parallel comm": o.step.dp_comm_seconds,
                       "pipeline bubble": o.step.bubble_seconds}}
            for o in options[:rows]]
    title = (f"{settings['model']} on {settings['n_devices']:,} x {dev.name}: "
             f"{settings['global_batch']:,} sequences of {settings['seq']:,} tokens per step")
    return Chart("parallel_plan_chart", {"rows": data, "capacity_bytes": dev.memory_bytes,
                                         "capacity_label": dev.memory_label, "title": title})


class PlannerSpec(Spec):
    """N devices, a model and a batch -> every DP x TP x PP split, with memory per device,
    communication time and the pipeline bubble (`planner.plan_parallelism`)."""

    name = "Parallelism planner"
    title_html = ("<b>Parallelism planner</b>: split a training run over N devices as data "
                  "&times; tensor &times; pipeline parallel. Global batch in sequences.")
    defaults = PLANNER_DEFAULTS

    def controls(self) -> dict[str, Control]:
        def dropdown(label, options):
            return Control("dropdown", label, tuple(options))

        return {"model": dropdown("model", decoder_models()),
                "device": dropdown("device", hardware.devices()),
                "n_devices": dropdown("devices", PLANNER_DEVICE_COUNTS),
                "global_batch": Control("int", "global batch", lo=1, hi=1_000_000),
                "seq": dropdown("sequence", SEQ_CHOICES),
                "micro_batch": dropdown("micro-batch", (1, 2, 4, 8, 16)),
                "zero_stage": dropdown("ZeRO stage", (0, 1, 2, 3)),
                "recompute": dropdown("recompute", RECOMPUTE_CHOICES),
                "precision": dropdown("precision", PRECISIONS)}

    def render(self, settings: dict) -> Rendered:
        options = planner_options(settings)
        best = next((o for o in options if o.fits), None)
        numbers = {"plans": len(options), "fitting": sum(o.fits for o in options),
                   "best": best.label if best else None,
                   "best_step_seconds": best.step.total_seconds if best else None,
                   "best_mfu": best.step.mfu if best else None}
        return Rendered(planner_summary_html(options, settings),
                        planner_chart(options, settings), numbers)
