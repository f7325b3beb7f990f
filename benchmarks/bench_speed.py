"""Speed of the library: import, one estimate, a 10,000-configuration sweep, a meta-device FLOP
trace of a 7B model, and a widget update (recompute + redraw) of every explorer.

    python benchmarks/bench_speed.py      # writes benchmarks/results/speed.json and speed.md

Medians over repeated runs; these machines are noisy, so compare ratios, not single times.
"""

from __future__ import annotations

import cProfile
import inspect
import io
import pstats
import statistics
import subprocess
import sys
import time

import _bench

TARGETS = {"import_seconds": 0.2, "estimate_seconds": 1e-4, "sweep_10k_seconds": 1.0,
           "meta_trace_7b_seconds": 0.5, "widget_update_seconds": 0.1}
HEAVY_MODULES = ("torch", "matplotlib", "ipywidgets", "pandas", "scipy")


# ---------------------------------------------------------------- import

def import_time(repeats: int = 7) -> dict:
    """Median wall time of `import bigcompute` in a fresh interpreter, and which heavy modules
    (torch, matplotlib, ...) it pulled in (none, by design)."""
    code = ("import time, sys; t = time.perf_counter(); import bigcompute; "
            "dt = time.perf_counter() - t; "
            f"print(dt, ','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules) or '-')")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.split() for _ in range(repeats)]
    heavy = sorted({m for r in runs for m in r[1].split(",") if m != "-"})
    return {"seconds": statistics.median(float(r[0]) for r in runs), "repeats": repeats,
            "heavy_modules_imported": heavy, "torch_imported": "torch" in heavy}


# ---------------------------------------------------------------- one estimate

def estimate_time(repeats: int = 2000) -> dict:
    """One estimate, warm: parameters, training FLOPs, training memory and time of LLaMA-2-7B."""
    import bigcompute as bc

    cfg = bc.model("llama2-7b")

    def one():
        bc.param_count(cfg)
        bc.flops(cfg, 1, 4096, "train")
        bc.training_memory(cfg, 1, 4096)
        bc.training_time(6 * 6.7e9 * 2e12, "a100-80gb", 2048, mfu=0.4)

    return _bench.timed(one, repeats, warmup=10)


# ---------------------------------------------------------------- 10,000 configurations

SWEEP = {"base": "llama2-7b", "n_layers": list(range(8, 88, 8)),
         "d_model": list(range(1024, 8192 + 1, 768)), "batch": [1, 2, 3, 4, 6, 8, 12, 16, 24, 32],
         "seq": [256, 512, 768, 1024, 1536, 2048, 2560, 3072, 3584, 4096],
         "precision": "amp-bf16", "attention": "flash", "device": "h100-sxm", "mfu": 0.4}


def _sweep_inputs():
    import numpy as np

    grid = np.meshgrid(SWEEP["n_layers"], SWEEP["d_model"], SWEEP["batch"], SWEEP["seq"],
                       indexing="ij")
    layers, d_model, batch, seq = (g.ravel() for g in grid)
    return {"n_layers": layers, "d_model": d_model, "n_heads": d_model // 128,
            "batch": batch, "seq": seq}


