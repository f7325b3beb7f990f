"""Shared by the GPU benchmark scripts: arguments, the environment record, timing with CUDA
events, out-of-memory handling, and the JSON file each script writes (atomically, after
every configuration, so a run stopped part-way keeps what it measured)."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_SRC = REPO / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))  # run from a checkout where bigcompute is not installed

import torch

from bigcompute.configs import TransformerConfig
from bigcompute.validation import gpu as gm

MEASUREMENTS_DIR = gm.MEASUREMENTS_DIR
INCOMPLETE = 3  # exit status of a script stopped by --budget-s: run it again with --resume
TORCH_DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16,
                "fp16": torch.float16}

# The model every script uses with --quick: small enough for a CPU to train in milliseconds,
# with every part of the real ones (learned positions, tied embeddings, layer norms, GELU).
TINY_GPT = TransformerConfig(n_layers=2, d_model=64, n_heads=4, vocab_size=512,
                             max_seq_len=128, name="tiny-gpt")


def log(*parts) -> None:
    print(*parts, flush=True)


# ---------------------------------------------------------------- arguments

def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--device", default="cuda",
                   help="torch device (default cuda; cpu only with --quick, to test the script)")
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes and few repeats: a smoke test, seconds on a CPU; written to "
                        "a temporary folder unless --out is given, never to data/measurements/")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for the JSON (default: src/bigcompute/data/measurements/ for a "
                        "full GPU run, a new temporary folder with --quick)")
    p.add_argument("--resume", action="store_true",
                   help="skip configurations the output file already holds (ran or out of "
                        "memory); continue a run that was stopped")
    p.add_argument("--budget-s", type=float, default=None,
                   help="start no new configuration once this many seconds are spent (the "
                        "file says complete=false; run again with --resume)")
    p.add_argument("--catalogue-device", default=None,
                   help="hardware-catalogue key to compare against (default: from the CUDA "
                        "device name, e.g. 'NVIDIA H100 80GB HBM3' -> h100-sxm)")
    return p


def torch_device(args) -> torch.device:
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            sys.exit("no CUDA device is visible to torch; on a machine without a GPU use "
                     "--device cpu --quick (a smoke test of the script)")
        torch.cuda.set_device(device)
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
    elif not args.quick:
        sys.exit(f"--device {args.device} without --quick: full-size runs are for a GPU "
                 "(a CPU would take hours); add --quick for a smoke test")
    else:
        # A smoke test on a shared CPU: one thread does not fight other processes for cores.
        torch.set_num_threads(1)
    return device


def output_dir(args, device: torch.device) -> Path:
    """Where the JSON goes. Only full runs on a GPU may write into data/measurements/."""
    gpu_run = device.type == "cuda" and not args.quick
    if args.out is None:
        if gpu_run:
            return MEASUREMENTS_DIR
        return Path(tempfile.mkdtemp(prefix="bigcompute-gpu-"))
    out = args.out.resolve()
    if out == MEASUREMENTS_DIR.resolve() and not gpu_run:
        sys.exit(f"refusing to write a {'--quick' if args.quick else 'CPU'} run into {out}: "
                 "that folder holds full GPU measurements only; pass another --out")
    return out


# ---------------------------------------------------------------- environment

def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def _physical_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _run_text(cmd: list[str]) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, cwd=REPO,
                             check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


NVIDIA_SMI_QUERY = "--query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem,power.limit"


def environment(device: torch.device, catalogue_device: str | None = None) -> dict:
    """What was measured on: device, memory, torch/CUDA versions, date, commit, command."""
    env = {
        "device": device.type,
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda,
        "cudnn_version": (torch.backends.cudnn.version()
                          if torch.backends.cudnn.is_available() else None),
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": _run_text(["git", "rev-parse", "HEAD"]),
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        name = torch.cuda.get_device_name(device)
        env.update(
            device_name=name,
            memory_bytes=props.total_memory,
            l2_cache_bytes=getattr(props, "L2_cache_size", None),
            multiprocessors=props.multi_processor_count,
            compute_capability=f"{props.major}.{props.minor}",
            nvidia_smi=_run_text(["nvidia-smi", NVIDIA_SMI_QUERY, "--format=csv,noheader"]),
            device_slug=gm.device_slug(name),
            catalogue_device=catalogue_device or gm.catalogue_device_for(name),
        )
    else:
        env.update(device_name=_cpu_name(), memory_bytes=_physical_memory_bytes(),
                   l2_cache_bytes=None, device_slug=device.type,
                   catalogue_device=catalogue_device)
    return env


# ---------------------------------------------------------------- timing

def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Stopwatch:
    """Elapsed seconds of work on ``device``: CUDA events on a GPU (the GPU's own clock, no
    host round trip inside the timed region), perf_counter on a CPU."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.device = device

    def start(self):
        if self.cuda:
            begin = torch.cuda.Event(enable_timing=True)
            begin.record()
            return begin
        return time.perf_counter()

    def stop(self, begin):
        """A mark to read later with `seconds` (no synchronisation here)."""
        if self.cuda:
            end = torch.cuda.Event(enable_timing=True)
            end.record()
            return begin, end
        return begin, time.perf_counter()

    def seconds(self, mark) -> float:
        begin, end = mark
        if self.cuda:
            end.synchronize()
            return begin.elapsed_time(end) / 1e3
        return end - begin

    def measure(self, fn, warmup: int = 2, repeats: int = 10, target_s: float = 0.02,
                max_inner: int = 1000) -> dict:
        """Median seconds per call of ``fn()``: ``warmup`` calls, then ``repeats`` timings of
        ``inner`` back-to-back calls each, ``inner`` chosen so a timing lasts ~target_s
        (short kernels are otherwise dominated by the timer and the launch)."""
        for _ in range(warmup):
            fn()
        synchronize(self.device)
        one = self.seconds(self.stop_after(fn, 1))
        inner = max(1, min(max_inner, math.ceil(target_s / max(one, 1e-9))))
        times = [self.seconds(self.stop_after(fn, inner)) / inner for _ in range(repeats)]
        return {"seconds": statistics.median(times), "min_seconds": min(times),
                "repeats": repeats, "inner": inner}

    def stop_after(self, fn, n: int):
        begin = self.start()
        for _ in range(n):
            fn()
        return self.stop(begin)


