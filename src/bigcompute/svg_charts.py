"""Charts as SVG text, in pure Python: what the website's live explorers draw in the browser,
where neither numpy nor matplotlib exists (pyodide from npm has neither).

``draw(chart)`` takes an explorer's chart as data (`explorers.base.Chart`: the name of a
`bigcompute.plots` recipe and its arguments) and returns an ``<svg>`` string, or None for a
recipe this module does not draw (the page then keeps the build's static image). The recipes
drawn here mirror `plots.charts` of the same name, with the same arguments and colours:

- ``memory_stack_chart``  stacked horizontal bars of bytes, with a dashed capacity line
- ``roofline_chart``      log-log roofs min(peak, intensity x bandwidth), ridges, points
- ``line_chart``          lines on linear or log axes, starred marks
- ``ranked_bar_chart``    horizontal bars on a log (or linear) axis, one highlighted
- ``parameter_breakdown_chart``  a panel of bars per model: parameters of each kind
- ``compute_optimal_chart``      two log-log panels: optimal parameters and tokens per budget
- ``parallel_plan_chart``        per plan, step time by part and memory against capacity
- ``device_comparison_chart``    a panel of bars per hardware metric

Nothing here imports numpy, matplotlib or ipywidgets (tests/test_layers.py).
"""

from __future__ import annotations

import html
import math

from . import units
from .palette import _METRIC_FORMATS, MEMORY_COLOURS, PART_COLOURS, ROOF_COLOURS, STEP_TIME_COLOURS

__all__ = [
    "RECIPES",
    "draw",
    "line_chart",
    "memory_stack_chart",
    "ranked_bar_chart",
    "roofline_chart",
]

PX_PER_INCH = 90
FONT = "font-family='sans-serif'"


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _text(x, y, text, size=11, anchor="start", colour="#222", extra="") -> str:
    lines = str(text).split("\n")
    spans = "".join(f"<tspan x='{x:.1f}' dy='{0 if i == 0 else size * 1.2:.1f}'>{_esc(t)}"
                    f"</tspan>" for i, t in enumerate(lines))
    return (f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' text-anchor='{anchor}' "
            f"fill='{colour}' {FONT}{extra}>{spans}</text>")


def _svg(width: float, height: float, body: list[str], title: str | None) -> str:
    label = f" aria-label='{_esc(title)}'" if title else ""
    return (f"<svg xmlns='http://www.w3.org/2000/svg' class='bigcompute-svg-chart' "
            f"viewBox='0 0 {width:.0f} {height:.0f}' width='{width:.0f}' "
            f"style='max-width:100%;height:auto;background:#fff' role='img'{label}>"
            + "".join(body) + "</svg>")


class _Axis:
    """A linear or log axis mapping data [lo, hi] onto pixels [a, b]."""

    def __init__(self, lo: float, hi: float, a: float, b: float, log: bool = False,
                 base: float = 10):
        if log:
            lo, hi = max(lo, 1e-300), max(hi, 1e-300)
        if hi <= lo:
            hi = lo * 10 if log else lo + 1
        self.lo, self.hi, self.a, self.b, self.log, self.base = lo, hi, a, b, log, base

    def __call__(self, v: float) -> float:
        if self.log:
            v = max(v, 1e-300)
            t = (math.log(v) - math.log(self.lo)) / (math.log(self.hi) - math.log(self.lo))
        else:
            t = (v - self.lo) / (self.hi - self.lo)
        return self.a + t * (self.b - self.a)

    def ticks(self, target: int = 6) -> list[float]:
        if self.log:
            lo_e = math.ceil(math.log(self.lo, self.base) - 1e-9)
            hi_e = math.floor(math.log(self.hi, self.base) + 1e-9)
            step = max(1, math.ceil((hi_e - lo_e + 1) / (target + 2)))
            return [self.base ** e for e in range(lo_e, hi_e + 1, step)]
        return _nice_ticks(self.lo, self.hi, target)


