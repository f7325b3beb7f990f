"""One report for a training run: FLOPs, time, device-hours, energy, CO2 and money."""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

from . import energy, kv_cache, memory, scaling, timing
from .catalog import model as get_model
from .catalog import model_info
from .configs import (
    AttentionConfig,
    CNNConfig,
    LSTMConfig,
    MLPConfig,
    ResNetConfig,
    TransformerConfig,
)
from .counts import active_param_count, check_seq, flops, flops_6nd, param_count
from .errors import (
    check_at_least,
    check_fraction,
    check_non_negative,
    check_positive,
    check_positive_int,
    fail,
)
from .hardware import device as get_device
from .units import format_count, format_dollars, format_flops, format_seconds


@dataclass(frozen=True)
class TrainingEstimate:
    """Inputs and results of `estimate_training`; money and CO2 are None without a price or a
    grid intensity."""

    n_params: float
    tokens: float
    device: str
    n_devices: int
    mfu: float
    flops: float
    flops_method: str
    seconds: float
    device_hours: float
    power_watts: float
    pue: float
    energy_kwh: float
    co2_tonnes: float | None
    cost_dollars: float | None

    @property
    def days(self) -> float:
        return self.seconds / 86400

    @property
    def pf_days(self) -> float:
        return energy.pf_days(self.flops)

    def as_dict(self) -> dict:
        return {**asdict(self), "days": self.days, "pf_days": self.pf_days}

    def __str__(self) -> str:
        lines = [
            f"model        {format_count(self.n_params)} parameters, "
            f"{format_count(self.tokens)} tokens",
            f"compute      {format_flops(self.flops)} ({self.flops_method}), "
            f"{self.pf_days:,.0f} PF-days",
            f"hardware     {self.n_devices} x {self.device} at MFU {self.mfu:.0%}",
            f"time         {format_seconds(self.seconds)}",
            f"device-hours {self.device_hours:,.0f}",
            f"energy       {self.energy_kwh / 1000:,.1f} MWh "
            f"({self.power_watts:.0f} W/device, PUE {self.pue})",
        ]
        if self.co2_tonnes is not None:
            lines.append(f"CO2          {self.co2_tonnes:,.1f} t")
        if self.cost_dollars is not None:
            lines.append(f"cost         {format_dollars(self.cost_dollars)}")
        return "\n".join(lines)


def estimate_training(cfg_or_params, tokens: float, device, n_devices: int = 1,
                      mfu: float = 0.4, *, dtype: str = "bf16", seq: int | None = None,
                      power_watts: float | None = None, pue: float = 1.0,
                      grid_kg_per_kwh: float | None = None,
                      price_per_device_hour: float | None = None) -> TrainingEstimate:
    """Estimate a training run of ``tokens`` tokens.

    ``cfg_or_params``: a config or catalogue name (exact training FLOPs per token at ``seq``,
    default the model's context) or a parameter count (6ND). ``mfu`` is the fraction of the
    device's dense ``dtype`` peak the run achieves — an input you must choose (0.3-0.5 is
    typical of large runs), shown in the report. Power defaults to the device's TDP."""
    check_positive("tokens", tokens)
    check_positive_int("n_devices", n_devices)
    check_fraction("mfu", mfu)
    if power_watts is not None:
        check_positive("power_watts", power_watts)
    check_at_least("pue", pue, 1)
    for name, value in (("grid_kg_per_kwh", grid_kg_per_kwh),
                        ("price_per_device_hour", price_per_device_hour)):
        if value is not None:
            check_non_negative(name, value)
    dev = get_device(device)
    model = get_model(cfg_or_params)
    if isinstance(model, numbers.Real) and not isinstance(model, bool):
        check_positive("cfg_or_params", model)
        if seq is not None:
            fail("seq", seq, f"None with cfg_or_params={model!r}, a parameter count (6ND "
                             "does not depend on the sequence)")
        n_params, total, method = float(model), flops_6nd(model, tokens), "6ND"
    elif isinstance(model, (TransformerConfig, MLPConfig, CNNConfig, LSTMConfig, ResNetConfig,
                            AttentionConfig)):
        seq = check_seq(model, seq)
        n_params = param_count(model)
        total = flops(model, 1, seq, "train") / seq * tokens
        method = f"exact matmul FLOPs at {seq}-token sequences"
    else:
        fail("cfg_or_params", cfg_or_params,
             "a parameter count, a model config or a catalogue model name")
    if not math.isfinite(total):
        fail("tokens", tokens, f"fewer: {tokens:.3g} tokens of this model overflow the FLOP "
                               "count")
    seconds = timing.training_time(total, dev, n_devices, mfu, dtype)
    hours = energy.device_hours(seconds, n_devices)
    if power_watts is None:
        if dev.tdp_watts is None:
            raise ValueError(f"device {dev.name!r} has no published TDP: pass power_watts")
        power_watts = dev.tdp_watts
    kwh = energy.energy_kwh(hours, power_watts, pue)
    co2 = energy.co2_tonnes(kwh, grid_kg_per_kwh) if grid_kg_per_kwh is not None else None
    cost = (energy.cost_dollars(hours, price_per_device_hour)
            if price_per_device_hour is not None else None)
    return TrainingEstimate(n_params, float(tokens), dev.name, n_devices, mfu, total, method,
                            seconds, hours, power_watts, pue, kwh, co2, cost)



