"""The parallelism planner's explorer (explorers/planner.py in the widgets shell): the best
plan, the message for an impossible one, its static figure."""

import html

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")
from bigcompute import widgets
from bigcompute.explorers.planner import planner_options


def test_planner_widget_shows_the_best_plan_and_a_chart():
    w = widgets.parallelism_planner()
    text = html.unescape(w.result.value)
    best = next(o for o in planner_options(w.settings()) if o.fits)
    assert f"Fastest plan that fits: {best.label}" in text
    assert w.chart.value and "<img" in w.snapshot_html()
    assert "Parallelism planner" in w.snapshot_html()


def test_planner_widget_turns_invalid_settings_into_a_message():
    w = widgets.parallelism_planner(model="gpt3-175b", seq=4096)  # learned positions to 2048
    assert "bigcompute-error" in w.result.value and "max_seq_len" in w.result.value
    assert w.chart.layout.display == "none"
    w.controls["seq"].value = 2048
    assert "bigcompute-error" not in w.result.value


def test_planner_says_when_nothing_fits():
    w = widgets.parallelism_planner(model="llama2-70b", n_devices=8, zero_stage=0,
                                    recompute="none")
    assert "None of the" in html.unescape(w.result.value)


def test_planner_rejects_unknown_settings():
    with pytest.raises(TypeError, match="unknown settings"):
        widgets.parallelism_planner(gpus=8)


def test_static_figure_at_the_defaults():
    fig = widgets.parallelism_plan_figure()
    assert len(fig.axes) == 2
