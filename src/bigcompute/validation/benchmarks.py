"""The benchmarks' recorded results, as tables and figures for the validation appendix.

`make bench` (benchmarks/run_all.py) measures the library against torch, reproduces the
published runs, times the library and the notebooks, and compares it with other calculators;
it writes JSON into ``benchmarks/results/`` (committed). This module reads those files: the
appendix shows what was measured, without measuring again.

    from bigcompute.validation import benchmarks
    acc = benchmarks.load("accuracy")
    benchmarks.accuracy_rows(acc)           # one row per prediction: cases, exact, max error
    benchmarks.predicted_vs_measured_figure(acc)

Pure Python; matplotlib is imported inside the figure functions only.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import check_choice

__all__ = [
    "NAMES",
    "QUANTITY_NAMES",
    "RESULTS_DIR",
    "accuracy_rows",
    "activation_outliers",
    "activation_rows",
    "comparison_figure",
    "comparison_rows",
    "load",
    "machine_text",
    "notebook_rows",
    "predicted_vs_measured_figure",
    "published_errors_figure",
    "published_rows",
    "speed_rows",
    "unsupported_rows",
]

# src/bigcompute/validation/benchmarks.py -> the repository root (an editable install, as the
# book uses)
RESULTS_DIR = Path(__file__).resolve().parents[3] / "benchmarks" / "results"
NAMES = ("speed", "accuracy", "compare", "notebooks")
QUANTITY_NAMES = {"params": "parameters", "flops": "matmul FLOPs",
                  "activation_bytes": "activation bytes", "kv_cache_bytes": "KV-cache bytes"}


def load(name: str, results_dir: str | Path | None = None) -> dict:
    """One benchmark's recorded results (``benchmarks/results/<name>.json``)."""
    check_choice("name", name, NAMES)
    path = Path(results_dir or RESULTS_DIR) / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `make bench` to record it")
    return json.loads(path.read_text())


def machine_text(result: dict) -> str:
    m = result["machine"]
    return (f"{m['cpu']}, {m['cores']} cores, Python {m['python']}, load average "
            f"{m['load_average_1min']} at the start, {m['date'][:10]}, commit {m['git_commit']}")


# ---------------------------------------------------------------- tables (lists of dicts)

def accuracy_rows(acc: dict) -> list[dict]:
    """Per prediction: cases measured, how many exactly equal, the largest relative error
    and the target (0 = exact)."""
    return [{"prediction": QUANTITY_NAMES[k], "cases": v["cases"], "exact": v["exact"],
             "max_error": v["max_abs_error"], "target": acc["targets"][k],
             "met": v["max_abs_error"] <= acc["targets"][k]}
            for k, v in acc["summary"].items()]


def activation_rows(acc: dict) -> list[dict]:
    """Activation bytes by precision: cases, largest error and where it happens."""
    rows = []
    for precision, v in acc["activation_by_precision"].items():
        w = v["worst"]
        rows.append({"precision": precision, "cases": v["cases"], "exact": v["exact"],
                     "max_error": v["max_abs_error"],
                     "worst": f"{w['shape']}, {w['settings']['attention']} attention, "
                              f"recompute {w['settings']['recompute']}",
                     "worst_error": w["error"]})
    return rows


def activation_outliers(acc: dict, threshold: float = 0.05) -> list[dict]:
    """The activation cases whose relative error exceeds ``threshold``."""
    return [{"shape": r["shape"], **{k: r["settings"][k] for k in
                                     ("precision", "attention", "recompute", "batch", "seq")},
             "predicted": r["predicted"], "measured": r["measured"], "error": r["error"]}
            for r in acc["rows"]
            if r["quantity"] == "activation_bytes" and abs(r["error"]) > threshold]


def unsupported_rows(acc: dict) -> list[dict]:
    """Settings the benchmark could not measure, one row per distinct reason and shape."""
    seen = {}
    for u in acc.get("flops_unsupported", []) + acc.get("activation_unsupported", []):
        key = (u["shape"].removesuffix("_x2"), u["reason"])
        seen.setdefault(key, {"shape": key[0], "reason": u["reason"], "cases": 0})
        seen[key]["cases"] += 1
    return list(seen.values())


