"""Trends in training compute: the notable-models dataset and a fitted doubling time.

Chapter 1 fits a straight line to log2(training FLOPs) against year. The slope is doublings per
year, so the doubling time is 1 / slope years. With n models the slope has a standard error

    se = s / sqrt(sum (year - mean year)^2),  s^2 = sum residual^2 / (n - 2),

and a confidence interval slope +- t(n - 2) x se (ordinary least squares; any regression
textbook). Because the doubling time is 1 / slope, its interval is the reciprocal of the
slope's, reversed; when the slope's interval reaches zero the doubling time is unbounded.
`bootstrap_doubling_time` gives a second interval that does not assume normal residuals.

Pure Python and numpy: no torch, no plotting. The dataset is ``data/notable_models.csv``, one
row per model with the source of every figure.
"""

from __future__ import annotations

import csv
import functools
import math
import numbers
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .counts import flops_6nd
from .errors import (
    check_bool,
    check_choice,
    check_finite,
    check_non_negative_int,
    check_open_fraction,
    check_positive,
    check_positive_int,
    fail,
)

__all__ = [
    "DOMAINS",
    "SOURCE_KINDS",
    "DoublingFit",
    "NotableModel",
    "SixNDCheck",
    "bootstrap_doubling_time",
    "endpoint_doubling_time",
    "fit_doubling_time",
    "fit_selection",
    "TrendSelection",
    "notable_models",
    "select",
    "six_nd_checks",
    "student_t_quantile",
]

DATA_PATH = Path(__file__).with_name("data") / "notable_models.csv"
DOMAINS = ("language", "vision", "speech", "science", "multimodal", "games")
# What kind of figure a row's training FLOPs are: the text before the colon of flops_source.
SOURCE_KINDS = ("published", "6ND", "estimate", "estimate (rough)", "Epoch AI estimate",
                "not disclosed")
MONTHS_PER_YEAR = 12.0


# ---------------------------------------------------------------- the dataset

@dataclass(frozen=True)
class NotableModel:
    """One row of ``notable_models.csv``. Missing numbers are None (not published)."""

    name: str
    year: int
    domain: str
    organization: str
    params: float | None
    training_tokens: float | None
    training_flops: float | None
    flops_source: str
    params_source: str
    notes: str

    @property
    def source_kind(self) -> str:
        """"published", "6ND", "estimate", ...: how the training FLOPs were obtained."""
        return self.flops_source.split(":", 1)[0].strip()


def _number(text: str) -> float | None:
    return float(text) if text.strip() else None


