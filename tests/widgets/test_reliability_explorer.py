"""The reliability explorer (explorers/reliability.py in the widgets shell)."""

from __future__ import annotations

import html

import pytest


def _shown(explorer) -> str:
    return html.unescape(explorer.result.value)


def test_reliability_explorer_opens_on_llama3s_failure_rate():
    pytest.importorskip("ipywidgets")
    from bigcompute import reliability, widgets

    explorer = widgets.reliability_explorer()
    assert explorer.settings()["n_devices"] == 16384
    assert f"{419 / 54:.3g}" in _shown(explorer)  # 7.76 failures per day
    explorer.controls["n_devices"].value = 16384 * 2
    assert f"{2 * 419 / 54:.3g}" in _shown(explorer)
    r = reliability.checkpoint_plan(1000, 1e5, 60, 600)
    assert r.daly == reliability.daly_interval(60, 1e5 / 1000 * 3600)
    assert 0 < r.goodput_daly < 1
