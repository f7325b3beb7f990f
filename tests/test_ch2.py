"""Chapter 2: the hardware and roofline explorers, the plots behind them, and the measurement
of this machine's roofline (bigcompute.lab.machine)."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")
torch = pytest.importorskip("torch")

from bigcompute import counts, hardware, plots, tables, timing, widgets  # noqa: E402
from bigcompute.explorers.hardware import device_comparison_html  # noqa: E402
from bigcompute.lab import machine  # noqa: E402

# H100 SXM at bf16: 989.4 TFLOP/s dense and 3.35 TB/s (NVIDIA datasheet), ridge 295.3 FLOP/B.
H100_RIDGE = 989.4e12 / 3.35e12


# ---------------------------------------------------------------- the hardware explorer

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


def test_catalogue_table_has_every_device_and_a_link_to_its_source():
    html = tables.hardware_catalogue_table(short=True)
    for name in hardware.devices():
        assert f">{name}<" in html
    assert html.count("href='https://") == len(hardware.devices())


# ---------------------------------------------------------------- the roofline explorer

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


@pytest.mark.parametrize("n, bound", [(880, "memory"), (890, "compute")])
def test_square_bf16_matmul_crosses_the_h100_ridge_near_n_886(n, bound):
    # An n x n x n bf16 matmul: 2n^3 FLOPs over 3n^2 x 2 bytes = n/3 FLOP/B; it is
    # compute-bound once n/3 >= 295.3, i.e. n >= 886.
    assert (n / 3 >= H100_RIDGE) == (bound == "compute")
    r = timing.matmul_roofline(n, n, n, "h100-sxm", "bf16")
    assert r.bound == bound
    assert r.arithmetic_intensity == pytest.approx(n / 3)


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


def test_transformer_shapes_of_llama2_7b():
    shapes = counts.transformer_matmul_shapes("llama2-7b", tokens=2048, context=1024,
                                               decode_batch=8)
    assert shapes["MLP up-projection, decode batch 8"] == (8, 11008, 4096)
    assert shapes["attention q·Kᵀ, decode, 1,024 cached tokens"] == (1, 1024, 128)
    assert shapes["attention scores QKᵀ, one head, 2,048 tokens"] == (2048, 2048, 128)


# ---------------------------------------------------------------- plots

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


def test_widget_figures_build():
    assert widgets.hardware_figure().axes
    assert widgets.roofline_figure().axes


# ---------------------------------------------------------------- this machine

TINY = {"sizes": (8, 16), "rows": (1, 2), "width": 32, "stream_bytes": 2**16, "repeats": 1}


def test_this_machine_describes_cpu_threads_and_versions():
    info = machine.this_machine()
    assert info.logical_cpus >= 1 and info.torch_threads >= 1
    assert info.torch_version == torch.__version__
    assert info.device == "cpu" and info.accelerator == "none"
    assert "torch" in info.summary()


def test_a_machine_whose_load_exceeds_its_cpus_is_busy_and_says_so():
    from dataclasses import replace

    info = machine.this_machine()
    quiet = replace(info, load_average=0.0)
    busy = replace(info, load_average=info.logical_cpus + 1.0)
    assert not quiet.busy and "BUSY" not in quiet.summary()
    assert busy.busy and "BUSY" in busy.summary()


def test_measure_roofline_on_tiny_sizes_gives_positive_finite_numbers():
    m = machine.measure_roofline(**TINY)
    assert len(m.ops) == 2 + 2 + 2
    assert [op.shape for op in m.of_kind("skinny matmul")] == [(1, 32, 32), (2, 32, 32)]
    for op in m.ops:
        assert op.seconds > 0 and math.isfinite(op.seconds)
        assert op.bytes_per_s > 0 and math.isfinite(op.bytes_per_s)
    for value in (m.peak_flops_per_s, m.bandwidth_bytes_per_s, m.ridge_point):
        assert value > 0 and math.isfinite(value)
    dev = m.as_device()
    assert dev.peak_flops("fp32") == m.peak_flops_per_s
    for row in m.rows():
        assert 0 < row["roofline_seconds"] and math.isfinite(row["fraction_of_roofline"])


def test_measured_flops_and_bytes_are_the_counts_torch_and_numpy_give():
    from torch.utils.flop_counter import FlopCounterMode

    op = machine.measure_matmul(3, 5, 7, repeats=1)
    a, b = torch.ones(3, 7), torch.ones(7, 5)
    counter = FlopCounterMode(display=False)
    with counter:
        a @ b
    assert op.flops == counter.get_total_flops() == 2 * 3 * 5 * 7
    assert op.bytes_moved == (a.nbytes + b.nbytes + 3 * 5 * 4)
    add = machine.measure_add(4096, repeats=1)
    assert add.flops == 1024 and add.bytes_moved == 3 * 4096  # 1/12 FLOP per byte in fp32
    copy = machine.measure_copy(4096, repeats=1)
    assert copy.flops == 0 and copy.bytes_moved == 2 * 4096


def test_measure_roofline_rejects_bad_input():
    with pytest.raises(ValueError, match="dtype"):
        machine.measure_roofline(dtype="fp64")
    with pytest.raises(ValueError, match="repeats"):
        machine.measure_matmul(4, 4, 4, repeats=0)
