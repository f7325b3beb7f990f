"""The chart recipes: generic charts first, then one section per topic. Each draws on
`canvas._subplots`, ends with `canvas._finish` and returns the Figure."""

from __future__ import annotations

import math

import numpy as np

from .. import units
from ..errors import fail
from ..trends import fit_doubling_time
from .canvas import _close, _finish, _layout, _subplots
from .style import (
    _MARKERS,
    _METRIC_FORMATS,
    DOMAIN_COLOURS,
    DOMAIN_STYLES,
    PART_COLOURS,
    ROOF_COLOURS,
    STEP_TIME_COLOURS,
    _binary_bytes_formatter,
    _binary_bytes_locator,
    _bytes_formatter,
    _count_formatter,
    _integer_locator,
    _intensity_formatter,
    _plain_formatter,
    _rate_formatter,
)

__all__ = [
    "line_chart", "ranked_bar_chart", "log_bars_chart", "year_trend_chart", "image_grid",
    "parameter_breakdown_chart", "parameter_scaling_chart", "roofline_chart",
    "device_comparison_chart", "compute_optimal_chart", "isoflop_chart",
    "data_limits_chart", "workload_map_chart", "pipeline_timeline_chart", "parallel_plan_chart",
    "compute_trend_chart", "training_curves_chart", "predicted_vs_measured_chart",
]

# ---------------------------------------------------------------- generic charts

def line_chart(lines: dict[str, tuple[list[float], list[float]]], *, xlabel: str,
               ylabel: str, logx: bool = False, logy: bool = False,
               marks: dict[str, tuple[float, float]] | None = None,
               hline: float | None = None, title: str | None = None,
               ylim: tuple[float, float] | None = None,
               width: float = 7.5, height: float = 4.2):
    """A few labelled lines on one axis, optional named points (stars), a dotted
    horizontal reference line (e.g. ratio 1) and fixed y limits."""
    fig, ax = _subplots(figsize=(width, height))
    for label, (xs, ys) in lines.items():
        ax.plot(xs, ys, label=label, marker="o" if len(xs) < 12 else None, markersize=4)
    for label, (x, y) in (marks or {}).items():
        ax.plot([x], [y], "k*", markersize=11, zorder=5)
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(8, 6), fontsize=9)
    if hline is not None:
        ax.axhline(hline, color="grey", linestyle=":", linewidth=1)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=9)
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    return _finish(fig)


def ranked_bar_chart(values: dict[str, float], *, xlabel: str, highlight: str | None = None,
                     notes: dict[str, str] | None = None, log: bool = True,
                     title: str | None = None, width: float = 8.0):
    """Horizontal bars (first label on top), on a log axis by default, the ``highlight`` bar
    in a strong colour, each with an optional note printed after it."""
    labels = list(values)[::-1]
    data = [values[k] for k in labels]
    fig, ax = _subplots(figsize=(width, 0.8 + 0.42 * len(labels)))
    colours = ["#C44E52" if k == highlight else "#8FA8C8" for k in labels]
    ax.barh(labels, data, color=colours)
    if log:
        ax.set_xscale("log")
        ax.set_xlim(min(data) / 3, max(data) * 30)
    else:
        ax.set_xlim(0, max(data) * 1.6)
    for y, (label, v) in enumerate(zip(labels, data)):
        note = (notes or {}).get(label, "")
        ax.text(v * (1.15 if log else 1.01) + (0 if log else max(data) * 0.01), y, note,
                va="center", fontsize=8.5)
    ax.set_xlabel(xlabel)
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    return _finish(fig)


