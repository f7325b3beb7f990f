"""bigcompute.svg_charts: the charts the website's live explorers draw without matplotlib.
Each drawn recipe takes the same arguments as its matplotlib twin in `plots.charts`, uses its
colours, and gives well-formed SVG whose marks move with the data."""

from __future__ import annotations

import inspect
import re
import xml.etree.ElementTree as ET

import pytest

from bigcompute import svg_charts
from bigcompute.explorers import SPECS
from bigcompute.explorers.memory import MemorySpec
from bigcompute import plots
from bigcompute.plots import charts, style


def test_the_colours_are_the_matplotlib_charts_colours():
    assert svg_charts.ROOF_COLOURS == style.ROOF_COLOURS
    assert svg_charts.MEMORY_COLOURS == style.MEMORY_COLOURS
    assert svg_charts.PART_COLOURS == style.PART_COLOURS
    assert svg_charts.STEP_TIME_COLOURS == style.STEP_TIME_COLOURS
    assert list(svg_charts._METRIC_FORMATS) == list(style._METRIC_FORMATS)


@pytest.mark.parametrize("recipe", sorted(svg_charts.RECIPES))
def test_each_recipe_takes_its_matplotlib_twins_arguments(recipe):
    ours = inspect.signature(svg_charts.RECIPES[recipe]).parameters
    theirs = inspect.signature(getattr(plots, recipe)).parameters
    assert list(ours) == list(theirs)


def _drawn() -> dict:
    out = {}
    for kind, spec_class in SPECS.items():
        spec = spec_class()
        given = {k: 2.5 for k in ("price_per_device_hour", "grid_kg_per_kwh") if k in spec.extra}
        chart = spec.render(spec.settings(**given)).chart
        out[kind] = (chart.recipe, svg_charts.draw(chart))
    return out


def test_every_explorer_chart_of_a_drawn_recipe_is_well_formed_svg():
    drawn = _drawn()
    for kind, (recipe, svg) in drawn.items():
        assert (svg is not None) == (recipe in svg_charts.RECIPES), kind
        if svg:
            root = ET.fromstring(svg)
            assert root.tag.endswith("svg") and root.get("viewBox"), kind
            assert "nan" not in svg.lower().replace("nano", ""), kind
    assert sum(svg is not None for _, svg in drawn.values()) >= 10


def test_the_memory_bars_grow_with_the_batch_and_the_capacity_line_stays():
    spec = MemorySpec()

    def widths(batch):
        svg = svg_charts.draw(spec.render(spec.settings(batch=batch)).chart)
        bars = [float(w) for w in re.findall(r"<rect x='[^']+' y='[^']+' width='([^']+)' "
                                             r"height='26'", svg)]
        dashed = re.findall(r"<line x1='([^']+)'[^>]*stroke-dasharray='6,4'", svg)
        return sum(bars), dashed

    small, line_small = widths(1)
    big, line_big = widths(4)
    assert big > small and len(line_small) == len(line_big) == 1


def test_the_roofline_is_log_log_and_its_point_moves_with_the_shape():
    spec = SPECS["roofline"]()
    a = svg_charts.draw(spec.render(spec.settings(m=1)).chart)
    b = svg_charts.draw(spec.render(spec.settings(m=4096)).chart)
    point = re.compile(r"<circle cx='([^']+)' cy='([^']+)' r='5'")
    (ax, ay), (bx, by) = point.search(a).groups(), point.search(b).groups()
    assert float(bx) > float(ax) and float(by) < float(ay)  # more intensity, higher up
    assert "1/8" in a or "1/4" in a or "1/2" in a  # base-2 ticks below 1 FLOP/B
    assert "PFLOP/s" in a


def test_an_unknown_recipe_is_not_drawn():
    assert svg_charts.draw(None) is None
    assert svg_charts.draw(type("C", (), {"recipe": "image_grid", "args": {}})()) is None