def _sequence(name: str, values) -> list:
    """``values`` as a list; a string or a single number is refused, naming ``name``."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        fail(name, values, "a sequence (a list or tuple)")
    return list(values)


def _check_years(years) -> None:
    """An inclusive (first, last) pair of years."""
    pair = _sequence("years", years)
    if len(pair) != 2:
        fail("years", years, "a (first, last) pair of years")
    for i, year in enumerate(pair):
        check_finite(f"years[{i}]", year)
    if pair[0] > pair[1]:
        fail("years", years, "a (first, last) pair with first <= last")


@functools.lru_cache(maxsize=1)
def notable_models() -> tuple[NotableModel, ...]:
    """The notable-models dataset, read once and validated (domain, source kind, numbers)."""
    with DATA_PATH.open(encoding="utf-8", newline="") as f:
        raw = list(csv.DictReader(f))
    rows = []
    for r in raw:
        row = NotableModel(
            name=r["name"], year=int(r["year"]), domain=r["domain"],
            organization=r["organization"], params=_number(r["params"]),
            training_tokens=_number(r["training_tokens"]),
            training_flops=_number(r["training_flops"]), flops_source=r["flops_source"],
            params_source=r["params_source"], notes=r["notes"])
        check_choice(f"{row.name}: domain", row.domain, DOMAINS)
        check_choice(f"{row.name}: kind of FLOPs figure", row.source_kind, SOURCE_KINDS)
        for key in ("params", "training_tokens", "training_flops"):
            value = getattr(row, key)
            if value is not None and not value > 0:
                fail(f"{row.name}: {key}", value, "a positive number or empty")
        rows.append(row)
    return tuple(rows)


def select(rows=None, domains=None, years: tuple[int, int] | None = None,
           with_flops: bool = True) -> list[NotableModel]:
    """Rows in ``domains`` (all if None) published in the inclusive ``years`` range, keeping
    only those with a training-FLOPs figure unless ``with_flops`` is False."""
    rows = notable_models() if rows is None else rows
    if domains is not None:
        domains = [domains] if isinstance(domains, str) else _sequence("domains", domains)
        for d in domains:
            check_choice("domains", d, DOMAINS)
    if years is not None:
        _check_years(years)
    check_bool("with_flops", with_flops)
    out = []
    for r in rows:
        if domains is not None and r.domain not in domains:
            continue
        if years is not None and not years[0] <= r.year <= years[1]:
            continue
        if with_flops and r.training_flops is None:
            continue
        out.append(r)
    return out


# ---------------------------------------------------------------- Student's t, without scipy

def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def _t_cdf(t: float, df: float) -> float:
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def student_t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with ``df`` degrees of freedom (t(0.975, 28) = 2.048).

    Inverts the t distribution's CDF, I_{df/(df+t^2)}(df/2, 1/2) / 2 in each tail, by
    bisection: exact to about 1e-10, with no scipy."""
    check_open_fraction("p", p)
    check_positive("df", df)
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -student_t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _t_cdf(mid, df) < p else (lo, mid)
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


# ---------------------------------------------------------------- the doubling-time fit

def _doubling_interval(slope_lo: float, slope_hi: float) -> tuple[float, float]:
    """Doubling time (years) interval from a slope interval: 1/slope_hi .. 1/slope_lo.
    An interval reaching zero growth has no upper bound; one below zero, no doubling at all."""
    if slope_hi <= 0:
        return math.inf, math.inf
    return 1.0 / slope_hi, (1.0 / slope_lo if slope_lo > 0 else math.inf)


@dataclass(frozen=True)
class DoublingFit:
    """log2(FLOPs) = intercept + slope x year, fitted by least squares.

    slope: doublings per year; slope_se its standard error; slope_ci the ``confidence``
    interval slope +- t(n - 2) x slope_se. Doubling times are 1 / slope."""

    n: int
    first_year: int
    last_year: int
    slope: float
    intercept: float
    slope_se: float
    slope_ci: tuple[float, float]
    confidence: float
    r_squared: float
    residual_sd: float  # in doublings (log2 units)

    @property
    def doubling_years(self) -> float:
        return 1.0 / self.slope if self.slope > 0 else math.inf

    @property
    def doubling_months(self) -> float:
        return MONTHS_PER_YEAR * self.doubling_years

    @property
    def doubling_ci_years(self) -> tuple[float, float]:
        return _doubling_interval(*self.slope_ci)

    @property
    def doubling_ci_months(self) -> tuple[float, float]:
        lo, hi = self.doubling_ci_years
        return MONTHS_PER_YEAR * lo, MONTHS_PER_YEAR * hi

    @property
    def growth_per_year(self) -> float:
        """The factor by which compute grows each year: 2^slope."""
        return 2.0 ** self.slope

    @property
    def orders_of_magnitude_per_year(self) -> float:
        return self.slope * math.log10(2.0)

    def predict(self, year):
        """The fitted training FLOPs in ``year``: a number, or a list for a sequence of years."""
        if isinstance(year, (int, float)):
            return 2.0 ** (self.intercept + self.slope * float(year))
        return [2.0 ** (self.intercept + self.slope * float(y)) for y in year]

    def __str__(self) -> str:
        lo, hi = self.doubling_ci_months
        return (f"doubling time {self.doubling_months:.1f} months "
                f"({self.confidence:.0%} CI {lo:.1f}-{hi:.1f}), "
                f"x{self.growth_per_year:.2f} per year, from {self.n} models "
                f"{self.first_year}-{self.last_year}")


