"""Serving capacity: a batch whose weights, KV cache and logits do not fit is refused by every
prefill and decode estimate, with the largest batch and the longest context that fit."""

from __future__ import annotations

import re

import pytest

from bigcompute import kv_cache, timing


def test_a_batch_over_capacity_is_refused_with_the_largest_that_fits():
    """Chapter 8.2 once priced LLaMA-2-7B decoding at batch 256 with a 1,024-token context on
    one H100: its KV cache alone is 128 GiB. At most 134 sequences fit (issue 20)."""
    largest = kv_cache.max_decode_batch("llama2-7b", "h100-sxm", 1024)
    assert largest == 134
    with pytest.raises(ValueError, match=r"batch=256 .*at most 134 sequences of 1,024 tokens "
                                         r"on one h100-sxm"):
        timing.decode_time_per_token("llama2-7b", "h100-sxm", 256, 1024)
    kv_cache.check_serving_fits("llama2-7b", "h100-sxm", largest, 1024)  # no error


def test_the_longest_context_named_fits_and_one_more_token_does_not():
    with pytest.raises(ValueError) as error:
        kv_cache.check_serving_fits("llama2-7b", "h100-sxm", 64, 4096)
    longest = int(re.search(r"longest context that fits is ([\d,]+)", str(error.value))
                  .group(1).replace(",", ""))
    assert kv_cache.max_decode_batch("llama2-7b", "h100-sxm", longest) >= 64
    assert kv_cache.max_decode_batch("llama2-7b", "h100-sxm", longest + 1) < 64


def test_weights_that_do_not_fit_say_so_and_what_to_do():
    with pytest.raises(ValueError, match=r"device='h100-sxm'.*weights .*\(tp\)"):
        timing.prefill_time("llama2-70b", "h100-sxm", 1, 512)
    # split over 4 devices, the same model serves
    kv_cache.check_serving_fits("llama2-70b", "h100-sxm", 1, 512, tp=4)


def test_generation_is_checked_at_its_final_context():
    timing.generation_time("llama2-7b", "h100-sxm", 33, 2048, 2048)  # 33 x 4,096 fit
    with pytest.raises(ValueError, match="at most 33 sequences of 4,096 tokens"):
        timing.generation_time("llama2-7b", "h100-sxm", 40, 2048, 2048)


def test_a_context_too_long_for_even_one_sequence_is_named():
    with pytest.raises(ValueError, match=r"context=200000 .*at most 138,134 tokens"):
        kv_cache.check_serving_fits("llama2-7b", "h100-sxm", 1, 200_000)
