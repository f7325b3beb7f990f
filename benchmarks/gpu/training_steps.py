"""Training steps of GPT-style models from `bigcompute.lab.nets` on a GPU: peak memory, step
time, tokens/s and MFU, for every combination of

    model      gpt2-small, gpt2-medium (batch 8 x 1024), gpt3-1.3b, gpt3-2.7b (batch 4 x 2048)
    precision  fp32 (tf32 off), amp-bf16 (torch.autocast, fp32 weights), bf16 (pure)
    attention  naive (materialised scores) or flash (scaled_dot_product_attention)
    recompute  none or full (activation checkpointing of every block)

    python benchmarks/gpu/training_steps.py                  # on a GPU: about 5-8 minutes
    python benchmarks/gpu/training_steps.py --models gpt2-small,gpt2-medium   # part of it
    python benchmarks/gpu/training_steps.py --plan           # the grid and its predictions
    python benchmarks/gpu/training_steps.py --device cpu --quick --out /tmp/x  # smoke test

Writes training_steps_<device>.json. Every step is the whole of it: zero_grad(set_to_none),
forward, cross-entropy loss, backward, AdamW (fused where torch has it). After two warm-up
steps (the first allocates the optimizer states) the peak-memory counter is reset and the
timed steps run, each between two CUDA events; the step time is their median. Then, outside
the timed region: the bytes of parameters, gradients and optimizer states, and the bytes
autograd saves in one forward pass (`measure.saved_activation_bytes`). A configuration that
runs out of memory is recorded as "oom" and the next one runs.

MFU = tokens/s x model FLOPs per token / datasheet peak (fp32 peak for fp32, bf16 peak for
amp-bf16 and bf16), the model FLOPs being `counts.flops(cfg, b, s, "train")`: every matmul,
the attention scores in full, no recomputation. HFU counts what the kernels really run
(flash attention's backward recomputation, full recomputation's second forward).
"""

from __future__ import annotations

import contextlib
import json
import statistics

import _common as c
import torch

from bigcompute import catalog, counts, hardware, memory, timing
from bigcompute.lab import measure, nets
from bigcompute.precision import RECIPES
from bigcompute.tables import Column, markdown_table
from bigcompute.units import format_bytes
from bigcompute.validation import gpu as gm

MODELS = {"gpt2-small": (8, 1024), "gpt2-medium": (8, 1024), "gpt3-1.3b": (4, 2048),
          "gpt3-2.7b": (4, 2048)}  # (batch, seq): 8192 tokens per step each
PRECISIONS = ("fp32", "amp-bf16", "bf16")
ATTENTIONS = ("naive", "flash")
RECOMPUTES = (None, "full")
PEAK_DTYPE = {"fp32": "fp32", "amp-bf16": "bf16", "bf16": "bf16"}
KEY = ("model", "batch", "seq", "precision", "attention", "recompute")


def _grid(args) -> list[tuple[str, object, int, int]]:
    """(name, config, batch, seq) of each model to measure."""
    if args.quick:
        return [(c.TINY_GPT.name, c.TINY_GPT, 2, 64)]
    names = args.models.split(",") if args.models else list(MODELS)
    grid = []
    for name in names:
        batch, seq = MODELS.get(name, (None, None))
        cfg = catalog.model(name)
        grid.append((name, cfg, args.batch or batch or 1, args.seq or seq or cfg.max_seq_len))
    return grid


def _optimizer(model, device):
    """AdamW, fused into one kernel per step where this torch supports it."""
    params = [p for p in model.parameters() if p.requires_grad]
    try:
        return torch.optim.AdamW(params, lr=1e-5, fused=True), "AdamW(fused=True)"
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(params, lr=1e-5, foreach=True), "AdamW(foreach=True)"