def sweep_scalar(inputs) -> list[tuple]:
    """The sweep one configuration at a time with the scalar functions (a config per shape)."""
    import bigcompute as bc

    base, dev = bc.model(SWEEP["base"]), bc.device(SWEEP["device"])
    kw = {"precision": SWEEP["precision"], "attention": SWEEP["attention"]}
    ratio = base.d_ff / base.d_model
    out, cfg, shape = [], None, None
    for layers, d, h, b, s in zip(*(inputs[k].tolist() for k in
                                    ("n_layers", "d_model", "n_heads", "batch", "seq"))):
        if (layers, d) != shape:
            shape = (layers, d)
            cfg = base.scaled(n_layers=layers, d_model=d, n_heads=h, n_kv_heads=h,
                              head_dim=d // h, d_ff=round(d * ratio))
        params = bc.param_count(cfg)
        train = bc.flops(cfg, b, s, "train", attention=SWEEP["attention"])
        total = bc.training_memory(cfg, b, s, **kw).total
        seconds = bc.training_time(train, dev, 1, mfu=SWEEP["mfu"])
        out.append((params, train, total, seconds, total <= dev.memory_bytes))
    return out


def sweep_vectorised(inputs) -> dict:
    from bigcompute import sweep

    return sweep.transformer_sweep(SWEEP["base"], **inputs, n_kv_heads=inputs["n_heads"],
                                   precision=SWEEP["precision"], attention=SWEEP["attention"],
                                   device=SWEEP["device"], mfu=SWEEP["mfu"])


def sweep_time() -> dict:
    import numpy as np

    inputs = _sweep_inputs()
    n = len(inputs["batch"])
    scalar = _bench.timed(lambda: sweep_scalar(inputs), repeats=3)
    vector = _bench.timed(lambda: sweep_vectorised(inputs), repeats=7)
    # the two agree, element by element
    rows = np.array([r[:4] for r in sweep_scalar(inputs)], dtype=float)
    grid = sweep_vectorised(inputs)
    cols = ("params", "train_flops", "memory_bytes", "step_seconds")
    worst = max(float(np.max(np.abs(grid[c] / rows[:, i] - 1))) for i, c in enumerate(cols))
    fits = int(grid["fits"].sum())
    return {"configurations": n, "scalar_seconds": scalar["seconds"],
            "scalar_cpu_seconds": scalar["cpu_seconds"], "vectorised_seconds": vector["seconds"],
            "vectorised_cpu_seconds": vector["cpu_seconds"],
            "speedup": scalar["seconds"] / vector["seconds"], "max_relative_difference": worst,
            "configurations_that_fit": fits, "settings": {k: v for k, v in SWEEP.items()}}


# ---------------------------------------------------------------- 7B meta trace

def meta_trace_time(repeats: int = 5) -> dict:
    """Build LLaMA-2-7B on the meta device and count a 4096-token forward with FlopCounterMode."""
    import bigcompute as bc
    from bigcompute.lab import measure, nets

    cfg = bc.model("llama2-7b")

    def one():
        module = nets.build(cfg, device="meta")
        measure.count_flops(module, nets.example_inputs(cfg, 1, 4096, device="meta"))

    result = _bench.timed(one, repeats)
    result["top"] = _profile_top(one)
    return result


# ---------------------------------------------------------------- widget updates

def _explorer_factories():
    """Every function in `widgets` that returns an Explorer, with the keyword arguments it
    requires (a price and a grid intensity, taken from the library's cited reference data)."""
    from bigcompute import published, widgets
    from bigcompute import reference_figures as rf

    known = {"price_per_device_hour": rf.price("h100-sxm").dollars_per_device_hour,
             "grid_kg_per_kwh": published.run("llama-65b-energy")["inputs"]["grid_kg_per_kwh"]}
    found = []
    for name, fn in widgets.explorer_factories().items():
        required = [p.name for p in inspect.signature(fn).parameters.values()
                    if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
                    and p.default is p.empty]
        found.append((name, fn, {k: known.get(k) for k in required}))
    return found


def _package(path: str, func: str = "") -> str:
    """The package a profiled function belongs to: matplotlib, torch, bigcompute, PIL, ...
    (a built-in method is the package named in it: matplotlib.ft2font.set_text)."""
    if path == "~":
        for package, marks in (("matplotlib", ("matplotlib",)), ("PIL", ("Imaging",)),
                               ("torch", ("torch",)), ("numpy", ("numpy",))):
            if any(m in func for m in marks):
                return package
        return "python"
    if "site-packages/" in path:
        return path.split("site-packages/")[1].split("/")[0].split(".")[0]
    if "/bigcompute/" in path:
        return "bigcompute"
    return "python" if path.startswith(("/", "<")) or path == "~" else path


def _profile_top(fn, n: int = 6) -> dict:
    """cProfile of one call: self time by package (where the time goes), and the functions
    with the most self time."""
    profile = cProfile.Profile()
    profile.runcall(fn)
    stats = pstats.Stats(profile, stream=io.StringIO())
    by_package: dict[str, float] = {}
    for (file, _line, func), (_cc, _nc, tt, _cum, _callers) in stats.stats.items():
        package = _package(file, func)
        by_package[package] = by_package.get(package, 0.0) + tt
    total = sum(by_package.values())
    top = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:n]
    return {"total_seconds": total,
            "self_time_share_by_package": {k: v / total for k, v in sorted(
                by_package.items(), key=lambda kv: -kv[1]) if v / total >= 0.01},
            "top_self_time": [{"function": f"{f.split('site-packages/')[-1]}:{line}({func})",
                               "share": v[2] / total} for (f, line, func), v in top]}


