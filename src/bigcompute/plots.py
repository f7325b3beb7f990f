"""Matplotlib helpers shared by the chapters: one look for the same kind of figure everywhere.

matplotlib is imported inside each plotting function, never at module level, so that
``import bigcompute`` (and the pure formulas) stay light. Every function returns the Figure;
in a notebook the figure is shown as the cell's result.
"""

from __future__ import annotations

import contextlib
import contextvars

from . import counts, units
from .configs import RELATIVE_BUCKETS, TransformerConfig
from .errors import fail

# One colour per kind of parameter, reused by every chart that splits a model up.
PART_COLOURS = {
    "embeddings": "#4C72B0",
    "attention": "#DD8452",
    "MLP": "#55A868",
    "norms": "#C44E52",
    "output head": "#8172B3",
    "relative positions": "#937860",
}


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


# ---------------------------------------------------------------- where a chart is drawn
#
# A chart function draws on `_subplots` and ends with `_finish` (or `_layout`, then `_close`).
# Called directly (a notebook's static figure) that is a new pyplot figure, laid out with
# tight_layout. Inside `WidgetFigure.redraw` it is the explorer's own figure, cleared and drawn
# again: the same chart code, one figure per explorer, laid out by the `WidgetFigure`.

# The WidgetFigure being redrawn, if any (a ContextVar: set only inside `redraw`).
_REDRAWING = contextvars.ContextVar("bigcompute_plots_redrawing", default=None)


def _subplots(nrows: int = 1, ncols: int = 1, *, figsize, **kwargs):
    """(figure, axes) as ``pyplot.subplots`` returns them: a new pyplot figure, or the figure
    of the `WidgetFigure` being redrawn, cleared and resized."""
    target = _REDRAWING.get()
    if target is None:
        return _pyplot().subplots(nrows, ncols, figsize=figsize, **kwargs)
    return target._subplots(nrows, ncols, figsize, kwargs)


def _layout(fig) -> None:
    """Place the axes so that no label is clipped: tight_layout for a figure of its own, the
    `WidgetFigure`'s layout for an explorer's."""
    target = _REDRAWING.get()
    if target is not None and target.figure is fig:
        target._layout()
    else:
        fig.tight_layout()


def _close(fig) -> None:
    """Let pyplot forget a finished figure: it is returned, not shown twice. (An explorer's
    figure was never pyplot's.)"""
    target = _REDRAWING.get()
    if target is None or target.figure is not fig:
        _pyplot().close(fig)


def _finish(fig):
    """Lay out a finished figure and close it."""
    _layout(fig)
    _close(fig)
    return fig


