"""The static HTML the website shows for an explorer: its title and settings, its controls
drawn at their values, its result and its chart as an image.

The website has no kernel, so ``_config.yml`` ranks this ``text/html`` above the live
widget view; JupyterLab shows the live widget. The snapshot also carries the explorer's name,
settings and controls as data attributes, from which the website's "make live" button
(site/live-explorers.mjs) recomputes it in the browser.
"""

from __future__ import annotations

import base64
import html
import json
import math

import ipywidgets as W

__all__ = ["SNAPSHOT_NOTE", "snapshot_html", "controls_snapshot_html", "snapshot_with_controls"]

SNAPSHOT_NOTE = ("Static snapshot at the settings shown. Run this notebook (JupyterLab, "
                 "Binder or Colab) to move the sliders.")
_CONTROL_LABEL_STYLE = ("display:inline-block;min-width:7em;margin-right:0.4em;"
                        "text-align:right;white-space:nowrap")
_CONTROL_STYLE = "display:inline-flex;align-items:center;margin:2px 18px 2px 0;gap:0.3em"


def snapshot_html(title: str, settings: str, result_html: str, chart, *,
                  max_width: int = 760, alt: str | None = None) -> str:
    """The static HTML of an explorer: title, settings, result and chart image (``chart``:
    the explorer's ``W.Image``, left out when hidden or empty)."""
    image = ""
    if chart.layout.display != "none" and chart.value:
        data = base64.b64encode(chart.value).decode("ascii")
        alt = alt or f"{title} at {settings}"
        image = (f"<img alt='{html.escape(alt)}' "
                 f"src='data:image/png;base64,{data}' style='max-width:{max_width}px'>")
    return (f"<div class='bigcompute-explorer'><p><b>{html.escape(title)}</b> "
            f"(<span class='bigcompute-settings-text'>{html.escape(settings)}</span>)<br>"
            f"<i class='bigcompute-snapshot-note'>{SNAPSHOT_NOTE}</i></p>"
            f"<div class='bigcompute-result'>{result_html}</div>{image}</div>")


def controls_snapshot_html(widget, names: dict | None = None) -> str:
    """An explorer's controls drawn in plain HTML at their current values, for its static
    snapshot: sliders as disabled range inputs with their readout, drop-downs as disabled
    selects showing the chosen option, text boxes as disabled inputs. The website, which has
    no kernel, then shows what the reader could move and where it stands (the rest of the
    snapshot shows the numbers and chart at those values). Empty when there are no controls.

    ``names`` maps ``id(widget)`` to (setting name, `explorers.base.Control`): each such
    control then carries its name, kind and choices as data attributes, for the website's
    live explorers (site/live-explorers.mjs), which rebuild it as a live input."""
    items = "".join(_control_html(w, (names or {}).get(id(w))) for w in _controls_in(widget))
    if not items:
        return ""
    return (f"<div class='bigcompute-controls' style='display:flex;flex-wrap:wrap;"
            f"margin:0.3em 0 0.5em 0'>{items}</div>")


def _controls_in(widget):
    """The value widgets inside ``widget``, in display order, skipping hidden ones and the
    explorer's outputs (HTML, labels, images)."""
    layout = getattr(widget, "layout", None)
    if layout is not None and layout.display == "none":
        return
    if isinstance(widget, W.Box):
        for child in widget.children:
            yield from _controls_in(child)
    elif isinstance(widget, W.ValueWidget) and not isinstance(
            widget, (W.HTML, W.HTMLMath, W.Label, W.Image)):
        yield widget


def _control_data(name: str, control) -> str:
    """The data attributes of a named control: its setting, kind and choices or range."""
    data = {"key": name, "kind": control.kind}
    if control.options:
        data["options"] = json.dumps(_jsonable(list(control.options)))
    for attr in ("lo", "hi", "step"):
        if getattr(control, attr) is not None:
            data[attr] = repr(getattr(control, attr))
    return "".join(f" data-{k}='{html.escape(str(v), quote=True)}'" for k, v in data.items())


