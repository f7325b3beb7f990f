"""Chapter 5: the source documents' code examples, corrected, trained on a CPU and measured.

Each document's model is rebuilt in PyTorch from a config the formulas understand (so its
parameters and FLOPs can be predicted), given data of the right shape (`data`: generated, or
the small text corpus shipped in ``data/corpus.txt``), and trained with chapter 3's loop
(`training.train`) under a tqdm progress bar, with validation at intervals
(`training.train_with_validation`):

- 001 sec. 4: MLP 1000-500-250-100-1 returning logits for BCEWithLogitsLoss; a linear
  teacher's labels (`data.binary_task`).
- 002 sec. 4: the Keras MLP 100-64-32-10, logits and cross-entropy; a random network's labels
  (`data.classification_task`).
- 003 sec. 4: the CNN for 28x28x1 images (conv 32, conv 64, dense 128, 10 classes);
  seven-segment digits (`data.digit_images`).
- 003 sec. 4: the LSTM(64) for (100, 10) sequences, 10 classes read from the last step
  (``output="last_step"``); drifting-channel sequences (`data.drift_sequences`).
- 003 sec. 4: the attention layer, made additive (Bahdanau): v . tanh(W q + U s_t); a pattern
  at a random time (`data.sequence_task`); the modules are in `nets`.
- 004 sec. 5: embedding, two LSTM layers and a softmax: a character language model on the
  shipped corpus.

This module imports torch, like the rest of `bigcompute.lab`; ``import bigcompute`` does not
import it. The predictions are plain arithmetic on the configs (`counts.param_count`,
`counts.flops`, `memory.activation_bytes`): what chapter 5.3 holds against torch's own
measurements.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .. import counts, memory, timing
from ..configs import AttentionConfig, CNNConfig, LSTMConfig, MLPConfig
from ..errors import check_choice
from ..units import format_bytes, format_rate, format_seconds
from . import data, machine, measure, nets, training

__all__ = [
    "SEED001_MLP", "SEED002_MLP", "SEED003_CNN", "SEED003_LSTM", "LM_SEQ", "generate_text",
    "accuracy", "Task", "language_model_config", "document_tasks", "unigram_perplexity",
    "measure_peak", "counting_module", "Comparison", "time_training_step",
    "predicted_vs_measured", "comparison_table", "chance_level", "results_table",
]

# The documents' shapes.
SEED001_MLP = MLPConfig((1000, 500, 250, 100, 1), name="seed 001 MLP")
SEED002_MLP = MLPConfig((100, 64, 32, 10), name="seed 002 MLP")
SEED003_CNN = CNNConfig(in_channels=1, image_size=28, channels=(32, 64), kernel_size=3,
                        pool=True, hidden=(128,), n_classes=10, name="seed 003 CNN")
# classifies from its last step (the fix of the document's return_sequences=True)
SEED003_LSTM = LSTMConfig(hidden_size=64, input_size=10, n_outputs=10, output="last_step",
                          name="seed 003 LSTM")
LM_SEQ = 64  # characters per training window of the language model


# ---------------------------------------------------------------- the language model

@torch.no_grad()
def generate_text(model: nets.LSTMNet, tokenizer: data.CharTokenizer, prompt: str,
                  n_chars: int, temperature: float = 0.8, seed: int = 0) -> str:
    """Sample ``n_chars`` characters after ``prompt`` from an LSTM language model, carrying the
    LSTM's state from step to step (softmax of logits / temperature)."""
    g = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    ids = tokenizer.encode(prompt)[None, :]
    h, state = model.lstm(model.embedding(ids))
    out = []
    for _ in range(n_chars):
        probs = torch.softmax(model.out(h[:, -1]) / temperature, dim=-1)
        nxt = torch.multinomial(probs, 1, generator=g)
        out.append(int(nxt))
        h, state = model.lstm(model.embedding(nxt), state)
    model.train(was_training)
    return prompt + tokenizer.decode(out)


# ---------------------------------------------------------------- the six tasks

