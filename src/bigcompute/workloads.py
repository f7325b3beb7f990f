"""Compute profiles of representative workloads: parameters, FLOPs per prediction, training
compute, and the device time, energy and money of serving them.

The workloads live in ``data/workloads.yaml``: what one prediction is, which catalogue model
runs it, how it was trained, and the cited figures of models the library cannot build (a DETR
detector, AlphaFold 2). Everything else comes from the library:

- parameters and forward FLOPs per prediction: `counts.param_count`, `counts.flops` (equal to
  the torch module and FlopCounterMode);
- training FLOPs: `counts.flops(..., "train")` per token or example, times the tokens or
  examples the paper reports;
- serving time on a device: the roofline (`timing.roofline_time`) for one forward pass per
  prediction, or prefill plus decode (`timing.generation_time`) for generated text, at a batch
  size and a compute efficiency that you choose;
- energy at the device's TDP (`energy.energy_kwh`) and money at a price per device-hour that
  you choose or take from `reference_figures`.

Pure Python: no torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources

import yaml

from . import catalog, counts, energy, hardware, timing, units
from .errors import (check_choice, check_fraction, check_name, check_non_negative,
                     check_positive_int, fail, unknown_name)
from .memory import inference_memory
from .precision import COMPUTE_DTYPES, bytes_per_element
from .trends import notable_models

__all__ = ["DOMAINS", "SERVING_KINDS", "TRAINING_KINDS", "Workload", "WorkloadProfile",
           "workloads", "workload", "param_count", "forward_flops", "training_flops",
           "serving_seconds", "profile", "profiles"]

DOMAINS = ("language", "vision", "speech", "science")
SERVING_KINDS = ("encode", "generate", "published_flops", "published_time")
TRAINING_KINDS = ("tokens", "examples", "three_forward", "notable")
FLOPS_PER_MAC = 2  # one multiply-add is two floating-point operations
TRAIN_OVER_FORWARD = 3  # forward + backward (twice the forward) for models we cannot build
SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class Workload:
    """One entry of ``workloads.yaml`` (see its header for the fields)."""

    key: str
    title: str
    domain: str
    prediction: str
    model: str | None
    serving: dict = field(hash=False)
    training: dict = field(hash=False)
    published: dict = field(default_factory=dict, hash=False)
    assumptions: str = ""
    notes: str = ""

    @property
    def config(self):
        """The catalogue config (None for a cited-only workload)."""
        if self.model is None:
            return None
        return catalog.model(self.model)

    @property
    def seq(self) -> int | None:
        """The sequence length of one prediction, as `counts.flops` and
        `nets.example_inputs` take it: tokens for an encoder, prompt + new tokens for a
        generator (decoder tokens for an encoder-decoder), None for an image."""
        s = self.serving
        if s["kind"] == "generate":
            return s["prompt_tokens"] + s["new_tokens"]
        return s.get("seq")


@dataclass(frozen=True)
class WorkloadProfile:
    """A workload on one device. Times are device-seconds; None where the inputs give none
    (no published parameter count, no price, no TDP)."""

    key: str
    title: str
    domain: str
    params: float | None
    forward_flops: float
    forward_flops_how: str
    training_flops: float
    training_flops_how: str
    device: str
    batch: int
    dtype: str
    mfu: float
    seconds_per_prediction: float
    serving_how: str
    bound: str
    price_per_device_hour: float | None
    cost_per_1000: float | None
    energy_wh_per_prediction: float | None

    @property
    def device_hours_per_1000(self) -> float:
        return self.seconds_per_prediction * 1000 / SECONDS_PER_HOUR

    @property
    def predictions_per_device_hour(self) -> float:
        return SECONDS_PER_HOUR / self.seconds_per_prediction

    def as_dict(self) -> dict:
        return {**asdict(self), "device_hours_per_1000": self.device_hours_per_1000}


# ---------------------------------------------------------------- the catalogue of workloads

def workloads() -> list[str]:
    """Workload keys, in file order (language, vision, speech, science)."""
    return list(_load())


def workload(key: str | Workload) -> Workload:
    """A workload by key; ValueError listing close matches if unknown."""
    if isinstance(key, Workload):
        return key
    check_name("key", key)
    table = _load()
    if key not in table:
        raise unknown_name("workload", key, table)
    return table[key]


# ---------------------------------------------------------------- the profile, piece by piece

def param_count(key) -> float | None:
    """Parameters: the library's exact count for a catalogue model, the published count
    otherwise (None when none is published, as for AlphaFold 2)."""
    w = workload(key)
    if w.config is not None:
        return counts.param_count(w.config)
    return w.published.get("params")


def forward_flops(key) -> tuple[float, str]:
    """FLOPs of one prediction's forward pass, and how they were obtained.

    Catalogue models: `counts.flops` at the prediction's sequence (for generated text, one
    pass over prompt and reply, which is what a KV-cached generation computes, up to the
    masked half of attention). Cited detectors: 2 x the published multiply-adds. AlphaFold 2:
    an upper bound, the published V100 time x the V100's 16-bit peak."""
    w = workload(key)
    if w.config is not None:
        return float(counts.flops(w.config, 1, w.seq)), "library (= FlopCounterMode)"
    pub = w.published
    if "forward_macs" in pub:
        return FLOPS_PER_MAC * pub["forward_macs"], "published multiply-adds x 2"
    dev = hardware.device(pub["measured_device"])
    bound = pub["measured_seconds_per_prediction"] * dev.peak_flops("fp16")
    return bound, f"upper bound: published {dev.name} time x its fp16 peak"


