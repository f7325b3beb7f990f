"""Cited figures: reliability at scale, the stock of text, trends, energy per prompt, prices.

The numbers live in ``data/reference_figures.yaml``, each with its source (a bibliography key,
the section or table, a URL). The file is read once, on first use, and validated: a figure
without a source, a value that is not a number or a price for a device the hardware catalogue
does not know fails loudly and names the entry.

    >>> from bigcompute import reference_figures as rf
    >>> rf.value("llama3-unexpected-interruptions")
    419
    >>> rf.figure("human-text-stock-tokens").interval
    (100000000000000.0, 1000000000000000.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from . import hardware
from .errors import check_name, unknown_name

__all__ = ["Source", "CitedFigure", "Price", "figure", "value", "figures", "prices",
           "price", "sources"]

SOURCE_FIELDS = ("cite", "title", "where", "url")
FIGURE_FIELDS = {"value", "unit", "what", "source", "interval", "notes"}
PRICE_FIELDS = {"device", "dollars_per_device_hour", "offer", "date", "source"}


@dataclass(frozen=True)
class Source:
    cite: str   # key in book/references.bib
    title: str
    where: str  # section, table or quotation
    url: str

    def __str__(self) -> str:
        return f"{self.title} ({self.where}), {self.url}"


@dataclass(frozen=True)
class CitedFigure:
    key: str
    value: float
    unit: str
    what: str
    source: Source
    interval: tuple[float, float] | None = None
    notes: str = ""


@dataclass(frozen=True)
class Price:
    """Dollars per device-hour of one catalogue device, from one offer on one date."""

    device: str
    dollars_per_device_hour: float
    offer: str
    date: int
    source: Source


# ---------------------------------------------------------------- public API

def figures() -> list[str]:
    """Keys of the cited figures, in file order."""
    return list(_load()["figures"])


def figure(key: str) -> CitedFigure:
    """The cited figure ``key`` (ValueError with close matches if unknown)."""
    check_name("key", key)
    table = _load()["figures"]
    if key not in table:
        raise unknown_name("cited figure", key, table)
    return table[key]


def value(key: str) -> float:
    """Just the number of `figure` ``key``."""
    return figure(key).value


def prices(device: str | None = None) -> list[Price]:
    """All cited prices, or those of one catalogue ``device`` (a name or alias), in file
    order."""
    rows = _load()["prices"]
    if device is None:
        return list(rows)
    name = hardware.device(device).name
    return [p for p in rows if p.device == name]


def price(device: str) -> Price | None:
    """The most recent cited price of ``device`` (None when the file has none for it)."""
    rows = prices(hardware.device(device).name)
    return max(rows, key=lambda p: p.date) if rows else None


def sources() -> list[Source]:
    """Every distinct source the file cites (for checking them against the bibliography)."""
    seen: dict[tuple, Source] = {}
    for f in _load()["figures"].values():
        seen.setdefault((f.source.cite, f.source.url), f.source)
    for p in _load()["prices"]:
        seen.setdefault((p.source.cite, p.source.url), p.source)
    return list(seen.values())


# ---------------------------------------------------------------- loading and validation

def _number(where: str, raw) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ValueError(f"{where} = {raw!r} is not a number (write 1.0e+9, not 1e9)")
    if not raw > 0:
        raise ValueError(f"{where} = {raw!r} is not a positive number")
    return raw


def _source(where: str, raw) -> Source:
    if not isinstance(raw, dict) or any(not raw.get(f) for f in SOURCE_FIELDS):
        raise ValueError(f"{where}: source needs {', '.join(SOURCE_FIELDS)}")
    if not str(raw["url"]).startswith("https://"):
        raise ValueError(f"{where}: source url must start with https://")
    return Source(*(str(raw[f]) for f in SOURCE_FIELDS))


def parse(data) -> dict:
    """Validate the parsed YAML; returns {"figures": {key: CitedFigure}, "prices": [Price]}.
    Kept apart from the file access so tests can feed it broken data."""
    if not isinstance(data, dict) or not isinstance(data.get("figures"), dict):
        raise ValueError("reference_figures.yaml: expected a top-level 'figures:' mapping")
    out: dict[str, CitedFigure] = {}
    for key, raw in data["figures"].items():
        where = f"reference_figures.yaml figure {key!r}"
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: expected a mapping")
        missing = [f for f in ("value", "unit", "what", "source") if f not in raw]
        extra = sorted(set(raw) - FIGURE_FIELDS)
        if missing or extra:
            raise ValueError(f"{where}: missing {missing} / unknown {extra}")
        interval = raw.get("interval")
        if interval is not None:
            lo, hi = (_number(f"{where} interval", v) for v in interval)
            if not lo <= raw["value"] <= hi:
                raise ValueError(f"{where}: value {raw['value']} outside its interval")
            interval = (float(lo), float(hi))
        out[str(key)] = CitedFigure(str(key), _number(f"{where} value", raw["value"]),
                                    str(raw["unit"]), str(raw["what"]),
                                    _source(where, raw["source"]), interval,
                                    " ".join(str(raw.get("notes") or "").split()))
    rows = []
    for i, raw in enumerate(data.get("prices") or []):
        where = f"reference_figures.yaml price #{i + 1}"
        if not isinstance(raw, dict) or set(raw) != PRICE_FIELDS:
            raise ValueError(f"{where}: needs exactly {sorted(PRICE_FIELDS)}")
        if raw["device"] not in hardware.devices():
            raise ValueError(f"{where}: device {raw['device']!r} is not in hardware.csv")
        rows.append(Price(raw["device"], float(_number(where, raw["dollars_per_device_hour"])),
                          str(raw["offer"]), int(raw["date"]), _source(where, raw["source"])))
    return {"figures": out, "prices": rows}


@lru_cache(maxsize=1)
def _load() -> dict:
    text = resources.files("bigcompute").joinpath("data/reference_figures.yaml").read_text(
        "utf-8")
    return parse(yaml.safe_load(text))
