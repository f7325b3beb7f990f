"""Speed of the library: import, one estimate, a meta-device FLOP trace of a 7B model.

    python benchmarks/bench_speed.py      # writes benchmarks/results/speed.json and speed.md

Medians over repeated runs; these machines are noisy, so compare ratios, not single times.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
TARGETS = {"import_seconds": 0.2, "estimate_seconds": 1e-4, "meta_trace_7b_seconds": 0.5}


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def import_time(repeats: int = 7) -> tuple[float, bool]:
    """Median wall time of `import bigcompute` in a fresh interpreter, and whether torch was
    imported as a side effect."""
    code = ("import time, sys; t = time.perf_counter(); import bigcompute; "
            "print(time.perf_counter() - t, 'torch' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.split() for _ in range(repeats)]
    return statistics.median(float(r[0]) for r in runs), any(r[1] == "True" for r in runs)


def estimate_time(repeats: int = 2000) -> float:
    """One estimate, warm: parameters, training FLOPs, training memory and time of LLaMA-2-7B."""
    import bigcompute as bc

    cfg = bc.model("llama2-7b")

    def one():
        bc.param_count(cfg)
        bc.flops(cfg, 1, 4096, "train")
        bc.training_memory(cfg, 1, 4096)
        bc.training_time(6 * 6.7e9 * 2e12, "a100-80gb", 2048, mfu=0.4)

    one()
    return median_time(one, repeats)


def meta_trace_time(repeats: int = 5) -> float:
    """Build LLaMA-2-7B on the meta device and count a 4096-token forward with FlopCounterMode."""
    import bigcompute as bc
    from bigcompute import measure, nets

    cfg = bc.model("llama2-7b")

    def one():
        module = nets.build(cfg, device="meta")
        measure.count_flops(module, nets.example_inputs(cfg, 1, 4096, device="meta"))

    one()
    return median_time(one, repeats)


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()}


def main() -> dict:
    imp, torch_imported = import_time()
    result = {
        "machine": machine(),
        "import_seconds": imp,
        "import_pulls_in_torch": torch_imported,
        "estimate_seconds": estimate_time(),
        "meta_trace_7b_seconds": meta_trace_time(),
        "targets": TARGETS,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "speed.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Speed", "", f"Machine: {result['machine']['cpu']}, "
             f"{result['machine']['cores']} cores. Medians of repeated runs.", "",
             "| measure | median | target | met |", "|---|---|---|---|"]
    for key, target in TARGETS.items():
        value = result[key]
        lines.append(f"| {key} | {value:.3g} s | {target:g} s | {'yes' if value <= target else 'NO'} |")
    lines.append(f"\n`import bigcompute` imports torch: {torch_imported}.")
    (RESULTS / "speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()