def training_flops(key) -> tuple[float, str]:
    """Training FLOPs of the published training run, and how they were obtained."""
    w = workload(key)
    t = w.training
    kind = t["kind"]
    if kind == "tokens":
        tokens = t["tokens"]
        if tokens == "catalogue":
            tokens = catalog.model_info(w.model)["training_tokens"]
        per_token = counts.flops(w.config, 1, t["seq"], "train") / t["seq"]
        return per_token * tokens, f"library train FLOPs per token x {tokens:.3g} tokens"
    if kind == "examples":
        per_example = counts.flops(w.config, 1, t.get("seq"), "train")
        return per_example * t["examples"], (f"library train FLOPs per example x "
                                             f"{t['examples']:.3g} examples")
    if kind == "three_forward":
        forward, _ = forward_flops(w)
        return (TRAIN_OVER_FORWARD * forward * t["examples"],
                f"3 x forward x {t['examples']:.3g} examples")
    row = next((r for r in notable_models() if r.name == t["name"]), None)
    if row is None or row.training_flops is None:
        fail("training.name", t["name"], "a row of notable_models.csv with training FLOPs")
    return row.training_flops, f"notable-models estimate ({row.flops_source.split(':')[0]})"


def serving_seconds(key, device="h100-sxm", batch: int = 32, dtype: str = "bf16",
                    mfu: float = 0.5) -> tuple[float, str, str]:
    """Device-seconds per prediction, and what bounds them.

    Returns (seconds, bound, how). ``batch`` predictions run together; ``mfu`` is the
    fraction of the dtype's peak a forward pass reaches (the library's prefill default is
    0.5). Encoders: the roofline of one batched forward pass (FLOPs vs the weights read once).
    Generators: `timing.generation_time` (prefill, then one decode step per new token).
    Published times are used as published, and only on the device they were measured on.
    A generator's weights and KV cache must fit in the device's memory (ValueError if not)."""
    w = workload(key)
    dev = _check_serving(device, batch, dtype, mfu)
    kind = w.serving["kind"]
    if kind == "published_time":
        measured = w.published["measured_device"]
        if dev.name != measured:
            fail("device", dev.name, f"{measured!r} ({w.key} has a published time on a {measured} "
                 "only, and no FLOPs to run through the roofline)")
        return (w.published["measured_seconds_per_prediction"], "measured",
                f"published {measured} time, one prediction at a time")
    if kind == "generate":
        s = w.serving
        need = inference_memory(w.config, batch, s["prompt_tokens"] + s["new_tokens"], dtype)
        if need.total > dev.memory_bytes:
            fail("batch", batch, f"a batch whose weights and KV cache fit on one {dev.name}: "
                 f"{units.format_bytes(need.total)} needed, "
                 f"{units.format_bytes(dev.memory_bytes)} there")
        seconds = timing.generation_time(w.config, dev, batch, s["prompt_tokens"],
                                         s["new_tokens"], dtype, mfu=mfu)
        decode = timing.decode_step_roofline(w.config, dev, batch,
                                             s["prompt_tokens"] + s["new_tokens"] // 2, dtype)
        return (seconds / batch, f"{decode.bound} (decode)",
                f"prefill {s['prompt_tokens']} + decode {s['new_tokens']} tokens, batch {batch}")
    flops, _ = forward_flops(w)
    weights = param_count(w) * bytes_per_element(dtype)
    r = timing.roofline_time(flops * batch, weights, dev, dtype, compute_efficiency=mfu)
    return r.seconds / batch, r.bound, f"roofline of one forward pass, batch {batch}"


def _check_serving(device, batch, dtype, mfu, price_per_device_hour=None):
    """The serving arguments checked (the same way by `serving_seconds`, `profile` and
    `profiles`); returns the `hardware.Device`."""
    dev = hardware.device(device)
    check_positive_int("batch", batch)
    check_choice("dtype", dtype, COMPUTE_DTYPES)
    check_fraction("mfu", mfu)
    if price_per_device_hour is not None:
        check_non_negative("price_per_device_hour", price_per_device_hour)
    return dev


def profile(key, device="h100-sxm", batch: int = 32, dtype: str = "bf16", mfu: float = 0.5,
            price_per_device_hour: float | None = None) -> WorkloadProfile:
    """The whole profile of a workload on a device: see the module docstring.

    ``price_per_device_hour`` in dollars (None: no money figure). Energy counts the device's
    TDP for its busy time (an upper bound on the device alone: no host, no cooling)."""
    w = workload(key)
    dev = _check_serving(device, batch, dtype, mfu, price_per_device_hour)
    seconds, bound, how = serving_seconds(w, dev, batch, dtype, mfu)
    cost = None
    if price_per_device_hour is not None:
        cost = energy.cost_dollars(seconds * 1000 / SECONDS_PER_HOUR, price_per_device_hour)
    wh = None
    if dev.tdp_watts is not None:
        wh = energy.energy_kwh(seconds / SECONDS_PER_HOUR, dev.tdp_watts) * 1000
    fwd, fwd_how = forward_flops(w)
    train, train_how = training_flops(w)
    return WorkloadProfile(w.key, w.title, w.domain, param_count(w), fwd, fwd_how, train,
                           train_how, dev.name, batch, dtype, mfu, seconds, how, bound,
                           price_per_device_hour, cost, wh)


def profiles(device="h100-sxm", batch: int = 32, dtype: str = "bf16", mfu: float = 0.5,
             price_per_device_hour: float | None = None) -> dict[str, WorkloadProfile | str]:
    """`profile` of every workload; a workload that cannot run on ``device`` maps to the
    message saying why (AlphaFold 2 has a published V100 time only)."""
    device = _check_serving(device, batch, dtype, mfu, price_per_device_hour)
    out: dict[str, WorkloadProfile | str] = {}
    for key in workloads():
        try:
            out[key] = profile(key, device, batch, dtype, mfu, price_per_device_hour)
        except ValueError as exc:
            out[key] = str(exc)
    return out


# ---------------------------------------------------------------- loading and validation

_REQUIRED = ("title", "domain", "prediction", "model", "serving", "training")
_KNOWN = set(_REQUIRED) | {"published", "assumptions", "notes"}


def parse(data) -> dict[str, Workload]:
    """Validate the parsed YAML (kept apart from file access so tests can feed it bad data)."""
    if not isinstance(data, dict) or not isinstance(data.get("workloads"), dict):
        raise ValueError("workloads.yaml: expected a top-level 'workloads:' mapping")
    out = {}
    for key, raw in data["workloads"].items():
        where = f"workloads.yaml entry {key!r}"
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: expected a mapping")
        missing = [f for f in _REQUIRED if f not in raw]
        extra = sorted(set(raw) - _KNOWN)
        if missing or extra:
            raise ValueError(f"{where}: missing {missing} / unknown {extra}")
        try:
            check_choice("domain", raw["domain"], DOMAINS)
            check_choice("serving.kind", raw["serving"].get("kind"), SERVING_KINDS)
            check_choice("training.kind", raw["training"].get("kind"), TRAINING_KINDS)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        published = raw.get("published") or {}
        cited_only = raw["serving"]["kind"].startswith("published")
        if (raw["model"] is None) != cited_only:
            raise ValueError(f"{where}: a null model needs a published serving kind, and "
                             "a catalogue model a library one")
        if raw["model"] is not None and raw["model"] not in catalog.models():
            raise ValueError(f"{where}: model {raw['model']!r} is not in models.yaml")
        if published and not (isinstance(published.get("source"), dict)
                              and str(published["source"].get("url", "")).startswith("https://")):
            raise ValueError(f"{where}: published figures need a source with an https url")
        for name, value in {**raw["serving"], **raw["training"], **published}.items():
            if name in ("kind", "tokens", "what", "source", "name", "measured_device",
                        "training_device"):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{where}: {name}={value!r} is not a positive number")
        out[str(key)] = Workload(
            str(key), str(raw["title"]), raw["domain"], " ".join(str(raw["prediction"]).split()),
            raw["model"], dict(raw["serving"]), dict(raw["training"]), dict(published),
            " ".join(str(raw.get("assumptions") or "").split()),
            " ".join(str(raw.get("notes") or "").split()))
    return out


@lru_cache(maxsize=1)
def _load() -> dict[str, Workload]:
    text = resources.files("bigcompute").joinpath("data/workloads.yaml").read_text("utf-8")
    return parse(yaml.safe_load(text))
