"""Published training runs, reproduced from their published inputs.

Each run in ``data/published_runs.yaml`` names a recipe (``method``); the recipes below compute
its outputs with the library's functions from the run's inputs. Chapters and the validation
appendix show `reproductions()`; the tests check every error is within the run's tolerance.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import yaml

from . import counts, energy, hardware, memory, scaling, timing
from .errors import check_choice, check_name, fail, unknown_name

# The recipes (pf_days_6nd ... zero_memory) are reached through METHODS by a run's "method":
# their input is a run's validated "inputs", so they are not public on their own.
__all__ = ["runs", "METHODS", "Reproduction", "run", "reproduce", "reproductions"]


RUN_FIELDS = frozenset({"id", "method", "inputs", "outputs", "citation", "tolerance"})


@functools.cache
def _load() -> tuple:
    text = resources.files("bigcompute").joinpath("data/published_runs.yaml").read_text("utf-8")
    return tuple(yaml.safe_load(text)["runs"])


def runs() -> list[dict]:
    """The published runs of data/published_runs.yaml: inputs, outputs, citation."""
    return list(_load())


# ---------------------------------------------------------------- recipes, one per method

def _training_flops(x):
    if "total_flops" in x:
        return x["total_flops"]
    # 6ND scaled to the run's FLOPs per parameter per token (Megatron's 8 with recomputation)
    return counts.flops_6nd(x["params"], x["tokens"]) * x["flops_per_param_per_token"] / 6


def _utilisation(x):
    """Achieved FLOP/s per device over the device's catalogue peak for the run's dtype."""
    return x["achieved_flops_per_device"] / hardware.device(x["device"]).peak_flops(x["dtype"])


def pf_days_6nd(x):
    active = x["params"] * x.get("active_fraction", 1.0)
    flops = counts.flops_6nd(active, x["tokens"])
    return {"train_compute": energy.pf_days(flops), "train_flops": flops}


def training_days(x):
    seconds = timing.training_time(_training_flops(x), x["device"], x["n_devices"],
                                   mfu=_utilisation(x), dtype=x["dtype"])
    return {"days": seconds / timing.SECONDS_PER_DAY}


def mfu(x):
    if "achieved_flops_per_device" in x:
        # the paper prints the model FLOP/s each device achieved, not a throughput in tokens
        return {"mfu": _utilisation(x)}
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


def training_cost(x):
    """Rented compute: device-hours x price per device-hour, in all and for each stage."""
    stages = x.get("stage_device_hours", {})
    hours = x["device_hours"] if "device_hours" in x else sum(stages.values())
    price = x["price_per_device_hour"]
    out = {"device_hours": hours, "cost_dollars": energy.cost_dollars(hours, price)}
    out.update({f"cost_dollars_{stage}": energy.cost_dollars(h, price)
                for stage, h in stages.items()})
    return out


def chinchilla_optimal(x):
    params, tokens = scaling.chinchilla_optimal(x["compute_flops"])
    return {"params": params, "tokens": tokens}


def zero_memory(x):
    return {f"stage{stage}_gb": memory.zero_memory_per_device(
        x["params"], x["dp"], stage, optimizer_bytes_per_param=x["optimizer_bytes_per_param"]
    ) / 1e9 for stage in range(4)}


METHODS = {f.__name__: f for f in (pf_days_6nd, training_days, mfu, hfu, energy_co2,
                                   training_cost, chinchilla_optimal, zero_memory)}




@dataclass(frozen=True)
class Reproduction:
    run_id: str
    output: str
    unit: str
    published: float
    computed: float
    tolerance: float
    citation: str

    @property
    def error(self) -> float:
        """Relative error of the computed value against the published one."""
        return self.computed / self.published - 1


def run(run_id: str) -> dict:
    """The published run ``run_id`` of data/published_runs.yaml (ValueError with close
    matches if unknown)."""
    check_name("run_id", run_id)
    by_id = {r["id"]: r for r in _load()}
    if run_id not in by_id:
        raise unknown_name("published run", run_id, by_id)
    return by_id[run_id]


def reproduce(run_or_id) -> list[Reproduction]:
    """Every published output of one run (an id, or a run dict of `runs`) beside the
    library's value."""
    if isinstance(run_or_id, str):
        check_name("run_or_id", run_or_id)
        r = run(run_or_id)
    elif isinstance(run_or_id, dict) and RUN_FIELDS <= set(run_or_id):
        r = run_or_id
        check_choice("method", r["method"], tuple(METHODS))
    else:
        fail("run_or_id", run_or_id, "a published run id such as 'patterson-gpt3-days', or "
             f"a run dict of published.runs() (with {', '.join(sorted(RUN_FIELDS))})")
    computed = METHODS[r["method"]](r["inputs"])
    cite = f"{r['citation']['paper']}, {r['citation']['where']}"
    return [Reproduction(r["id"], o["name"], o["unit"], o["value"], computed[o["name"]],
                         r["tolerance"], cite) for o in r["outputs"]]


def reproductions() -> list[Reproduction]:
    """All published runs, reproduced."""
    return [rep for r in _load() for rep in reproduce(r)]
