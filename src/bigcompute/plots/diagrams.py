"""Schematic diagrams drawn from the library's own numbers, so a picture cannot disagree with
its table: the ring all-reduce's step sizes come from `parallel.allreduce_bytes_per_device`,
ZeRO's bytes from `memory.zero_memory_per_device`, the pipeline schedules from
`lab.simulate.simulate_pipeline`, the KV cache from `kv_cache.kv_cache_bytes`, the memory
hierarchy's HBM and link figures from the hardware catalogue.

Each function returns a Figure (drawn on `canvas._subplots`, ended with `_finish`), and writes
the numbers it draws into its text labels, which the tests read back.
"""

from __future__ import annotations

from ..errors import check_positive_int, fail
from ..units import format_bytes, format_count
from .canvas import _finish, _subplots

__all__ = [
    "allgather_reduce_scatter_diagram",
    "cluster_topology_diagram",
    "computational_graph_diagram",
    "context_parallel_diagram",
    "gpu_anatomy_diagram",
    "kv_cache_diagram",
    "memory_hierarchy_diagram",
    "moe_all_to_all_diagram",
    "pipeline_schedules_diagram",
    "ring_allreduce_diagram",
    "tensor_parallel_mlp_diagram",
    "zero_stages_diagram",
]

DEVICE_COLOURS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860",
                  "#DA8BC3", "#8C8C8C")


def _blank(ax):
    ax.set_axis_off()


def _box(ax, x, y, w, h, colour, text="", *, alpha=1.0, fontsize=7, textcolour="black",
         **kw):
    from matplotlib.patches import Rectangle  # lazy: matplotlib loads on the first chart

    ax.add_patch(Rectangle((x, y), w, h, facecolor=colour, edgecolor="black", linewidth=0.6,
                           alpha=alpha, **kw))
    if text:
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize,
                color=textcolour)


def _arrow(ax, x0, y0, x1, y1, colour="black", **kw):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                arrowprops=dict(arrowstyle="->", color=colour, lw=1.0, **kw))


def _colour(i):
    return DEVICE_COLOURS[i % len(DEVICE_COLOURS)]


# ---------------------------------------------------------------- collectives

def ring_allreduce_steps(n_devices: int) -> list[list[list[int]]]:
    """How many devices' contributions each chunk holds after each step of a ring all-reduce
    (reduce-scatter, then all-gather): ``steps[s][device][chunk]``, step 0 the start. Step s of
    the reduce-scatter sends chunk (d - s) mod p from device d to d + 1, which adds it to its
    own; step s of the all-gather sends the finished chunk (d + 1 - s) mod p on."""
    check_positive_int("n_devices", n_devices)
    p = n_devices
    counts = [[1] * p for _ in range(p)]
    steps = [[row[:] for row in counts]]
    for s in range(p - 1):  # reduce-scatter
        new = [row[:] for row in counts]
        for d in range(p):
            c = (d - s) % p
            new[(d + 1) % p][c] = counts[(d + 1) % p][c] + counts[d][c]
        counts = new
        steps.append([row[:] for row in counts])
    for s in range(p - 1):  # all-gather
        new = [row[:] for row in counts]
        for d in range(p):
            c = (d + 1 - s) % p
            new[(d + 1) % p][c] = counts[d][c]
        counts = new
        steps.append([row[:] for row in counts])
    return steps


def ring_allreduce_diagram(n_bytes: float, n_devices: int = 4, *, width: float = 10.0):
    """A ring all-reduce of an ``n_bytes`` buffer step by step: one column per step, one row
    per device, the buffer cut into p chunks, each shaded by how many devices' contributions
    it sums. Each step every device sends one chunk, n/p bytes; 2(p - 1) steps send
    2(p - 1)/p x n (`parallel.allreduce_bytes_per_device`)."""
    from ..parallel import allreduce_bytes_per_device

    p = n_devices
    steps = ring_allreduce_steps(p)
    chunk = n_bytes / p
    total = allreduce_bytes_per_device(n_bytes, p)
    fig, ax = _subplots(figsize=(width, 1.2 + 0.55 * p))
    cw, gap = 0.8 / p, 0.35
    for s, counts in enumerate(steps):
        x0 = s * (1 + gap)
        phase = ("start" if s == 0 else f"RS {s}" if s < p else f"AG {s - p + 1}")
        ax.text(x0 + 0.4, p + 0.1, phase, ha="center", fontsize=7)
        for d in range(p):
            for c in range(p):
                full = counts[d][c] / p
                _box(ax, x0 + c * cw, p - 1 - d, cw, 0.7, _colour(c), alpha=0.15 + 0.85 * full)
            if s > 0:  # the chunk this device received at this step
                prev = steps[s - 1]
                got = [c for c in range(p) if counts[d][c] != prev[d][c]]
                for c in got:
                    ax.text(x0 + (c + 0.5) * cw, p - 1 - d + 0.35, "+" if s < p else "=",
                            ha="center", va="center", fontsize=7, color="white")
    for d in range(p):
        ax.text(-0.15, p - 1 - d + 0.35, f"GPU {d}", ha="right", va="center", fontsize=7)
    ax.text(0, -0.6, f"each step: every GPU sends one chunk of {format_bytes(chunk)} to the next; "
            f"{2 * (p - 1)} steps → {format_bytes(total)} sent per GPU "
            f"(2(p−1)/p × {format_bytes(n_bytes)})", fontsize=8)
    ax.set_xlim(-1.2, len(steps) * (1 + gap))
    ax.set_ylim(-1, p + 0.5)
    _blank(ax)
    ax.set_title(f"Ring all-reduce on {p} GPUs: reduce-scatter (RS), then all-gather (AG); "
                 "darker = more GPUs summed", loc="left", fontsize=9)
    return _finish(fig)


