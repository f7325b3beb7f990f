"""The `bigcompute` command: the library's estimates from a shell.

    bigcompute devices
    bigcompute models
    bigcompute train llama2-7b --tokens 2T --device a100-80gb --devices 2048 --mfu 0.4
    bigcompute memory llama2-7b --batch 1 --seq 4096 --device h100-sxm --zero 3 --dp 8
    bigcompute infer llama2-7b --device h100-sxm --batch 8 --context 4096
    bigcompute infer --config Qwen3-8B/config.json --device h100-sxm

Wherever a command takes a model name it takes instead --config, a Hugging Face config.json
(`hf_config.from_hf_config`).

Add --json for machine-readable output. Bad input prints one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import fields

from . import catalog, hardware, kv_cache, memory, timing
from .configs import TransformerConfig
from .counts import active_param_count, param_count
from .estimate import estimate_training
from .hf_config import from_hf_config
from .units import format_bytes, format_count, format_seconds, parse_count

__all__ = [
    "cmd_devices", "cmd_models", "cmd_train", "cmd_memory", "cmd_infer", "parser", "main",
]


# The library's parameter for each flag, where the two names differ, by command: an error
# about ``context`` or ``seq`` in ``infer`` is about what the user typed as --context.
FLAGS = {"n_devices": "--devices", "grid_kg_per_kwh": "--grid", "zero_stage": "--zero",
         "price_per_device_hour": "--price", "cfg": "MODEL", "cfg_or_params": "MODEL",
         "n_params": "MODEL"}
COMMAND_FLAGS = {"infer": {"seq": "--context"}}
# a model's own fields (a config.json's structure the estimates refuse): told as they are
MODEL_FIELDS = {f.name for f in fields(TransformerConfig)}


def _flag_message(message: str, command: str) -> str:
    """The library's message about parameter ``name=...``, told in the flag the user typed."""
    match = re.match(r"(\w+)=", message)
    if not match:
        return message
    name = match.group(1)
    if name in MODEL_FIELDS:
        return f"the model's {message}"
    flag = (COMMAND_FLAGS.get(command, {}).get(name) or FLAGS.get(name)
            or f"--{name.replace('_', '-')}")  # argparse's flags are hyphenated
    return f"{flag} {message[match.end():]}"


def _config_file(path: str):
    """The model of a config.json; an error inside the file is told as --config's."""
    try:
        return from_hf_config(path)
    except ValueError as err:
        if str(err).startswith("config="):
            raise
        raise ValueError(f"config={path!r}: {err}") from None


def _model(args):
    """The model a command names: --config's file, or the catalogue's MODEL."""
    return _config_file(args.config) if args.config is not None else catalog.model(args.model)


def _model_or_params(args):
    """--config's file, a catalogue name, or a parameter count such as 7B (which starts with
    a digit)."""
    if args.config is not None:
        return _config_file(args.config)
    text = args.model
    return parse_count(text) if text[:1].isdigit() else catalog.model(text)


def _add_model(p, what: str) -> None:
    """MODEL, or --config instead (one of the two)."""
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("model", nargs="?", help=what)
    group.add_argument("--config", help="a Hugging Face config.json, instead of MODEL")


