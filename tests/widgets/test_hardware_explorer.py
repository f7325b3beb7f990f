"""The hardware and roofline explorers (explorers/hardware.py in the widgets shell): the
library's numbers, a message for what a device lacks, presets that set the shape."""

from __future__ import annotations

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")
from bigcompute import hardware, timing, widgets  # noqa: E402
from bigcompute.explorers.hardware import device_comparison_html  # noqa: E402


def test_hardware_explorer_builds_with_a_table_and_a_chart():
    ex = widgets.hardware_explorer()
    assert "h100-sxm" in ex.settings()["devices"]
    assert "NVIDIA H100 SXM5 80GB" in ex.result.value
    assert "989 TFLOP/s" in ex.result.value
    assert "bigcompute-error" not in ex.result.value
    assert ex.chart.value and ex.chart.layout.display != "none"
    assert "<img" in ex.snapshot_html()


def test_hardware_explorer_says_which_device_lacks_the_dtype():
    ex = widgets.hardware_explorer(devices=("v100", "h100-sxm"), dtype="bf16")
    assert "bigcompute-error" in ex.result.value
    assert "v100" in ex.result.value and "has no &#x27;bf16&#x27; peak" in ex.result.value
    assert "NVIDIA H100 SXM5 80GB" in ex.result.value  # the other device is still compared
    assert ex.chart.layout.display != "none"


def test_hardware_explorer_with_no_usable_device_shows_only_the_message():
    ex = widgets.hardware_explorer(devices=("v100", "t4"), dtype="bf16")
    assert ex.result.value.count("bigcompute-error") == 2
    assert ex.chart.layout.display == "none"
    ex.controls["devices"].value = ()
    assert "no device picked" in ex.result.value


def test_hardware_explorer_rejects_unknown_settings():
    with pytest.raises(TypeError, match="unknown settings"):
        widgets.hardware_explorer(gpu="h100")


def test_tpu_without_published_tdp_has_no_flops_per_watt():
    html = device_comparison_html([hardware.device("tpu-v5e")], "bf16")
    assert "no published TDP" in html


def test_roofline_explorer_opens_on_memory_bound_decoding():
    ex = widgets.roofline_explorer()
    assert ex.preset.value == "MLP up-projection, decode batch 1"
    assert "memory-bound" in ex.result.value
    assert "<img" in ex.snapshot_html()


@pytest.mark.parametrize("setting, value, message", [
    ("m", 0, "m=0 is not allowed"),
    ("k", -3, "k=-3 is not allowed"),
    ("device", "v100", "has no &#x27;bf16&#x27; peak"),
])
def test_roofline_explorer_shows_the_message_for_invalid_settings(setting, value, message):
    ex = widgets.roofline_explorer()
    ex.controls[setting].value = value
    assert message in ex.result.value
    assert "Traceback" not in ex.result.value
    assert ex.chart.layout.display == "none"


def test_roofline_explorer_preset_sets_the_shape_and_editing_makes_it_custom():
    ex = widgets.roofline_explorer()
    name = "MLP up-projection, 4,096 tokens (training/prefill)"
    ex.preset.value = name
    assert (ex.controls["m"].value, ex.controls["n"].value, ex.controls["k"].value) == (
        4096, 11008, 4096)  # Llama-2-7B: d_model 4096, d_ff 11008
    assert "compute-bound" in ex.result.value
    ex.controls["m"].value = 5
    assert ex.preset.value == "custom"


@pytest.mark.parametrize("device, dtype", [("h100-sxm", "bf16"), ("a100-80gb", "fp32"),
                                           ("tpu-v5p", "int8"), ("t4", "fp16")])
@pytest.mark.parametrize("m, n, k", [(1, 4096, 4096), (64, 11008, 4096), (4096, 4096, 128),
                                     (8192, 8192, 8192), (1, 1, 1)])
def test_explorer_verdict_agrees_with_timing_roofline_time(device, dtype, m, n, k):
    ex = widgets.roofline_explorer(device=device, dtype=dtype, m=m, n=n, k=k)
    size = {"fp32": 4, "bf16": 2, "fp16": 2, "int8": 1}[dtype]
    flops, moved = 2 * m * n * k, (m * k + k * n + m * n) * size
    r = timing.roofline_time(flops, moved, device, dtype)
    assert f"{r.bound}-bound" in ex.result.value
    dev = hardware.device(device)
    expected = max(flops / dev.peak_flops(dtype), moved / dev.bandwidth_bytes_per_s)
    assert r.seconds == pytest.approx(expected)


def test_widget_figures_build():
    assert widgets.hardware_figure().axes
    assert widgets.roofline_figure().axes