def log_bars_chart(panels: dict[str, dict[str, float]], *, formats=None, width: float = 9.0,
                   title: str | None = None):
    """Side-by-side panels of horizontal bars on log scales, one bar per item: e.g. FLOPs per
    prediction and bytes of weights for models of very different sizes. ``panels`` maps a
    panel title to {item: value}; ``formats`` maps a panel title to a value -> text function."""
    formats = formats or {}
    items = list(next(iter(panels.values())))[::-1]
    fig, axes = _subplots(1, len(panels), figsize=(width, 0.9 + 0.5 * len(items)),
                          sharey=True, squeeze=False)
    for j, (ax, (panel, values)) in enumerate(zip(axes[0], panels.items())):
        vs = [values[i] for i in items]
        ax.barh(items, vs, color=[ROOF_COLOURS[k % len(ROOF_COLOURS)]
                                  for k in range(len(items))][::-1])
        ax.set_xscale("log")
        lo, hi = min(vs), max(vs)
        ax.set_xlim(lo / 10, hi * 1e3)
        fmt = formats.get(panel, lambda v: f"{v:.3g}")
        for y, v in enumerate(vs):
            ax.text(v * 1.3, y, fmt(v), va="center", fontsize=8.5)
        ax.set_title(panel, fontsize=10)
        ax.grid(True, axis="x", which="major", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        if j:
            ax.tick_params(left=False)
    if title:
        fig.suptitle(title, fontsize=10)
    return _finish(fig)


def year_trend_chart(series: dict[str, list[tuple[float, float, str]]], *, ylabel: str,
                     value_format=None, fit: bool = True, title: str | None = None,
                     width: float = 8.0, height: float = 4.8):
    """Values against year on a log scale, one marker style per series, each point labelled;
    with ``fit`` a least-squares exponential per series of 3 or more points
    (`trends.fit_doubling_time`) and its doubling time in the legend. ``series`` maps a
    label to (year, value, point label)."""
    fig, ax = _subplots(figsize=(width, height))
    for i, (label, pts) in enumerate(series.items()):
        colour = ROOF_COLOURS[i % len(ROOF_COLOURS)]
        years = [p[0] for p in pts]
        values = [p[1] for p in pts]
        legend = label
        if fit and len(years) >= 3 and len(set(years)) >= 2:
            line = fit_doubling_time(years, values)
            span = np.linspace(min(years), max(years), 50)
            ax.plot(span, line.predict(span), color=colour, lw=1, ls="--")
            legend = f"{label} (doubles every {line.doubling_years:.2g} years)"
        ax.scatter(years, values, color=colour, marker=_MARKERS[i % 8], s=40, zorder=5,
                   edgecolor="black", linewidth=0.5, label=legend)
        for year, value, text in pts:
            if text:
                ax.annotate(text, (year, value), textcoords="offset points", xytext=(5, 3),
                            fontsize=7.5, color="#333333")
    ax.set_yscale("log")
    ax.set_xlabel("year")
    ax.set_ylabel(ylabel)
    if value_format:
        from matplotlib.ticker import (  # lazy: matplotlib loads on the first chart
            FuncFormatter,
            NullFormatter,
        )

        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: value_format(v)))
        ax.yaxis.set_minor_formatter(NullFormatter())
    values = [p[1] for pts in series.values() for p in pts if p[1] > 0]
    if values and max(values) / min(values) < 100:  # under two decades: label 1, 2, 5 x 10^k
        from matplotlib.ticker import LogLocator  # lazy: matplotlib loads on the first chart

        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_locator(_integer_locator())
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return _finish(fig)


def image_grid(images, labels=None, *, columns: int = 8, size: float = 1.1,
               title: str | None = None):
    """Greyscale images (n, 1, h, w) or (n, h, w) side by side, each titled with its label."""
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[:, 0]
    rows = -(-len(images) // columns)
    fig, axes = _subplots(rows, columns, figsize=(size * columns, size * rows + 0.3),
                          squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i], cmap="gray_r")
            if labels is not None:
                ax.set_title(str(int(labels[i])), fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return _finish(fig)


def _place_labels(fig, ax, items, fontsize: float = 8):
    """Annotate each (x, y, text, marker radius in points) where the label overlaps no other
    label, marker or the legend: below right, above right, above left, below left, above,
    below, then the same a line further out, in that order of preference (where it overlaps
    least if none is free)."""
    renderer = fig.canvas.get_renderer()
    taken = []
    if ax.get_legend() is not None:
        box = ax.get_legend().get_window_extent(renderer)
        taken.append(_Box(box.x0, box.y0, box.x1, box.y1))
    markers = []
    for x, y, _, radius in items:
        cx, cy = ax.transData.transform((x, y))
        r = radius * fig.dpi / 72
        markers.append(_Box(cx - r, cy - r, cx + r, cy + r))
    near = [((9, -4), "left", "top"), ((9, 6), "left", "bottom"),
            ((-9, 6), "right", "bottom"), ((-9, -4), "right", "top"),
            ((0, 12), "center", "bottom"), ((0, -12), "center", "top")]
    line = 1.2 * fontsize  # points
    candidates = near + [((dx, dy + (line if dy > 0 else -line)), ha, va)
                         for (dx, dy), ha, va in near]
    points = fig.dpi / 72
    for i, (x, y, text, _) in enumerate(items):
        others = taken + markers[:i] + markers[i + 1:]
        # one annotation, measured once: a label's box in each place is that box moved to
        # the place's offset and alignment (no annotation made and removed per place)
        (dx, dy), ha, va = candidates[0]
        note = ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy),
                           fontsize=fontsize, ha=ha, va=va)
        first = note.get_window_extent(renderer)
        cx, cy = ax.transData.transform((x, y))
        left, top = first.x0 - (cx + dx * points), first.y1 - (cy + dy * points)
        best = None  # (overlapping area, box, place)
        for place in candidates:
            (dx, dy), ha, va = place
            x0 = cx + dx * points + left - _LEFT_OF_ANCHOR[ha] * first.width
            y1 = cy + dy * points + top + _ABOVE_ANCHOR[va] * first.height
            mine = _Box(x0, y1 - first.height, x0 + first.width, y1)
            area = sum(mine.overlap_area(t) for t in others)
            if best is None or area < best[0]:
                best = (area, mine, place)
            if area == 0:
                break
        _, mine, ((dx, dy), ha, va) = best
        taken.append(mine)
        note.xyann = (dx, dy)
        note.set_horizontalalignment(ha)
        note.set_verticalalignment(va)


