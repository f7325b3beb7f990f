"""The hardware catalogue: datasheet figures, dense (not sparse) peaks, clear errors."""

import subprocess
import sys
from pathlib import Path

import pytest

from bigcompute import hardware
from bigcompute.hardware import DTYPES, Device, _devices_from_rows, catalogue_rows, device, devices

TERA = 1e12


# --- the catalogue ------------------------------------------------------------------------

def test_catalogue_has_at_least_15_devices_with_unique_names():
    names = devices()
    assert len(names) >= 15
    assert len(set(names)) == len(names)


def test_catalogue_covers_the_devices_the_book_discusses():
    for name in ["v100", "a100-40gb", "a100-80gb", "h100-sxm", "h100-pcie", "h200", "b200",
                 "l4", "rtx-4090", "mi300x", "tpu-v4", "tpu-v5e", "tpu-v5p"]:
        assert name in devices()
    kinds = {device(n).kind for n in devices()}
    assert {"gpu", "tpu", "cpu", "soc"} <= kinds


def test_every_row_cites_a_source_with_a_url():
    for row in catalogue_rows():
        assert row["source"].strip(), row["name"]
        assert "https://" in row["source"], row["name"]


def test_catalogue_rows_are_the_csv_columns_in_file_order():
    rows = catalogue_rows()
    assert [r["name"] for r in rows] == devices()
    assert list(rows[0]) == [
        "name", "full_name", "vendor", "kind", "year", "memory_gib", "memory_bandwidth_gbps",
        "tdp_watts", "interconnect", "interconnect_gbps", "fp32_tflops", "tf32_tflops",
        "bf16_tflops", "fp16_tflops", "fp8_tflops", "int8_tops", "source"]
    rows[0]["name"] = "changed"  # callers get copies; the catalogue is unchanged
    assert catalogue_rows()[0]["name"] == devices()[0]


# --- datasheet figures (written here from the datasheets, not copied from the code) --------

def test_h100_sxm_bf16_dense_peak_is_989_4_tflops():
    # NVIDIA H100 Tensor Core GPU Architecture whitepaper, H100 SXM5: BF16 Tensor 989.4 TFLOPS
    # dense (the datasheet's 1,979 is "with sparsity").
    assert device("h100-sxm").peak_flops("bf16") == pytest.approx(989.4e12, rel=1e-9)


def test_h100_sxm_other_datasheet_figures():
    # NVIDIA H100 datasheet (SXM): FP8 3,958* / TF32 989* with sparsity -> 1978.9 / 494.7 dense;
    # FP32 67 TFLOPS; 80 GB HBM3 at 3.35 TB/s; 700 W; NVLink 900 GB/s. The "80 GB" is binary:
    # five 16 GiB HBM3 stacks enabled (nvidia-smi reports about 81,500 MiB).
    h100 = device("h100-sxm")
    assert h100.peak_flops("fp8") == pytest.approx(1978.9e12)
    assert h100.peak_flops("tf32") == pytest.approx(494.7e12)
    assert h100.peak_flops("fp32") == pytest.approx(67e12)
    assert h100.memory_bytes == 80 * 2**30
    assert h100.bandwidth_bytes_per_s == pytest.approx(3.35e12)
    assert h100.tdp_watts == 700
    assert h100.interconnect_bytes_per_s == pytest.approx(900e9)


def test_a100_and_v100_datasheet_figures():
    # NVIDIA A100 datasheet: BF16 312 TFLOPS dense, TF32 156, FP32 19.5; 40GB 1,555 GB/s,
    # 80GB SXM 2,039 GB/s; 400 W.  NVIDIA V100 datasheet (SXM2): 125 TFLOPS tensor, FP32 15.7,
    # 900 GB/s, 300 W.
    for name, bandwidth in [("a100-40gb", 1555e9), ("a100-80gb", 2039e9)]:
        a100 = device(name)
        assert a100.peak_flops("bf16") == pytest.approx(312e12)
        assert a100.peak_flops("tf32") == pytest.approx(156e12)
        assert a100.peak_flops("fp32") == pytest.approx(19.5e12)
        assert a100.bandwidth_bytes_per_s == pytest.approx(bandwidth)
        assert a100.tdp_watts == 400
    v100 = device("v100")
    assert v100.peak_flops("fp16") == pytest.approx(125e12)
    assert v100.peak_flops("fp32") == pytest.approx(15.7e12)
    assert v100.bandwidth_bytes_per_s == pytest.approx(900e9)
    assert v100.tdp_watts == 300


def test_tpu_v4_figures_from_cloud_tpu_docs():
    # Cloud TPU v4 docs: 275 TFLOPS (bf16 or int8), 32 GiB HBM2 at 1200 GB/s.
    v4 = device("tpu-v4")
    assert v4.peak_flops("bf16") == pytest.approx(275e12)
    assert v4.memory_bytes == pytest.approx(32 * 2**30, rel=1e-3)
    assert v4.bandwidth_bytes_per_s == pytest.approx(1200e9)


