"""bigcompute.plots.diagrams: every diagram builds, draws something, and writes into its
labels the numbers the library computes (read back from the text artists)."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

import numpy as np

import bigcompute as bc
from bigcompute import hardware, kv_cache, memory, parallel, plots
from bigcompute.lab import backprop, simulate
from bigcompute.plots import diagrams
from bigcompute.units import format_bytes, format_rate

GPT2_SMALL = bc.TransformerConfig(n_layers=12, d_model=768, n_heads=12, vocab_size=50257,
                                  max_seq_len=1024)


def texts(fig) -> str:
    """Every text of a figure (titles, labels, legends), joined."""
    parts = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    return "\n".join(p for p in parts if isinstance(p, str))


def drawn(fig) -> None:
    assert fig.axes and any(ax.patches or ax.lines or ax.texts for ax in fig.axes)
    assert plots.figure_png(fig).startswith(b"\x89PNG")


def test_every_diagram_is_exported_by_plots():
    for name in diagrams.__all__:
        assert getattr(plots, name) is getattr(diagrams, name)


def test_ring_allreduce_ends_with_every_chunk_summed_on_every_gpu():
    for p in (2, 3, 4, 8):
        steps = diagrams.ring_allreduce_steps(p)
        assert len(steps) == 2 * (p - 1) + 1
        assert steps[p - 1][0].count(p) == 1  # reduce-scatter: one finished chunk each
        assert all(count == p for row in steps[-1] for count in row)


def test_ring_allreduce_diagram_writes_the_chunk_and_total_of_the_library():
    fig = plots.ring_allreduce_diagram(1e9, 4)
    drawn(fig)
    text = texts(fig)
    assert format_bytes(1e9 / 4) in text
    assert format_bytes(parallel.allreduce_bytes_per_device(1e9, 4)) in text
    assert "6 steps" in text and "AG 3" in text


def test_allgather_reduce_scatter_diagram_writes_the_bytes_sent():
    fig = plots.allgather_reduce_scatter_diagram(1e9, 8)
    drawn(fig)
    assert texts(fig).count(format_bytes(parallel.allgather_bytes_per_device(1e9, 8))) == 2


def test_zero_stages_diagram_writes_zero_memory_per_device_for_each_stage():
    fig = plots.zero_stages_diagram(7e9, 8)
    drawn(fig)
    text = texts(fig)
    for stage in range(4):
        per_gpu = format_bytes(memory.zero_memory_per_device(7e9, 8, stage))
        assert f"{per_gpu} per GPU" in text


def test_tensor_parallel_mlp_diagram_writes_each_shard_shape_and_bytes():
    fig = plots.tensor_parallel_mlp_diagram(4096, tp=4)
    drawn(fig)
    text = texts(fig)
    assert "A4: 4096 × 4096" in text and "B1: 4096 × 4096" in text
    assert format_bytes(4096 * 4096 * 2) in text  # one bf16 shard
    assert "all-reduce" in text


def test_pipeline_schedules_diagram_writes_the_simulated_bubbles():
    fig = plots.pipeline_schedules_diagram(4, 8)
    drawn(fig)
    text = texts(fig)
    for schedule in ("gpipe", "1f1b"):
        run = simulate.simulate_pipeline(4, 8, schedule=schedule)
        assert f"bubble {run.bubble_fraction:.1%}, up to {max(run.peak_in_flight)}" in text
    assert f"{parallel.pipeline_bubble_fraction(4, 8, 2):.1%} (formula)" in text
    ops = len(simulate.simulate_pipeline(4, 8).ops)
    assert sum(len(ax.patches) for ax in fig.axes) == 2 * ops


def test_kv_cache_diagram_writes_kv_cache_bytes_at_each_step():
    fig = plots.kv_cache_diagram(GPT2_SMALL, n_steps=3, prompt=4, block_size=16,
                                 seq_lens=(20, 16))
    drawn(fig)
    text = texts(fig)
    for t in (5, 6, 7):
        assert format_bytes(kv_cache.kv_cache_bytes(GPT2_SMALL, 1, t)) in text
    assert f"3 blocks of 16 positions, {format_bytes(kv_cache.kv_cache_bytes(GPT2_SMALL, 1, 16))}" in text
    assert "12 positions unused" in text


def test_memory_hierarchy_diagram_takes_hbm_and_link_from_the_catalogue():
    dev = hardware.device("h100-sxm")
    fig = plots.memory_hierarchy_diagram(dev)
    drawn(fig)
    text = texts(fig)
    assert format_bytes(dev.memory_bytes) in text
    assert format_rate(dev.bandwidth_bytes_per_s).replace("FLOP/s", "B/s") in text
    assert format_rate(dev.interconnect_bytes_per_s).replace("FLOP/s", "B/s") in text
    assert format_bytes(diagrams.H100_ON_CHIP["l2_bytes"]) in text


def test_gpu_anatomy_diagram_draws_every_sm_and_tensor_core():
    fig = plots.gpu_anatomy_diagram("h100-sxm")
    drawn(fig)
    chip = diagrams.H100_ON_CHIP
    assert f"{chip['n_sms']} SMs × {chip['tensor_cores_per_sm']} tensor cores" in texts(fig)
    assert len(fig.axes[0].patches) == chip["n_sms"] * (1 + chip["tensor_cores_per_sm"]) + 1 + 6


def test_cluster_topology_diagram_writes_nvlink_and_rail_bandwidths():
    dev = hardware.device("h100-sxm")
    fig = plots.cluster_topology_diagram(dev, n_nodes=2, gpus_per_node=4)
    drawn(fig)
    text = texts(fig)
    assert format_rate(dev.interconnect_bytes_per_s).replace("FLOP/s", "B/s") in text
    assert "rail 3" in text and "node 1" in text and "rail 4" not in text


def test_context_parallel_diagram_writes_each_gpus_tokens():
    fig = plots.context_parallel_diagram(32768, 4)
    drawn(fig)
    text = texts(fig)
    assert "GPU 3: tokens 24576–32767" in text and "8192 tokens each" in text


def test_moe_all_to_all_diagram_writes_the_dispatch_bytes():
    assert diagrams.moe_all_to_all_bytes(4, 4096, 4) == 4 * 4096 * 2 * 3 / 4
    fig = plots.moe_all_to_all_diagram(4096, ep=4, tokens_per_device=4)
    drawn(fig)
    assert format_bytes(diagrams.moe_all_to_all_bytes(4, 4096, 4)) in texts(fig)
    routes = diagrams.moe_routing(16, 4, top_k=2)
    assert all(len(set(r)) == 2 for r in routes)


def test_computational_graph_diagram_writes_the_flops_the_tally_counted():
    sizes = (100, 500, 500, 10)
    tally = backprop.FlopTally()
    params = backprop.init_mlp(sizes)
    backprop.gradients(params, np.zeros((64, 100), np.float32), np.zeros(64, int), tally=tally)
    fig = plots.computational_graph_diagram(sizes, tally)
    drawn(fig)
    text = texts(fig)
    assert f"fwd {2 * 64 * 100 * 500:,} FLOP" in text
    assert f"{tally.total:,} FLOP in all" in text
    assert "W3: 10 × 500" in text


def test_diagrams_refuse_splits_that_do_not_divide():
    with pytest.raises(ValueError, match="tp"):
        plots.tensor_parallel_mlp_diagram(512, tp=3, d_ff=2048)
    with pytest.raises(ValueError, match="cp"):
        plots.context_parallel_diagram(1000, cp=3)
    with pytest.raises(ValueError, match="top_k"):
        plots.moe_all_to_all_diagram(64, ep=2, top_k=3)
