"""Pruning, int8 quantization and distillation, measured on small models."""

import pytest
import torch
import torch.nn.functional as F

from bigcompute.configs import LSTMConfig, MLPConfig
from bigcompute.lab import compression, data, nets


@pytest.fixture(scope="module")
def mlp():
    torch.manual_seed(0)
    return nets.build(MLPConfig((100, 500, 500, 10)))


def test_pruning_zeroes_exactly_the_requested_share_and_leaves_the_original(mlp):
    pruned = compression.prune_magnitude(mlp, 0.8)
    assert compression.weight_sparsity(pruned) == pytest.approx(0.8, abs=1e-6)
    assert compression.weight_sparsity(mlp) == 0
    # the smallest weights went: every surviving |w| is at least every removed one's
    kept = torch.cat([m.weight.flatten() for m in pruned if isinstance(m, torch.nn.Linear)])
    orig = torch.cat([m.weight.flatten() for m in mlp if isinstance(m, torch.nn.Linear)])
    assert orig[kept == 0].abs().max() <= orig[kept != 0].abs().min()


def test_pruned_dense_file_is_as_big_and_sparse_storage_pays_only_past_half(mlp):
    dense = compression.serialized_bytes(mlp)
    assert compression.serialized_bytes(compression.prune_magnitude(mlp, 0.9)) == dense
    assert compression.sparse_serialized_bytes(compression.prune_magnitude(mlp, 0.9)) \
        < 0.25 * dense
    assert compression.sparse_serialized_bytes(compression.prune_magnitude(mlp, 0.3)) > dense


def test_int8_quantization_makes_the_file_about_4x_smaller_and_keeps_outputs(mlp):
    q = compression.quantize_int8(mlp)
    ratio = compression.serialized_bytes(mlp) / compression.serialized_bytes(q)
    assert 3.5 < ratio < 4.1
    x = torch.randn(64, 100)
    with torch.no_grad():
        assert torch.allclose(q(x), mlp(x), atol=0.05)


def test_lstm_quantizes_too():
    torch.manual_seed(0)
    model = nets.build(LSTMConfig(hidden_size=64, input_size=10, n_outputs=10,
                                  output="last_step"))
    q = compression.quantize_int8(model)
    assert "DynamicQuantizedLSTM" in repr(q)
    assert compression.serialized_bytes(q) < 0.4 * compression.serialized_bytes(model)
    x = torch.randn(4, 100, 10)
    with torch.no_grad():
        assert torch.allclose(q(x), model(x), atol=0.05)
    assert compression.weight_sparsity(compression.prune_magnitude(model, 0.5)) == \
        pytest.approx(0.5, abs=1e-4)


def test_distillation_loss_limits():
    torch.manual_seed(0)
    s, t = torch.randn(8, 10), torch.randn(8, 10)
    y = torch.randint(0, 10, (8,))
    assert compression.distillation_loss(s, y, t, alpha=0.0) == pytest.approx(
        F.cross_entropy(s, y).item())
    kl = F.kl_div(F.log_softmax(s, -1), F.softmax(t, -1), reduction="batchmean")
    assert compression.distillation_loss(s, y, t, temperature=1.0, alpha=1.0) == \
        pytest.approx(kl.item(), rel=1e-5)
    assert compression.distillation_loss(t, y, t, alpha=1.0) == pytest.approx(0, abs=1e-6)


def test_distilled_student_learns_from_the_teacher(mlp):
    x, y = data.classification_task(512, seed=0)
    torch.manual_seed(1)
    student = nets.build(MLPConfig((100, 16, 10)))
    h = compression.distill(student, mlp, x, y, 50, lr=1e-2, progress=False)
    assert len(h.losses) == 50 and h.final_loss < h.losses[0]


def test_latency_is_measured(mlp):
    assert compression.latency_seconds(mlp, torch.randn(8, 100), repeats=3) > 0