def _as_lists(years, flops) -> tuple[list[float], list[float]]:
    """Years and log2(FLOPs) as lists of floats, checked."""
    years, flops = _sequence("years", years), _sequence("flops", flops)
    for i, v in enumerate(years):
        check_finite(f"years[{i}]", v)
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool)
               and math.isfinite(v) and v > 0 for v in flops):
        fail("flops", flops, "positive, finite FLOP counts")
    x = [float(v) for v in years]
    f = [float(v) for v in flops]
    if len(x) != len(f):
        fail("years/flops", (len(x), len(f)), "two 1-D sequences of the same length")
    if len(x) < 3:
        fail("number of models", len(x), "at least 3 (a line and its uncertainty need n - 2 > 0)")
    if min(x) == max(x):
        fail("years", sorted(set(x)), "at least two different years")
    return x, [math.log2(v) for v in f]


def _least_squares_slope(x: list[float], y: list[float]) -> tuple[float, float, float]:
    """(slope, intercept, sxx) of the least-squares line y = intercept + slope x."""
    n = len(x)
    xm, ym = math.fsum(x) / n, math.fsum(y) / n
    sxx = math.fsum((a - xm) ** 2 for a in x)
    slope = math.fsum((a - xm) * (b - ym) for a, b in zip(x, y)) / sxx if sxx else math.nan
    return slope, ym - slope * xm, sxx


def fit_doubling_time(years, flops, confidence: float = 0.95) -> DoublingFit:
    """Least-squares fit of log2(flops) on year, with the slope's standard error and a
    Student-t ``confidence`` interval (n - 2 degrees of freedom):

        slope = sum((x - x̄)(y - ȳ)) / sum((x - x̄)²),  se = s / sqrt(sum((x - x̄)²)),
        s² = sum(residuals²) / (n - 2),  doubling time = 1 / slope years.

    Pure Python (no numpy), so that the trend explorer also runs in a browser."""
    check_open_fraction("confidence", confidence)
    x, y = _as_lists(years, flops)
    n = len(x)
    slope, intercept, sxx = _least_squares_slope(x, y)
    ym = math.fsum(y) / n
    ss_res = math.fsum((b - (intercept + slope * a)) ** 2 for a, b in zip(x, y))
    ss_tot = math.fsum((b - ym) ** 2 for b in y)
    s = math.sqrt(ss_res / (n - 2))
    se = s / math.sqrt(sxx)
    t = student_t_quantile(0.5 + confidence / 2, n - 2)
    return DoublingFit(n=n, first_year=int(min(x)), last_year=int(max(x)), slope=slope,
                       intercept=intercept, slope_se=se, slope_ci=(slope - t * se, slope + t * se),
                       confidence=confidence, r_squared=1.0 - ss_res / ss_tot if ss_tot else 1.0,
                       residual_sd=s)


def _quantile(sorted_values: list[float], q: float) -> float:
    """The q-quantile by linear interpolation between order statistics (numpy's default)."""
    position = q * (len(sorted_values) - 1)
    below = math.floor(position)
    above = min(below + 1, len(sorted_values) - 1)
    fraction = position - below
    return sorted_values[below] + (sorted_values[above] - sorted_values[below]) * fraction


MAX_RESAMPLES = 1_000_000