def _timing(fn, spent: dict, key: str):
    """fn, adding the wall time of each call to spent[key]."""
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[key] += time.perf_counter() - t
    return wrapper


def _moved_value(control):
    """Another valid value for a control, near its current one (None: leave it alone)."""
    if getattr(control, "disabled", False):
        return None
    if isinstance(control.value, bool):
        return not control.value
    options = getattr(control, "options", None)
    if options:
        index = control.index
        if isinstance(index, tuple):  # a multiple selection: one item fewer, or one more
            return index[:-1] if len(index) > 1 else (*index, (index[0] + 1) % len(options))
        return (index + 1) % len(options)
    if isinstance(control.value, tuple):  # a range slider: move its lower end
        lo, hi = control.value
        step = control.step or 1
        return (lo + step, hi) if lo + step <= hi else (lo - step, hi)
    value, step = control.value, getattr(control, "step", None) or 1
    if hasattr(control, "base"):  # a log slider: step is in the exponent
        moved = value * control.base ** step
    elif not hasattr(control, "max"):  # an unbounded number box
        moved = value * 2
    else:
        moved = value + step
    if hasattr(control, "max") and moved > control.max:
        moved = value / control.base ** step if hasattr(control, "base") else value - step
    return moved


def _move_and_back(explorer) -> list:
    """Zero-argument calls that each move one control (to a neighbouring value, or back): the
    control's observer runs the explorer's update, as a reader's slider move does."""
    calls = []
    for control in explorer.controls.values():
        moved = _moved_value(control)
        if moved is None:
            continue
        attr = "index" if getattr(control, "options", None) else "value"
        start = getattr(control, attr)
        for target in (moved, start):
            calls.append(lambda c=control, a=attr, t=target: setattr(c, a, t))
    return calls


def widget_times(repeats: int = 7) -> list[dict]:
    """Each explorer's update() (the callback its controls call): median wall and CPU time,
    and how much of the wall time goes to laying the figure out (Figure.tight_layout) and to
    turning it into PNG bytes (plots.WidgetFigure.png), both timed in place during the
    updates. Timed twice: at unchanged settings (``repeats`` times), and with every control
    moved to a neighbouring value and back, the way a reader uses an explorer (a new layout,
    new tick labels and a changed figure size happen only there)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from bigcompute import plots

    rows = []
    for name, factory, kwargs in _explorer_factories():
        if any(v is None for v in kwargs.values()):
            rows.append({"factory": name, "explorer": name, "skipped":
                         f"needs {[k for k, v in kwargs.items() if v is None]}"})
            continue
        t0 = time.perf_counter()
        explorer = factory(**kwargs)
        build = time.perf_counter() - t0
        spent = {"png": 0.0, "tight_layout": 0.0}
        originals = {"png": plots.WidgetFigure.png, "tight_layout": Figure.tight_layout}
        plots.WidgetFigure.png = _timing(originals["png"], spent, "png")
        Figure.tight_layout = _timing(originals["tight_layout"], spent, "tight_layout")
        try:
            explorer.update()
            spent.update(png=0.0, tight_layout=0.0)
            update = _bench.timed(explorer.update, repeats, warmup=0)
            still = dict(spent)
            spent.update(png=0.0, tight_layout=0.0)
            moves = [_bench.timed(call, 1, warmup=0) for call in _move_and_back(explorer)]
        finally:
            plots.WidgetFigure.png = originals["png"]
            Figure.tight_layout = originals["tight_layout"]
        moved = [m["seconds"] for m in moves]
        rows.append({"factory": name, "explorer": explorer.spec.name, "build_seconds": build,
                     "update_seconds": update["seconds"],
                     "update_cpu_seconds": update["cpu_seconds"],
                     # means over the timed updates (the update time is a median)
                     "png_seconds": still["png"] / repeats,
                     "tight_layout_seconds": still["tight_layout"] / repeats,
                     "repeats": repeats,
                     "moves": len(moved),
                     "move_update_seconds": statistics.median(moved),
                     "move_update_cpu_seconds": statistics.median(m["cpu_seconds"]
                                                                  for m in moves),
                     "move_update_max_seconds": max(moved),
                     "move_png_seconds": spent["png"] / len(moved),
                     "move_tight_layout_seconds": spent["tight_layout"] / len(moved)})
    return rows


def figure_png_alternatives(repeats: int = 7) -> dict:
    """What the redraw costs with and without bbox_inches='tight' (a candidate fix), on the
    parameter explorer's chart at its defaults."""
    import matplotlib

    matplotlib.use("Agg")
    from bigcompute import counts, plots
    from bigcompute.explorers import parameters

    cfg = parameters.explorer_config(**parameters.PARAMETER_DEFAULTS)

    def build():
        return plots.parameter_breakdown_chart({"GPT-2 small": counts.parameter_breakdown(cfg)},
                                               width=6.2, height_per_model=2.2)

    fig = build()

    def plain_png():
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)

    return {"figure_build_seconds": _bench.median_time(build, repeats),
            "figure_png_tight_seconds": _bench.median_time(lambda: plots.figure_png(fig, 80),
                                                           repeats),
            "savefig_without_tight_bbox_seconds": _bench.median_time(plain_png, repeats),
            "summary_html_seconds": _bench.median_time(
                lambda: parameters.parameter_summary_html(cfg), repeats)}


