"""Chapter 4's explorers: they build, show the library's numbers, and turn invalid settings
into a message (never a traceback)."""

import html

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")

from bigcompute import (
    catalog,
    counts,
    energy,
    estimate,
    memory,
    plots,
    published,
    scaling,
    timing,
    units,
    widgets,
)
from bigcompute.explorers.costs import scaling_report
from bigcompute.explorers.parameters import explorer_config

PRICE = 4.1  # any price: the tests compare the widget with the library at the same price
GRID = 0.385


def shown(explorer) -> str:
    return html.unescape(explorer.result.value)


def test_memory_explorer_builds_at_its_defaults_and_shows_a_chart():
    explorer = widgets.memory_explorer()
    assert explorer.chart.layout.display != "none" and explorer.chart.value
    assert "Memory explorer" in explorer.snapshot_html()
    assert "<img" in explorer.snapshot_html()


def test_memory_explorer_shows_the_library_ledger_and_verdict():
    explorer = widgets.memory_explorer(model="llama2-7b", batch=2, seq=2048, zero_stage=3,
                                       dp=8, device="a100-80gb")
    mem = memory.training_memory("llama2-7b", 2, 2048, precision="amp-bf16",
                                 optimizer="adamw", attention="flash", zero_stage=3, dp=8)
    fit = memory.fit("llama2-7b", "a100-80gb", 2, 2048, zero_stage=3, dp=8)
    text = shown(explorer)
    for value in (mem.weights, mem.optimizer, mem.activations, mem.total):
        assert units.format_bytes(value) in text
    assert fit.message in text
    assert f"largest micro-batch that fits</td><td style='text-align:right'>{fit.max_batch:,}" \
        in text


def test_memory_explorer_default_does_not_fit_and_says_so():
    text = shown(widgets.memory_explorer())
    assert "does not fit" in text
    # LLaMA-2-7B's mixed-precision AdamW states alone are 16 B x 6.74e9 = 108 GB > 80 GB
    assert "model states alone 100 GiB" in text


@pytest.mark.parametrize("change, message", [
    ({"tp": 64}, "a divisor of n_heads=32"),
    ({"pp": 128}, "at most n_layers=32"),
    ({"model": "gpt2-small", "seq": 4096}, "at most max_seq_len=1024"),
    ({"model": "custom", "d_model": 1000, "n_heads": 16}, "Try n_heads"),
])
def test_memory_explorer_invalid_settings_show_the_message(change, message):
    explorer = widgets.memory_explorer()
    for key, value in change.items():
        explorer.controls[key].value = value
    assert "bigcompute-error" in shown(explorer)
    assert message in shown(explorer)
    assert explorer.chart.layout.display == "none"
    assert "<img" not in explorer.snapshot_html()


def test_memory_explorer_recovers_after_an_invalid_setting():
    explorer = widgets.memory_explorer()
    explorer.controls["tp"].value = 64
    explorer.controls["tp"].value = 8
    assert "bigcompute-error" not in shown(explorer)
    assert explorer.chart.layout.display != "none"


def test_memory_explorer_custom_model_counts_the_custom_config():
    explorer = widgets.memory_explorer(model="custom", d_model=512, n_layers=4, n_heads=8,
                                       vocab_size=1000, seq=256)
    cfg = explorer_config(512, 4, 8, 1000, max_seq_len=256)
    assert f"custom, {units.format_count(counts.param_count(cfg))} parameters" in shown(explorer)
    mem = memory.training_memory(cfg, 1, 256)
    assert units.format_bytes(mem.total) in shown(explorer)


def test_memory_explorer_rejects_unknown_settings():
    with pytest.raises(TypeError, match="unknown settings"):
        widgets.memory_explorer(gpus=8)


def test_memory_sharding_figure_draws_five_bars():
    fig = widgets.memory_sharding_figure()
    assert len(fig.axes[0].get_yticklabels()) == 5


def test_memory_stack_chart_total_labels_equal_the_sums():
    stacks = {"a": {"weights": 2**30, "activations": 3 * 2**30}}
    fig = plots.memory_stack_chart(stacks, capacity_bytes=8 * 2**30, capacity_label="x")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "4 GiB" in texts


# ---------------------------------------------------------------- training cost

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


# ---------------------------------------------------------------- scaling

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
