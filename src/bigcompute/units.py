"""Units: parse "7B", "2e12", "80GiB", "1.5 TB/s"; format FLOPs, bytes, seconds, dollars.

SI prefixes (k, M, G, T, P, E) are powers of 1000; binary ones (Ki, Mi, Gi, Ti) of 1024.
Model sizes use B for billion ("7B" parameters) — but "80GB" is bytes: see `parse_bytes`.
"""

from __future__ import annotations

import math
import numbers
import re

from .errors import (check_bool, check_finite, check_non_negative, check_positive,
                     check_positive_int, fail)

__all__ = [
    "SI", "BINARY", "COUNT", "PF_DAY", "parse_count", "parse_bytes", "parse_flops",
    "format_bytes", "format_flops", "format_rate", "format_count", "time_unit",
    "format_seconds", "format_dollars", "flops_to_pf_days", "format_share", "format_days",
    "format_small_dollars",
]

SI = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
      "Z": 1e21, "Y": 1e24}
BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}
COUNT = {"": 1, "K": 1e3, "k": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}
PF_DAY = 1e15 * 86400  # FLOP in one petaFLOP/s-day

_NUMBER = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]*)\s*$")


def _split(text, what: str, example: str):
    """(number, suffix) of ``text``; what it is and an example go into the message."""
    if not isinstance(text, str):
        fail("text", text, f"{what}: a number or a string such as {example}")
    m = _NUMBER.match(text.replace("_", "").replace(",", ""))
    if not m or not math.isfinite(float(m.group(1))):
        fail("text", text, f"{what}: a finite number with an optional suffix, e.g. {example}")
    return float(m.group(1)), m.group(2)


def _parsed(text, value: float, what: str) -> float:
    """A parsed number, refused when the suffix took it past the largest float."""
    if not math.isfinite(value):
        fail("text", text, f"{what} below 1.8e308")
    return value


def _is_number(text) -> bool:
    return isinstance(text, numbers.Real) and not isinstance(text, bool)


def parse_count(text) -> float:
    """A count such as a number of parameters or tokens: "124M", "7B", "1.4T", "2e12"."""
    if _is_number(text):
        check_non_negative("text", text)
        return float(text)
    value, suffix = _split(text, "a count", "7B, 124M, 1.4T, 2e12")
    if suffix not in COUNT:
        fail("text", text, "a count with a suffix among K, M, B (billion), T, or none")
    return _parsed(text, value * COUNT[suffix], "a count")


def parse_bytes(text) -> float:
    """Bytes: "80GB" (10^9), "80GiB" (2^30), "512MiB", "1.5TB", or a plain number."""
    if _is_number(text):
        check_non_negative("text", text)
        return float(text)
    value, suffix = _split(text, "a size in bytes", "80GB, 80GiB, 512MiB")
    unit = suffix[:-1] if suffix.endswith("B") else suffix
    if unit in BINARY:
        return _parsed(text, value * BINARY[unit], "a size in bytes")
    if unit in SI:
        return _parsed(text, value * SI[unit], "a size in bytes")
    fail("text", text, "a size in bytes like 80GB, 80GiB, 512MiB or a number of bytes")


def parse_flops(text) -> float:
    """FLOP counts or rates: "3.14e23", "989 TFLOPS" -> 9.89e14 (the rate's per second)."""
    if _is_number(text):
        check_non_negative("text", text)
        return float(text)
    value, suffix = _split(text.replace(" ", "") if isinstance(text, str) else text,
                           "a FLOP count or rate", "3.14e23, 989 TFLOPS")
    unit = re.sub(r"FLOP(S|/s)?$", "", suffix, flags=re.IGNORECASE)
    if unit in SI:
        return _parsed(text, value * SI[unit], "a FLOP count or rate")
    fail("text", text, "a FLOP count or rate like 3.14e23 or 989 TFLOPS")


