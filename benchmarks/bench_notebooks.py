"""Execution time of every notebook under notebooks/, each in a fresh kernel (nbclient).

    python benchmarks/bench_notebooks.py  # writes benchmarks/results/notebooks.json and .md

One run per notebook (a notebook already takes seconds; repeating them all would take longer
than the benchmark's budget); the time includes starting the kernel, as a reader's "Run all"
does. The notebooks run as the test suite runs them: one kernel per core at a time, each kernel
with one torch thread (OMP_NUM_THREADS=1). Two torch threads per kernel on a 2-core machine that
is also running something else spin-wait on each other: the chapter-5 training notebooks then
take minutes instead of seconds. The slowest cell of each notebook is recorded, to say where a
notebook's time goes.
"""

from __future__ import annotations

import datetime
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import _bench

TARGETS = {"each_notebook_seconds": 60.0, "all_notebooks_seconds": 300.0}


def notebooks() -> list:
    return sorted(p for p in (_bench.ROOT / "notebooks").rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts)


def _cell_seconds(cell) -> float | None:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = datetime.datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))
            ).total_seconds()


def _process_cpu_seconds(pid) -> float | None:
    """CPU seconds a process and its waited-for children have used (Linux /proc): the
    kernel's own work, whatever else the machine is doing."""
    import os

    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return None
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def run_notebook(path) -> dict:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    cpu: dict[str, float] = {}

    def kernel_started(**_kw):
        cpu["pid"] = client.km.provisioner.pid

    def cell_done(**_kw):  # the kernel's CPU time so far, read after every cell
        cpu["seconds"] = _process_cpu_seconds(cpu.get("pid"))

    client = NotebookClient(nb, timeout=300, kernel_name="python3", record_timing=True,
                            resources={"metadata": {"path": str(path.parent)}},
                            on_notebook_start=kernel_started, on_cell_executed=cell_done)
    error = None
    t0 = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        error = str(exc).strip().splitlines()[-1][:300]
    except Exception as exc:  # noqa: BLE001 (a timeout or a dead kernel is a result too)
        error = f"{type(exc).__name__}: {exc}"[:300]
    seconds = time.perf_counter() - t0
    cells = [(i, _cell_seconds(c)) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    timed = [(i, s) for i, s in cells if s is not None]
    slowest = max(timed, key=lambda c: c[1]) if timed else (None, None)
    return {"notebook": str(path.relative_to(_bench.ROOT)), "seconds": seconds,
            "kernel_cpu_seconds": cpu.get("seconds"),
            "cells_seconds": sum(s for _, s in timed), "code_cells": len(cells),
            "slowest_cell": slowest[0], "slowest_cell_seconds": slowest[1],
            "slowest_cell_source": (nb.cells[slowest[0]].source.splitlines() or [""])[0][:100]
            if slowest[0] is not None else None,
            "error": error}


def main() -> dict:
    os.environ["OMP_NUM_THREADS"] = "1"  # inherited by every kernel
    machine = _bench.machine()
    workers = os.cpu_count() or 1
    paths, rows = notebooks(), []
    # the validation appendix reads the other notebooks' times from this run: it runs last
    first, last = [p for p in paths if "appendix" not in p.parts], [
        p for p in paths if "appendix" in p.parts]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for batch in (first, last):
            for row in pool.map(run_notebook, batch):
                rows.append(row)
                print(f"{row['seconds']:7.1f} s  {row['notebook']}"
                      + (f"  ERROR {row['error']}" if row["error"] else ""), flush=True)
                # written after every notebook: a crash keeps what was measured
                result = {"machine": machine, "workers": workers, "torch_threads": 1,
                          "complete": len(rows) == len(paths), "notebooks": rows,
                          "all_notebooks_seconds": time.perf_counter() - t0,
                          "sum_notebook_seconds": sum(r["seconds"] for r in rows),
                          "slowest_notebook_seconds": max(r["seconds"] for r in rows),
                          "failed": [r["notebook"] for r in rows if r["error"]],
                          "targets": TARGETS}
                _bench.write("notebooks", result, markdown(result),
                             echo=len(rows) == len(paths))
    return result


def markdown(r: dict) -> list[str]:
    each = TARGETS["each_notebook_seconds"]
    lines = ["# Notebooks", "", _bench.machine_line(r["machine"]) + " One run each, in a "
             f"fresh kernel (kernel start included), {r['workers']} at a time (one per core), "
             f"each kernel with {r['torch_threads']} torch thread.", "",
             "| notebook | seconds | kernel CPU s | ≤ 60 s | slowest cell (seconds) | error |",
             "|---|---|---|---|---|---|"]
    for n in r["notebooks"]:
        slow = (f"{n['slowest_cell']}: `{n['slowest_cell_source']}` ({n['slowest_cell_seconds']:.1f})"
                if n["slowest_cell"] is not None else "-")
        slow = slow.replace("|", "\\|")
        cpu = f"{n['kernel_cpu_seconds']:.1f}" if n["kernel_cpu_seconds"] is not None else "-"
        lines.append(f"| {n['notebook']} | {n['seconds']:.1f} | {cpu} | "
                     f"{_bench.met(n['seconds'], each)} | {slow} | {n['error'] or ''} |")
    total = r["all_notebooks_seconds"]
    lines += ["", (f"All {len(r['notebooks'])} notebooks: {total:.0f} s from first start to "
              f"last finish (the notebooks' own times add up to "
              f"{r['sum_notebook_seconds']:.0f} s, what one after another would take; target ≤ "
              f"{TARGETS['all_notebooks_seconds']:.0f} s: "
              f"{_bench.met(total, TARGETS['all_notebooks_seconds'])}); slowest "
              f"{r['slowest_notebook_seconds']:.1f} s (target ≤ {each:.0f} s: "
              f"{_bench.met(r['slowest_notebook_seconds'], each)}); "
              f"{len(r['failed'])} failed.")]
    return lines


if __name__ == "__main__":
    main()
