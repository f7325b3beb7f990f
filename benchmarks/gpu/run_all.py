"""Run the three GPU measurements, one after another, each in its own process (a crash or an
out-of-memory state in one does not spoil the next):

    python benchmarks/gpu/run_all.py                        # on a GPU; see README.md here
    python benchmarks/gpu/run_all.py --resume --budget-s 540 --copy-to "$OUT"
    python benchmarks/gpu/run_all.py --device cpu --quick   # smoke test, to a temporary folder

Order: matmul_roofline (about 1-2 min), decode (about 1 min), training_steps (the longest),
so a run cut short by a time limit keeps the quick ones. Options other than those below go to
every script unchanged.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ("matmul_roofline", "decode", "training_steps")
INCOMPLETE = 3  # a script's exit status when --budget-s stopped it (see _common.py)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--only", default=",".join(SCRIPTS),
                   help="comma-separated subset of " + ",".join(SCRIPTS))
    p.add_argument("--budget-s", type=float, default=None,
                   help="seconds for all scripts together; each gets what is left")
    p.add_argument("--copy-to", type=Path, default=None,
                   help="also copy the JSON files written here (e.g. the device tool's $OUT)")
    args, rest = p.parse_known_args(argv)
    only = args.only.split(",")
    unknown = sorted(set(only) - set(SCRIPTS))
    if unknown:
        p.error(f"unknown script(s) {', '.join(unknown)}; choose from {', '.join(SCRIPTS)}")
    out = args.out
    if out is None and (args.quick or not args.device.startswith("cuda")):
        out = Path(tempfile.mkdtemp(prefix="bigcompute-gpu-"))  # one folder for all three
    t0, failed, incomplete = time.perf_counter(), [], []
    for name in (s for s in SCRIPTS if s in only):
        cmd = [sys.executable, str(HERE / f"{name}.py"), "--device", args.device, *rest]
        if args.quick:
            cmd.append("--quick")
        if out is not None:
            cmd += ["--out", str(out)]
        if args.budget_s is not None:
            left = args.budget_s - (time.perf_counter() - t0)
            if left < 20:
                print(f"== {name}: not started, the budget is spent", flush=True)
                incomplete.append(name)
                continue
            cmd += ["--budget-s", f"{left:.0f}"]
        print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
        start = time.perf_counter()
        rc = subprocess.run(cmd, check=False).returncode
        print(f"== {name}: exit {rc} after {time.perf_counter() - start:.0f} s", flush=True)
        if rc == INCOMPLETE:
            incomplete.append(name)
        elif rc:
            failed.append(name)
    folder = out if out is not None else _measurements_dir()
    written = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if args.copy_to is not None:
        args.copy_to.mkdir(parents=True, exist_ok=True)
        for f in written:
            shutil.copy2(f, args.copy_to / f.name)
    print(f"== done in {time.perf_counter() - t0:.0f} s; files in {folder}:", flush=True)
    for f in written:
        print(f"   {f.name}")
    if incomplete:
        print(f"== incomplete (budget spent): {', '.join(incomplete)}; run the same command "
              "again with --resume", flush=True)
    if failed:
        print(f"== FAILED: {', '.join(failed)}", flush=True)
    return 1 if failed else INCOMPLETE if incomplete else 0


def _measurements_dir() -> Path:
    return HERE.parents[1] / "src" / "bigcompute" / "data" / "measurements"


if __name__ == "__main__":
    raise SystemExit(main())
