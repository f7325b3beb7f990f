"""Parallel training: collective costs, the pipeline bubble, ZeRO's traffic, a step-time model.

Collectives follow the ring algorithms (Patarasuk & Yuan 2009, "Bandwidth optimal all-reduce
algorithms for clusters of workstations"): with p devices on a ring, each link of bandwidth
``bw`` (bytes/s, one direction) carries its share once per phase, so

    all-reduce      2 (p-1)/p x n / bw + 2 (p-1) x latency   (reduce-scatter, then all-gather)
    all-gather      (p-1)/p x n / bw + (p-1) x latency
    reduce-scatter  (p-1)/p x n / bw + (p-1) x latency

where n is the size of the whole buffer in bytes (the full, un-sharded tensor). The bandwidth
term does not grow with p: that is why the ring is bandwidth-optimal.

The catalogue's ``interconnect_bytes_per_s`` is the *bidirectional* total per device (NVLink
on an A100: 600 GB/s); a ring sends one way and receives the other, so the one-way figure,
half of it, is what goes in these formulas (`step_time` does this for you).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import hardware
from .errors import (
    check_choice,
    check_fraction,
    check_non_negative,
    check_non_negative_int,
    check_positive,
    check_positive_int,
    fail,
)

__all__ = [
    "ring_allreduce_time", "allgather_time", "reduce_scatter_time",
    "allreduce_bytes_per_device", "allgather_bytes_per_device",
    "pipeline_bubble_fraction", "pipeline_bubble_overhead", "dp_communication_volume",
    "StepTime", "step_time", "ZERO_STAGES",
]

ZERO_STAGES = (0, 1, 2, 3)


def _check_zero_stage(zero_stage) -> None:
    check_non_negative_int("zero_stage", zero_stage)
    check_choice("zero_stage", zero_stage, ZERO_STAGES)


def _check_collective(n_bytes, n_devices, bandwidth_bytes_per_s, latency_s) -> None:
    check_non_negative("n_bytes", n_bytes)
    check_positive_int("n_devices", n_devices)
    check_positive("bandwidth_bytes_per_s", bandwidth_bytes_per_s)
    check_non_negative("latency_s", latency_s)


def ring_allreduce_time(n_bytes: float, n_devices: int, bandwidth_bytes_per_s: float,
                        latency_s: float = 0.0) -> float:
    """Seconds for a ring all-reduce of an ``n_bytes`` buffer across ``n_devices``:
    2(p-1)/p x n / bw + 2(p-1) x latency (Patarasuk & Yuan 2009). One device: 0 s."""
    _check_collective(n_bytes, n_devices, bandwidth_bytes_per_s, latency_s)
    p = n_devices
    return 2 * (p - 1) / p * n_bytes / bandwidth_bytes_per_s + 2 * (p - 1) * latency_s


def allgather_time(n_bytes: float, n_devices: int, bandwidth_bytes_per_s: float,
                   latency_s: float = 0.0) -> float:
    """Seconds for a ring all-gather that leaves the full ``n_bytes`` buffer on every device
    (each starts with n/p of it): (p-1)/p x n / bw + (p-1) x latency."""
    _check_collective(n_bytes, n_devices, bandwidth_bytes_per_s, latency_s)
    p = n_devices
    return (p - 1) / p * n_bytes / bandwidth_bytes_per_s + (p - 1) * latency_s


def reduce_scatter_time(n_bytes: float, n_devices: int, bandwidth_bytes_per_s: float,
                        latency_s: float = 0.0) -> float:
    """Seconds for a ring reduce-scatter of an ``n_bytes`` buffer (each device ends with the
    sum of its n/p shard): (p-1)/p x n / bw + (p-1) x latency. All-reduce = reduce-scatter +
    all-gather."""
    _check_collective(n_bytes, n_devices, bandwidth_bytes_per_s, latency_s)
    p = n_devices
    return (p - 1) / p * n_bytes / bandwidth_bytes_per_s + (p - 1) * latency_s


def allreduce_bytes_per_device(n_bytes: float, n_devices: int) -> float:
    """Bytes each device sends in a ring all-reduce of an ``n_bytes`` buffer: 2(p-1)/p x n.
    (It receives as many.) Two devices: n each; many devices: nearly 2n each."""
    check_non_negative("n_bytes", n_bytes)
    check_positive_int("n_devices", n_devices)
    return 2 * (n_devices - 1) / n_devices * n_bytes


def allgather_bytes_per_device(n_bytes: float, n_devices: int) -> float:
    """Bytes each device sends in a ring all-gather (or reduce-scatter) of an ``n_bytes``
    buffer: (p-1)/p x n."""
    check_non_negative("n_bytes", n_bytes)
    check_positive_int("n_devices", n_devices)
    return (n_devices - 1) / n_devices * n_bytes


# ---------------------------------------------------------------- pipeline parallelism

def _check_pipeline(n_stages, n_microbatches, interleave) -> None:
    check_positive_int("n_stages", n_stages)
    check_positive_int("n_microbatches", n_microbatches)
    check_positive_int("interleave", interleave)


def pipeline_bubble_fraction(n_stages: int, n_microbatches: int, interleave: int = 1) -> float:
    """Fraction of a pipelined step that each device sits idle (the "bubble"):

        (p - 1) / (v x m + p - 1)

    for p stages, m micro-batches per step and v model chunks per device (interleaved 1F1B
    schedule; v = 1 for GPipe and plain 1F1B). Narayanan et al. (2021), sec. 2.2: the bubble
    lasts (p-1)/v micro-batch times out of m + (p-1)/v. One stage: 0. It shrinks as m grows.
    """
    _check_pipeline(n_stages, n_microbatches, interleave)
    p, m, v = n_stages, n_microbatches, interleave
    return (p - 1) / (v * m + p - 1)


def pipeline_bubble_overhead(n_stages: int, n_microbatches: int, interleave: int = 1) -> float:
    """The bubble relative to the ideal (bubble-free) time: (p - 1) / (v x m).

    Narayanan et al. (2021), sec. 2.2.1-2.2.2: "bubble time fraction" = (p-1)/m for 1F1B,
    (p-1)/(v m) interleaved. A step takes (1 + overhead) x the ideal time, so
    fraction = overhead / (1 + overhead) (see `pipeline_bubble_fraction`).
    """
    _check_pipeline(n_stages, n_microbatches, interleave)
    return (n_stages - 1) / (interleave * n_microbatches)


# ---------------------------------------------------------------- data parallelism and ZeRO

def dp_communication_volume(n_params: float, bytes_per_param: float = 2,
                            zero_stage: int = 0) -> float:
    """Bytes each data-parallel device sends per step for gradients (and, in ZeRO-3, weights),
    in the large-p limit of the ring (Rajbhandari et al. 2020, ZeRO, sec. 7):

    - plain DP, ZeRO-1 and ZeRO-2: 2 Psi  (an all-reduce = reduce-scatter Psi + all-gather Psi)
    - ZeRO-3: 3 Psi  (the weights are all-gathered for the forward and again for the backward,
      and the gradients reduce-scattered: 1.5x the traffic of plain DP)

    Psi = n_params x bytes_per_param (2 for 16-bit gradients). The exact ring figure has an
    extra (p-1)/p factor: see `allreduce_bytes_per_device`.
    """
    check_non_negative("n_params", n_params)
    check_positive("bytes_per_param", bytes_per_param)
    _check_zero_stage(zero_stage)
    psi = n_params * bytes_per_param
    return 3 * psi if zero_stage == 3 else 2 * psi


# ---------------------------------------------------------------- a step-time model

# The backward pass's share of a training step's FLOPs: 4 of the 6 N FLOPs per token
# (Kaplan et al. 2020, sec. 2.1), so 2/3 of the compute time.
BACKWARD_SHARE = 2 / 3

@dataclass(frozen=True)
class StepTime:
    """One optimizer step of DP x TP x PP training, in seconds, per device.

    total_seconds = compute + tp_comm + dp_comm (its exposed part) + bubble.
    ``dp_hidden_seconds`` is the part of the data-parallel all-reduce that ran behind the
    backward pass; ``mfu`` is the model-FLOPs utilisation this step time implies.
    """

    compute_seconds: float
    tp_comm_seconds: float
    dp_comm_seconds: float
    bubble_seconds: float
    total_seconds: float
    n_devices: int
    flops_per_step: float
    mfu: float
    dp_hidden_seconds: float = 0.0
    stage_layers: int = 0

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def step_time(train_flops: float, n_params: float, device, *, n_layers: int, d_model: int,
              seq_len: int, micro_batch_size: int, n_microbatches: int = 1,
              dp: int = 1, tp: int = 1, pp: int = 1, interleave: int = 1,
              compute_efficiency: float = 0.6, dtype: str = "bf16",
              grad_bytes_per_param: float = 2, activation_bytes: float = 2,
              zero_stage: int = 0, dp_overlap: float = 0.0,
              tp_bandwidth_bytes_per_s: float | None = None,
              dp_bandwidth_bytes_per_s: float | None = None,
              latency_s: float = 0.0) -> StepTime:
    """A simple step-time model for a transformer trained with data (dp), tensor (tp) and
    pipeline (pp) parallelism on dp x tp x pp devices.

    One step processes dp x n_microbatches x micro_batch_size sequences of seq_len tokens and
    costs ``train_flops`` (e.g. `counts.flops(cfg, global_batch, seq, "train")` or 6ND).

    - compute: train_flops / (n_devices x peak x compute_efficiency) x the imbalance of the
      stages; compute_efficiency is what the matmuls reach on their own, before any
      communication. Stages hold whole layers, ceil(n_layers / pp) on the fullest, and the
      pipeline runs at the slowest stage's pace: 40 layers on 32 stages put 2 layers on 8 of
      them, so every stage waits as if it had 2 (1.6 x the balanced time).
    - tensor parallel (Shoeybi et al. 2019, Megatron-LM, sec. 3): each layer all-reduces its
      b x s x h activations twice in the forward and twice in the backward across the tp
      group, for each micro-batch, on the layers of the fullest stage. Not overlapped with
      compute. (Full recomputation would add two more per layer.)
    - data parallel: one all-reduce of the device's gradients, n_params / (tp x pp) x
      grad_bytes_per_param, across dp devices (ZeRO-3: x 1.5, `dp_communication_volume`),
      after the last micro-batch's backward pass has produced them. Bucketed, it can run
      behind that backward pass and no longer: ``dp_overlap`` is the fraction of it the
      all-reduce may use (0 = none, 1 = all), so the exposed part is
      max(0, all-reduce - dp_overlap x last backward), the backward being 2/3 of a
      micro-batch's compute. An all-reduce longer than the backward is never hidden whole.
    - pipeline bubble: `pipeline_bubble_overhead` x (compute + tensor-parallel time).

    Left out: pipeline point-to-point sends (b x s x h per micro-batch per stage boundary,
    usually small), the optimizer step, data loading, stragglers. Bandwidths default to half
    the device's bidirectional interconnect figure; pass the network bandwidth per device for
    data parallelism across nodes (InfiniBand: 25-50 GB/s), which is far lower than NVLink.
    """
    check_positive("train_flops", train_flops)
    check_positive("n_params", n_params)
    for name, value in (("n_layers", n_layers), ("d_model", d_model), ("seq_len", seq_len),
                        ("micro_batch_size", micro_batch_size),
                        ("n_microbatches", n_microbatches), ("dp", dp), ("tp", tp),
                        ("pp", pp), ("interleave", interleave)):
        check_positive_int(name, value)
    if pp > n_layers:
        fail("pp", pp, f"at most n_layers={n_layers} (each stage needs a layer)")
    check_fraction("compute_efficiency", compute_efficiency)
    check_positive("grad_bytes_per_param", grad_bytes_per_param)
    check_positive("activation_bytes", activation_bytes)
    _check_zero_stage(zero_stage)
    check_non_negative("dp_overlap", dp_overlap)
    if dp_overlap > 1:
        fail("dp_overlap", dp_overlap, "a fraction in [0, 1]")
    check_non_negative("latency_s", latency_s)
    for name, bw in (("tp_bandwidth_bytes_per_s", tp_bandwidth_bytes_per_s),
                     ("dp_bandwidth_bytes_per_s", dp_bandwidth_bytes_per_s)):
        if bw is not None:
            check_positive(name, bw)

    dev = hardware.device(device)
    one_way = (dev.interconnect_bytes_per_s or 0) / 2
    tp_bw = tp_bandwidth_bytes_per_s if tp_bandwidth_bytes_per_s is not None else one_way
    dp_bw = dp_bandwidth_bytes_per_s if dp_bandwidth_bytes_per_s is not None else one_way
    for name, bw, degree in (("tp_bandwidth_bytes_per_s", tp_bw, tp),
                             ("dp_bandwidth_bytes_per_s", dp_bw, dp)):
        if degree > 1 and not bw:
            fail(name, bw, f"a positive bandwidth (device {dev.name!r} lists no interconnect)")
        if degree > 1:
            check_positive(name, bw)

    n_devices = dp * tp * pp
    peak = dev.peak_flops(dtype)
    stage_layers = math.ceil(n_layers / pp)  # the fullest stage sets the pace
    compute = (train_flops / (n_devices * peak * compute_efficiency)
               * stage_layers / (n_layers / pp))

    tp_comm = 0.0
    if tp > 1:
        message = micro_batch_size * seq_len * d_model * activation_bytes
        per_allreduce = ring_allreduce_time(message, tp, tp_bw, latency_s)
        tp_comm = n_microbatches * stage_layers * 4 * per_allreduce

    dp_comm = hidden = 0.0
    if dp > 1:
        grads = n_params / (tp * pp) * grad_bytes_per_param
        factor = 1.5 if zero_stage == 3 else 1.0
        allreduce = factor * ring_allreduce_time(grads, dp, dp_bw, latency_s)
        last_backward = BACKWARD_SHARE * compute / n_microbatches
        hidden = min(allreduce, dp_overlap * last_backward)
        dp_comm = allreduce - hidden

    bubble = pipeline_bubble_overhead(pp, n_microbatches, interleave) * (compute + tp_comm)
    total = compute + tp_comm + dp_comm + bubble
    return StepTime(
        compute_seconds=compute,
        tp_comm_seconds=tp_comm,
        dp_comm_seconds=dp_comm,
        bubble_seconds=bubble,
        total_seconds=total,
        n_devices=n_devices,
        flops_per_step=float(train_flops),
        mfu=train_flops / (n_devices * peak * total),
        dp_hidden_seconds=hidden,
        stage_layers=stage_layers,
    )