def allgather_reduce_scatter_diagram(n_bytes: float, n_devices: int = 4, *,
                                     width: float = 9.0):
    """All-gather (each GPU holds one shard, ends with all) and reduce-scatter (each GPU holds
    a full buffer of partial sums, ends with one summed shard), before and after. Each sends
    (p - 1)/p x n (`parallel.allgather_bytes_per_device`); an all-reduce is one of each."""
    from ..parallel import allgather_bytes_per_device

    p = n_devices
    sent = allgather_bytes_per_device(n_bytes, p)  # checks n_bytes and n_devices
    fig, axes = _subplots(1, 2, figsize=(width, 1.4 + 0.5 * p))
    cw = 1.0 / p
    for ax, name in zip(axes, ("all-gather", "reduce-scatter")):
        for side, x0 in (("before", 0.0), ("after", 1.6)):
            ax.text(x0 + 0.5, p + 0.05, side, ha="center", fontsize=8)
            for d in range(p):
                for c in range(p):
                    if name == "all-gather":
                        shown = side == "after" or c == d
                        alpha = 1.0 if shown else 0.0
                    else:
                        shown = side == "before" or c == d
                        alpha = (1.0 if side == "after" else 0.3) if shown else 0.0
                    if shown:
                        _box(ax, x0 + c * cw, p - 1 - d, cw, 0.7, _colour(c), alpha=alpha,
                             text="Σ" if name == "reduce-scatter" and side == "after" else "")
                    else:
                        _box(ax, x0 + c * cw, p - 1 - d, cw, 0.7, "white")
                ax.text(-0.1, p - 1 - d + 0.35, f"GPU {d}", ha="right", va="center", fontsize=7)
        _arrow(ax, 1.1, p / 2, 1.5, p / 2)
        ax.text(0, -0.55, f"sent per GPU: {format_bytes(sent)} = (p−1)/p × {format_bytes(n_bytes)}",
                fontsize=8)
        ax.set_title(name, fontsize=9)
        ax.set_xlim(-0.8, 2.7)
        ax.set_ylim(-0.9, p + 0.4)
        _blank(ax)
    return _finish(fig)


# ---------------------------------------------------------------- sharding

ZERO_PARTS = (("weights", "#4C72B0"), ("grads", "#DD8452"), ("optimizer", "#55A868"))


