"""Pipeline schedules against the bubble formula, and stale-gradient SGD."""

import itertools

import numpy as np
import pytest

from bigcompute import parallel
from bigcompute.lab import simulate


@pytest.mark.parametrize("schedule", simulate.SCHEDULES)
@pytest.mark.parametrize("p, m", [(1, 4), (2, 1), (4, 4), (4, 8), (8, 3), (3, 16)])
def test_simulated_bubble_equals_the_formula(schedule, p, m):
    run = simulate.simulate_pipeline(p, m, forward_time=1.0, backward_time=2.0,
                                     schedule=schedule)
    assert run.bubble_fraction == pytest.approx(parallel.pipeline_bubble_fraction(p, m))
    assert run.makespan == pytest.approx((m + p - 1) * 3.0)
    assert len(run.ops) == 2 * p * m


def test_1f1b_holds_at_most_p_micro_batches_where_gpipe_holds_all_m():
    gpipe = simulate.simulate_pipeline(4, 16, schedule="gpipe")
    one_f_one_b = simulate.simulate_pipeline(4, 16, schedule="1f1b")
    assert gpipe.peak_in_flight == (16, 16, 16, 16)
    assert one_f_one_b.peak_in_flight == (4, 3, 2, 1)


def test_every_op_waits_for_its_dependencies():
    run = simulate.simulate_pipeline(3, 4, schedule="1f1b")
    end = {(o.kind, o.stage, o.microbatch): o.end for o in run.ops}
    for o in run.ops:
        if o.kind == "F" and o.stage > 0:
            assert o.start >= end[("F", o.stage - 1, o.microbatch)]
        if o.kind == "B":
            dep = ("B", o.stage + 1, o.microbatch) if o.stage < 2 else ("F", 2, o.microbatch)
            assert o.start >= end[dep]
    for s in range(3):  # one op at a time per stage
        ops = sorted((o for o in run.ops if o.stage == s), key=lambda o: o.start)
        assert all(a.end <= b.start + 1e-12 for a, b in itertools.pairwise(ops))


def test_one_async_worker_is_plain_sgd():
    problem = simulate.least_squares(seed=1)
    sync = simulate.data_parallel_sgd(problem, 1, 0.1, 50, "sync", seed=2)
    asynchronous = simulate.data_parallel_sgd(problem, 1, 0.1, 50, "async", seed=2)
    assert np.allclose(sync, asynchronous)


def test_stale_gradients_diverge_where_synchronous_sgd_converges():
    problem = simulate.least_squares(seed=0)
    lr = 1.5
    sync = simulate.data_parallel_sgd(problem, 8, lr, 100, "sync")
    asynchronous = simulate.data_parallel_sgd(problem, 8, lr, 100, "async")
    assert sync[-1] < 0.05 * sync[0]
    assert not np.isfinite(asynchronous[-1])


def test_async_with_a_small_step_makes_more_progress_per_round():
    problem = simulate.least_squares(seed=0)
    sync = simulate.data_parallel_sgd(problem, 8, 0.05, 20, "sync")
    asynchronous = simulate.data_parallel_sgd(problem, 8, 0.05, 20, "async")
    assert asynchronous[-1] < sync[-1]


def test_least_squares_optimum_is_the_noise_floor():
    problem = simulate.least_squares(noise=0.1, seed=0)
    assert problem.optimum_loss == pytest.approx(0.1**2 / 2, rel=0.1)


def test_bad_schedule_is_rejected():
    with pytest.raises(ValueError, match="schedule"):
        simulate.simulate_pipeline(2, 2, schedule="zigzag")
