"""Accuracy of the library: every prediction torch can measure, across a grid of shapes, and
every published run reproduced.

    python benchmarks/bench_accuracy.py   # writes benchmarks/results/accuracy.json and .md

Measured with torch on the reference modules of `bigcompute.lab.nets` (the same configs drive the
formulas and the modules):
  params            sum of p.numel() over the module's parameters (meta device for big models)
  FLOPs             FlopCounterMode (measure.count_flops), forward and forward + backward;
                    flash attention and the catalogue's models on the meta device, because on
                    CPU torch 2.13 counts scaled_dot_product_attention as 0
  activation bytes  bytes autograd saves for backward (measure.saved_activation_bytes), in
                    fp32, pure bf16 and amp-bf16 (torch.autocast), naive and flash attention,
                    no / selective / full recomputation
  KV-cache bytes    the bytes of the cache the model allocates and fills (nets.KVCache)
Relative error = predicted / measured - 1.
"""

from __future__ import annotations

import time
import warnings

import _bench

# Small configurations of every architecture the library models (as tests/shapes.py), each
# also deeper and twice as wide.
SHAPE_KW = {
    "gpt": {"n_layers": 2, "d_model": 64, "n_heads": 4, "vocab_size": 100, "max_seq_len": 64},
    "llama_gqa": {"n_layers": 2, "d_model": 64, "n_heads": 4, "n_kv_heads": 2, "vocab_size": 100,
                      "max_seq_len": 64, "d_ff": 96, "gated_mlp": True, "activation": "silu",
                      "tied_embeddings": False, "positions": "rotary", "bias": False, "norm": "rmsnorm"},
    "relu_wide": {"n_layers": 3, "d_model": 96, "n_heads": 6, "vocab_size": 300, "max_seq_len": 64,
                      "activation": "relu", "d_ff": 200},
    "moe": {"n_layers": 2, "d_model": 64, "n_heads": 4, "vocab_size": 100, "max_seq_len": 64, "d_ff": 96,
                "gated_mlp": True, "activation": "silu", "tied_embeddings": False, "positions": "rotary",
                "bias": False, "norm": "rmsnorm", "n_experts": 4, "top_k": 2},
    "mqa_headdim": {"n_layers": 2, "d_model": 48, "n_heads": 4, "n_kv_heads": 1, "head_dim": 24,
                        "vocab_size": 77, "max_seq_len": 32, "positions": "none"},
    "bert": {"n_layers": 2, "d_model": 64, "n_heads": 4, "vocab_size": 100, "max_seq_len": 64,
                 "arch": "encoder", "type_vocab_size": 2, "embedding_norm": True, "pooler": True,
                 "post_norm": True},
    "vit": {"n_layers": 2, "d_model": 64, "n_heads": 4, "arch": "encoder", "frontend": "patches",
                "image_size": 32, "patch_size": 8, "n_classes": 10},
    "t5": {"n_layers": 2, "n_encoder_layers": 2, "d_model": 64, "n_heads": 8, "head_dim": 16, "d_ff": 128,
               "vocab_size": 100, "arch": "encoder-decoder", "positions": "relative", "bias": False,
               "norm": "rmsnorm", "activation": "relu"},
    "whisper": {"n_layers": 2, "n_encoder_layers": 2, "d_model": 64, "n_heads": 4, "vocab_size": 100,
                    "max_seq_len": 16, "arch": "encoder-decoder", "frontend": "audio", "n_mels": 8,
                    "encoder_seq_len": 20},
}
BATCH_SEQ = [(1, 16), (3, 40)]
WHISPER_BATCH_SEQ = [(1, 8), (3, 16)]
PRECISIONS = ("fp32", "bf16", "amp-bf16")
ATTENTIONS = ("naive", "flash")
RECOMPUTES = (None, "selective", "full")


def transformer_shapes() -> dict:
    from bigcompute.configs import TransformerConfig

    shapes = {}
    for name, kw in SHAPE_KW.items():
        cfg = TransformerConfig(**kw, name=name)
        shapes[name] = cfg
        shapes[f"{name}_x2"] = cfg.scaled(n_layers=cfg.n_layers + 1, d_model=2 * cfg.d_model,
                                          head_dim=2 * cfg.head_dim, d_ff=2 * cfg.d_ff,
                                          name=f"{name}_x2")
    return shapes


