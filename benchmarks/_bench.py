"""Shared by the benchmarks: the machine, medians of repeated timings, writing results.

Each benchmark writes ``results/<name>.json`` (numbers, with the machine they came from) and
``results/<name>.md`` (a short table for people). These machines are noisy (other jobs share
the cores), so every time is a median of repeats and the load average is recorded beside it.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def timed(fn, repeats: int, warmup: int = 1) -> dict:
    """Median wall time and median CPU time (this process, all threads) of ``fn()`` over
    ``repeats`` calls, after ``warmup`` untimed ones. On a shared machine the wall time grows
    with the others' load; the CPU time much less."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"seconds": statistics.median(wall), "cpu_seconds": statistics.median(cpu),
            "repeats": repeats}


def median_time(fn, repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls, after ``warmup`` untimed ones."""
    return timed(fn, repeats, warmup)["seconds"]


def machine() -> dict:
    """CPU model, cores, Python and torch versions, load average (others' jobs count too)."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "load_average_1min": round(os.getloadavg()[0], 2),
            "git_commit": commit,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def machine_line(m: dict) -> str:
    return (f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}; load average "
            f"{m['load_average_1min']} when it started; commit {m['git_commit']}.")


def write(name: str, result: dict, markdown_lines: list[str], echo: bool = True) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text("\n".join(markdown_lines) + "\n")
    if echo:
        print("\n".join(markdown_lines), flush=True)


def seconds_text(s: float) -> str:
    """0.2 s, 38 ms, 17 µs."""
    if s >= 1:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def met(value: float, target: float) -> str:
    return "yes" if value <= target else "**NO**"
