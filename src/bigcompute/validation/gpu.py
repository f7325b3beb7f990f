"""Measurements from a real GPU, and the library's predictions beside them.

The scripts in ``benchmarks/gpu/`` (run on a GPU: ``python benchmarks/gpu/run_all.py``) write
one JSON file per script and device into ``data/measurements/``:

    matmul_roofline_<device>.json   matmul throughput by size and dtype, skinny matmuls, copies
    training_steps_<device>.json    GPT training steps: peak memory, step time, tokens/s, MFU
    decode_<device>.json            KV-cache decoding: prefill time, time per generated token

This module reads them (`load`) and puts each measured configuration beside what the library
predicts for exactly that configuration (`compare_roofline`, `compare_training_memory`,
`compare_decode`), with the relative error

    relative_error = (predicted - measured) / measured

(positive: the library over-predicts). Pure Python: no torch, so the chapters can show the
tables on any machine, and CI never needs a GPU.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from pathlib import Path

from .. import hardware, kv_cache, memory, timing
from ..configs import TransformerConfig
from ..hardware import Device

__all__ = [
    "MEASUREMENTS_DIR", "NAMES", "SCHEMA_VERSION", "NoMeasurementsError",
    "catalogue_device_for", "device_slug", "available", "load", "validate_run",
    "relative_error", "measured_device", "compare_roofline", "compare_training_memory",
    "memory_history_summary", "compare_decode", "worst",
]

MEASUREMENTS_DIR = Path(__file__).parents[1] / "data" / "measurements"
NAMES = ("matmul_roofline", "training_steps", "decode")
SCHEMA_VERSION = 1
HOW_TO_MEASURE = "run benchmarks/gpu/run_all.py on a GPU (see benchmarks/gpu/README.md)"

# Fields every run and every result of each kind must have (more are allowed).
_RUN_FIELDS = ("schema_version", "name", "complete", "quick", "environment", "settings",
               "results")
_ENVIRONMENT_FIELDS = ("device", "device_name", "device_slug", "catalogue_device",
                       "memory_bytes", "torch_version", "cuda_version", "date")
_RESULT_FIELDS = {
    "matmul_roofline": ("kind", "dtype", "m", "n", "k", "flops", "bytes_moved", "status",
                        "seconds"),
    "training_steps": ("model", "config", "batch", "seq", "precision", "attention",
                       "recompute", "optimizer", "status", "step_seconds",
                       "peak_allocated_bytes", "param_bytes", "grad_bytes",
                       "optimizer_state_bytes", "saved_activation_bytes", "mfu"),
    "decode": ("model", "config", "dtype", "attention", "batch", "prompt_len", "new_tokens",
               "status", "prefill_seconds", "decode_step_seconds_mean", "kv_cache_bytes"),
}
STATUSES = ("ok", "oom", "error", "skipped")


class NoMeasurementsError(LookupError):
    """No GPU measurements have been recorded (yet)."""


# ---------------------------------------------------------------- device names

# torch.cuda.get_device_name() -> hardware catalogue key. Only exact parts: an H100 NVL or an
# A100 PCIe has other bandwidth and power than the catalogue's SXM rows, so it maps to None
# (and its timings are compared only against a device you pass in).
_CUDA_NAMES = (
    (r"h100 80gb hbm3", "h100-sxm"),  # SXM5 carries HBM3; the PCIe card HBM2e
    (r"h100 (80gb )?pcie", "h100-pcie"),
    (r"h200( 141gb)?( hbm3e)?$", "h200"),
    (r"b200", "b200"),
    (r"a100[- ]sxm4?[- ]80gb", "a100-80gb"),
    (r"a100[- ]sxm4?[- ]40gb", "a100-40gb"),
    (r"v100[- ]sxm2[- ]32gb", "v100"),
    (r"^(tesla )?t4$", "t4"),
    (r"^l4$", "l4"),
    (r"geforce rtx 4090$", "rtx-4090"),
)


def catalogue_device_for(cuda_name: str | None) -> str | None:
    """The hardware-catalogue key of a CUDA device name, or None when it is not catalogued.

        >>> catalogue_device_for("NVIDIA H100 80GB HBM3")
        'h100-sxm'

    A MIG slice ("... MIG 1g.10gb") is a fraction of the card: None.
    """
    if not cuda_name:
        return None
    name = " ".join(cuda_name.lower().replace("nvidia", "").split())
    if "mig" in name.split():
        return None
    for pattern, key in _CUDA_NAMES:
        if re.search(pattern, name):
            return key
    return None


def device_slug(device_name: str) -> str:
    """A file-name-safe form of a device name: "NVIDIA H100 80GB HBM3" -> "nvidia-h100-80gb-hbm3"."""
    slug = re.sub(r"[^a-z0-9]+", "-", device_name.lower()).strip("-")
    return slug or "unknown"


# ---------------------------------------------------------------- loading

def _files(directory) -> list[Path]:
    directory = Path(directory) if directory is not None else MEASUREMENTS_DIR
    return sorted(directory.glob("*.json")) if directory.is_dir() else []


def available(name: str | None = None, directory=None) -> bool:
    """True when at least one measurement file (of ``name``, if given) is recorded."""
    return bool(load(name, directory, missing_ok=True))


def load(name: str | None = None, directory=None, missing_ok: bool = False) -> list[dict]:
    """The recorded runs (one dict per JSON file), validated; ``name`` keeps one kind
    ("matmul_roofline", "training_steps" or "decode"). Each run gains a "path".

    With none recorded this raises `NoMeasurementsError`, or returns [] if ``missing_ok``.
    ``directory`` defaults to the package's ``data/measurements/``.
    """
    if name is not None and name not in NAMES:
        raise ValueError(f"name={name!r} is not allowed: expected one of "
                         + ", ".join(repr(n) for n in NAMES))
    runs = []
    for path in _files(directory):
        try:
            run = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON ({e})") from None
        validate_run(run, where=str(path))
        if name is None or run["name"] == name:
            run["path"] = str(path)
            runs.append(run)
    if not runs and not missing_ok:
        what = f"no {name} measurements" if name else "no GPU measurements"
        where = Path(directory) if directory is not None else MEASUREMENTS_DIR
        raise NoMeasurementsError(f"{what} recorded yet in {where}; {HOW_TO_MEASURE}")
    return runs


def validate_run(run, where: str = "run") -> None:
    """Check a run's structure; errors name the file and the field."""
    if not isinstance(run, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(run).__name__}")
    missing = [f for f in _RUN_FIELDS if f not in run]
    if missing:
        raise ValueError(f"{where}: missing field(s) {', '.join(missing)}")
    if run["schema_version"] != SCHEMA_VERSION:
        raise ValueError(f"{where}: schema_version {run['schema_version']!r}, this library "
                         f"reads {SCHEMA_VERSION}")
    if run["name"] not in NAMES:
        raise ValueError(f"{where}: name {run['name']!r} is not one of {', '.join(NAMES)}")
    env = run["environment"]
    missing = [f for f in _ENVIRONMENT_FIELDS if f not in env]
    if missing:
        raise ValueError(f"{where}: environment lacks {', '.join(missing)}")
    if not isinstance(run["results"], list):
        raise ValueError(f"{where}: results must be a list")
    for i, result in enumerate(run["results"]):
        missing = [f for f in _RESULT_FIELDS[run["name"]] if f not in result]
        if missing:
            raise ValueError(f"{where}: results[{i}] lacks {', '.join(missing)}")
        if result["status"] not in STATUSES:
            raise ValueError(f"{where}: results[{i}] status {result['status']!r} is not one "
                             f"of {', '.join(STATUSES)}")


