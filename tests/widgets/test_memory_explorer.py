"""The memory explorer (explorers/memory.py in the widgets shell): the library's ledger and
verdict, and a message, never a traceback, for invalid settings."""

import html

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")
from bigcompute import (
    counts,
    memory,
    units,
    widgets,
)
from bigcompute.explorers.parameters import explorer_config


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
    mem = memory.training_memory("llama2-7b", 2, 2048, precision="mixed-bf16",
                                 optimizer="adamw", attention="flash", zero_stage=3, dp=8)
    fit = memory.fit("llama2-7b", "a100-80gb", 2, 2048, zero_stage=3, dp=8)
    text = shown(explorer)
    for value in (mem.weights, mem.optimizer, mem.activations, mem.total, mem.peak):
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