def slowest_widget_profile(rows) -> dict:
    timed = [r for r in rows if "update_seconds" in r]
    worst = max(timed, key=lambda r: r["move_update_seconds"])
    factories = {name: (fn, kw) for name, fn, kw in _explorer_factories()}
    fn, kwargs = factories[worst["factory"]]
    explorer = fn(**kwargs)
    return {"factory": worst["factory"], "top": _profile_top(explorer.update)}


# ---------------------------------------------------------------- report

def main() -> dict:
    result = {"machine": _bench.machine()}
    result["import"] = import_time()
    result["estimate"] = estimate_time()
    result["estimate_seconds"] = result["estimate"]["seconds"]
    result["sweep"] = sweep_time()
    result["meta_trace_7b"] = meta_trace_time()
    result["meta_trace_7b_seconds"] = result["meta_trace_7b"]["seconds"]
    result["widgets"] = widget_times()
    result["redraw_breakdown"] = figure_png_alternatives()
    result["slowest_widget_profile"] = slowest_widget_profile(result["widgets"])
    timed = [r for r in result["widgets"] if "update_seconds" in r]
    worst = max(timed, key=lambda r: r["move_update_seconds"])
    # the target applies to an update after a control moves, as a reader sees it
    result["widget_update_seconds"] = statistics.median(r["move_update_seconds"] for r in timed)
    result["widget_update_worst_seconds"] = worst["move_update_seconds"]
    result["widget_update_worst_explorer"] = worst["explorer"]
    result["widget_single_update_max_seconds"] = max(r["move_update_max_seconds"]
                                                     for r in timed)
    result["import_seconds"] = result["import"]["seconds"]
    result["import_pulls_in_torch"] = result["import"]["torch_imported"]
    result["sweep_10k_seconds"] = min(result["sweep"]["scalar_seconds"],
                                      result["sweep"]["vectorised_seconds"])
    result["targets"] = TARGETS
    _bench.write("speed", result, markdown(result))
    return result