def _autocast(precision, device):
    if precision == "amp-bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _measure(model, cfg, name, batch, seq, precision, attention, recompute, device, args,
             env) -> dict:
    """One configuration: warm-up, timed steps, then states and saved activations."""
    model.set_attention(attention).set_recompute(recompute)
    for p in model.parameters():
        p.grad = None
    g = c.seeded_generator(device)
    tokens = torch.randint(0, cfg.vocab_size, (batch, seq + 1), device=device, generator=g)
    inputs, targets = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()
    loss_fn = measure.lm_loss(targets)
    opt, opt_name = _optimizer(model, device)
    stopwatch = c.Stopwatch(device)
    result = {"optimizer": opt_name, "allocated_before_bytes": c.allocated(device)}

    def step():
        opt.zero_grad(set_to_none=True)
        with _autocast(precision, device):
            logits = model(inputs)  # held to the end of the step, as nanoGPT's loop holds it
            loss = loss_fn(logits)
        loss.backward()
        opt.step()
        return loss

    c.reset_peak(device)
    warmup_times = []
    for i in range(max(1, args.warmup)):
        begin = stopwatch.start()
        step()
        warmup_times.append(stopwatch.seconds(stopwatch.stop(begin)))
        if i == 0:  # the first step also allocates the AdamW states
            result["peak_allocated_first_step_bytes"] = c.peak_allocated(device)
    c.reset_peak(device)
    last = warmup_times[-1]  # the first step pays one-off costs (kernel choice, allocation)
    repeats = args.repeats or max(3, min(10, round(args.target_s / max(last, 1e-9))))
    marks = []
    for _ in range(repeats):
        begin = stopwatch.start()
        loss = step()
        marks.append(stopwatch.stop(begin))
    times = [stopwatch.seconds(m) for m in marks]
    result.update(peak_allocated_bytes=c.peak_allocated(device),
                  peak_reserved_bytes=c.peak_reserved(device),
                  step_seconds=statistics.median(times), step_seconds_min=min(times),
                  step_seconds_all=times, repeats=repeats, warmup_step_seconds=warmup_times,
                  loss=float(loss.detach()))
    if device.type == "cuda":  # one more step with the allocator's history recorded
        torch.cuda.memory._record_memory_history(max_entries=200_000)
        step()
        result["memory_history"] = gm.memory_history_summary(torch.cuda.memory._snapshot())
        torch.cuda.memory._record_memory_history(enabled=None)
    # Model states as they stand after a step: gradients are still there.
    params = list(model.parameters())
    result["param_bytes"] = c.tensor_bytes(params)
    result["grad_bytes"] = c.tensor_bytes(p.grad for p in params if p.grad is not None)
    result["optimizer_state_bytes"] = c.tensor_bytes(
        t for state in opt.state.values() for t in state.values())
    result["allocated_after_step_bytes"] = c.allocated(device)
    opt.zero_grad(set_to_none=True)
    try:  # bytes autograd keeps for backward, under the same precision (no step taken)
        with _autocast(precision, device):
            result["saved_activation_bytes"] = measure.saved_activation_bytes(
                model, (inputs,), loss_fn)
    except (RuntimeError, torch.cuda.OutOfMemoryError) as e:
        if not c.is_out_of_memory(e):
            raise
        result["saved_activation_bytes"] = None
        result["saved_activation_note"] = "out of memory while measuring"

    tokens_per_step = batch * seq
    model_flops = counts.flops(cfg, batch, seq, "train")
    hardware_flops = counts.flops(cfg, batch, seq, "train", attention=attention,
                                  recompute=recompute)
    tokens_per_s = tokens_per_step / result["step_seconds"]
    result.update(tokens_per_s=tokens_per_s, model_flops_per_step=model_flops,
                  hardware_flops_per_step=hardware_flops,
                  achieved_model_flops_per_s=model_flops / result["step_seconds"],
                  peak_dtype=PEAK_DTYPE[precision], mfu=None, hfu=None)
    key = env["catalogue_device"]
    if key is not None:
        dev = hardware.device(key)
        result["mfu"] = timing.mfu(tokens_per_s, model_flops / tokens_per_step, dev,
                                   dtype=PEAK_DTYPE[precision])
        result["hfu"] = timing.hfu(tokens_per_s, hardware_flops / tokens_per_step, dev,
                                   dtype=PEAK_DTYPE[precision])
    return result


def _plan(args) -> int:
    """Print the grid with the library's predicted memory against the device's capacity."""
    dev = hardware.device(args.catalogue_device or "h100-sxm")
    print(f"predicted peak memory on {dev.name} ({format_bytes(dev.memory_bytes)}):")
    for name, cfg, batch, seq in _grid(args):
        for precision in args.precisions.split(","):
            for attention in ATTENTIONS:
                for recompute in RECOMPUTES:
                    m = memory.training_memory(cfg, batch, seq, precision=precision,
                                               attention=attention, recompute=recompute)
                    fits = "fits" if m.total <= dev.memory_bytes else "OOM expected"
                    print(f"  {name:12} {batch}x{seq:<5} {precision:9} {attention:6} "
                          f"{recompute or '-':5} {format_bytes(m.total):>10}  {fits}")
    return 0