def _runs(runs, name: str) -> list[dict]:
    """Accept one run or a list of runs; keep those of kind ``name``."""
    if isinstance(runs, dict):
        runs = [runs]
    return [r for r in runs if r.get("name") == name]


# ---------------------------------------------------------------- comparing

def relative_error(predicted: float | None, measured: float | None) -> float | None:
    """(predicted - measured) / measured; None when either is missing or measured is 0."""
    if predicted is None or measured is None or not measured:
        return None
    return (predicted - measured) / measured


def _device_for(run, device):
    """The Device the predictions use: ``device`` if given, else the run's catalogue device."""
    if device is not None:
        return hardware.device(device)
    key = run["environment"].get("catalogue_device")
    if key is None:
        raise ValueError(
            f"the run on {run['environment'].get('device_name')!r} has no hardware-catalogue "
            "device, so there is no datasheet to predict from: pass device=... (a catalogue "
            "name, a Device, or measured_device(roofline_run) for the achieved peaks)")
    return hardware.device(key)


def _base(run) -> dict:
    env = run["environment"]
    return {"device_name": env["device_name"], "catalogue_device": env["catalogue_device"]}


def measured_device(roofline_run: dict, name: str | None = None):
    """A `hardware.Device` whose peaks are what the roofline run achieved: the fastest square
    matmul of each dtype, and the fastest copy larger than the L2 cache (all copies if the
    cache size is unknown). Predictions with it isolate the model's error from the gap between
    datasheet and reality."""
    run = _runs(roofline_run, "matmul_roofline")
    if not run:
        raise ValueError("measured_device needs a matmul_roofline run")
    run = run[0]
    env = run["environment"]
    ok = [r for r in run["results"] if r["status"] == "ok" and r["seconds"]]
    peaks: dict[str, float] = {}
    for r in ok:
        if r["kind"] == "square":
            peaks[r["dtype"]] = max(peaks.get(r["dtype"], 0.0), r["flops"] / r["seconds"])
    copies = [r for r in ok if r["kind"] == "copy"]
    l2 = env.get("l2_cache_bytes")
    big = [r for r in copies if l2 and r["bytes_moved"] / 2 > 2 * l2] or copies
    if not peaks or not big:
        raise ValueError(f"{run.get('path', 'run')}: needs square matmuls and copies that ran")
    bandwidth = max(r["bytes_moved"] / r["seconds"] for r in big)
    return Device.custom(name or f"{env['device_slug']}-measured", peaks,
                         memory_bytes=env["memory_bytes"] or 1.0,
                         bandwidth_bytes_per_s=bandwidth,
                         full_name=f"{env['device_name']} (achieved peaks)",
                         kind="cpu" if env["device"] == "cpu" else "gpu",
                         source=f"measured: {run.get('path', 'matmul_roofline run')}")