# How much of a text's width lies left of its anchor, and of its height above it, by alignment.
_LEFT_OF_ANCHOR = {"left": 0.0, "center": 0.5, "right": 1.0}


_ABOVE_ANCHOR = {"top": 0.0, "center": 0.5, "bottom": 1.0}


class _Box:
    """An axis-aligned box in display coordinates, for placing labels."""

    def __init__(self, x0, y0, x1, y1):
        self.x0, self.y0, self.x1, self.y1 = x0, y0, x1, y1

    def overlap_area(self, other) -> float:
        width = min(self.x1, other.x1) - max(self.x0, other.x0)
        height = min(self.y1, other.y1) - max(self.y0, other.y0)
        return width * height if width >= 0 and height >= 0 else 0.0


# ---------------------------------------------------------------- parameters

def parameter_breakdown_chart(breakdowns: dict[str, dict[str, int]], *, width: float = 9.0,
                              height_per_model: float = 1.9):
    """Horizontal bars, one panel per model: parameters of each kind, labelled with the
    count and its share of the model. ``breakdowns`` maps a model's name to
    `parameter_breakdown` of it."""
    n = len(breakdowns)
    fig, axes = _subplots(n, 1, figsize=(width, 0.6 + height_per_model * n), squeeze=False)
    for ax, (name, parts) in zip(axes[:, 0], breakdowns.items()):
        total = sum(parts.values())
        labels = list(parts)[::-1]  # first part on top
        values = [parts[k] for k in labels]
        colours = [PART_COLOURS.get(k, "#777777") for k in labels]
        ax.barh(labels, values, color=colours)
        ax.set_xlim(0, max(values) * 1.45)
        for y, v in enumerate(values):
            label = f"{units.format_count(v)}  ({units.format_share(v, total)})"
            ax.text(v + max(values) * 0.01, y, label, va="center", fontsize=9)
        ax.set_title(f"{name}: {total:,} parameters", loc="left", fontsize=10)
        ax.xaxis.set_major_formatter(_count_formatter())
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1, 0].set_xlabel("parameters")
    return _finish(fig)


def parameter_scaling_chart(lines: dict[str, tuple[list[float], list[float]]], *,
                            marks: dict[str, tuple[float, float]] | None = None,
                            xlabel: str = "d_model", bytes_per_param: float = 2,
                            bytes_label: str = "bf16", title: str | None = None):
    """Parameters against a size knob (log-log), one line per label, with named points marked
    and a right-hand axis giving the weights' bytes at ``bytes_per_param``."""
    fig, ax = _subplots(figsize=(8, 4.8))
    for label, (xs, ys) in lines.items():
        ax.plot(xs, ys, label=label)
    for label, (x, y) in (marks or {}).items():
        ax.plot([x], [y], "k*", markersize=12, zorder=5)
        ax.annotate(f"{label}\n{units.format_count(y)}", (x, y), textcoords="offset points",
                    xytext=(12, -12), ha="left", va="top", fontsize=9,
                    bbox={"boxstyle": "round", "fc": "white", "ec": "none", "alpha": 0.85})
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("parameters")
    ax.yaxis.set_major_formatter(_count_formatter())
    ax.xaxis.set_major_formatter(_plain_formatter())
    right = ax.secondary_yaxis("right", functions=(lambda p: p * bytes_per_param,
                                                   lambda b: b / bytes_per_param))
    right.set_ylabel(f"weights at {bytes_label} (bytes)")
    right.yaxis.set_major_formatter(_bytes_formatter())
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
    return _finish(fig)


