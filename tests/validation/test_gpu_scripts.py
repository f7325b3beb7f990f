"""The GPU benchmark scripts (benchmarks/gpu/) run here on the CPU at tiny sizes, and the
loader and comparisons of `bigcompute.validation.gpu` work on what they write.

No GPU is needed: `--device cpu --quick` is the scripts' smoke-test mode. The three scripts
run at the same time, in their own processes, once for the whole module.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from bigcompute import counts, memory
from bigcompute.tables import Column, markdown_table
from bigcompute.validation import gpu as gm

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "benchmarks" / "gpu"
NAMES = ("matmul_roofline", "training_steps", "decode")
TIMEOUT_S = 120


def _script(name, *args):
    return [sys.executable, str(SCRIPTS / f"{name}.py"), "--device", "cpu", "--quick", *args]


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-quick")
    procs = {name: subprocess.Popen(_script(name, "--out", str(out)), stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, cwd=REPO)
             for name in NAMES}
    failures = []
    for name, proc in procs.items():
        try:
            output, _ = proc.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            failures.append(f"{name} timed out after {TIMEOUT_S} s:\n{output}")
            continue
        if proc.returncode:
            failures.append(f"{name} exited {proc.returncode}:\n{output}")
    assert not failures, "\n\n".join(failures)
    return out


@pytest.fixture(scope="module")
def runs(out_dir):
    return {run["name"]: run for run in gm.load(directory=out_dir)}


@pytest.fixture(scope="module")
def cpu_device(runs):
    """The CPU as a Device with the peaks its own quick roofline run achieved."""
    return gm.measured_device(runs["matmul_roofline"])


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


# ---------------------------------------------------------------- the files and their schema

def test_each_script_writes_one_json_named_after_it_and_the_device(out_dir):
    assert sorted(p.name for p in out_dir.glob("*.json")) == sorted(
        f"{name}_cpu.json" for name in NAMES)
    assert not list(out_dir.glob("*.tmp"))


def test_every_run_records_device_versions_date_and_is_complete(runs):
    for run in runs.values():
        env = run["environment"]
        assert run["complete"] and run["quick"] and run["schema_version"] == gm.SCHEMA_VERSION
        assert env["device"] == "cpu" and env["device_slug"] == "cpu" and env["device_name"]
        assert env["torch_version"] and env["cuda_version"] is None
        assert env["date"].endswith("+00:00") and env["command"][0].endswith(".py")
        assert run["results"] and all(r["status"] == "ok" for r in run["results"])


def test_roofline_run_measures_square_skinny_and_copy(runs):
    results = runs["matmul_roofline"]["results"]
    kinds = {r["kind"] for r in results}
    assert kinds == {"square", "skinny", "copy"}
    assert {r["dtype"] for r in results if r["kind"] == "square"} == {"bf16", "fp32"}
    for r in results:
        assert r["seconds"] > 0 and r["min_seconds"] <= r["seconds"]
        if r["kind"] != "copy":
            assert r["flops"] == 2 * r["m"] * r["n"] * r["k"]
        else:
            assert r["bytes_moved"] == 2 * r["copy_bytes"]


def test_training_run_covers_every_precision_attention_and_recompute(runs):
    results = runs["training_steps"]["results"]
    grid = {(r["precision"], r["attention"], r["recompute"]) for r in results}
    assert grid == {(p, a, rc) for p in ("fp32", "amp-bf16", "bf16")
                    for a in ("naive", "flash") for rc in (None, "full")}
    for r in results:
        assert r["step_seconds"] > 0 and r["tokens_per_s"] > 0 and _finite(r["loss"])
        assert r["optimizer"].startswith("AdamW")
        assert r["peak_allocated_bytes"] is None  # a CPU has no allocator statistics
        assert r["mfu"] is None  # and no catalogue peak


def test_measured_weights_are_4_or_2_bytes_per_counted_parameter(runs):
    for r in runs["training_steps"]["results"]:
        n = counts.param_count(gm._config(r))
        assert r["n_params"] == n
        assert r["param_bytes"] == n * (2 if r["precision"] == "bf16" else 4)


# ---------------------------------------------------------------- predicted vs measured

def test_roofline_comparison_has_a_finite_prediction_and_error_for_every_row(runs, cpu_device):
    rows = gm.compare_roofline(runs["matmul_roofline"], device=cpu_device)
    assert len(rows) == len(runs["matmul_roofline"]["results"])
    for row in rows:
        assert _finite(row["predicted_seconds"]) and row["predicted_seconds"] > 0
        assert _finite(row["relative_error"]) and row["bound"] in ("compute", "memory")
    # the fastest square matmul defines the measured peak, so it sits on the roof
    assert min(abs(r["relative_error"]) for r in rows if r["kind"] == "square") < 1e-9


def test_comparisons_need_a_device_when_the_run_has_no_catalogue_entry(runs):
    with pytest.raises(ValueError, match="measured_device"):
        gm.compare_roofline(runs["matmul_roofline"])
    with pytest.raises(ValueError, match="no hardware-catalogue device"):
        gm.compare_decode(runs["decode"])


def test_adamw_states_measured_match_the_predicted_model_states(runs):
    """Weights + grads + AdamW moments: 16 B/param in fp32 and amp-bf16, 8 in pure bf16
    (torch's fused AdamW adds a 4-byte step counter per tensor: well under 1%)."""
    rows = gm.compare_training_memory(runs["training_steps"])
    assert len(rows) == 12
    for row in rows:
        assert abs(row["states_error"]) < 0.01, row


def test_saved_activations_match_the_prediction_without_autocast(runs):
    """fp32 and pure bf16: the bytes autograd saves equal the activation model. (Under
    autocast the measurement also holds bf16 copies of the weights: see the amp rows.)"""
    rows = gm.compare_training_memory(runs["training_steps"])
    for row in rows:
        assert _finite(row["predicted_total_bytes"]) and _finite(row["activation_error"])
        assert _finite(row["predicted_peak_bytes"])
        if row["precision"] != "amp-bf16":
            assert abs(row["activation_error"]) < 0.01, row


def test_decode_comparison_predicts_every_batch_and_the_cache_exactly(runs, cpu_device):
    rows = gm.compare_decode(runs["decode"], device=cpu_device)
    assert [r["batch"] for r in rows] == [1, 4]
    for row in rows:
        for key in ("predicted_step_seconds", "step_error", "predicted_prefill_seconds",
                    "prefill_error"):
            assert _finite(row[key]), key
        assert row["kv_cache_error"] == 0  # the KVCache torch allocated is the formula's size


def test_out_of_memory_rows_say_whether_the_prediction_fits(runs):
    run = json.loads(json.dumps(runs["training_steps"]))
    run["environment"]["memory_bytes"] = 1_000_000  # a 1 MB device: nothing fits
    run["results"][0].update(status="oom", step_seconds=None, peak_allocated_bytes=None)
    row = gm.compare_training_memory(run)[0]
    assert row["status"] == "oom" and row["measured_states_bytes"] is None
    assert row["peak_error"] is None and row["predicted_fits"] is False
    predicted = memory.training_memory(gm._config(run["results"][0]), 2, 64, precision="fp32",
                                       attention="naive")
    assert row["predicted_total_bytes"] == predicted.total
    assert row["predicted_peak_bytes"] == predicted.peak


def test_worst_and_the_library_table_summarise_rows(runs, cpu_device):
    rows = gm.compare_decode(runs["decode"], device=cpu_device)
    worst = gm.worst(rows, "step_error")
    assert abs(worst["step_error"]) == max(abs(r["step_error"]) for r in rows)
    table = markdown_table(rows, [Column(k) for k in ("model", "batch",
                                                      "measured_kv_cache_bytes")])
    assert table.splitlines()[0] == "| model | batch | measured_kv_cache_bytes |"
    assert "| tiny-gpt | 4 | 49,152 |" in table


# ---------------------------------------------------------------- loading and guarding

def test_load_says_how_to_measure_when_nothing_is_recorded(tmp_path):
    with pytest.raises(gm.NoMeasurementsError, match="run_all.py on a GPU"):
        gm.load(directory=tmp_path)
    assert gm.load(directory=tmp_path, missing_ok=True) == []
    assert not gm.available(directory=tmp_path)


def test_load_names_the_file_and_field_of_a_broken_record(tmp_path, out_dir):
    run = json.loads((out_dir / "decode_cpu.json").read_text())
    del run["results"][0]["kv_cache_bytes"]
    (tmp_path / "decode_x.json").write_text(json.dumps(run))
    with pytest.raises(ValueError, match=r"decode_x.json: results\[0\] lacks kv_cache_bytes"):
        gm.load(directory=tmp_path)


def test_recorded_package_measurements_if_any_are_valid_gpu_runs():
    runs = gm.load(missing_ok=True)
    for run in runs:
        assert not run["quick"] and run["environment"]["device"] == "cuda", run["path"]


@pytest.fixture(scope="module")
def control_runs(out_dir, tmp_path_factory):
    """Three more runs at once: decode resumed over a finished file, training with no time
    budget, and a quick run aimed at the package's measurements folder."""
    resumed = tmp_path_factory.mktemp("resume")
    old = json.loads((out_dir / "decode_cpu.json").read_text())
    (resumed / "decode_cpu.json").write_text(json.dumps(old))
    commands = {"resume": _script("decode", "--out", str(resumed), "--resume"),
                "budget": _script("training_steps", "--out", str(resumed), "--budget-s", "0"),
                "refuse": _script("decode", "--out", str(gm.MEASUREMENTS_DIR))}
    procs = {k: subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, cwd=REPO) for k, cmd in commands.items()}
    done = {}
    for k, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
        done[k] = (proc.returncode, stdout, stderr)
    return done, old, resumed


