"""The book's colours and the hardware metrics' formats: pure data, shared by the matplotlib
charts (`plots.style`) and the SVG charts the website draws live (`svg_charts`), so a chart
looks the same in a notebook and in the page."""

from __future__ import annotations

from . import units

__all__ = ["PART_COLOURS", "ROOF_COLOURS", "MEMORY_COLOURS", "STEP_TIME_COLOURS"]

# One colour per kind of parameter, reused by every chart that splits a model up.
PART_COLOURS = {
    "embeddings": "#4C72B0",
    "attention": "#DD8452",
    "MLP": "#55A868",
    "norms": "#C44E52",
    "output head": "#8172B3",
    "relative positions": "#937860",
}


# One colour per roofline (device), cycled; measured points reuse them by group.
ROOF_COLOURS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3",
                "#8C8C8C")


# One colour per part of the training-memory ledger (memory.TrainingMemory's fields).
MEMORY_COLOURS = {
    "weights": "#4C72B0",
    "gradients": "#DD8452",
    "optimizer states": "#55A868",
    "activations": "#C44E52",
    "logits and loss": "#8172B3",
}


# One colour per part of a training step's time (parallel.StepTime's parts).
STEP_TIME_COLOURS = {
    "compute": "#4C72B0",
    "tensor-parallel comm": "#DD8452",
    "data-parallel comm": "#55A868",
    "pipeline bubble": "#C44E52",
}


_METRIC_FORMATS = {
    "peak FLOP/s": units.format_rate,
    "memory (bytes)": lambda v: units.format_bytes(v, binary=False),
    "bandwidth (bytes/s)": lambda v: units.format_bytes(v, binary=False) + "/s",
    "FLOP/s per watt": lambda v: units.format_rate(v).replace("FLOP/s", "FLOP/s/W"),
    "ridge point (FLOP/B)": lambda v: f"{v:.3g}",
}
