"""Clear errors for bad input: name the parameter, the value and what is allowed.

One vocabulary of checks: a parameter is checked with the same function wherever it is taken,
so ``batch`` is a positive integer everywhere, ``mfu`` a fraction everywhere. Numbers are
finite (NaN and infinity are refused), integers are not bools, and numpy's scalars count as
the numbers they are.
"""

from __future__ import annotations

import difflib
import math
import numbers

__all__ = [
    "fail", "check_positive_int", "check_non_negative_int", "check_positive",
    "check_non_negative", "check_finite", "check_at_least",
    "check_fraction", "check_open_fraction", "check_bool", "check_name", "check_choice",
    "finite_result", "unknown_name",
]


def fail(name: str, value, allowed: str):
    raise ValueError(f"{name}={value!r} is not allowed: expected {allowed}")


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    """A real number that is not a bool and that a float can hold (10**400 cannot)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return False
    try:
        float(value)
    except OverflowError:
        return False
    return True


def check_positive_int(name: str, value) -> None:
    if not _is_int(value) or value < 1:
        fail(name, value, "a positive integer")


def check_non_negative_int(name: str, value) -> None:
    if not _is_int(value) or value < 0:
        fail(name, value, "0 or a positive integer")


def check_finite(name: str, value) -> None:
    if not _is_real(value) or not math.isfinite(value):
        fail(name, value, "a finite number")


def check_positive(name: str, value) -> None:
    """A finite number above 0 (a count, a size, a time)."""
    if not _is_real(value) or not (value > 0 and math.isfinite(value)):
        fail(name, value, "a positive finite number")



def check_non_negative(name: str, value) -> None:
    if not _is_real(value) or not (value >= 0 and math.isfinite(value)):
        fail(name, value, "a non-negative finite number")


def check_at_least(name: str, value, lowest: float) -> None:
    """A finite number no smaller than ``lowest`` (a PUE is at least 1)."""
    if not _is_real(value) or not (value >= lowest and math.isfinite(value)):
        fail(name, value, f"a finite number of at least {lowest:g}")


def check_fraction(name: str, value) -> None:
    """A fraction in (0, 1], such as an MFU."""
    if not _is_real(value) or not 0 < value <= 1:
        fail(name, value, "a number in (0, 1]")


def check_open_fraction(name: str, value) -> None:
    """A number strictly between 0 and 1, such as a probability or a confidence level."""
    if not _is_real(value) or not 0 < value < 1:
        fail(name, value, "a number strictly between 0 and 1")


def check_bool(name: str, value) -> None:
    """A flag: True or False, nothing that merely looks true."""
    if not isinstance(value, bool):
        fail(name, value, "True or False")


def check_name(name: str, value) -> None:
    """A non-empty name (a model, a device, a key)."""
    if not isinstance(value, str) or not value.strip():
        fail(name, value, "a non-empty name")


def finite_result(result: float, **inputs) -> float:
    """``result``, refused (naming the inputs that produced it) where it overflows to
    infinity or is not a number: the inputs were each allowed, but not together."""
    if not math.isfinite(result):
        values = tuple(inputs.values())
        fail(", ".join(inputs), values if len(values) > 1 else values[0],
             "values small enough that the result is finite (it overflows)")
    return result


def check_choice(name: str, value, choices) -> None:
    try:
        allowed = value in choices
    except TypeError:  # an unhashable value against a dict or set of choices
        allowed = False
    if not allowed:
        fail(name, value, "one of " + ", ".join(repr(c) for c in choices))


def unknown_name(kind: str, name: str, known) -> ValueError:
    """ValueError for an unknown catalogue name, listing the closest known names."""
    known = list(known)
    close = difflib.get_close_matches(str(name).lower(), known, n=5, cutoff=0.5)
    if not close:
        close = [k for k in known if str(name).lower()[:3] in k][:5]
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return ValueError(f"unknown {kind} {name!r}.{hint} Known: {', '.join(known)}")