def compare_roofline(runs, device=None) -> list[dict]:
    """Each measured matmul and copy beside `timing.roofline_time` on the device's datasheet
    (or ``device``): predicted seconds, which roof binds, the relative error, and the achieved
    fraction of the binding roof (achieved FLOP/s / peak, or bytes/s / bandwidth)."""
    rows = []
    for run in _runs(runs, "matmul_roofline"):
        dev = _device_for(run, device)
        for r in run["results"]:
            row = {**_base(run), **{k: r.get(k) for k in ("kind", "dtype", "m", "n", "k",
                                                          "copy_bytes", "flops", "bytes_moved",
                                                          "status")}}
            row["measured_seconds"] = r["seconds"] if r["status"] == "ok" else None
            dtype = r["dtype"] or next(iter(dev.peak))  # a copy does no FLOPs: any peak
            pred = timing.roofline_time(r["flops"], r["bytes_moved"], dev, dtype)
            row.update(predicted_seconds=pred.seconds, bound=pred.bound,
                       arithmetic_intensity=pred.arithmetic_intensity,
                       relative_error=relative_error(pred.seconds, row["measured_seconds"]))
            row["fraction_of_roof"] = (pred.seconds / row["measured_seconds"]
                                       if row["measured_seconds"] else None)
            rows.append(row)
    return rows


def _config(result):
    return TransformerConfig(**result["config"])


def compare_training_memory(runs) -> list[dict]:
    """Each measured training step beside `memory.training_memory` with the same precision,
    attention and recomputation (AdamW):

    - peak: predicted ``.peak`` (the step's timeline, `memory.step_timeline`, with the
      AdamW kernel the run used) vs the measured ``max_memory_allocated`` (absent on CPU);
      ``.total`` beside it, the resident sum the book printed before it modelled the peak;
    - model states: predicted weights + grads + optimizer vs the bytes of parameters, gradients
      and optimizer states measured after a step;
    - activations: predicted activations + logits vs the bytes autograd saved in one forward
      pass (``measure.saved_activation_bytes``).

    A configuration that ran out of memory has no measurement; its row says whether the
    prediction also exceeds the device's memory (``predicted_fits``)."""
    rows = []
    for run in _runs(runs, "training_steps"):
        capacity = run["environment"].get("memory_bytes")
        for r in run["results"]:
            cfg = _config(r)
            kernel = "fused" if "fused" in r.get("optimizer", "fused") else "foreach"
            pred = memory.training_memory(cfg, r["batch"], r["seq"], precision=r["precision"],
                                          optimizer="adamw", attention=r["attention"],
                                          recompute=r["recompute"], optimizer_kernel=kernel)
            ok = r["status"] == "ok"
            states = ((r["param_bytes"] or 0) + (r["grad_bytes"] or 0)
                      + (r["optimizer_state_bytes"] or 0)) if ok and r["param_bytes"] else None
            peak = r["peak_allocated_bytes"] if ok else None
            saved = r["saved_activation_bytes"] if ok else None
            acts = pred.activations + pred.logits
            rows.append({
                **_base(run),
                **{k: r[k] for k in ("model", "batch", "seq", "precision", "attention",
                                     "recompute", "status")},
                "predicted_peak_bytes": pred.peak,
                "predicted_peak_phase": pred.peak_phase,
                "measured_peak_bytes": peak,
                "peak_error": relative_error(pred.peak, peak),
                "predicted_total_bytes": pred.total,
                "total_error": relative_error(pred.total, peak),
                "predicted_states_bytes": pred.model_states,
                "measured_states_bytes": states,
                "states_error": relative_error(pred.model_states, states),
                "predicted_activation_bytes": acts,
                "measured_saved_bytes": saved,
                "activation_error": relative_error(acts, saved),
                "capacity_bytes": capacity,
                "predicted_fits": (pred.peak <= capacity) if capacity else None,
                "step_seconds": r["step_seconds"] if ok else None,
                "tokens_per_s": r.get("tokens_per_s") if ok else None,
                "mfu": r["mfu"] if ok else None,
            })
    return rows