def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of correct predictions: a threshold at 0 for one logit, else the arg max."""
    if logits.shape[-1] == 1:
        return float(((logits > 0).float() == targets).float().mean())
    return float((logits.argmax(-1) == targets).float().mean())


@dataclass
class Task:
    """A document's model with its data, loss and (short, CPU-sized) training schedule."""

    key: str
    document: str
    cfg: object
    loss: str  # "bce" (one logit per example) or "ce" (class or next-token logits)
    batch: int
    steps: int
    lr: float
    train_data: tuple  # (inputs, targets)
    val_data: tuple
    eval_every: int
    clip_norm: float | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        check_choice("loss", self.loss, ("bce", "ce"))

    @property
    def is_language_model(self) -> bool:
        return isinstance(self.cfg, LSTMConfig) and bool(self.cfg.vocab_size)

    @property
    def seq(self) -> int | None:
        """Steps per example: tokens of a language model's window, or a sequence's length."""
        x = self.train_data[0]
        if x.dim() == 3 or (x.dim() == 2 and x.dtype == torch.long):
            return int(x.shape[1])
        return None

    @property
    def metric_name(self) -> str:
        return "perplexity" if self.is_language_model else "accuracy"

    def loss_fn(self, out, targets):
        if self.loss == "bce":
            return F.binary_cross_entropy_with_logits(out, targets)
        return F.cross_entropy(out.flatten(0, -2), targets.flatten())

    def build(self, seed: int = 0) -> nn.Module:
        torch.manual_seed(seed)
        return nets.build(self.cfg)

    def example_batch(self):
        """The first ``batch`` training examples: (inputs, targets), as copies (a slice
        would share, and so be measured with, the storage of the whole data set)."""
        x, y = self.train_data
        return x[: self.batch].clone(), y[: self.batch].clone()

    def evaluate(self, model) -> tuple[float, float]:
        x, y = self.val_data
        out = model(x)
        loss = float(self.loss_fn(out, y))
        return loss, (math.exp(loss) if self.is_language_model else accuracy(out, y))

    def run(self, seed: int = 0, progress: bool = True, steps: int | None = None):
        """Build the model, train it, return (model, Run)."""
        model = self.build(seed)
        optimizer = training.ClippedAdam(model.parameters(), lr=self.lr,
                                         clip_norm=self.clip_norm)
        run = training.train_with_validation(model, self.loss_fn, optimizer, self.train_data,
                                             steps or self.steps, self.batch, self.evaluate,
                                             self.eval_every, name=self.key,
                                             metric_name=self.metric_name, progress=progress,
                                             seed=seed)
        return model, run


def language_model_config(vocab_size: int, hidden_size: int = 128, embed_dim: int = 32,
                          n_layers: int = 2) -> LSTMConfig:
    """Document 004's model: embedding, two LSTM layers, a dense softmax over the vocabulary."""
    return LSTMConfig(hidden_size=hidden_size, n_layers=n_layers, vocab_size=vocab_size,
                      embed_dim=embed_dim, name="seed 004 LSTM LM")


def document_tasks(seed: int = 0) -> dict[str, Task]:
    """The six corrected document models with their data (`data`) and short CPU schedules."""
    text = data.load_corpus()
    tok = data.CharTokenizer(text)
    train_ids, val_ids = data.split_ids(tok.encode(text))
    windows = data.lm_windows(train_ids, LM_SEQ)
    tasks = [
        Task("seed001_mlp", "001", SEED001_MLP, "bce", batch=64, steps=150, lr=1e-3,
             train_data=data.binary_task(8192, seed=seed),
             val_data=data.binary_task(512, seed=seed + 100), eval_every=25),
        Task("seed002_mlp", "002", SEED002_MLP, "ce", batch=32, steps=300, lr=1e-3,
             train_data=data.classification_task(4096, seed=seed),
             val_data=data.classification_task(512, seed=seed + 100), eval_every=50),
        Task("seed003_cnn", "003", SEED003_CNN, "ce", batch=32, steps=200, lr=1e-3,
             train_data=data.digit_images(2048, seed=seed),
             val_data=data.digit_images(256, seed=seed + 100), eval_every=25),
        Task("seed003_lstm", "003", SEED003_LSTM, "ce", batch=32, steps=400, lr=1e-2,
             train_data=data.drift_sequences(4096, seed=seed),
             val_data=data.drift_sequences(256, seed=seed + 100), eval_every=50, clip_norm=1.0),
        Task("seed003_attention", "003", AttentionConfig(), "ce", batch=32, steps=200, lr=3e-3,
             train_data=data.sequence_task(4096, seed=seed),
             val_data=data.sequence_task(256, seed=seed + 100), eval_every=25),
        Task("seed004_lstm_lm", "004", language_model_config(tok.vocab_size), "ce", batch=32,
             steps=500, lr=3e-3, train_data=windows,
             val_data=data.lm_windows(val_ids, 2 * LM_SEQ, stride=2 * LM_SEQ), eval_every=50,
             clip_norm=1.0, extra={"tokenizer": tok, "text": text, "train_ids": train_ids,
                                   "val_ids": val_ids}),
    ]
    return {t.key: t for t in tasks}