class WidgetFigure:
    """The one matplotlib figure an explorer keeps and redraws at every update.

    ``with wf.redraw(): plots.some_chart(...)`` makes the chart function draw on this figure
    instead of a new one, and `png` renders it once. What a new figure per update cost, and
    what this keeps instead:

    * the axes and their Tick objects (a log axis has dozens; making them was most of the
      cost of new axes): the axes are cleared, not remade, while the grid stays the same;
    * the Agg renderer, and with it matplotlib's caches of text extents and math text, which
      are kept per renderer and dpi (the figure is laid out and drawn at its own dpi);
    * the layout: tight_layout runs when the grid or size changes and when a render shows
      that the content no longer fits, not at every update. After a layout the figure grows
      where the finished chart reaches past an edge (a title wider than the figure, labels
      placed after the layout), as ``bbox_inches="tight"`` did, and the render that follows
      notes how clear of the edges, and of the gaps between panels, the content is. A later
      render that comes closer than that and than half the layout's padding (a label about
      to be clipped, or to run into the next panel) has the figure laid out again and
      redrawn;
    * the second render of ``savefig(bbox_inches="tight")``: the PNG is cropped to what was
      drawn, plus `CROP_PAD_INCHES`, from the one render.

    ``renders`` counts the renders (canvas draws) made: one per update unless the layout had
    to be redone.
    """

    # matplotlib's tight_layout padding (a fraction of the font size) and savefig's pad_inches
    LAYOUT_PAD = 1.08
    CROP_PAD_INCHES = 0.1

    def __init__(self, dpi: float = 80):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.figure = Figure(dpi=dpi)
        FigureCanvasAgg(self.figure)
        self.renders = 0
        self._grid = self._axes = self._axes_list = self._size = None
        self._laid_out = False
        self._reference = None  # the clearances right after the last layout

    @contextlib.contextmanager
    def redraw(self):
        """Chart functions called inside draw on this figure; yields the figure."""
        token = _REDRAWING.set(self)
        try:
            yield self.figure
        finally:
            _REDRAWING.reset(token)

    def png(self) -> bytes:
        """The figure as PNG bytes, cropped to what is drawn: one render (two when the layout
        had to be redone)."""
        import io

        import numpy as np
        from PIL import Image

        if self._reference is None:  # just laid out (a new grid or size)
            self._expand_to_content()
            pixels, box = self._render()
        else:
            pixels, box = self._render()
            if not self._fits(pixels, box):
                self._fit()
                self._expand_to_content()
                pixels, box = self._render()
        if self._reference is None:  # what this layout leaves clear
            self._reference = self._clearances(pixels, box)
        top, bottom, left, right = box
        pad = round(self.CROP_PAD_INCHES * self.figure.dpi)
        height, width = pixels.shape[:2]
        crop = pixels[max(top - pad, 0):min(bottom + pad, height),
                      max(left - pad, 0):min(right + pad, width)]
        if self.figure.get_facecolor()[3] == 1:  # opaque: the alpha channel says nothing
            crop = np.ascontiguousarray(crop[..., :3])
        buffer = io.BytesIO()
        # zlib level 3: as small as the default 6 for these flat-coloured charts, faster
        Image.fromarray(crop).save(buffer, format="png", compress_level=3)
        return buffer.getvalue()

    def _render(self):
        """Draw the canvas: its RGBA pixels and the box (top, bottom, left, right; bottom and
        right exclusive) of those that are not the figure's background."""
        import numpy as np
        from matplotlib.colors import to_rgba

        self.figure.canvas.draw()
        self.renders += 1
        pixels = np.asarray(self.figure.canvas.buffer_rgba())
        background = np.round(np.array(to_rgba(self.figure.get_facecolor())) * 255)
        # compare whole RGBA pixels at once, as 32-bit words
        self._ink = (pixels.view(np.uint32)[..., 0]
                     != background.astype(np.uint8).view(np.uint32)[0])
        rows, cols = np.flatnonzero(self._ink.any(axis=1)), np.flatnonzero(self._ink.any(axis=0))
        if not len(rows):
            return pixels, (0, pixels.shape[0], 0, pixels.shape[1])
        return pixels, (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1)

    def _min_gap_pixels(self) -> float:
        """Half the layout's padding, in pixels: how close content may come to an edge or
        to the gap between two panels before the figure is laid out again."""
        from matplotlib import rcParams
        from matplotlib.font_manager import FontProperties

        size = FontProperties(size=rcParams["font.size"]).get_size_in_points()
        return self.LAYOUT_PAD * size / 72 * self.figure.dpi / 2

    def _clearances(self, pixels, box) -> list[int]:
        """Empty pixels between the content and each edge of the figure, then the widest
        empty run between each two neighbouring panels."""
        height, width = pixels.shape[:2]
        top, bottom, left, right = box
        return [top, height - bottom, left, width - right,
                *self._gutter_runs(height, width)]

    def _fits(self, pixels, box) -> bool:
        """Whether the last render keeps as clear of the figure's edges and of the gaps
        between panels as the layout left it, or at least half the layout's padding."""
        gap = self._min_gap_pixels()
        now = self._clearances(pixels, box)
        return len(now) == len(self._reference) and all(
            c >= min(ref, gap) for c, ref in zip(now, self._reference))

    def _gutter_runs(self, height, width):
        """For each two panels side by side (or one above the other), the widest run of
        empty columns (rows) between them, over the height (width) they share."""
        boxes = []
        for ax in self.figure.axes:
            if ax.get_visible():
                b = ax.get_position()
                boxes.append((round(b.x0 * width), round(b.x1 * width),
                              round((1 - b.y1) * height), round((1 - b.y0) * height)))
        for x0, x1, y0, y1 in boxes:
            for u0, u1, v0, v1 in boxes:
                if x1 <= u0 and min(y1, v1) > max(y0, v0):     # (u) right of (x)
                    empty = ~self._ink[max(y0, v0):min(y1, v1), x1:u0].any(axis=0)
                elif y1 <= v0 and min(x1, u1) > max(x0, u0):   # (v) below (y)
                    empty = ~self._ink[y1:v0, max(x0, u0):min(x1, u1)].any(axis=1)
                else:
                    continue
                yield _longest_run(empty)

    def _subplots(self, nrows, ncols, figsize, kwargs):
        fig = self.figure
        size = tuple(float(v) for v in figsize)
        if size != self._size:
            self._size, self._laid_out = size, False
            fig.set_size_inches(size, forward=False)
        key = (nrows, ncols, repr(sorted(kwargs.items())))
        if key == self._grid and fig.axes == self._axes_list:
            # the same grid as last time: clear the axes but keep their Tick objects
            _clear_figure_artists(fig)
            for ax in fig.axes:
                _clear_keeping_ticks(ax)
            return fig, self._axes
        fig.clear()
        self._axes = fig.subplots(nrows, ncols, **kwargs)
        self._grid, self._axes_list, self._laid_out = key, list(fig.axes), False
        return fig, self._axes

    def _layout(self) -> None:
        """Called by a chart once drawn: lay it out if its grid or size is new (otherwise
        the layout stands until a render shows that it does not fit)."""
        if not self._laid_out:
            self._fit()

    def _fit(self) -> None:
        """tight_layout, from the chart's own size and matplotlib's default subplot
        parameters, as a new figure would be laid out."""
        import matplotlib as mpl

        fig = self.figure
        fig.set_size_inches(self._size, forward=False)
        fig.subplots_adjust(**{k: mpl.rcParams[f"figure.subplot.{k}"] for k in
                               ("left", "right", "bottom", "top", "wspace", "hspace")})
        fig.tight_layout(pad=self.LAYOUT_PAD)
        # tight_layout leaves a placeholder layout engine behind; the layout is done
        fig.set_layout_engine(None)
        self._laid_out, self._reference = True, None

    def _expand_to_content(self) -> None:
        """Grow the figure where the finished chart reaches closer than the layout's padding
        to an edge, or past it (a title wider than the figure, labels placed after the
        layout), keeping every panel where it is in inches: what ``bbox_inches="tight"``
        did at each save."""
        fig = self.figure
        width, height = fig.get_size_inches()
        box = fig.get_tightbbox()
        pad = 2 * self._min_gap_pixels() / fig.dpi
        half_pixel = 0.5 / fig.dpi
        left, right, bottom, top = (v if v > half_pixel else 0.0 for v in (
            pad - box.x0, box.x1 + pad - width, pad - box.y0, box.y1 + pad - height))
        if not (left or right or bottom or top):
            return
        new_width, new_height = width + left + right, height + bottom + top
        params = fig.subplotpars
        fig.subplots_adjust(left=(params.left * width + left) / new_width,
                            right=(params.right * width + left) / new_width,
                            bottom=(params.bottom * height + bottom) / new_height,
                            top=(params.top * height + bottom) / new_height)
        fig.set_size_inches((new_width, new_height), forward=False)