def other_shapes() -> dict:
    from bigcompute.configs import CNNConfig, LSTMConfig, MLPConfig, ResNetConfig

    return {
        "mlp_100_500_500_10": MLPConfig((100, 500, 500, 10)),
        "mlp_784_256_10": MLPConfig((784, 256, 10)),
        "cnn": CNNConfig(),
        "cnn_rgb": CNNConfig(in_channels=3, image_size=32, channels=(16, 32, 64)),
        "lstm_lm": LSTMConfig(hidden_size=32, n_layers=2, vocab_size=50, embed_dim=16),
        "lstm_features": LSTMConfig(hidden_size=24, n_layers=1, input_size=10, n_outputs=3),
        "lstm_classifier": LSTMConfig(hidden_size=24, n_layers=2, input_size=10, n_outputs=3,
                                      output="last_step"),
        "resnet_small": ResNetConfig(blocks=(1, 1), width=8, image_size=32, n_classes=10),
        "resnet_basic": ResNetConfig(blocks=(1, 1, 1), bottleneck=False, width=8,
                                     image_size=32),
    }


def _row(quantity, shape, settings, predicted, measured):
    error = predicted / measured - 1 if measured else (0.0 if predicted == measured else None)
    return {"quantity": quantity, "shape": shape, "settings": settings,
            "predicted": float(predicted), "measured": float(measured), "error": error}


def _module(cfg, **kw):
    from bigcompute.lab import nets
    from bigcompute.configs import LSTMConfig

    if isinstance(cfg, LSTMConfig):
        return nets.build(cfg, unrolled=True, **kw)
    return nets.build(cfg, **kw)


def _seq(cfg, seq):
    from bigcompute.configs import LSTMConfig, TransformerConfig

    return seq if isinstance(cfg, (TransformerConfig, LSTMConfig)) else None


# ---------------------------------------------------------------- parameters and FLOPs

def params_rows(shapes) -> list[dict]:
    from bigcompute import catalog, counts

    rows = []
    for name, cfg in shapes.items():
        measured = sum(p.numel() for p in _module(cfg).parameters())
        rows.append(_row("params", name, {}, counts.param_count(cfg), measured))
    for name in catalog.models():  # the catalogue's real sizes, built on the meta device
        measured = sum(p.numel() for p in _module(catalog.model(name), device="meta").parameters())
        rows.append(_row("params", name, {"catalogue": True}, counts.param_count(name),
                         measured))
    return rows


def flops_rows(transformers, others, unsupported: list) -> list[dict]:
    import torch

    from bigcompute import catalog, counts
    from bigcompute.lab import measure, nets
    from bigcompute.configs import TransformerConfig

    rows = []
    for name, cfg in {**transformers, **others}.items():
        pairs = WHISPER_BATCH_SEQ if name.startswith("whisper") else BATCH_SEQ
        for batch, seq in pairs:
            s = _seq(cfg, seq)
            torch.manual_seed(0)
            inputs = nets.example_inputs(cfg, batch, s)
            # forward at the smaller shape, forward + backward at the larger one
            for pass_ in ("forward",) if (batch, seq) != pairs[-1] else ("train",):
                measured = measure.count_flops(_module(cfg), inputs, pass_)
                rows.append(_row("flops", name, {"batch": batch, "seq": s, "pass": pass_,
                                                 "attention": "naive"},
                                 counts.flops(cfg, batch, s, pass_), measured))
            if not isinstance(cfg, TransformerConfig) or (batch, seq) != pairs[-1]:
                continue  # recomputation and flash attention at the larger shape only
            for recompute in ("selective", "full"):
                settings = {"batch": batch, "seq": s, "pass": "train", "attention": "naive",
                            "recompute": recompute}
                try:
                    measured = measure.count_flops(_module(cfg).set_recompute(recompute),
                                                   inputs, "train")
                except RuntimeError as exc:  # the module's own limit, reported as such
                    unsupported.append({"shape": name, "settings": settings,
                                        "reason": f"RuntimeError: {str(exc).split('.')[0]}"})
                    continue
                rows.append(_row("flops", name, settings,
                                 counts.flops(cfg, batch, s, "train", recompute=recompute),
                                 measured))
            # flash attention: scaled_dot_product_attention is counted on the meta device
            settings = {"batch": batch, "seq": s, "pass": "forward", "attention": "flash",
                        "device": "meta"}
            measured = _meta_flops(nets.build(cfg, device="meta").set_attention("flash"),
                                   cfg, batch, s, name, settings, unsupported)
            if measured is not None:
                rows.append(_row("flops", name, settings,
                                 counts.flops(cfg, batch, s, attention="flash"), measured))
    for name in catalog.models():  # every catalogued model at batch 1, on the meta device
        cfg = catalog.model(name)
        seq = min(cfg.max_seq_len, 2048) if isinstance(cfg, TransformerConfig) else None
        if isinstance(cfg, TransformerConfig) and cfg.frontend == "patches":
            seq = None
        settings = {"batch": 1, "seq": seq, "pass": "forward", "attention": "naive",
                    "device": "meta", "catalogue": True}
        measured = _meta_flops(nets.build(cfg, device="meta"), cfg, 1, seq, name, settings,
                               unsupported)
        if measured is not None:
            rows.append(_row("flops", name, settings, counts.flops(cfg, 1, seq), measured))
    return rows


