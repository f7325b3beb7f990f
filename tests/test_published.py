"""Published training runs, reproduced from their published inputs by the library.

Each run in ``bigcompute/data/published_runs.yaml`` names a recipe (``method``); the recipes in
``bigcompute.published`` compute its outputs with library functions only, from the YAML's
inputs. No published output is typed into this file.
"""

from __future__ import annotations

import importlib
import math

import pytest

from bigcompute import hardware
from bigcompute.published import METHODS, pf_days_6nd, reproduce, reproductions, runs

REQUIRED_KEYS = {"id", "description", "method", "functions", "inputs", "outputs", "tolerance",
                 "citation"}
CITATION_KEYS = {"paper", "where", "url"}
RUNS = runs()


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
        elif key == "stage_device_hours":
            assert value and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                 for v in value.values())
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
    failures = [f"{r.output}: computed {r.computed:.4g} {r.unit}, published {r.published:.4g}, "
                f"error {r.error:+.1%} > {r.tolerance:.0%}"
                for r in reproduce(run)
                if not (math.isfinite(r.error) and abs(r.error) <= r.tolerance)]
    assert not failures, f"{run['id']}: " + "; ".join(failures)


def test_reproduction_errors_table():
    """Print every run's relative error (``pytest -s`` shows the table)."""
    rows = [(f"{r.run_id} {r.output}", r.error, r.tolerance) for r in reproductions()]
    width = max(len(label) for label, _, _ in rows) + 2
    print()
    for label, error, tolerance in rows:
        print(f"  {label:<{width}} {error:+7.2%}  (tolerance {tolerance:.0%})")
    assert all(abs(error) <= tolerance for _, error, tolerance in rows)


def test_a_wrong_price_is_caught():
    """The cost check can fail: DeepSeek-V3's GPU-hours at $1.5 instead of $2 miss Table 1."""
    run = next(r for r in RUNS if r["method"] == "training_cost")
    price = run["inputs"]["price_per_device_hour"]
    wrong = dict(run["inputs"], price_per_device_hour=price * 0.75)
    value = METHODS["training_cost"](wrong)["cost_dollars"]
    published = next(o["value"] for o in run["outputs"] if o["name"] == "cost_dollars")
    assert abs(value / published - 1) > run["tolerance"]


def test_a_wrong_input_is_caught():
    """The check can fail: GPT-3 with half its parameters misses Table D.1 by 50%."""
    run = next(r for r in RUNS if r["id"] == "gpt3-175b-train-compute")
    wrong = dict(run["inputs"], params=run["inputs"]["params"] / 2)
    value = pf_days_6nd(wrong)["train_compute"]
    assert abs(value / run["outputs"][0]["value"] - 1) > run["tolerance"]


@pytest.mark.parametrize("bad", [None, 3, "", {"id": "x"}])
def test_reproduce_names_a_bad_run(bad):
    with pytest.raises(ValueError, match="run_or_id"):
        reproduce(bad)