# --- guards against the usual datasheet mistakes ------------------------------------------

@pytest.mark.parametrize("name", devices())
def test_fp8_is_no_more_than_twice_bf16_so_no_sparse_figure_slipped_in(name):
    d = device(name)
    if "fp8" in d.peak and "bf16" in d.peak:
        assert d.peak["fp8"] <= 2.01 * d.peak["bf16"]


@pytest.mark.parametrize("name", devices())
def test_tf32_is_about_half_bf16_so_no_sparse_figure_slipped_in(name):
    d = device(name)
    if "tf32" in d.peak and "bf16" in d.peak:
        assert d.peak["tf32"] <= 0.51 * d.peak["bf16"]


@pytest.mark.parametrize("name", [n for n in devices() if device(n).kind == "gpu"])
def test_tensor_core_gpus_do_bf16_at_least_as_fast_as_fp32(name):
    d = device(name)
    if "bf16" in d.peak:
        assert d.peak["bf16"] >= d.peak["fp32"]


@pytest.mark.parametrize("name", devices())
def test_every_device_has_sane_units(name):
    d = device(name)
    assert 1e9 <= d.memory_bytes <= 1e13  # 1 GB .. 10 TB
    assert 1e10 <= d.bandwidth_bytes_per_s <= 1e13  # 10 GB/s .. 10 TB/s
    assert all(1e12 <= f <= 1e16 for f in d.peak.values())  # 1 TFLOP/s .. 10 PFLOP/s
    assert 2015 <= d.year <= 2030
    assert d.tdp_watts is None or 10 <= d.tdp_watts <= 2000


def test_h100_bf16_ridge_point_is_about_295_flop_per_byte():
    # 989.4e12 FLOP/s / 3.35e12 B/s = 295.3 FLOP/B
    assert device("h100-sxm").ridge_point("bf16") == pytest.approx(295, rel=0.01)


def test_flops_per_watt_is_peak_over_tdp():
    assert device("h100-sxm").flops_per_watt("bf16") == pytest.approx(989.4e12 / 700)
    with pytest.raises(ValueError, match="no published TDP"):
        device("tpu-v5e").flops_per_watt()


# --- precisions ---------------------------------------------------------------------------

def test_training_precisions_use_their_compute_dtype():
    h100 = device("h100-sxm")
    assert h100.peak_flops("amp-bf16") == h100.peak_flops("bf16")
    assert h100.peak_flops("amp-fp16") == h100.peak_flops("fp16")
    assert h100.peak_flops("int4") == h100.peak_flops("int8")  # no int4 column: int8 peak
    assert h100.peak_flops("BF16") == h100.peak_flops("bf16")
    assert h100.peak_flops() == h100.peak_flops("bf16")


def test_unknown_dtype_lists_the_allowed_ones():
    with pytest.raises(ValueError) as err:
        device("h100-sxm").peak_flops("fp64")
    message = str(err.value)
    assert "fp64" in message
    for dtype in DTYPES:
        assert repr(dtype) in message


def test_dtype_the_device_lacks_names_the_dtypes_it_has():
    with pytest.raises(ValueError) as err:
        device("v100").peak_flops("fp8")
    message = str(err.value)
    assert "v100" in message and "fp8" in message
    assert "fp32" in message and "fp16" in message
    with pytest.raises(ValueError, match="bf16"):
        device("v100").peak_flops("amp-bf16")


# --- lookup -------------------------------------------------------------------------------

def test_unknown_name_suggests_close_matches():
    with pytest.raises(ValueError) as err:
        device("h10")
    assert "h100-sxm" in str(err.value)


def test_non_string_name_is_rejected_clearly():
    with pytest.raises(ValueError, match="device"):
        device(100)


@pytest.mark.parametrize("alias, name", [
    ("H100", "h100-sxm"), ("h100 sxm", "h100-sxm"), ("A100", "a100-80gb"),
    ("4090", "rtx-4090"), ("RTX 4090", "rtx-4090"), ("TPU v4", "tpu-v4"), ("v5e", "tpu-v5e"),
    ("MI300X", "mi300x"), ("NVIDIA H200 SXM 141GB", "h200"), ("tpu_v5p", "tpu-v5p"),
])
def test_aliases(alias, name):
    assert device(alias).name == name


def test_a_device_passes_through_and_is_hashable():
    h100 = device("h100-sxm")
    assert device(h100) is h100
    assert device("H100") is h100  # loaded once
    assert len({h100, device("h100-sxm"), device("a100")}) == 2


# --- custom devices -----------------------------------------------------------------------

