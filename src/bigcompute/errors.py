"""Clear errors for bad input: name the parameter, the value and what is allowed."""

from __future__ import annotations

import difflib
import math

__all__ = [
    "fail", "check_positive_int", "check_positive", "check_finite_positive",
    "check_non_negative", "check_fraction", "check_choice", "unknown_name",
]


def fail(name: str, value, allowed: str):
    raise ValueError(f"{name}={value!r} is not allowed: expected {allowed}")


def check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        fail(name, value, "a positive integer")


def check_positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        fail(name, value, "a positive number")


def check_finite_positive(name: str, value) -> None:
    check_positive(name, value)
    if not math.isfinite(value):
        fail(name, value, "a positive finite number")


def check_non_negative(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        value >= 0 and math.isfinite(value)
    ):
        fail(name, value, "a non-negative finite number")


def check_fraction(name: str, value) -> None:
    """A fraction in (0, 1], such as an MFU."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        fail(name, value, "a number in (0, 1]")


def check_choice(name: str, value, choices) -> None:
    if value not in choices:
        fail(name, value, "one of " + ", ".join(repr(c) for c in choices))


def unknown_name(kind: str, name: str, known) -> ValueError:
    """ValueError for an unknown catalogue name, listing the closest known names."""
    known = list(known)
    close = difflib.get_close_matches(str(name).lower(), known, n=5, cutoff=0.5)
    if not close:
        close = [k for k in known if str(name).lower()[:3] in k][:5]
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return ValueError(f"unknown {kind} {name!r}.{hint} Known: {', '.join(known)}")