def _longest_run(flags) -> int:
    """The length of the longest run of True in a 1-d boolean array."""
    import numpy as np

    padded = np.concatenate(([0], flags.astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[::2]).max()) if len(edges) else 0


def _clear_figure_artists(fig) -> None:
    """Remove what a chart drew on the figure itself (suptitle, figure legends), as
    ``Figure.clear`` does, leaving the axes."""
    for artist in [*fig.texts, *fig.legends, *fig.lines, *fig.patches, *fig.images,
                   *fig.artists]:
        artist.remove()
    fig._suptitle = fig._supxlabel = fig._supylabel = None


def _clear_keeping_ticks(ax) -> None:
    """``ax.clear()``, but the axes keep their Tick objects, with the axis' tick parameters
    as new ticks would have them. (Their grid lines stay clipped to the previous axes patch:
    the same rectangle, in the same axes coordinates, as the new one.)"""
    kept = [(axis, axis.majorTicks, axis.minorTicks,
             {which: axis.get_tick_params(which=which) for which in ("major", "minor")})
            for axis in (ax.xaxis, ax.yaxis)]
    ax.clear()
    for axis, major, minor, params in kept:
        axis.majorTicks, axis.minorTicks = major, minor
        for which, before in params.items():
            now = axis.get_tick_params(which=which)
            if now != before:  # clear() changed a parameter (the grid): apply it to the ticks
                axis.set_tick_params(which=which, **now)


