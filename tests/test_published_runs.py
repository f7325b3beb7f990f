"""Published training runs, reproduced from their published inputs by the library.

Each run in ``bigcompute/data/published_runs.yaml`` names a recipe (``method``); the recipes
below compute its outputs with library functions only, from the YAML's inputs. No published
output is typed into this file.
"""

from __future__ import annotations

import importlib
import math
from importlib import resources

import pytest
import yaml

from bigcompute import counts, energy, hardware, memory, scaling, timing

REQUIRED_KEYS = {"id", "description", "method", "functions", "inputs", "outputs", "tolerance",
                 "citation"}
CITATION_KEYS = {"paper", "where", "url"}


def load_runs() -> list[dict]:
    text = resources.files("bigcompute").joinpath("data/published_runs.yaml").read_text("utf-8")
    return yaml.safe_load(text)["runs"]


RUNS = load_runs()


# ---------------------------------------------------------------- recipes, one per method

def _training_flops(x):
    if "total_flops" in x:
        return x["total_flops"]
    # 6ND scaled to the run's FLOPs per parameter per token (Megatron's 8 with recomputation)
    return counts.flops_6nd(x["params"], x["tokens"]) * x["flops_per_param_per_token"] / 6


def pf_days_6nd(x):
    active = x["params"] * x.get("active_fraction", 1.0)
    return {"train_compute": energy.pf_days(counts.flops_6nd(active, x["tokens"]))}


def training_days(x):
    dev = hardware.device(x["device"])
    utilisation = x["achieved_flops_per_device"] / dev.peak_flops(x["dtype"])
    seconds = timing.training_time(_training_flops(x), dev, x["n_devices"], mfu=utilisation,
                                   dtype=x["dtype"])
    return {"days": seconds / timing.SECONDS_PER_DAY}


def mfu(x):
    args = (x["device"], x["n_devices"], x["dtype"])
    out = {"mfu_no_attention": timing.mfu(x["tokens_per_s"], counts.flops_6nd(x["params"], 1),
                                          *args)}
    if "n_layers" in x:
        per_token = counts.flops_palm(x["params"], x["n_layers"], x["n_heads"], x["head_dim"],
                                      x["seq_len"], 1)
        out["mfu"] = timing.mfu(x["tokens_per_s"], per_token, *args)
    return out


def hfu(x):
    return {"hfu": timing.hfu(x["tokens_per_s"], x["hardware_flops_per_token"], x["device"],
                              x["n_devices"], x["dtype"])}


def energy_co2(x):
    if "device_hours" in x:
        hours = x["device_hours"]
    else:
        hours = sum(energy.device_hours(s.get("hours", 0) * 3600 + s.get("days", 0) * 86400,
                                        s["n_devices"]) for s in x["segments"])
    kwh = energy.energy_kwh(hours, x["power_watts"], x["pue"])
    return {"energy_kwh": kwh, "energy_mwh": kwh / 1000,
            "co2_tonnes": energy.co2_tonnes(kwh, x["grid_kg_per_kwh"])}


def chinchilla_optimal(x):
    params, tokens = scaling.chinchilla_optimal(x["compute_flops"])
    return {"params": params, "tokens": tokens}


def zero_memory(x):
    return {f"stage{stage}_gb": memory.zero_memory_per_device(
        x["params"], x["dp"], stage, optimizer_bytes_per_param=x["optimizer_bytes_per_param"]
    ) / 1e9 for stage in range(4)}


METHODS = {f.__name__: f for f in (pf_days_6nd, training_days, mfu, hfu, energy_co2,
                                   chinchilla_optimal, zero_memory)}


# ---------------------------------------------------------------- the file itself

def test_there_are_at_least_14_published_runs_with_unique_ids():
    ids = [run["id"] for run in RUNS]
    assert len(ids) >= 14
    assert len(set(ids)) == len(ids), "duplicate run ids"


@pytest.mark.parametrize("run", RUNS, ids=lambda r: r["id"])
def test_run_entry_is_complete_and_cites_its_source(run):
    assert REQUIRED_KEYS <= set(run), f"missing keys {REQUIRED_KEYS - set(run)}"
    assert CITATION_KEYS <= set(run["citation"])
    assert run["citation"]["url"].startswith("https://")
    assert run["method"] in METHODS, f"unknown method {run['method']!r}"
    assert 0 < run["tolerance"] <= 0.10
    if run["tolerance"] > 0.05:
        # a looser tolerance must say why in the description
        assert any(w in run["description"] for w in ("round", "approximate", "%"))
    for key, value in run["inputs"].items():
        if key in ("device", "dtype"):
            assert isinstance(value, str)
        elif key == "segments":
            assert all(isinstance(v, (int, float)) for s in value for v in s.values())
        else:
            assert isinstance(value, (int, float)) and not isinstance(value, bool), (
                f"input {key}={value!r} did not load as a number (write 1.0e+9, not 1e9)")
    for output in run["outputs"]:
        assert {"name", "value", "unit", "quoted"} <= set(output)
        assert isinstance(output["value"], (int, float)) and output["value"] > 0


@pytest.mark.parametrize("run", RUNS, ids=lambda r: r["id"])
def test_run_names_real_library_functions(run):
    for dotted in run["functions"]:
        module, _, name = dotted.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name)), dotted


@pytest.mark.parametrize("run", [r for r in RUNS if "peak_flops_per_device" in r["inputs"]],
                         ids=lambda r: r["id"])
def test_catalogue_peak_matches_the_peak_the_paper_used(run):
    x = run["inputs"]
    peak = hardware.device(x["device"]).peak_flops(x["dtype"])
    assert peak == pytest.approx(x["peak_flops_per_device"], rel=0.01)


# ---------------------------------------------------------------- the reproductions

@pytest.mark.parametrize("run", RUNS, ids=lambda r: r["id"])
def test_published_run_is_reproduced(run):
    computed = METHODS[run["method"]](run["inputs"])
    failures = []
    for output in run["outputs"]:
        name, published = output["name"], output["value"]
        assert name in computed, f"{run['id']}: method {run['method']} gives no {name!r}"
        value = computed[name]
        error = (value - published) / published
        if not (math.isfinite(error) and abs(error) <= run["tolerance"]):
            failures.append(f"{name}: computed {value:.4g} {output['unit']}, published "
                            f"{published:.4g} ({output['quoted']}), error {error:+.1%} > "
                            f"{run['tolerance']:.0%}")
    assert not failures, f"{run['id']}: " + "; ".join(failures)


def test_reproduction_errors_table():
    """Print every run's relative error (``pytest -s`` shows the table)."""
    rows = []
    for run in RUNS:
        computed = METHODS[run["method"]](run["inputs"])
        for output in run["outputs"]:
            error = computed[output["name"]] / output["value"] - 1
            rows.append((f"{run['id']} {output['name']}", error, run["tolerance"]))
    width = max(len(label) for label, _, _ in rows) + 2
    print()
    for label, error, tolerance in rows:
        print(f"  {label:<{width}} {error:+7.2%}  (tolerance {tolerance:.0%})")
    assert all(abs(error) <= tolerance for _, error, tolerance in rows)


def test_a_wrong_input_is_caught():
    """The check can fail: GPT-3 with half its parameters misses Table D.1 by 50%."""
    run = next(r for r in RUNS if r["id"] == "gpt3-175b-train-compute")
    wrong = dict(run["inputs"], params=run["inputs"]["params"] / 2)
    value = pf_days_6nd(wrong)["train_compute"]
    assert abs(value / run["outputs"][0]["value"] - 1) > run["tolerance"]