def _count(text: str) -> float:
    """A count typed on the command line: 2T, 1.4e12, 7B."""
    try:
        return parse_count(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a count such as 2T, 1.4e12 or 7B") from None


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line and exit status 2, without the usage block."""

    def error(self, message):
        self.exit(2, f"bigcompute: error: {message}\n")


def cmd_devices(args):
    rows = []
    for name in hardware.devices():
        d = hardware.device(name)
        peak = max(d.peak.items(), key=lambda kv: kv[1] if kv[0] not in ("fp8", "int8") else 0)
        rows.append({"name": name, "full_name": d.full_name, "year": d.year,
                     "memory_bytes": d.memory_bytes, "bandwidth_bytes_per_s":
                     d.bandwidth_bytes_per_s, "peak_flops": d.peak, "tdp_watts": d.tdp_watts})
        if not args.json:
            print(f"{name:14s} {d.year}  {format_bytes(d.memory_bytes):>10s}  "
                  f"{d.bandwidth_bytes_per_s / 1e12:5.2f} TB/s  "
                  f"{peak[1] / 1e12:7.1f} TFLOP/s {peak[0]:4s}  {d.full_name}")
    return rows


def cmd_models(args):
    rows = []
    for name in catalog.models():
        info = catalog.model_info(name)
        n = param_count(catalog.model(name))
        rows.append({"name": name, "params": n, "published_params": info.get("published_params"),
                     "training_tokens": info.get("training_tokens"), "year": info.get("year")})
        if not args.json:
            tokens = info.get("training_tokens")
            print(f"{name:16s} {format_count(n):>8s} params"
                  + (f"  {format_count(tokens):>6s} tokens" if tokens else ""))
    return rows


def cmd_train(args):
    est = estimate_training(_model_or_params(args), args.tokens, args.device,
                            args.devices, args.mfu, dtype=args.dtype, pue=args.pue,
                            grid_kg_per_kwh=args.grid, price_per_device_hour=args.price)
    if not args.json:
        print(est)
    return est.as_dict()


def cmd_memory(args):
    cfg = _model(args)
    kw = dict(precision=args.precision, optimizer=args.optimizer, attention=args.attention,
              recompute=args.recompute, zero_stage=args.zero, dp=args.dp, tp=args.tp, pp=args.pp,
              implementation=args.implementation, optimizer_kernel=args.optimizer_kernel)
    mem = memory.training_memory(cfg, args.batch, args.seq, **kw)
    out = {**mem.as_dict(), "peak_phase": mem.peak_phase}
    if args.device:
        result = memory.fit(cfg, args.device, args.batch, args.seq, **kw)
        out.update(fits=result.fits, max_batch=result.max_batch, message=result.message)
    if not args.json:
        for key, value in mem.as_dict().items():
            print(f"{key:12s} {format_bytes(value):>12s}")
        print(f"the peak is reached at {mem.peak_phase}")
        if args.device:
            print(result.message)
    return out


def _rate(per_second: float) -> str:
    """1,234 or 0.0123: a rate below one per second keeps its digits instead of reading 0."""
    return f"{per_second:,.0f}" if per_second >= 1 else f"{per_second:.3g}"


def cmd_infer(args):
    cfg = _model(args)
    step = timing.decode_time_per_token(cfg, args.device, args.batch, args.context, args.dtype)
    mem = kv_cache.inference_memory(cfg, args.batch, args.context, args.dtype)
    out = {"params": param_count(cfg), "active_params": active_param_count(cfg),
           "weights_bytes": mem.weights, "kv_cache_bytes": mem.kv_cache,
           "seconds_per_token": step, "tokens_per_s": args.batch / step}
    if not args.json:
        print(f"weights      {format_bytes(mem.weights)}\nKV cache     {format_bytes(mem.kv_cache)}"
              f" (batch {args.batch} x {args.context} tokens)\n"
              f"decode step  {format_seconds(step)} -> {_rate(args.batch / step)} tokens/s "
              f"on {args.device} (roofline bound)")
    return out


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="bigcompute", description=__doc__.split("\n")[0])
    p.add_argument("--json", action="store_true", help="print JSON")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("devices", help="the hardware catalogue")
    sub.add_parser("models", help="the model catalogue")
    t = sub.add_parser("train", help="time, energy and cost of a training run")
    _add_model(t, "catalogue name or parameter count (7B)")
    t.add_argument("--tokens", required=True, type=_count, help="training tokens, e.g. 2T")
    t.add_argument("--device", required=True)
    t.add_argument("--devices", type=int, default=1, help="number of devices")
    t.add_argument("--mfu", type=float, required=True, help="model FLOPs utilisation, 0-1")
    t.add_argument("--dtype", default="bf16")
    t.add_argument("--pue", type=float, default=1.0)
    t.add_argument("--grid", type=float, help="grid intensity, kg CO2e per kWh")
    t.add_argument("--price", type=float, help="price per device-hour, dollars")
    m = sub.add_parser("memory", help="training memory per device")
    _add_model(m, "catalogue name")
    m.add_argument("--batch", type=int, default=1)
    m.add_argument("--seq", type=int)
    m.add_argument("--device")
    m.add_argument("--precision", default="mixed-bf16")
    m.add_argument("--optimizer", default="adamw")
    m.add_argument("--attention", default="flash")
    m.add_argument("--recompute", choices=["selective", "full"])
    m.add_argument("--zero", type=int, default=0)
    m.add_argument("--implementation", default="reference",
                   help="whose modules save the activations: reference, hf, megatron")
    m.add_argument("--optimizer-kernel", default="fused",
                   help="AdamW's implementation: fused, foreach, for-loop")
    for name in ("dp", "tp", "pp"):
        m.add_argument(f"--{name}", type=int, default=1)
    i = sub.add_parser("infer", help="decode speed and inference memory")
    _add_model(i, "catalogue name")
    i.add_argument("--device", required=True)
    i.add_argument("--batch", type=int, default=1)
    i.add_argument("--context", type=int, default=2048)
    i.add_argument("--dtype", default="bf16")
    return p


def main(argv=None) -> int:
    p = parser()
    args = p.parse_args(argv)
    command = {"devices": cmd_devices, "models": cmd_models, "train": cmd_train,
               "memory": cmd_memory, "infer": cmd_infer}[args.command]
    try:
        out = command(args)
    except ValueError as e:
        print(f"bigcompute: error: {_flag_message(str(e), args.command)}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out, indent=2, default=str))
    return 0
