"""What the website's live explorers call in the browser (pyodide, in a Web Worker): one
explorer's pure half (`bigcompute.explorers`) rendered at the settings the page's controls
stand at, with its chart as SVG where `svg_charts` draws it.

``update(kind, settings_json, derived_json)`` takes and returns JSON text, so the page's
script needs no Python objects. Pure Python: no numpy, matplotlib or ipywidgets.
"""

from __future__ import annotations

import json

from . import svg_charts
from .explorers import SPECS
from .explorers.base import error_html

__all__ = ["render", "spec", "update"]

_SPECS: dict = {}
_FLOATS: dict = {}  # each explorer's float settings


def spec(kind: str):
    """The explorer `SPECS[kind]`, made once."""
    if kind not in _SPECS:
        if kind not in SPECS:
            raise KeyError(f"no explorer {kind!r}; known: {sorted(SPECS)}")
        _SPECS[kind] = SPECS[kind]()
    return _SPECS[kind]


def _typed(explorer, settings: dict) -> dict:
    """JSON's lists back into the tuples the explorers take (multiple choices, ranges), and
    whole numbers back into floats for a float control (JavaScript writes
    6.52e10 as 65200000000)."""
    if explorer not in _FLOATS:
        _FLOATS[explorer] = {k for k, c in explorer.controls().items()
                             if c.kind in ("float", "log", "fraction")}
        _FLOATS[explorer] |= {k for k, v in explorer.defaults.items() if isinstance(v, float)}
    floats = _FLOATS[explorer]
    out = {k: tuple(v) if isinstance(v, list) else
           float(v) if k in floats and type(v) is int else v
           for k, v in settings.items()}
    return explorer.settings(**{k: v for k, v in out.items() if k not in explorer.derived})


def render(kind: str, settings: dict, derived: dict | None = None) -> dict:
    """Everything the page shows for ``kind`` at ``settings`` (a dict as in the snapshot's
    ``data-settings``): ``html`` (the result, or the error message), ``svg`` (the chart, or
    None when not drawn here), ``chart`` (its recipe), ``settings`` (after a moved derived
    control, ``derived``, applied), ``derived``, ``inactive`` and ``settings_text``."""
    explorer = spec(kind)
    settings = _typed(explorer, settings)
    for name, value in (derived or {}).items():
        settings.update(explorer.apply(name, value))
    inactive = list(explorer.inactive(settings))
    out = {"settings": settings, "derived": explorer.derive(settings), "inactive": inactive,
           "settings_text": explorer.settings_text(settings, inactive), "svg": None,
           "chart": None, "numbers": {}}
    try:
        rendered = explorer.render(settings)
    except ValueError as exc:
        out["html"] = error_html(exc)
        out["error"] = True
        return out
    out["html"] = rendered.html
    out["numbers"] = rendered.numbers
    if rendered.chart is not None:
        out["chart"] = rendered.chart.recipe
        try:
            out["svg"] = svg_charts.draw(rendered.chart)
        except (ValueError, ZeroDivisionError, TypeError, OverflowError):
            out["svg"] = None  # the page keeps its image, with its note
    return out


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def update(kind: str, settings_json: str, derived_json: str = "{}") -> str:
    """`render` with JSON in and out (what the Worker calls)."""
    result = render(kind, json.loads(settings_json), json.loads(derived_json or "{}"))
    return json.dumps(_jsonable(result))
