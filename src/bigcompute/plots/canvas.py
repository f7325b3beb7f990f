"""Where a chart is drawn: a new pyplot figure, or the one figure an explorer redraws.

A chart function draws on `_subplots` and ends with `_finish` (or `_layout`, then `_close`).
Called directly (a notebook's static figure) that is a new pyplot figure, laid out with
tight_layout. Inside `WidgetFigure.redraw` it is the explorer's own figure, cleared and drawn
again: the same chart code, one figure per explorer, laid out by the `WidgetFigure`.

matplotlib is imported inside the functions that need it, never at module level, so that
importing `bigcompute.plots` stays light until a chart is drawn.
"""

from __future__ import annotations

import contextlib
import contextvars
import io

import numpy as np

__all__ = [
    "WidgetFigure", "figure_png",
]


def _pyplot():
    import matplotlib.pyplot as plt  # lazy: matplotlib loads on the first chart

    return plt


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
        from matplotlib.backends.backend_agg import (
            FigureCanvasAgg,  # lazy: matplotlib loads on the first chart
        )
        from matplotlib.figure import Figure  # lazy: matplotlib loads on the first chart

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
        from matplotlib.colors import to_rgba  # lazy: matplotlib loads on the first chart

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
        from matplotlib import rcParams  # lazy: matplotlib loads on the first chart
        from matplotlib.font_manager import (
            FontProperties,  # lazy: matplotlib loads on the first chart
        )

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
        import matplotlib as mpl  # lazy: matplotlib loads on the first chart

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


def figure_png(fig, dpi: int = 100) -> bytes:
    """The figure as PNG bytes, cropped to what is drawn (an explorer's chart is
    `WidgetFigure.png`, which renders once)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()
