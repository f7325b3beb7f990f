"""The book's look: one colour per part, device, domain or step-time component, and the
tick formatters every chart shares. matplotlib is imported inside each formatter."""

from __future__ import annotations

from .. import units
from ..palette import (  # noqa: F401  (the charts read the formats here)
    _METRIC_FORMATS,
    MEMORY_COLOURS,
    PART_COLOURS,
    ROOF_COLOURS,
    STEP_TIME_COLOURS,
)

__all__ = [
    "PART_COLOURS", "ROOF_COLOURS", "MEMORY_COLOURS", "DOMAIN_COLOURS", "STEP_TIME_COLOURS",
    "DOMAIN_STYLES",
]


_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


# One colour per application domain (workloads.DOMAINS).
DOMAIN_COLOURS = {"language": "#4C72B0", "vision": "#DD8452", "speech": "#55A868",
                  "science": "#C44E52"}


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


