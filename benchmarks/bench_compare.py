"""The library beside the calculators a reader might use instead: torch's FlopCounterMode,
ptflops, fvcore and calflops, on the same inputs, timed, against measured truth.

    python benchmarks/bench_compare.py    # writes benchmarks/results/compare.json and .md

The other tools live in their own environment, benchmarks/.venv-compare (created here on
first use, without the system's or the project's packages, from the pins below), so their
dependencies never touch the project's. The measuring itself is compare_worker.py, run in
that environment with the project's src/ on its path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv

import _bench

ENV = _bench.ROOT / "benchmarks" / ".venv-compare"
# torch as the project pins it; the tools at their newest releases. calflops 0.3.2 imports
# transformers (for its Hugging Face helpers) without declaring it, so it is pinned here too.
PINS = ["torch==2.13.0", "numpy==2.4.6", "PyYAML==6.0.3", "ptflops==0.7.5",
        "fvcore==0.1.5.post20221221", "calflops==0.3.2", "transformers==5.23.0"]


def ensure_env() -> tuple[float, bool]:
    """Create (or reuse) the comparison environment; seconds spent and whether it was new."""
    import time

    stamp = ENV / "pins.txt"
    if stamp.exists() and stamp.read_text() == "\n".join(PINS):
        return 0.0, False
    t0 = time.perf_counter()
    venv.EnvBuilder(clear=True, with_pip=True, system_site_packages=False).create(ENV)
    python = ENV / "bin" / "python"
    pip = subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                          "--disable-pip-version-check", *PINS],
                         capture_output=True, text=True, check=False)
    if pip.returncode:  # pip's own words say which pin failed
        sys.exit(f"installing {PINS} into {ENV} failed:\n{pip.stderr[-3000:]}")
    stamp.write_text("\n".join(PINS))
    return time.perf_counter() - t0, True


def main() -> dict:
    setup_seconds, created = ensure_env()
    env = {**os.environ, "PYTHONPATH": str(_bench.ROOT / "src"), "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([str(ENV / "bin" / "python"),
                           str(_bench.ROOT / "benchmarks" / "compare_worker.py")],
                          capture_output=True, text=True, env=env, check=False)
    sys.stderr.write(proc.stderr[-3000:])
    proc.check_returncode()
    worker = json.loads(proc.stdout)
    result = {"machine": _bench.machine(), "environment": {
        "path": str(ENV.relative_to(_bench.ROOT)), "pins": PINS, "created_now": created,
        "setup_seconds": setup_seconds, "system_site_packages": False,
        "pin_conflicts": None}, **worker}
    _bench.write("compare", result, markdown(result))
    return result


def markdown(r: dict) -> list[str]:
    v = r["versions"]
    lines = ["# Comparison with other calculators", "", _bench.machine_line(r["machine"]),
             f"Tools in their own environment ({r['environment']['path']}): "
             + ", ".join(f"{k} {v[k]}" for k in v) + ". Inputs: GPT-2 small on 1 x "
             f"{r['seq']} tokens (naive attention, and flash attention = "
             "scaled_dot_product_attention), ResNet-50 on one 224 x 224 image. Time: median "
             "per estimate, warm.", ""]
    for case in dict.fromkeys(row["input"] for row in r["rows"]):
        rows = [row for row in r["rows"] if row["input"] == case]
        truth = rows[0]
        lines += [(f"**{case}**: truth {truth['truth_flops']:,} FLOPs ({truth['truth_how']}), "
                  f"{truth['truth_params']:,} parameters."), "",
                  "| tool | FLOPs | FLOPs error | params error | time per estimate | notes |",
                  "|---|---|---|---|---|---|"]
        for row in rows:
            if "failed" in row:
                lines.append(f"| {row['tool']} | failed | | | | {row['failed'][:120]} |")
                continue
            lines.append(f"| {row['tool']} | {row['flops']:,.0f} | {row['flops_error']:+.2%} | "
                         f"{row['params_error']:+.2%} | {_bench.seconds_text(row['seconds'])} | "
                         f"{row['unit']} |")
        lines.append("")
    return lines


if __name__ == "__main__":
    main()
