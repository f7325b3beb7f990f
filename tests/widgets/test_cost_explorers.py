"""The training-cost and scaling explorers (explorers/costs.py in the widgets shell): they
build, show the library's numbers, and turn invalid settings into a message."""

import html

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")
from bigcompute import (
    catalog,
    energy,
    estimate,
    published,
    scaling,
    timing,
    units,
    widgets,
)
from bigcompute.explorers.costs import scaling_report

PRICE = 4.1  # any price: the tests compare the widget with the library at the same price


GRID = 0.385


def shown(explorer) -> str:
    return html.unescape(explorer.result.value)


def test_training_cost_explorer_shows_the_library_estimate():
    explorer = widgets.training_cost_explorer(price_per_device_hour=PRICE,
                                              grid_kg_per_kwh=GRID, pue=1.1)
    info = catalog.model_info("llama-65b")
    est = estimate.estimate_training(float(info["published_params"]),
                                     float(info["training_tokens"]), "a100-80gb", 2048, 0.4,
                                     pue=1.1, grid_kg_per_kwh=GRID,
                                     price_per_device_hour=PRICE)
    text = shown(explorer)
    assert f"{est.device_hours:,.0f}" in text
    assert f"{est.energy_kwh / 1000:,.1f} MWh" in text
    assert f"{est.co2_tonnes:,.1f} t" in text
    assert units.format_dollars(est.cost_dollars) in text
    assert units.format_days(est.days) in text


def test_training_cost_explorer_time_is_6nd_over_the_achieved_rate():
    explorer = widgets.training_cost_explorer(price_per_device_hour=PRICE,
                                              grid_kg_per_kwh=GRID, params=1e9, tokens=2e10,
                                              device="h100-sxm", n_devices=8, mfu=0.5)
    days = 6 * 1e9 * 2e10 / (8 * 989.4e12 * 0.5) / 86400
    assert units.format_days(days) in shown(explorer)


def test_training_cost_explorer_needs_a_power_for_a_device_without_tdp():
    explorer = widgets.training_cost_explorer(price_per_device_hour=PRICE,
                                              grid_kg_per_kwh=GRID)
    explorer.controls["device"].value = "tpu-v5e"
    assert "no published TDP" in shown(explorer)
    assert explorer.chart.layout.display == "none"
    explorer.controls["power_watts"].value = 200.0
    assert "200 W/device" in shown(explorer)


def test_training_cost_explorer_requires_price_and_grid_intensity():
    with pytest.raises(TypeError):
        widgets.training_cost_explorer()  # no hidden default price


def test_scaling_explorer_opens_on_gophers_budget_and_shows_chinchillas_optimum():
    explorer = widgets.scaling_explorer(price_per_device_hour=PRICE)
    budget = published.run("chinchilla-67b-gopher-budget")["inputs"]["compute_flops"]
    assert explorer.settings()["compute_flops"] == budget
    n, d = scaling.chinchilla_optimal(budget)
    text = shown(explorer)
    assert f"N = {units.format_count(n)}, D = {units.format_count(d)}" in text
    assert f"loss {scaling.chinchilla_loss(n, d):.3f}" in text
    seconds = timing.training_time(budget, "a100-80gb", 2048, 0.4)
    hours = energy.device_hours(seconds, 2048)
    assert f"{hours:,.0f}" in text
    assert units.format_dollars(hours * PRICE) in text


def test_scaling_explorer_kaplan_allocation_is_worse_under_chinchillas_loss():
    report = scaling_report(1e23, "h100-sxm", 1024, 0.4, PRICE)
    losses = report.losses
    assert losses["Kaplan et al. 2020"] > losses["Chinchilla, D = 20N"]
    assert losses["Chinchilla, approach 3"] <= losses["Chinchilla, D = 20N"] + 1e-9


def test_scaling_explorer_device_without_a_dtype_peak_shows_the_message():
    explorer = widgets.scaling_explorer(price_per_device_hour=PRICE)
    explorer.controls["device"].value = "epyc-9654"  # a CPU: fp32 only, no bf16 peak
    assert "has no 'bf16' peak" in shown(explorer)


def test_compute_optimal_figure_marks_the_budget():
    fig = widgets.compute_optimal_figure(1e22)
    assert len(fig.axes) == 2


def test_snapshot_lists_the_settings_in_use_readably():
    snapshot = widgets.memory_explorer().snapshot_html()
    assert "seq = 4,096" in snapshot
    assert "d_model" not in snapshot.split("</p>")[0]  # the custom model's settings are unused
    cost = widgets.training_cost_explorer(price_per_device_hour=PRICE, grid_kg_per_kwh=GRID)
    assert "n_devices = 2,048" in cost.snapshot_html()
    assert "params = 6.52e+10" in cost.snapshot_html()
