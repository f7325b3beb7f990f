"""bigcompute.workloads: the workloads' compute profiles, checked against torch and the
papers, and the refusals of a broken workloads file."""

from __future__ import annotations

import itertools

import pytest

from bigcompute import counts, hardware, timing, workloads

LIBRARY_WORKLOADS = [k for k in workloads.workloads() if workloads.workload(k).model]


@pytest.mark.parametrize("key", LIBRARY_WORKLOADS)
def test_workload_params_and_flops_per_prediction_equal_the_torch_module(key):
    torch = pytest.importorskip("torch")
    from bigcompute.lab import measure, nets

    w = workloads.workload(key)
    module = nets.build(w.config, device="meta")
    assert workloads.param_count(key) == sum(p.numel() for p in module.parameters())
    inputs = nets.example_inputs(w.config, 1, w.seq, device="meta")
    with torch.no_grad():
        measured = measure.count_flops(module, inputs)
    flops, how = workloads.forward_flops(key)
    assert flops == measured
    assert "FlopCounterMode" in how


def test_there_are_workloads_in_every_domain():
    domains = {workloads.workload(k).domain for k in workloads.workloads()}
    assert domains == set(workloads.DOMAINS)


def test_bert_is_an_encoder_so_it_cannot_generate_a_translation():
    w = workloads.workload("bert-base")
    assert w.config.arch == "encoder"
    assert w.serving["kind"] == "encode"
    with pytest.raises(ValueError, match="encoder does not generate"):
        timing.decode_time_per_token(w.config, "h100-sxm", 1, 128)


def test_resnet50_is_4_1_billion_multiply_adds_and_3_8_with_the_papers_strides():
    # torchvision's layout, which the library builds, strides each downsampling block's 3x3
    # convolution: 4.09e9 multiply-adds. He et al. (2016) stride the first 1x1 convolution
    # instead, which then runs at a quarter of the positions; Table 1 says 3.8e9 (FLOPs that
    # are multiply-adds). FLOPs are twice the multiply-adds.
    flops, _ = workloads.forward_flops("resnet-50")
    macs = flops / 2
    assert macs == pytest.approx(4.09e9, rel=0.01)
    # the first 1x1 of stages 2-4 (c_in x planes at the input resolution), 3/4 of it saved
    saved = sum(3 / 4 * s * s * c_in * planes
                for s, c_in, planes in ((56, 256, 128), (28, 512, 256), (14, 1024, 512)))
    assert macs - saved == pytest.approx(3.8e9, rel=0.02)


def test_detr_flops_are_twice_its_published_multiply_adds():
    w = workloads.workload("detr-r50")
    flops, how = workloads.forward_flops("detr-r50")
    assert flops == 2 * w.published["forward_macs"] == 172e9
    assert "multiply-adds" in how
    # training: 3 x forward x 500 epochs of 118k images
    assert workloads.training_flops("detr-r50")[0] == pytest.approx(3 * 172e9 * 500 * 118e3,
                                                                    rel=1e-3)


def test_detrs_published_frame_rate_is_slower_than_the_ideal_roofline():
    # 28 images/s on a V100 at batch 1 cannot beat the roofline at 100% of the fp16 peak
    ideal, bound, _ = workloads.serving_seconds("detr-r50", "v100", batch=1, dtype="fp16",
                                                mfu=1.0)
    measured = 1 / workloads.workload("detr-r50").published["measured_predictions_per_second"]
    assert measured > ideal
    assert bound == "compute"


def test_llama2_7b_training_compute_is_6nd_plus_attention():
    flops, _ = workloads.training_flops("llama2-7b")
    six_nd = counts.flops_6nd(6.74e9, 2e12)
    assert six_nd < flops < 1.25 * six_nd  # attention at 4096 tokens adds ~17%


def test_llama2_7b_published_gpu_hours_imply_a_plausible_utilisation():
    w = workloads.workload("llama2-7b")
    hours = w.published["training_device_hours"]
    achieved = workloads.training_flops("llama2-7b")[0] / (hours * 3600)
    peak = hardware.device(w.published["training_device"]).peak_flops("bf16")
    assert 0.3 < achieved / peak < 0.6


def test_whisper_and_vit_training_are_examples_times_per_example_flops():
    for key in ("whisper-base", "vit-b16", "resnet-50"):
        w = workloads.workload(key)
        per_example = counts.flops(w.config, 1, w.training.get("seq"), "train")
        assert workloads.training_flops(key)[0] == per_example * w.training["examples"]


