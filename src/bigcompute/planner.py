"""A parallelism planner: every way to split a training run over N devices as DP x TP x PP,
with the memory each device needs and the time a step takes.

It only combines the library's formulas: `memory.training_memory` (per device, with ZeRO and
the tp/pp split) and `parallel.step_time` (compute, tensor-parallel all-reduces, the
data-parallel gradient all-reduce and the pipeline bubble). Tensor parallelism stays inside a
node, on its fast links (NVLink); data and pipeline parallelism cross nodes when the run is
bigger than one node, at the network's bandwidth.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import counts, memory, parallel
from .configs import RECOMPUTE
from .errors import (
    check_choice,
    check_fraction,
    check_non_negative_int,
    check_positive,
    check_positive_int,
    fail,
)
from .hardware import device as get_device
from .precision import recipe
from .units import format_bytes

__all__ = [
    "GPUS_PER_NODE", "NETWORK_BYTES_PER_S", "PlanOption", "plan_parallelism",
]

# A DGX H100 node has 8 GPUs and 8 ConnectX-7 adapters of 400 Gb/s, one per GPU: 50 GB/s per
# GPU each way across nodes (NVIDIA DGX H100 datasheet, "Networking").
GPUS_PER_NODE = 8
NETWORK_BYTES_PER_S = 400e9 / 8


@dataclass(frozen=True)
class PlanOption:
    """One DP x TP x PP split and what it costs per device."""

    dp: int
    tp: int
    pp: int
    micro_batch: int
    n_microbatches: int
    memory: memory.TrainingMemory
    capacity_bytes: float
    step: parallel.StepTime
    n_layers: int = 0

    @property
    def fits(self) -> bool:
        return self.memory.peak <= self.capacity_bytes

    @property
    def note(self) -> str:
        """What holds this plan back, in words ("" when nothing does)."""
        notes = []
        if not self.fits:
            notes.append(f"its peak, {format_bytes(self.memory.peak)} per device, exceeds "
                         f"{format_bytes(self.capacity_bytes)}")
        if self.n_layers % self.pp:
            notes.append(f"PP{self.pp} does not divide {self.n_layers} layers evenly: stages "
                         f"of {self.step.stage_layers} and {self.n_layers // self.pp} layers, "
                         "and the fullest sets the pace")
        return "; ".join(notes)

    @property
    def label(self) -> str:
        return f"DP{self.dp} x TP{self.tp} x PP{self.pp}"

    @property
    def bubble_fraction(self) -> float:
        return parallel.pipeline_bubble_fraction(self.pp, self.n_microbatches)


def _divisors(n: int, at_most: int) -> list[int]:
    """The divisors of ``n`` up to ``at_most``, ascending (a plan never needs more: tp is at
    most the node size, pp at most the layers)."""
    return [d for d in range(1, min(n, at_most) + 1) if n % d == 0]


def _splits_heads(cfg, tp: int) -> bool:
    """Whether tensor parallelism ``tp`` can split the heads (`counts.check_tp`)."""
    try:
        counts.check_tp(cfg, tp)
    except ValueError:
        return False
    return True


def plan_parallelism(cfg, n_devices: int, global_batch: int, seq: int, device, *,
                     micro_batch: int = 1, precision: str = "mixed-bf16",
                     zero_stage: int = 1, recompute: str | None = "selective",
                     compute_efficiency: float = 0.6, node_size: int = GPUS_PER_NODE,
                     network_bytes_per_s: float = NETWORK_BYTES_PER_S) -> list[PlanOption]:
    """Every valid DP x TP x PP = ``n_devices`` split of training ``cfg`` on ``global_batch``
    sequences of ``seq`` tokens per step, best first (those that fit in memory, by step time).

    Valid: tp divides the heads and is at most ``node_size`` (tensor parallelism needs the
    node's fast links); pp at most n_layers; dp x micro_batch divides global_batch. Raises
    ValueError (with the reason) when no split is valid.
    """
    cfg = counts.transformer_config(cfg)
    for name, value in (("n_devices", n_devices), ("global_batch", global_batch),
                        ("micro_batch", micro_batch), ("node_size", node_size)):
        check_positive_int(name, value)
    seq = counts.check_seq(cfg, seq)
    recipe(precision)
    check_non_negative_int("zero_stage", zero_stage)
    check_choice("zero_stage", zero_stage, parallel.ZERO_STAGES)
    check_choice("recompute", recompute, RECOMPUTE)
    check_fraction("compute_efficiency", compute_efficiency)
    check_positive("network_bytes_per_s", network_bytes_per_s)
    dev = get_device(device)
    n_params = counts.param_count(cfg)
    train_flops = counts.flops(cfg, global_batch, seq, "train", attention="flash",
                               recompute=recompute)
    options = []
    for tp in _divisors(n_devices, node_size):
        if not _splits_heads(cfg, tp):
            continue
        for pp in _divisors(n_devices // tp, cfg.n_layers):
            dp = n_devices // (tp * pp)
            if global_batch % (dp * micro_batch):
                continue
            mem = memory.training_memory(cfg, micro_batch, seq, precision, "adamw", "flash",
                                         recompute, zero_stage, dp, tp, pp, sp=tp > 1)
            crosses_nodes = n_devices > node_size
            step = parallel.step_time(
                train_flops, n_params, dev, n_layers=cfg.n_layers, d_model=cfg.d_model,
                seq_len=seq, micro_batch_size=micro_batch,
                n_microbatches=global_batch // (dp * micro_batch), dp=dp, tp=tp, pp=pp,
                compute_efficiency=compute_efficiency, zero_stage=zero_stage,
                dp_bandwidth_bytes_per_s=network_bytes_per_s if crosses_nodes else None)
            options.append(PlanOption(dp, tp, pp, micro_batch,
                                      global_batch // (dp * micro_batch), mem,
                                      dev.memory_bytes, step, cfg.n_layers))
    if not options:
        fail("n_devices", n_devices,
             f"a count that splits into DP x TP x PP with TP dividing n_heads={cfg.n_heads} "
             f"(at most {node_size}), PP <= n_layers={cfg.n_layers} and DP x micro_batch "
             f"dividing global_batch={global_batch}")
    options.sort(key=lambda o: (not o.fits, o.step.total_seconds))
    return options