class Budget:
    """Wall-clock seconds a script may spend; it stops before a configuration that would
    probably not finish (judged by the longest one so far)."""

    def __init__(self, seconds: float | None):
        self.seconds, self.t0, self.longest = seconds, time.perf_counter(), 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def allows_another(self) -> bool:
        if self.seconds is None:
            return True
        return self.elapsed() + 1.2 * self.longest < self.seconds

    @contextlib.contextmanager
    def task(self):
        t = time.perf_counter()
        try:
            yield
        finally:
            self.longest = max(self.longest, time.perf_counter() - t)


# ---------------------------------------------------------------- memory

def is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    text = str(error).lower()
    return "out of memory" in text or "can't allocate memory" in text


def failure(error: BaseException) -> dict:
    """The status fields of a configuration that raised."""
    oom = is_out_of_memory(error)
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return {"status": "oom" if oom else "error",
            "error": f"{type(error).__name__}: {first_line}"[:400]}


def free_memory(device: torch.device, after: dict | None = None) -> None:
    """Give cached GPU memory back before the next configuration. After a failure (``after``
    a result whose status is not ok) the exception's traceback may keep tensors alive in a
    reference cycle, so collect garbage first (slow: ~0.4 s once torch is loaded)."""
    if device.type != "cuda":
        return
    if after is None or after.get("status") != "ok":
        gc.collect()
    torch.cuda.empty_cache()


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def peak_allocated(device: torch.device) -> int | None:
    """torch.cuda.max_memory_allocated since the last reset (None on a CPU: no allocator stats)."""
    if device.type == "cuda":
        synchronize(device)
        return torch.cuda.max_memory_allocated(device)
    return None