def _nice_ticks(lo: float, hi: float, target: int = 6, unit: float = 1.0) -> list[float]:
    span = (hi - lo) / unit
    raw = span / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw) * unit
    first = math.ceil(lo / step - 1e-9) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _plain(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1 or v == 0 else f"{v:g}"


def _grid_and_ticks(x: _Axis, y: _Axis | None, xfmt, yfmt, labels_y=None) -> list[str]:
    body = []
    top, bottom = (min(y.a, y.b), max(y.a, y.b)) if y else (None, None)
    for t in x.ticks():
        px = x(t)
        if y:
            body.append(f"<line x1='{px:.1f}' x2='{px:.1f}' y1='{top:.1f}' y2='{bottom:.1f}' "
                        f"stroke='#000' stroke-opacity='0.12'/>")
        body.append(_text(px, (bottom or labels_y) + 15, xfmt(t), 10, "middle"))
    if y:
        for t in y.ticks():
            py = y(t)
            body.append(f"<line x1='{x.a:.1f}' x2='{x.b:.1f}' y1='{py:.1f}' y2='{py:.1f}' "
                        f"stroke='#000' stroke-opacity='0.12'/>")
            body.append(_text(x.a - 5, py + 3.5, yfmt(t), 10, "end"))
    return body


def _frame(left, top, right, bottom) -> str:
    return (f"<rect x='{left:.1f}' y='{top:.1f}' width='{right - left:.1f}' "
            f"height='{bottom - top:.1f}' fill='none' stroke='#444' stroke-width='0.8'/>")


def _legend(items: list[tuple[str, str, str]], x: float, y: float, size: int = 10) -> list[str]:
    """items: (label, colour, "box" | "line" | "dash" | "dot"); one per row from (x, y)."""
    body = []
    for i, (label, colour, shape) in enumerate(items):
        yy = y + i * (size + 5)
        if shape == "box":
            body.append(f"<rect x='{x:.1f}' y='{yy - size + 2:.1f}' width='{size}' "
                        f"height='{size - 2}' fill='{colour}'/>")
        elif shape == "dot":
            body.append(f"<circle cx='{x + size / 2:.1f}' cy='{yy - size / 2 + 1:.1f}' r='4' "
                        f"fill='{colour}' stroke='#000' stroke-width='0.5'/>")
        else:
            dash = " stroke-dasharray='5,3'" if shape == "dash" else ""
            body.append(f"<line x1='{x:.1f}' x2='{x + 16:.1f}' y1='{yy - 4:.1f}' "
                        f"y2='{yy - 4:.1f}' stroke='{colour}' stroke-width='2'{dash}/>")
        body.append(_text(x + 20, yy, label, size))
    return body


# ---------------------------------------------------------------- the recipes

def memory_stack_chart(stacks: dict[str, dict[str, float]], *,
                       capacity_bytes: float | None = None, capacity_label: str = "",
                       peaks: dict[str, float] | None = None, title: str | None = None,
                       width: float = 8.0) -> str:
    """`plots.charts.memory_stack_chart` as SVG: one stacked bar per label (first on top),
    the device's memory as a dashed line, each bar labelled with its total."""
    labels = list(stacks)
    parts = list(dict.fromkeys(p for stack in stacks.values() for p in stack))
    peaks = peaks or {}
    totals = [sum(stacks[k].values()) for k in labels]
    longest = max(totals + [capacity_bytes or 0] + [v for v in peaks.values() if v] + [1])
    room = 1.32 if peaks else 1.18
    w = width * PX_PER_INCH
    legend_rows = -(-(len(parts) + bool(peaks)) // 3)
    top = 26 + 15 * legend_rows + (16 if title else 0)
    bar_h, gap = 26, 14
    left, right = max(14 + 6.2 * max(len(k) for k in labels), 90), w - 16
    bottom = top + len(labels) * (bar_h + gap) + gap
    height = bottom + 40
    x = _Axis(0, longest * room, left, right)
    body = [f"<rect width='{w:.0f}' height='{height:.0f}' fill='#fff'/>"]
    if title:
        body.append(_text(left, 18, title, 12, extra=" font-weight='bold'"))
    for i, part in enumerate(parts):  # the legend, three to a row, above the bars
        lx = left + (i % 3) * (right - left) / 3
        ly = (34 if title else 18) + 15 * (i // 3)
        body += _legend([(part, MEMORY_COLOURS.get(part, "#777777"), "box")], lx, ly)
    if peaks:
        i = len(parts)
        body += _legend([("peak of the step", "#000", "line")],
                        left + (i % 3) * (right - left) / 3,
                        (34 if title else 18) + 15 * (i // 3))
    ticks = _binary_byte_ticks(longest * room)
    for t in ticks:
        body.append(f"<line x1='{x(t):.1f}' x2='{x(t):.1f}' y1='{top:.1f}' y2='{bottom:.1f}' "
                    f"stroke='#000' stroke-opacity='0.12'/>")
        body.append(_text(x(t), bottom + 15, units.format_bytes(t), 10, "middle"))
    for row, label in enumerate(labels):
        y0 = top + gap + row * (bar_h + gap)
        start = 0.0
        for part in parts:
            v = stacks[label].get(part, 0.0)
            if v > 0:
                body.append(f"<rect x='{x(start):.1f}' y='{y0:.1f}' "
                            f"width='{max(x(start + v) - x(start), 0.5):.1f}' height='{bar_h}' "
                            f"fill='{MEMORY_COLOURS.get(part, '#777777')}'><title>{_esc(part)}: "
                            f"{_esc(units.format_bytes(v))}</title></rect>")
            start += v
        text = units.format_bytes(totals[row])
        peak = peaks.get(label)
        if peak is not None:
            body.append(f"<line x1='{x(peak):.1f}' x2='{x(peak):.1f}' y1='{y0 - 2:.1f}' "
                        f"y2='{y0 + bar_h + 2:.1f}' stroke='#000' stroke-width='2.4'/>")
            text += f", peak {units.format_bytes(peak)}"
        body.append(_text(x(max(totals[row], peak or 0)) + 4, y0 + bar_h / 2 + 4, text, 11))
        body.append(_text(left - 6, y0 + bar_h / 2 + 4, label, 11, "end"))
    if capacity_bytes:
        cx = x(capacity_bytes)
        body.append(f"<line x1='{cx:.1f}' x2='{cx:.1f}' y1='{top:.1f}' y2='{bottom:.1f}' "
                    f"stroke='#000' stroke-width='1.2' stroke-dasharray='6,4'/>")
        body.append(_text(cx + 3, top + 10, capacity_label, 10))
    body.append(f"<line x1='{left:.1f}' x2='{left:.1f}' y1='{top:.1f}' y2='{bottom:.1f}' "
                f"stroke='#444'/><line x1='{left:.1f}' x2='{right:.1f}' y1='{bottom:.1f}' "
                f"y2='{bottom:.1f}' stroke='#444'/>")
    body.append(_text((left + right) / 2, bottom + 32, "memory per device", 11, "middle"))
    return _svg(w, height, body, title)


def _binary_byte_ticks(hi: float) -> list[float]:
    """Ticks at round binary units (KiB, MiB, GiB, TiB) for an axis 0..hi."""
    unit = 1024 ** max(0, min(4, int(math.log(max(hi, 1), 1024))))
    return _nice_ticks(0, hi, 6, unit)


def _rate(v: float) -> str:
    return units.format_rate(v)


def _intensity(v: float) -> str:
    return f"{v:g}" if v >= 1 else f"1/{1 / v:g}"


def roofline_chart(roofs: dict[str, tuple[float, float]], points=None, *, bands=None,
                   xlim: tuple[float, float] | None = None, title: str | None = None,
                   width: float = 8.0, height: float = 5.0, annotate: bool = True) -> str:
    """`plots.charts.roofline_chart` as SVG: log-log attainable FLOP/s against arithmetic
    intensity, a roof per device (ridge marked), shaded bands and points."""
    points = points or {}
    bands = bands or {}
    ridges = [peak / bw for peak, bw in roofs.values()]
    xs_points = [p[0] for group in points.values() for p in group if p[0] > 0]
    lo = min([*ridges, *xs_points, *(b[0] for b in bands.values())] or [1.0])
    hi = max([*ridges, *xs_points, *(b[1] for b in bands.values())] or [1.0])
    xlim = xlim or (2 ** math.floor(math.log2(lo) - 2), 2 ** math.ceil(math.log2(hi) + 2))
    ys = [min(peak, x * bw) for peak, bw in roofs.values() for x in xlim]
    ys += [p[1] for group in points.values() for p in group if p[1] > 0]
    ylo = 10 ** math.floor(math.log10(min(ys or [1.0])))
    yhi = 10 ** math.ceil(math.log10(max(ys or [10.0]) * 1.5))
    w, h = width * PX_PER_INCH, height * PX_PER_INCH
    left, right, top, bottom = 92, w - 14, 26 if title else 12, h - 44
    x = _Axis(xlim[0], xlim[1], left, right, log=True, base=2)
    y = _Axis(ylo, yhi, bottom, top, log=True)
    body = [f"<rect width='{w:.0f}' height='{h:.0f}' fill='#fff'/>"]
    if title:
        body.append(_text(left, 16, title, 11, extra=" font-weight='bold'"))
    for (label, (b_lo, b_hi)), colour in zip(bands.items(), ("#f2e6d9", "#e3ecf5", "#e6f2e6",
                                                              "#f5e3ec")):
        body.append(f"<rect x='{x(b_lo):.1f}' y='{top:.1f}' width='{x(b_hi) - x(b_lo):.1f}' "
                    f"height='{bottom - top:.1f}' fill='{colour}' fill-opacity='0.8'/>")
        body.append(_text(x(math.sqrt(b_lo * b_hi)), top + 12, label, 9, "middle", "#555"))
    body += _grid_and_ticks(x, y, _intensity, _rate)
    legend = []
    for i, (label, (peak, bw)) in enumerate(roofs.items()):
        colour = ROOF_COLOURS[i % len(ROOF_COLOURS)]
        ridge = peak / bw
        path = [(xlim[0], xlim[0] * bw)] + ([(ridge, peak)] if xlim[0] < ridge < xlim[1]
                                            else []) + [(xlim[1], min(peak, xlim[1] * bw))]
        d = " ".join(f"{'M' if k == 0 else 'L'}{x(px):.1f},{y(min(peak, py)):.1f}"
                     for k, (px, py) in enumerate(path))
        body.append(f"<path d='{d}' fill='none' stroke='{colour}' stroke-width='2'/>")
        body.append(f"<line x1='{x(ridge):.1f}' x2='{x(ridge):.1f}' y1='{top:.1f}' "
                    f"y2='{bottom:.1f}' stroke='{colour}' stroke-dasharray='1,3'/>")
        body.append(f"<circle cx='{x(ridge):.1f}' cy='{y(peak):.1f}' r='3.5' fill='{colour}'/>")
        legend.append(((f"{label}: {units.format_rate(peak)}, "
                       f"{units.format_bytes(bw, binary=False)}/s, ridge {ridge:.3g} FLOP/B"),
                       colour, "line"))
    for i, (label, group) in enumerate(points.items()):
        colour = ROOF_COLOURS[(i + len(roofs)) % len(ROOF_COLOURS)]
        group = [p for p in group if p[0] > 0 and p[1] > 0]
        for px, py, text in group:
            body.append(f"<circle cx='{x(px):.1f}' cy='{y(py):.1f}' r='5' fill='{colour}' "
                        f"stroke='#000' stroke-width='0.5'><title>{_esc(text or label)}: "
                        f"{_esc(_intensity(px))} FLOP/B, {_esc(_rate(py))}</title></circle>")
            if annotate and text:
                body.append(_text(x(px) + 5, y(py) + 14, text, 9, colour="#333"))
        if group:
            legend.append((label, colour, "dot"))
    body.append(_frame(left, top, right, bottom))
    body += _legend(legend, right - 8 - 6.0 * max(len(t) for t, _, _ in legend),
                    bottom - 8 - 15 * (len(legend) - 1), 10) if legend else []
    body.append(_text((left + right) / 2, h - 10, "arithmetic intensity (FLOP per byte moved)",
                      11, "middle"))
    body.append(_text(14, (top + bottom) / 2, "attainable FLOP/s", 11, "middle",
                      extra=f" transform='rotate(-90 14 {(top + bottom) / 2:.1f})'"))
    return _svg(w, h, body, title)


def line_chart(lines: dict[str, tuple[list[float], list[float]]], *, xlabel: str,
               ylabel: str, logx: bool = False, logy: bool = False,
               marks: dict[str, tuple[float, float]] | None = None,
               hline: float | None = None, title: str | None = None,
               ylim: tuple[float, float] | None = None,
               width: float = 7.5, height: float = 4.2) -> str:
    """`plots.charts.line_chart` as SVG: labelled lines, starred marks, a dotted reference."""
    xs = [v for xs_, _ in lines.values() for v in xs_] + [m[0] for m in (marks or {}).values()]
    ys = [v for _, ys_ in lines.values() for v in ys_] + [m[1] for m in (marks or {}).values()]
    w, h = width * PX_PER_INCH, height * PX_PER_INCH
    title_lines = title.count("\n") + 1 if title else 0
    left, right, top, bottom = 62, w - 14, 10 + 14 * title_lines, h - 44
    x = _Axis(min(xs), max(xs), left, right, log=logx)
    ylo, yhi = ylim if ylim else (min(ys), max(ys))
    if not ylim and not logy:
        pad = (yhi - ylo) * 0.05 or 1
        ylo, yhi = ylo - pad, yhi + pad
    y = _Axis(ylo, yhi, bottom, top, log=logy)
    body = [f"<rect width='{w:.0f}' height='{h:.0f}' fill='#fff'/>"]
    if title:
        body.append(_text(left, 14, title, 10))
    body += _grid_and_ticks(x, y, _plain, _plain)
    legend = []
    for i, (label, (lx, ly)) in enumerate(lines.items()):
        colour = ROOF_COLOURS[i % len(ROOF_COLOURS)]
        d = " ".join(f"{'M' if k == 0 else 'L'}{x(a):.1f},{y(b):.1f}"
                     for k, (a, b) in enumerate(zip(lx, ly)))
        body.append(f"<path d='{d}' fill='none' stroke='{colour}' stroke-width='1.8'/>")
        legend.append((label, colour, "line"))
    if hline is not None:
        body.append(f"<line x1='{left}' x2='{right:.1f}' y1='{y(hline):.1f}' "
                    f"y2='{y(hline):.1f}' stroke='grey' stroke-dasharray='1,3'/>")
    for label, (mx, my) in (marks or {}).items():
        body.append(_text(x(mx), y(my) + 5, "\u2605", 16, "middle", "#000"))
        body.append(_text(x(mx) + 9, y(my) - 8, label, 10))
    body.append(_frame(left, top, right, bottom))
    body += _legend(legend, right - 10 - 6.2 * max(len(t) for t, _, _ in legend),
                    bottom - 10 - 15 * (len(legend) - 1)) if legend else []
    body.append(_text((left + right) / 2, h - 10, xlabel, 11, "middle"))
    body.append(_text(14, (top + bottom) / 2, ylabel, 11, "middle",
                      extra=f" transform='rotate(-90 14 {(top + bottom) / 2:.1f})'"))
    return _svg(w, h, body, title)


def ranked_bar_chart(values: dict[str, float], *, xlabel: str, highlight: str | None = None,
                     notes: dict[str, str] | None = None, log: bool = True,
                     title: str | None = None, width: float = 8.0) -> str:
    """`plots.charts.ranked_bar_chart` as SVG: horizontal bars (first label on top), the
    ``highlight`` one in a strong colour, each with an optional note after it."""
    labels = list(values)
    data = [values[k] for k in labels]
    notes = notes or {}
    w = width * PX_PER_INCH
    title_lines = title.count("\n") + 1 if title else 0
    bar_h, gap = 20, 8
    left, right = min(max(14 + 6.0 * max(len(k) for k in labels), 80), w * 0.45), w - 12
    top = 10 + 15 * title_lines
    bottom = top + len(labels) * (bar_h + gap) + gap
    h = bottom + 40
    positive = [v for v in data if v > 0] or [1.0]
    if log:
        x = _Axis(min(positive) / 3, max(positive) * 30, left, right, log=True)
    else:
        x = _Axis(0, max(data) * 1.6, left, right)
    body = [f"<rect width='{w:.0f}' height='{h:.0f}' fill='#fff'/>"]
    if title:
        body.append(_text(left, 14, title, 10))
    body += _grid_and_ticks(x, _Axis(0, 1, bottom, top), units.format_count, lambda v: "")[::1]
    body = [b for b in body if "text-anchor='end'" not in b]  # no y tick labels
    for row, (label, v) in enumerate(zip(labels, data)):
        y0 = top + gap + row * (bar_h + gap)
        colour = "#C44E52" if label == highlight else "#8FA8C8"
        x0 = x(x.lo) if log else x(0)
        body.append(f"<rect x='{x0:.1f}' y='{y0:.1f}' width='{max(x(max(v, x.lo)) - x0, 0):.1f}'"
                    f" height='{bar_h}' fill='{colour}'><title>{_esc(label)}: {v:.4g}</title>"
                    f"</rect>")
        body.append(_text(left - 5, y0 + bar_h / 2 + 4, _shorten(label, left), 10, "end"))
        if notes.get(label):
            body.append(_text(x(max(v, x.lo)) + 4, y0 + bar_h / 2 + 4, notes[label], 9.5))
    body.append(f"<line x1='{left:.1f}' x2='{left:.1f}' y1='{top:.1f}' y2='{bottom:.1f}' "
                f"stroke='#444'/><line x1='{left:.1f}' x2='{right:.1f}' y1='{bottom:.1f}' "
                f"y2='{bottom:.1f}' stroke='#444'/>")
    body.append(_text((left + right) / 2, h - 10, xlabel, 11, "middle"))
    return _svg(w, h, body, title)


def _shorten(label: str, room: float) -> str:
    most = max(int((room - 10) / 6.0), 8)
    return label if len(label) <= most else label[:most - 1] + "\u2026"


def parameter_breakdown_chart(breakdowns: dict[str, dict[str, int]], *, width: float = 9.0,
                              height_per_model: float = 1.9) -> str:
    """`plots.charts.parameter_breakdown_chart` as SVG: one panel per model, a bar per kind of
    parameter (first on top), each labelled with its count and share of the model."""
    w = width * PX_PER_INCH
    bar_h, gap = 18, 6
    left = max(14 + 6.2 * max((len(k) for p in breakdowns.values() for k in p), default=8), 80)
    right = w - 16
    body, y0 = [], 8
    for name, parts in breakdowns.items():
        total = sum(parts.values()) or 1
        biggest = max(parts.values(), default=1) or 1
        x = _Axis(0, biggest * 1.45, left, right)
        body.append(_text(8, y0 + 12, f"{name}: {total:,} parameters", 11,
                          extra=" font-weight='bold'"))
        top = y0 + 20
        for row, (part, v) in enumerate(parts.items()):
            yy = top + row * (bar_h + gap)
            body.append(f"<rect x='{left:.1f}' y='{yy:.1f}' width='{x(v) - left:.1f}' "
                        f"height='{bar_h}' fill='{PART_COLOURS.get(part, '#777777')}'/>")
            body.append(_text(left - 5, yy + bar_h / 2 + 4, part, 10, "end"))
            body.append(_text(x(v) + 4, yy + bar_h / 2 + 4,
                              f"{units.format_count(v)}  ({units.format_share(v, total)})", 10))
        bottom = top + len(parts) * (bar_h + gap)
        body.append(f"<line x1='{left:.1f}' x2='{left:.1f}' y1='{top:.1f}' y2='{bottom:.1f}' "
                    f"stroke='#444'/>")
        y0 = bottom + 14
    height = y0 + 10
    return _svg(w, height, [f"<rect width='{w:.0f}' height='{height:.0f}' fill='#fff'/>", *body],
                None)


def _interp_log(x: float, xs: list[float], ys: list[float]) -> float:
    """y at x, interpolated linearly in log x and log y (numpy.interp on the logs)."""
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
        if x0 <= x <= x1:
            t = (math.log(x) - math.log(x0)) / (math.log(x1) - math.log(x0))
            return math.exp(math.log(y0) + t * (math.log(y1) - math.log(y0)))
    return ys[-1]


def compute_optimal_chart(budgets: list[float],
                          allocations: dict[str, tuple[list[float], list[float]]], *,
                          budget: float | None = None, title: str | None = None) -> str:
    """`plots.charts.compute_optimal_chart` as SVG: two log-log panels against the compute
    budget, the compute-optimal parameters and tokens of each rule, the chosen budget dotted
    with its optima as dots."""
    w, h = 10 * PX_PER_INCH, 4.2 * PX_PER_INCH
    top = 26 if title else 10
    body = [f"<rect width='{w:.0f}' height='{h:.0f}' fill='#fff'/>"]
    if title:
        body.append(_text(8, 16, title, 11))
    panel = (w - 30) / 2
    for which, ylabel in ((0, "parameters N"), (1, "training tokens D")):
        left = 20 + which * panel + 62
        right = 20 + (which + 1) * panel - 12
        bottom = h - 44
        ys = [v for series in allocations.values() for v in series[which]]
        x = _Axis(min(budgets), max(budgets), left, right, log=True)
        y = _Axis(10 ** math.floor(math.log10(min(ys))), 10 ** math.ceil(math.log10(max(ys))),
                  bottom, top, log=True)
        body += _grid_and_ticks(x, y, lambda v: f"1e{math.log10(v):.0f}", units.format_count)
        legend = []
        for i, (label, series) in enumerate(allocations.items()):
            colour = ROOF_COLOURS[i % len(ROOF_COLOURS)]
            d = " ".join(f"{'M' if k == 0 else 'L'}{x(a):.1f},{y(b):.1f}"
                         for k, (a, b) in enumerate(zip(budgets, series[which])))
            body.append(f"<path d='{d}' fill='none' stroke='{colour}' stroke-width='1.8'/>")
            legend.append((label, colour, "line"))
            if budget is not None:
                at = _interp_log(budget, list(budgets), list(series[which]))
                body.append(f"<circle cx='{x(budget):.1f}' cy='{y(at):.1f}' r='4' "
                            f"fill='{colour}'/>")
                body.append(_text(x(budget) + 6, y(at) - 4, units.format_count(at), 9.5,
                                  colour=colour))
        if budget is not None:
            body.append(f"<line x1='{x(budget):.1f}' x2='{x(budget):.1f}' y1='{top}' "
                        f"y2='{bottom:.1f}' stroke='grey' stroke-dasharray='1,3'/>")
        body.append(_frame(left, top, right, bottom))
        if which == 0:
            body += _legend(legend, left + 8, top + 14, 9)
        body.append(_text((left + right) / 2, h - 10, "training compute C (FLOP)", 11,
                          "middle"))
        yc = (top + bottom) / 2
        body.append(_text(left - 52, yc, ylabel, 11, "middle",
                          extra=f" transform='rotate(-90 {left - 52:.1f} {yc:.1f})'"))
    return _svg(w, h, body, title)


def _bar_rows(labels: list[str], top: float, bar_h: float = 16, gap: float = 6):
    """The y of each row's bar, first label on top, and the bottom of the last."""
    ys = [top + gap + i * (bar_h + gap) for i in range(len(labels))]
    return ys, top + gap + len(labels) * (bar_h + gap)


def parallel_plan_chart(rows: list[dict], *, capacity_bytes: float, capacity_label: str = "",
                        title: str | None = None, width: float = 10.0) -> str:
    """`plots.charts.parallel_plan_chart` as SVG: per plan (first on top), its step time split
    into parts, and its memory per device against the device's capacity (red: does not fit)."""
    w = width * PX_PER_INCH
    labels = [r["label"] for r in rows]
    label_w = min(max(14 + 6.0 * max(len(k) for k in labels), 70), w * 0.3)
    top = (30 if title else 12) + 16  # the legend's row
    ys, bottom = _bar_rows(labels, top)
    h = bottom + 40
    split = label_w + (w - label_w) * 0.58
    t_axis = _Axis(0, max(sum(r["parts"].values()) for r in rows) * 1.25, label_w, split - 24)
    m_top = max([r["memory"] for r in rows] + [capacity_bytes]) * 1.15
    m_axis = _Axis(0, m_top, split + 8, w - 14)
    unit, scale = units.time_unit(max(sum(r["parts"].values()) for r in rows))
    body = [f"<rect width='{w:.0f}' height='{h:.0f}' fill='#fff'/>"]
    if title:
        body.append(_text(8, 16, title, 11))
    for i, (part, colour) in enumerate(STEP_TIME_COLOURS.items()):
        body += _legend([(part, colour, "box")], label_w + i * 150, top - 4, 9)
    for t in _nice_ticks(0, t_axis.hi / scale, 5):
        body.append(_text(t_axis(t * scale), bottom + 14, f"{t:g}", 9.5, "middle"))
    for t in _binary_byte_ticks(m_top)[::2]:
        body.append(_text(m_axis(t), bottom + 14, units.format_bytes(t), 9.5, "middle"))
    for y0, r in zip(ys, rows):
        body.append(_text(label_w - 5, y0 + 12, _shorten(r["label"], label_w), 9.5, "end"))
        start = 0.0
        for part, colour in STEP_TIME_COLOURS.items():
            v = r["parts"].get(part, 0.0)
            if v > 0:
                body.append(f"<rect x='{t_axis(start):.1f}' y='{y0:.1f}' "
                            f"width='{t_axis(start + v) - t_axis(start):.1f}' height='16' "
                            f"fill='{colour}'><title>{_esc(part)}: "
                            f"{_esc(units.format_seconds(v))}</title></rect>")
            start += v
        body.append(_text(t_axis(start) + 3, y0 + 12, units.format_seconds(start), 9))
        fill, stroke = ("#8FA8C8", "none") if r["fits"] else ("#E8B4B4", "#8a1f11")
        body.append(f"<rect x='{m_axis(0):.1f}' y='{y0:.1f}' "
                    f"width='{m_axis(r['memory']) - m_axis(0):.1f}' height='16' fill='{fill}' "
                    f"stroke='{stroke}'><title>{_esc(units.format_bytes(r['memory']))}</title>"
                    f"</rect>")
    cx = m_axis(capacity_bytes)
    body.append(f"<line x1='{cx:.1f}' x2='{cx:.1f}' y1='{top:.1f}' y2='{bottom:.1f}' "
                f"stroke='#000' stroke-width='1.1' stroke-dasharray='6,4'/>")
    body.append(_text(cx - 3, bottom - 4, capacity_label, 9, "end"))
    for a, b in ((t_axis.a, t_axis.b), (m_axis.a, m_axis.b)):
        body.append(f"<line x1='{a:.1f}' x2='{a:.1f}' y1='{top:.1f}' y2='{bottom:.1f}' "
                    f"stroke='#444'/><line x1='{a:.1f}' x2='{b:.1f}' y1='{bottom:.1f}' "
                    f"y2='{bottom:.1f}' stroke='#444'/>")
    body.append(_text((t_axis.a + t_axis.b) / 2, h - 8, f"time per training step ({unit})", 11,
                      "middle"))
    body.append(_text((m_axis.a + m_axis.b) / 2, h - 8, "memory per device", 11, "middle"))
    return _svg(w, h, body, title)


def device_comparison_chart(devices, dtype: str, *, width: float = 10.0) -> str:
    """`plots.charts.device_comparison_chart` as SVG: one panel per metric of
    `hardware.Device.metrics`, a bar per device (first on top); a panel whose values span
    more than 30x is on a log scale."""
    devices = list(devices)
    if not devices:
        raise ValueError("devices: at least one device")
    metrics = {d.name: d.metrics(dtype) for d in devices}
    names = [d.name for d in devices]
    w = width * PX_PER_INCH
    label_w = 14 + 6.2 * max(len(n) for n in names)
    top = 30
    ys, bottom = _bar_rows(names, top)
    h = bottom + 10
    keys = list(_METRIC_FORMATS)
    panel = (w - label_w - 8) / len(keys)
    body = [f"<rect width='{w:.0f}' height='{h:.0f}' fill='#fff'/>"]
    for y0, name in zip(ys, names):
        body.append(_text(label_w - 5, y0 + 12, name, 9.5, "end"))
    for j, key in enumerate(keys):
        a = label_w + j * panel
        values = [metrics[n][key] for n in names]
        known = [v for v in values if v]
        log = bool(known) and max(known) / min(known) > 30
        hi = max(known) if known else 1
        axis = (_Axis(min(known) / 3, hi * 8, a, a + panel - 6, log=True) if log
                else _Axis(0, hi * 1.9, a, a + panel - 6))
        title = key if key != "peak FLOP/s" else f"peak FLOP/s ({dtype})"
        body.append(_text(a + (panel - 6) / 2, 18, title, 9.5, "middle"))
        for i, (y0, v) in enumerate(zip(ys, values)):
            colour = ROOF_COLOURS[i % len(ROOF_COLOURS)]
            if v:
                body.append(f"<rect x='{a:.1f}' y='{y0:.1f}' width='{axis(v) - a:.1f}' "
                            f"height='16' fill='{colour}'/>")
            body.append(_text((axis(v) if v else a) + 2, y0 + 12,
                              _METRIC_FORMATS[key](v) if v else "no TDP", 8.5))
        body.append(f"<line x1='{a:.1f}' x2='{a:.1f}' y1='{top:.1f}' y2='{bottom:.1f}' "
                    f"stroke='#444'/>")
    return _svg(w, h, body, None)


RECIPES = {"memory_stack_chart": memory_stack_chart, "roofline_chart": roofline_chart,
           "line_chart": line_chart, "ranked_bar_chart": ranked_bar_chart,
           "parameter_breakdown_chart": parameter_breakdown_chart,
           "compute_optimal_chart": compute_optimal_chart,
           "parallel_plan_chart": parallel_plan_chart,
           "device_comparison_chart": device_comparison_chart}


def draw(chart) -> str | None:
    """The SVG of ``chart`` (an `explorers.base.Chart`), or None when its recipe is not one
    this module draws."""
    if chart is None or chart.recipe not in RECIPES:
        return None
    return RECIPES[chart.recipe](**chart.args)
