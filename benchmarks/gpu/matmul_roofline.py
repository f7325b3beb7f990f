"""The achieved roofline of a GPU: matmul throughput by size and dtype, skinny (decode-like)
matmuls, and copy bandwidth.

    python benchmarks/gpu/matmul_roofline.py                 # on a GPU: about 1-2 minutes
    python benchmarks/gpu/matmul_roofline.py --device cpu --quick --out /tmp/x   # smoke test

Writes matmul_roofline_<device>.json. Each matmul is timed with CUDA events after a warm-up,
as the median of repeated timings of back-to-back calls. Operands rotate through enough
copies to exceed the L2 cache several times, so a skinny matmul reads its weight from HBM as
it would in a real model, not from the cache. Copies do not rotate: the small ones show the
L2 cache on purpose (``fits_in_l2``).

    square   m = n = k, in bf16, fp32 (tf32 off) and tf32 (fp32 tensors, tf32 matmuls on)
    skinny   (m x k) @ (n x k)^T as in nn.Linear, m = 1..64 tokens, bf16: decoding
    copy     dst.copy_(src); bytes moved = 2 x size (read and written)
"""

from __future__ import annotations

import math

import _common as c
import torch

from bigcompute import timing


def _plan(quick: bool, cuda: bool) -> list[dict]:
    squares = [64, 128, 256] if quick else [256, 512, 1024, 2048, 4096, 8192, 16384]
    dtypes = ["bf16", "fp32"] + (["tf32"] if cuda else [])  # tf32 is a GPU tensor-core mode
    skinny_m = [1, 4, 16] if quick else [1, 2, 4, 8, 16, 32, 64]
    # (k, n): a 4096-wide model's attention projection, MLP up and down; an 8192-wide square
    skinny_kn = [(256, 256)] if quick else [(4096, 4096), (4096, 16384), (16384, 4096),
                                            (8192, 8192)]
    copies = [2**20, 2**22] if quick else [2**p for p in range(20, 33, 2)]  # 1 MiB .. 4 GiB
    plan = [{"kind": "square", "dtype": d, "m": s, "n": s, "k": s}
            for d in dtypes for s in squares]
    plan += [{"kind": "skinny", "dtype": "bf16", "m": m, "n": n, "k": k}
             for k, n in skinny_kn for m in skinny_m]
    plan += [{"kind": "copy", "dtype": None, "m": None, "n": None, "k": None, "copy_bytes": b}
             for b in copies]
    return plan


def _matmul(cfg, device, stopwatch, rotate_bytes, settings) -> dict:
    m, n, k, dtype = cfg["m"], cfg["n"], cfg["k"], cfg["dtype"]
    torch_dtype = c.TORCH_DTYPES[dtype]
    elem = torch.finfo(torch_dtype).bits // 8
    flops, bytes_moved = timing.matmul_cost(m, n, k, elem)
    pair = (m * k + n * k) * elem
    buffers = max(1, min(64, math.ceil(rotate_bytes / pair)))
    g = c.seeded_generator(device)
    # square: a @ b with b (k x n); skinny: x @ w.T with w (n x k), as nn.Linear stores it
    a = [torch.randn(m, k, device=device, generator=g, dtype=torch_dtype)
         for _ in range(buffers)]
    b = [torch.randn(n, k, device=device, generator=g, dtype=torch_dtype).t()
         if cfg["kind"] == "skinny" else
         torch.randn(k, n, device=device, generator=g, dtype=torch_dtype)
         for _ in range(buffers)]
    out = torch.empty(m, n, device=device, dtype=torch_dtype)
    i = [0]

    def fn():
        j = i[0] % buffers
        i[0] += 1
        torch.mm(a[j], b[j], out=out)

    c.set_tf32(dtype == "tf32")
    try:
        t = stopwatch.measure(fn, settings["warmup"], settings["repeats"], settings["target_s"])
    finally:
        c.set_tf32(False)
    return {**cfg, "flops": flops, "bytes_moved": bytes_moved, "status": "ok", **t,
            "buffers": buffers, "allow_tf32": dtype == "tf32",
            "achieved_flops_per_s": flops / t["seconds"],
            "achieved_bytes_per_s": bytes_moved / t["seconds"]}


def _copy(cfg, device, stopwatch, settings, l2_bytes) -> dict:
    size = cfg["copy_bytes"]
    src = torch.ones(size // 4, device=device, dtype=torch.float32)
    dst = torch.empty_like(src)
    t = stopwatch.measure(lambda: dst.copy_(src), settings["warmup"], settings["repeats"],
                          settings["target_s"])
    moved = 2 * size
    return {**cfg, "flops": 0, "bytes_moved": moved, "status": "ok", **t,
            "fits_in_l2": bool(l2_bytes) and moved <= l2_bytes,
            "achieved_bytes_per_s": moved / t["seconds"]}


def main(argv=None) -> int:
    args = c.parser(__doc__.split("\n\n")[0]).parse_args(argv)
    device = c.torch_device(args)
    cuda = device.type == "cuda"
    settings = {"warmup": 1 if args.quick else 3, "repeats": 3 if args.quick else 10,
                "target_s": 0.002 if args.quick else 0.05, "timer": "cuda events" if cuda
                else "perf_counter", "statistic": "median seconds per call",
                "operand_rotation": "operands rotate through copies totalling >= 4x L2 "
                                    "(>= 256 MiB)" if cuda else "none"}
    rec = c.Recorder("matmul_roofline", args, device, settings,
                     key_fields=("kind", "dtype", "m", "n", "k", "copy_bytes"))
    l2 = rec.environment.get("l2_cache_bytes") or 0
    rotate_bytes = max(4 * l2, 256 * 2**20) if cuda else 0
    stopwatch, budget, complete = c.Stopwatch(device), c.Budget(args.budget_s), True
    for cfg in _plan(args.quick, cuda):
        if rec.done(**cfg):
            continue
        if not budget.allows_another():
            complete = False
            break
        with budget.task():
            try:
                if cfg["kind"] == "copy":
                    result = _copy(cfg, device, stopwatch, settings, l2)
                else:
                    result = _matmul(cfg, device, stopwatch, rotate_bytes, settings)
            except (RuntimeError, torch.cuda.OutOfMemoryError) as e:
                result = {**cfg, "flops": 0, "bytes_moved": 0, "seconds": None, **c.failure(e)}
                if cfg["kind"] != "copy":
                    result["flops"], result["bytes_moved"] = timing.matmul_cost(
                        cfg["m"], cfg["n"], cfg["k"], 4 if cfg["dtype"] != "bf16" else 2)
                else:
                    result["bytes_moved"] = 2 * cfg["copy_bytes"]
            c.free_memory(device, result)
        rec.add(result)
        if result["status"] == "ok":
            rate = (f"{result['achieved_flops_per_s'] / 1e12:8.2f} TFLOP/s"
                    if result["flops"] else
                    f"{result['achieved_bytes_per_s'] / 1e9:8.1f} GB/s")
            what = (f"{cfg['kind']:6} {cfg['dtype']:4} m={cfg['m']} n={cfg['n']} k={cfg['k']}"
                    if cfg["kind"] != "copy" else f"copy   {cfg['copy_bytes'] / 2**20:g} MiB")
            c.log(f"{what:44} {result['seconds'] * 1e3:10.4f} ms  {rate}")
        else:
            c.log(f"{cfg}: {result['status']} {result['error']}")
    rec.finish(complete)
    return 0 if complete else c.INCOMPLETE


if __name__ == "__main__":
    raise SystemExit(main())