def main(argv=None) -> int:
    p = c.parser(__doc__.split("\n\n")[0])
    p.add_argument("--models", default=None,
                   help="comma-separated catalogue names (default: " + ",".join(MODELS) + ")")
    p.add_argument("--precisions", default=",".join(PRECISIONS))
    p.add_argument("--batch", type=int, default=None, help="override every model's batch")
    p.add_argument("--seq", type=int, default=None, help="override every model's sequence")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed steps (default: enough for ~target-s seconds, 3 to 10)")
    p.add_argument("--target-s", type=float, default=4.0)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--plan", action="store_true",
                   help="print the grid and the predicted memory; measure nothing")
    args = p.parse_args(argv)
    if args.plan:
        return _plan(args)
    if args.quick:
        args.repeats, args.warmup = args.repeats or 2, 1
    device = c.torch_device(args)
    c.set_tf32(False)  # fp32 means fp32: no tf32 in the matmuls or convolutions
    precisions = args.precisions.split(",")
    for precision in precisions:
        RECIPES[precision]  # a KeyError names an unknown precision
    settings = {"optimizer": "AdamW, lr 1e-5, fused where available",
                "zero_grad": "set_to_none=True, at the start of each step",
                "loss": "cross-entropy of the logits (bigcompute.lab.measure.lm_loss)",
                "warmup_steps": args.warmup, "repeats": args.repeats or "adaptive",
                "target_s": args.target_s, "allow_tf32": False,
                "amp": "torch.autocast(bfloat16) around forward and loss; fp32 weights, "
                       "grads and AdamW states",
                "pure_bf16": "weights, grads and AdamW states in bfloat16",
                "recompute_full": "torch.utils.checkpoint (reentrant) around each block",
                "statistic": "median step time over the timed steps",
                "peak_memory": "torch.cuda.max_memory_allocated over the timed steps",
                "memory_history": "one more step under torch.cuda.memory."
                                  "_record_memory_history: the peak and the largest blocks "
                                  "alive at it (bigcompute.validation.gpu."
                                  "memory_history_summary)"}
    rec = c.Recorder("training_steps", args, device, settings, key_fields=KEY)
    env = rec.environment
    budget, complete = c.Budget(args.budget_s), True
    for name, cfg, batch, seq in _grid(args):
        for precision in precisions:
            todo = [(a, r) for a in ATTENTIONS for r in RECOMPUTES
                    if not rec.done(model=name, batch=batch, seq=seq, precision=precision,
                                    attention=a, recompute=r)]
            if not todo:
                continue
            if not budget.allows_another():
                complete = False
                break
            model, build_failure = None, None
            try:
                torch.manual_seed(0)
                model = nets.build(cfg, device=device,
                                   dtype=torch.bfloat16 if precision == "bf16" else None)
                model.train()
            except (RuntimeError, torch.cuda.OutOfMemoryError) as e:
                build_failure = c.failure(e)
            for attention, recompute in todo:
                if not budget.allows_another():
                    complete = False
                    break
                base = {"model": name, "config": cfg.to_dict(),
                        "n_params": counts.param_count(cfg), "batch": batch, "seq": seq,
                        "tokens_per_step": batch * seq, "precision": precision,
                        "attention": attention, "recompute": recompute}
                empty = {"optimizer": None, "step_seconds": None,
                         "peak_allocated_bytes": None, "param_bytes": None,
                         "grad_bytes": None, "optimizer_state_bytes": None,
                         "saved_activation_bytes": None, "mfu": None}
                with budget.task():
                    if build_failure is not None:
                        result = {**base, **empty, **build_failure}
                    else:
                        try:
                            result = {**base, "status": "ok",
                                      **_measure(model, cfg, name, batch, seq, precision,
                                                 attention, recompute, device, args, env)}
                        except (RuntimeError, torch.cuda.OutOfMemoryError) as e:
                            result = {**base, **empty, **c.failure(e)}
                    c.free_memory(device, result)
                rec.add(result)
                what = f"{name} {batch}x{seq} {precision:8} {attention:5} {recompute or '-':4}"
                if result["status"] == "ok":
                    mfu = f"MFU {result['mfu']:.1%}" if result["mfu"] is not None else ""
                    peak = (format_bytes(result["peak_allocated_bytes"])
                            if result["peak_allocated_bytes"] else "peak n/a")
                    c.log(f"{what} {result['step_seconds'] * 1e3:9.1f} ms/step "
                          f"{result['tokens_per_s']:10.0f} tok/s {peak:>10} {mfu}")
                else:
                    c.log(f"{what} {result['status']}: {result['error']}")
            del model
            c.free_memory(device)
        if not complete:
            break
    path = rec.finish(complete)
    rows = gm.compare_training_memory(json.loads(path.read_text(encoding="utf-8")))
    columns = [Column(key) for key in ("model", "precision", "attention", "recompute", "status")]
    columns += [Column("predicted_peak_bytes", fmt=format_bytes),
                Column("measured_peak_bytes", fmt=format_bytes)]
    columns += [Column(key, fmt="+.1%") for key in ("peak_error", "total_error",
                                                     "states_error", "activation_error")]
    c.log(markdown_table(rows, columns))
    return 0 if complete else c.INCOMPLETE


if __name__ == "__main__":
    raise SystemExit(main())