def published_rows(acc: dict) -> list[dict]:
    """Each published output: the value printed, the library's, the error and the source."""
    return [{"run": p["run"], "output": f"{p['output']} ({p['unit']})",
             "published": p["published"], "computed": p["computed"], "error": p["error"],
             "tolerance": p["tolerance"], "source": p["citation"], "url": p.get("url")}
            for p in acc["published"]]


def comparison_rows(cmp_: dict) -> list[dict]:
    """Each tool on each input: FLOPs and parameter error against the truth, time per
    estimate (None where the tool failed, with the reason)."""
    rows = []
    for r in cmp_["rows"]:
        row = {"input": r["input"], "tool": r["tool"]}
        if "failed" in r:
            row.update(flops=None, flops_error=None, params_error=None, seconds=None,
                       notes=f"failed: {r['failed']}")
        else:
            row.update(flops=r["flops"], flops_error=r["flops_error"],
                       params_error=r["params_error"], seconds=r["seconds"], notes=r["unit"])
        rows.append(row)
    return rows


def speed_rows(speed: dict) -> list[dict]:
    """Every timed figure with its target (medians of repeated runs, wall time)."""
    s = speed["sweep"]
    timed = [w for w in speed["widgets"] if "update_seconds" in w]
    t = speed["targets"]
    rows = [
        ("import bigcompute (fresh interpreter)", speed["import_seconds"],
         t["import_seconds"]),
        ("one estimate: params, FLOPs, memory, time of LLaMA-2-7B", speed["estimate_seconds"],
         t["estimate_seconds"]),
        (f"{s['configurations']:,}-configuration sweep, vectorised", s["vectorised_seconds"],
         t["sweep_10k_seconds"]),
        (f"{s['configurations']:,}-configuration sweep, one at a time", s["scalar_seconds"],
         t["sweep_10k_seconds"]),
        ("LLaMA-2-7B FLOP trace on the meta device", speed["meta_trace_7b_seconds"],
         t["meta_trace_7b_seconds"]),
        (f"widget update after a control moves, median of {len(timed)} explorers",
         speed["widget_update_seconds"], t["widget_update_seconds"]),
        (f"widget update after a control moves, slowest explorer "
         f"({speed['widget_update_worst_explorer']})", speed["widget_update_worst_seconds"],
         t["widget_update_seconds"]),
    ]
    return [{"figure": a, "seconds": v, "target_seconds": tt, "met": v <= tt}
            for a, v, tt in rows]


def notebook_rows(nbs: dict) -> list[dict]:
    return [{"notebook": n["notebook"].removeprefix("notebooks/"), "seconds": n["seconds"],
             "met": n["seconds"] <= nbs["targets"]["each_notebook_seconds"],
             "error": n["error"]} for n in nbs["notebooks"]]


# ---------------------------------------------------------------- figures

_COLOURS = {"params": "#4C72B0", "flops": "#DD8452", "activation_bytes": "#55A868",
            "kv_cache_bytes": "#8172B3"}
_PRECISION_MARKERS = {"fp32": "o", "bf16": "s", "amp-bf16": "^"}