# ---------------------------------------------------------------- data for the charts

def parameter_breakdown(cfg: TransformerConfig) -> dict[str, int]:
    """Parameters of a decoder-only, token-input transformer by kind.

    embeddings (token and learned position tables), attention (Q, K, V and output
    projections of every layer), MLP (every layer's MLP, or router and experts), norms,
    output head (an untied LM head). The parts add up to ``counts.param_count(cfg)``.
    """
    if cfg.arch != "decoder" or cfg.frontend != "tokens":
        fail("cfg", cfg.name, "a decoder-only transformer with token inputs")
    n_layers = cfg.n_layers
    n_norms = 2 * n_layers + (0 if cfg.post_norm else 1)
    parts = {
        "embeddings": counts.embedding_params(cfg),
        "attention": n_layers * counts.attention_params(cfg),
        "MLP": n_layers * counts.moe_params(cfg),
        "norms": n_norms * counts.norm_params(cfg),
        "output head": counts.head_params(cfg),
        "relative positions": cfg.n_heads * RELATIVE_BUCKETS if cfg.positions == "relative" else 0,
    }
    if sum(parts.values()) != counts.param_count(cfg):  # a part of the model is missing here
        raise AssertionError(f"parameter breakdown of {cfg.name} does not add up to param_count")
    return {k: v for k, v in parts.items() if v}


# ---------------------------------------------------------------- charts

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
            ax.text(v + max(values) * 0.01, y, f"{units.format_count(v)}  ({share(v, total)})",
                    va="center", fontsize=9)
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


def share(part: float, total: float) -> str:
    """A part's share of a total as a percentage that never reads 0.0% for a non-zero part:
    45.5%, 1.9%, 0.031%."""
    pct = 100 * part / total
    return f"{pct:.1f}%" if pct >= 0.1 or pct == 0 else f"{pct:.2g}%"