# ---------------------------------------------------------------- hardware and rooflines

def roofline_chart(roofs: dict[str, tuple[float, float]], points=None, *, bands=None,
                   xlim: tuple[float, float] | None = None, title: str | None = None,
                   width: float = 8.0, height: float = 5.0, annotate: bool = True):
    """A roofline (Williams, Waterman & Patterson 2009), log-log: attainable FLOP/s against
    arithmetic intensity (FLOP per byte), min(peak, intensity x bandwidth).

    ``roofs`` maps a label to (peak FLOP/s, bandwidth bytes/s); each roof's ridge point is
    marked. ``points`` maps a group label to a list of (intensity, FLOP/s, text or None):
    measured or predicted operations, one marker per group. ``bands`` maps a label to an
    intensity range (lo, hi), shaded: where a kind of operation sits.
    """
    points = points or {}
    bands = bands or {}
    ridges = [peak / bw for peak, bw in roofs.values()]
    xs_points = [x for group in points.values() for x, _, _ in group if x > 0]
    lo = min([*ridges, *xs_points, *(b[0] for b in bands.values())] or [1.0])
    hi = max([*ridges, *xs_points, *(b[1] for b in bands.values())] or [1.0])
    xlim = xlim or (2 ** math.floor(math.log2(lo) - 2), 2 ** math.ceil(math.log2(hi) + 2))
    x = np.logspace(math.log10(xlim[0]), math.log10(xlim[1]), 400)
    fig, ax = _subplots(figsize=(width, height))
    for (label, (lo_band, hi_band)), colour in zip(bands.items(), ("#f2e6d9", "#e3ecf5",
                                                                   "#e6f2e6", "#f5e3ec")):
        ax.axvspan(lo_band, hi_band, color=colour, alpha=0.8, zorder=0)
        ax.text(math.sqrt(lo_band * hi_band), 0.98, label, transform=ax.get_xaxis_transform(),
                ha="center", va="top", fontsize=8, color="#555555")
    for i, (label, (peak, bw)) in enumerate(roofs.items()):
        colour = ROOF_COLOURS[i % len(ROOF_COLOURS)]
        ridge = peak / bw
        ax.plot(x, np.minimum(peak, x * bw), color=colour, lw=2,
                label=f"{label}: {units.format_rate(peak)}, "
                      f"{units.format_bytes(bw, binary=False)}/s, ridge {ridge:.3g} FLOP/B")
        ax.plot([ridge], [peak], "o", color=colour, markersize=5, zorder=4)
        ax.axvline(ridge, color=colour, ls=":", lw=1)
    for i, (label, group) in enumerate(points.items()):
        group = [(px, py, t) for px, py, t in group if px > 0]
        if not group:
            continue
        ax.scatter([p[0] for p in group], [p[1] for p in group], marker=_MARKERS[i % 8],
                   s=42, zorder=5, color=ROOF_COLOURS[(i + len(roofs)) % len(ROOF_COLOURS)],
                   edgecolor="black", linewidth=0.5, label=label)
        if annotate:
            for px, py, text in group:
                if text:
                    ax.annotate(text, (px, py), textcoords="offset points", xytext=(4, -11),
                                fontsize=7.5, color="#333333")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlim(*xlim)
    ax.set_xlabel("arithmetic intensity (FLOP per byte moved)")
    ax.set_ylabel("attainable FLOP/s")
    ax.xaxis.set_major_formatter(_intensity_formatter())
    ax.yaxis.set_major_formatter(_rate_formatter())
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return _finish(fig)


