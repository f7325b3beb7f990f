"""What every explorer is made of, as data: its controls, its result and its chart.

An explorer is a `Spec`: a name, a title, its default settings, its controls (`Control`:
what kind of input, its label, its choices or range) and a pure ``render(settings) ->
Rendered`` that returns the summary HTML and the chart as data (`Chart`: the name of a
`bigcompute.plots` recipe and its arguments). Invalid settings raise ValueError, whose
message the shell shows in place of the result.

The ipywidgets shell (`bigcompute.widgets`) builds one widget per control and draws the chart
with matplotlib; a browser could build its own inputs from the same specs. Nothing here
imports ipywidgets, matplotlib, numpy or torch.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

__all__ = ["Control", "Chart", "Rendered", "Spec", "error_html", "verdict_html", "note_html",
           "setting_text", "check_settings"]

# The kinds of control, as the shell draws them:
#   dropdown  one of ``options``          multi     several of ``options`` (``rows`` tall)
#   int       a whole number lo..hi       float     a number lo..hi in steps of ``step``
#   slider    an integer slider lo..hi    log       a log10 slider, 10^lo..10^hi
#   fraction  a slider 0.01..1            range     an integer (low, high) pair lo..hi
#   checkbox  on or off
CONTROL_KINDS = ("dropdown", "multi", "int", "float", "slider", "log", "fraction", "range",
                 "checkbox")

_ERROR_STYLE = ("color:#8a1f11;background:#fdecea;border-left:4px solid #c0392b;"
                "padding:0.5em 0.8em;margin:0.3em 0")


@dataclass(frozen=True)
class Control:
    """One setting's input: its kind (`CONTROL_KINDS`), label, choices or range, and layout
    hints (the width of the input and of its label)."""

    kind: str
    label: str
    options: tuple = ()
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    rows: int | None = None
    width: str = "330px"
    label_width: str = "110px"

    def __post_init__(self):
        if self.kind not in CONTROL_KINDS:
            raise ValueError(f"control kind {self.kind!r}: one of {', '.join(CONTROL_KINDS)}")


@dataclass(frozen=True)
class Chart:
    """A chart as data: ``plots.<recipe>(**args)`` draws it."""

    recipe: str
    args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Rendered:
    """What an explorer shows at some settings: the result as HTML, the chart (None: no
    chart) and its headline numbers by name (plain numbers, strings and booleans, for a
    test or a page that wants them without parsing the HTML)."""

    html: str
    chart: Chart | None = None
    numbers: dict = field(default_factory=dict)


class Spec:
    """One explorer, pure. Subclasses set the class attributes and implement `controls` and
    `render`. A derived control (a preset) follows from the settings (`derive`) and, when
    moved, sets them (`apply`); `inactive` names the controls that do not apply at some
    settings (shown faded)."""

    name = "Explorer"
    title_html = ""
    defaults: dict = {}
    columns = 2              # the controls are laid out in this many columns
    chart_dpi = 80
    chart_width = "760px"
    derived: tuple[str, ...] = ()  # controls that follow from the others (not settings)
    extra: tuple[str, ...] = ()    # settings a caller may give besides the defaults' keys

    def settings(self, **given) -> dict:
        """The explorer's full settings: the defaults, overridden by ``given`` (a setting it
        does not have raises TypeError)."""
        check_settings(given, self.defaults, self.extra)
        return {**self.defaults, **given}

    def controls(self) -> dict[str, Control]:
        raise NotImplementedError

    def render(self, settings: dict) -> Rendered:
        raise NotImplementedError

    def derive(self, settings: dict) -> dict:
        """The derived controls' values at ``settings`` (none by default)."""
        return {}

    def apply(self, derived: str, value) -> dict:
        """The settings a derived control sets when moved to ``value`` (none by default)."""
        return {}

    def inactive(self, settings: dict) -> tuple[str, ...]:
        """Controls that do not apply at ``settings`` (none by default)."""
        return ()

    def settings_text(self, settings: dict, inactive=()) -> str:
        """The settings in use (inactive and derived ones left out), readably rounded."""
        return ", ".join(f"{k} = {setting_text(v)}" for k, v in settings.items()
                         if k not in inactive and k not in self.derived)


def error_html(exc: Exception, hint: str = "") -> str:
    """The message of an invalid setting, shown where the result would be."""
    hint = f"<br>{html.escape(hint)}" if hint else ""
    return (f"<div class='bigcompute-error' style='{_ERROR_STYLE}'>"
            f"{html.escape(str(exc))}{hint}</div>")


def verdict_html(ok: bool, text: str) -> str:
    """A one-line verdict, green when ``ok``, red otherwise."""
    colour = "#1e6b2f" if ok else "#8a1f11"
    return f"<p style='color:{colour};font-weight:bold;margin:0.4em 0'>{html.escape(text)}</p>"


def note_html(text: str) -> str:
    """A small note under a result."""
    return f"<p style='margin:0.2em 0;font-size:90%'>{html.escape(text)}</p>"


def setting_text(value) -> str:
    """2,048 for an int, 6.52e+10 or 0.476 for a float, a, b for a tuple of names, the text of
    anything else."""
    if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


def check_settings(settings: dict, defaults: dict, extra=()) -> None:
    """Refuse settings an explorer does not have (TypeError, as a function refuses an
    unknown keyword), naming those it has."""
    unknown = set(settings) - set(defaults) - set(extra)
    if unknown:
        raise TypeError(f"unknown settings {sorted(unknown)}; known: "
                        f"{list(defaults) + list(extra)}")