def markdown(r: dict) -> list[str]:
    s = r["sweep"]
    timed = [w for w in r["widgets"] if "update_seconds" in w]
    median_cpu = statistics.median(w["move_update_cpu_seconds"] for w in timed)
    worst = max(timed, key=lambda w: w["move_update_seconds"])
    rows = [("`import bigcompute` (fresh interpreter)", r["import_seconds"], None,
             TARGETS["import_seconds"]),
            ("one estimate (params, FLOPs, memory, time of LLaMA-2-7B), warm",
             r["estimate_seconds"], r["estimate"]["cpu_seconds"], TARGETS["estimate_seconds"]),
            ((f"sweep of {s['configurations']:,} configurations, vectorised "
             f"(`sweep.transformer_sweep`)"), s["vectorised_seconds"],
             s["vectorised_cpu_seconds"], TARGETS["sweep_10k_seconds"]),
            ("the same sweep, one configuration at a time", s["scalar_seconds"],
             s["scalar_cpu_seconds"], TARGETS["sweep_10k_seconds"]),
            ("LLaMA-2-7B FLOP trace on the meta device (build + 4096-token forward)",
             r["meta_trace_7b_seconds"], r["meta_trace_7b"]["cpu_seconds"],
             TARGETS["meta_trace_7b_seconds"]),
            (f"widget update after a control moves, median over all {len(timed)} explorers",
             r["widget_update_seconds"], median_cpu, TARGETS["widget_update_seconds"]),
            (f"widget update after a control moves, slowest explorer ({worst['explorer']})",
             worst["move_update_seconds"], worst["move_update_cpu_seconds"],
             TARGETS["widget_update_seconds"])]
    lines = ["# Speed", "", _bench.machine_line(r["machine"]) + " Medians of repeated runs.",
             "", "| measure | median wall time | CPU time | target | met |",
             "|---|---|---|---|---|"]
    lines += [f"| {a} | {_bench.seconds_text(v)} | "
              f"{_bench.seconds_text(c) if c is not None else '-'} | "
              f"{_bench.seconds_text(t)} | {_bench.met(v, t)} |" for a, v, c, t in rows]
    heavy = r["import"]["heavy_modules_imported"]
    lines += ["", (f"`import bigcompute` imports torch: {r['import']['torch_imported']}; "
              f"heavy modules imported: {', '.join(heavy) or 'none'}."),
              (f"Vectorised sweep {s['speedup']:.0f}x faster than the scalar loop; largest "
              f"relative difference between them {s['max_relative_difference']:.1e}."), "",
              ("Explorer updates: each control moved to a neighbouring value and back (the "
               "median and the slowest of those updates, with the mean time spent in "
               "tight_layout and in rendering + PNG encoding), and the update at unchanged "
               "settings."), "",
              ("| explorer | moves | update after a move (median) | slowest move | "
               "tight_layout (mean) | render + PNG (mean) | unchanged settings (median) | "
               "met (≤ 100 ms) |"), "|---|---|---|---|---|---|---|---|"]
    sec = _bench.seconds_text
    for w in r["widgets"]:
        if "update_seconds" in w:
            lines.append(f"| {w['explorer']} | {w['moves']} | {sec(w['move_update_seconds'])} | "
                         f"{sec(w['move_update_max_seconds'])} | "
                         f"{sec(w['move_tight_layout_seconds'])} | "
                         f"{sec(w['move_png_seconds'])} | {sec(w['update_seconds'])} | "
                         f"{_bench.met(w['move_update_seconds'], TARGETS['widget_update_seconds'])}"
                         " |")
        else:
            lines.append(f"| {w['explorer']} | skipped: {w['skipped']} | | | | | | |")
    b = r["redraw_breakdown"]
    lines += ["", ("Parameter explorer's redraw at its defaults: figure built "
              f"{_bench.seconds_text(b['figure_build_seconds'])}, PNG with "
              f"`bbox_inches='tight'` {_bench.seconds_text(b['figure_png_tight_seconds'])}, "
              f"without {_bench.seconds_text(b['savefig_without_tight_bbox_seconds'])}; the "
              f"numbers (HTML table) {_bench.seconds_text(b['summary_html_seconds'])}.")]
    p = r["slowest_widget_profile"]
    for title, prof in ((f"the slowest widget update ({p['factory']})", p["top"]),
                        ("the 7B meta trace", r["meta_trace_7b"]["top"])):
        shares = ", ".join(f"{k} {v:.0%}" for k, v in
                           prof["self_time_share_by_package"].items())
        lines += ["", f"cProfile of {title}: self time by package: {shares}. Most self time:"]
        lines += [f"- {row['share']:.0%} `{row['function']}`" for row in prof["top_self_time"]]
    return lines


if __name__ == "__main__":
    main()
