"""The ipywidgets shell of an explorer: one widget per control of its pure half
(`bigcompute.explorers`), wired to its ``render``, with the chart drawn on one kept figure.

Each explorer is a real ipywidget (compose it, observe it) that also carries a static HTML
snapshot of its current state (`snapshot`). Invalid settings show the library's ValueError
message in the widget, never a traceback.
"""

from __future__ import annotations

import ipywidgets as W

from .. import plots
from ..explorers.base import Control, Spec, error_html
from .snapshot import snapshot_html, snapshot_with_controls

__all__ = ["Explorer", "control_widget"]


def control_widget(control: Control, value) -> W.ValueWidget:
    """The ipywidget of one declared control, at ``value``."""
    style = {"description_width": control.label_width}
    common = {"description": control.label, "style": style,
              "layout": W.Layout(width=control.width)}
    kind, lo, hi, step = control.kind, control.lo, control.hi, control.step
    if kind == "dropdown":
        return W.Dropdown(options=list(control.options), value=value, **common)
    if kind == "multi":
        return W.SelectMultiple(options=list(control.options), value=tuple(value),
                                rows=control.rows or 5, **common)
    if kind == "int":
        if lo is None and hi is None:
            return W.IntText(value=value, **common)
        return W.BoundedIntText(value=value, min=lo, max=hi, **common)
    if kind == "float":
        return W.BoundedFloatText(value=value, min=lo, max=hi, step=step, **common)
    if kind == "slider":
        return W.IntSlider(value=value, min=lo, max=hi, step=step or 1,
                           continuous_update=False, **common)
    if kind == "log":
        return W.FloatLogSlider(value=value, base=10, min=lo, max=hi, step=step,
                                readout_format=".3g", continuous_update=False, **common)
    if kind == "fraction":
        return W.FloatSlider(value=value, min=lo, max=hi, step=step, readout_format=".2f",
                             continuous_update=False, **common)
    if kind == "range":
        return W.IntRangeSlider(value=tuple(value), min=lo, max=hi, step=step or 1,
                                continuous_update=False, **common)
    return W.Checkbox(value=value, description=control.label)  # "checkbox"


class Explorer(W.VBox):
    """A spec's controls, its result (HTML) and its chart (PNG), kept in step.

    ``controls`` holds the settings' widgets by name; a derived control (a preset) is an
    attribute of its own name. The chart is one `plots.WidgetFigure`, redrawn at each update
    and rendered once to the ``chart`` image: an update makes no new figure."""

    def __init__(self, spec: Spec, settings: dict):
        self.spec = spec
        declared = spec.controls()
        derived = spec.derive(settings)
        self.controls = {name: control_widget(c, settings[name])
                         for name, c in declared.items() if name not in spec.derived}
        self.derived_controls = {name: control_widget(declared[name], derived[name])
                                 for name in spec.derived}
        for name, widget in self.derived_controls.items():
            setattr(self, name, widget)
        self.result = W.HTML()
        self.chart = W.Image(format="png", layout=W.Layout(max_width=spec.chart_width))
        self._widget_figure = None
        self._syncing = False
        super().__init__([W.HTML(spec.title_html), *self.derived_controls.values(),
                          *self._arrange(list(self.controls.values())), self.chart])
        for widget in self.controls.values():
            widget.observe(self.update, names="value")
        for name, widget in self.derived_controls.items():
            widget.observe(lambda change, name=name: self._apply(name, change["new"]),
                           names="value")
        self.update()

    def _arrange(self, widgets: list) -> list:
        """One column of controls with the result beside it, or several columns above it."""
        if self.spec.columns == 1:
            return [W.HBox([W.VBox(widgets), self.result])]
        per_column = -(-len(widgets) // self.spec.columns)
        return [W.HBox([W.VBox(widgets[i:i + per_column])
                        for i in range(0, len(widgets), per_column)]), self.result]

    def settings(self) -> dict:
        """The settings the controls stand at (a multiple choice or a range as a tuple)."""
        return {name: tuple(w.value) if isinstance(w.value, (list, tuple)) else w.value
                for name, w in self.controls.items()}

    def _apply(self, derived: str, value) -> None:
        """A derived control moved: set the settings it stands for, then update once."""
        if self._syncing:
            return
        changes = self.spec.apply(derived, value)
        if not changes:  # e.g. "custom": the shape stays as it is
            return
        self._syncing = True
        try:
            for name, new in changes.items():
                self.controls[name].value = new
        finally:
            self._syncing = False
        self.update()

    def update(self, _change=None) -> None:
        """Recompute and redraw from the controls' values."""
        if self._syncing:
            return
        settings = self.settings()
        self._syncing = True
        try:
            for name, value in self.spec.derive(settings).items():
                self.derived_controls[name].value = value
        finally:
            self._syncing = False
        inactive = self.spec.inactive(settings)
        for name, widget in self.controls.items():
            widget.disabled = name in inactive
        try:
            rendered = self.spec.render(settings)
            if rendered.chart is not None:
                with self._redrawing():
                    fig = plots.draw(rendered.chart)
                if fig is not self._widget_figure.figure:
                    raise TypeError(f"{rendered.chart.recipe} drew a figure of its own; draw "
                                    "it with plots.canvas._subplots")
        except ValueError as exc:
            self.result.value = error_html(exc)
            self.chart.layout.display = "none"
            return
        self.result.value = rendered.html
        if rendered.chart is None:
            self.chart.layout.display = "none"
            return
        self.chart.value = self._widget_figure.png()
        self.chart.layout.display = None

    def _redrawing(self):
        """A context in which the `plots` chart functions draw on this explorer's figure."""
        if self._widget_figure is None:
            self._widget_figure = plots.WidgetFigure(self.spec.chart_dpi)
        return self._widget_figure.redraw()

    def figure(self):
        """The chart at the current settings, as a new matplotlib Figure."""
        return plots.draw(self.spec.render(self.settings()).chart)

    def settings_text(self) -> str:
        """The settings in use (inactive controls left out), numbers readably rounded."""
        settings = self.settings()
        return self.spec.settings_text(settings, self.spec.inactive(settings))

    def snapshot_html(self) -> str:
        return snapshot_html(self.spec.name, self.settings_text(), self.result.value,
                             self.chart, max_width=int(self.spec.chart_width.rstrip("px")))

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/html"] = snapshot_with_controls(self)
        return bundle
