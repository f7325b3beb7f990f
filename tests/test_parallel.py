"""Collectives, pipeline bubbles, ZeRO traffic and the DP x TP x PP step-time model."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bigcompute import parallel
from bigcompute.hardware import Device

# 1e15 FLOP/s, and 200 GB/s of interconnect both ways together: 100 GB/s each way.
ROUND = Device.custom("round-numbers", {"bf16": 1e15}, memory_bytes=80e9,
                      bandwidth_bytes_per_s=2e12, interconnect_bytes_per_s=200e9)

sizes = st.floats(0, 1e12)
devices = st.integers(1, 4096)
bandwidths = st.floats(1e6, 1e13)


# ---------------------------------------------------------------- collectives

def test_allreduce_on_one_device_costs_nothing():
    assert parallel.ring_allreduce_time(1e9, 1, 1e9, latency_s=1e-3) == 0
    assert parallel.allreduce_bytes_per_device(1e9, 1) == 0


def test_allreduce_on_two_devices_sends_the_buffer_once_each():
    # 2(p-1)/p = 1: each device sends n bytes, taking n / bw
    assert parallel.allreduce_bytes_per_device(1e9, 2) == pytest.approx(1e9)
    assert parallel.ring_allreduce_time(1e9, 2, 1e9) == pytest.approx(1.0)


def test_allreduce_on_four_devices_by_hand():
    # 2 x 3/4 x 4 GB / 1 GB/s = 6 s, plus 2 x 3 latencies
    assert parallel.ring_allreduce_time(4e9, 4, 1e9) == pytest.approx(6.0)
    assert parallel.ring_allreduce_time(4e9, 4, 1e9, latency_s=0.01) == pytest.approx(6.06)


def test_allgather_and_reduce_scatter_on_four_devices_by_hand():
    assert parallel.allgather_time(4e9, 4, 1e9) == pytest.approx(3.0)
    assert parallel.reduce_scatter_time(4e9, 4, 1e9, latency_s=0.01) == pytest.approx(3.03)
    assert parallel.allgather_bytes_per_device(4e9, 4) == pytest.approx(3e9)


@given(sizes, devices, bandwidths, st.floats(0, 1e-3))
def test_allreduce_is_reduce_scatter_then_allgather(n, p, bw, lat):
    total = parallel.reduce_scatter_time(n, p, bw, lat) + parallel.allgather_time(n, p, bw, lat)
    assert parallel.ring_allreduce_time(n, p, bw, lat) == pytest.approx(total)


@given(sizes, devices)
def test_allreduce_bytes_per_device_never_reach_twice_the_buffer(n, p):
    sent = parallel.allreduce_bytes_per_device(n, p)
    assert 0 <= sent <= 2 * n
    assert parallel.allreduce_bytes_per_device(n, p + 1) >= sent


def test_ring_bandwidth_term_is_nearly_independent_of_device_count():
    t8 = parallel.ring_allreduce_time(1e9, 8, 1e9)
    t1024 = parallel.ring_allreduce_time(1e9, 1024, 1e9)
    assert t8 == pytest.approx(1.75)  # 2 x 7/8
    assert t8 < t1024 < 2.0
    assert t1024 == pytest.approx(2.0, rel=0.01)


@pytest.mark.parametrize("args, name", [((1e9, 0, 1e9), "n_devices=0"),
                                        ((-1, 4, 1e9), "n_bytes=-1"),
                                        ((1e9, 4, 0), "bandwidth_bytes_per_s=0"),
                                        ((1e9, 4, 1e9, -1), "latency_s=-1")])
def test_collectives_reject_bad_inputs(args, name):
    with pytest.raises(ValueError, match=name):
        parallel.ring_allreduce_time(*args)


# ---------------------------------------------------------------- pipeline bubble

def test_one_stage_has_no_bubble():
    assert parallel.pipeline_bubble_fraction(1, 1) == 0
    assert parallel.pipeline_bubble_overhead(1, 8) == 0


def test_bubble_by_hand():
    # p = 4, m = 8: (p-1)/(m+p-1) = 3/11 of the step; (p-1)/m = 3/8 over the ideal
    assert parallel.pipeline_bubble_fraction(4, 8) == pytest.approx(3 / 11)
    assert parallel.pipeline_bubble_overhead(4, 8) == pytest.approx(3 / 8)
    # interleaving v = 2 chunks halves the overhead
    assert parallel.pipeline_bubble_overhead(4, 8, 2) == pytest.approx(3 / 16)
    assert parallel.pipeline_bubble_fraction(4, 8, 2) == pytest.approx(3 / 19)


@given(st.integers(1, 128), st.integers(1, 512), st.integers(1, 8))
def test_bubble_fraction_is_overhead_over_one_plus_overhead(p, m, v):
    overhead = parallel.pipeline_bubble_overhead(p, m, v)
    assert parallel.pipeline_bubble_fraction(p, m, v) == pytest.approx(overhead / (1 + overhead))


@given(st.integers(2, 128), st.integers(1, 512), st.integers(1, 8))
def test_bubble_shrinks_with_more_microbatches_and_more_interleaving(p, m, v):
    f = parallel.pipeline_bubble_fraction(p, m, v)
    assert parallel.pipeline_bubble_fraction(p, m + 1, v) < f
    assert parallel.pipeline_bubble_fraction(p, m, v + 1) < f
    assert parallel.pipeline_bubble_fraction(p + 1, m, v) > f
    assert 0 < f < 1


def test_bubble_rejects_zero_stages_and_microbatches():
    with pytest.raises(ValueError, match="n_stages=0"):
        parallel.pipeline_bubble_fraction(0, 8)
    with pytest.raises(ValueError, match="n_microbatches=0"):
        parallel.pipeline_bubble_overhead(4, 0)


# ---------------------------------------------------------------- ZeRO traffic

def test_dp_and_zero_1_2_send_2_psi_and_zero_3_sends_3_psi():
    psi = 7.5e9 * 2  # 7.5B parameters in fp16
    for stage in (0, 1, 2):
        assert parallel.dp_communication_volume(7.5e9, 2, stage) == pytest.approx(2 * psi)
    assert parallel.dp_communication_volume(7.5e9, 2, 3) == pytest.approx(3 * psi)


def test_dp_volume_matches_the_ring_for_many_devices():
    ring = parallel.allreduce_bytes_per_device(2e9, 1024)
    assert parallel.dp_communication_volume(1e9) == pytest.approx(ring, rel=1e-3)


def test_dp_volume_rejects_an_unknown_zero_stage():
    with pytest.raises(ValueError, match="zero_stage=4"):
        parallel.dp_communication_volume(1e9, zero_stage=4)


# ---------------------------------------------------------------- step time

SHAPE = dict(n_layers=10, d_model=1000, seq_len=1000, micro_batch_size=1)


def test_one_device_step_is_pure_compute():
    s = parallel.step_time(1e15, 1e9, ROUND, compute_efficiency=0.5, **SHAPE)
    assert s.compute_seconds == pytest.approx(2.0)  # 1e15 / (1e15 x 0.5)
    assert s.total_seconds == s.compute_seconds
    assert s.tp_comm_seconds == s.dp_comm_seconds == s.bubble_seconds == 0
    assert s.mfu == pytest.approx(0.5)


def test_tensor_parallel_adds_four_allreduces_per_layer_by_hand():
    s = parallel.step_time(2e15, 1e9, ROUND, tp=2, compute_efficiency=0.5, **SHAPE)
    assert s.compute_seconds == pytest.approx(2.0)  # 2e15 / (2 x 1e15 x 0.5)
    # message 1 x 1000 x 1000 x 2 B = 2 MB; ring of 2 at 100 GB/s one way: 2e-5 s;
    # x 4 per layer x 10 layers = 8e-4 s
    assert s.tp_comm_seconds == pytest.approx(8e-4)
    assert s.total_seconds == pytest.approx(2.0008)


def test_data_parallel_allreduces_the_gradients_by_hand():
    s = parallel.step_time(4e15, 1e9, ROUND, dp=4, compute_efficiency=0.5, **SHAPE)
    # 2 GB of fp16 gradients, ring of 4 at 100 GB/s: 2 x 3/4 x 2e9 / 1e11 = 0.03 s
    assert s.dp_comm_seconds == pytest.approx(0.03)
    # the backward pass lasts 2/3 of the 2 s of compute: half of it hides all 0.03 s
    half_hidden = parallel.step_time(4e15, 1e9, ROUND, dp=4, dp_overlap=0.5,
                                     compute_efficiency=0.5, **SHAPE)
    assert half_hidden.dp_comm_seconds == 0 and half_hidden.dp_hidden_seconds == \
        pytest.approx(0.03)
    zero3 = parallel.step_time(4e15, 1e9, ROUND, dp=4, zero_stage=3, compute_efficiency=0.5,
                               **SHAPE)
    assert zero3.dp_comm_seconds == pytest.approx(0.045)


def test_overlap_hides_communication_only_behind_as_much_backward():
    """FAQ 9.5 once printed "overlap 100%: gradients 0.00 s" for an all-reduce longer than
    the backward pass. At 0.5 GB/s the 2 GB all-reduce takes 2 x 3/4 x 2e9 / 5e8 = 6 s; the
    backward pass, 2/3 of 2 s, hides 4/3 s of it and no more."""
    s = parallel.step_time(4e15, 1e9, ROUND, dp=4, dp_overlap=1.0, compute_efficiency=0.5,
                           dp_bandwidth_bytes_per_s=5e8, **SHAPE)
    assert s.dp_hidden_seconds == pytest.approx(4 / 3)
    assert s.dp_comm_seconds == pytest.approx(6 - 4 / 3)


def test_pipeline_bubble_by_hand():
    balanced = dict(SHAPE, n_layers=12)  # 3 layers on each of 4 stages
    s = parallel.step_time(4e15, 1e9, ROUND, pp=4, n_microbatches=8, compute_efficiency=0.5,
                           **balanced)
    assert s.compute_seconds == pytest.approx(2.0)
    assert s.bubble_seconds == pytest.approx(2.0 * 3 / 8)
    assert s.mfu == pytest.approx(0.5 / (1 + 3 / 8))


def test_the_slowest_stage_sets_the_pace():
    """10 layers on 4 stages: stages of 3, 3, 2, 2; every stage waits as if it held 3, 1.2
    times the balanced 2.5."""
    s = parallel.step_time(4e15, 1e9, ROUND, pp=4, n_microbatches=8, compute_efficiency=0.5,
                           **SHAPE)
    assert s.stage_layers == 3 and s.compute_seconds == pytest.approx(2.0 * 1.2)


def test_explicit_bandwidths_override_the_device():
    s = parallel.step_time(4e15, 1e9, ROUND, dp=4, dp_bandwidth_bytes_per_s=25e9,
                           compute_efficiency=0.5, **SHAPE)
    assert s.dp_comm_seconds == pytest.approx(0.12)


@given(st.integers(1, 8), st.integers(1, 8), st.integers(1, 8), st.integers(1, 64))
def test_step_parts_add_up_and_mfu_never_exceeds_compute_efficiency(dp, tp, pp, m):
    s = parallel.step_time(1e16, 1e10, ROUND, dp=dp, tp=tp, pp=pp, n_microbatches=m,
                           compute_efficiency=0.6, n_layers=16, d_model=4096, seq_len=2048,
                           micro_batch_size=1)
    parts = s.compute_seconds + s.tp_comm_seconds + s.dp_comm_seconds + s.bubble_seconds
    assert s.total_seconds == pytest.approx(parts)
    assert s.n_devices == dp * tp * pp
    assert 0 < s.mfu <= 0.6 + 1e-12


def test_step_time_rejects_impossible_layouts():
    with pytest.raises(ValueError, match="pp=20"):
        parallel.step_time(1e15, 1e9, ROUND, pp=20, **SHAPE)
    with pytest.raises(ValueError, match="dp_overlap=1.5"):
        parallel.step_time(1e15, 1e9, ROUND, dp=2, dp_overlap=1.5, **SHAPE)
    with pytest.raises(ValueError, match="compute_efficiency=0"):
        parallel.step_time(1e15, 1e9, ROUND, compute_efficiency=0, **SHAPE)
    no_link = Device.custom("lonely", {"bf16": 1e15}, 80e9, 2e12)
    with pytest.raises(ValueError, match="tp_bandwidth_bytes_per_s"):
        parallel.step_time(1e15, 1e9, no_link, tp=2, **SHAPE)


def test_a_catalogue_device_works_and_reports_its_parts():
    s = parallel.step_time(6 * 7e9 * 4e6, 7e9, "h100-sxm", dp=8, tp=8, pp=1,
                           n_microbatches=4, n_layers=32, d_model=4096, seq_len=4096,
                           micro_batch_size=1, dp_bandwidth_bytes_per_s=50e9)
    assert set(s.as_dict()) >= {"compute_seconds", "tp_comm_seconds", "dp_comm_seconds",
                                "bubble_seconds", "total_seconds", "mfu"}
    assert s.tp_comm_seconds > 0 and s.dp_comm_seconds > 0 and s.bubble_seconds == 0


def test_zero_stage_is_an_integer_and_given_bandwidths_are_checked():
    with pytest.raises(ValueError, match="zero_stage=True"):
        parallel.dp_communication_volume(7e9, 2, zero_stage=True)
    kw = {"n_layers": 4, "d_model": 64, "seq_len": 16, "micro_batch_size": 1}
    with pytest.raises(ValueError, match="zero_stage=1.0"):
        parallel.step_time(1e15, 1e9, ROUND, zero_stage=1.0, **kw)
    # a bandwidth that is given is checked even where it goes unused (tp = 1)
    with pytest.raises(ValueError, match="tp_bandwidth_bytes_per_s=-5"):
        parallel.step_time(1e15, 1e9, ROUND, tp_bandwidth_bytes_per_s=-5, **kw)