# ---------------------------------------------------------------- one model on one device

# The FAQ's training recipe (mixed-precision AdamW, flash attention) and its quantized
# serving formats; the KV cache stays 16-bit.
FAQ_TRAINING_KWARGS = {"precision": "mixed-bf16", "optimizer": "adamw", "attention": "flash"}
FAQ_QUANTIZED_DTYPES = ("int8", "int4")


@dataclass(frozen=True)
class ServingFit:
    """Serving at batch 1 with one weight format: `kv_cache.inference_memory`, whether it
    fits the device, and decoding speed (None where the device lists no peak for it)."""

    memory: kv_cache.InferenceMemory
    fits: bool
    tokens_per_s: float | None


@dataclass(frozen=True)
class ModelOnDevice:
    """The FAQ's questions asked of one model and one device (see `model_on_device`)."""

    cfg: TransformerConfig
    device: object               # a hardware.Device
    params: int
    active_params: int
    seq: int
    train_one_device: memory.TrainingMemory
    train_zero3: tuple | None    # (dp, TrainingMemory) from memory.fewest_zero3_devices
    tokens: float
    tokens_note: str
    train: TrainingEstimate
    serving: dict                # weight dtype -> ServingFit, 16-bit first
    half_dtype: str


def model_on_device(model: str, device, n_devices: int, mfu: float, seq: int) -> ModelOnDevice:
    """The FAQ's questions asked of one model and one device, answered by the library:
    parameters; training memory on one device (`FAQ_TRAINING_KWARGS`, micro-batch 1) and the
    fewest ZeRO-3 devices that fit it; training time (and energy at the TDP, where published)
    for the model's published tokens (or Chinchilla's 20 per parameter when unpublished) on
    ``n_devices`` at ``mfu``; and for serving, weights + KV cache at ``seq`` tokens and the
    batch-1 decode speed with 16-bit (`Device.sixteen_bit_dtype`), int8 and int4 weights."""
    if not isinstance(model, (str, TransformerConfig)):
        fail("model", model, "a catalogue model name or a TransformerConfig")
    cfg = get_model(model)
    if not isinstance(cfg, TransformerConfig):
        fail("model", model, "a transformer (the FAQ's questions are about transformers)")
    dev = get_device(device)
    check_positive_int("n_devices", n_devices)
    check_fraction("mfu", mfu)
    if seq is not None:  # the FAQ serves within the context, whatever the positions
        check_positive_int("seq", seq)
        if seq > cfg.max_seq_len:
            fail("seq", seq, f"a sequence no longer than {cfg.name}'s context of "
                             f"{cfg.max_seq_len:,} tokens")
    seq = check_seq(cfg, seq)
    n = param_count(cfg)
    one = memory.training_memory(cfg, 1, seq, **FAQ_TRAINING_KWARGS)
    sharded = memory.fewest_zero3_devices(cfg, dev, seq, **FAQ_TRAINING_KWARGS)
    tokens = model_info(cfg.name)["training_tokens"] if isinstance(model, str) else None
    tokens_note = "published"
    if not tokens:
        tokens = scaling.CHINCHILLA_TOKENS_PER_PARAM * n
        tokens_note = f"{scaling.CHINCHILLA_TOKENS_PER_PARAM:g} per parameter (Chinchilla)"
    half = dev.sixteen_bit_dtype
    # Time does not depend on the power; a device without a published TDP (TPU v5e/v5p,
    # Apple) gets a placeholder and its energy is not reported.
    train = estimate_training(cfg, tokens, dev, n_devices, mfu, dtype=half, seq=seq,
                              power_watts=dev.tdp_watts or 1.0)
    serving = {}
    for dtype in (half, *FAQ_QUANTIZED_DTYPES):
        mem = kv_cache.inference_memory(cfg, 1, seq, dtype=dtype, kv_dtype=half)
        fits = kv_cache.max_decode_batch(cfg, dev, seq, dtype, half) >= 1
        tokens_per_s = None  # when it does not fit, or the device lists no peak for dtype
        if fits and dev.has_peak(dtype):
            tokens_per_s = 1 / timing.decode_time_per_token(cfg, dev, 1, seq, dtype,
                                                            kv_dtype=half)
        serving[dtype] = ServingFit(mem, fits, tokens_per_s)
    return ModelOnDevice(cfg, dev, n, active_param_count(cfg), seq, one, sharded, tokens,
                         tokens_note, train, serving, half)


__all__ = ["TrainingEstimate", "estimate_training", "FAQ_TRAINING_KWARGS",
           "FAQ_QUANTIZED_DTYPES", "ServingFit", "ModelOnDevice", "model_on_device"]
