"""Every bad input refused clearly: each public function of the estimates, and each config
class, is called with one argument at a time replaced by a bad value (zero, negative, NaN,
infinite, huge, the wrong type, a bool for a number, an empty or misspelled name). Each call
must either raise ValueError or TypeError whose message names the parameter (or, for a
catalogue name, says it is unknown), or return a result whose numbers are all finite and
non-negative (the bad value was in fact allowed). The functions are discovered from the
package's ``__all__`` lists, so a new public function is fuzzed too: it needs a valid value
for each parameter (`VALID`, by parameter name) or a reason to be left out (`NOT_FUZZED`)."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import re
import signal

import pytest

import numpy as np

from bigcompute.configs import AttentionConfig, CNNConfig, LSTMConfig, MLPConfig
from bigcompute.tables import Column

# The estimates: every module outside lab/, plots/, widgets/, explorers/, coursework/ and
# validation/ (those are fuzzed through the functions they call), errors (the checks), and
# blocks (the unchecked formulas counts, kv_cache, timing and memory call after their checks).
MODULES = ("configs", "precision", "units", "hardware", "catalog", "counts", "memory",
           "kv_cache", "step_memory", "hf_accounting", "megatron_accounting", "timing", "parallel",
           "planner", "energy", "scaling", "reliability", "estimate", "sweep", "optim_cost",
           "published", "reference_figures", "workloads", "trends", "tables", "hf_config")

# One valid value per parameter name; `PER_FUNCTION` overrides where a function needs another.
VALID = {
    "cfg": "llama2-7b", "cfg_or_params": "llama2-7b", "model": "llama2-7b", "base": "llama2-7b",
    "name": "llama2-7b", "device": "h100-sxm", "dtype": "bf16", "kv_dtype": "bf16",
    "precision": "amp-bf16", "optimizer": "adamw", "attention": "flash",
    "recompute": "selective", "pass_": "train", "batch": 2, "seq": 512, "context": 512,
    "prompt_len": 512, "new_tokens": 16, "tokens": 2e12, "n_params": 7e9, "n_devices": 8,
    "mfu": 0.4, "flops": 1e21, "bytes_moved": 1e9, "n_bytes": 1e9, "tp": 2, "dp": 2, "pp": 2,
    "zero_stage": 1, "stage": 1, "sp": True, "m": 64, "n": 128, "k": 256, "dtype_bytes": 2,
    "compute_efficiency": 0.8, "bandwidth_efficiency": 0.9, "flops_per_token": 4.2e10,
    "hardware_flops_per_token": 5e10, "tokens_per_s": 1000.0, "n_experts": 8, "top_k": 2,
    "bandwidth_bytes_per_s": 1e11, "latency_s": 1e-5, "n_stages": 4, "n_microbatches": 8,
    "interleave": 1, "bytes_per_param": 2, "device_hours": 1000.0, "power_watts": 700.0,
    "pue": 1.2, "grid_kg_per_kwh": 0.4, "energy_kwh": 1000.0, "price_per_device_hour": 2.5,
    "pf_days": 100.0, "seconds": 3600.0, "compute_pf_days": 100.0, "compute_flops": 1e23,
    "tokens_per_param": 20.0, "method": "tokens_per_param", "device_mtbf_hours": 5e4,
    "n_failures": 419.0, "days": 54.0, "hours": 24.0, "state_bytes": 1e12,
    "write_bytes_per_s": 1e10, "checkpoint_seconds": 60.0, "restart_seconds": 600.0,
    "mtbf_seconds": 1e4, "interval_seconds": 1000.0, "work_seconds": 1e5,
    "global_batch": 64, "micro_batch": 1, "node_size": 8, "max_devices": 1024,
    "seq_len": 512, "micro_batch_size": 1, "n_layers": 32, "d_model": 4096, "n_heads": 32,
    "head_dim": 128, "vocab": 32000, "train_flops": 1e15, "activation_bytes": 1e9,
    "optimizer_bytes_per_param": 12, "weight_bytes": 2, "grad_bytes": 2, "experts": 2,
    "n_in": 64, "n_out": 32, "c_in": 3, "c_out": 16, "kernel": 3, "hidden": 32,
    "x": 1e9, "s": 3600.0, "part": 1.0, "total": 4.0, "text": "7B", "key": "llama2-7b",
    "decode_batch": 8, "cross_seq": 0, "binary": True, "short": False, "with_source": True,
    "fmt": "html", "year0": 2018.0, "flops0": 1e20, "year1": 2022.0, "flops1": 1e24,
    "p": 0.975, "df": 10.0, "confidence": 0.95, "n_resamples": 50, "seed": 0,
    "run_id": "patterson-gpt3-days", "run_or_id": "patterson-gpt3-days",
    "sizes": (64, 32, 10), "hidden_size": 64, "peak_flops_by_dtype": {"bf16": 1e15},
    "memory_bytes": 80e9, "image_size": 32, "patch_size": 8, "in_channels": 3, "width": 16,
    "n_classes": 10, "digits": 3, "gap": 2, "kinds": ("published",), "domains": ("language",),
    "years": (2018, 2022), "kernel_size": 3, "stride": 1, "padding": 1, "vocab_size": 1000,
    "max_seq_len": 1024, "n_kv_heads": 8, "d_ff": 11008, "input_size": 10,
    "implementation": "reference", "optimizer_kernel": "fused", "accumulate": False,
    "largest_param": 1e8,
    # a TransformerConfig's recent-decoder fields (PER_FUNCTION makes one config of them)
    "attention_bias": False, "mlp_bias": False, "qk_norm": "head", "norm_placement": "sandwich",
    "parallel_block": False, "sliding_window": 4096, "window_pattern": "LG",
    "d_ff_expert": 1408, "shared_expert_d_ff": 2816, "shared_expert_gate": True,
    "dense_layers": 1, "q_lora_rank": 1536, "kv_lora_rank": 512, "qk_rope_head_dim": 64,
    "v_head_dim": 128, "mla_cache": "latent",
    "config": {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
               "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100,
               "max_position_embeddings": 64},
}
YEAR_FLOPS = [1e20, 4e20, 1.6e21, 6.4e21]  # doubling every year
ARRAY = np.ones(4)
PER_FUNCTION = {
    "counts.resnet_params": {"cfg": "resnet-50"},
    "counts.resnet_forward_flops": {"cfg": "resnet-50"}, "counts.cnn_params": {"cfg": CNNConfig()},
    "counts.lstm_params": {"cfg": LSTMConfig(64, input_size=10, n_outputs=10)},
    "counts.attention_classifier_params": {"cfg": AttentionConfig()},
    "configs.CNNConfig": {"hidden": (32,)}, "configs.LSTMConfig": {"embed_dim": 16},
    # every recent-decoder field at once: a DeepSeek-like mixture of experts with multi-head
    # latent attention (which takes no qk_norm or window: those are fuzzed from None)
    "configs.TransformerConfig": {"n_kv_heads": 32, "head_dim": 192, "positions": "rotary",
                                  "bias": False, "qk_norm": None, "sliding_window": None,
                                  "window_pattern": None},
    "counts.check_seq": {"name": "seq"}, "counts.transformer_matmul_shapes": {"tokens": 2048},
    "counts.flops_megatron": {"recompute": True}, "hardware.device": {"name": "h100-sxm"},
    "counts.simple_flop_terms": {"cfg": MLPConfig((64, 32, 10))},
    "memory.simple_activation_bytes": {"cfg": MLPConfig((64, 32, 10)), "loss": "ce"},
    "trends.fit_doubling_time": {"years": [2016, 2018, 2020, 2022], "flops": YEAR_FLOPS},
    "trends.bootstrap_doubling_time": {"years": [2016, 2018, 2020, 2022],
                                       "flops": YEAR_FLOPS},
    "trends.select": {"domains": ("language",), "years": (2018, 2022)},
    "trends.fit_selection": {"domains": ("language",), "years": (2016, 2024)},
    "trends.six_nd_checks": {"kinds": ("published",)},
    **{f"tables.{name}": {"rows": [{"a": 1, "b": "x"}], "columns": [Column("a"), Column("b")]}
       for name in ("html_table", "text_table", "markdown_table")},
    "tables.key_value_html": {"rows": [("a", "1")]},
    **{f"optim_cost.{name}": {"params": ARRAY, "grads": ARRAY / 10, "m": ARRAY * 0,
                              "v": ARRAY * 0, "velocity": ARRAY * 0, "t": 1, "lr": 1e-3}
       for name in ("adam_step", "adam_step_seed004", "momentum_step", "sgd_step")},

    "units.parse_bytes": {"text": "80GiB"}, "units.parse_flops": {"text": "1e21"},
    "units.format_share": {"part": 1.0, "total": 4.0},
    "reference_figures.figure": {"key": "llama3-gpus"},
    "reference_figures.value": {"key": "llama3-gpus"},
    "reference_figures.price": {"device": "h100-sxm"},
    "reference_figures.prices": {"device": "h100-sxm"},
    "workloads.workload": {"key": "llama2-7b"},
    "estimate.model_on_device": {"seq": 2048, "n_devices": 64},
    "planner.plan_parallelism": {"cfg": "llama2-7b", "n_devices": 16, "global_batch": 64,
                                 "seq": 2048},
    "parallel.dp_communication_volume": {"bytes_per_param": 2},
    "memory.fewest_zero3_devices": {"seq": 2048},
    "hf_accounting.hf_saved_parts": {"precision": "bf16"},
    "step_memory.optimizer_temporary_bytes": {"kernel": "foreach", "state_bytes": 4},
    "reliability.checkpoint_plan": {"n_devices": 16384},
}
# Keyword arguments the fuzz does not replace one by one (their own tests cover them).
NOT_FUZZED_PARAMETERS = {"kwargs", "training_kwargs", "row_style", "caption", "css_class",
                         "others", "value"}
# Functions whose arguments are not numbers and names: their own tests cover them.
NOT_FUZZED = {
    "tables.format_cell",  # formats any value: nothing it takes is bad
    # unchecked on purpose, for callers that checked their inputs (sweep's arrays, timing)
    "counts.unchecked_transformer_params", "counts.unchecked_flop_terms", "kv_cache.cached_kv_bytes",
    # the walk of a step over parts `memory.step_timeline` computed and checked: fuzzed
    # through it
    "step_memory.step_events", "step_memory.transformer_step_timeline",
}
# Results that may be negative by their nature.
SIGNED = {"units.time_unit", "scaling.kaplan_optimal", "optim_cost.adam_step",
          "optim_cost.adam_step_seed004", "optim_cost.momentum_step", "optim_cost.sgd_step",
          "trends.fit_doubling_time", "trends.fit_selection", "tables.model_catalogue_rows"}
# (updated parameters, a fit's intercept, a computed count's difference from the published
# one may all be negative)


def _bad_values(valid):
    """Bad replacements for a valid value, by its kind."""
    if isinstance(valid, bool):
        return ["yes", 2, None]
    if isinstance(valid, int):
        return [0, -1, 2.5, True, float("nan"), "8", None, 10**30]
    if isinstance(valid, float):
        bad = [-1.0, float("nan"), float("inf"), "1e9", True, None]
        return bad + ([1.5, 0.0] if 0 < valid < 1 else [0.0, 1e300])
    if isinstance(valid, str):
        return ["", "no-such-thing", 3, None]
    if isinstance(valid, (list, tuple)):
        return [None, 3, type(valid)(), type(valid)([float("nan")] * len(valid))]
    return [None, 3, "abc"]


def _public_callables():
    found = []
    for module_name in MODULES:
        module = importlib.import_module(f"bigcompute.{module_name}")
        for name in module.__all__:
            obj = getattr(module, name)
            qualified = f"{module_name}.{name}"
            if qualified in NOT_FUZZED:
                continue
            if inspect.isfunction(obj) and obj.__module__ == module.__name__:
                found.append((qualified, obj))
            elif inspect.isclass(obj) and module_name == "configs":
                found.append((qualified, obj))
    found.append(("hardware.Device.custom", importlib.import_module(
        "bigcompute.hardware").Device.custom))
    return found


CALLABLES = _public_callables()


def _valid_arguments(qualified, fn):
    """Valid keyword arguments for every parameter that has no default, and the optional
    ones the fuzz replaces (their defaults are valid)."""
    given, optional = {}, {}
    overrides = PER_FUNCTION.get(qualified, {})
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or p.name in NOT_FUZZED_PARAMETERS:
            continue
        value = overrides.get(p.name, VALID.get(p.name, inspect.Parameter.empty))
        if p.default is p.empty:
            given[p.name] = value
        elif value is not inspect.Parameter.empty:
            optional[p.name] = value
    return given, optional


def _numbers(result, depth=0):
    """Every number in a result (dataclasses, dicts, lists and tuples opened)."""
    if depth > 4:
        return
    if isinstance(result, bool):
        return
    if isinstance(result, (int, float)):
        yield result
    elif dataclasses.is_dataclass(result) and not isinstance(result, type):
        for f in dataclasses.fields(result):
            yield from _numbers(getattr(result, f.name), depth + 1)
    elif isinstance(result, dict):
        for v in result.values():
            yield from _numbers(v, depth + 1)
    elif isinstance(result, (list, tuple)):
        for v in result:
            yield from _numbers(v, depth + 1)


class _TooSlow(Exception):
    pass


def _call(fn, kwargs, seconds=5):
    def alarm(signum, frame):
        raise _TooSlow
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        return fn(**kwargs)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _verdict(qualified, fn, kwargs, name, value):
    """None when the call is refused clearly or returns a sound result; else what went wrong."""
    try:
        result = _call(fn, kwargs)
    except _TooSlow:
        return "ran for more than 5 s"
    except (ValueError, TypeError) as exc:
        message = str(exc)
        if name in message or "unknown" in message.lower():
            return None
        return f"{type(exc).__name__} that does not name {name!r}: {message[:120]}"
    except Exception as exc:  # noqa: BLE001 - anything else is the defect being looked for
        return f"{type(exc).__name__}: {str(exc)[:120]}"
    if qualified in SIGNED:
        return None
    bad = [x for x in _numbers(result) if not math.isfinite(x) or x < 0]
    if bad:
        return f"returned {bad[:3]}"
    if isinstance(result, str) and re.search(r"\b(nan|inf)\b", result, re.IGNORECASE):
        return f"returned {result!r}"
    return None


def _cases():
    for qualified, fn in CALLABLES:
        given, optional = _valid_arguments(qualified, fn)
        for name, valid in {**given, **optional}.items():
            if valid is inspect.Parameter.empty:
                continue
            for bad in _bad_values(valid):
                yield pytest.param(qualified, name, bad, id=f"{qualified}-{name}={bad!r}"[:90])


def test_every_public_function_has_valid_arguments_to_start_from():
    missing = {}
    for qualified, fn in CALLABLES:
        given, _ = _valid_arguments(qualified, fn)
        absent = [n for n, v in given.items() if v is inspect.Parameter.empty]
        if absent:
            missing[qualified] = absent
    assert not missing, "give VALID values (or a NOT_FUZZED reason) for " + repr(missing)


@pytest.mark.parametrize("qualified, fn", CALLABLES, ids=[q for q, _ in CALLABLES])
def test_the_valid_arguments_are_accepted(qualified, fn):
    given, optional = _valid_arguments(qualified, fn)
    result = _call(fn, {**given, **optional})  # raises if a valid argument is refused
    if qualified not in SIGNED:
        assert all(math.isfinite(x) and x >= 0 for x in _numbers(result)), result


@pytest.mark.parametrize("qualified, name, bad", list(_cases()))
def test_a_bad_argument_is_refused_clearly(qualified, name, bad):
    fn = dict(CALLABLES)[qualified]
    given, optional = _valid_arguments(qualified, fn)
    kwargs = {**given, **optional, name: bad}
    problem = _verdict(qualified, fn, kwargs, name, bad)
    assert problem is None, f"{qualified}({name}={bad!r}): {problem}"
