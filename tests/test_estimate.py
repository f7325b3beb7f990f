"""The FAQ explorer's report (estimate.model_on_device): the FAQ's questions for one model and
device."""

import pytest

from bigcompute import estimate, memory
from bigcompute.explorers.faq import faq_summary_html

# LLaMA-2-7B's shape (Touvron et al. 2023b, Table 1 and the released config): 32 layers,
# d_model 4096, 32 heads of 128 (no grouped-query attention at 7B); 6,738,415,616 parameters
# in the released checkpoint.
LLAMA2_7B_PARAMS = 6_738_415_616


KV_BYTES_PER_TOKEN_BF16 = 2 * 32 * 4096 * 2  # K and V, every layer, 2 bytes each


H100_BANDWIDTH = 3.35e12  # bytes/s, H100 SXM datasheet


@pytest.fixture(scope="module")
def report():
    return estimate.model_on_device("llama2-7b", "h100-sxm", n_devices=1024, mfu=0.4, seq=4096)


def test_serving_memory_is_weights_plus_kv_cache(report):
    bf16 = report.serving["bf16"].memory
    assert bf16.weights == LLAMA2_7B_PARAMS * 2
    assert bf16.kv_cache == 4096 * KV_BYTES_PER_TOKEN_BF16  # exactly 2 GiB
    int4 = report.serving["int4"].memory
    assert int4.weights == LLAMA2_7B_PARAMS / 2 and int4.kv_cache == bf16.kv_cache


def test_batch_one_decode_is_bandwidth_over_bytes_read(report):
    # Memory-bound: every token reads all the weights and the whole cache once.
    expected = H100_BANDWIDTH / (LLAMA2_7B_PARAMS * 2 + 4096 * KV_BYTES_PER_TOKEN_BF16)
    assert report.serving["bf16"].tokens_per_s == pytest.approx(expected, rel=0.01)


def test_zero3_answer_is_the_smallest_power_of_two_that_fits(report):
    dp, mem = report.train_zero3
    cap = report.device.memory_bytes
    assert mem.total <= cap
    # 16 bytes per parameter (bf16 weights and grads, fp32 master, Adam's two moments), split dp
    assert mem.model_states == pytest.approx(16 * LLAMA2_7B_PARAMS / dp)
    smaller = memory.fewest_zero3_devices(report.cfg, "h100-sxm", 4096,
                                           max_devices=dp // 2,
                                           **estimate.FAQ_TRAINING_KWARGS)
    assert smaller is None


def test_seven_billion_parameters_do_not_train_on_one_80gb_gpu(report):
    # The states alone are 16 x 6.74e9 = 108 GB.
    assert report.train_one_device.total > report.device.memory_bytes


def test_training_time_is_the_published_tokens_at_the_chosen_mfu(report):
    est = report.train
    assert report.tokens_note == "published" and est.tokens == 2e12
    # exact FLOPs are a little above 6ND (attention), never below
    assert est.flops > 6 * LLAMA2_7B_PARAMS * 2e12
    assert est.seconds == pytest.approx(est.flops / (1024 * 989.4e12 * 0.4))


def test_405b_cannot_train_with_zero3_alone_on_32gb_devices():
    r = estimate.model_on_device("llama3.1-405b", "v100", 1024, 0.4, 1024)
    assert r.train_zero3 is None
    assert "tensor or pipeline" in faq_summary_html(r)


def test_devices_without_bf16_or_a_tdp_still_get_answers():
    v100 = estimate.model_on_device("llama2-7b", "v100", 64, 0.4, 1024)
    assert list(v100.serving) == ["fp16", "int8", "int4"]
    assert v100.serving["int8"].tokens_per_s is None  # Volta lists no int8 peak
    tpu = estimate.model_on_device("llama2-7b", "tpu-v5e", 64, 0.4, 1024)
    assert "no published TDP" in faq_summary_html(tpu)
    cpu = estimate.model_on_device("gpt2-small", "epyc-9654", 1, 0.4, 1024)
    assert "fp32" in cpu.serving


def test_estimate_training_refuses_what_it_used_to_replace_or_ignore():
    """seq=0 is not the default sequence; a sequence means nothing to 6ND; None is no model."""
    with pytest.raises(ValueError, match="seq=0"):
        estimate.estimate_training("gpt2-small", 1e9, "h100-sxm", seq=0)
    with pytest.raises(ValueError, match="seq=4096.*max_seq_len=1024"):
        estimate.estimate_training("gpt2-small", 1e9, "h100-sxm", seq=4096)
    with pytest.raises(ValueError, match="seq=512.*cfg_or_params=7000000000.0"):
        estimate.estimate_training(7e9, 1e9, "h100-sxm", seq=512)
    with pytest.raises(ValueError, match="cfg_or_params=None"):
        estimate.estimate_training(None, 1e9, "h100-sxm")
    with pytest.raises(ValueError, match="tokens=1e\\+300"):
        estimate.estimate_training("llama2-7b", 1e300, "h100-sxm")
    with pytest.raises(ValueError, match="pue=0.9"):
        estimate.estimate_training("llama2-7b", 1e9, "h100-sxm", pue=0.9)


def test_model_on_device_takes_a_transformer_within_its_context():
    with pytest.raises(ValueError, match="model=3"):
        estimate.model_on_device(3, "h100-sxm", 8, 0.4, 1024)
    with pytest.raises(ValueError, match="seq='8'"):
        estimate.model_on_device("llama2-7b", "h100-sxm", 8, 0.4, "8")
    with pytest.raises(ValueError, match="seq=8192 .*longer than llama2-7b's context"):
        estimate.model_on_device("llama2-7b", "h100-sxm", 8, 0.4, 8192)
