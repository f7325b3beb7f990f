"""The parameter explorer (explorers/parameters.py in the widgets shell): it agrees with the
library's counts and shows a hint when the heads do not divide d_model."""

from __future__ import annotations

import pytest

import bigcompute as bc
from bigcompute.plots.canvas import _subplots  # noqa: F401

widgets = pytest.importorskip("bigcompute.widgets")
from bigcompute.explorers.parameters import PARAMETER_DEFAULTS  # noqa: E402

GPT2_SMALL = bc.TransformerConfig(n_layers=12, d_model=768, n_heads=12, vocab_size=50257,
                                  max_seq_len=1024)


def test_explorer_opens_on_gpt2_small_with_124_439_808_parameters():
    explorer = widgets.parameter_explorer()
    assert explorer.settings() == PARAMETER_DEFAULTS
    assert "124,439,808" in explorer.result.value
    assert bytes(explorer.chart.value).startswith(b"\x89PNG")


def test_explorer_recomputes_when_a_slider_moves():
    explorer = widgets.parameter_explorer()
    explorer.controls["n_layers"].value = 24
    cfg = GPT2_SMALL.scaled(n_layers=24)
    assert f"{bc.param_count(cfg):,}" in explorer.result.value


def test_explorer_shows_the_error_message_not_a_traceback_when_heads_do_not_divide_d_model():
    explorer = widgets.parameter_explorer()
    explorer.controls["n_heads"].value = 7
    assert "bigcompute-error" in explorer.result.value
    assert "n_heads=7 is not allowed" in explorer.result.value
    assert "Try n_heads = 6 or 8." in explorer.result.value
    assert explorer.chart.layout.display == "none"
    explorer.controls["n_heads"].value = 8  # and it recovers
    assert "124,439,808" in explorer.result.value
    assert explorer.chart.layout.display is None


def test_explorer_carries_a_static_snapshot_for_the_website():
    bundle = widgets.parameter_explorer()._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # live in JupyterLab
    snapshot = bundle["text/html"]                               # static on the website
    assert "124,439,808" in snapshot and "bf16" in snapshot and "data:image/png" in snapshot


def test_explorer_rejects_unknown_settings():
    with pytest.raises(TypeError, match="unknown settings"):
        widgets.parameter_explorer(d_modle=512)


def test_scaling_figure_has_a_line_per_depth_and_marks_the_default():
    fig = widgets.parameter_scaling_figure(n_layers=(6, 12))
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels[:2] == ["6 layers", "12 layers"]
    assert len(fig.axes[0].get_lines()) == 3  # two depths and the starred default
