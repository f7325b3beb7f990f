"""bigcompute.lab.machine: this machine's description and its roofline, measured."""

from __future__ import annotations

import math

import pytest
import torch

from bigcompute.lab import machine

TINY = {"sizes": (8, 16), "rows": (1, 2), "width": 32, "stream_bytes": 2**16, "repeats": 1}


def test_this_machine_describes_cpu_threads_and_versions():
    info = machine.this_machine()
    assert info.logical_cpus >= 1 and info.torch_threads >= 1
    assert info.torch_version == torch.__version__
    assert info.device == "cpu" and info.accelerator == "none"
    assert "torch" in info.summary()


def test_a_machine_whose_load_exceeds_its_cpus_is_busy_and_says_so():
    from dataclasses import replace

    info = machine.this_machine()
    quiet = replace(info, load_average=0.0)
    busy = replace(info, load_average=info.logical_cpus + 1.0)
    assert not quiet.busy and "BUSY" not in quiet.summary()
    assert busy.busy and "BUSY" in busy.summary()


def test_measure_roofline_on_tiny_sizes_gives_positive_finite_numbers():
    m = machine.measure_roofline(**TINY)
    assert len(m.ops) == 2 + 2 + 2
    assert [op.shape for op in m.of_kind("skinny matmul")] == [(1, 32, 32), (2, 32, 32)]
    for op in m.ops:
        assert op.seconds > 0 and math.isfinite(op.seconds)
        assert op.bytes_per_s > 0 and math.isfinite(op.bytes_per_s)
    for value in (m.peak_flops_per_s, m.bandwidth_bytes_per_s, m.ridge_point):
        assert value > 0 and math.isfinite(value)
    dev = m.as_device()
    assert dev.peak_flops("fp32") == m.peak_flops_per_s
    for row in m.rows():
        assert 0 < row["roofline_seconds"] and math.isfinite(row["fraction_of_roofline"])


def test_measured_flops_and_bytes_are_the_counts_torch_and_numpy_give():
    from torch.utils.flop_counter import FlopCounterMode

    op = machine.measure_matmul(3, 5, 7, repeats=1)
    a, b = torch.ones(3, 7), torch.ones(7, 5)
    counter = FlopCounterMode(display=False)
    with counter:
        a @ b
    assert op.flops == counter.get_total_flops() == 2 * 3 * 5 * 7
    assert op.bytes_moved == (a.nbytes + b.nbytes + 3 * 5 * 4)
    add = machine.measure_add(4096, repeats=1)
    assert add.flops == 1024 and add.bytes_moved == 3 * 4096  # 1/12 FLOP per byte in fp32
    copy = machine.measure_copy(4096, repeats=1)
    assert copy.flops == 0 and copy.bytes_moved == 2 * 4096


def test_measure_roofline_rejects_bad_input():
    with pytest.raises(ValueError, match="dtype"):
        machine.measure_roofline(dtype="fp64")
    with pytest.raises(ValueError, match="repeats"):
        machine.measure_matmul(4, 4, 4, repeats=0)
