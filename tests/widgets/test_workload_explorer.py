"""The workload explorer (explorers/workloads.py in the widgets shell) and the workload map."""

from __future__ import annotations

import html

import pytest

from bigcompute import units, workloads


def _shown(explorer) -> str:
    return html.unescape(explorer.result.value)


def test_workload_explorer_builds_and_shows_the_library_profile():
    pytest.importorskip("ipywidgets")
    from bigcompute import widgets

    explorer = widgets.workload_explorer(price_per_device_hour=4.916)
    p = workloads.profile("llama2-7b", "h100-sxm", 32, "bf16", 0.5, 4.916)
    shown = _shown(explorer)
    assert units.format_seconds(p.seconds_per_prediction) in shown
    assert f"{p.params:,.0f}" in shown
    assert "<img" in explorer.snapshot_html()
    assert explorer.chart.layout.display != "none"


def test_workload_explorer_explains_an_impossible_choice():
    pytest.importorskip("ipywidgets")
    from bigcompute import widgets

    explorer = widgets.workload_explorer(price_per_device_hour=4.916, workload="alphafold2")
    assert "bigcompute-error" in explorer.result.value and "v100" in _shown(explorer)
    assert explorer.chart.layout.display == "none"
    explorer.controls["device"].value = "v100"
    explorer.controls["dtype"].value = "fp16"
    assert "bigcompute-error" not in explorer.result.value
    assert "1.1 min" in _shown(explorer)
    with pytest.raises(TypeError, match="unknown settings"):
        widgets.workload_explorer(price_per_device_hour=1.0, model="bert")


def test_workload_map_places_every_workload():
    pytest.importorskip("matplotlib")
    from bigcompute import widgets

    fig = widgets.workload_map_figure(highlight="bert-base")
    texts = [t.get_text() for t in fig.axes[0].texts]
    for key in workloads.workloads():
        assert any(t.startswith(key) for t in texts), key
