"""Matplotlib charts shared by the chapters: one look for the same kind of figure everywhere.

* `canvas`: where a chart is drawn (a new pyplot figure, or the one `WidgetFigure` an
  explorer redraws at each update);
* `style`: the colours and tick formatters;
* `charts`: the recipes, generic ones first, then by topic.

matplotlib is imported inside each plotting function, never at module level, so that
importing this package stays light. Every chart returns the Figure; in a notebook the figure
is shown as the cell's result. `draw` draws the chart an explorer's pure half describes
(`bigcompute.explorers.base.Chart`).
"""

from __future__ import annotations

from .canvas import WidgetFigure, figure_png
from .charts import (
    compute_optimal_chart,
    compute_trend_chart,
    data_limits_chart,
    device_comparison_chart,
    image_grid,
    isoflop_chart,
    line_chart,
    log_bars_chart,
    parallel_plan_chart,
    parameter_breakdown_chart,
    parameter_scaling_chart,
    pipeline_timeline_chart,
    predicted_vs_measured_chart,
    ranked_bar_chart,
    roofline_chart,
    training_curves_chart,
    workload_map_chart,
    year_trend_chart,
)
from .memory_charts import memory_stack_chart, step_memory_chart
from .diagrams import *  # the schematic diagrams, by their names in diagrams.__all__
from .style import (
    DOMAIN_COLOURS,
    DOMAIN_STYLES,
    MEMORY_COLOURS,
    PART_COLOURS,
    ROOF_COLOURS,
    STEP_TIME_COLOURS,
)

__all__ = [
    "compute_optimal_chart", "compute_trend_chart", "data_limits_chart",
    "device_comparison_chart", "image_grid", "isoflop_chart", "line_chart", "log_bars_chart",
    "memory_stack_chart", "parallel_plan_chart", "parameter_breakdown_chart",
    "parameter_scaling_chart", "pipeline_timeline_chart", "predicted_vs_measured_chart",
    "ranked_bar_chart", "roofline_chart", "step_memory_chart", "training_curves_chart",
    "workload_map_chart", "year_trend_chart", "WidgetFigure", "figure_png", "draw",
    "DOMAIN_COLOURS", "DOMAIN_STYLES", "MEMORY_COLOURS", "PART_COLOURS", "ROOF_COLOURS",
    "STEP_TIME_COLOURS",
]


def draw(chart):
    """The Figure of a chart described as data (`explorers.base.Chart`: the name of a recipe
    here and its keyword arguments), drawn by that recipe."""
    if chart.recipe not in __all__ or not chart.recipe.endswith("_chart"):
        raise ValueError(f"unknown chart recipe {chart.recipe!r}")
    return globals()[chart.recipe](**chart.args)