def test_alphafold_is_timed_on_a_v100_only():
    p = workloads.profile("alphafold2", "v100", batch=1, dtype="fp16",
                          price_per_device_hour=3.0)
    assert p.seconds_per_prediction == 66  # 1.1 min for 384 residues, Jumper et al. 2021
    assert p.params is None  # the paper publishes no parameter count
    assert p.device_hours_per_1000 == pytest.approx(66 * 1000 / 3600)
    assert p.cost_per_1000 == pytest.approx(66 * 1000 / 3600 * 3.0)
    with pytest.raises(ValueError, match="v100"):
        workloads.profile("alphafold2", "h100-sxm")
    listed = workloads.profiles("h100-sxm")
    assert isinstance(listed["alphafold2"], str) and "v100" in listed["alphafold2"]


def test_an_encoder_is_memory_bound_alone_and_compute_bound_in_a_batch():
    _, alone, _ = workloads.serving_seconds("bert-base", "h100-sxm", batch=1)
    _, batched, _ = workloads.serving_seconds("bert-base", "h100-sxm", batch=256)
    assert (alone, batched) == ("memory", "compute")


def test_a_generation_batch_must_fit_with_its_kv_cache():
    # Llama 2 7B: 13.5 GB of bf16 weights + 0.4 GB of KV cache per 768-token sequence
    workloads.serving_seconds("llama2-7b", "h100-sxm", batch=128)
    with pytest.raises(ValueError, match="fit on one h100-sxm"):
        workloads.serving_seconds("llama2-7b", "h100-sxm", batch=256)


def test_batching_never_makes_a_prediction_slower():
    for key in ("bert-large", "llama2-7b", "whisper-base"):
        times = [workloads.serving_seconds(key, "a100-80gb", b)[0] for b in (1, 4, 16, 64)]
        assert all(a >= b * (1 - 1e-12) for a, b in itertools.pairwise(times))


def test_cost_and_energy_are_device_time_times_price_and_power():
    p = workloads.profile("vit-b16", "a100-40gb", batch=64, price_per_device_hour=1.844)
    hours = p.seconds_per_prediction * 1000 / 3600
    assert p.cost_per_1000 == pytest.approx(hours * 1.844)
    assert p.energy_wh_per_prediction == pytest.approx(p.seconds_per_prediction / 3600 * 400)
    assert workloads.profile("vit-b16", "a100-40gb").cost_per_1000 is None


def test_generation_costs_the_library_generation_time():
    w = workloads.workload("llama2-7b")
    s = w.serving
    seconds = timing.generation_time(w.config, "h100-sxm", 8, s["prompt_tokens"],
                                     s["new_tokens"], "bf16", mfu=0.5)
    assert workloads.serving_seconds("llama2-7b", "h100-sxm", 8)[0] == pytest.approx(seconds / 8)


def test_unknown_workload_lists_close_names():
    with pytest.raises(ValueError, match="bert-base"):
        workloads.workload("bert-bse")


@pytest.mark.parametrize("broken, message", [
    ({"x": {"title": "t"}}, "missing"),
    ({"x": {"title": "t", "domain": "music", "prediction": "p", "model": "bert-base",
            "serving": {"kind": "encode"}, "training": {"kind": "tokens"}}}, "domain"),
    ({"x": {"title": "t", "domain": "vision", "prediction": "p", "model": None,
            "serving": {"kind": "encode"}, "training": {"kind": "tokens"}}}, "null model"),
    ({"x": {"title": "t", "domain": "vision", "prediction": "p", "model": "bert-base",
            "serving": {"kind": "encode", "seq": -1}, "training": {"kind": "tokens"}}},
     "seq=-1"),
])
def test_broken_workload_files_fail_loudly(broken, message):
    with pytest.raises(ValueError, match=message):
        workloads.parse({"workloads": broken})


@pytest.mark.parametrize("kwargs, name", [
    (dict(batch=0), "batch"), (dict(mfu=1.5), "mfu"), (dict(dtype="fp64"), "dtype"),
    (dict(price_per_device_hour=-1.0), "price_per_device_hour"),
])
def test_profiles_refuse_bad_arguments_instead_of_listing_them(kwargs, name):
    with pytest.raises(ValueError, match=f"{name}="):
        workloads.profiles(**kwargs)
