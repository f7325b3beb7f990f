"""The vectorised sweep gives, element by element, what the scalar functions give."""

import numpy as np
import pytest

from bigcompute import counts, memory, sweep, timing
from bigcompute.catalog import model

BASES = ["gpt2-small", "llama2-70b", "mixtral-8x7b", "bert-base", "t5-11b", "whisper-base",
         "vit-b16"]


def _shapes(base, n=24, seed=0):
    """Random valid sizes around a base: heads that divide d_model, kv heads that divide
    the heads, batch and seq from a few values (so several (batch, seq) groups)."""
    rng = np.random.default_rng(seed)
    cfg = model(base)
    group = cfg.n_heads // cfg.n_kv_heads
    head_dim = cfg.head_dim
    n_heads = group * rng.integers(1, 9, n)
    d_model = n_heads * head_dim
    if cfg.head_dim * cfg.n_heads != cfg.d_model:  # T5-11B keeps its own head_dim
        d_model = rng.integers(4, 32, n) * 64
    shapes = {"n_layers": rng.integers(1, 40, n), "d_model": d_model, "n_heads": n_heads,
              "n_kv_heads": n_heads // group, "d_ff": rng.integers(1, 64, n) * 64,
              "batch": rng.choice([1, 2, 8], n), "seq": rng.choice([16, 100, 448], n)}
    if cfg.frontend == "patches":  # a ViT takes its own sequence: its patches and a class token
        shapes["seq"] = np.full(n, cfg.n_patches + 1)
    return shapes


def _scalar_config(base, shapes, i):
    cfg = model(base)
    sizes = {k: int(shapes[k][i]) for k in sweep.SIZE_FIELDS}
    own = cfg.head_dim * cfg.n_heads != cfg.d_model
    return cfg.scaled(**sizes, head_dim=cfg.head_dim if own else sizes["d_model"]
                      // sizes["n_heads"])


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("precision,attention,recompute", [
    ("amp-bf16", "flash", None), ("fp32", "naive", "selective"), ("bf16", "flash", "full")])
def test_sweep_equals_the_scalar_functions(base, precision, attention, recompute):
    shapes = _shapes(base)
    kw = {"precision": precision, "attention": attention, "recompute": recompute}
    grid = sweep.transformer_sweep(base, **shapes, **kw, device="h100-sxm", mfu=0.5)
    for i in range(len(shapes["batch"])):
        cfg = _scalar_config(base, shapes, i)
        b, s = int(shapes["batch"][i]), int(shapes["seq"][i])
        train = counts.flops(cfg, b, s, "train", attention=attention, recompute=recompute)
        assert grid["params"][i] == counts.param_count(cfg)
        assert grid["forward_flops"][i] == pytest.approx(
            counts.flops(cfg, b, s, attention=attention, recompute=recompute), rel=1e-15)
        assert grid["train_flops"][i] == pytest.approx(train, rel=1e-15)
        assert grid["activation_bytes"][i] == pytest.approx(
            memory.activation_bytes(cfg, b, s, **kw).total, rel=1e-12)
        total = memory.training_memory(cfg, b, s, **kw).total
        assert grid["memory_bytes"][i] == pytest.approx(total, rel=1e-12)
        assert grid["step_seconds"][i] == pytest.approx(
            timing.training_time(train, "h100-sxm", 1, mfu=0.5), rel=1e-12)


def test_sizes_not_given_come_from_the_base():
    grid = sweep.transformer_sweep("llama2-7b", n_layers=[32], batch=1, seq=4096,
                                   precision="amp-bf16")
    assert grid["params"][0] == counts.param_count(model("llama2-7b")) == 6_738_415_616
    assert grid["memory_bytes"][0] == pytest.approx(
        memory.training_memory("llama2-7b", 1, 4096, "amp-bf16").total, rel=1e-12)


def test_arrays_broadcast_to_a_grid():
    grid = sweep.transformer_sweep("gpt2-small", n_layers=np.array([[6], [12]]),
                                   batch=np.array([1, 2, 4]), seq=256)
    assert grid["params"].shape == (2, 3)
    assert grid["params"][1, 0] == counts.param_count(model("gpt2-small"))
    # activations grow with batch, parameters do not
    assert (np.diff(grid["activation_bytes"], axis=1) > 0).all()
    assert (np.diff(grid["params"], axis=1) == 0).all()


def test_gpt3_175b_training_flops_are_exact_within_float64():
    # 3.1e17 FLOPs for one step of 8 x 2048 tokens: beyond 2**53, float64 keeps 1e-16
    grid = sweep.transformer_sweep("gpt3-175b", n_layers=96, batch=8, seq=2048)
    exact = counts.flops("gpt3-175b", 8, 2048, "train", attention="flash")
    assert grid["train_flops"] == pytest.approx(exact, rel=1e-15)


def test_an_invalid_element_is_named():
    with pytest.raises(ValueError, match="n_heads=7.*divisor of d_model.*element 1"):
        sweep.transformer_sweep("gpt2-small", d_model=[768, 768], n_heads=[12, 7])
    with pytest.raises(ValueError, match="batch=0.*positive integer"):
        sweep.transformer_sweep("gpt2-small", batch=[1, 0])
    with pytest.raises(ValueError, match="seq=2048.*max_seq_len=1024"):
        sweep.transformer_sweep("gpt2-small", seq=2048)


def test_fits_compares_with_the_devices_memory():
    grid = sweep.transformer_sweep("llama2-7b", batch=[1], seq=4096, device="h100-sxm")
    assert not grid["fits"][0]  # 16 B/param of states alone is 108 GB
    assert grid["fits"][0] == memory.fit("llama2-7b", "h100-sxm", 1, 4096).fits


def test_a_vit_sweep_takes_only_the_vits_own_sequence():
    vit = model("vit-b16")
    grid = sweep.transformer_sweep("vit-b16", n_layers=[6, 12], batch=2)
    assert grid["train_flops"][1] == counts.flops(vit, 2, None, "train", attention="flash")
    with pytest.raises(ValueError, match="seq=500.*None or 197"):
        sweep.transformer_sweep("vit-b16", n_layers=[6, 12], seq=500)
    with pytest.raises(ValueError, match="seq=16.*None or 197"):
        sweep.transformer_sweep("vit-b16", seq=[197, 16])


@pytest.mark.parametrize("given, message", [
    ({"n_layers": ["8"]}, "n_layers=.*positive integer"),
    ({"batch": True}, "batch=True.*positive integer"),
    ({"seq": None, "batch": None}, "batch=None.*positive integer"),
    ({"attention": "fast"}, "attention='fast'.*'naive', 'flash'"),
    ({"mfu": 1.5}, r"mfu=1.5.*\(0, 1\]"),
])
def test_bad_arguments_are_named(given, message):
    with pytest.raises(ValueError, match=message):
        sweep.transformer_sweep("gpt2-small", **given)
