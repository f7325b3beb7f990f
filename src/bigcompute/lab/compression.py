"""Making a trained model cheaper to serve, measured: pruning, int8 quantization, distillation.

- Magnitude pruning (``torch.nn.utils.prune``) zeroes the smallest weights. The dense tensors
  keep their size and a dense matmul does the same work, so pruning saves bytes only when the
  weights are stored sparse (`sparse_serialized_bytes`) and time only with sparse kernels.
- Dynamic int8 quantization (``torch.ao.quantization.quantize_dynamic``) stores the weights of
  Linear and LSTM layers as int8 with a scale (4x smaller than fp32) and quantizes the
  activations on the fly (Jacob et al. 2018).
- Knowledge distillation (Hinton, Vinyals & Dean 2015) trains a small student on a large
  teacher's softened outputs.

Sizes are the bytes of ``torch.save(model.state_dict())``: what a checkpoint file would take.
"""

from __future__ import annotations

import copy
import io
import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

from ..errors import check_fraction
from .measure import time_call
from .training import train

__all__ = [
    "serialized_bytes", "sparse_serialized_bytes", "prune_magnitude", "weight_sparsity",
    "quantize_int8", "latency_seconds", "distillation_loss", "distill",
]


def serialized_bytes(model: nn.Module) -> int:
    """Bytes of ``torch.save(model.state_dict())``: the size of the model's file."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell()


def _csr32(w: torch.Tensor) -> torch.Tensor:
    """A 2-D tensor as compressed sparse rows with int32 indices: 4 bytes of value and 4 of
    column index per non-zero, plus a row pointer per row."""
    with warnings.catch_warnings():  # "sparse CSR support is in beta": storage is all we use
        warnings.simplefilter("ignore", UserWarning)
        csr = w.detach().to_sparse_csr()
        return torch.sparse_csr_tensor(csr.crow_indices().int(), csr.col_indices().int(),
                                       csr.values(), csr.shape, check_invariants=False)


def sparse_serialized_bytes(model: nn.Module) -> int:
    """As `serialized_bytes`, with every 2-D weight stored as sparse rows (CSR, int32
    indices): smaller than dense only when more than about half the weights are zero."""
    state = {k: (_csr32(v) if v.dim() == 2 and not v.is_quantized else v)
             for k, v in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.tell()


def _weights(model, kinds=(nn.Linear, nn.LSTM)):
    """(module, name) of every weight matrix of the given layer kinds (LSTM: every layer's
    input and recurrent matrices)."""
    found = []
    for m in model.modules():
        if isinstance(m, nn.Linear) and nn.Linear in kinds:
            found.append((m, "weight"))
        elif isinstance(m, nn.LSTM) and nn.LSTM in kinds:
            found += [(m, name) for name, _ in m.named_parameters() if name.startswith("weight")]
    return found


def prune_magnitude(model: nn.Module, amount: float) -> nn.Module:
    """Zero the ``amount`` fraction of smallest-magnitude weights, counted over all the
    model's Linear and LSTM weight matrices together (global L1 pruning), and make it
    permanent. Returns a pruned copy; the model passed in is left as it was."""
    check_fraction("amount", amount)
    pruned = copy.deepcopy(model)
    targets = _weights(pruned)
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=amount)
    for module, name in targets:
        prune.remove(module, name)
    if any(isinstance(m, nn.LSTM) for m in pruned.modules()):
        for m in pruned.modules():
            if isinstance(m, nn.LSTM):
                m.flatten_parameters()
    return pruned


def weight_sparsity(model: nn.Module) -> float:
    """Fraction of the Linear and LSTM weight-matrix entries that are exactly zero."""
    zeros = total = 0
    for module, name in _weights(model):
        w = getattr(module, name)
        zeros += int((w == 0).sum())
        total += w.numel()
    return zeros / total


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy with every Linear and LSTM layer dynamically quantized to int8 weights
    (``torch.ao.quantization.quantize_dynamic``). Runs on CPU.

    torch 2.13 marks torch.ao.quantization as deprecated in favour of the separate torchao
    package; the eager dynamic quantization used here still works, and its warning is
    silenced."""
    # lazy: importing torch.ao.quantization warns that it is deprecated, so only when used
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return quantize_dynamic(copy.deepcopy(model).eval(), {nn.Linear, nn.LSTM},
                                dtype=torch.qint8)


def latency_seconds(model: nn.Module, x: torch.Tensor, repeats: int = 7) -> float:
    """Median wall seconds of one forward pass on ``x`` (no gradients), after a warm-up."""
    model.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return time_call(lambda: model(x), repeats=repeats, warmup=2).median_seconds


def distillation_loss(student_logits, target, teacher_logits, temperature: float = 4.0,
                      alpha: float = 0.9):
    """Hinton et al. (2015): alpha x T^2 x KL(softmax(teacher/T) || softmax(student/T))
    + (1 - alpha) x cross-entropy with the true labels. T^2 keeps the soft term's gradient
    on the scale of the hard one as T changes."""
    soft = F.kl_div(F.log_softmax(student_logits / temperature, dim=-1),
                    F.log_softmax(teacher_logits / temperature, dim=-1),
                    reduction="batchmean", log_target=True)
    return alpha * temperature**2 * soft + (1 - alpha) * F.cross_entropy(student_logits, target)


def distill(student: nn.Module, teacher: nn.Module, x, y, steps: int, lr: float = 1e-3,
            batch_size: int = 128, temperature: float = 4.0, alpha: float = 0.9,
            seed: int = 0, progress: bool = True):
    """Train ``student`` with `distillation_loss` against ``teacher``'s outputs on x (the
    teacher runs once, without gradients). Returns the training `History`."""
    teacher.eval()
    with torch.no_grad():
        teacher_logits = teacher(x)

    def loss_fn(out, target, teacher_out):
        return distillation_loss(out, target, teacher_out, temperature, alpha)

    return train(student, loss_fn, torch.optim.Adam(student.parameters(), lr=lr), x,
                 (y, teacher_logits), steps, batch_size, seed, progress, desc="distilling")