def zero_stages_diagram(n_params: float, dp: int = 4, *, optimizer_bytes_per_param: float = 12,
                        weight_bytes: float = 2, grad_bytes: float = 2, width: float = 10.0):
    """What each of ``dp`` data-parallel GPUs keeps under ZeRO stages 0-3 (Rajbhandari et al.
    2020, fig. 1): one row per stage, one bar per GPU, its weights, gradients and optimizer
    states drawn to scale; a sharded part is 1/dp of the whole, its shard number written on
    it. The bytes written at the right are `memory.zero_memory_per_device`."""
    from ..memory import zero_memory_per_device

    full = {"weights": weight_bytes * n_params, "grads": grad_bytes * n_params,
            "optimizer": optimizer_bytes_per_param * n_params}
    scale = 1.0 / sum(full.values())
    fig, ax = _subplots(figsize=(width, 1.2 + 0.35 * 4 * dp ** 0.5))
    row_h = 0.8 / dp
    for stage in range(4):
        y0 = 3 - stage
        sharded = {"weights": stage >= 3, "grads": stage >= 2, "optimizer": stage >= 1}
        for d in range(dp):
            x, y = 0.0, y0 + 0.85 - (d + 1) * row_h
            for part, colour in ZERO_PARTS:
                w = full[part] * scale / (dp if sharded[part] else 1)
                _box(ax, x, y, w, row_h * 0.9, colour,
                     text=f"{d}" if sharded[part] and dp <= 8 else "", fontsize=6,
                     textcolour="white")
                x += w
        per_device = zero_memory_per_device(n_params, dp, stage, optimizer_bytes_per_param,
                                            weight_bytes, grad_bytes)
        ax.text(-0.02, y0 + 0.45, f"stage {stage}", ha="right", va="center", fontsize=8)
        ax.text(1.02, y0 + 0.45, f"{format_bytes(per_device)} per GPU", va="center", fontsize=8)
    from matplotlib.patches import Patch  # lazy: matplotlib loads on the first chart

    ax.legend(handles=[Patch(color=c, label=f"{p} ({format_bytes(full[p])} in all)")
                       for p, c in ZERO_PARTS],
              loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, fontsize=7, frameon=False)
    ax.set_xlim(-0.2, 1.3)
    ax.set_ylim(-0.1, 4)
    ax.set_axis_off()
    ax.set_title(f"ZeRO on {dp} data-parallel GPUs, {format_count(n_params)} parameters: one bar per GPU",
                 loc="left", fontsize=9)
    return _finish(fig)


def tensor_parallel_mlp_diagram(d_model: int, tp: int = 2, d_ff: int | None = None, *,
                                dtype: str = "bf16", width: float = 10.0):
    """Megatron's split of an MLP over ``tp`` GPUs (Shoeybi et al. 2019, fig. 3a): the first
    matrix A (d x d_ff) cut by columns, so GeLU runs on each GPU's slice without talking; the
    second B (d_ff x d) cut by rows, so each GPU holds a partial sum of Y, added by one
    all-reduce (`parallel.allreduce_bytes_per_device` of the b x s x d output). Labels give
    each shard's shape and bytes."""
    from ..precision import bytes_per_element

    d_ff = d_ff or 4 * d_model
    for name, value in (("d_model", d_model), ("tp", tp), ("d_ff", d_ff)):
        check_positive_int(name, value)
    if d_ff % tp:
        fail("tp", tp, f"a divisor of d_ff = {d_ff}")
    size = bytes_per_element(dtype)
    shard = d_model * d_ff // tp
    fig, ax = _subplots(figsize=(width, 1.4 + 0.8 * tp))
    _box(ax, -0.5, 0, 0.8, tp, "#DDDDDD", f"X\nb·s × {d_model}\n(a copy\non each GPU)",
         fontsize=7)
    for g in range(tp):
        y = tp - 1 - g + 0.1
        c = _colour(g)
        _arrow(ax, 0.3, y + 0.4, 0.9, y + 0.4)
        _box(ax, 1.0, y, 1.4, 0.8, c, f"A{g + 1}: {d_model} × {d_ff // tp}\n{format_bytes(shard * size)}",
             textcolour="white")
        _arrow(ax, 2.4, y + 0.4, 2.9, y + 0.4)
        _box(ax, 3.0, y, 0.9, 0.8, c, "GeLU", alpha=0.5)
        _arrow(ax, 3.9, y + 0.4, 4.4, y + 0.4)
        _box(ax, 4.5, y, 1.4, 0.8, c, f"B{g + 1}: {d_ff // tp} × {d_model}\n{format_bytes(shard * size)}",
             textcolour="white")
        _arrow(ax, 5.9, y + 0.4, 6.4, y + 0.4)
        _box(ax, 6.5, y, 0.9, 0.8, c, f"Y{g + 1}\n(partial)", alpha=0.5)
        _arrow(ax, 7.4, y + 0.4, 7.9, tp / 2)
    _box(ax, 8.0, tp / 2 - 0.5, 1.4, 1.0, "#EEEEEE", "all-reduce\n" + ("Y = Y1 + Y2" if tp == 2 else f"Y = Y1 + … + Y{tp}"))
    ax.text(1.7, -0.35, "A split by columns", ha="center", fontsize=8)
    ax.text(5.2, -0.35, "B split by rows", ha="center", fontsize=8)
    ax.set_xlim(-0.7, 9.6)
    ax.set_ylim(-0.6, tp + 0.6)
    _blank(ax)
    ax.set_title(f"Tensor-parallel MLP on {tp} GPUs (Megatron): {format_bytes(2 * shard * size)} "
                 f"of MLP weights per GPU, one all-reduce forward", loc="left", fontsize=9)
    return _finish(fig)