# ---------------------------------------------------------------- baselines and measurement

def unigram_perplexity(train_ids: torch.Tensor, val_ids: torch.Tensor, vocab_size: int) -> float:
    """Perplexity on ``val_ids`` of a model that knows only how often each character occurs in
    ``train_ids`` (add-one smoothing): the bar a language model must clear to have learned
    anything about order. A model that knows nothing at all scores ``vocab_size``."""
    counts_ = torch.bincount(train_ids, minlength=vocab_size).double() + 1.0
    log_p = torch.log(counts_ / counts_.sum())
    return float(torch.exp(-log_p[val_ids].mean()))


def measure_peak(device: str = "cpu", repeats: int = 10):
    """This machine's measured roofs (`machine.measure_roofline`) with sizes that take about a
    second on two cores: square matmuls up to 2048 and a 128 MiB copy and add, each the best
    of ``repeats`` runs (more runs, more chances of a quiet moment on a busy machine)."""
    return machine.measure_roofline(sizes=(512, 1024, 2048), rows=(), stream_bytes=128 * 2**20,
                                    repeats=repeats, device=device)


def counting_module(task: Task) -> nn.Module:
    """The module FlopCounterMode can see into: for an LSTM the same layers run step by step
    (`nets.LSTMNet` with ``unrolled=True``; the fused kernel hides its matmuls)."""
    if isinstance(task.cfg, LSTMConfig):
        return nets.build(task.cfg, unrolled=True)
    return task.build()


@dataclass(frozen=True)
class Comparison:
    """Predicted and measured numbers of one training step of one model."""

    name: str
    params_predicted: int
    params_measured: int
    flops_predicted: int
    flops_measured: int
    activations_predicted: int
    activations_measured: int
    seconds_predicted: float
    seconds_measured: float
    peak_flops_per_s: float  # this machine's measured fp32 matmul peak
    # LSTMs only: the bytes saved when the same layers run cell by cell (`counting_module`);
    # the fused nn.LSTM kernel that trains keeps a workspace on top
    activations_stepwise_measured: int | None = None

    @staticmethod
    def error(predicted: float, measured: float) -> float:
        """(predicted - measured) / measured: negative when the prediction is too low."""
        return (predicted - measured) / measured

    @property
    def achieved_flops_per_s(self) -> float:
        return self.flops_measured / self.seconds_measured

    @property
    def mfu(self) -> float:
        """Model FLOPs utilisation against this machine's measured peak (not a datasheet's)."""
        return self.achieved_flops_per_s / self.peak_flops_per_s


def time_training_step(task: Task, repeats: int = 10) -> float:
    """Best wall time of one full training step (forward, loss, backward, Adam) of ``task``'s
    model on one example batch, after two warm-up steps."""
    model = task.build()
    optimizer = torch.optim.Adam(model.parameters(), lr=task.lr)
    x, y = task.example_batch()

    def step():
        optimizer.zero_grad(set_to_none=True)
        task.loss_fn(model(x), y).backward()
        optimizer.step()

    for _ in range(2):
        step()
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t0)
    return best


def predicted_vs_measured(task: Task, roofs, repeats: int = 10) -> Comparison:
    """Parameters, training FLOPs per step, activation bytes and step time of ``task``'s model,
    predicted from its config and measured with torch on this machine.

    Predictions: `counts.param_count`, `counts.flops` (a training step),
    `memory.activation_bytes`, and the roofline time max(FLOPs / peak, bytes / bandwidth) on
    the measured ``roofs`` (`measure_peak`), with the bytes of `memory.step_bytes_moved`.
    Measurements: the module's parameters, FlopCounterMode (`measure.count_flops`, on
    `counting_module`), the bytes autograd saves (`measure.saved_activation_bytes`, with the
    loss), and the best of ``repeats`` timed steps."""
    model = task.build()
    x, y = task.example_batch()
    seq = task.seq
    params = counts.param_count(task.cfg)
    flops = counts.flops(task.cfg, task.batch, seq, "train")
    acts = memory.activation_bytes(task.cfg, task.batch, seq, loss=task.loss).total
    device = roofs.as_device()
    seconds = timing.roofline_time(flops, memory.step_bytes_moved(params, acts), device,
                                   roofs.dtype).seconds
    return Comparison(
        name=task.key,
        params_predicted=params,
        params_measured=sum(p.numel() for p in model.parameters()),
        flops_predicted=flops,
        flops_measured=measure.count_flops(counting_module(task), (x,), "train"),
        activations_predicted=acts,
        activations_measured=measure.saved_activation_bytes(
            model, (x,), lambda out: task.loss_fn(out, y)),
        seconds_predicted=seconds,
        seconds_measured=time_training_step(task, repeats),
        peak_flops_per_s=roofs.peak_flops_per_s,
        activations_stepwise_measured=(
            measure.saved_activation_bytes(counting_module(task), (x,),
                                           lambda out: task.loss_fn(out, y))
            if isinstance(task.cfg, LSTMConfig) else None),
    )