def _meta_flops(module, cfg, batch, seq, name, settings, unsupported):
    """FlopCounterMode on the meta device; None (and a note) where the module cannot run
    there: a mixture of experts routes tokens by value (torch.nonzero has no meta kernel)."""
    from bigcompute.lab import measure, nets

    try:
        return measure.count_flops(module, nets.example_inputs(cfg, batch, seq, device="meta"))
    except NotImplementedError as exc:
        unsupported.append({"shape": name, "settings": settings,
                            "reason": f"meta device: {str(exc).split('.')[0]}"})
        return None


def sdpa_on_cpu_row(cfg) -> dict:
    """FlopCounterMode's own limit: on CPU it counts scaled_dot_product_attention as 0."""
    from bigcompute import counts
    from bigcompute.lab import measure, nets

    module = nets.build(cfg).set_attention("flash")
    measured = measure.count_flops(module, nets.example_inputs(cfg, 3, 40))
    return _row("flops_flash_on_cpu", cfg.name, {"batch": 3, "seq": 40, "pass": "forward",
                                                "attention": "flash", "device": "cpu"},
                counts.flops(cfg, 3, 40, attention="flash"), measured)


# ---------------------------------------------------------------- activations and KV cache

def _saved_bytes(cfg, batch, seq, precision, attention, recompute):
    import torch

    from bigcompute.lab import measure, nets

    torch.manual_seed(0)
    dtype = torch.bfloat16 if precision == "bf16" else None
    module = nets.build(cfg, dtype=dtype).set_attention(attention).set_recompute(recompute)
    inputs = nets.example_inputs(cfg, batch, seq)
    if dtype is not None:
        inputs = tuple(x.to(dtype) if x.is_floating_point() else x for x in inputs)
    loss = None
    if cfg.has_lm_head:
        loss = measure.lm_loss(torch.randint(0, cfg.vocab_size, (batch, seq)))
    if precision == "amp-bf16":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return measure.saved_activation_bytes(module, inputs, loss)
    return measure.saved_activation_bytes(module, inputs, loss)


def activation_rows(transformers) -> tuple[list[dict], list[dict]]:
    from bigcompute import memory

    rows, unsupported = [], []
    for name, cfg in transformers.items():
        batch, seq = (WHISPER_BATCH_SEQ if name.startswith("whisper") else BATCH_SEQ)[-1]
        for precision in PRECISIONS:
            for attention in ATTENTIONS:
                # every recomputation policy on the base shapes; none on the wider ones
                for recompute in RECOMPUTES if not name.endswith("_x2") else (None,):
                    settings = {"batch": batch, "seq": seq, "precision": precision,
                                "attention": attention, "recompute": recompute}
                    try:
                        predicted = memory.activation_bytes(cfg, batch, seq, precision,
                                                            attention, recompute)
                        measured = _saved_bytes(cfg, batch, seq, precision, attention,
                                                recompute)
                    except (ValueError, NotImplementedError, RuntimeError) as exc:
                        unsupported.append({"shape": name, "settings": settings,
                                            "reason": f"{type(exc).__name__}: {exc}"[:200]})
                        continue
                    row = _row("activation_bytes", name, settings, predicted.total, measured)
                    row["weight_copies"] = getattr(predicted, "weight_copies", 0.0)
                    rows.append(row)
    return rows, unsupported


def kv_rows(transformers) -> list[dict]:
    import torch

    from bigcompute import memory
    from bigcompute.lab import nets

    rows = []
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    for name, cfg in transformers.items():
        if cfg.arch != "decoder":
            continue
        module = nets.build(cfg).eval()
        for batch, max_len in ((1, 8), (3, 12), (2, 64)):
            for dtype_name, dtype in dtypes.items():
                cache = nets.KVCache(cfg, batch, max_len, dtype=dtype)
                if dtype is torch.float32:  # the model writes its prompt into the cache
                    with torch.no_grad():
                        module(torch.randint(0, cfg.vocab_size, (batch, 5)), cache=cache)
                    assert cache.length == 5, "the model did not fill its KV cache"
                rows.append(_row("kv_cache_bytes", name, {"batch": batch, "max_len": max_len,
                                                          "dtype": dtype_name},
                                 memory.kv_cache_bytes(cfg, batch, max_len, dtype_name),
                                 cache.nbytes()))
    return rows


# ---------------------------------------------------------------- published runs

def published_rows() -> list[dict]:
    from bigcompute import published

    urls = {r["id"]: r["citation"].get("url") for r in published.runs()}
    return [{"run": rep.run_id, "output": rep.output, "unit": rep.unit,
             "published": rep.published, "computed": rep.computed, "error": rep.error,
             "tolerance": rep.tolerance, "within_tolerance": abs(rep.error) <= rep.tolerance,
             "citation": rep.citation, "url": urls.get(rep.run_id)}
            for rep in published.reproductions()]