def figure_png(fig, dpi: int = 100) -> bytes:
    """The figure as PNG bytes, cropped to what is drawn (an explorer's chart is
    `WidgetFigure.png`, which renders once)."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def _count_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: units.format_count(v) if v else "0")


def _bytes_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: units.format_bytes(v, binary=False) if v else "0")


def _plain_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: f"{v:g}")


# ---------------------------------------------------------------- chapter 2: hardware,
# rooflines, compute per prediction, trends

# One colour per roofline (device), cycled; measured points reuse them by group.
ROOF_COLOURS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3",
                "#8C8C8C")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


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
    import math

    import numpy as np

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


def device_metrics(dev, dtype: str) -> dict[str, float | None]:
    """What the hardware explorer compares, for one `hardware.Device` at ``dtype``: peak
    FLOP/s, memory bytes, bandwidth bytes/s, FLOP/s per watt (None without a published TDP)
    and the ridge point (FLOP/B). Raises ValueError when the device has no ``dtype`` peak."""
    peak = dev.peak_flops(dtype)
    return {
        "peak FLOP/s": peak,
        "memory (bytes)": dev.memory_bytes,
        "bandwidth (bytes/s)": dev.bandwidth_bytes_per_s,
        "FLOP/s per watt": peak / dev.tdp_watts if dev.tdp_watts else None,
        "ridge point (FLOP/B)": dev.ridge_point(dtype),
    }


_METRIC_FORMATS = {
    "peak FLOP/s": units.format_rate,
    "memory (bytes)": lambda v: units.format_bytes(v, binary=False),
    "bandwidth (bytes/s)": lambda v: units.format_bytes(v, binary=False) + "/s",
    "FLOP/s per watt": lambda v: units.format_rate(v).replace("FLOP/s", "FLOP/s/W"),
    "ridge point (FLOP/B)": lambda v: f"{v:.3g}",
}


def device_comparison_chart(devices, dtype: str, *, width: float = 10.0):
    """One panel per metric of `device_metrics` (peak FLOP/s at ``dtype``, memory, bandwidth,
    FLOP/s per watt, ridge point), a bar per device. ``devices`` are `hardware.Device`s that
    all have a ``dtype`` peak. A panel whose values span more than 30x uses a log scale."""
    devices = list(devices)
    if not devices:
        fail("devices", devices, "at least one device")
    metrics = {d.name: device_metrics(d, dtype) for d in devices}
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
    import numpy as np

    fig, ax = _subplots(figsize=(width, height))
    for i, (label, pts) in enumerate(series.items()):
        colour = ROOF_COLOURS[i % len(ROOF_COLOURS)]
        years = [p[0] for p in pts]
        values = [p[1] for p in pts]
        legend = label
        if fit and len(years) >= 3 and len(set(years)) >= 2:
            from .trends import fit_doubling_time

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
        from matplotlib.ticker import FuncFormatter, NullFormatter

        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: value_format(v)))
        ax.yaxis.set_minor_formatter(NullFormatter())
    values = [p[1] for pts in series.values() for p in pts if p[1] > 0]
    if values and max(values) / min(values) < 100:  # under two decades: label 1, 2, 5 x 10^k
        from matplotlib.ticker import LogLocator

        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_locator(_integer_locator())
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return _finish(fig)


def _intensity_formatter():
    """1/4, 1/2, 1, 2, 4 ...: powers of two below 1 read as fractions."""
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: f"{v:g}" if v >= 1 or v <= 0 else f"1/{1 / v:g}")


def _rate_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: units.format_rate(v) if v else "0")


def _integer_locator():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


# ---------------------------------------------------------------- chapter 4.2-4.6: memory,
# cost and scaling charts

# One colour per part of the training-memory ledger (memory.TrainingMemory's fields).
MEMORY_COLOURS = {
    "weights": "#4C72B0",
    "gradients": "#DD8452",
    "optimizer states": "#55A868",
    "activations": "#C44E52",
    "logits and loss": "#8172B3",
}


def memory_stack_chart(stacks: dict[str, dict[str, float]], *,
                       capacity_bytes: float | None = None, capacity_label: str = "",
                       title: str | None = None, width: float = 8.0):
    """Horizontal stacked bars of bytes, one bar per label (first on top), each split into
    parts (``MEMORY_COLOURS`` where the part's name is there), with the device's memory as a
    vertical dashed line. Each bar is labelled with its total in GiB."""
    labels = list(stacks)[::-1]
    fig, ax = _subplots(figsize=(width, 1.0 + 0.55 * len(labels)))
    parts = list(dict.fromkeys(p for stack in stacks.values() for p in stack))
    left = [0.0] * len(labels)
    for part in parts:
        values = [stacks[label].get(part, 0.0) for label in labels]
        ax.barh(labels, values, left=left, label=part,
                color=MEMORY_COLOURS.get(part, "#777777"))
        left = [a + b for a, b in zip(left, values)]
    longest = max(left + [capacity_bytes or 0])
    for y, total in enumerate(left):
        ax.text(total + longest * 0.01, y, units.format_bytes(total), va="center", fontsize=9)
    if capacity_bytes:
        ax.axvline(capacity_bytes, color="black", linestyle="--", linewidth=1.2)
        ax.text(capacity_bytes, len(labels) - 0.45, f" {capacity_label}", fontsize=9,
                ha="left", va="bottom")
    ax.set_xlim(0, longest * 1.18)
    ax.set_ylim(-0.6, len(labels) - 0.1)
    ax.set_xlabel("memory per device")
    ax.xaxis.set_major_locator(_binary_bytes_locator(longest * 1.18))
    ax.xaxis.set_major_formatter(_binary_bytes_formatter())
    # the legend (with the title) sits above the bars, so no bar is ever hidden behind it
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.02), ncol=min(len(parts), 5), fontsize=8,
              frameon=False, title=title, title_fontsize=10, alignment="left")
    ax.spines[["top", "right"]].set_visible(False)
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
                import numpy as np

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


def _binary_bytes_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: units.format_bytes(v) if v else "0")


def _binary_bytes_locator(span: float, max_ticks: int = 7):
    """Ticks at round multiples of KiB/MiB/GiB/TiB (1, 2, 5, 10, 20, 50, ... of the unit)
    with at most ``max_ticks`` over ``span`` bytes."""
    from matplotlib.ticker import MultipleLocator

    unit = 1
    while span / unit >= 1024 * 2 and unit < 2**40:
        unit *= 1024
    step = unit
    for multiple in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
        step = multiple * unit
        if span / step <= max_ticks:
            break
    return MultipleLocator(step)


# ---------------------------------------------------------------- chapter 6: workloads

# One colour per application domain (workloads.DOMAINS).
DOMAIN_COLOURS = {"language": "#4C72B0", "vision": "#DD8452", "speech": "#55A868",
                  "science": "#C44E52"}


def workload_map_chart(points: list[dict], *, highlight: str | None = None,
                       title: str | None = None, width: float = 8.5, height: float = 5.4):
    """Workloads placed by FLOPs per prediction (x) and training FLOPs (y), log-log, one
    colour per domain, marker area growing with the parameter count.

    Each point is a dict with ``label``, ``domain``, ``forward_flops``, ``training_flops``,
    ``params`` (None: a small square, the count is not published) and optionally
    ``upper_bound`` (True: the x value is a bound, drawn as a left-pointing triangle, "at
    most this"). The ``highlight`` label is ringed. Labels are placed where they overlap
    no other label or marker."""
    import math

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


# ---------------------------------------------------------------- chapter 3.6: pipeline
# schedules and the parallelism planner

# One colour per part of a training step's time (parallel.StepTime's parts).
STEP_TIME_COLOURS = {
    "compute": "#4C72B0",
    "tensor-parallel comm": "#DD8452",
    "data-parallel comm": "#55A868",
    "pipeline bubble": "#C44E52",
}


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


# ---------------------------------------------------------------- chapter 8.5: data limits

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
    from matplotlib.ticker import FuncFormatter

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


# ---------------------------------------------------------------- chapter 1: the growth of
# training compute; chapter 5: training curves and predicted vs measured

# One colour and marker per domain of the notable-models dataset (`trends.DOMAINS`).
DOMAIN_STYLES = {
    "language": ("#4C72B0", "o"),
    "vision": ("#DD8452", "s"),
    "speech": ("#55A868", "^"),
    "science": ("#C44E52", "D"),
    "multimodal": ("#8172B3", "P"),
    "games": ("#937860", "X"),
}


def compute_trend_chart(rows, fit=None, *, label: bool = True, title: str | None = None,
                        width: float = 9.0, height: float = 5.4):
    """Training FLOPs against year (log scale), one colour per domain, each model labelled;
    with ``fit`` (a `trends.DoublingFit`) its line and the band its slope's confidence
    interval allows, pivoting on the data's mean year. ``rows`` are `trends.NotableModel`s
    with training FLOPs."""
    import numpy as np

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


def training_curves_chart(runs, *, columns: int = 3, width: float = 10.5,
                          panel_height: float = 2.9, smooth: int = 10):
    """One panel per training run (a `practice.Run`): the training loss of every step (light),
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
    import numpy as np

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


def image_grid(images, labels=None, *, columns: int = 8, size: float = 1.1,
               title: str | None = None):
    """Greyscale images (n, 1, h, w) or (n, h, w) side by side, each titled with its label."""
    import numpy as np

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
