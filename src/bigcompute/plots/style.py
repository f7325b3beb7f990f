"""The book's look: one colour per part, device, domain or step-time component, and the
tick formatters every chart shares. matplotlib is imported inside each formatter."""

from __future__ import annotations

from .. import units

__all__ = [
    "PART_COLOURS", "ROOF_COLOURS", "MEMORY_COLOURS", "DOMAIN_COLOURS", "STEP_TIME_COLOURS",
    "DOMAIN_STYLES",
]

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


_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


# One colour per part of the training-memory ledger (memory.TrainingMemory's fields).
MEMORY_COLOURS = {
    "weights": "#4C72B0",
    "gradients": "#DD8452",
    "optimizer states": "#55A868",
    "activations": "#C44E52",
    "logits and loss": "#8172B3",
}


# One colour per application domain (workloads.DOMAINS).
DOMAIN_COLOURS = {"language": "#4C72B0", "vision": "#DD8452", "speech": "#55A868",
                  "science": "#C44E52"}


# One colour per part of a training step's time (parallel.StepTime's parts).
STEP_TIME_COLOURS = {
    "compute": "#4C72B0",
    "tensor-parallel comm": "#DD8452",
    "data-parallel comm": "#55A868",
    "pipeline bubble": "#C44E52",
}


# One colour and marker per domain of the notable-models dataset (`trends.DOMAINS`).
DOMAIN_STYLES = {
    "language": ("#4C72B0", "o"),
    "vision": ("#DD8452", "s"),
    "speech": ("#55A868", "^"),
    "science": ("#C44E52", "D"),
    "multimodal": ("#8172B3", "P"),
    "games": ("#937860", "X"),
}


def _count_formatter():
    from matplotlib.ticker import FuncFormatter  # lazy: matplotlib loads on the first chart

    return FuncFormatter(lambda v, _pos: units.format_count(v) if v else "0")


def _bytes_formatter():
    from matplotlib.ticker import FuncFormatter  # lazy: matplotlib loads on the first chart

    return FuncFormatter(lambda v, _pos: units.format_bytes(v, binary=False) if v else "0")


def _plain_formatter():
    from matplotlib.ticker import FuncFormatter  # lazy: matplotlib loads on the first chart

    return FuncFormatter(lambda v, _pos: f"{v:g}")


def _intensity_formatter():
    """1/4, 1/2, 1, 2, 4 ...: powers of two below 1 read as fractions."""
    from matplotlib.ticker import FuncFormatter  # lazy: matplotlib loads on the first chart

    return FuncFormatter(lambda v, _pos: f"{v:g}" if v >= 1 or v <= 0 else f"1/{1 / v:g}")


def _rate_formatter():
    from matplotlib.ticker import FuncFormatter  # lazy: matplotlib loads on the first chart

    return FuncFormatter(lambda v, _pos: units.format_rate(v) if v else "0")


def _integer_locator():
    from matplotlib.ticker import MaxNLocator  # lazy: matplotlib loads on the first chart

    return MaxNLocator(integer=True)


def _binary_bytes_formatter():
    from matplotlib.ticker import FuncFormatter  # lazy: matplotlib loads on the first chart

    return FuncFormatter(lambda v, _pos: units.format_bytes(v) if v else "0")


def _binary_bytes_locator(span: float, max_ticks: int = 7):
    """Ticks at round multiples of KiB/MiB/GiB/TiB (1, 2, 5, 10, 20, 50, ... of the unit)
    with at most ``max_ticks`` over ``span`` bytes."""
    from matplotlib.ticker import MultipleLocator  # lazy: matplotlib loads on the first chart

    unit = 1
    while span / unit >= 1024 * 2 and unit < 2**40:
        unit *= 1024
    step = unit
    for multiple in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
        step = multiple * unit
        if span / step <= max_ticks:
            break
    return MultipleLocator(step)


_METRIC_FORMATS = {
    "peak FLOP/s": units.format_rate,
    "memory (bytes)": lambda v: units.format_bytes(v, binary=False),
    "bandwidth (bytes/s)": lambda v: units.format_bytes(v, binary=False) + "/s",
    "FLOP/s per watt": lambda v: units.format_rate(v).replace("FLOP/s", "FLOP/s/W"),
    "ridge point (FLOP/B)": lambda v: f"{v:.3g}",
}