# ---------------------------------------------------------------- summary

def summarise(rows: list[dict], key=None) -> dict:
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(key(r) if key else r["quantity"], []).append(r)
    return {k: {"cases": len(v), "exact": sum(r["predicted"] == r["measured"] for r in v),
                "max_abs_error": max(abs(r["error"]) for r in v),
                "worst": max(v, key=lambda r: abs(r["error"]))}
            for k, v in groups.items()}


def main() -> dict:
    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    transformers, others = transformer_shapes(), other_shapes()
    sections, unsupported_flops = {}, []

    def section(name, fn, *args):
        t = time.perf_counter()
        out = fn(*args)
        sections[name] = time.perf_counter() - t
        return out

    rows = section("params", params_rows, {**transformers, **others})
    rows += section("flops", flops_rows, transformers, others, unsupported_flops)
    acts, unsupported = section("activation_bytes", activation_rows, transformers)
    rows += acts + section("kv_cache_bytes", kv_rows, transformers)
    result = {
        "machine": _bench.machine(),
        "rows": rows,
        "summary": summarise(rows),
        "activation_by_precision": summarise(acts, key=lambda r: r["settings"]["precision"]),
        "activation_unsupported": unsupported,
        "flops_unsupported": unsupported_flops,
        "flops_flash_on_cpu": sdpa_on_cpu_row(transformers["gpt"]),
        "published": published_rows(),
        "targets": {"params": 0.0, "flops": 0.0, "activation_bytes": 0.05,
                    "kv_cache_bytes": 0.0, "published": "each run's tolerance (5-10%)"},
        "seconds": time.perf_counter() - t0,
        "seconds_by_section": sections,
    }
    _bench.write("accuracy", result, markdown(result))
    return result


def markdown(r: dict) -> list[str]:
    names = {"params": "parameters", "flops": "matmul FLOPs (FlopCounterMode)",
             "activation_bytes": "activation bytes saved for backward",
             "kv_cache_bytes": "KV-cache bytes"}
    lines = ["# Accuracy", "", _bench.machine_line(r["machine"]), "",
             "| prediction | cases | exactly equal | max relative error | target |",
             "|---|---|---|---|---|"]
    for k, s in r["summary"].items():
        target = r["targets"][k]
        lines.append(f"| {names[k]} | {s['cases']} | {s['exact']} | {s['max_abs_error']:.2%} |"
                     f" {'exact' if target == 0 else f'≤ {target:.0%}'} |")
    lines += ["", "| activation bytes by precision | cases | max relative error | worst case |",
              "|---|---|---|---|"]
    for k, s in r["activation_by_precision"].items():
        w = s["worst"]
        lines.append(f"| {k} | {s['cases']} | {s['max_abs_error']:.2%} | {w['shape']}, "
                     f"{w['settings']['attention']}, recompute {w['settings']['recompute']}"
                     f" ({w['error']:+.2%}) |")
    if r["activation_unsupported"]:
        lines.append(f"\n{len(r['activation_unsupported'])} activation settings not measured "
                     "(the module refuses them): "
                     + "; ".join(sorted({f"{u['shape']}: {u['reason'][:80]}"
                                         for u in r["activation_unsupported"]}))[:600])
    if r["flops_unsupported"]:
        lines.append("\nFLOPs not measured: " + "; ".join(
            f"{u['shape']} ({u['settings']['attention']} attention, recompute "
            f"{u['settings'].get('recompute')}): {u['reason']}"
            for u in r["flops_unsupported"]))
    cpu = r["flops_flash_on_cpu"]
    lines += ["", (f"FlopCounterMode on CPU with flash attention ({cpu['shape']}): counts "
              f"{cpu['measured']:,.0f} of the {cpu['predicted']:,.0f} FLOPs it counts on the "
              f"meta device (misses {1 - cpu['measured'] / cpu['predicted']:.1%}): torch 2.13 "
              "counts CPU scaled_dot_product_attention as 0."), "",
              "| published run | output | published | computed | error | tolerance |",
              "|---|---|---|---|---|---|"]
    for p in r["published"]:
        lines.append(f"| {p['run']} | {p['output']} ({p['unit']}) | {p['published']:.4g} | "
                     f"{p['computed']:.4g} | {p['error']:+.2%} | ±{p['tolerance']:.0%} |")
    n_ok = sum(p["within_tolerance"] for p in r["published"])
    lines.append(f"\n{n_ok} of {len(r['published'])} published outputs within tolerance; "
                 f"largest error {max(abs(p['error']) for p in r['published']):.2%}.")
    return lines


if __name__ == "__main__":
    main()
