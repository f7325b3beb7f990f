"""The trend explorer (chapter 1.2): the doubling time of notable models' training compute."""

from __future__ import annotations

from .. import trends
from ..tables import key_value_html
from .base import Chart, Control, Rendered, Spec

__all__ = ["TREND_DEFAULTS", "TrendSpec", "trend_summary_html", "trend_chart"]

# All domains and the dataset's full span: the explorer opens on the fit the chapter makes.
TREND_DEFAULTS = {"domains": ("language", "vision", "speech", "science", "multimodal",
                              "games"),
                  "years": (2012, 2025), "labels": True}


def _months(v: float) -> str:
    return "unbounded" if v == float("inf") else f"{v:.1f} months"


def trend_summary_html(selection: trends.TrendSelection) -> str:
    fit = selection.fit
    lo, hi = fit.doubling_ci_months
    b_lo, b_hi = selection.bootstrap_months
    span = f"{fit.n} ({fit.first_year}-{fit.last_year})"
    growth = (f"&times;{fit.growth_per_year:.2f} "
              f"({fit.orders_of_magnitude_per_year:.2f} orders of magnitude)")
    rows = [("models with a training-compute figure", span),
            ("<b>doubling time</b>", f"<b>{_months(fit.doubling_months)}</b>"),
            (f"{fit.confidence:.0%} interval (t, n - 2 = {fit.n - 2})",
             f"{_months(lo)} to {_months(hi)}"),
            (f"{fit.confidence:.0%} interval (bootstrap)", f"{_months(b_lo)} to {_months(b_hi)}"),
            ("growth per year", growth),
            ("scatter about the line (sd)", f"&times;{2 ** fit.residual_sd:.1f}")]
    return key_value_html(rows)


def trend_chart(domains=TREND_DEFAULTS["domains"], years=TREND_DEFAULTS["years"],
                labels: bool = TREND_DEFAULTS["labels"], selection=None, **style) -> Chart:
    """The notable models of a selection against year, with their fitted line."""
    selection = selection or trends.fit_selection(domains, years)
    return Chart("compute_trend_chart", {"rows": selection.rows, "fit": selection.fit,
                                         "label": labels, **style})


class TrendSpec(Spec):
    """Pick domains and a year range of the notable-models dataset; the doubling time of
    their training compute is refitted, with its uncertainty, and the points redrawn."""

    name = "Trend explorer"
    title_html = ("<b>Trend explorer</b>: training compute of notable models "
                  "(bigcompute/data/notable_models.csv) and its fitted doubling time. "
                  "Ctrl/Cmd-click to pick several domains.")
    defaults = TREND_DEFAULTS

    def controls(self) -> dict[str, Control]:
        return {"domains": Control("multi", "domains", tuple(trends.DOMAINS), rows=6,
                                   width="260px", label_width="70px"),
                "years": Control("range", "years", lo=2012, hi=2025, step=1, width="340px",
                                 label_width="70px"),
                "labels": Control("checkbox", "label the models")}

    def render(self, settings: dict) -> Rendered:
        selection = trends.fit_selection(settings["domains"], settings["years"])
        chart = trend_chart(labels=settings["labels"], selection=selection, width=8.5,
                            height=4.8)
        fit = selection.fit
        numbers = {"models": fit.n, "doubling_months": fit.doubling_months,
                   "t_interval_months": fit.doubling_ci_months,
                   "bootstrap_interval_months": selection.bootstrap_months}
        return Rendered(trend_summary_html(selection), chart, numbers)
