"""An explorer's update redraws the one figure it keeps (plots.WidgetFigure): no new figure,
one render, no layout pass when nothing moved, and a new layout when the content no longer
fits. Counted, not timed: a wall-clock threshold would flake on a loaded machine."""

from __future__ import annotations

import inspect
import io

import pytest

pytest.importorskip("ipywidgets")
matplotlib = pytest.importorskip("matplotlib")
import ipywidgets as W
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from bigcompute import plots, widgets
from bigcompute.plots import canvas

# the explorers that ask for them get these (any price and grid intensity will do here)
REQUIRED = {"price_per_device_hour": 2.5, "grid_kg_per_kwh": 0.4}


FACTORIES = list(widgets.explorer_factories())


def _build(name):
    fn = getattr(widgets, name)
    params = inspect.signature(fn).parameters
    return fn(**{k: v for k, v in REQUIRED.items() if k in params})


@pytest.fixture
def counts(monkeypatch):
    """How many figures are made, canvases drawn, tight layouts and savefigs run."""
    seen = {"figures": 0, "renders": 0, "tight_layout": 0, "savefig": 0}

    def counting(cls, method, key):
        original = getattr(cls, method)

        def wrapper(*args, **kwargs):
            seen[key] += 1
            return original(*args, **kwargs)
        monkeypatch.setattr(cls, method, wrapper)

    counting(Figure, "__init__", "figures")
    counting(FigureCanvasAgg, "draw", "renders")
    counting(Figure, "tight_layout", "tight_layout")
    counting(Figure, "savefig", "savefig")
    return seen


def _ink_margins(png: bytes) -> tuple[int, int, int, int]:
    """Empty pixels between the drawing and the top, bottom, left and right of the image."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    ink = (pixels != 255).any(axis=2)
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return (int(rows[0]), int(ink.shape[0] - 1 - rows[-1]), int(cols[0]),
            int(ink.shape[1] - 1 - cols[-1]))


def _other_values(control):
    """A few other values of a control, and its own to come back to."""
    v = control.value
    if isinstance(control, W.SelectMultiple):
        return [tuple(control.options[:2]), v]
    if isinstance(control, W.Dropdown):
        return [control.options[-1], control.options[0], v]
    if isinstance(control, W.FloatLogSlider):
        return [v * 20, v / 20, v]
    if isinstance(control, W.IntRangeSlider):
        return [(v[0] + 5, v[1]), v]
    if isinstance(control, W.Checkbox):
        return [not v, v]
    if isinstance(control, (W.IntSlider, W.BoundedIntText, W.IntText)):
        return [min(getattr(control, "max", 2 * v), 16 * v), v]
    return []


def _panels(wf, labels, ncols):
    """One panel, or two side by side, the last with these y tick labels."""
    with wf.redraw():
        fig, axes = canvas._subplots(1, ncols, figsize=(6, 3), squeeze=False)
        for ax in axes[0]:
            ax.plot([0, 1], [0, 1])
        axes[0, -1].set_yticks(range(len(labels)), labels)
        axes[0, -1].set_title("a title")
        canvas._finish(fig)
    return wf.png()


def test_every_explorer_is_found():
    assert len(FACTORIES) >= 11 and "parameter_explorer" in FACTORIES


@pytest.mark.parametrize("name", FACTORIES)
def test_an_update_redraws_the_same_figure_once(name, counts):
    explorer = _build(name)
    figure = explorer._widget_figure.figure
    before = bytes(explorer.chart.value)
    for key in counts:
        counts[key] = 0
    explorer.update()
    assert counts == {"figures": 0, "renders": 1, "tight_layout": 0, "savefig": 0}
    assert explorer._widget_figure.figure is figure
    assert bytes(explorer.chart.value) == before  # the same settings draw the same chart


@pytest.mark.parametrize("name", FACTORIES)
def test_moving_the_controls_never_clips_the_chart(name):
    # the layout is kept while the content fits it; whatever the controls do, nothing may
    # reach the edge of the image (clipped, it would run into the edge)
    explorer = _build(name)
    shown = 0
    for control in explorer.controls.values():
        for value in _other_values(control):
            control.value = value
            if explorer.chart.layout.display == "none":  # an invalid setting: a message
                continue
            shown += 1
            assert min(_ink_margins(bytes(explorer.chart.value))) >= 2, (
                control.description, value)
    assert shown


@pytest.mark.parametrize("ncols", [1, 2])  # 1: the labels reach the edge; 2: the other panel
def test_a_redraw_that_no_longer_fits_is_laid_out_again_as_a_new_figure_would_be(ncols):
    wf = plots.WidgetFigure(dpi=80)
    _panels(wf, ["a", "b"], ncols)
    renders = wf.renders
    _panels(wf, ["a", "b"], ncols)  # the same content: the layout stands, one render
    assert wf.renders == renders + 1
    longer = ["a much, much longer tick label", "b"]
    png = _panels(wf, longer, ncols)  # no longer fits: rendered, laid out, rendered again
    assert wf.renders == renders + 3
    fresh = plots.WidgetFigure(dpi=80)
    assert _panels(fresh, longer, ncols) == png
    assert [ax.get_position().bounds for ax in wf.figure.axes] == \
        [ax.get_position().bounds for ax in fresh.figure.axes]
    renders = wf.renders
    _panels(wf, ["a", "b"], ncols)  # shorter again: it still fits, the layout stands
    assert wf.renders == renders + 1


def test_a_title_wider_than_the_figure_widens_it_as_bbox_inches_tight_did():
    wf = plots.WidgetFigure(dpi=80)
    title = "a title much wider than the three inches of this figure, drawn on its left"
    with wf.redraw():
        fig, ax = canvas._subplots(figsize=(3, 2))
        ax.set_title(title, loc="left")
        canvas._finish(fig)
    png = wf.png()
    assert wf.figure.get_size_inches()[0] > 3
    assert min(_ink_margins(png)) >= round(wf.CROP_PAD_INCHES * 80) - 1


def test_charts_drawn_outside_an_explorer_are_new_pyplot_figures_laid_out_tight(counts):
    fig = widgets.parameter_scaling_figure(n_layers=(6,))
    assert counts["figures"] == 1 and counts["tight_layout"] == 1
    assert fig is not None and not canvas._REDRAWING.get()
