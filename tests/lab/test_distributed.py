"""torch.distributed on two CPU processes (gloo): data, tensor and ZeRO parallelism give the
single-process results; processes and ports are cleaned up, even after a failure."""

import os

import pytest
import torch

from bigcompute import memory, parallel
from bigcompute.lab import distributed

SIZES = (100, 500, 500, 10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped) counts as gone
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return True


@pytest.fixture(scope="module")
def group():
    with distributed.WorkerGroup(2, timeout_s=60) as g:
        yield g


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(64, 100, generator=g), torch.randint(0, 10, (64,), generator=g)


def test_allreduce_sums_across_two_ranks(group):
    results = group.run(distributed.check_allreduce, 1000)
    assert [r["value"] for r in results] == [3.0, 3.0]  # 1 + 2 on both ranks
    assert all(r["all_equal"] for r in results)
    assert len({r["pid"] for r in results} | {os.getpid()}) == 3  # two other processes


def test_ddp_gradients_equal_single_process_gradients(group, data):
    x, y = data
    reference = distributed.mlp_gradients(SIZES, x, y)
    results = group.run(distributed.ddp_gradients, SIZES, x, y)
    for r in results:
        assert r["local_batch"] == 32
        for name, g in reference.items():
            assert torch.allclose(r["grads"][name], g, atol=1e-6), name
    assert results[0]["grad_bytes"] == 4 * sum(g.numel() for g in reference.values())


def test_ddp_rejects_a_batch_that_does_not_split_evenly(data):
    # checked before any communication, so it can be called here, without workers
    x, y = data
    with pytest.raises(ValueError, match="divide evenly"):
        distributed.ddp_gradients(0, 2, SIZES, x[:63], y[:63])


def test_tensor_parallel_mlp_equals_the_unsplit_layers(group):
    results = group.run(distributed.tensor_parallel_mlp, 64, 256, 32, 8)
    for r in results:
        assert r["column_max_abs_diff"] < 1e-5
        assert r["row_max_abs_diff"] < 1e-5
        assert r["mlp_max_abs_diff"] < 1e-5
    assert sum(r["local_params"] for r in results) == results[0]["full_params"]


def test_zero1_adam_equals_plain_adam_and_halves_the_optimizer_state(group, data):
    x, y = (t.double() if t.is_floating_point() else t for t in data)
    reference = distributed.adam_reference(SIZES, x, y, steps=3)
    results = group.run(distributed.zero1_adam, SIZES, x, y, 3)
    n = results[0]["n_params"]
    assert n == reference.numel()
    for r in results:
        assert torch.allclose(r["params"], reference, atol=1e-12, rtol=0)
    # Adam keeps m and v (8 bytes each in fp64 here) for the rank's half only
    assert sum(r["optimizer_state_bytes"] for r in results) == 2 * 8 * n
    per_rank = results[0]["weight_bytes"] + results[0]["grad_bytes"] + \
        results[0]["optimizer_state_bytes"]
    assert per_rank == memory.zero_memory_per_device(n, dp=2, stage=1,
                                                     optimizer_bytes_per_param=16,
                                                     weight_bytes=8, grad_bytes=8)


def test_allreduce_benchmark_times_and_counts_the_ring_traffic(group):
    sizes = [2**12, 2**20, 2**23]
    results = group.run(distributed.allreduce_benchmark, sizes, repeats=3)
    r0 = results[0]
    assert set(r0["seconds"]) == set(sizes) and all(t > 0 for t in r0["seconds"].values())
    assert results[1]["p2p_bytes_per_s"] > 0 and r0["exchange_bytes_per_s"] > 0
    if r0["wire_bytes"] is None:
        pytest.skip("no loopback counter (/proc/net/dev) on this system")
    # a ring all-reduce over 2 ranks: each sends 2(p-1)/p n = n bytes (plus TCP headers)
    expected = 2 * parallel.allreduce_bytes_per_device(2**23, 2)
    assert expected <= r0["wire_bytes"] < 1.1 * expected


def test_a_failing_rank_raises_its_traceback_and_the_group_restarts(group):
    old = group.pids
    with pytest.raises(distributed.WorkerError, match="deliberate failure on rank 1"):
        group.run(distributed.fail_on_rank, 1)
    assert not group.alive
    assert not any(_alive(p) for p in old)
    assert [r["value"] for r in group.run(distributed.check_allreduce)] == [3.0, 3.0]


def test_run_workers_joins_its_processes_and_frees_its_port():
    results = distributed.run_workers(distributed.check_allreduce, 2, 10)
    assert all(r["value"] == 3.0 for r in results)
    assert not any(_alive(r["pid"]) for r in results)


def test_close_joins_every_process_and_frees_the_port():
    g = distributed.WorkerGroup(2)
    pids, port = g.pids, g.port
    assert g.alive and not distributed.port_is_free(port)
    g.close()
    g.close()  # idempotent
    assert not any(_alive(p) for p in pids)
    assert distributed.port_is_free(port)
    assert "closed" in repr(g)


def test_shard_splits_evenly_and_covers_everything():
    parts = [distributed.shard(10, r, 3) for r in range(3)]
    assert [(p.start, p.stop) for p in parts] == [(0, 4), (4, 7), (7, 10)]


def test_world_size_must_be_a_positive_integer():
    with pytest.raises(ValueError, match="world_size"):
        distributed.WorkerGroup(0)