def test_custom_device_works_like_a_catalogue_one():
    mine = Device.custom("my-gpu", {"bf16": 400e12, "fp32": 50e12}, memory_bytes=48e9,
                         bandwidth_bytes_per_s=1e12, tdp_watts=300)
    assert device(mine) is mine
    assert mine.peak_flops("amp-bf16") == 400e12
    assert mine.ridge_point("bf16") == pytest.approx(400)
    assert mine.flops_per_watt("fp32") == pytest.approx(50e12 / 300)
    assert mine.dtypes == ("bf16", "fp32")
    with pytest.raises(ValueError, match="bf16, fp32"):
        mine.peak_flops("fp8")


def test_custom_device_may_list_int4():
    mine = Device.custom("npu", {"int8": 100e12, "int4": 200e12}, 8e9, 100e9)
    assert mine.peak_flops("int4") == 200e12


@pytest.mark.parametrize("kwargs, word", [
    (dict(peak_flops_by_dtype={}), "peak"),
    (dict(peak_flops_by_dtype={"fp64": 1e12}), "fp64"),
    (dict(peak_flops_by_dtype={"bf16": -1.0}), "bf16"),
    (dict(memory_bytes=0), "memory_bytes"),
    (dict(bandwidth_bytes_per_s=float("nan")), "bandwidth_bytes_per_s"),
    (dict(tdp_watts=-5), "tdp_watts"),
    (dict(kind="fpga"), "kind"),
])
def test_custom_device_rejects_bad_values(kwargs, word):
    args = dict(name="bad", peak_flops_by_dtype={"bf16": 1e12}, memory_bytes=1e9,
                bandwidth_bytes_per_s=1e9)
    args.update(kwargs)
    with pytest.raises(ValueError, match=word):
        Device.custom(**args)


# --- validation on load -------------------------------------------------------------------

def _good_row(**changes):
    row = dict(catalogue_rows()[devices().index("h100-sxm")])
    row.update(changes)
    return row


def test_loader_accepts_a_good_row():
    assert _devices_from_rows([_good_row()])["h100-sxm"].peak_flops() == pytest.approx(989.4e12)


@pytest.mark.parametrize("changes, column", [
    (dict(memory_bandwidth_gbps="-3350"), "memory_bandwidth_gbps"),
    (dict(memory_gib="lots"), "memory_gib"),
    (dict(source=" "), "source"),
    (dict(kind="gpgpu"), "kind"),
    (dict(name="H100 SXM"), "name"),
    (dict(fp32_tflops="", tf32_tflops="", bf16_tflops="", fp16_tflops="", fp8_tflops="",
          int8_tops=""), "peak"),
])
def test_loader_names_the_row_and_column_of_a_bad_cell(changes, column):
    with pytest.raises(ValueError) as err:
        _devices_from_rows([_good_row(**changes)], where="test.csv")
    message = str(err.value)
    assert "test.csv line 2" in message
    assert column in message


def test_loader_rejects_a_missing_column_and_a_duplicate_name():
    row = _good_row()
    del row["source"]
    with pytest.raises(ValueError, match="missing column.*source"):
        _devices_from_rows([row])
    with pytest.raises(ValueError, match="line 3.*twice"):
        _devices_from_rows([_good_row(), _good_row()])


# --- import cost --------------------------------------------------------------------------

def test_importing_hardware_does_not_import_torch_or_numpy():
    # Load bigcompute.hardware on its own (a bare package, __init__ not run), so the check is
    # about this module, whatever the package's __init__ imports.
    src = Path(hardware.__file__).parent
    code = f"""
import importlib.machinery, sys, types
pkg = types.ModuleType("bigcompute")
pkg.__path__ = [{str(src)!r}]
pkg.__spec__ = importlib.machinery.ModuleSpec("bigcompute", None, is_package=True)
sys.modules["bigcompute"] = pkg
import bigcompute.hardware as h
h.device("h100-sxm")
print("torch" in sys.modules, "numpy" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("peak, word", [
    ("abc", "peak="), (None, "peak="), ({"bf16": "fast"}, "peak\\['bf16'\\]"),
    ({"bf16": float("inf")}, "peak\\['bf16'\\]"),
])
def test_a_device_refuses_a_peak_that_is_not_a_dict_of_numbers(peak, word):
    h100 = device("h100-sxm")
    fields = {f: getattr(h100, f) for f in h100.__dataclass_fields__}
    with pytest.raises(ValueError, match=word):
        Device(**{**fields, "peak": peak})


@pytest.mark.parametrize("peaks", [None, 3, "bf16", {"bf16": None}])
def test_custom_device_names_its_peak_argument(peaks):
    with pytest.raises(ValueError, match="peak_flops_by_dtype"):
        Device.custom("bad", peaks, 1e9, 1e9)
