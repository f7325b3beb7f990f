"""The parallelism planner: the plans multiply out to N devices and use the library's memory
and step time."""

import pytest

from bigcompute import memory, parallel, planner


def test_every_plan_uses_all_devices_and_respects_the_model():
    options = planner.plan_parallelism("llama2-13b", 64, 1024, 4096, "h100-sxm")
    assert options
    for o in options:
        assert o.dp * o.tp * o.pp == 64
        assert 40 % o.tp == 0 and o.tp <= 8 and o.pp <= 40  # 40 heads, 40 layers
        assert o.dp * o.micro_batch * o.n_microbatches == 1024


def test_plans_are_sorted_fitting_first_then_by_step_time():
    options = planner.plan_parallelism("llama2-13b", 16, 256, 4096, "h100-sxm", zero_stage=0)
    flags = [o.fits for o in options]
    assert flags == sorted(flags, reverse=True)
    fitting = [o.step.total_seconds for o in options if o.fits]
    assert fitting == sorted(fitting)


def test_a_plan_repeats_the_library_formulas():
    o = planner.plan_parallelism("llama2-7b", 8, 64, 4096, "h100-sxm")[0]
    mem = memory.training_memory("llama2-7b", 1, 4096, "mixed-bf16", "adamw", "flash",
                                 "selective", 1, o.dp, o.tp, o.pp, sp=o.tp > 1)
    assert o.memory.total == mem.total and o.memory.peak == mem.peak
    assert o.bubble_fraction == parallel.pipeline_bubble_fraction(o.pp, o.n_microbatches)
    assert o.step.n_devices == 8


def test_more_devices_never_need_more_memory_for_the_same_split():
    small = {o.label.split(" x ", 1)[1]: o.memory.total for o in
             planner.plan_parallelism("llama2-7b", 8, 256, 2048, "h100-sxm", zero_stage=3)}
    large = {o.label.split(" x ", 1)[1]: o.memory.total for o in
             planner.plan_parallelism("llama2-7b", 32, 256, 2048, "h100-sxm", zero_stage=3)}
    for split, total in small.items():
        if split in large:
            assert large[split] <= total


def test_planner_rejects_a_split_that_cannot_exist():
    with pytest.raises(ValueError, match="global_batch"):
        planner.plan_parallelism("llama2-7b", 8, 3, 4096, "h100-sxm", micro_batch=2)


def test_planner_refuses_at_once_what_no_split_fits():
    """Tensor parallelism stays within a node and pipelining within the layers, so the
    splits of an absurd device count are found (none) without listing its divisors."""
    with pytest.raises(ValueError, match=r"n_devices=10{30}.*splits into DP x TP x PP"):
        planner.plan_parallelism("llama2-7b", 10**30, 64, 2048, "h100-sxm")
    with pytest.raises(ValueError, match="seq=2048.*max_seq_len=1024"):
        planner.plan_parallelism("gpt2-small", 8, 64, 2048, "h100-sxm")
    with pytest.raises(ValueError, match="compute_efficiency=1.5"):
        planner.plan_parallelism("llama2-7b", 8, 64, 2048, "h100-sxm", compute_efficiency=1.5)


@pytest.mark.parametrize("n_devices", [32, 128, 1024])
def test_unbalanced_pipelines_are_charged_their_slowest_stage(n_devices):
    """Issue 18: for LLaMA-2-13B (40 layers) the planner once ranked PP32 first, its stages of
    2 and 1 layers charged as if balanced. Charged at the fullest stage's pace, the best plan
    divides the layers evenly, and an uneven one says why it is slower."""
    options = planner.plan_parallelism("llama2-13b", n_devices, 2048, 4096, "h100-sxm")
    assert 40 % options[0].pp == 0 and options[0].note == ""
    uneven = [o for o in options if 40 % o.pp]
    for o in uneven:
        assert f"PP{o.pp} does not divide 40 layers evenly" in o.note
        assert o.step.stage_layers == -(-40 // o.pp)