def device_comparison_chart(devices, dtype: str, *, width: float = 10.0):
    """One panel per metric of `hardware.Device.metrics` (peak FLOP/s at ``dtype``, memory,
    bandwidth, FLOP/s per watt, ridge point), a bar per device. ``devices`` are
    `hardware.Device`s that all have a ``dtype`` peak. A panel whose values span more than 30x
    uses a log scale."""
    devices = list(devices)
    if not devices:
        fail("devices", devices, "at least one device")
    metrics = {d.name: d.metrics(dtype) for d in devices}
    names = [d.name for d in devices][::-1]  # first device on top
    keys = list(_METRIC_FORMATS)
    fig, axes = _subplots(1, len(keys), figsize=(width, 0.9 + 0.38 * len(devices)),
                          sharey=True)
    for j, (ax, key) in enumerate(zip(axes, keys)):
        values = [metrics[n][key] for n in names]
        known = [v for v in values if v]
        colours = [ROOF_COLOURS[(len(names) - 1 - i) % len(ROOF_COLOURS)]
                   for i in range(len(names))]
        ax.barh(names, [v or 0 for v in values], color=colours)
        log = bool(known) and max(known) / min(known) > 30
        if log:
            ax.set_xscale("log")
        top = max(known) if known else 1
        for y, v in enumerate(values):
            text = _METRIC_FORMATS[key](v) if v else "no TDP"
            ax.text(min(known) / 2 if log and not v else (v or 0) + (0 if log else top * 0.02),
                    y, " " + text, va="center", fontsize=7.5)
        ax.set_xlim(right=top * (8 if log else 1.9))
        if log:
            ax.set_xlim(left=min(known) / 3 if known else 1)
        ax.set_title(key if key != "peak FLOP/s" else f"peak FLOP/s ({dtype})", fontsize=9)
        ax.set_xticks([])
        ax.spines[["top", "right", "bottom"]].set_visible(False)
        if j:
            ax.tick_params(left=False)
    return _finish(fig)


# ---------------------------------------------------------------- scaling and data

def compute_optimal_chart(budgets: list[float],
                          allocations: dict[str, tuple[list[float], list[float]]], *,
                          budget: float | None = None, title: str | None = None):
    """Two log-log panels against the compute budget (FLOP): the compute-optimal parameters
    and tokens of each allocation rule (label -> (params, tokens) per budget), with the
    chosen budget as a vertical line and its optima as dots."""
    fig, axes = _subplots(1, 2, figsize=(10, 4.2))
    for ax, which, ylabel in ((axes[0], 0, "parameters N"), (axes[1], 1, "training tokens D")):
        for label, series in allocations.items():
            (line,) = ax.plot(budgets, series[which], label=label)
            if budget is not None:
                y = float(np.exp(np.interp(np.log(budget), np.log(budgets),
                                           np.log(series[which]))))
                ax.plot([budget], [y], "o", color=line.get_color())
                ax.annotate(units.format_count(y), (budget, y), textcoords="offset points",
                            xytext=(6, -10 if which == 0 and "Kaplan" in label else 4),
                            fontsize=8.5, color=line.get_color())
        if budget is not None:
            ax.axvline(budget, color="grey", linestyle=":", linewidth=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training compute C (FLOP)")
        ax.set_ylabel(ylabel)
        ax.yaxis.set_major_formatter(_count_formatter())
        ax.grid(True, which="major", alpha=0.3)
    axes[0].legend(fontsize=8.5)
    if title:
        fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    return _finish(fig)


def isoflop_chart(curves: dict[str, tuple[list[float], list[float]]],
                  minima: dict[str, tuple[float, float]], *, title: str | None = None):
    """Loss against model size at fixed compute (one curve per budget), each curve's
    minimum marked: the IsoFLOP profiles of Hoffmann et al. 2022, fig. 3."""
    fig, ax = _subplots(figsize=(7.5, 4.4))
    for label, (ns, losses) in curves.items():
        (line,) = ax.plot(ns, losses, label=label)
        if label in minima:
            n, loss = minima[label]
            ax.plot([n], [loss], "o", color=line.get_color())
    ax.set_xscale("log")
    ax.set_xlabel("parameters N")
    ax.set_ylabel("predicted loss (nats per token)")
    ax.xaxis.set_major_formatter(_count_formatter())
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8.5, title="compute budget", title_fontsize=8.5)
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    return _finish(fig)