def predicted_vs_measured_figure(acc: dict, threshold: float = 0.05):
    """Left: every prediction against its measurement (log-log, the diagonal is exact).
    Right: the relative error of each case by prediction, activation bytes split by
    precision, with the ±``threshold`` band of the activation target."""
    import matplotlib.pyplot as plt  # here, not at the top: reading results needs no matplotlib

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6),
                                      gridspec_kw={"width_ratios": [1, 1.25]})
    rows = acc["rows"]
    lo = min(min(r["predicted"], r["measured"]) for r in rows if r["measured"] > 0)
    hi = max(max(r["predicted"], r["measured"]) for r in rows)
    left.plot([lo, hi], [lo, hi], color="#999999", lw=1, zorder=0)
    for q, colour in _COLOURS.items():
        pts = [r for r in rows if r["quantity"] == q]
        left.scatter([r["measured"] for r in pts], [r["predicted"] for r in pts], s=12,
                     color=colour, alpha=0.7, label=f"{QUANTITY_NAMES[q]} ({len(pts)})")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("measured with torch")
    left.set_ylabel("predicted by the library")
    left.set_title("Predicted vs measured (every case)", loc="left", fontsize=10)
    left.legend(fontsize=8, loc="upper left")

    groups = [("params", None), ("flops", None), ("kv_cache_bytes", None)]
    groups += [("activation_bytes", p) for p in _PRECISION_MARKERS]
    labels = []
    for i, (q, precision) in enumerate(groups):
        pts = [r for r in rows if r["quantity"] == q
               and (precision is None or r["settings"].get("precision") == precision)]
        errors = [100 * r["error"] for r in pts]
        jitter = [i + 0.3 * ((k * 0.618) % 1 - 0.5) for k in range(len(errors))]
        right.scatter(errors, jitter, s=12, color=_COLOURS[q], alpha=0.7,
                      marker=_PRECISION_MARKERS.get(precision, "o"))
        labels.append(QUANTITY_NAMES[q] + (f"\n{precision}" if precision else ""))
    right.axvspan(-100 * threshold, 100 * threshold, color="#55A868", alpha=0.08)
    right.axvline(0, color="#999999", lw=1)
    right.set_yticks(range(len(groups)), labels, fontsize=8)
    right.invert_yaxis()
    right.set_xlabel("relative error of the prediction (%)")
    right.set_title(f"Relative error per case (shaded: ±{threshold:.0%})", loc="left",
                    fontsize=10)
    for ax in (left, right):
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    plt.close(fig)
    return fig


def published_errors_figure(acc: dict):
    """Each published output's relative error, with its tolerance as a grey bar behind."""
    import matplotlib.pyplot as plt  # here, not at the top: reading results needs no matplotlib

    rows = published_rows(acc)
    fig, ax = plt.subplots(figsize=(8, 0.22 * len(rows) + 1.2))
    ys = range(len(rows))
    ax.barh(ys, [200 * r["tolerance"] for r in rows], left=[-100 * r["tolerance"] for r in rows],
            color="#dddddd", height=0.8, label="tolerance")
    ax.scatter([100 * r["error"] for r in rows], ys, color="#4C72B0", s=14, zorder=3,
               label="library vs published")
    ax.axvline(0, color="#999999", lw=1)
    ax.set_yticks(list(ys), [f"{r['run']}: {r['output'].split(' (')[0]}" for r in rows],
                  fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("relative error (%)")
    ax.set_title("Published runs reproduced from their published inputs", loc="left",
                 fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    plt.close(fig)
    return fig


def comparison_figure(cmp_: dict):
    """Per input, each tool's time per estimate (log) against its FLOPs error: the library
    and the meta-device trace sit at zero error; tools that miss operators sit left of it."""
    import matplotlib.pyplot as plt  # here, not at the top: reading results needs no matplotlib

    rows = [r for r in comparison_rows(cmp_) if r["seconds"] is not None]
    inputs = list(dict.fromkeys(r["input"] for r in comparison_rows(cmp_)))
    tools = list(dict.fromkeys(r["tool"] for r in comparison_rows(cmp_)))
    markers = dict(zip(tools, "o*sDv^Px"))
    fig, axes = plt.subplots(1, len(inputs), figsize=(4.2 * len(inputs), 4), sharey=True,
                             squeeze=False)
    for ax, case in zip(axes[0], inputs):
        for r in (r for r in rows if r["input"] == case):
            ax.scatter(100 * r["flops_error"], r["seconds"], marker=markers[r["tool"]], s=40,
                       label=r["tool"])
        ax.axvline(0, color="#999999", lw=1)
        ax.set_yscale("log")
        ax.set_title(case, loc="left", fontsize=9)
        ax.set_xlabel("FLOPs error vs measured truth (%)")
        ax.spines[["top", "right"]].set_visible(False)
    axes[0, 0].set_ylabel("seconds per estimate")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    plt.close(fig)
    return fig
