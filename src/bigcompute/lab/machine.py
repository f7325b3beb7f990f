"""This machine: what it is, and its roofline measured with torch.

The catalogue (`hardware`) gives datasheet peaks. This module measures the machine the reader
is sitting at, in the same terms, so the two can be drawn on one roofline:

* matrix multiplies of growing size -> achieved FLOP/s; the best of them estimates the
  machine's peak (its compute roof);
* "skinny" products (m x n) @ (n x n) with few rows m, like a decoder reading its weights for
  a handful of tokens -> points along the sloped memory roof;
* a copy and an elementwise add of large arrays (STREAM-style, McCalpin 1995) -> achieved
  bytes/s; the best of them estimates the memory bandwidth (its memory roof).

Each operation is timed as the best of at least ``repeats`` runs after a warm-up (the best run
is the one least disturbed by the operating system; it is the right estimator of what the
hardware *can* do); quick operations get more runs, up to 50 ms of them. FLOPs and bytes are the ideal counts of `timing.matmul_cost`: each operand read
once and the result written once.

    >>> from bigcompute.lab import machine
    >>> m = machine.measure_roofline()          # about 2 s on a laptop
    >>> m.peak_flops_per_s, m.bandwidth_bytes_per_s, m.ridge_point
    >>> m.as_device()                           # a hardware.Device for timing.roofline_time

torch is imported here, so ``import bigcompute`` never imports this module.
"""

from __future__ import annotations

import math
import os
import platform
import time
from dataclasses import dataclass

import torch

from .. import hardware, timing
from ..errors import check_choice, check_positive_int, fail
from ..precision import bytes_per_element
from ..units import format_bytes

__all__ = [
    "DEFAULT_ROWS", "DEFAULT_SQUARE_SIZES", "DEFAULT_STREAM_BYTES", "DEFAULT_WIDTH", "DTYPES",
    "MachineInfo", "MeasuredOp", "RooflineMeasurement", "measure_add", "measure_copy",
    "measure_matmul", "measure_roofline", "this_machine",
]

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
# Square matmuls n x n x n: from one whose time is mostly call overhead to one that runs at
# the machine's peak. 2048^3 x 2 = 17 GFLOP, a tenth of a second on a laptop core pair.
DEFAULT_SQUARE_SIZES = (64, 128, 256, 512, 1024, 2048)
# Rows m of (m x width) @ (width x width), the shape of a decoder's weight matmul for m tokens.
DEFAULT_ROWS = (1, 4, 16, 64, 256)
# 4096 x 4096 fp32 weights are 64 MiB: larger than the last-level cache of most desktop and
# laptop CPUs, so the weights really come from main memory.
DEFAULT_WIDTH = 4096
# Arrays for the copy and add: 256 MiB each, past even large server caches.
DEFAULT_STREAM_BYTES = 256 * 2**20
# A single timed sample should last at least this long; shorter calls are repeated in a loop.
_MIN_SAMPLE_SECONDS = 1e-3
# Quick operations keep being sampled (beyond ``repeats``) until this much time has passed, up
# to _MAX_SAMPLES: on a busy machine the best of many short samples still finds a quiet one.
_SAMPLING_SECONDS = 0.05
_MAX_SAMPLES = 50


# ---------------------------------------------------------------- what the machine is

@dataclass(frozen=True)
class MachineInfo:
    """The machine a measurement ran on."""

    cpu: str
    logical_cpus: int
    torch_threads: int
    torch_version: str
    python_version: str
    system: str
    memory_bytes: float | None  # physical memory, None where the OS does not say
    device: str  # "cpu" or "cuda:0"
    accelerator: str  # the GPU's name, or "none"
    load_average: float | None = None  # runnable processes, last minute (None: not known)

    @property
    def busy(self) -> bool:
        """True when other programs already keep every CPU busy: CPU timings taken now
        understate what this machine can do."""
        return self.load_average is not None and self.load_average > self.logical_cpus

    def summary(self) -> str:
        memory = format_bytes(self.memory_bytes) if self.memory_bytes else "unknown"
        where = self.cpu if self.device == "cpu" else f"{self.accelerator} (host: {self.cpu})"
        text = (f"{where}; {self.logical_cpus} logical CPUs, torch uses {self.torch_threads} "
                f"threads; {memory} of memory; torch {self.torch_version}, "
                f"Python {self.python_version}, {self.system}")
        if self.busy:
            text += (f". BUSY: load average {self.load_average:.1f} on {self.logical_cpus} "
                     f"CPUs, so the timings understate this machine")
        return text


def _cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux, sysctl's answer via platform on
    macOS), or the architecture when nothing better is known."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _load_average() -> float | None:
    try:
        return float(os.getloadavg()[0])
    except (OSError, AttributeError):  # Windows has no load average
        return None