def _format(value: float, unit: str, prefixes, base: float, digits: int) -> str:
    if value == 0:
        return f"0 {unit}"
    sign = "-" if value < 0 else ""
    value = abs(value)
    chosen = prefixes[0]
    for i, p in enumerate(prefixes):
        if value >= base**i:
            chosen = p
            scale = base**i
        else:
            break
    else:
        scale = base ** (len(prefixes) - 1)
    if chosen == prefixes[0]:
        scale = 1
    text = f"{value / scale:.{digits}g}"
    return f"{sign}{text} {chosen}{unit}"


def format_bytes(n: float, binary: bool = True, digits: int = 3) -> str:
    """1.3 GiB (binary, the default, as memory is addressed) or 1.4 GB (decimal)."""
    check_finite("n", n)
    check_bool("binary", binary)
    check_positive_int("digits", digits)
    if binary:
        return _format(n, "B", ["", "Ki", "Mi", "Gi", "Ti", "Pi"], 1024, digits)
    return _format(n, "B", ["", "k", "M", "G", "T", "P"], 1000, digits)


def format_flops(n: float, digits: int = 3) -> str:
    """FLOP counts in scientific notation: 4.7e+23 FLOP."""
    check_finite("n", n)
    check_positive_int("digits", digits)
    return f"{n:.{digits}g} FLOP" if abs(n) < 1e4 else f"{n:.{digits - 1}e} FLOP"


def format_rate(n: float, digits: int = 3) -> str:
    """FLOP/s with an SI prefix: 989 TFLOP/s."""
    check_finite("n", n)
    check_positive_int("digits", digits)
    return _format(n, "FLOP/s", ["", "k", "M", "G", "T", "P", "E"], 1000, digits)


def format_count(n: float, digits: int = 3) -> str:
    """Parameters or tokens: 124M, 6.74B, 1.4T; beyond 1000T in scientific notation."""
    check_finite("n", n)
    check_positive_int("digits", digits)
    if abs(n) >= 1e15:
        return f"{n:.{digits}g}"
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.{digits}g}{unit}"
    return f"{n:.{digits}g}"


def time_unit(s: float) -> tuple[str, float]:
    """The natural unit for ``s`` seconds and its length in seconds: ("min", 60.0)."""
    check_finite("s", s)
    for unit, scale in (("years", 365.25 * 86400), ("days", 86400), ("h", 3600),
                        ("min", 60), ("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if abs(s) >= scale or unit == "ns":
            return unit, float(scale)


def format_seconds(s: float, digits: int = 3) -> str:
    """Seconds in the natural unit: 12.3 ms, 4.5 h, 34.2 days, 1.2 years."""
    check_finite("s", s)
    check_positive_int("digits", digits)
    unit, scale = time_unit(s)
    return f"{s / scale:.{digits}g} {unit}"


def format_dollars(x: float) -> str:
    """$1.23M, $45.6k, $12.34."""
    check_finite("x", x)
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"${x / scale:.3g}{unit}"
    return f"${x:,.2f}"


def flops_to_pf_days(flops: float) -> float:
    """FLOPs in petaFLOP/s-days: flops / (1e15 x 86400)."""
    check_non_negative("flops", flops)
    return flops / PF_DAY


def format_share(part: float, total: float) -> str:
    """A part's share of a total as a percentage that never reads 0.0% for a non-zero part:
    45.5%, 1.9%, 0.031%."""
    check_non_negative("part", part)
    check_positive("total", total)
    pct = 100 * part / total
    return f"{pct:.1f}%" if pct >= 0.1 or pct == 0 else f"{pct:.2g}%"


def format_days(days: float) -> str:
    """Days with sensible precision: 0.42 days, 21.2 days, 1,234 days."""
    check_non_negative("days", days)
    return f"{days:,.0f} days" if days >= 1000 else f"{days:.3g} days"


def format_small_dollars(x: float) -> str:
    """Money that may be a fraction of a cent: $1.23k, $4.56, $0.0012."""
    check_non_negative("x", x)
    return format_dollars(x) if x >= 0.01 or x == 0 else f"${x:.2g}"
