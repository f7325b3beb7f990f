"""Checking helpers for the exercises notebooks (coursework).

Each chapter ends with ``NN_exercises.ipynb``: the reader writes an answer into a variable,
and the cells after it check the answer with these helpers. A failed check raises an
AssertionError whose message says what is wrong, with units, but never the expected value
(not even a signed error, from which a student could back it out):

    >>> check_close("gpu_days", 1.0e4, 1.2e4, rel=0.01, unit="GPU-days")
    Traceback (most recent call last):
    ...
    AssertionError: gpu_days: 10,000 GPU-days is outside the 1% band

`check_answer` grades a number in bands: full credit within ``full_band`` (1% by default),
a configured share of the points for a recognised convention slip (GiB given for GB, 6ND
for the exact count, MACs for FLOPs, bits for bytes, one direction for both), partial credit
within ``partial_band`` (10%), and an AssertionError outside. It prints what it found and
returns the points earned, which the check cell shows as its last expression: nbgrader
0.9.6's autograde scores a test cell that ends in a number with that number (partial
credit, `nbgrader.utils.determine_grade`), one that raises with 0, any other with its full
points. So a check cell holds at most one `check_answer` expression, as its last statement
(tests/coursework checks this, and that its ``points`` are the cell's).

The helpers are pure Python: they import neither torch nor numpy, and accept numpy scalars
as numbers.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "BITS_FOR_BYTES",
    "BOTH_DIRECTIONS_FOR_ONE",
    "DEFAULT_FULL_BAND",
    "DEFAULT_PARTIAL_BAND",
    "DEFAULT_PARTIAL_CREDIT",
    "GB_FOR_GIB",
    "GIB_FOR_GB",
    "MACS_FOR_FLOPS",
    "ONE_DIRECTION_FOR_BOTH",
    "SIX_ND_FOR_EXACT",
    "SLIPS",
    "Slip",
    "SlipCredit",
    "band_text",
    "carried_forward",
    "check_answer",
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


def band_text(rel: float) -> str:
    """A relative tolerance as a reader says it: 0.01 -> "1%", 0.005 -> "0.5%",
    1e-6 -> "0.0001%"."""
    return f"{rel * 100:.6g}%"


def _tolerance(rel: float, abs_: float, unit: str) -> str:
    parts = []
    if rel:
        parts.append(f"the {band_text(rel)} band")
    if abs_:
        parts.append(f"±{_fmt(abs_, unit)}")
    return " or ".join(parts) if parts else "the exact value"


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
    one ``abs``, in the same unit). The message gives the answer with ``unit``, the band it
    missed and, if given, a ``hint``; never the expected value or how far off the answer is.
    """
    value = check_number(name, value, unit)
    expected = float(expected)
    if math.isclose(value, expected, rel_tol=rel, abs_tol=abs):
        return
    raise AssertionError(f"{name}: {_fmt(value, unit)} is outside {_tolerance(rel, abs, unit)}"
                         + (f". Hint: {hint}" if hint else ""))


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
    float that is a whole number is accepted. The message does not give the expected value.
    """
    if isinstance(expected, numbers.Integral) and not isinstance(expected, bool):
        number = check_number(name, value, unit)
        if number.is_integer() and int(number) == expected:
            return
        raise AssertionError(f"{name}: {_fmt(number, unit)} is not the exact count"
                             + (f". Hint: {hint}" if hint else ""))
    if value == expected:
        return
    raise AssertionError(f"{name}: {_describe(value)} is not the right answer"
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


# ------------------------------------------------------------------ bands and convention slips

DEFAULT_FULL_BAND = 0.01  # full credit within 1%: a right method, rounded by hand
DEFAULT_PARTIAL_BAND = 0.10  # partial credit within 10%: a right method with a slip in a term
DEFAULT_PARTIAL_CREDIT = 0.5  # the share of the points the partial band earns


@dataclass(frozen=True)
class Slip:
    """A convention slip a check recognises: an answer that is the expected value converted
    by ``factor`` (answer = expected x factor), or, when ``factor`` is None, one that equals
    a value the check computes (6ND where the exact count was asked). ``description`` is what
    the feedback says; it names the convention, never the value."""

    key: str
    description: str
    factor: float | None = None

    def credit(self, credit: float, value: float | None = None) -> SlipCredit:
        """This slip, granting ``credit`` (a share of the points, 0 to 1) when the answer
        matches; ``value`` is the answer the slip produces (needed when ``factor`` is None).
        """
        return SlipCredit(self, credit, value)


@dataclass(frozen=True)
class SlipCredit:
    """A `Slip` with the share of the points it earns in one check, and the answer it
    produces there (None: the expected value x the slip's factor)."""

    slip: Slip
    credit: float
    value: float | None = None

    def __post_init__(self):
        if not isinstance(self.slip, Slip):
            raise ValueError(f"slip={self.slip!r} is not allowed: expected a Slip "
                             f"(one of {', '.join(SLIPS)})")
        _check_share("credit", self.credit)
        if self.value is None and self.slip.factor is None:
            raise ValueError(f"value=None is not allowed for the slip {self.slip.key!r}: "
                             f"expected the answer this slip produces (a finite number)")
        if self.value is not None and (not _is_real_number(self.value)
                                       or not math.isfinite(float(self.value))
                                       or float(self.value) == 0):
            raise ValueError(f"value={self.value!r} is not allowed: expected the answer the "
                             f"slip {self.slip.key!r} produces, a finite non-zero number")

    def answer(self, expected: float) -> float:
        return float(self.value) if self.value is not None else expected * self.slip.factor


GIB_FOR_GB = Slip("gib_for_gb", "the answer is in GiB (2^30 bytes) where GB (10^9 bytes) "
                  "were asked", 1e9 / 2**30)
GB_FOR_GIB = Slip("gb_for_gib", "the answer is in GB (10^9 bytes) where GiB (2^30 bytes) "
                  "were asked", 2**30 / 1e9)
SIX_ND_FOR_EXACT = Slip("six_nd_for_exact", "the answer is 6ND where the exact FLOP count "
                        "(attention and the output layer included) was asked")
MACS_FOR_FLOPS = Slip("macs_for_flops", "the answer counts multiply-accumulates (MACs) where "
                      "FLOPs (2 per multiply-accumulate) were asked", 0.5)
BITS_FOR_BYTES = Slip("bits_for_bytes", "the answer is in bits where bytes were asked", 8.0)
ONE_DIRECTION_FOR_BOTH = Slip("one_direction_for_both", "the answer counts one direction "
                              "where both directions were asked", 0.5)
BOTH_DIRECTIONS_FOR_ONE = Slip("both_directions_for_one", "the answer counts both directions "
                               "where one direction was asked", 2.0)
SLIPS = {s.key: s for s in (GIB_FOR_GB, GB_FOR_GIB, SIX_ND_FOR_EXACT, MACS_FOR_FLOPS,
                            BITS_FOR_BYTES, ONE_DIRECTION_FOR_BOTH, BOTH_DIRECTIONS_FOR_ONE)}


def _is_real_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_share(name: str, value) -> None:
    if not _is_real_number(value) or not 0 <= value <= 1:
        raise ValueError(f"{name}={value!r} is not allowed: expected a share of the points "
                         f"from 0 to 1")


def _check_band(name: str, value) -> None:
    if not _is_real_number(value) or not 0 < value < 1:
        raise ValueError(f"{name}={value!r} is not allowed: expected a relative band "
                         f"above 0 and below 1 (0.01 is 1%)")


def _points_text(points: float) -> str:
    return f"{points:g} point" + ("" if points == 1 else "s")


def check_answer(name: str, value, expected: float, *, points: float, unit: str = "",
                 full_band: float = DEFAULT_FULL_BAND,
                 partial_band: float = DEFAULT_PARTIAL_BAND,
                 partial_credit: float = DEFAULT_PARTIAL_CREDIT,
                 slips=(), hint: str = "") -> float:
    """Grade a numeric answer in bands and return the points earned (the check cell's last
    expression, so that nbgrader records them).

    - within ``full_band`` of ``expected`` (relative): all ``points``;
    - within ``full_band`` of what a recognised slip produces (``slips``: `SlipCredit`s such
      as ``GIB_FOR_GB.credit(0.5)``): that slip's share of the points, and the feedback names
      the slip (a slip granting 0 raises, naming it);
    - within ``partial_band``: ``partial_credit`` of the points;
    - otherwise an AssertionError: no credit.

    It prints one line of feedback: the band the answer fell in, or the slip. It never
    prints the expected value or the size or sign of the error. Bad arguments (the
    instructor's) raise ValueError; a missing or non-numeric answer raises AssertionError.
    """
    if not _is_real_number(points) or not (points > 0 and math.isfinite(points)):
        raise ValueError(f"points={points!r} is not allowed: expected the check cell's "
                         f"points, a positive number")
    _check_band("full_band", full_band)
    _check_band("partial_band", partial_band)
    if partial_band < full_band:
        raise ValueError(f"partial_band={partial_band!r} is not allowed: expected a band at "
                         f"least as wide as full_band={full_band!r}")
    _check_share("partial_credit", partial_credit)
    if not _is_real_number(expected) or not math.isfinite(float(expected)) or expected == 0:
        raise ValueError(f"expected={expected!r} is not allowed: expected a finite non-zero "
                         f"number (the bands are relative)")
    slips = tuple(slips)
    for slip in slips:
        if not isinstance(slip, SlipCredit):
            raise ValueError(f"slips={slips!r} is not allowed: expected Slip.credit(...) "
                             f"entries, such as GIB_FOR_GB.credit(0.5)")
    value = check_number(name, value, unit)
    expected = float(expected)
    suffix = f". Hint: {hint}" if hint else ""

    def within(answer: float, target: float, band: float) -> bool:
        return abs(answer - target) <= band * abs(target)

    if within(value, expected, full_band):
        print(f"{name}: within the {band_text(full_band)} band: full credit, "
              f"{_points_text(points)}")
        return float(points)
    for slip in slips:
        if within(value, slip.answer(expected), full_band):
            earned = round(points * slip.credit, 6)
            if earned == 0:
                raise AssertionError(f"{name}: {slip.slip.description}: no credit{suffix}")
            print(f"{name}: {slip.slip.description}: {_points_text(earned)} of "
                  f"{points:g} (the credit set for this slip){suffix}")
            return earned
    if within(value, expected, partial_band) and partial_credit > 0:
        earned = round(points * partial_credit, 6)
        print(f"{name}: within the {band_text(partial_band)} band but outside the "
              f"{band_text(full_band)} band: partial credit, {_points_text(earned)} of "
              f"{points:g}{suffix}")
        return earned
    raise AssertionError(f"{name}: {_fmt(value, unit)} is outside the "
                         f"{band_text(partial_band)} band: no credit{suffix}")


def carried_forward(namespace: Mapping, name: str, fallback: float) -> float:
    """The student's own answer ``name`` from ``namespace`` (a check cell passes
    ``globals()``) when it is a finite positive number, else ``fallback`` (the right value).

    A design problem's later part is graded on the student's earlier answer, so that one
    error costs only the part it was made in ("error carried forward")."""
    if not isinstance(namespace, Mapping):
        raise ValueError(f"namespace={type(namespace).__name__} is not allowed: expected a "
                         f"mapping of names, such as globals()")
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name={name!r} is not allowed: expected a variable name")
    value = namespace.get(name)
    if _is_real_number(value) or hasattr(value, "__float__") and not isinstance(value, str):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return fallback
        if math.isfinite(number) and number > 0 and not isinstance(value, bool):
            return number
    return fallback
