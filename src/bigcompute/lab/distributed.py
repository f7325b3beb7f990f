"""torch.distributed for real, on this machine: worker processes on CPU with the gloo backend.

Chapter 3.6 trains with data, tensor and ZeRO parallelism across two processes. The same code
runs with the NCCL backend across GPUs and nodes (launched by ``torchrun``); here each "device"
is a CPU process and the "network" is the loopback interface.

Two rules shape this module:

- A spawned process starts a fresh Python and imports the function it runs *by name*, so every
  function run on the workers lives here: a function defined in a notebook cannot be imported
  by a spawned process.
- Processes and ports are always cleaned up: each worker destroys its process group in a
  ``finally``; the parent joins (and if need be terminates) every worker when the group is
  closed, when a task fails or times out, and at interpreter exit; a worker whose parent has
  died exits by itself.

Usage::

    from bigcompute.lab import distributed
    distributed.run_workers(distributed.check_allreduce, 2)   # one group, one task

    with distributed.WorkerGroup(2) as group:                 # one group, several tasks
        grads = group.run(distributed.ddp_gradients, (100, 500, 500, 10), x, y)
        times = group.run(distributed.allreduce_benchmark, [2**20, 2**24])

A worker function is called as ``fn(rank, world_size, *args, **kwargs)``; `WorkerGroup.run`
returns the list of its return values, indexed by rank.
"""

from __future__ import annotations

import os
import queue as queue_module
import socket
import statistics
import sys
import time
import traceback
import weakref
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

from ..configs import MLPConfig
from . import nets

__all__ = [
    "HOST", "WorkerError", "free_port", "port_is_free", "WorkerGroup", "run_workers",
    "check_allreduce", "fail_on_rank", "mlp_gradients", "shard", "ddp_gradients",
    "allreduce_benchmark", "tensor_parallel_mlp", "adam_reference", "zero1_adam",
]

HOST = "127.0.0.1"
_POLL_SECONDS = 0.5


class WorkerError(RuntimeError):
    """A task raised on a worker; the message carries the worker's traceback."""


