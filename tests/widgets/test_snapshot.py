"""The website shows each explorer as a static snapshot with its controls drawn at their values
(bigcompute.widgets.controls_snapshot_html): the reader sees what there is to move and where
it stands, without a kernel or any JavaScript."""

from __future__ import annotations

import math
import re

import ipywidgets as W
import pytest

from bigcompute import widgets


def _inputs(html: str, kind: str) -> list[dict[str, str]]:
    return [dict(re.findall(r"(\w+)='([^']*)'", tag))
            for tag in re.findall(rf"<input type='{kind}'[^>]*>", html)]


def test_the_parameter_explorer_snapshot_draws_its_four_sliders_at_gpt2_small():
    snapshot = widgets.parameter_explorer()._repr_mimebundle_()["text/html"]
    assert snapshot.startswith("<div class='bigcompute-widget-snapshot'>")
    sliders = _inputs(snapshot, "range")
    assert [s["value"] for s in sliders] == ["768", "12", "12", "50257"]
    assert all(" disabled" in tag for tag in re.findall(r"<input[^>]*>", snapshot))
    assert snapshot.count("class='bigcompute-control'") == 4
    # the controls come after the title line and before the numbers
    assert snapshot.index("Parameter explorer") < snapshot.index("bigcompute-controls") \
        < snapshot.index("124,439,808")


def test_moving_a_slider_moves_it_in_the_snapshot():
    explorer = widgets.parameter_explorer()
    explorer.controls["n_layers"].value = 24
    sliders = _inputs(explorer._repr_mimebundle_()["text/html"], "range")
    assert sliders[1]["value"] == "24"


def test_each_kind_of_control_is_drawn_as_the_reader_would_see_it():
    box = W.VBox([
        W.HTML("<b>title</b>"),
        W.HBox([W.FloatLogSlider(value=1e21, base=10, min=18, max=26, description="FLOP"),
                W.Dropdown(options=["fp32", "bf16"], value="bf16", description="dtype")]),
        W.IntText(value=2048, description="batch"),
        W.Checkbox(value=True, description="labels"),
        W.IntSlider(value=3, description="hidden", layout=W.Layout(display="none")),
        W.IntSlider(value=5, description="off", disabled=True),
        W.Image(value=b"", format="png"),
    ])
    html = widgets.controls_snapshot_html(box)
    (log_slider, off) = _inputs(html, "range")
    assert float(log_slider["value"]) == pytest.approx(math.log10(1e21))
    assert (log_slider["min"], log_slider["max"]) == ("18.0", "26.0")
    assert "<select disabled><option selected>bf16</option></select>" in html
    assert "fp32" not in html
    assert _inputs(html, "text")[0]["value"] == "2048"
    assert re.search(r"<input type='checkbox' checked disabled>", html)
    assert "hidden" not in html                      # a hidden control is not drawn
    assert off["value"] == "5" and "opacity:0.45" in html  # a switched-off one is faded
    assert "title" not in html                       # outputs are the snapshot's, not controls


def test_an_explorer_without_controls_draws_none():
    assert widgets.controls_snapshot_html(W.VBox([W.HTML("x")])) == ""