def peak_reserved(device: torch.device) -> int | None:
    return torch.cuda.max_memory_reserved(device) if device.type == "cuda" else None


def allocated(device: torch.device) -> int | None:
    return torch.cuda.memory_allocated(device) if device.type == "cuda" else None


def tensor_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if torch.is_tensor(t))


# ---------------------------------------------------------------- the output file

class Recorder:
    """The JSON file of one script on one device: ``<name>_<device-slug>.json``.

    Results are keyed by ``key_fields``; a new result replaces an old one with the same key,
    and results of other keys already in the file (an earlier run of other models, say) are
    kept when the file was written on the same device with the same torch. The file is
    rewritten after every result."""

    def __init__(self, name: str, args, device: torch.device, settings: dict,
                 key_fields: tuple[str, ...]):
        self.key_fields = key_fields
        self.resume = args.resume
        env = environment(device, args.catalogue_device)
        self.path = output_dir(args, device) / f"{name}_{env['device_slug']}.json"
        self.run = {"schema_version": gm.SCHEMA_VERSION, "name": name, "complete": False,
                    "quick": bool(args.quick), "environment": env, "settings": settings,
                    "results": []}
        self._results: dict[tuple, dict] = {}
        self._old: dict[tuple, dict] = {}
        if self.path.exists():
            old = json.loads(self.path.read_text(encoding="utf-8"))
            old_env = old.get("environment", {})
            same = (old_env.get("device_name") == env["device_name"]
                    and old_env.get("torch_version") == env["torch_version"]
                    and old.get("quick") == self.run["quick"])
            if same:
                self._old = {self.key(r): r for r in old.get("results", [])}
                self._results = dict(self._old)
                env["earlier_dates"] = sorted(set(old_env.get("earlier_dates", [])
                                                  + [old_env.get("date")]) - {None})
            else:
                log(f"note: {self.path} was written on another device, torch or mode; "
                    "replacing it")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        log(f"writing {self.path}")
        log(f"device: {env['device_name']} (catalogue: {env['catalogue_device']}), "
            f"torch {env['torch_version']}, CUDA {env['cuda_version']}")

    @property
    def environment(self) -> dict:
        return self.run["environment"]

    def key(self, result: dict) -> tuple:
        return tuple(json.dumps(result.get(f)) for f in self.key_fields)

    def done(self, **fields) -> bool:
        """With --resume: whether this configuration was already measured (or ran out of
        memory) in the file that was there."""
        old = self._old.get(self.key(fields))
        return self.resume and old is not None and old.get("status") in ("ok", "oom")

    def add(self, result: dict) -> None:
        self._results[self.key(result)] = result
        self.write()

    def finish(self, complete: bool) -> Path:
        self.run["complete"] = complete
        self.write()
        log(f"{'complete' if complete else 'INCOMPLETE (budget spent; run again with --resume)'}"
            f": {self.path}")
        return self.path

    def write(self) -> None:
        self.run["results"] = list(self._results.values())
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.run, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


def set_tf32(enabled: bool) -> None:
    """Let fp32 matmuls and convolutions use tf32 tensor cores, or not. Torch 2.9+ has a new
    setting and raises if old and new are mixed: use the new one where it exists."""
    mode = "tf32" if enabled else "ieee"
    matmul, conv = torch.backends.cuda.matmul, torch.backends.cudnn.conv
    if hasattr(matmul, "fp32_precision"):
        matmul.fp32_precision = mode
        if hasattr(conv, "fp32_precision"):
            conv.fp32_precision = mode
    else:
        matmul.allow_tf32 = enabled
        torch.backends.cudnn.allow_tf32 = enabled


def seeded_generator(device: torch.device, seed: int = 0) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)
