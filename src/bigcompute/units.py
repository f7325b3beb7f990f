"""Units: parse "7B", "2e12", "80GiB", "1.5 TB/s"; format FLOPs, bytes, seconds, dollars.

SI prefixes (k, M, G, T, P, E) are powers of 1000; binary ones (Ki, Mi, Gi, Ti) of 1024.
Model sizes use B for billion ("7B" parameters) — but "80GB" is bytes: see `parse_bytes`.
"""

from __future__ import annotations

import re

from .errors import fail

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


def _split(text, what):
    m = _NUMBER.match(str(text).replace("_", "").replace(",", ""))
    if not m:
        fail(what, text, "a number with an optional suffix, e.g. 7B, 2e12, 80GiB")
    return float(m.group(1)), m.group(2)


def parse_count(text) -> float:
    """A count such as a number of parameters or tokens: "124M", "7B", "1.4T", "2e12"."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    value, suffix = _split(text, "count")
    if suffix not in COUNT:
        fail("count", text, "a suffix among K, M, B (billion), T, or none")
    return value * COUNT[suffix]


def parse_bytes(text) -> float:
    """Bytes: "80GB" (10^9), "80GiB" (2^30), "512MiB", "1.5TB", or a plain number."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    value, suffix = _split(text, "bytes")
    unit = suffix[:-1] if suffix.endswith("B") else suffix
    if unit in BINARY:
        return value * BINARY[unit]
    if unit in SI:
        return value * SI[unit]
    fail("bytes", text, "a size like 80GB, 80GiB, 512MiB or a number of bytes")


def parse_flops(text) -> float:
    """FLOP counts or rates: "3.14e23", "989 TFLOPS" -> 9.89e14 (the rate's per second)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    value, suffix = _split(str(text).replace(" ", ""), "flops")
    unit = re.sub(r"FLOP(S|/s)?$", "", suffix, flags=re.IGNORECASE)
    if unit in SI:
        return value * SI[unit]
    fail("flops", text, "a number like 3.14e23 or 989 TFLOPS")


def _format(value: float, unit: str, prefixes, base: float, precision: int) -> str:
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
    text = f"{value / scale:.{precision}g}"
    return f"{sign}{text} {chosen}{unit}"


def format_bytes(n: float, binary: bool = True, precision: int = 3) -> str:
    """1.3 GiB (binary, the default, as memory is addressed) or 1.4 GB (decimal)."""
    if binary:
        return _format(n, "B", ["", "Ki", "Mi", "Gi", "Ti", "Pi"], 1024, precision)
    return _format(n, "B", ["", "k", "M", "G", "T", "P"], 1000, precision)


def format_flops(n: float, precision: int = 3) -> str:
    """FLOP counts in scientific notation: 4.7e+23 FLOP."""
    return f"{n:.{precision}g} FLOP" if abs(n) < 1e4 else f"{n:.{precision - 1}e} FLOP"


def format_rate(n: float, precision: int = 3) -> str:
    """FLOP/s with an SI prefix: 989 TFLOP/s."""
    return _format(n, "FLOP/s", ["", "k", "M", "G", "T", "P", "E"], 1000, precision)


def format_count(n: float, precision: int = 3) -> str:
    """Parameters or tokens: 124M, 6.74B, 1.4T; beyond 1000T in scientific notation."""
    if abs(n) >= 1e15:
        return f"{n:.{precision}g}"
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.{precision}g}{unit}"
    return f"{n:.{precision}g}"


def time_unit(s: float) -> tuple[str, float]:
    """The natural unit for ``s`` seconds and its length in seconds: ("min", 60.0)."""
    for unit, scale in (("years", 365.25 * 86400), ("days", 86400), ("h", 3600),
                        ("min", 60), ("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if abs(s) >= scale or unit == "ns":
            return unit, float(scale)


def format_seconds(s: float, precision: int = 3) -> str:
    """Seconds in the natural unit: 12.3 ms, 4.5 h, 34.2 days, 1.2 years."""
    unit, scale = time_unit(s)
    return f"{s / scale:.{precision}g} {unit}"


def format_dollars(x: float) -> str:
    """$1.23M, $45.6k, $12.34."""
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"${x / scale:.3g}{unit}"
    return f"${x:,.2f}"


def flops_to_pf_days(flops: float) -> float:
    return flops / PF_DAY


def format_share(part: float, total: float) -> str:
    """A part's share of a total as a percentage that never reads 0.0% for a non-zero part:
    45.5%, 1.9%, 0.031%."""
    pct = 100 * part / total
    return f"{pct:.1f}%" if pct >= 0.1 or pct == 0 else f"{pct:.2g}%"


def format_days(days: float) -> str:
    """Days with sensible precision: 0.42 days, 21.2 days, 1,234 days."""
    return f"{days:,.0f} days" if days >= 1000 else f"{days:.3g} days"


def format_small_dollars(x: float) -> str:
    """Money that may be a fraction of a cent: $1.23k, $4.56, $0.0012."""
    return format_dollars(x) if x >= 0.01 or x == 0 else f"${x:.2g}"