def free_port(host: str = HOST) -> int:
    """A TCP port on ``host`` that nothing is listening on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_is_free(port: int, host: str = HOST) -> bool:
    """True when no process holds ``host:port``: a new server socket can bind it.
    (SO_REUSEADDR lets it bind over connections of a closed server that the kernel keeps in
    TIME_WAIT for a minute; they belong to no process.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


# ---------------------------------------------------------------- the worker side

def _worker_main(rank, world_size, port, tasks, results, timeout_s, parent_pid, threads):
    """Body of one worker process: join the group, run tasks until told to stop, leave."""
    # Like torchrun's OMP_NUM_THREADS: the workers share the machine's cores between them.
    torch.set_num_threads(threads)
    # gloo talks over the loopback interface (not whatever the host name resolves to)
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo0" if sys.platform == "darwin" else "lo")
    joined = False
    try:
        dist.init_process_group("gloo", init_method=f"tcp://{HOST}:{port}", rank=rank,
                                world_size=world_size, timeout=timedelta(seconds=timeout_s))
        joined = True
        results.put((rank, "ready", "ok", None))
        while True:
            try:
                task = tasks.get(timeout=_POLL_SECONDS)
            except queue_module.Empty:
                if os.getppid() != parent_pid:  # the parent is gone: nobody will close us
                    break
                continue
            if task is None:
                break
            task_id, fn, args, kwargs = task
            try:
                results.put((rank, task_id, "ok", fn(rank, world_size, *args, **kwargs)))
            except BaseException:  # noqa: BLE001 - report everything; the parent decides
                results.put((rank, task_id, "error", traceback.format_exc()))
    except BaseException:  # noqa: BLE001 - a failed join is reported, not raised here
        results.put((rank, "ready", "error", traceback.format_exc()))
    finally:
        if joined:
            dist.destroy_process_group()


def _shutdown(processes, task_queues, join_seconds=5.0):
    """Ask every worker to stop, join them, terminate (then kill) any that do not."""
    for q in task_queues:
        try:
            q.put(None)
        except (OSError, ValueError):
            pass
    deadline = time.monotonic() + join_seconds
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in processes:
        if p.is_alive():
            p.terminate()
            p.join(2.0)
        if p.is_alive():
            p.kill()
            p.join(2.0)
    for q in task_queues:
        q.cancel_join_thread()
        q.close()


class WorkerGroup:
    """``world_size`` worker processes in one gloo process group on 127.0.0.1, kept alive
    between tasks (starting a group costs a few seconds: each process imports torch).

    `run` sends one task to every rank and returns their results. If a task fails or times
    out the group is shut down (a rank left waiting in a collective could hang otherwise)
    and the error is raised; the next `run` starts a fresh group. `close` (or leaving the
    ``with`` block, or the interpreter's exit) joins every process and frees the port.
    """

    def __init__(self, world_size: int = 2, timeout_s: float = 60.0,
                 threads_per_worker: int | None = None):
        if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
            raise ValueError(f"world_size={world_size!r} is not allowed: expected a positive "
                             "integer")
        self.world_size = world_size
        self.timeout_s = float(timeout_s)
        self.threads_per_worker = threads_per_worker or max(1, (os.cpu_count() or 1)
                                                            // world_size)
        self.port: int | None = None
        self.processes: list = []
        self._tasks: list = []
        self._results = None
        self._next_task = 0
        self._finalizer = None
        self.start()

    # -- life cycle
    @property
    def alive(self) -> bool:
        return bool(self.processes) and all(p.is_alive() for p in self.processes)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def start(self) -> WorkerGroup:
        if self.alive:
            return self
        ctx = mp.get_context("spawn")
        self.port = free_port()
        self._tasks = [ctx.Queue() for _ in range(self.world_size)]
        self._results = ctx.Queue()
        self.processes = [
            ctx.Process(target=_worker_main, daemon=True, name=f"bigcompute-rank{rank}",
                        args=(rank, self.world_size, self.port, self._tasks[rank],
                              self._results, self.timeout_s, os.getpid(),
                              self.threads_per_worker))
            for rank in range(self.world_size)]
        for p in self.processes:
            p.start()
        self._finalizer = weakref.finalize(self, _shutdown, self.processes,
                                           self._tasks + [self._results])
        try:
            self._collect("ready", self.timeout_s)
        except BaseException:
            self.close()
            raise
        return self

    def close(self, join_seconds: float = 5.0) -> None:
        """Stop and join every worker (idempotent); terminate those that take longer than
        ``join_seconds`` to leave."""
        if self._finalizer is not None:
            self._finalizer.detach()
            _shutdown(self.processes, self._tasks + [self._results], join_seconds)
            self._finalizer = None
        self.processes = []

    def __enter__(self) -> WorkerGroup:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"running on port {self.port}, pids {self.pids}" if self.alive else "closed"
        return f"WorkerGroup(world_size={self.world_size}, {state})"

    # -- tasks
    def _collect(self, task_id, timeout_s):
        """Wait for every rank's answer to ``task_id``; raise on error, timeout or death."""
        answers: dict[int, object] = {}
        deadline = time.monotonic() + timeout_s
        while len(answers) < self.world_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"task {task_id!r}: ranks {sorted(set(range(self.world_size)) - set(answers))} "
                                   f"did not answer within {timeout_s:g} s")
            try:
                rank, tid, status, value = self._results.get(timeout=min(_POLL_SECONDS,
                                                                         remaining))
            except queue_module.Empty:
                dead = [p.name for p in self.processes if not p.is_alive()]
                if dead:
                    raise WorkerError(f"task {task_id!r}: worker(s) {dead} died "
                                      f"(exit codes {[p.exitcode for p in self.processes]})")
                continue
            if status == "error":
                raise WorkerError(f"task {task_id!r} failed on rank {rank}:\n{value}")
            if tid == task_id:
                answers[rank] = value
        return [answers[r] for r in range(self.world_size)]

    def run(self, fn, *args, timeout_s: float | None = None, **kwargs) -> list:
        """Run ``fn(rank, world_size, *args, **kwargs)`` on every rank; results by rank."""
        if not self.alive:
            self.close()
            self.start()
        self._next_task += 1
        task_id = self._next_task
        for q in self._tasks:
            q.put((task_id, fn, args, kwargs))
        try:
            return self._collect(task_id, timeout_s or self.timeout_s)
        except BaseException:
            # a rank may be stuck in a collective: stop them all, start afresh next time
            self.close(join_seconds=1.0)
            raise


def run_workers(fn, world_size: int = 2, *args, timeout_s: float = 60.0, **kwargs) -> list:
    """Start ``world_size`` gloo workers, run ``fn(rank, world_size, *args, **kwargs)`` on
    each, close the group (always) and return the results, indexed by rank."""
    with WorkerGroup(world_size, timeout_s) as group:
        return group.run(fn, *args, timeout_s=timeout_s, **kwargs)


# ---------------------------------------------------------------- tasks: checks

def check_allreduce(rank: int, world_size: int, n: int = 1000) -> dict:
    """Every rank contributes a tensor filled with rank + 1; after an all-reduce (sum) every
    rank must hold 1 + 2 + ... + world_size everywhere."""
    t = torch.full((n,), float(rank + 1))
    dist.all_reduce(t)
    return {"pid": os.getpid(), "value": float(t[0]), "all_equal": bool((t == t[0]).all()),
            "expected": world_size * (world_size + 1) / 2}


def fail_on_rank(rank: int, world_size: int, bad_rank: int = 1) -> int:
    """Raise on ``bad_rank`` while the others wait in a collective: tests the clean-up."""
    if rank == bad_rank:
        raise ValueError(f"deliberate failure on rank {rank}")
    dist.barrier()
    return rank


# ---------------------------------------------------------------- tasks: data parallel

def _mlp(sizes, seed, dtype=torch.float32):
    torch.manual_seed(seed)
    return nets.build(MLPConfig(tuple(sizes))).to(dtype)


def mlp_gradients(sizes, x, y, seed: int = 0, model=None) -> dict:
    """Gradients of the mean cross-entropy of an MLP (initialised from ``seed``) on (x, y),
    in one process: the reference data parallelism must reproduce."""
    model = _mlp(sizes, seed, x.dtype) if model is None else model
    F.cross_entropy(model(x), y).backward()
    return {name: p.grad.detach().clone() for name, p in model.named_parameters()}


def shard(n: int, rank: int, world_size: int) -> slice:
    """Rank ``rank``'s contiguous share of ``n`` items (the first n % world_size ranks get
    one more)."""
    base, extra = divmod(n, world_size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (1 if rank < extra else 0))


def ddp_gradients(rank: int, world_size: int, sizes, x, y, seed: int = 0) -> dict:
    """Data parallelism with DistributedDataParallel: each rank builds the same MLP, takes its
    shard of the global batch (x, y), runs forward and backward; DDP all-reduces and averages
    the gradients during the backward. Returns this rank's gradients and what was sent."""
    if len(x) % world_size:
        raise ValueError(f"global batch {len(x)} must divide evenly over {world_size} ranks "
                         "(uneven shards make the average of means differ from the mean)")
    model = DDP(_mlp(sizes, seed, x.dtype))
    part = shard(len(x), rank, world_size)
    t0 = time.perf_counter()
    F.cross_entropy(model(x[part]), y[part]).backward()
    seconds = time.perf_counter() - t0
    grads = {name.removeprefix("module."): p.grad.detach().clone()
             for name, p in model.named_parameters()}
    return {"grads": grads, "local_batch": part.stop - part.start,
            "grad_bytes": sum(g.numel() * g.element_size() for g in grads.values()),
            "step_seconds": seconds}


# ---------------------------------------------------------------- tasks: all-reduce cost

def _loopback_bytes() -> int | None:
    """Bytes sent through the loopback interface so far (Linux), or None."""
    try:
        with open("/proc/net/dev") as f:
            for line in f:
                name, _, data = line.partition(":")
                if name.strip() == "lo":
                    return int(data.split()[8])  # transmit bytes
    except OSError:
        return None
    return None


def allreduce_benchmark(rank: int, world_size: int, sizes_bytes, repeats: int = 5) -> dict:
    """Median seconds of an all-reduce (sum) of fp32 buffers of each size, the point-to-point
    bandwidth of this "network" (one rank sends, the other receives the largest buffer), and
    the bytes that crossed the loopback interface during one all-reduce of the largest buffer
    (rank 0 reads the kernel's counter; None where it cannot)."""
    times = {}
    for n_bytes in sizes_bytes:
        t = torch.ones(max(1, int(n_bytes) // 4))
        for _ in range(2):
            dist.all_reduce(t)  # warm up: connections, buffers
        samples = []
        for _ in range(repeats):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(t)
            samples.append(time.perf_counter() - t0)
        times[int(n_bytes)] = statistics.median(samples)

    largest = int(max(sizes_bytes))
    buf = torch.ones(largest // 4)
    # bytes on the wire during one all-reduce of the largest buffer (both ranks' traffic)
    dist.barrier()
    before = _loopback_bytes() if rank == 0 else None
    dist.barrier()
    dist.all_reduce(buf)
    dist.barrier()
    after = _loopback_bytes() if rank == 0 else None
    wire = (after - before) if before is not None and after is not None else None

    # one-way bandwidth: rank 0 sends the largest buffer to rank 1, timed by the receiver
    p2p = []
    for _ in range(repeats if world_size >= 2 else 0):
        dist.barrier()
        if rank == 0:
            dist.send(buf, dst=1)
        elif rank == 1:
            t0 = time.perf_counter()
            dist.recv(buf, src=0)
            p2p.append(time.perf_counter() - t0)
    dist.barrier()
    # both directions at once, as in a ring step: ranks 0 and 1 swap buffers
    both = []
    inbox = torch.empty_like(buf)
    for _ in range(repeats if world_size >= 2 else 0):
        dist.barrier()
        if rank in (0, 1):
            t0 = time.perf_counter()
            ops = [dist.P2POp(dist.isend, buf, 1 - rank), dist.P2POp(dist.irecv, inbox, 1 - rank)]
            for work in dist.batch_isend_irecv(ops):
                work.wait()
            both.append(time.perf_counter() - t0)
    dist.barrier()
    p2p_seconds = statistics.median(p2p) if p2p else None
    both_seconds = statistics.median(both) if both else None
    return {"seconds": times, "wire_bytes": wire, "largest_bytes": largest,
            "p2p_seconds": p2p_seconds,
            "p2p_bytes_per_s": largest / p2p_seconds if p2p_seconds else None,
            "exchange_seconds": both_seconds,
            "exchange_bytes_per_s": largest / both_seconds if both_seconds else None}


# ---------------------------------------------------------------- tasks: tensor parallel

def tensor_parallel_mlp(rank: int, world_size: int, n_in: int, n_hidden: int, n_out: int,
                        batch: int, seed: int = 0) -> dict:
    """Megatron-LM's tensor-parallel MLP (Shoeybi et al. 2019, sec. 3) on ``world_size``
    ranks, checked against the unsplit layers.

    Every rank builds the same full weights (same seed) and keeps only its slice:
    - column-parallel ``A`` (n_in -> n_hidden): rank r holds rows r of W_A's output features;
      its partial output is a slice of the columns of XA^T; an all-gather assembles them.
    - row-parallel ``B`` (n_hidden -> n_out): rank r holds the matching input columns of W_B;
      partial products X_r W_B,r^T are summed by an all-reduce.
    - the MLP ``B(gelu(A x))``: column then row, so the GELU applies to the local slice and the
      whole MLP needs a single all-reduce.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, n_in, generator=g)
    w_a, b_a = torch.randn(n_hidden, n_in, generator=g) / n_in**0.5, torch.randn(n_hidden,
                                                                                 generator=g)
    w_b, b_b = torch.randn(n_out, n_hidden, generator=g) / n_hidden**0.5, torch.randn(
        n_out, generator=g)
    cols = shard(n_hidden, rank, world_size)

    # column-parallel linear: y[:, cols] = x W_a[cols]^T + b_a[cols]; all-gather the columns
    y_local = F.linear(x, w_a[cols], b_a[cols])
    pieces = [torch.empty(batch, shard(n_hidden, r, world_size).stop
                          - shard(n_hidden, r, world_size).start) for r in range(world_size)]
    dist.all_gather(pieces, y_local.contiguous())
    y_column = torch.cat(pieces, dim=1)

    # row-parallel linear on a full input h: each rank multiplies its input slice; sum
    h = torch.randn(batch, n_hidden, generator=g)
    z_row = F.linear(h[:, cols], w_b[:, cols])
    dist.all_reduce(z_row)
    z_row = z_row + b_b

    # the MLP: column-parallel A, GELU on the local slice, row-parallel B, one all-reduce
    mlp = F.linear(F.gelu(F.linear(x, w_a[cols], b_a[cols])), w_b[:, cols])
    dist.all_reduce(mlp)
    mlp = mlp + b_b

    full_mlp = F.linear(F.gelu(F.linear(x, w_a, b_a)), w_b, b_b)
    local_params = w_a[cols].numel() + b_a[cols].numel() + w_b[:, cols].numel()
    if rank == 0:
        local_params += b_b.numel()  # the bias after the all-reduce is kept once
    return {
        "column_max_abs_diff": float((y_column - F.linear(x, w_a, b_a)).abs().max()),
        "row_max_abs_diff": float((z_row - F.linear(h, w_b, b_b)).abs().max()),
        "mlp_max_abs_diff": float((mlp - full_mlp).abs().max()),
        "local_params": local_params,
        "full_params": w_a.numel() + b_a.numel() + w_b.numel() + b_b.numel(),
        "allreduce_bytes": mlp.numel() * mlp.element_size(),
    }


# ---------------------------------------------------------------- tasks: ZeRO-1

def _flat_params(model) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _load_flat(model, flat) -> None:
    i = 0
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(flat[i:i + p.numel()].view_as(p))
            i += p.numel()


def adam_reference(sizes, x, y, steps: int, lr: float = 1e-3, seed: int = 0) -> torch.Tensor:
    """Plain Adam on one process, full batch: the parameters after ``steps`` steps, flat."""
    model = _mlp(sizes, seed, x.dtype)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return _flat_params(model)


def zero1_adam(rank: int, world_size: int, sizes, x, y, steps: int, lr: float = 1e-3,
               seed: int = 0) -> dict:
    """ZeRO stage 1 (Rajbhandari et al. 2020): data parallel, but each rank keeps Adam's
    moments for only its 1/world_size slice of the flattened parameters.

    Per step: forward/backward on the local shard of the batch; a reduce-scatter leaves each
    rank the summed gradients of its own slice only (averaged here); each rank updates its
    slice with Adam; an all-gather rebuilds the full parameters everywhere. Reduce-scatter
    plus all-gather move the same 2 Psi bytes per rank as plain data parallelism's
    all-reduce (`parallel.dp_communication_volume`): an all-reduce followed by an all-gather
    would move 3 Psi. Returns the final parameters and the optimizer-state bytes held by
    this rank (to compare with `memory.zero_memory_per_device`). The parameters take the
    dtype of ``x`` (float64 makes the comparison with `adam_reference` exact to rounding)."""
    model = _mlp(sizes, seed, x.dtype)
    flat = _flat_params(model)
    n = flat.numel()
    mine = shard(n, rank, world_size)
    piece = flat[mine].clone().requires_grad_(True)  # the slice this rank owns
    opt = torch.optim.Adam([piece], lr=lr)
    part = shard(len(x), rank, world_size)
    sizes_by_rank = [shard(n, r, world_size).stop - shard(n, r, world_size).start
                     for r in range(world_size)]
    for _ in range(steps):
        model.zero_grad()
        F.cross_entropy(model(x[part]), y[part]).backward()
        grad = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
        owned = torch.empty(sizes_by_rank[rank], dtype=grad.dtype)
        dist.reduce_scatter(owned, list(grad.split(sizes_by_rank)))
        piece.grad = owned / world_size
        opt.step()
        gathered = [torch.empty(k, dtype=flat.dtype) for k in sizes_by_rank]
        dist.all_gather(gathered, piece.detach().clone())
        _load_flat(model, torch.cat(gathered))
    state_bytes = sum(t.numel() * t.element_size() for s in opt.state.values()
                      for key, t in s.items() if key != "step")  # m and v
    return {"params": _flat_params(model), "n_params": n, "owned_params": mine.stop - mine.start,
            "optimizer_state_bytes": state_bytes,
            "weight_bytes": n * flat.element_size(), "grad_bytes": n * flat.element_size()}
