"""Chapter 3's hand-written training code against torch: numpy backprop vs autograd, the
numpy optimizers vs torch.optim, the document's training loop and its fix, the profiler."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bigcompute import counts
from bigcompute.configs import MLPConfig
from bigcompute.lab import backprop, data, measure, nets, training

WORKED = training.WORKED_EXAMPLE_SIZES  # 100-500-500-10, document 004 sec. 4.3


@pytest.fixture(scope="module")
def batch():
    return data.classification_task(32, seed=3)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_numpy_backprop_equals_autograd_on_the_100_500_500_10_network(batch, loss):
    x, y = batch
    params = backprop.init_mlp(WORKED, seed=1)
    target = y.numpy() if loss == "cross_entropy" else \
        np.random.default_rng(0).standard_normal((32, 10)).astype(np.float32)
    value, grads = backprop.gradients(params, x.numpy(), target, loss)
    model = training.mlp_from_numpy(params)
    ref_value, ref_grads = training.autograd_gradients(model, x, torch.from_numpy(np.asarray(
        target)), loss)
    assert value == pytest.approx(ref_value, rel=1e-6)
    assert training.max_abs_difference(grads, ref_grads) < 1e-5
    assert [g[0].shape for g in grads] == [(500, 100), (500, 500), (10, 500)]


def test_numpy_forward_equals_the_torch_module(batch):
    x, _ = batch
    params = backprop.init_mlp(WORKED, seed=2)
    out = backprop.forward(params, x.numpy())["output"]
    with torch.no_grad():
        ref = training.mlp_from_numpy(params)(x).numpy()
    assert np.max(np.abs(out - ref)) < 1e-5


def test_init_mlp_draws_like_nn_linear():
    w, b = backprop.init_mlp((100, 500), seed=0)[0]
    bound = 1 / math.sqrt(100)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.std(w) == pytest.approx(bound / math.sqrt(3), rel=0.02)  # uniform's std


def test_flops_counted_by_the_numpy_code_equal_flop_counter_mode(batch):
    x, y = batch
    params = backprop.init_mlp(WORKED, seed=0)
    tally = backprop.FlopTally()
    backprop.gradients(params, x.numpy(), y.numpy(), tally=tally)
    model = training.mlp_from_numpy(params)
    assert tally.by_step["forward"] == measure.count_flops(model, (x,), "forward")
    assert tally.by_step["backward"] == measure.count_flops(model, (x,), "backward")
    # and the library's formula: forward 2 B sum(n_in n_out), backward twice that minus the
    # first layer's input gradient
    assert tally.by_step["forward"] == counts.flops(MLPConfig(WORKED), 32, pass_="forward")
    assert tally.by_step["forward"] == 2 * 32 * (100 * 500 + 500 * 500 + 500 * 10)
    assert tally.by_step["backward"] == 2 * tally.by_step["forward"] - 2 * 32 * 100 * 500


def test_softmax_cross_entropy_delta_is_probabilities_minus_one_hot():
    z = np.array([[2.0, 0.0, -1.0]])
    _, delta = backprop.loss_and_delta(z, np.array([0]))
    p = np.exp(z) / np.exp(z).sum()
    assert np.allclose(delta, p - np.array([[1, 0, 0]]))


def test_flop_tally_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes"):
        backprop.FlopTally().matmul(np.ones((2, 3)), np.ones((4, 5)), "forward", "x")


@pytest.mark.parametrize("name, lr", [("sgd", 0.1), ("momentum", 0.1), ("adam", 1e-3)])
def test_hand_optimizer_equals_torch_optim_for_5_steps(batch, name, lr):
    x, y = batch
    diffs = training.compare_optimizer(name, lr, x, y, steps=5)
    assert len(diffs) == 5
    assert max(diffs) < 1e-12


def test_hand_adam_moves_every_weight_by_about_lr_on_its_first_step(batch):
    x, y = batch
    torch.manual_seed(0)
    model = nets.build(MLPConfig(WORKED)).double()
    F.cross_entropy(model(x.double()), y).backward()
    p, g = training.flat_parameters(model), training.flat_gradients(model)
    adam = training.HandOptimizer("adam", 1e-3).step(p, g)
    wrong = training.HandOptimizer("seed004-adam", 1e-3).step(p, g)
    # at t = 1, m_hat / (sqrt(v_hat) + eps) = g / (|g| + eps): sign(g) wherever |g| >> eps
    moved = np.abs(adam - p)[np.abs(g) > 1e-5]
    assert moved.size > 0.9 * g.size
    assert np.allclose(moved, 1e-3, rtol=1e-3)
    # the document's version: lr g / (1 - b2) = 1000 lr g, not normalised
    assert np.allclose(wrong - p, -1e-3 * g / (1 - 0.999))


def test_documents_loop_fails_on_its_integer_labels_and_runs_when_fixed():
    x, _ = data.binary_task(16, seed=0)
    labels = torch.randint(0, 2, (16,))  # the document's labels
    model = training.documents_model(sigmoid_output=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    with pytest.raises(ValueError, match="Target size"):
        training.documents_training_step(model, x, labels, opt)
    with pytest.raises(RuntimeError):  # right shape, wrong dtype
        training.documents_training_step(model, x, labels.unsqueeze(1), opt)
    fixed = training.documents_model()
    loss = training.documents_training_step(fixed, x, labels.unsqueeze(1).float(),
                                            torch.optim.Adam(fixed.parameters(), lr=1e-3))
    assert math.isfinite(loss)


def test_sigmoid_before_bce_with_logits_bounds_the_loss_away_from_zero():
    # BCEWithLogits(sigmoid(z)) >= -log sigmoid(1) = 0.313 for label 1, and >= log 2 for 0
    x, y = data.binary_task(128, seed=0)
    floor = y.mean() * -math.log(1 / (1 + math.e**-1)) + (1 - y.mean()) * math.log(2)
    results = {}
    for sigmoid in (True, False):
        model = training.documents_model(sigmoid_output=sigmoid)
        h = training.train(model, torch.nn.BCEWithLogitsLoss(),
                           torch.optim.Adam(model.parameters(), lr=1e-3), x, y, 40,
                           progress=False)
        results[sigmoid] = h.final_loss
    assert results[True] >= float(floor) - 1e-6
    assert results[False] < 0.1 < float(floor)


def test_documents_model_has_the_documented_shape():
    model = training.documents_model()
    assert sum(p.numel() for p in model.parameters()) == counts.param_count(
        MLPConfig(training.DOCUMENTS_SIZES)) == 650_951


def test_train_records_one_loss_per_step_and_learns(batch):
    x, y = data.classification_task(512, seed=0)
    torch.manual_seed(0)
    model = nets.build(MLPConfig((100, 64, 10)))
    h = training.train(model, F.cross_entropy, torch.optim.Adam(model.parameters(), 1e-2),
                       x, y, 60, batch_size=64, progress=False)
    assert len(h.losses) == 60 and h.seconds > 0
    assert h.final_loss < h.losses[0] / 2
    assert training.accuracy(model, x, y) > 0.5


def test_batches_cover_each_epoch_once():
    seen = torch.cat(list(training.batches(10, 5, 2, seed=0)))
    assert sorted(seen.tolist()) == list(range(10))


def test_profiler_times_every_phase():
    x, y = data.classification_task(256, seed=0)
    model = nets.build(MLPConfig((100, 256, 10)))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    out = training.profile_training_step(model, F.cross_entropy, opt, x, y, steps=2)
    assert set(out["seconds"]) == set(training.PHASES)
    assert all(out["seconds"][p] > 0 for p in ("forward", "backward", "optimizer"))
    assert "addmm" in out["table"] or "mm" in out["table"]


def test_forward_backward_seconds_are_positive():
    x, y = data.classification_task(64, seed=0)
    model = nets.build(MLPConfig((100, 64, 10)))
    f, b = training.forward_backward_seconds(model, F.cross_entropy, x, y, repeats=3)
    assert f > 0 and b > 0


def test_sequence_task_has_the_shape_document_003_expects():
    x, y = data.sequence_task(8)
    assert x.shape == (8, 100, 10) and y.shape == (8,) and y.max() < 10
