"""Checking helpers for the exercises notebooks (coursework).

Each chapter ends with ``NN_exercises.ipynb``: the reader writes an answer into a variable,
and the cells after it check the answer with these helpers. A failed check raises an
AssertionError whose message says what was expected, with units, and what was got:

    >>> check_close("gpu_days", 1.0e4, 1.2e4, rel=0.01, unit="GPU-days")
    Traceback (most recent call last):
    ...
    AssertionError: gpu_days: expected 12,000 GPU-days (within 1%), got 10,000 GPU-days (-17%)

nbgrader (see `coursework.grading`) gives a test cell its points when it runs without an
error, so each check is one assertion a student can read and act on. The helpers are pure
Python: they import neither torch nor numpy, and accept numpy scalars as numbers.
"""

from __future__ import annotations

import math
import numbers

__all__ = [
    "check_between",
    "check_choice",
    "check_close",
    "check_equal",
    "check_number",
    "check_true",
    "relative_error",
]


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fmt(x: float, unit: str = "") -> str:
    """A number as a reader would write it: integers with thousands separators, others with
    four significant digits; then the unit."""
    if isinstance(x, numbers.Integral) or (float(x).is_integer() and abs(x) < 1e15):
        text = f"{int(x):,}"
    else:
        text = f"{float(x):.4g}"
    return f"{text} {unit}".rstrip()


def _tolerance(rel: float, abs_: float, unit: str) -> str:
    parts = []
    if rel:
        parts.append(f"{rel:.0%}" if rel >= 0.01 else f"{rel:.0e}".replace("e-0", "e-")
                     + " relative")
    if abs_:
        parts.append(f"±{_fmt(abs_, unit)}")
    return "within " + " or ".join(parts) if parts else "exactly"


def check_number(name: str, value, unit: str = "") -> float:
    """``value`` must be a finite real number (int, float, numpy scalar; not a bool, a string
    or None). Returns it as a float. ``unit`` is what the answer is measured in, for the
    message."""
    if value is None or value is NotImplemented or value is Ellipsis:
        raise AssertionError(f"{name}: expected a number{' in ' + unit if unit else ''}, "
                             f"got {value!r} -- set {name} to your answer")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        # numpy 0-d arrays and scalars of other libraries: accept what converts cleanly
        try:
            converted = float(value)
        except (TypeError, ValueError):
            converted = None
        if isinstance(value, (bool, str, bytes)) or converted is None:
            raise AssertionError(
                f"{name}: expected a number{' in ' + unit if unit else ''}, got "
                f"{type(value).__name__} {_describe(value)}")
        value = converted
    value = float(value)
    if not math.isfinite(value):
        raise AssertionError(f"{name}: expected a finite number"
                             f"{' in ' + unit if unit else ''}, got {value}")
    return value


def relative_error(value: float, expected: float) -> float:
    """(value - expected) / |expected|; the absolute difference when expected is 0."""
    return (value - expected) / abs(expected) if expected else value - expected


def check_close(name: str, value, expected: float, rel: float = 1e-6, abs: float = 0.0,
                unit: str = "", hint: str = "") -> None:
    """``value`` must equal ``expected`` within a relative tolerance ``rel`` (or an absolute
    one ``abs``, in the same unit). The message gives both numbers with ``unit``, the
    tolerance, the relative error and, if given, a ``hint``."""
    value = check_number(name, value, unit)
    expected = float(expected)
    if math.isclose(value, expected, rel_tol=rel, abs_tol=abs):
        return
    off = relative_error(value, expected)
    how_far = f" ({off:+.0%})" if expected and math.isfinite(off) and off > -10 else ""
    ratio = value / expected if expected else 0.0
    if ratio >= 10 or 0 < ratio <= 0.1 or ratio <= -10:
        shown = f"{ratio:,.0f}" if 10 <= math.fabs(ratio) < 1e6 else f"{ratio:.3g}"
        how_far = f" ({shown}x the expected value)"
    raise AssertionError(
        f"{name}: expected {_fmt(expected, unit)} ({_tolerance(rel, abs, unit)}), got "
        f"{_fmt(value, unit)}{how_far}" + (f". Hint: {hint}" if hint else ""))


def check_between(name: str, value, low: float, high: float, unit: str = "",
                  hint: str = "") -> None:
    """``value`` must lie in [low, high]: a sanity check on the order of magnitude that
    does not give the exact answer away."""
    value = check_number(name, value, unit)
    if low <= value <= high:
        return
    raise AssertionError(
        f"{name}: expected between {_fmt(low, unit)} and {_fmt(high, unit)}, got "
        f"{_fmt(value, unit)}" + (f". Hint: {hint}" if hint else ""))


def check_equal(name: str, value, expected, unit: str = "", hint: str = "") -> None:
    """Exact equality, for counts (integers) and for words. An integer answer given as a
    float that is a whole number is accepted."""
    if isinstance(expected, numbers.Integral) and not isinstance(expected, bool):
        number = check_number(name, value, unit)
        if number.is_integer() and int(number) == expected:
            return
        raise AssertionError(f"{name}: expected {_fmt(expected, unit)}, got "
                             f"{_fmt(number, unit)}" + (f". Hint: {hint}" if hint else ""))
    if value == expected:
        return
    raise AssertionError(f"{name}: expected {expected!r}, got {_describe(value)}"
                         + (f". Hint: {hint}" if hint else ""))


def check_choice(name: str, value, choices) -> None:
    """``value`` must be one of ``choices`` (e.g. "compute" or "memory"); case-insensitive
    for strings."""
    normal = value.strip().lower() if isinstance(value, str) else value
    allowed = [c.lower() if isinstance(c, str) else c for c in choices]
    if normal in allowed:
        return
    raise AssertionError(f"{name}: expected one of {list(choices)!r}, got {_describe(value)}")


def check_true(name: str, condition: bool, message: str) -> None:
    """A check that is not a number: ``message`` says what should hold."""
    if not condition:
        raise AssertionError(f"{name}: {message}")
