"""The explorer and figure helpers: thin wrappers that agree with the library's counts."""

from __future__ import annotations

import subprocess
import sys

import pytest

import bigcompute as bc
from bigcompute import counts, plots, units
from bigcompute.plots.canvas import _subplots  # noqa: F401
from bigcompute.plots.charts import _place_labels

GPT2_SMALL = bc.TransformerConfig(n_layers=12, d_model=768, n_heads=12, vocab_size=50257,
                                  max_seq_len=1024)


def test_importing_plots_and_bigcompute_does_not_import_matplotlib_torch_or_ipywidgets():
    code = ("import sys, bigcompute, bigcompute.plots; "
            "print(sorted(m for m in ('matplotlib', 'torch', 'ipywidgets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ["gpt2-small", "llama2-7b", "llama2-70b", "mixtral-8x7b",
                                  "gpt3-175b", "mistral-7b"])
def test_parameter_breakdown_adds_up_to_param_count(name):
    cfg = bc.model(name)
    parts = counts.parameter_breakdown(cfg)
    assert sum(parts.values()) == bc.param_count(cfg)
    assert all(v > 0 for v in parts.values())


def test_gpt2_small_breakdown_is_a_third_embeddings():
    parts = counts.parameter_breakdown(GPT2_SMALL)
    assert parts == {"embeddings": 39_383_808, "attention": 28_348_416, "MLP": 56_669_184,
                     "norms": 38_400}


def test_parameter_breakdown_rejects_an_encoder():
    with pytest.raises(ValueError, match="decoder-only"):
        counts.parameter_breakdown(bc.model("bert-base"))


@pytest.mark.parametrize("part, total, text", [(455, 1000, "45.5%"), (31, 100000, "0.031%"),
                                               (0, 10, "0.0%"), (1, 1, "100.0%")])
def test_share_never_reads_zero_for_a_nonzero_part(part, total, text):
    assert units.format_share(part, total) == text


def test_charts_return_figures():
    fig = plots.parameter_breakdown_chart({"GPT-2 small": counts.parameter_breakdown(GPT2_SMALL)})
    assert len(fig.axes) == 1
    assert plots.figure_png(fig).startswith(b"\x89PNG")


widgets = pytest.importorskip("bigcompute.widgets")
from bigcompute.explorers.parameters import PARAMETER_DEFAULTS  # noqa: E402


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


def test_plan_chart_writes_its_time_axis_in_the_unit_of_the_slowest_plan():
    rows = [{"label": "dp8", "fits": True, "memory": 2**30,
             "parts": {"compute": 300.0, "data-parallel comm": 100.0}},
            {"label": "tp8", "fits": False, "memory": 2**31, "parts": {"compute": 90.0}}]
    fig = plots.parallel_plan_chart(rows, capacity_bytes=2**32)
    ax_t = fig.axes[0]
    assert ax_t.get_xlabel() == "time per training step (min)"
    bar_ends = sorted(p.get_x() + p.get_width() for p in ax_t.patches)
    assert bar_ends[-1] == pytest.approx(400 / 60) and bar_ends[0] == pytest.approx(90 / 60)
    assert {t.get_text().strip() for t in ax_t.texts} == {"6.67 min", "1.5 min"}


def test_labels_of_crowded_points_move_further_out_rather_than_overlap():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.set_xlim(-10, 10)
    ax.set_ylim(-10, 10)
    items = [(0.0, 0.0, f"label {i}", 4.0) for i in range(9)]  # nine labels, one point
    _place_labels(fig, ax, items)
    renderer = fig.canvas.get_renderer()
    # a label's box as placed is predicted from one measurement: allow a pixel of error
    boxes = [t.get_window_extent(renderer).expanded(1, 1).padded(-1) for t in ax.texts]
    plt.close(fig)
    assert len(boxes) == 9
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), "two labels of crowded points overlap"