def memory_history_summary(snapshot: dict, top: int = 5) -> dict:
    """What the CUDA caching allocator's history (``torch.cuda.memory._snapshot()`` after
    ``_record_memory_history``) says about a step's peak: the bytes allocated at the
    highest point (each ``alloc`` adds its size, each ``free_requested`` removes it), how
    many events led there, and the ``top`` largest blocks alive at that moment with the
    innermost Python frame that allocated each (the logits, the log-softmax, a layer's
    activations...), to set beside `memory.step_timeline`'s walk."""
    live: dict[int, tuple[int, str]] = {}
    held = peak = peak_at = 0
    largest: list[tuple[int, str]] = []
    events = [e for trace in snapshot.get("device_traces", []) for e in trace]
    for k, event in enumerate(events):
        if event.get("action") == "alloc":
            frames = [f for f in event.get("frames", [])
                      if f.get("filename", "").endswith(".py")]
            where = (f"{frames[0]['filename'].rsplit('/', 1)[-1]}:{frames[0]['line']} "
                     f"{frames[0]['name']}") if frames else "?"
            live[event["addr"]] = (event["size"], where)
            held += event["size"]
        elif event.get("action") == "free_requested" and event.get("addr") in live:
            held -= live.pop(event["addr"])[0]
        if held > peak:
            peak, peak_at = held, k + 1
            largest = sorted(live.values(), reverse=True)[:top]
    return {"events": len(events), "events_to_peak": peak_at, "peak_bytes": peak,
            "largest_at_peak": [{"bytes": size, "where": where} for size, where in largest]}


def compare_decode(runs, device=None, bandwidth_efficiency: float = 1.0,
                   prefill_mfu: float = 0.5) -> list[dict]:
    """Each measured decoding run beside the library's prediction on the device's datasheet
    (or ``device``):

    - per generated token: the mean of `timing.decode_time_per_token` over the contexts the
      steps saw (prompt_len, ..., prompt_len + new_tokens - 1) vs the measured mean step time;
    - prefill: `timing.prefill_time` at ``prefill_mfu`` vs the measured prefill;
    - KV cache: `kv_cache.kv_cache_bytes` vs the bytes of the cache the loop allocated."""
    rows = []
    for run in _runs(runs, "decode"):
        dev = _device_for(run, device)
        for r in run["results"]:
            cfg = _config(r)
            ok = r["status"] == "ok"
            contexts = range(r["prompt_len"], r["prompt_len"] + r["new_tokens"])
            step = statistics.fmean(
                timing.decode_time_per_token(cfg, dev, r["batch"], c, r["dtype"],
                                             bandwidth_efficiency=bandwidth_efficiency)
                for c in contexts)
            prefill = timing.prefill_time(cfg, dev, r["batch"], r["prompt_len"], r["dtype"],
                                          mfu=prefill_mfu)
            kv = kv_cache.kv_cache_bytes(cfg, r["batch"], r["prompt_len"] + r["new_tokens"],
                                       r["dtype"])
            measured_step = r["decode_step_seconds_mean"] if ok else None
            measured_prefill = r["prefill_seconds"] if ok else None
            measured_kv = r["kv_cache_bytes"] if ok else None
            rows.append({
                **_base(run),
                **{k: r[k] for k in ("model", "dtype", "attention", "batch", "prompt_len",
                                     "new_tokens", "status")},
                "predicted_step_seconds": step,
                "measured_step_seconds": measured_step,
                "step_error": relative_error(step, measured_step),
                "predicted_tokens_per_s": r["batch"] / step,
                "measured_tokens_per_s": r["batch"] / measured_step if measured_step else None,
                "predicted_prefill_seconds": prefill,
                "measured_prefill_seconds": measured_prefill,
                "prefill_error": relative_error(prefill, measured_prefill),
                "predicted_kv_cache_bytes": kv,
                "measured_kv_cache_bytes": measured_kv,
                "kv_cache_error": relative_error(kv, measured_kv),
            })
    return rows


# ---------------------------------------------------------------- summaries

def worst(rows: list[dict], error_key: str = "relative_error") -> dict | None:
    """The row whose ``error_key`` is largest in magnitude (None if no row has one)."""
    scored = [r for r in rows if r.get(error_key) is not None and math.isfinite(r[error_key])]
    return max(scored, key=lambda r: abs(r[error_key])) if scored else None


