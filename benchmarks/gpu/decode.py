"""KV-cache decoding on a GPU: prefill time and time per generated token, at batch 1 and
larger batches, for gpt2-medium and the 1.3B GPT-3 shape.

    python benchmarks/gpu/decode.py                          # on a GPU: about 1 minute
    python benchmarks/gpu/decode.py --device cpu --quick --out /tmp/x    # smoke test

Writes decode_<device>.json. The loop is `nets.Transformer.generate`'s, step by step: a
pre-allocated `nets.KVCache`, one prefill pass over the prompt, then one token per step for
every sequence of the batch (greedy argmax fed back, on the device: no host round trip). The
prefill is timed on its own (median of repeats, the cache rewound each time); every decode
step between two CUDA events. Eager PyTorch, no CUDA graphs: at batch 1 a small model's step
is bound by kernel launches, not by the GPU, and the records show how much.
"""

from __future__ import annotations

import statistics

import _common as c
import torch

from bigcompute import catalog, counts
from bigcompute.lab import nets
from bigcompute.units import format_bytes

MODELS = ("gpt2-medium", "gpt3-1.3b")
BATCHES = (1, 8, 32, 128)
KEY = ("model", "dtype", "batch", "prompt_len", "new_tokens")


def _decode_loop(model, prompt, cache, new_tokens, stopwatch):
    """Prefill then ``new_tokens`` single-token steps; the seconds of each step."""
    cache.length = 0
    nxt = model(prompt, cache=cache)[:, -1].argmax(dim=-1, keepdim=True)
    marks = []
    for _ in range(new_tokens):
        begin = stopwatch.start()
        nxt = model(nxt, cache=cache)[:, -1].argmax(dim=-1, keepdim=True)
        marks.append(stopwatch.stop(begin))
    return [stopwatch.seconds(m) for m in marks]


def _measure(model, cfg, batch, prompt_len, new_tokens, dtype, device, args) -> dict:
    g = c.seeded_generator(device)
    prompt = torch.randint(0, cfg.vocab_size, (batch, prompt_len), device=device, generator=g)
    cache = nets.KVCache(cfg, batch, prompt_len + new_tokens, c.TORCH_DTYPES[dtype], device)
    stopwatch = c.Stopwatch(device)
    result = {"kv_cache_bytes": cache.nbytes()}
    c.reset_peak(device)

    def prefill():
        cache.length = 0
        return model(prompt, cache=cache)[:, -1].argmax(dim=-1, keepdim=True)

    t = stopwatch.measure(prefill, warmup=1, repeats=args.repeats, target_s=0.0)
    result.update(prefill_seconds=t["seconds"], prefill_seconds_min=t["min_seconds"],
                  prefill_repeats=t["repeats"])
    _decode_loop(model, prompt, cache, min(new_tokens, 8), stopwatch)  # warm-up
    runs = [_decode_loop(model, prompt, cache, new_tokens, stopwatch)
            for _ in range(args.decode_repeats)]
    best = min(runs, key=sum)  # the least disturbed run
    result.update(
        decode_step_seconds_mean=statistics.fmean(best),
        decode_step_seconds_median=statistics.median(best),
        decode_step_seconds_min=min(best),
        decode_step_seconds_first=best[0], decode_step_seconds_last=best[-1],
        decode_runs=len(runs), decode_run_seconds=[sum(r) for r in runs],
        decode_tokens_per_s=batch / statistics.fmean(best),
        peak_allocated_bytes=c.peak_allocated(device))
    return result


def main(argv=None) -> int:
    p = c.parser(__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--batches", default=",".join(map(str, BATCHES)))
    p.add_argument("--prompt-len", type=int, default=512)
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--dtype", default="bf16", choices=("bf16", "fp16", "fp32"))
    p.add_argument("--attention", default="flash", choices=("flash", "naive"))
    p.add_argument("--repeats", type=int, default=5, help="timed prefills")
    p.add_argument("--decode-repeats", type=int, default=2, help="timed decode loops")
    args = p.parse_args(argv)
    if args.quick:
        args.prompt_len, args.new_tokens, args.repeats, args.decode_repeats = 16, 8, 2, 1
        batches, grid = [1, 4], [(c.TINY_GPT.name, c.TINY_GPT)]
    else:
        batches = [int(b) for b in args.batches.split(",")]
        grid = [(name, catalog.model(name)) for name in args.models.split(",")]
    device = c.torch_device(args)
    settings = {"loop": "nets.KVCache + single-token forward passes, greedy argmax on device",
                "attention": args.attention, "dtype": args.dtype, "mode": "eager, no CUDA graphs",
                "prefill_repeats": args.repeats, "decode_repeats": args.decode_repeats,
                "statistic": "prefill: median of repeats; decode: per-step times of the "
                             "fastest loop (mean, median, min)"}
    rec = c.Recorder("decode", args, device, settings, key_fields=KEY)
    budget, complete = c.Budget(args.budget_s), True
    for name, cfg in grid:
        todo = [b for b in batches if not rec.done(
            model=name, dtype=args.dtype, batch=b, prompt_len=args.prompt_len,
            new_tokens=args.new_tokens)]
        if not todo:
            continue
        if not budget.allows_another():
            complete = False
            break
        torch.manual_seed(0)
        model = nets.build(cfg, device=device, dtype=c.TORCH_DTYPES[args.dtype]).eval()
        model.set_attention(args.attention)
        weight_bytes = c.tensor_bytes(model.parameters())
        for batch in todo:
            if not budget.allows_another():
                complete = False
                break
            base = {"model": name, "config": cfg.to_dict(), "n_params": counts.param_count(cfg),
                    "weight_bytes": weight_bytes, "dtype": args.dtype,
                    "attention": args.attention, "batch": batch,
                    "prompt_len": args.prompt_len, "new_tokens": args.new_tokens}
            with budget.task():
                try:
                    with torch.inference_mode():
                        result = {**base, "status": "ok",
                                  **_measure(model, cfg, batch, args.prompt_len,
                                             args.new_tokens, args.dtype, device, args)}
                except (RuntimeError, torch.cuda.OutOfMemoryError) as e:
                    result = {**base, **c.failure(e), "prefill_seconds": None,
                              "decode_step_seconds_mean": None, "kv_cache_bytes": None}
                c.free_memory(device, result)
            rec.add(result)
            what = f"{name} {args.dtype} batch {batch:4} prompt {args.prompt_len}"
            if result["status"] == "ok":
                c.log(f"{what}: prefill {result['prefill_seconds'] * 1e3:8.2f} ms, "
                      f"{result['decode_step_seconds_mean'] * 1e3:7.3f} ms/token step, "
                      f"{result['decode_tokens_per_s']:9.0f} tok/s, "
                      f"KV cache {format_bytes(result['kv_cache_bytes'])}")
            else:
                c.log(f"{what}: {result['status']} {result['error']}")
        del model
        c.free_memory(device)
        if not complete:
            break
    rec.finish(complete)
    return 0 if complete else c.INCOMPLETE


if __name__ == "__main__":
    raise SystemExit(main())