def data_limits_chart(budgets: list[float], tokens: list[float], *, stock: float,
                      stock_interval: tuple[float, float] | None = None,
                      runs: dict[str, tuple[float, float]] | None = None,
                      title: str | None = None, width: float = 8.0, height: float = 5.0):
    """Training tokens against compute (log-log): the compute-optimal line (``budgets``,
    ``tokens``), the stock of available text as a horizontal line with its interval shaded,
    and real runs as labelled points (label -> (compute FLOPs, tokens))."""
    fig, ax = _subplots(figsize=(width, height))
    ax.plot(budgets, tokens, color="#4C72B0", label="compute-optimal tokens (D = 20N, C = 6ND)")
    if stock_interval:
        ax.axhspan(*stock_interval, color="#C44E52", alpha=0.12,
                   label="stock of public human text (90% interval)")
    ax.axhline(stock, color="#C44E52", linestyle="--", linewidth=1.2,
               label=f"central estimate, {units.format_count(stock)} tokens")
    from matplotlib.ticker import FuncFormatter  # lazy: matplotlib loads on the first chart

    for c, d in (runs or {}).values():
        ax.plot([c], [d], "o", color="#55A868", markeredgecolor="black", markersize=6, zorder=5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training compute C (FLOP)")
    ax.set_ylabel("training tokens D")
    ax.yaxis.set_major_formatter(FuncFormatter(
        lambda v, _pos: f"{v / 1e12:,.0f}T" if v >= 1e12 else units.format_count(v)))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8.5)
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    _layout(fig)
    _place_labels(fig, ax, [(c, d, label, 3) for label, (c, d) in (runs or {}).items()])
    _close(fig)
    return fig


# ---------------------------------------------------------------- workloads

def workload_map_chart(points: list[dict], *, highlight: str | None = None,
                       title: str | None = None, width: float = 8.5, height: float = 5.4):
    """Workloads placed by FLOPs per prediction (x) and training FLOPs (y), log-log, one
    colour per domain, marker area growing with the parameter count.

    Each point is a dict with ``label``, ``domain``, ``forward_flops``, ``training_flops``,
    ``params`` (None: a small square, the count is not published) and optionally
    ``upper_bound`` (True: the x value is a bound, drawn as a left-pointing triangle, "at
    most this"). The ``highlight`` label is ringed. Labels are placed where they overlap
    no other label or marker."""
    points = [dict(p) for p in points]  # marker sizes are noted on copies
    fig, ax = _subplots(figsize=(width, height))
    xs = [p["forward_flops"] for p in points]
    ys = [p["training_flops"] for p in points]
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(min(xs) / 4, max(xs) * 20)
    ax.set_ylim(min(ys) / 10, max(ys) * 10)
    seen = set()
    for p in points:
        colour = DOMAIN_COLOURS.get(p["domain"], "#777777")
        params = p.get("params")
        p["_size"] = 30 + 28 * max(0.0, math.log10(params) - 6) ** 2 if params else 60
        marker = "<" if p.get("upper_bound") else ("o" if params else "s")
        label = p["domain"] if p["domain"] not in seen else None
        seen.add(p["domain"])
        ax.scatter([p["forward_flops"]], [p["training_flops"]], s=p["_size"], color=colour,
                   marker=marker, alpha=0.85, edgecolor="black", linewidth=0.6, zorder=4,
                   label=label)
        if p["label"] == highlight:
            ax.scatter([p["forward_flops"]], [p["training_flops"]], s=p["_size"] * 2.2,
                       facecolor="none", edgecolor="black", linewidth=1.8, zorder=5)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8.5, title="domain", title_fontsize=8.5)
    ax.set_xlabel("FLOPs per prediction (forward)")
    ax.set_ylabel("training compute (FLOP)")
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    _layout(fig)
    _place_labels(fig, ax, [(p["forward_flops"], p["training_flops"],
                             p["label"] + (f"\n{units.format_count(p['params'])} params"
                                           if p.get("params") else ""),
                             math.sqrt(p["_size"] * (2.2 if p["label"] == highlight else 1)) / 2)
                            for p in sorted(points, key=lambda q: -q["training_flops"])])
    _close(fig)
    return fig


# ---------------------------------------------------------------- parallelism