def _jsonable(value):
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def _control_html(w, named=None) -> str:
    label = html.escape(w.description or "")
    disabled = " disabled"  # drawn, not live: the website has no kernel to recompute
    if isinstance(w, W.FloatLogSlider):
        position = math.log(w.value, w.base) if w.value > 0 else 0.0
        body = (f"<input type='range' min='{w.min}' max='{w.max}' step='{w.step}' "
                f"value='{position}'{disabled}>{_readout(w)}")
    elif isinstance(w, (W.IntSlider, W.FloatSlider)):
        body = (f"<input type='range' min='{w.min}' max='{w.max}' step='{w.step}' "
                f"value='{w.value}'{disabled}>{_readout(w)}")
    elif isinstance(w, W.SelectionSlider):
        body = (f"<input type='range' min='0' max='{max(len(w.options) - 1, 0)}' step='1' "
                f"value='{w.index}'{disabled}><span>{html.escape(str(w.label))}</span>")
    elif isinstance(w, W.widget_selection._MultipleSelection):
        chosen = set(w.label)
        options = "".join(f"<option{' selected' if lab in chosen else ''}>"
                          f"{html.escape(str(lab))}</option>" for lab in w._options_labels)
        rows = getattr(w, "rows", None) or min(len(w._options_labels), 5)
        body = f"<select multiple size='{rows}'{disabled}>{options}</select>"
    elif isinstance(w, W.widget_selection._Selection):
        body = (f"<select{disabled}><option selected>{html.escape(str(w.label))}</option>"
                f"</select>")
    elif isinstance(w, W.widget_bool._Bool):
        checked = " checked" if w.value else ""
        body = f"<input type='checkbox'{checked}{disabled}>"
    else:
        body = (f"<input type='text' size='10' value='{html.escape(str(w.value))}'"
                f"{disabled}>")
    # a control the explorer has switched off (it does not apply) is faded, as live
    faded = ";opacity:0.45" if w.disabled else ""
    data = _control_data(*named) if named else ""
    return (f"<label class='bigcompute-control'{data} style='{_CONTROL_STYLE}{faded}'>"
            f"<span style='{_CONTROL_LABEL_STYLE}'>{label}</span>{body}</label>")


def _readout(w) -> str:
    try:
        text = format(w.value, w.readout_format)
    except (TypeError, ValueError):
        text = str(w.value)
    return f"<span style='min-width:4em'>{html.escape(text)}</span>"


def snapshot_with_controls(explorer) -> str:
    """The explorer's static snapshot with its controls drawn in it, just below the title
    line (or first, for a snapshot of another shape), wrapped in
    ``div.bigcompute-widget-snapshot`` (the website's browser test looks for it).

    An explorer of `bigcompute.explorers.SPECS` also carries, as data attributes of its
    ``div.bigcompute-explorer``, its name (``data-explorer``) and settings (``data-settings``,
    JSON), and each control its name, kind and choices: what the website's live explorers
    need to recompute it in the browser."""
    snapshot = explorer.snapshot_html()
    names, data = _explorer_data(explorer)
    controls = controls_snapshot_html(explorer, names)
    head = "<div class='bigcompute-explorer'>"
    if snapshot.startswith(head) and "</p>" in snapshot:
        cut = snapshot.index("</p>") + len("</p>")
        snapshot = snapshot[:cut] + controls + snapshot[cut:]
        snapshot = f"<div class='bigcompute-explorer'{data}>" + snapshot[len(head):]
    else:
        snapshot = controls + snapshot
    return f"<div class='bigcompute-widget-snapshot'>{snapshot}</div>"


def _explorer_data(explorer) -> tuple[dict, str]:
    """({id(widget): (setting, Control)}, the data attributes of its div) of an explorer whose
    spec is one of `explorers.SPECS`; ({}, "") for anything else."""
    from ..explorers import SPECS

    spec = getattr(explorer, "spec", None)
    kind = next((k for k, c in SPECS.items() if type(spec) is c), None)
    if kind is None:
        return {}, ""
    declared = spec.controls()
    widgets = {**getattr(explorer, "controls", {}), **getattr(explorer, "derived_controls", {})}
    names = {id(w): (name, declared[name]) for name, w in widgets.items() if name in declared}
    settings = json.dumps(_jsonable(explorer.settings()), separators=(",", ":"))
    return names, (f" data-explorer='{kind}'"
                   f" data-settings='{html.escape(settings, quote=True)}'")