# ---------------------------------------------------------------- pipeline

def pipeline_schedules_diagram(n_stages: int = 4, n_microbatches: int = 8, *,
                               interleave: int = 2, width: float = 10.0):
    """GPipe and 1F1B, one panel each, drawn from the events of
    `lab.simulate.simulate_pipeline` (forward light, backward dark, white the bubble), with
    the simulated bubble and the most micro-batches a stage holds; a note gives the
    interleaved schedule's bubble from `parallel.pipeline_bubble_fraction` (the simulation has
    no interleaved schedule yet)."""
    from ..lab.simulate import simulate_pipeline
    from ..parallel import pipeline_bubble_fraction

    fig, axes = _subplots(2, 1, figsize=(width, 1.6 + 0.9 * n_stages), sharex=True)
    for ax, schedule in zip(axes, ("gpipe", "1f1b")):
        run = simulate_pipeline(n_stages, n_microbatches, schedule=schedule)
        for op in run.ops:
            colour = "#8FB3E0" if op.kind == "F" else "#2F5F98"
            ax.barh(op.stage, op.end - op.start, left=op.start, color=colour,
                    edgecolor="white", linewidth=0.8)
            ax.text((op.start + op.end) / 2, op.stage, f"{op.microbatch}", ha="center",
                    va="center", fontsize=6, color="black" if op.kind == "F" else "white")
        ax.set_yticks(range(n_stages), [f"stage {s}" for s in range(n_stages)], fontsize=7)
        ax.invert_yaxis()
        ax.spines[["top", "right"]].set_visible(False)
        name = "GPipe" if schedule == "gpipe" else "1F1B"
        ax.set_title(f"{name}: bubble {run.bubble_fraction:.1%}, up to "
                     f"{max(run.peak_in_flight)} micro-batches in flight per stage",
                     loc="left", fontsize=9)
    inter = pipeline_bubble_fraction(n_stages, n_microbatches, interleave)
    axes[-1].set_xlabel(f"time (one forward = 1, backward = 2). Interleaved 1F1B with "
                        f"{interleave} chunks per stage: bubble {inter:.1%} (formula)")
    return _finish(fig)


# ---------------------------------------------------------------- inference

