"""Runs inside benchmarks/.venv-compare (see bench_compare.py): the FLOP and parameter counts
of other tools on the same torch modules, timed, as JSON on stdout.

    benchmarks/.venv-compare/bin/python benchmarks/compare_worker.py   # PYTHONPATH=src

Inputs (the same for every tool): GPT-2 small (naive attention and flash attention, i.e.
scaled_dot_product_attention) on 1 x 32 tokens, and ResNet-50 on one 224 x 224 image, all
built by bigcompute.lab.nets. Truth: parameters = sum of p.numel(); FLOPs = matmul and
convolution FLOPs, 2 per multiply-add, as FlopCounterMode counts them where it sees every
matmul (naive attention on CPU; flash attention on the meta device).
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import sys
import time
import warnings

import torch

import bigcompute as bc
from bigcompute import counts
from bigcompute.lab import measure, nets

SEQ = 32
REPEATS = 3


def _median_seconds(fn, repeats=REPEATS):
    """Median wall time of ``fn()``; the tool has already run once (for its value), which
    serves as the warm-up."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _quiet(fn):
    """Call fn with the tool's printing and warnings silenced."""
    def run():
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            return fn()
    return run


def inputs():
    """name -> (config, module, example input tuple, truth FLOPs, how the truth is known)."""
    torch.manual_seed(0)
    gpt2, resnet = bc.model("gpt2-small"), bc.model("resnet-50")
    tokens = nets.example_inputs(gpt2, 1, SEQ)
    images = nets.example_inputs(resnet, 1)
    naive = nets.build(gpt2).eval()
    flash = nets.build(gpt2).eval().set_attention("flash")
    flash_meta = nets.build(gpt2, device="meta").set_attention("flash")
    truth_flash = measure.count_flops(flash_meta, nets.example_inputs(gpt2, 1, SEQ,
                                                                       device="meta"))
    with torch.no_grad():
        truth_naive = measure.count_flops(naive, tokens)
        truth_resnet = measure.count_flops(nets.build(resnet).eval(), images)
    return {
        "gpt2-small, naive attention": (gpt2, naive, tokens, truth_naive,
                                        "FlopCounterMode on CPU", {}),
        "gpt2-small, flash attention (SDPA)": (gpt2, flash, tokens, truth_flash,
                                               "FlopCounterMode on the meta device",
                                               {"attention": "flash"}),
        "resnet-50": (resnet, nets.build(resnet).eval(), images, truth_resnet,
                      "FlopCounterMode on CPU", {}),
    }


# ---------------------------------------------------------------- the tools

def tool_bigcompute(cfg, module, args, flops_kw):
    def one():
        return counts.flops(cfg, 1, SEQ if isinstance(cfg, bc.TransformerConfig) else None,
                            **flops_kw), counts.param_count(cfg)
    flops, params = one()
    seconds = _median_seconds(one, repeats=2001)
    return {"flops": flops, "params": params, "seconds": seconds,
            "unit": "FLOPs (2 per multiply-add), from the config alone: no model is built"}


def tool_flopcounter_cpu(cfg, module, args, flops_kw):
    def one():
        with torch.no_grad():
            return measure.count_flops(module, args)
    return {"flops": one(), "params": sum(p.numel() for p in module.parameters()),
            "seconds": _median_seconds(one), "unit": "FLOPs; runs the forward pass on CPU"}


def tool_flopcounter_meta(cfg, module, args, flops_kw):
    attention = flops_kw.get("attention")

    def one():
        meta = nets.build(cfg, device="meta")
        if attention:
            meta.set_attention(attention)
        seq = SEQ if isinstance(cfg, bc.TransformerConfig) else None
        return measure.count_flops(meta, nets.example_inputs(cfg, 1, seq, device="meta"))
    return {"flops": one(), "params": sum(p.numel() for p in module.parameters()),
            "seconds": _median_seconds(one),
            "unit": "FLOPs; builds the model on the meta device and traces it (no arithmetic)"}


def tool_ptflops(backend):
    def run(cfg, module, args, flops_kw):
        from ptflops import get_model_complexity_info

        def one():
            with torch.no_grad():
                return get_model_complexity_info(
                    module, tuple(args[0].shape[1:]), input_constructor=lambda _res: args[0],
                    as_strings=False, print_per_layer_stat=False, backend=backend)
        macs, params = _quiet(one)()
        return {"raw": {"macs": macs, "params": params}, "flops": 2 * macs, "params": params,
                "seconds": _median_seconds(_quiet(one)),
                "unit": "reports MACs (multiply-accumulates): FLOPs = 2 x MACs"}
    return run


def tool_fvcore(cfg, module, args, flops_kw):
    from fvcore.nn import FlopCountAnalysis, parameter_count

    def one():
        analysis = FlopCountAnalysis(module, args)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        total = analysis.total()
        return total, sorted(analysis.unsupported_ops())
    total, unsupported = _quiet(one)()
    return {"raw": {"total": total, "unsupported_ops": unsupported}, "flops": 2 * total,
            "params": parameter_count(module)[""], "seconds": _median_seconds(_quiet(one)),
            "unit": "reports one 'flop' per fused multiply-add (a MAC): FLOPs = 2 x total; "
                    "traces with torch.jit"}


def tool_calflops(cfg, module, args, flops_kw):
    from calflops import calculate_flops

    def one():
        return calculate_flops(module, args=list(args), print_results=False,
                               print_detailed=False, output_as_string=False)
    flops, macs, params = _quiet(one)()
    return {"raw": {"flops": flops, "macs": macs, "params": params}, "flops": flops,
            "params": params, "seconds": _median_seconds(_quiet(one)),
            "unit": "reports FLOPs and MACs; FLOPs taken as reported"}


TOOLS = {
    "bigcompute.counts (formula)": tool_bigcompute,
    "torch FlopCounterMode (CPU)": tool_flopcounter_cpu,
    "torch FlopCounterMode (meta device)": tool_flopcounter_meta,
    "ptflops (pytorch backend)": tool_ptflops("pytorch"),
    "ptflops (aten backend)": tool_ptflops("aten"),
    "fvcore FlopCountAnalysis": tool_fvcore,
    "calflops calculate_flops": tool_calflops,
}


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("torch", "ptflops", "fvcore", "calflops", "transformers"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def main() -> None:
    torch.manual_seed(0)
    results = []
    for case, (cfg, module, args, truth, truth_how, flops_kw) in inputs().items():
        true_params = sum(p.numel() for p in module.parameters())
        for tool, fn in TOOLS.items():
            row = {"input": case, "tool": tool, "truth_flops": truth, "truth_how": truth_how,
                   "truth_params": true_params}
            try:
                row.update(fn(cfg, module, args, flops_kw))
                row["flops_error"] = row["flops"] / truth - 1
                row["params_error"] = row["params"] / true_params - 1
            except Exception as exc:  # noqa: BLE001 (a tool failing on an input is a result)
                row["failed"] = f"{type(exc).__name__}: {exc}"[:300]
            results.append(row)
            print(f"{case:38s} {tool:38s} "
                  f"{row.get('flops_error', float('nan')):+.3f}  {row.get('seconds', 0):.4f}s",
                  file=sys.stderr, flush=True)
    json.dump({"versions": versions(), "seq": SEQ, "torch_threads": torch.get_num_threads(),
               "rows": results}, sys.stdout, indent=2)


if __name__ == "__main__":
    main()