def pipeline_timeline_chart(ops, n_stages: int, *, title: str | None = None,
                            width: float = 9.0):
    """A Gantt chart of a simulated pipeline step (`simulate.simulate_pipeline`): one row per
    stage (stage 0 on top), forward ops light and backward ops dark, labelled with their
    micro-batch; white gaps are the bubble."""
    fig, ax = _subplots(figsize=(width, 0.9 + 0.45 * n_stages))
    for op in ops:
        colour = "#8FB3E0" if op.kind == "F" else "#2F5F98"
        ax.barh(op.stage, op.end - op.start, left=op.start, color=colour, edgecolor="white",
                linewidth=0.8)
        ax.text((op.start + op.end) / 2, op.stage, f"{op.kind}{op.microbatch}", ha="center",
                va="center", fontsize=7, color="black" if op.kind == "F" else "white")
    ax.set_yticks(range(n_stages), [f"stage {s}" for s in range(n_stages)])
    ax.invert_yaxis()
    ax.set_xlabel("time (forward of one micro-batch on one stage = 1)")
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    return _finish(fig)


def parallel_plan_chart(rows: list[dict], *, capacity_bytes: float, capacity_label: str = "",
                        title: str | None = None, width: float = 10.0):
    """Two panels, one row per plan (first on top): the step time split into its parts
    (``STEP_TIME_COLOURS``: each row's "parts" dict, seconds) and the memory per device
    (each row's "memory" bytes) against the device's capacity; plans that do not fit are
    hatched. ``rows``: dicts with "label", "parts", "memory", "fits"."""
    rows = rows[::-1]
    labels = [r["label"] for r in rows]
    fig, (ax_t, ax_m) = _subplots(1, 2, figsize=(width, 1.2 + 0.42 * len(rows)),
                                  sharey=True, gridspec_kw={"width_ratios": [3, 2]})
    # the time axis in the unit of the slowest plan, as its label is written
    unit, scale = units.time_unit(max(sum(r["parts"].values()) for r in rows))
    left = [0.0] * len(rows)
    for part, colour in STEP_TIME_COLOURS.items():
        values = [r["parts"].get(part, 0.0) / scale for r in rows]
        ax_t.barh(labels, values, left=left, color=colour, label=part)
        left = [a + b for a, b in zip(left, values)]
    for y, total in enumerate(left):
        ax_t.text(total, y, f" {units.format_seconds(total * scale)}", va="center", fontsize=8)
    ax_t.set_xlim(0, max(left) * 1.25)
    ax_t.set_xlabel(f"time per training step ({unit})")
    ax_t.legend(loc="lower left", bbox_to_anchor=(0, 1.01), ncol=2, fontsize=8, frameon=False)
    memory = [r["memory"] for r in rows]
    ax_m.barh(labels, memory, color=["#8FA8C8" if r["fits"] else "#E8B4B4" for r in rows],
              hatch=None)
    for y, r in enumerate(rows):
        if not r["fits"]:
            ax_m.barh(y, r["memory"], color="none", edgecolor="#8a1f11", hatch="//")
    ax_m.axvline(capacity_bytes, color="black", linestyle="--", linewidth=1.1)
    ax_m.text(capacity_bytes, len(rows) - 0.4, f" {capacity_label}", fontsize=8, va="bottom")
    top = max(memory + [capacity_bytes]) * 1.15
    ax_m.set_xlim(0, top)
    ax_m.xaxis.set_major_locator(_binary_bytes_locator(top))
    ax_m.xaxis.set_major_formatter(_binary_bytes_formatter())
    ax_m.set_xlabel("memory per device")
    for ax in (ax_t, ax_m):
        ax.spines[["top", "right"]].set_visible(False)
    if title:
        fig.suptitle(title, x=0.01, ha="left", fontsize=10)
    return _finish(fig)


# ---------------------------------------------------------------- the growth of training compute