def kv_cache_diagram(cfg, n_steps: int = 6, prompt: int = 4, *, block_size: int = 16,
                     seq_lens=(37, 12, 50), dtype: str = "bf16", width: float = 10.0):
    """Left: the KV cache growing by one position per decode step (one row per step, one cell
    per cached token), with the bytes of `kv_cache_bytes` for batch 1. Right: PagedAttention
    (Kwon et al. 2023): sequences of ``seq_lens`` tokens held in fixed blocks of
    ``block_size`` positions, only each sequence's last block partly empty."""
    from ..kv_cache import kv_cache_bytes

    fig, (ax, bx) = _subplots(1, 2, figsize=(width, 1.8 + 0.35 * n_steps),
                              gridspec_kw={"width_ratios": [1, 1.2]})
    for step in range(n_steps):
        t = prompt + step + 1
        y = n_steps - 1 - step
        for i in range(t):
            new = i == t - 1
            _box(ax, i * 0.5, y, 0.45, 0.7, "#C44E52" if new else "#4C72B0",
                 alpha=1.0 if new else 0.6)
        ax.text(-0.2, y + 0.35, f"step {step + 1}", ha="right", va="center", fontsize=7)
        ax.text(t * 0.5 + 0.1, y + 0.35, format_bytes(kv_cache_bytes(cfg, 1, t, dtype)),
                va="center", fontsize=7)
    ax.set_xlim(-2, (prompt + n_steps) * 0.5 + 2.5)
    ax.set_ylim(-0.5, n_steps + 0.2)
    _blank(ax)
    per_token = kv_cache_bytes(cfg, 1, 1, dtype)
    ax.set_title(f"KV cache: one new position per step ({format_bytes(per_token)} each)",
                 loc="left", fontsize=9)
    per_block = kv_cache_bytes(cfg, 1, block_size, dtype)
    cols, blocks = 8, []
    for s, n in enumerate(seq_lens):
        full, rest = divmod(n, block_size)
        blocks += [(s, block_size)] * full + ([(s, rest)] if rest else [])
    order = sorted(range(len(blocks)), key=lambda i: (i * 7919) % len(blocks))  # scattered
    for slot, i in enumerate(order):
        s, used = blocks[i]
        x, y = slot % cols, -(slot // cols)
        _box(bx, x, y, 0.9, 0.9, "white")
        _box(bx, x, y, 0.9 * used / block_size, 0.9, _colour(s), alpha=0.8)
        bx.text(x + 0.45, y + 0.45, f"s{s}", ha="center", va="center", fontsize=6)
    waste = sum(block_size - u for _, u in blocks)
    last_row = (len(blocks) - 1) // cols
    bx.text(0, -last_row - 0.4,
            f"{len(blocks)} blocks of {block_size} positions, {format_bytes(per_block)} each; "
            f"{waste} positions unused", fontsize=7)
    bx.set_ylim(-last_row - 0.7, 1.1)
    bx.set_xlim(-0.2, cols + 0.2)
    _blank(bx)
    bx.set_title(f"PagedAttention: sequences of {', '.join(map(str, seq_lens))} tokens",
                 loc="left", fontsize=9)
    return _finish(fig)


# ---------------------------------------------------------------- hardware

# What the hardware catalogue lacks (its rows give HBM and the interconnect): the on-chip
# levels of an H100 SXM, NVIDIA H100 Tensor Core GPU Architecture whitepaper (2022): 132 SMs,
# 256 KiB register file and up to 228 KiB shared memory per SM, 50 MiB L2; on-chip bandwidths
# are order-of-magnitude figures from microbenchmarks (Luo et al. 2024, "Benchmarking and
# Dissecting the Nvidia Hopper GPU Architecture", arXiv:2402.13499). Host: PCIe 5.0 x16,
# 64 GB/s each way; network: one 400 Gb/s InfiniBand NDR port per GPU, 50 GB/s.
H100_ON_CHIP = {"n_sms": 132, "registers_bytes": 132 * 256 * 2**10,
                "shared_bytes": 132 * 228 * 2**10, "l2_bytes": 50 * 2**20,
                "registers_bytes_per_s": 100e12, "shared_bytes_per_s": 33e12,
                "l2_bytes_per_s": 10e12, "tensor_cores_per_sm": 4}
HOST_LINK_BYTES_PER_S = 64e9
NETWORK_BYTES_PER_S = 50e9
HOST_MEMORY_BYTES = 2 * 2**40


def memory_hierarchy_diagram(device="h100-sxm", *, width: float = 9.0):
    """The memory hierarchy as a pyramid, fast and small at the top: registers, shared memory
    (SRAM), L2, HBM, host memory over PCIe, other nodes over the network, each level with its
    capacity and bandwidth. HBM and the GPU-to-GPU link come from the hardware catalogue
    (`hardware.device`); the on-chip levels, host and network from `H100_ON_CHIP` and the
    constants beside it (cited there: the catalogue lacks them)."""
    from ..hardware import device as lookup
    from ..units import format_rate

    dev = lookup(device)
    chip = H100_ON_CHIP

    def rate(b):
        return format_rate(b).replace("FLOP/s", "B/s")

    levels = [
        ("registers", format_bytes(chip["registers_bytes"]), rate(chip["registers_bytes_per_s"])),
        ("shared memory / L1 (SRAM)", format_bytes(chip["shared_bytes"]),
         rate(chip["shared_bytes_per_s"])),
        ("L2 cache", format_bytes(chip["l2_bytes"]), rate(chip["l2_bytes_per_s"])),
        (f"HBM ({dev.name})", format_bytes(dev.memory_bytes), rate(dev.bandwidth_bytes_per_s)),
        (f"other GPUs ({dev.interconnect or 'link'})", "their HBM",
         rate(dev.interconnect_bytes_per_s) if dev.interconnect_bytes_per_s else "n/a"),
        ("host memory (PCIe 5.0)", format_bytes(HOST_MEMORY_BYTES), rate(HOST_LINK_BYTES_PER_S)),
        ("other nodes (network)", "the cluster", rate(NETWORK_BYTES_PER_S)),
    ]
    n = len(levels)
    fig, ax = _subplots(figsize=(width, 0.6 + 0.5 * n))
    for i, (name, cap, bw) in enumerate(levels):
        y = n - 1 - i
        half = 0.15 + 0.85 * (i + 1) / n
        from matplotlib.patches import Polygon  # lazy: matplotlib loads on the first chart

        ax.add_patch(Polygon([(-half, y), (half, y), (half - 0.85 / n, y + 0.9),
                              (-half + 0.85 / n, y + 0.9)], closed=True,
                             facecolor=_colour(i), alpha=0.7, edgecolor="black", lw=0.6))
        ax.text(0, y + 0.45, name, ha="center", va="center", fontsize=8, color="white")
        ax.text(1.1, y + 0.45, f"{cap}", va="center", fontsize=8)
        ax.text(1.65, y + 0.45, f"{bw}", va="center", fontsize=8)
    ax.text(1.1, n + 0.1, "capacity", fontsize=8, weight="bold")
    ax.text(1.65, n + 0.1, "bandwidth", fontsize=8, weight="bold")
    ax.set_xlim(-1.1, 2.3)
    ax.set_ylim(-0.2, n + 0.5)
    ax.set_axis_off()
    ax.set_title(f"Memory hierarchy of a {dev.full_name}: faster and smaller towards the top",
                 loc="left", fontsize=9)
    return _finish(fig)


def gpu_anatomy_diagram(device="h100-sxm", *, width: float = 9.0):
    """A GPU's anatomy: a grid of streaming multiprocessors (SMs), each with its tensor cores,
    registers and shared memory, around a shared L2, with HBM stacks at the sides. SM counts
    and per-SM sizes are the H100's (`H100_ON_CHIP`, whitepaper); HBM capacity, bandwidth and
    bf16 peak from the catalogue."""
    from ..hardware import device as lookup
    from ..units import format_rate

    dev = lookup(device)
    chip = H100_ON_CHIP
    n_sms, cols = chip["n_sms"], 12
    rows = -(-n_sms // cols)
    fig, ax = _subplots(figsize=(width, 4.6))
    for k in range(n_sms):
        r, c = divmod(k, cols)
        y = rows - r + 0.5 if r < rows // 2 else rows - r - 0.6  # L2 between the halves
        _box(ax, c * 0.7, y, 0.62, 0.8, "#4C72B0", alpha=0.5)
        for t in range(chip["tensor_cores_per_sm"]):
            _box(ax, c * 0.7 + 0.04 + t * 0.14, y + 0.06, 0.12, 0.3, "#C44E52")
    _box(ax, 0, rows - rows // 2 - 0.6 + 1.0, cols * 0.7 - 0.08, 0.8, "#55A868",
         f"L2 cache {format_bytes(chip['l2_bytes'])}", fontsize=8)
    hbm = dev.memory_bytes / 6
    for side in (-1.3, cols * 0.7 + 0.25):
        for j in range(3):
            _box(ax, side, 1 + j * 2.2, 1.0, 1.8, "#DD8452", f"HBM\n{format_bytes(hbm)}",
                 fontsize=6)
    bf16 = dev.peak.get("bf16")
    ax.text(-1.3, -0.8, f"{n_sms} SMs × {chip['tensor_cores_per_sm']} tensor cores (red); "
            f"{format_bytes(dev.memory_bytes)} HBM at "
            f"{format_rate(dev.bandwidth_bytes_per_s).replace('FLOP/s', 'B/s')}"
            + (f"; {format_rate(bf16)} bf16 dense" if bf16 else ""), fontsize=8)
    ax.set_xlim(-1.5, cols * 0.7 + 1.5)
    ax.set_ylim(-1.1, rows + 1.2)
    _blank(ax)
    ax.set_title(f"Anatomy of a {dev.full_name}", loc="left", fontsize=9)
    return _finish(fig)


def cluster_topology_diagram(device="h100-sxm", n_nodes: int = 4, gpus_per_node: int = 8, *,
                             network_bytes_per_s: float = NETWORK_BYTES_PER_S,
                             width: float = 10.0):
    """A cluster's topology: nodes of ``gpus_per_node`` GPUs joined by the NVLink switch (the
    NVLink domain, at the catalogue's interconnect bandwidth), and rail-optimised networking
    (GPU i of every node on rail switch i), at ``network_bytes_per_s`` per GPU."""
    from ..hardware import device as lookup
    from ..units import format_rate

    dev = lookup(device)
    fig, ax = _subplots(figsize=(width, 4.2))
    for n in range(n_nodes):
        x0 = n * (gpus_per_node * 0.5 + 0.8)
        _box(ax, x0 - 0.15, 0, gpus_per_node * 0.5 + 0.1, 1.7, "#F2F2F2")
        _box(ax, x0, 0.15, gpus_per_node * 0.5 - 0.2, 0.35, "#55A868", "NVSwitch", fontsize=6)
        for g in range(gpus_per_node):
            x = x0 + g * 0.5
            _box(ax, x, 0.8, 0.4, 0.6, _colour(g), f"{g}", fontsize=6, textcolour="white")
            ax.plot([x + 0.2, x + 0.2], [0.5, 0.8], color="#55A868", lw=1.2)
            ax.plot([x + 0.2, g * (n_nodes * 0.5) + 0.3 + 0.2 * n], [1.4, 3.0], color=_colour(g),
                    lw=0.5, alpha=0.7)
        ax.text(x0 + gpus_per_node * 0.25 - 0.1, -0.3, f"node {n}", ha="center", fontsize=7)
    for g in range(gpus_per_node):
        _box(ax, g * (n_nodes * 0.5), 3.0, n_nodes * 0.5 - 0.1, 0.45, _colour(g),
             f"rail {g}", fontsize=6, textcolour="white", alpha=0.8)
    link = (format_rate(dev.interconnect_bytes_per_s).replace("FLOP/s", "B/s")
            if dev.interconnect_bytes_per_s else "n/a")
    ax.text(-0.2, -0.8, f"inside a node ({dev.interconnect or 'link'}): {link} per GPU; "
            f"between nodes, one rail per GPU: "
            f"{format_rate(network_bytes_per_s).replace('FLOP/s', 'B/s')} per GPU", fontsize=8)
    ax.set_ylim(-1.1, 3.7)
    ax.set_axis_off()
    ax.set_title(f"{n_nodes} nodes × {gpus_per_node} {dev.name}: NVLink domains and "
                 "rail-optimised network", loc="left", fontsize=9)
    return _finish(fig)


# ---------------------------------------------------------------- sequence and experts

def context_parallel_diagram(seq: int, cp: int = 4, *, width: float = 10.0):
    """Context (ring-attention) parallelism: the sequence cut into ``cp`` chunks of seq/cp
    tokens, one per GPU; in each of cp steps every GPU attends its queries to the key/value
    chunk it holds and passes that chunk on around the ring (Liu et al. 2023). Cell (step,
    GPU) names the KV chunk in use."""
    check_positive_int("seq", seq)
    check_positive_int("cp", cp)
    if seq % cp:
        fail("cp", cp, f"a divisor of seq = {seq}")
    fig, ax = _subplots(figsize=(width, 1.4 + 0.45 * cp))
    chunk = seq // cp
    for s in range(cp):
        x0 = s * (cp * 0.5 + 0.6)
        ax.text(x0 + cp * 0.25, cp * 0.55 + 0.1, f"step {s + 1}", ha="center", fontsize=8)
        for d in range(cp):
            kv = (d - s) % cp
            y = (cp - 1 - d) * 0.55
            _box(ax, x0, y, 0.45, 0.45, _colour(d), "Q", fontsize=6, textcolour="white")
            _box(ax, x0 + 0.5, y, 0.45, 0.45, _colour(kv), f"KV{kv}", fontsize=6,
                 textcolour="white", alpha=0.8)
            if s == 0:
                ax.text(-0.1, y + 0.22, f"GPU {d}: tokens {d * chunk}–{(d + 1) * chunk - 1}",
                        ha="right", va="center", fontsize=7)
    ax.text(0, -0.5, f"{seq} tokens on {cp} GPUs: {chunk} tokens each; the KV chunks go "
            f"round the ring, {cp - 1} passes", fontsize=8)
    ax.set_xlim(-3.2, cp * (cp * 0.5 + 0.6))
    ax.set_ylim(-0.8, cp * 0.55 + 0.5)
    _blank(ax)
    ax.set_title("Context parallelism (ring attention): queries stay, keys and values travel",
                 loc="left", fontsize=9)
    return _finish(fig)


def moe_routing(n_tokens: int, n_experts: int, top_k: int = 1, seed: int = 0) -> list[list[int]]:
    """A router's choice of ``top_k`` experts per token, at random (``seed``): a stand-in for
    a learned gate, for the diagram."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return [sorted(rng.choice(n_experts, top_k, replace=False).tolist())
            for _ in range(n_tokens)]


def moe_all_to_all_bytes(n_tokens_per_device: int, d_model: int, ep: int, top_k: int = 1,
                         dtype: str = "bf16") -> float:
    """Bytes each device sends in one expert-parallel all-to-all dispatch with a balanced
    router: its tokens' top_k copies of d_model numbers, all but the 1/ep that stay home."""
    from ..precision import bytes_per_element

    return n_tokens_per_device * top_k * d_model * bytes_per_element(dtype) * (ep - 1) / ep


def moe_all_to_all_diagram(d_model: int, ep: int = 4, tokens_per_device: int = 4, *,
                           top_k: int = 1, seed: int = 0, dtype: str = "bf16",
                           width: float = 10.0):
    """Mixture-of-experts routing with expert parallelism: each of ``ep`` GPUs holds one expert
    and a few tokens; the router sends each token to its expert, an all-to-all (dispatch),
    and a second all-to-all brings the outputs back (combine). Arrows are the routes;
    the bytes are `moe_all_to_all_bytes` per GPU and direction for a balanced router."""
    for name, value in (("d_model", d_model), ("ep", ep),
                        ("tokens_per_device", tokens_per_device), ("top_k", top_k)):
        check_positive_int(name, value)
    if top_k > ep:
        fail("top_k", top_k, f"at most ep = {ep} experts")
    routes = moe_routing(ep * tokens_per_device, ep, top_k, seed)
    fig, ax = _subplots(figsize=(width, 1.0 + 0.9 * ep))
    n_tok = ep * tokens_per_device
    for t in range(n_tok):
        d = t // tokens_per_device
        y = n_tok - 1 - t
        _box(ax, 0, y * 0.4, 0.6, 0.32, _colour(d), f"t{t}", fontsize=6, textcolour="white")
        for e in routes[t]:
            ye = (ep - 1 - e) * (n_tok * 0.4 / ep) + n_tok * 0.2 / ep
            ax.plot([0.6, 3.0], [y * 0.4 + 0.16, ye], color=_colour(d), lw=0.7,
                    ls="-" if e != d else ":")
    for e in range(ep):
        ye = (ep - 1 - e) * (n_tok * 0.4 / ep)
        _box(ax, 3.0, ye + 0.1, 1.2, n_tok * 0.4 / ep - 0.2, _colour(e),
             f"GPU {e}\nexpert {e}", fontsize=7, textcolour="white")
    sent = moe_all_to_all_bytes(tokens_per_device, d_model, ep, top_k, dtype)
    ax.text(0, -0.6, f"dispatch all-to-all: {format_bytes(sent)} per GPU "
            f"({tokens_per_device} tokens × {top_k} × {d_model} × {dtype}, (ep−1)/ep leave); "
            "the combine sends as much back", fontsize=8)
    ax.set_xlim(-0.3, 6.0)
    ax.set_ylim(-0.9, n_tok * 0.4 + 0.2)
    ax.set_axis_off()
    ax.set_title(f"MoE routing with expert parallelism on {ep} GPUs (dotted: the token's "
                 "expert is local)", loc="left", fontsize=9)
    return _finish(fig)


# ---------------------------------------------------------------- computational graph

def computational_graph_diagram(sizes, tally, *, width: float = 10.0):
    """The computational graph of 3.1's MLP of layer ``sizes``: x → z1 = a0 W1ᵀ + b1 → relu →
    ... → z_L → loss, the forward pass along the top (black arrows), the δ recursion back
    along the bottom (red). Each layer's node carries its weight shape and the forward and
    backward FLOPs that ``tally`` (a `lab.backprop.FlopTally` that has run one forward and
    backward pass) counted."""
    n_layers = len(sizes) - 1
    nodes = [("x", f"a0: B × {sizes[0]}", False)]
    for i in range(1, n_layers + 1):
        fwd = tally.by_layer.get(("forward", f"layer{i}"), 0)
        bwd = tally.by_layer.get(("backward", f"layer{i}"), 0)
        nodes.append((f"z{i} = a{i - 1}W{i}ᵀ + b{i}",
                      f"W{i}: {sizes[i]} × {sizes[i - 1]}\nfwd {fwd:,} FLOP\nbwd {bwd:,} FLOP",
                      True))
        if i < n_layers:
            nodes.append((f"a{i} = relu(z{i})", f"B × {sizes[i]}", False))
    nodes.append(("loss J", "cross-entropy", False))
    fig, ax = _subplots(figsize=(width, 2.6))
    step = 1.7
    for k, (name, sub, matmul) in enumerate(nodes):
        x = k * step
        _box(ax, x, 0, 1.4, 0.8, "#4C72B0" if matmul else "#DDDDDD", name, fontsize=6.5,
             textcolour="white" if matmul else "black")
        ax.text(x + 0.7, -0.15, sub, ha="center", va="top", fontsize=6)
        if k:
            _arrow(ax, x - step + 1.4, 0.6, x, 0.6)
            _arrow(ax, x, 0.2, x - step + 1.4, 0.2, colour="#C44E52")
    ax.text(0, 1.05, f"forward (black) and backward δ = ∂J/∂z (red); {tally.total:,} FLOP in "
            "all", fontsize=8)
    ax.set_xlim(-0.2, len(nodes) * step)
    ax.set_ylim(-1.3, 1.4)
    ax.set_axis_off()
    ax.set_title(f"Computational graph of the {'-'.join(map(str, sizes))} network",
                 loc="left", fontsize=9)
    return _finish(fig)
