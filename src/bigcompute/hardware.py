"""The hardware catalogue: peak FLOP/s per dtype (dense), memory, bandwidth, power, interconnect.

Figures live in ``data/hardware.csv``, one row per device, each with its datasheet. The file is
read once, on first use, and validated. All peaks are *dense*: datasheets' "with sparsity"
figures are twice these and are never used.

    >>> device("h100-sxm").peak_flops("bf16")
    989400000000000.0
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

from .errors import (check_choice, check_name, check_positive, check_positive_int, fail,
                     unknown_name)
from .precision import COMPUTE_DTYPES, PEAK_ALIASES, PEAK_COLUMNS
from .units import format_bytes

__all__ = ["Device", "DTYPES", "KINDS", "device", "devices", "catalogue_rows"]

# The dtype registry lives in `precision`: which catalogue column holds each dtype's peak, and
# which dtypes run on another's units (amp-bf16 on bf16, int4 on int8).
DTYPES = COMPUTE_DTYPES  # every dtype `Device.peak_flops` accepts
KINDS = ("gpu", "tpu", "cpu", "soc")
CATALOGUE_PATH = Path(__file__).with_name("data") / "hardware.csv"

REQUIRED_COLUMNS = (
    "name", "full_name", "vendor", "kind", "year", "memory_gib", "memory_bandwidth_gbps",
    "tdp_watts", "interconnect", "interconnect_gbps", "fp32_tflops", "tf32_tflops",
    "bf16_tflops", "fp16_tflops", "fp8_tflops", "int8_tops", "source",
)

# Names readers type for a device; keys are normalised like user input (see _normalise).
_ALIASES = {
    "h100": "h100-sxm", "h100-sxm5": "h100-sxm", "h100sxm": "h100-sxm",
    "h100pcie": "h100-pcie",
    "a100": "a100-80gb", "a100-80": "a100-80gb", "a100-sxm": "a100-80gb",
    "a100-80gb-sxm": "a100-80gb", "a100-40": "a100-40gb", "a100-40gb-sxm": "a100-40gb",
    "v100-sxm2": "v100", "v100-32gb": "v100", "tesla-v100": "v100",
    "h200-sxm": "h200", "tesla-t4": "t4",
    "4090": "rtx-4090", "rtx4090": "rtx-4090", "geforce-rtx-4090": "rtx-4090",
    "mi300": "mi300x", "mi250": "mi250x",
    "v4": "tpu-v4", "tpuv4": "tpu-v4", "v5e": "tpu-v5e", "tpuv5e": "tpu-v5e",
    "v5p": "tpu-v5p", "tpuv5p": "tpu-v5p",
    "m2-max": "apple-m2-max", "m2max": "apple-m2-max",
    "epyc": "epyc-9654", "9654": "epyc-9654", "amd-epyc-9654": "epyc-9654",
}


@dataclass(frozen=True)
class Device:
    """One accelerator or processor. Bytes, bytes/s, watts and FLOP/s throughout (SI units)."""

    name: str
    full_name: str
    vendor: str
    kind: str
    year: int | None
    memory_bytes: float
    bandwidth_bytes_per_s: float
    tdp_watts: float | None  # None where the vendor publishes none (TPU v5e/v5p, Apple)
    interconnect: str
    interconnect_bytes_per_s: float | None
    peak: dict[str, float] = field(hash=False)  # dtype -> dense peak FLOP/s (int8: OP/s)
    source: str = ""

    def __post_init__(self):
        for attr in ("name", "full_name", "vendor"):
            check_name(attr, getattr(self, attr))
        for attr in ("interconnect", "source"):
            if not isinstance(getattr(self, attr), str):
                fail(attr, getattr(self, attr), "a string (may be empty)")
        check_choice("kind", self.kind, KINDS)
        if self.year is not None:
            check_positive_int("year", self.year)
        for attr in ("memory_bytes", "bandwidth_bytes_per_s"):
            check_positive(attr, getattr(self, attr))
        for attr in ("tdp_watts", "interconnect_bytes_per_s"):
            if getattr(self, attr) is not None:
                check_positive(attr, getattr(self, attr))
        _check_peaks("peak", self.peak)
        object.__setattr__(self, "peak", dict(self.peak))  # a private copy

    @classmethod
    def custom(
        cls,
        name: str,
        peak_flops_by_dtype: dict[str, float],
        memory_bytes: float,
        bandwidth_bytes_per_s: float,
        tdp_watts: float | None = None,
        interconnect: str = "",
        interconnect_bytes_per_s: float | None = None,
        *,
        full_name: str | None = None,
        vendor: str = "custom",
        kind: str = "gpu",
        year: int | None = None,
        source: str = "user-defined",
    ) -> Device:
        """A device of your own, e.g. ``Device.custom("my-gpu", {"bf16": 400e12}, 48e9, 1e12)``.

        Peaks are dense FLOP/s, keyed by fp32, tf32, bf16, fp16, fp8, int8 or int4.
        """
        _check_peaks("peak_flops_by_dtype", peak_flops_by_dtype)
        return cls(
            name=name, full_name=full_name or name, vendor=vendor, kind=kind, year=year,
            memory_bytes=memory_bytes, bandwidth_bytes_per_s=bandwidth_bytes_per_s,
            tdp_watts=tdp_watts, interconnect=interconnect,
            interconnect_bytes_per_s=interconnect_bytes_per_s,
            peak=dict(peak_flops_by_dtype), source=source,
        )

    @property
    def dtypes(self) -> tuple[str, ...]:
        """The dtypes this device has a peak for."""
        return tuple(self.peak)

    def peak_flops(self, dtype: str = "bf16") -> float:
        """Dense peak FLOP/s (OP/s for int8) in ``dtype``; amp-bf16 -> bf16, amp-fp16 -> fp16,
        int4 -> int8 unless the device lists int4."""
        key = dtype.lower() if isinstance(dtype, str) else dtype
        check_choice("dtype", key, DTYPES)
        if key in self.peak:
            return self.peak[key]
        unit = PEAK_ALIASES.get(key, key)
        if unit in self.peak:
            return self.peak[unit]
        via = f" (which runs on {unit})" if unit != key else ""
        raise ValueError(
            f"device {self.name!r} has no {key!r} peak{via}: "
            f"this device has {', '.join(self.peak)}"
        )

    def ridge_point(self, dtype: str = "bf16") -> float:
        """Roofline ridge point, FLOP per byte = peak FLOP/s / memory bandwidth (B/s)."""
        return self.peak_flops(dtype) / self.bandwidth_bytes_per_s

    @property
    def sixteen_bit_dtype(self) -> str:
        """The device's 16-bit compute type: bf16 where it lists one, else fp16 (V100, T4),
        else fp32 (a CPU whose datasheet gives only an fp32 peak)."""
        return next((d for d in ("bf16", "fp16") if d in self.peak), "fp32")

    @property
    def memory_label(self) -> str:
        """The device's memory as a chart's capacity line names it, in both units the
        book uses: "h100-sxm: 85.9 GB = 80 GiB"."""
        return (f"{self.name}: {format_bytes(self.memory_bytes, binary=False)} = "
                f"{format_bytes(self.memory_bytes)}")

    def metrics(self, dtype: str) -> dict[str, float | None]:
        """What the hardware explorer compares at ``dtype``: peak FLOP/s, memory bytes,
        bandwidth bytes/s, FLOP/s per watt (None without a published TDP) and the ridge point
        (FLOP/B). Raises ValueError when the device has no ``dtype`` peak."""
        peak = self.peak_flops(dtype)
        return {
            "peak FLOP/s": peak,
            "memory (bytes)": self.memory_bytes,
            "bandwidth (bytes/s)": self.bandwidth_bytes_per_s,
            "FLOP/s per watt": peak / self.tdp_watts if self.tdp_watts else None,
            "ridge point (FLOP/B)": self.ridge_point(dtype),
        }

    def has_peak(self, dtype: str) -> bool:
        """Whether `peak_flops` has a figure for ``dtype`` (directly or on another's units)."""
        try:
            self.peak_flops(dtype)
        except ValueError:
            return False
        return True

    def flops_per_watt(self, dtype: str = "bf16") -> float:
        """Peak FLOP/s per watt of TDP (= FLOP per joule at full power)."""
        if self.tdp_watts is None:
            raise ValueError(f"device {self.name!r} has no published TDP, so no FLOP/s per watt")
        return self.peak_flops(dtype) / self.tdp_watts


def devices() -> list[str]:
    """Catalogue keys, in file order."""
    return list(_catalogue())


def device(name: str | Device) -> Device:
    """Look a device up by key, alias ("H100", "A100", "4090") or full name; a Device is
    returned as is. Unknown names raise ValueError listing close matches."""
    if isinstance(name, Device):
        return name
    if not isinstance(name, str) or not name.strip():
        fail("device", name, "a device name such as 'h100-sxm', or a Device")
    catalogue = _catalogue()
    key = _normalise(name)
    key = _ALIASES.get(key, key)
    if key in catalogue:
        return catalogue[key]
    for dev in catalogue.values():
        if _normalise(dev.full_name) == key:
            return dev
    raise unknown_name("device", name, catalogue)


def catalogue_rows() -> list[dict[str, str]]:
    """The CSV rows as read (strings, with sources), for tables in the book."""
    return [dict(row) for row in _rows()]


def _normalise(name: str) -> str:
    return "-".join(name.strip().lower().replace("_", " ").split())


def _check_peaks(name: str, peaks) -> None:
    """A dict of dtype -> dense peak FLOP/s, with at least one dtype."""
    if not isinstance(peaks, dict) or not peaks:
        fail(name, peaks, "a dict of at least one dtype -> dense peak FLOP/s, "
             "e.g. {'bf16': 400e12}")
    for dtype, flops in peaks.items():
        check_choice(f"{name} dtype", dtype, tuple(PEAK_COLUMNS))
        check_positive(f"{name}[{dtype!r}]", flops)


@functools.cache
def _rows() -> tuple[dict[str, str], ...]:
    with open(CATALOGUE_PATH, newline="", encoding="utf-8") as f:
        return tuple(csv.DictReader(f))


@functools.cache
def _catalogue() -> dict[str, Device]:
    return _devices_from_rows(_rows())


def _devices_from_rows(rows, where: str = "hardware.csv") -> dict[str, Device]:
    """Validate the raw rows and build Devices; errors name the row and column."""
    rows = list(rows)
    if not rows:
        raise ValueError(f"{where}: no devices")
    missing = [c for c in REQUIRED_COLUMNS if c not in rows[0]]
    if missing:
        raise ValueError(f"{where}: missing column(s) {', '.join(missing)}")
    catalogue: dict[str, Device] = {}
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        label = f"{where} line {line} ({row.get('name') or '?'})"

        def bad(column, expected):
            return ValueError(f"{label}, column {column!r}: {row.get(column)!r} is not {expected}")

        if None in row or any(v is None for v in row.values()):
            raise ValueError(f"{label}: wrong number of cells")

        def text(column):
            value = row[column].strip()
            if not value:
                raise ValueError(f"{label}, column {column!r}: empty, but required")
            return value

        def number(column, optional=False, scale=""):
            """The cell as a float; scale "e12" reads 989.4 as 989.4e12, correctly rounded."""
            cell = (row.get(column) or "").strip()
            if not cell:
                if optional:
                    return None
                raise ValueError(f"{label}, column {column!r}: empty, but required")
            try:
                value = float(cell + scale) if "e" not in cell.lower() else float(cell) * float(
                    "1" + (scale or "e0"))
            except ValueError:
                raise bad(column, "a number") from None
            if not (value > 0 and math.isfinite(value)):
                raise bad(column, "a positive number")
            return value

        name = text("name")
        if name != _normalise(name):
            raise bad("name", "a lowercase key without spaces")
        if name in catalogue:
            raise bad("name", "unique (it appears twice)")
        kind = text("kind")
        if kind not in KINDS:
            raise bad("kind", "one of " + ", ".join(KINDS))
        year = number("year")
        if year != int(year):
            raise bad("year", "a whole year")
        peak = {}
        for dtype, column in PEAK_COLUMNS.items():
            value = number(column, optional=True, scale="e12")
            if value is not None:
                peak[dtype] = value
        if not peak:
            raise ValueError(f"{label}: no peak FLOP/s in any dtype column")
        catalogue[name] = Device(
            name=name,
            full_name=text("full_name"),
            vendor=text("vendor"),
            kind=kind,
            year=int(year),
            # datasheets print capacity as "GB" but HBM/GDDR/DRAM come in binary sizes: an
            # "80 GB" A100 holds 80 GiB (nvidia-smi: 81920 MiB)
            memory_bytes=number("memory_gib") * 2**30,
            bandwidth_bytes_per_s=number("memory_bandwidth_gbps", scale="e9"),
            tdp_watts=number("tdp_watts", optional=True),
            interconnect=row["interconnect"].strip(),
            interconnect_bytes_per_s=number("interconnect_gbps", optional=True, scale="e9"),
            peak=peak,
            source=text("source"),
        )
    return catalogue
