"""Run every benchmark and write benchmarks/results/SUMMARY.md (what `make bench` does).

    python benchmarks/run_all.py                 # speed, accuracy, compare, notebooks
    python benchmarks/run_all.py speed accuracy  # only these

Each benchmark runs in its own process (a fresh interpreter: no benchmark warms another's
caches) and writes results/<name>.json and results/<name>.md; the notebooks run last, as the
slowest. The summary puts every figure beside its target.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import _bench

ORDER = ("speed", "accuracy", "compare", "notebooks")
SCRIPTS = {name: f"bench_{name}.py" for name in ORDER}
BUDGET_SECONDS = 600  # `make bench` on 2 cores


def run(names) -> dict[str, float]:
    seconds = {}
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(_bench.ROOT / "benchmarks" / SCRIPTS[name])],
                       cwd=_bench.ROOT / "benchmarks", check=True)
        seconds[name] = time.perf_counter() - t0
    return seconds


def load(name: str) -> dict | None:
    path = _bench.RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def summary(seconds: dict[str, float]) -> list[str]:
    sec, met = _bench.seconds_text, _bench.met
    speed, acc, cmp_, nbs = (load(n) for n in ORDER)
    lines = ["# Benchmarks: summary", "",
             "Written by `make bench` (benchmarks/run_all.py); details in the other files here.",
             ""]
    if speed:
        lines.append(_bench.machine_line(speed["machine"]))
    lines += ["", "| figure | measured | target | met |", "|---|---|---|---|"]
    if speed:
        from bigcompute.validation import benchmarks

        for r in benchmarks.speed_rows(speed):
            lines.append(f"| {r['figure']} | {sec(r['seconds'])} | ≤ {sec(r['target_seconds'])} "
                         f"| {met(r['seconds'], r['target_seconds'])} |")
        lines.append(f"| `import bigcompute` pulls in torch | {speed['import_pulls_in_torch']} "
                     "| False | " + ("**NO**" if speed["import_pulls_in_torch"] else "yes") + " |")
    if nbs:
        slowest = max(nbs["notebooks"], key=lambda n: n["seconds"])["notebook"]
        lines += [(f"| slowest notebook ({slowest}) | "
                  f"{nbs['slowest_notebook_seconds']:.1f} s | ≤ 60 s | "
                  f"{met(nbs['slowest_notebook_seconds'], 60)} |"),
                  (f"| all {len(nbs['notebooks'])} notebooks, {nbs['workers']} at a time "
                  f"(their own times add up to {nbs['sum_notebook_seconds']:.0f} s) | "
                  f"{nbs['all_notebooks_seconds']:.0f} s | ≤ 300 s | "
                  f"{met(nbs['all_notebooks_seconds'], 300)} |")]
        if nbs["failed"]:
            lines.append(f"| notebooks that failed | {', '.join(nbs['failed'])} | none | "
                         "**NO** |")
    if acc:
        names = {"params": "parameters", "flops": "matmul FLOPs",
                 "activation_bytes": "activation bytes", "kv_cache_bytes": "KV-cache bytes"}
        for k, v in acc["summary"].items():
            target = acc["targets"][k]
            lines.append(f"| {names[k]}: max relative error over {v['cases']} cases | "
                         f"{v['max_abs_error']:.2%} | {'0 (exact)' if target == 0 else f'≤ {target:.0%}'}"
                         f" | {met(v['max_abs_error'], target)} |")
        for k, v in acc["activation_by_precision"].items():
            lines.append(f"| activation bytes, {k} ({v['cases']} cases) | "
                         f"{v['max_abs_error']:.2%} | ≤ 5% | {met(v['max_abs_error'], 0.05)} |")
        pub = acc["published"]
        worst = max(pub, key=lambda p: abs(p["error"]) / p["tolerance"])
        lines.append(f"| published outputs reproduced within their tolerance | "
                     f"{sum(p['within_tolerance'] for p in pub)} of {len(pub)} (largest error "
                     f"{abs(worst['error']):.1%}, {worst['run']}) | all | "
                     f"{'yes' if all(p['within_tolerance'] for p in pub) else '**NO**'} |")
    total = sum(seconds.values())
    if seconds:
        lines.append(f"| `make bench` wall time ({', '.join(f'{k} {v:.0f} s' for k, v in seconds.items())}) | "
                     f"{total:.0f} s | ≤ {BUDGET_SECONDS} s | {met(total, BUDGET_SECONDS)} |")
    if cmp_:
        lines += ["", ("Comparison with other calculators (FLOPs error against measured truth; "
                  "time per estimate):"), "",
                  "| input | tool | FLOPs error | time |", "|---|---|---|---|"]
        for row in cmp_["rows"]:
            if "failed" in row:
                lines.append(f"| {row['input']} | {row['tool']} | failed: "
                             f"{row['failed'][:80]} | |")
            else:
                lines.append(f"| {row['input']} | {row['tool']} | {row['flops_error']:+.2%} | "
                             f"{sec(row['seconds'])} |")
    return lines


def main(argv: list[str]) -> None:
    names = [n for n in ORDER if n in argv] or list(ORDER)
    unknown = set(argv) - set(ORDER)
    if unknown:
        sys.exit(f"unknown benchmark(s) {sorted(unknown)}; known: {', '.join(ORDER)}")
    seconds = run(names)
    if set(names) == set(ORDER):
        (_bench.RESULTS / "run_seconds.json").write_text(json.dumps(seconds, indent=2) + "\n")
    else:  # a partial run keeps the last full run's timings
        previous = _bench.RESULTS / "run_seconds.json"
        seconds = json.loads(previous.read_text()) if previous.exists() else {}
    lines = summary(seconds)
    (_bench.RESULTS / "SUMMARY.md").write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