def _memory_bytes() -> float | None:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def this_machine(device: str = "cpu") -> MachineInfo:
    """CPU, thread count, memory and versions of this machine; ``device="cuda"`` also names
    the GPU that a measurement on ``device`` would use."""
    dev = torch.device(device)
    accelerator = "none"
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            fail("device", device, "'cpu' (this torch sees no CUDA device)")
        accelerator = torch.cuda.get_device_name(dev)
    elif dev.type != "cpu":
        fail("device", device, "'cpu' or 'cuda'")
    return MachineInfo(
        cpu=_cpu_name(), logical_cpus=os.cpu_count() or 1,
        torch_threads=torch.get_num_threads(), torch_version=torch.__version__,
        python_version=platform.python_version(), system=f"{platform.system()} "
        f"{platform.machine()}", memory_bytes=_memory_bytes(),
        device=str(dev) if dev.type == "cpu" else f"cuda:{dev.index or 0}",
        accelerator=accelerator, load_average=_load_average())


# ---------------------------------------------------------------- one timed operation

@dataclass(frozen=True)
class MeasuredOp:
    """One operation, its ideal FLOPs and bytes, and its best measured time."""

    name: str  # e.g. "matmul 1024x1024x1024"
    kind: str  # "square matmul", "skinny matmul", "copy" or "add"
    flops: float
    bytes_moved: float
    seconds: float
    shape: tuple[int, ...] = ()  # (m, n, k) of a matmul, (elements,) of a copy or add

    @property
    def flops_per_s(self) -> float:
        return self.flops / self.seconds

    @property
    def bytes_per_s(self) -> float:
        return self.bytes_moved / self.seconds

    @property
    def arithmetic_intensity(self) -> float:
        """FLOP per byte moved (0 for a copy, which does no arithmetic)."""
        return self.flops / self.bytes_moved