def bootstrap_doubling_time(years, flops, n_resamples: int = 2000, confidence: float = 0.95,
                            seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the doubling time in months: refit the slope on
    ``n_resamples`` resamples of the models (drawn with replacement, Python's seeded
    `random.Random`) and take the central ``confidence`` share of 12 / slope. Resamples that
    fall in a single year are redrawn."""
    check_positive_int("n_resamples", n_resamples)
    if n_resamples > MAX_RESAMPLES:
        fail("n_resamples", n_resamples, f"at most {MAX_RESAMPLES:,} (enough for any interval)")
    check_open_fraction("confidence", confidence)
    check_non_negative_int("seed", seed)
    x, y = _as_lists(years, flops)
    rng = random.Random(seed)
    n = len(x)
    slopes = []
    while len(slopes) < n_resamples:
        idx = [rng.randrange(n) for _ in range(n)]
        slope, _, sxx = _least_squares_slope([x[i] for i in idx], [y[i] for i in idx])
        if sxx > 0:
            slopes.append(slope)
    slopes.sort()
    # doubling time is decreasing in the slope: the slope's upper quantile gives the lower bound
    lo, hi = _doubling_interval(_quantile(slopes, 0.5 - confidence / 2),
                                _quantile(slopes, 0.5 + confidence / 2))
    return MONTHS_PER_YEAR * lo, MONTHS_PER_YEAR * hi


@dataclass(frozen=True)
class TrendSelection:
    """The notable models of a selection, their fitted doubling time and its bootstrap
    interval in months (what the trend explorer shows)."""

    rows: list
    fit: DoublingFit
    bootstrap_months: tuple[float, float]


def fit_selection(domains, years) -> TrendSelection:
    """The notable models in ``domains`` and the inclusive ``years`` range, their least-squares
    doubling time (`fit_doubling_time`) and its bootstrap interval. Raises ValueError when
    fewer than 3 models in at least two different years are selected."""
    if domains is None or not isinstance(domains, (str, list, tuple)) or not domains:
        fail("domains", domains, "a domain or a list of domains among " + ", ".join(DOMAINS))
    _check_years(years)
    rows = select(domains=domains, years=tuple(years))
    x = [r.year for r in rows]
    y = [r.training_flops for r in rows]
    return TrendSelection(rows, fit_doubling_time(x, y), bootstrap_doubling_time(x, y))


def endpoint_doubling_time(year0: float, flops0: float, year1: float, flops1: float) -> float:
    """The naive estimate from two models only: (year1 - year0) / log2(flops1 / flops0) years.
    It has no uncertainty attached and changes with the pair chosen. The later model
    (``year1`` after ``year0``) must have the larger compute (``flops1`` above ``flops0``):
    compute that does not grow has no doubling time."""
    check_finite("year0", year0)
    check_positive("flops0", flops0)
    check_finite("year1", year1)
    check_positive("flops1", flops1)
    if not year1 > year0:
        fail("year1", year1, f"a year after year0={year0!r}")
    if not flops1 > flops0:
        fail("flops1", flops1, f"more than flops0={flops0!r} (compute that does not grow "
             "has no doubling time)")
    return (year1 - year0) / math.log2(flops1 / flops0)


# ---------------------------------------------------------------- 6ND against published figures

@dataclass(frozen=True)
class SixNDCheck:
    """A published training-FLOPs figure against 6 x params x tokens."""

    name: str
    year: int
    params: float
    tokens: float
    published_flops: float
    six_nd_flops: float

    @property
    def ratio(self) -> float:
        """published / 6ND: above 1 when the run did more than 6 FLOPs per parameter per token
        (attention, recomputation); below 1 when 6ND overcounts."""
        return self.published_flops / self.six_nd_flops


def six_nd_checks(rows=None, kinds: tuple[str, ...] = ("published",)) -> list[SixNDCheck]:
    """6ND for every row whose FLOPs figure is of one of ``kinds`` and which gives both N and
    D — the rows where 6ND can check an independently published number."""
    rows = notable_models() if rows is None else rows
    for k in _sequence("kinds", kinds):
        check_choice("kinds", k, SOURCE_KINDS)
    out = []
    for r in rows:
        if r.source_kind in kinds and r.params and r.training_tokens and r.training_flops:
            out.append(SixNDCheck(r.name, r.year, r.params, r.training_tokens,
                                  r.training_flops, flops_6nd(r.params, r.training_tokens)))
    return out
