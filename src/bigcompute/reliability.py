"""Failures at scale: how often a large job stops, how often to checkpoint, what it costs.

A synchronous training job stops whenever any one of its devices (or their hosts, links,
switches) fails. With independent failures at a constant rate, each of N devices failing on
average once every ``device_mtbf`` hours, the job fails N times as often:

    failures per day = N x 24 / device_mtbf_hours        job MTBF = device_mtbf_hours / N

So a component that fails once in six years, multiplied by 16,384, stops the job every three
hours (Llama 3: 419 unexpected interruptions in 54 days on 16,384 H100s; Dubey et al. 2024,
sec. 3.3.4).

The job survives by saving checkpoints. Saving one takes ``delta`` seconds; after a failure the
job restarts (``restart`` seconds) from the last checkpoint and redoes the work since then.
Checkpointing more often wastes time writing; less often wastes time redoing. The optimum:

- Young (1974), "A first order approximation to the optimum checkpoint interval" (CACM 17(9)):
  tau = sqrt(2 delta M), M the job MTBF.
- Daly (2006), "A higher order estimate of the optimum checkpoint interval for restart dumps"
  (Future Generation Computer Systems 22): for delta < 2M,
  tau = sqrt(2 delta M) [1 + (1/3) sqrt(delta / 2M) + (1/9) (delta / 2M)] - delta, else M;
  and the expected wall-clock time of ``work`` seconds of computation under exponential
  failures, T_w = M e^(R/M) (e^((tau + delta)/M) - 1) work / tau.

Here tau is the compute time between checkpoints (the checkpoint itself excluded), as in Daly.
Pure Python: no torch, no numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import check_non_negative, check_positive, check_positive_int, fail, finite_result

__all__ = [
    "HOURS_PER_DAY", "failures_per_day", "job_mtbf_hours", "device_mtbf_hours",
    "probability_no_failure", "checkpoint_seconds", "young_interval", "daly_interval",
    "expected_wall_time", "goodput", "waste_fraction_first_order", "CheckpointPlan",
    "checkpoint_plan",
]

HOURS_PER_DAY = 24.0


# ---------------------------------------------------------------- how often the job stops

def failures_per_day(n_devices: int, device_mtbf_hours: float) -> float:
    """Expected failures per day of a job on ``n_devices``, each failing on average once every
    ``device_mtbf_hours`` (independent, constant rate): n_devices x 24 / device_mtbf_hours."""
    check_positive_int("n_devices", n_devices)
    check_positive("device_mtbf_hours", device_mtbf_hours)
    return finite_result(n_devices * HOURS_PER_DAY / device_mtbf_hours, n_devices=n_devices,
                   device_mtbf_hours=device_mtbf_hours)


def job_mtbf_hours(n_devices: int, device_mtbf_hours: float) -> float:
    """Mean time between failures of the whole job: device_mtbf_hours / n_devices (the
    minimum of N exponential lifetimes is exponential with N times the rate)."""
    check_positive_int("n_devices", n_devices)
    check_positive("device_mtbf_hours", device_mtbf_hours)
    return device_mtbf_hours / n_devices


def device_mtbf_hours(n_failures: float, days: float, n_devices: int) -> float:
    """The per-device MTBF implied by ``n_failures`` of a job on ``n_devices`` over ``days``:
    device-hours / failures = n_devices x days x 24 / n_failures. (Every interruption is
    charged to the devices, so this is the MTBF of a device *with its share* of hosts,
    network and software.)"""
    check_positive("n_failures", n_failures)
    check_positive("days", days)
    check_positive_int("n_devices", n_devices)
    return finite_result(n_devices * days * HOURS_PER_DAY / n_failures, n_failures=n_failures,
                   days=days, n_devices=n_devices)


def probability_no_failure(hours: float, n_devices: int, device_mtbf_hours: float) -> float:
    """Chance that a job on ``n_devices`` runs ``hours`` without any failure:
    exp(-hours x n_devices / device_mtbf_hours)."""
    check_non_negative("hours", hours)
    return math.exp(-hours / job_mtbf_hours(n_devices, device_mtbf_hours))


# ---------------------------------------------------------------- checkpoints

def checkpoint_seconds(state_bytes: float, write_bytes_per_s: float) -> float:
    """Time to write a checkpoint of ``state_bytes`` at ``write_bytes_per_s`` of aggregate
    storage bandwidth (the job blocks while it writes, unless the save is asynchronous)."""
    check_non_negative("state_bytes", state_bytes)
    check_positive("write_bytes_per_s", write_bytes_per_s)
    return finite_result(state_bytes / write_bytes_per_s, state_bytes=state_bytes,
                   write_bytes_per_s=write_bytes_per_s)


def _check_times(checkpoint, mtbf):
    check_non_negative("checkpoint_seconds", checkpoint)
    check_positive("mtbf_seconds", mtbf)


def young_interval(checkpoint_seconds: float, mtbf_seconds: float) -> float:
    """Young's (1974) optimum compute time between checkpoints: sqrt(2 delta M).

    First order in delta / M: good while a checkpoint is short next to the MTBF."""
    _check_times(checkpoint_seconds, mtbf_seconds)
    return finite_result(math.sqrt(2.0 * checkpoint_seconds * mtbf_seconds),
                   checkpoint_seconds=checkpoint_seconds, mtbf_seconds=mtbf_seconds)


def daly_interval(checkpoint_seconds: float, mtbf_seconds: float) -> float:
    """Daly's (2006) higher-order optimum compute time between checkpoints:

        tau = sqrt(2 delta M) [1 + (1/3) sqrt(delta / 2M) + (1/9) (delta / 2M)] - delta
              for delta < 2M, and tau = M otherwise.
    """
    _check_times(checkpoint_seconds, mtbf_seconds)
    d, m = checkpoint_seconds, mtbf_seconds
    if d >= 2.0 * m:
        return m
    x = d / (2.0 * m)
    return finite_result(math.sqrt(2.0 * d * m) * (1.0 + math.sqrt(x) / 3.0 + x / 9.0) - d,
                   checkpoint_seconds=d, mtbf_seconds=m)


def expected_wall_time(work_seconds: float, interval_seconds: float, checkpoint_seconds: float,
                       restart_seconds: float, mtbf_seconds: float) -> float:
    """Expected wall-clock seconds to finish ``work_seconds`` of computation that saves a
    checkpoint (``checkpoint_seconds``) after every ``interval_seconds`` of work, restarts in
    ``restart_seconds`` after each failure, and fails at random with mean ``mtbf_seconds``
    (Daly 2006):

        T_w = M e^(R/M) (e^((tau + delta)/M) - 1) x work / tau

    Failures may strike during work, checkpoint or restart; each costs the restart plus the
    work since the last checkpoint. As M grows it tends to work x (tau + delta) / tau.
    Refused where it overflows: a restart, or an interval and its checkpoint, hundreds of
    MTBFs long (the job would practically never finish)."""
    check_non_negative("work_seconds", work_seconds)
    segment = _segment(interval_seconds, checkpoint_seconds, restart_seconds, mtbf_seconds)
    # never below the work itself (rounding can take it there when M dwarfs the interval)
    wall = max(segment * work_seconds / interval_seconds, work_seconds)
    return finite_result(wall, work_seconds=work_seconds,
                   interval_seconds=interval_seconds, checkpoint_seconds=checkpoint_seconds,
                   restart_seconds=restart_seconds, mtbf_seconds=mtbf_seconds)


def _segment(interval_seconds, checkpoint_seconds, restart_seconds, mtbf_seconds) -> float:
    """Expected wall-clock seconds of one interval and its checkpoint, restarts and redone
    work included: M e^(R/M) (e^((tau + delta)/M) - 1) (Daly 2006). Refused where it
    overflows: a restart, or an interval and its checkpoint, some 700 MTBFs long."""
    check_positive("interval_seconds", interval_seconds)
    check_non_negative("restart_seconds", restart_seconds)
    _check_times(checkpoint_seconds, mtbf_seconds)
    m = mtbf_seconds
    try:
        segment = m * math.exp(restart_seconds / m) * math.expm1(
            (interval_seconds + checkpoint_seconds) / m)
    except OverflowError:
        segment = math.inf
    if not math.isfinite(segment / interval_seconds):
        fail("interval_seconds, checkpoint_seconds, restart_seconds, mtbf_seconds",
             (interval_seconds, checkpoint_seconds, restart_seconds, mtbf_seconds),
             "an interval, checkpoint and restart within some 700 x mtbf_seconds (beyond, "
             "the expected wall time overflows: the job would practically never finish)")
    return segment


def goodput(interval_seconds: float, checkpoint_seconds: float, restart_seconds: float,
            mtbf_seconds: float) -> float:
    """Fraction of wall-clock time spent on useful work: work / `expected_wall_time`
    (1 - goodput is the time lost to checkpoints, restarts and redone work)."""
    segment = _segment(interval_seconds, checkpoint_seconds, restart_seconds, mtbf_seconds)
    slowdown = segment * 1.0 / interval_seconds
    # at most 1 (rounding can go past it when M dwarfs the interval)
    return 1.0 if slowdown <= 1.0 else 1.0 / slowdown


def waste_fraction_first_order(interval_seconds: float, checkpoint_seconds: float,
                               restart_seconds: float, mtbf_seconds: float) -> float:
    """Young's first-order accounting of the time lost, as a fraction:

        delta / tau  (writing checkpoints)  +  (tau / 2 + R) / M  (per failure: half an
        interval redone on average, plus the restart)

    Minimised at tau = sqrt(2 delta M), where it is sqrt(2 delta / M) + R / M. Valid while
    tau, delta and R are small next to M; `goodput` is the exact model."""
    check_positive("interval_seconds", interval_seconds)
    check_non_negative("restart_seconds", restart_seconds)
    _check_times(checkpoint_seconds, mtbf_seconds)
    return (checkpoint_seconds / interval_seconds
            + (interval_seconds / 2.0 + restart_seconds) / mtbf_seconds)


# ---------------------------------------------------------------- one job, all of the above

@dataclass(frozen=True)
class CheckpointPlan:
    """What the reliability explorer shows for one job (times in seconds)."""

    failures_per_day: float
    job_mtbf_seconds: float
    clean_day: float          # probability of a day without a failure
    young: float              # Young's interval
    daly: float               # Daly's interval
    goodput_young: float
    goodput_daly: float
    goodput_hourly: float     # checkpointing every hour


def checkpoint_plan(n_devices: int, device_mtbf_hours: float, checkpoint_seconds: float,
                    restart_seconds: float) -> CheckpointPlan:
    """Failures per day, the job's MTBF, Young's and Daly's intervals and the goodput at
    each, and at an hourly checkpoint, for a synchronous job on ``n_devices``. A checkpoint
    takes some time (``checkpoint_seconds`` > 0): a free one has optimal intervals of 0."""
    check_positive_int("n_devices", n_devices)
    check_positive("device_mtbf_hours", device_mtbf_hours)
    check_positive("checkpoint_seconds", checkpoint_seconds)
    check_non_negative("restart_seconds", restart_seconds)
    mtbf_s = job_mtbf_hours(n_devices, device_mtbf_hours) * 3600
    try:
        young = young_interval(checkpoint_seconds, mtbf_s)
        daly = daly_interval(checkpoint_seconds, mtbf_s)
        goodputs = [goodput(tau, checkpoint_seconds, restart_seconds, mtbf_s)
                    for tau in (young, daly, 3600)]
    except ValueError as exc:  # the job's MTBF is minute next to the checkpoint or restart
        raise ValueError(
            f"n_devices={n_devices!r}, device_mtbf_hours={device_mtbf_hours!r}, "
            f"checkpoint_seconds={checkpoint_seconds!r}, restart_seconds={restart_seconds!r} "
            f"give a job MTBF of {mtbf_s:.3g} s, too short for its checkpoint and restart: "
            f"{exc}") from None
    return CheckpointPlan(
        failures_per_day=failures_per_day(n_devices, device_mtbf_hours),
        job_mtbf_seconds=mtbf_s,
        clean_day=probability_no_failure(24, n_devices, device_mtbf_hours),
        young=young, daly=daly,
        goodput_young=goodputs[0], goodput_daly=goodputs[1], goodput_hourly=goodputs[2],
    )
