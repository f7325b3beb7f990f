"""bigcompute.plots: the chart recipes draw what they are given, and importing the package
loads no matplotlib until a chart is drawn."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("matplotlib")

import bigcompute as bc  # noqa: E402
from bigcompute import counts, hardware, plots  # noqa: E402
from bigcompute.plots.charts import _place_labels  # noqa: E402


def test_year_trend_chart_fits_an_exact_doubling():
    years = [2016, 2018, 2020, 2022]
    values = [1e12 * 2 ** ((y - 2016) / 2) for y in years]  # doubles every 2 years
    fig = plots.year_trend_chart({"peak": [(y, v, None) for y, v in zip(years, values)]},
                                 ylabel="FLOP/s")
    assert "doubles every 2 years" in fig.axes[0].get_legend().get_texts()[0].get_text()


def test_roofline_chart_draws_min_of_the_two_roofs():
    fig = plots.roofline_chart({"dev": (100e12, 1e12)}, {"op": [(10, 10e12, "x")]},
                               xlim=(1, 1000))
    line = fig.axes[0].lines[0]
    xs, ys = line.get_xdata(), line.get_ydata()
    for x, y in zip(xs, ys):
        assert y == pytest.approx(min(100e12, x * 1e12))


def test_device_comparison_chart_refuses_a_device_without_the_dtype():
    with pytest.raises(ValueError, match="has no 'bf16' peak"):
        plots.device_comparison_chart([hardware.device("v100")], "bf16")


GPT2_SMALL = bc.TransformerConfig(n_layers=12, d_model=768, n_heads=12, vocab_size=50257,
                                  max_seq_len=1024)


def test_importing_plots_and_bigcompute_does_not_import_matplotlib_torch_or_ipywidgets():
    code = ("import sys, bigcompute, bigcompute.plots; "
            "print(sorted(m for m in ('matplotlib', 'torch', 'ipywidgets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_charts_return_figures():
    fig = plots.parameter_breakdown_chart({"GPT-2 small": counts.parameter_breakdown(GPT2_SMALL)})
    assert len(fig.axes) == 1
    assert plots.figure_png(fig).startswith(b"\x89PNG")


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


def test_memory_stack_chart_total_labels_equal_the_sums():
    stacks = {"a": {"weights": 2**30, "activations": 3 * 2**30}}
    fig = plots.memory_stack_chart(stacks, capacity_bytes=8 * 2**30, capacity_label="x")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "4 GiB" in texts


def test_memory_stack_chart_marks_each_peak_and_names_it_once():
    stacks = {"a": {"weights": 2**30, "activations": 3 * 2**30},
              "b": {"weights": 2**30, "activations": 2**30}}
    fig = plots.memory_stack_chart(stacks, peaks={"a": 3 * 2**30, "b": 3 * 2**30})
    ax = fig.axes[0]
    ticks = [line for line in ax.lines if list(line.get_xdata()) == [3 * 2**30] * 2]
    assert len(ticks) == 2  # one tick per bar, at its peak: inside a, beyond b
    texts = {t.get_text() for t in ax.texts}
    assert {"4 GiB, peak 3 GiB", "2 GiB, peak 3 GiB"} <= texts
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend.count("peak of the step") == 1 and legend[-1] == "peak of the step"


def _walk():
    """A step walked by hand: 1 GiB resident, 2 GiB of activations, a 1 GiB spike at the
    loss (high 4 GiB), then the backward frees them."""
    from bigcompute.step_memory import MemoryEvent, StepTimeline

    gib = 2**30
    return StepTimeline((MemoryEvent("start", "between steps", gib, gib),
                         MemoryEvent("forward", "layer 1", 3 * gib, 3 * gib),
                         MemoryEvent("loss", "cross-entropy", 3 * gib, 3 * gib),
                         MemoryEvent("backward", "the loss", 3 * gib, 4 * gib),
                         MemoryEvent("backward", "layer 1", gib, 3 * gib),
                         MemoryEvent("optimizer", "step", gib, gib)))


def test_step_memory_chart_climbs_to_each_events_high_water_mark():
    fig = plots.step_memory_chart(_walk())
    ax = fig.axes[0]
    curve = max(ax.lines, key=lambda line: len(line.get_xdata()))
    assert max(curve.get_ydata()) == 4 * 2**30  # the spike, not only what each event holds
    assert "predicted peak 4 GiB\nbackward: the loss" in {t.get_text() for t in ax.texts}
    assert {"forward", "loss", "backward", "optimizer"} <= {t.get_text() for t in ax.texts}


def test_step_memory_chart_puts_the_measured_curve_beside_and_prints_the_error():
    from types import SimpleNamespace

    measured = SimpleNamespace(resident=2**30, peak=5 * 2**30,
                               trace=(2**30, 3 * 2**30, 5 * 2**30, 2**30))
    fig = plots.step_memory_chart(_walk(), measured, title="by hand")
    assert len(fig.axes) == 2
    left, right = fig.axes
    assert left.get_ylim() == right.get_ylim()  # one scale for both
    assert "measured peak 5 GiB" in {t.get_text() for t in right.texts}
    assert fig._suptitle.get_text() == ("by hand — predicted peak 4 GiB, measured 5 GiB: "
                                        "error -20.00%")