def comparison_table(comparisons: list[Comparison]) -> str:
    """One table: for each model, each predicted quantity against its measurement with the
    error (predicted - measured) / measured, then the achieved FLOP/s and the MFU."""
    def pct(p, m):
        return f"{Comparison.error(p, m):+.1%}"

    lines = [f"{'model':<19}{'quantity':<25}{'predicted':>12}{'measured':>14}{'error':>9}"]
    for c in comparisons:
        rows = [("parameters", f"{c.params_predicted:,}", f"{c.params_measured:,}",
                 pct(c.params_predicted, c.params_measured)),
                ("training FLOP per step", f"{c.flops_predicted:.3g}", f"{c.flops_measured:.3g}",
                 pct(c.flops_predicted, c.flops_measured)),
                ("activation bytes", format_bytes(c.activations_predicted),
                 format_bytes(c.activations_measured),
                 pct(c.activations_predicted, c.activations_measured))]
        if c.activations_stepwise_measured is not None:
            rows.append(("  same, cell by cell", format_bytes(c.activations_predicted),
                         format_bytes(c.activations_stepwise_measured),
                         pct(c.activations_predicted, c.activations_stepwise_measured)))
        rows += [("step time (roofline)", format_seconds(c.seconds_predicted),
                  format_seconds(c.seconds_measured),
                  pct(c.seconds_predicted, c.seconds_measured)),
                 ("achieved FLOP/s", "", format_rate(c.achieved_flops_per_s), ""),
                 ("MFU (of measured peak)", "", f"{c.mfu:.1%}", "")]
        for i, (quantity, predicted, measured, error) in enumerate(rows):
            name = c.name if i == 0 else ""
            lines.append(f"{name:<19}{quantity:<25}{predicted:>12}{measured:>14}{error:>9}")
    return "\n".join(lines)


def chance_level(task: Task) -> str:
    """What a model that learned nothing scores on ``task``'s validation data: the majority
    class's share for a classifier, the letter-frequency (unigram) perplexity for the
    language model."""
    if task.is_language_model:
        ppl = unigram_perplexity(task.extra["train_ids"], task.extra["val_ids"],
                                 task.cfg.vocab_size)
        return f"{ppl:.1f} (unigram)"
    y = task.val_data[1].flatten().long()
    return f"{float(torch.bincount(y).max()) / len(y):.1%} (majority)"


def results_table(tasks: dict[str, Task], runs: dict[str, training.Run],
                  peak_flops_per_s: float) -> str:
    """Per run: steps, final validation metric against chance, wall seconds of the training
    steps, samples (and tokens) per second, achieved FLOP/s and MFU against ``peak``."""
    lines = [(f"{'model':<19}{'steps':>6}{'validation':>12}{'chance':>18}{'train s':>9}"
             f"{'samples/s':>11}{'tokens/s':>10}{'FLOP/s':>14}{'MFU':>7}")]
    for key, run in runs.items():
        task = tasks[key]
        flop_rate = counts.flops(task.cfg, task.batch, task.seq, "train") / run.seconds_per_step
        metric = run.val_metric[-1]
        shown = f"ppl {metric:.2f}" if run.metric_name == "perplexity" else f"{metric:.1%}"
        tokens = (f"{run.tokens_per_step / run.seconds_per_step:,.0f}" if run.tokens_per_step
                  else "-")
        lines.append(f"{key:<19}{run.steps:>6}{shown:>12}{chance_level(task):>18}"
                     f"{run.seconds:>9.2f}{run.samples_per_second:>11,.0f}{tokens:>10}"
                     f"{format_rate(flop_rate):>14}{flop_rate / peak_flops_per_s:>7.1%}")
    return "\n".join(lines)