def _sync(device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best_seconds(fn, repeats: int, device: torch.device) -> float:
    """Best seconds per call of ``fn`` over at least ``repeats`` samples, after one warm-up
    call. Calls shorter than a millisecond are looped so the clock's resolution and Python's
    overhead between calls do not dominate a sample; quick operations get extra samples, up to
    ``_SAMPLING_SECONDS`` in all, so that a busy machine does not spoil every one of them."""
    check_positive_int("repeats", repeats)
    fn()
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    first = time.perf_counter() - t0
    inner = max(1, min(1000, math.ceil(_MIN_SAMPLE_SECONDS / max(first, 1e-9))))
    best, samples, start = math.inf, 0, time.perf_counter()
    while samples < repeats or (samples < _MAX_SAMPLES
                                and time.perf_counter() - start < _SAMPLING_SECONDS):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        _sync(device)
        best = min(best, (time.perf_counter() - t0) / inner)
        samples += 1
    return best


def _torch_dtype(dtype: str):
    check_choice("dtype", dtype, tuple(DTYPES))
    return DTYPES[dtype]


def measure_matmul(m: int, n: int, k: int, dtype: str = "fp32", repeats: int = 3,
                   device: str = "cpu", kind: str | None = None) -> MeasuredOp:
    """Time (m x k) @ (k x n): 2mnk FLOPs and (mk + kn + mn) elements moved
    (`timing.matmul_cost`)."""
    cost = timing.matmul_cost(m, n, k, bytes_per_element(dtype))
    dev = torch.device(device)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(m, k, generator=g).to(device=dev, dtype=_torch_dtype(dtype))
    b = torch.randn(k, n, generator=g).to(device=dev, dtype=_torch_dtype(dtype))
    out = torch.empty(m, n, device=dev, dtype=a.dtype)
    seconds = _best_seconds(lambda: torch.matmul(a, b, out=out), repeats, dev)
    kind = kind or ("square matmul" if m == n == k else "matmul")
    return MeasuredOp(f"matmul {m}x{n}x{k}", kind, float(cost.flops), float(cost.bytes_moved),
                      seconds, (m, n, k))


def _stream_arrays(n_bytes, dtype, device, count):
    check_positive_int("n_bytes", n_bytes)
    size = bytes_per_element(dtype)
    numel = int(n_bytes // size)
    if numel < 1:
        fail("n_bytes", n_bytes, f"at least one {dtype} element ({size:g} bytes)")
    dev = torch.device(device)
    return dev, numel, [torch.ones(numel, dtype=_torch_dtype(dtype), device=dev)
                        for _ in range(count)]


def measure_copy(n_bytes: int = DEFAULT_STREAM_BYTES, dtype: str = "fp32", repeats: int = 3,
                 device: str = "cpu") -> MeasuredOp:
    """Time ``dst.copy_(src)`` of an ``n_bytes`` array: it reads n_bytes and writes n_bytes
    (counted as 2 x n_bytes, as STREAM counts it; a CPU's write-allocate may move a third
    n_bytes that this does not credit), and does no arithmetic."""
    dev, numel, (src, dst) = _stream_arrays(n_bytes, dtype, device, 2)
    seconds = _best_seconds(lambda: dst.copy_(src), repeats, dev)
    moved = 2 * numel * bytes_per_element(dtype)
    return MeasuredOp(f"copy {numel * bytes_per_element(dtype) / 2**20:.0f} MiB", "copy", 0.0,
                      moved, seconds, (numel,))


def measure_add(n_bytes: int = DEFAULT_STREAM_BYTES, dtype: str = "fp32", repeats: int = 3,
                device: str = "cpu") -> MeasuredOp:
    """Time ``c = a + b`` on arrays of ``n_bytes`` each: one FLOP per element, two arrays
    read and one written (3 x n_bytes), so 1/12 FLOP per byte in fp32."""
    dev, numel, (a, b, c) = _stream_arrays(n_bytes, dtype, device, 3)
    seconds = _best_seconds(lambda: torch.add(a, b, out=c), repeats, dev)
    moved = 3 * numel * bytes_per_element(dtype)
    return MeasuredOp(f"add {numel * bytes_per_element(dtype) / 2**20:.0f} MiB", "add",
                      float(numel), moved, seconds, (numel,))


# ---------------------------------------------------------------- the whole roofline

@dataclass(frozen=True)
class RooflineMeasurement:
    """Measured operations on one machine and the roofline they imply.

    ``peak_flops_per_s`` is the best matmul's achieved FLOP/s and ``bandwidth_bytes_per_s``
    the best copy or add's bytes/s: lower bounds on the true peaks (a better kernel could do
    more), which is what a roofline built from measurement can honestly claim.
    """

    ops: tuple[MeasuredOp, ...]
    dtype: str
    machine: MachineInfo

    def of_kind(self, kind: str) -> list[MeasuredOp]:
        return [op for op in self.ops if op.kind == kind]

    @property
    def peak_flops_per_s(self) -> float:
        matmuls = [op.flops_per_s for op in self.ops if "matmul" in op.kind]
        if not matmuls:
            fail("ops", "no matmul", "at least one measured matmul to estimate the peak")
        return max(matmuls)

    @property
    def bandwidth_bytes_per_s(self) -> float:
        streams = [op.bytes_per_s for op in self.ops if op.kind in ("copy", "add")]
        if not streams:
            fail("ops", "no copy or add", "at least one copy or add to estimate bandwidth")
        return max(streams)

    @property
    def ridge_point(self) -> float:
        """FLOP per byte where this machine's two measured roofs meet."""
        return self.peak_flops_per_s / self.bandwidth_bytes_per_s

    def as_device(self, name: str = "this machine") -> hardware.Device:
        """The measured roofs as a `hardware.Device`, for `timing.roofline_time` and the
        plots (memory size from the OS; TDP unknown)."""
        measured_on = (self.machine.cpu if self.machine.device == "cpu"
                       else self.machine.accelerator)
        return hardware.Device.custom(
            name, {self.dtype: self.peak_flops_per_s},
            memory_bytes=self.machine.memory_bytes or 1.0,
            bandwidth_bytes_per_s=self.bandwidth_bytes_per_s,
            full_name=f"{name} (measured: {measured_on})",
            vendor="measured", kind="cpu" if self.machine.device == "cpu" else "gpu",
            source="measured with bigcompute.lab.machine.measure_roofline")

    def predicted(self, op: MeasuredOp) -> timing.RooflineResult:
        """The roofline's prediction for ``op`` on this machine's measured roofs."""
        return timing.roofline_time(op.flops, op.bytes_moved, self.as_device(), self.dtype)

    def rows(self) -> list[dict]:
        """One dict per operation, for a table: name, kind, FLOPs, bytes, intensity, time,
        achieved FLOP/s and bytes/s, and the roofline's time on the measured roofs."""
        out = []
        for op in self.ops:
            predicted = self.predicted(op).seconds
            out.append({"name": op.name, "kind": op.kind, "flops": op.flops,
                        "bytes": op.bytes_moved, "intensity": op.arithmetic_intensity,
                        "seconds": op.seconds, "flops_per_s": op.flops_per_s,
                        "bytes_per_s": op.bytes_per_s, "roofline_seconds": predicted,
                        "fraction_of_roofline": predicted / op.seconds})
        return out


def measure_roofline(sizes=DEFAULT_SQUARE_SIZES, rows=DEFAULT_ROWS, width: int = DEFAULT_WIDTH,
                     stream_bytes: int = DEFAULT_STREAM_BYTES, dtype: str = "fp32",
                     repeats: int = 3, device: str = "cpu") -> RooflineMeasurement:
    """Measure this machine's roofline: square matmuls of each size in ``sizes``, skinny
    matmuls (m x width) @ (width x width) for each m in ``rows``, and a copy and an add of
    ``stream_bytes`` arrays. About two seconds on a two-core laptop with the defaults; pass
    smaller sizes for a quick check. Uses torch's current thread count (not changed here)."""
    _torch_dtype(dtype)
    ops = [measure_matmul(n, n, n, dtype, repeats, device, kind="square matmul")
           for n in sizes]
    ops += [measure_matmul(m, width, width, dtype, repeats, device, kind="skinny matmul")
            for m in rows]
    ops.append(measure_copy(stream_bytes, dtype, repeats, device))
    ops.append(measure_add(stream_bytes, dtype, repeats, device))
    return RooflineMeasurement(tuple(ops), dtype, this_machine(device))