def compute_trend_chart(rows, fit=None, *, label: bool = True, title: str | None = None,
                        width: float = 9.0, height: float = 5.4):
    """Training FLOPs against year (log scale), one colour per domain, each model labelled;
    with ``fit`` (a `trends.DoublingFit`) its line and the band its slope's confidence
    interval allows, pivoting on the data's mean year. ``rows`` are `trends.NotableModel`s
    with training FLOPs."""
    fig, ax = _subplots(figsize=(width, height))
    domains = [d for d in DOMAIN_STYLES if any(r.domain == d for r in rows)]
    for d in domains:
        colour, marker = DOMAIN_STYLES[d]
        pts = [r for r in rows if r.domain == d]
        ax.scatter([r.year for r in pts], [r.training_flops for r in pts], color=colour,
                   marker=marker, s=42, edgecolor="black", linewidth=0.5, zorder=5, label=d)
    if fit is not None:
        years = np.array([r.year for r in rows], dtype=float)
        span = np.linspace(years.min() - 0.3, years.max() + 0.3, 60)
        mean_year = years.mean()
        centre = fit.intercept + fit.slope * mean_year
        lo, hi = fit.slope_ci
        edges = np.vstack([centre + s * (span - mean_year) for s in (lo, hi)])
        ax.fill_between(span, 2.0 ** edges.min(axis=0), 2.0 ** edges.max(axis=0),
                        color="#888888", alpha=0.15, lw=0,
                        label=f"slopes in the {fit.confidence:.0%} interval")
        ci_lo, ci_hi = fit.doubling_ci_months
        ax.plot(span, fit.predict(span), color="black", lw=1.2, ls="--",
                label=f"fit: doubles every {fit.doubling_months:.1f} months "
                      f"({ci_lo:.1f}-{ci_hi:.1f})")
    ax.set_yscale("log")
    first, last = min(r.year for r in rows), max(r.year for r in rows)
    ax.set_xlim(first - 0.7, last + (1.8 if label else 0.7))  # room for the last labels
    ax.set_xlabel("year")
    ax.set_ylabel("training compute (FLOP)")
    ax.xaxis.set_major_locator(_integer_locator())
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    _layout(fig)
    if label:
        _place_labels(fig, ax, [(r.year, r.training_flops, r.name, 4) for r in rows], 7)
    _close(fig)
    return fig


# ---------------------------------------------------------------- training runs, measured

def training_curves_chart(runs, *, columns: int = 3, width: float = 10.5,
                          panel_height: float = 2.9, smooth: int = 10):
    """One panel per training run (a `lab.training.Run`): the training loss of every step (light),
    its running mean over ``smooth`` steps, and the validation loss (dots), with the final
    validation metric in the title."""
    runs = list(runs)
    rows = -(-len(runs) // columns)
    fig, axes = _subplots(rows, columns, figsize=(width, panel_height * rows),
                          squeeze=False)
    for ax, run in zip(axes.flat, runs):
        steps = list(range(1, run.steps + 1))
        ax.plot(steps, run.train_loss, color="#4C72B0", alpha=0.25, lw=0.8)
        ax.plot(steps, run.smoothed_loss(smooth), color="#4C72B0", lw=1.5, label="training")
        ax.plot(run.val_steps, run.val_loss, "o-", color="#C44E52", ms=3.5, lw=1,
                label="validation")
        metric = run.val_metric[-1]
        shown = f"{metric:.1f}" if run.metric_name == "perplexity" else f"{metric:.0%}"
        ax.set_title(f"{run.name}: val {run.metric_name} {shown}", fontsize=9, loc="left")
        ax.set_xlabel("step", fontsize=8)
        ax.set_ylabel("loss (nats)", fontsize=8)
        ax.tick_params(labelsize=7.5)
        ax.grid(True, alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in list(axes.flat)[len(runs):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    return _finish(fig)


def predicted_vs_measured_chart(rows: list[dict], quantities: dict[str, tuple[str, str]], *,
                                width: float = 9.5, title: str | None = None):
    """Measured / predicted for several quantities of several models, as grouped horizontal
    bars on a log axis with 1 (a perfect prediction) marked. ``rows`` are dicts with a "name"
    and the keys named in ``quantities`` (label -> (predicted key, measured key))."""
    names = [r["name"] for r in rows][::-1]
    bars = len(names) * max(1, len(quantities))
    fig, ax = _subplots(figsize=(width, 1.0 + 0.28 * bars))
    height = 0.8 / len(quantities)
    y = np.arange(len(names))
    for i, (label, (pred, meas)) in enumerate(quantities.items()):
        ratios = [r[meas] / r[pred] for r in rows][::-1]
        ax.barh(y + (i - (len(quantities) - 1) / 2) * height, ratios, height=height,
                color=ROOF_COLOURS[i % len(ROOF_COLOURS)], label=label)
    ax.axvline(1.0, color="black", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(y, names)
    ax.set_xlabel("measured / predicted")
    ax.grid(True, axis="x", which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    return _finish(fig)