def test_resume_skips_what_the_file_already_holds(control_runs):
    done, old, folder = control_runs
    assert done["resume"][0] == 0, done["resume"]
    new = json.loads((folder / "decode_cpu.json").read_text())
    assert new["results"] == old["results"] and new["complete"]  # nothing measured again
    assert new["environment"]["earlier_dates"] == [old["environment"]["date"]]


def test_a_spent_budget_stops_the_run_marks_it_incomplete_and_exits_3(control_runs):
    done, _, folder = control_runs
    assert done["budget"][0] == 3, done["budget"]
    stopped = json.loads((folder / "training_steps_cpu.json").read_text())
    assert stopped["complete"] is False and stopped["results"] == []


def test_a_quick_run_refuses_to_write_into_the_package_measurements(control_runs):
    rc, _, stderr = control_runs[0]["refuse"]
    assert rc != 0 and "refusing" in stderr
    assert not list(gm.MEASUREMENTS_DIR.glob("*_cpu.json"))


def test_loading_and_comparing_never_import_torch(out_dir):
    code = ("import sys; from bigcompute.validation import gpu as gm; "
            f"runs = gm.load(directory={str(out_dir)!r}); "
            "dev = gm.measured_device(gm.load('matmul_roofline', "
            f"directory={str(out_dir)!r})[0]); "
            "gm.compare_roofline(runs, dev); gm.compare_decode(runs, dev); "
            "gm.compare_training_memory(runs); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=TIMEOUT_S, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("cuda_name, key", [
    ("NVIDIA H100 80GB HBM3", "h100-sxm"),
    ("NVIDIA H100 PCIe", "h100-pcie"),
    ("NVIDIA H100 NVL", None),
    ("NVIDIA H100 80GB HBM3 MIG 1g.10gb", None),
    ("NVIDIA H200", "h200"),
    ("NVIDIA A100-SXM4-80GB", "a100-80gb"),
    ("NVIDIA A100 80GB PCIe", None),
    ("Tesla V100-SXM2-32GB", "v100"),
    ("Tesla T4", "t4"),
    ("NVIDIA GeForce RTX 4090", "rtx-4090"),
])
def test_cuda_device_names_map_to_the_hardware_catalogue(cuda_name, key):
    assert gm.catalogue_device_for(cuda_name) == key
    assert gm.device_slug(cuda_name) == gm.device_slug(cuda_name).lower()


def test_the_memory_history_summary_finds_the_peak_and_what_was_alive():
    """A synthetic allocator history: 4 MB (the logits), 2 MB, free the 2 MB, 8 MB (the
    log-softmax), free all: the peak is 12 MB, reached at the fifth event, with the
    log-softmax and the logits alive."""
    def alloc(addr, size, name):
        return {"action": "alloc", "addr": addr, "size": size,
                "frames": [{"filename": "/x/model.py", "line": 7, "name": name}]}

    def free(addr):
        return {"action": "free_requested", "addr": addr}

    trace = [alloc(1, 4_000_000, "logits"), alloc(2, 2_000_000, "tmp"), free(2),
             {"action": "segment_alloc", "addr": 9, "size": 20_000_000},
             alloc(3, 8_000_000, "log_softmax"), free(3), free(1)]
    summary = gm.memory_history_summary({"device_traces": [trace]}, top=2)
    assert summary["peak_bytes"] == 12_000_000 and summary["events_to_peak"] == 5
    assert [b["where"] for b in summary["largest_at_peak"]] == ["model.py:7 log_softmax",
                                                                "model.py:7 logits"]
