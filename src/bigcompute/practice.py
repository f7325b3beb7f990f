"""Chapter 5: the source documents' code examples, corrected, trained on a CPU and measured.

Each document's model is rebuilt in PyTorch from a config the formulas understand (so its
parameters and FLOPs can be predicted), given data of the right shape (generated here, or the
small text corpus shipped in ``data/corpus.txt``), and trained with chapter 3's loop
(`training.train`) under a tqdm progress bar, with validation at intervals:

- 001 sec. 4: MLP 1000-500-250-100-1 returning logits for BCEWithLogitsLoss; a linear
  teacher's labels (`training.binary_task`).
- 002 sec. 4: the Keras MLP 100-64-32-10, logits and cross-entropy; a random network's labels
  (`training.classification_task`).
- 003 sec. 4: the CNN for 28x28x1 images (conv 32, conv 64, dense 128, 10 classes);
  seven-segment digits (`digit_images`).
- 003 sec. 4: the LSTM(64) for (100, 10) sequences, 10 classes read from the last step
  (``output="last_step"``); drifting-channel sequences (`drift_sequences`).
- 003 sec. 4: the attention layer, made additive (Bahdanau): v . tanh(W q + U s_t); a pattern
  at a random time (`training.sequence_task`).
- 004 sec. 5: embedding, two LSTM layers and a softmax: a character language model on the
  shipped corpus.

This module imports torch (like `nets` and `measure`); ``import bigcompute`` does not import
it. The section "Predictions" holds plain arithmetic on the configs — what chapter 5.3 holds
against torch's own measurements.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import counts, nets
from .configs import CNNConfig, LSTMConfig, MLPConfig
from .errors import check_choice, check_positive_int

CORPUS_PATH = Path(__file__).with_name("data") / "corpus.txt"
FP32_BYTES = 4
INDEX_BYTES = 8  # int64 labels, token ids and max-pool indices

# The documents' shapes.
SEED001_MLP = MLPConfig((1000, 500, 250, 100, 1), name="seed 001 MLP")
SEED002_MLP = MLPConfig((100, 64, 32, 10), name="seed 002 MLP")
SEED003_CNN = CNNConfig(in_channels=1, image_size=28, channels=(32, 64), kernel_size=3,
                        pool=True, hidden=(128,), n_classes=10, name="seed 003 CNN")
# classifies from its last step (the fix of the document's return_sequences=True)
SEED003_LSTM = LSTMConfig(hidden_size=64, input_size=10, n_outputs=10, output="last_step",
                          name="seed 003 LSTM")
SEQUENCE_STEPS, SEQUENCE_CHANNELS = 100, 10  # seed 003's LSTM input_shape=(100, 10)
LM_SEQ = 64  # characters per training window of the language model


# ---------------------------------------------------------------- data of the right shapes

def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# Seven-segment digits: segments a-g as (row0, col0, row1, col1) on a 20 x 12 glyph.
_SEGMENTS = {"a": (0, 0, 2, 12), "b": (0, 10, 10, 12), "c": (10, 10, 20, 12),
             "d": (18, 0, 20, 12), "e": (10, 0, 20, 2), "f": (0, 0, 10, 2),
             "g": (9, 0, 11, 12)}
_DIGITS = ["abcdef", "bc", "abged", "abgcd", "fgbc", "afgcd", "afgedc", "abc", "abcdefg",
           "abfgcd"]


def digit_images(n: int, size: int = 28, noise: float = 0.3, seed: int = 0):
    """``n`` images (n, 1, size, size) of seven-segment digits 0-9 at random offsets, with
    Gaussian pixel noise: MNIST's shape without downloading MNIST."""
    g = _generator(seed)
    y = torch.randint(0, 10, (n,), generator=g)
    glyphs = torch.zeros(10, 20, 12)
    for digit, segments in enumerate(_DIGITS):
        for s in segments:
            r0, c0, r1, c1 = _SEGMENTS[s]
            glyphs[digit, r0:r1, c0:c1] = 1.0
    images = noise * torch.randn(n, 1, size, size, generator=g)
    rows = torch.randint(0, size - 20 + 1, (n,), generator=g)
    cols = torch.randint(0, size - 12 + 1, (n,), generator=g)
    for i in range(n):
        r, c = int(rows[i]), int(cols[i])
        images[i, 0, r:r + 20, c:c + 12] += glyphs[y[i]]
    return images, y


def drift_sequences(n: int, steps: int = SEQUENCE_STEPS, channels: int = SEQUENCE_CHANNELS,
                    drift: float = 0.5, seed: int = 0):
    """Sequences (n, steps, channels) of N(0, 1) noise in which one channel is shifted by
    ``drift`` at every step; the label is that channel. No single step tells (the shift is half
    the noise), so a model must accumulate evidence over time: a task for seed 003's LSTM
    (input_shape=(100, 10), 10 outputs)."""
    g = _generator(seed)
    y = torch.randint(0, channels, (n,), generator=g)
    x = torch.randn(n, steps, channels, generator=g)
    x[torch.arange(n), :, y] += drift
    return x, y


# ---------------------------------------------------------------- the documents' models

class DocumentAttention(nn.Module):
    """Document 003's attention layer as printed (TensorFlow), in PyTorch:
    e_t = W h + V s_t, a = softmax(e), c = sum_t a_t s_t. W h is the same for every t, and
    softmax ignores a constant added to all its inputs: the query h has no effect at all."""

    def __init__(self, d_query: int, d_key: int):
        super().__init__()
        self.W = nn.Linear(d_query, 1)
        self.V = nn.Linear(d_key, 1)

    def forward(self, h, s):
        """h: (batch, d_query), s: (batch, steps, d_key) -> context (batch, d_key), weights."""
        e = self.W(h)[:, None, :] + self.V(s)  # (batch, steps, 1)
        a = torch.softmax(e, dim=1)
        return (a * s).sum(dim=1), a.squeeze(-1)


class AdditiveAttention(nn.Module):
    """Additive attention (Bahdanau, Cho and Bengio 2015): e_t = v . tanh(W q + U s_t),
    a = softmax_t(e), c = sum_t a_t s_t. The tanh makes the score depend on the query and the
    key together, so the query changes which steps are attended to."""

    def __init__(self, d_query: int, d_key: int, d_attn: int):
        super().__init__()
        self.W = nn.Linear(d_query, d_attn, bias=False)
        self.U = nn.Linear(d_key, d_attn)
        self.v = nn.Linear(d_attn, 1, bias=False)

    def forward(self, q, s):
        """q: (batch or 1, d_query), s: (batch, steps, d_key) -> context (batch, d_key) and
        the attention weights (batch, steps)."""
        e = self.v(torch.tanh(self.W(q)[:, None, :] + self.U(s))).squeeze(-1)
        a = torch.softmax(e, dim=1)
        return torch.bmm(a.unsqueeze(1), s).squeeze(1), a


@dataclass(frozen=True)
class AttentionConfig:
    """Seed 003's attention model made trainable: project each step's features to d_model,
    pool the steps with additive attention under a learned query, classify the context."""

    n_features: int = SEQUENCE_CHANNELS
    d_model: int = 64
    d_attn: int = 32
    n_classes: int = 10
    name: str = "seed 003 attention"

    def __post_init__(self):
        for key in ("n_features", "d_model", "d_attn", "n_classes"):
            check_positive_int(key, getattr(self, key))


class AttentionClassifier(nn.Module):
    """(batch, steps, n_features) -> class logits: a linear embedding of every step, additive
    attention pooling under a learned query (the document's h), and a linear classifier.
    ``return_weights=True`` also returns the attention weights (batch, steps)."""

    def __init__(self, cfg: AttentionConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Linear(cfg.n_features, cfg.d_model)
        self.query = nn.Parameter(torch.randn(1, cfg.d_model) / math.sqrt(cfg.d_model))
        self.attention = AdditiveAttention(cfg.d_model, cfg.d_model, cfg.d_attn)
        self.out = nn.Linear(cfg.d_model, cfg.n_classes)

    def forward(self, x, return_weights: bool = False):
        s = self.embed(x)  # (batch, steps, d_model)
        context, weights = self.attention(self.query, s)
        logits = self.out(context)
        return (logits, weights) if return_weights else logits


def build(cfg) -> nn.Module:
    """The torch module of a chapter-5 config: `nets.build` for the library's configs,
    `AttentionClassifier` for AttentionConfig."""
    if isinstance(cfg, AttentionConfig):
        return AttentionClassifier(cfg)
    return nets.build(cfg)


# ---------------------------------------------------------------- the corpus

def load_corpus(path: Path | str | None = None) -> str:
    """The shipped public-domain corpus (about 55 kB of English poems and prose), without its
    comment lines (those starting with '#')."""
    text = Path(path or CORPUS_PATH).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return "\n".join(lines).strip() + "\n"


class CharTokenizer:
    """Characters as tokens: the vocabulary is the sorted set of characters of the text."""

    def __init__(self, text: str):
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            raise ValueError(f"characters {unknown!r} are not in the vocabulary")
        return torch.tensor([self.index[c] for c in text], dtype=torch.long)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def split_ids(ids: torch.Tensor, val_fraction: float = 0.1, block: int = 1024):
    """Train and validation token ids: every k-th block of ``block`` tokens is held out
    (k = 1 / val_fraction), so both splits sample the whole corpus (poems and prose)."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction={val_fraction!r} must be in (0, 1)")
    k = round(1 / val_fraction)
    blocks = list(torch.split(ids, block))
    val = [b for i, b in enumerate(blocks) if i % k == k - 1]
    train = [b for i, b in enumerate(blocks) if i % k != k - 1]
    return torch.cat(train), torch.cat(val)


def lm_windows(ids: torch.Tensor, seq: int, stride: int = 1):
    """Inputs ids[i : i+seq] and targets ids[i+1 : i+seq+1] for every ``stride``-th start i:
    stride 1 gives every window (views of ``ids``, no copy) for training; stride = seq gives
    non-overlapping windows for validation."""
    windows = ids.unfold(0, seq + 1, stride)
    return windows[:, :-1], windows[:, 1:]


@torch.no_grad()
def generate_text(model: nets.LSTMNet, tokenizer: CharTokenizer, prompt: str, n_chars: int,
                  temperature: float = 0.8, seed: int = 0) -> str:
    """Sample ``n_chars`` characters after ``prompt`` from an LSTM language model, carrying the
    LSTM's state from step to step (softmax of logits / temperature)."""
    g = _generator(seed)
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


# ---------------------------------------------------------------- training, with validation

class ClippedAdam(torch.optim.Adam):
    """Adam (the documents' optimizer) that first rescales the whole gradient to a norm of at
    most ``clip_norm``: the usual guard against the exploding gradients of recurrent networks
    (Pascanu, Mikolov and Bengio 2013). ``clip_norm=None`` is plain Adam."""

    def __init__(self, params, lr: float = 1e-3, clip_norm: float | None = None):
        super().__init__(params, lr=lr)
        self.clip_norm = clip_norm

    @torch.no_grad()
    def step(self, closure=None):
        if self.clip_norm:
            params = [p for group in self.param_groups for p in group["params"]]
            nn.utils.clip_grad_norm_(params, self.clip_norm)
        return super().step(closure)


@dataclass
class Run:
    """What one training run measured: the loss of every step, validation loss and metric
    (accuracy, or perplexity for a language model) at intervals, and the wall time spent in
    training steps (validation excluded)."""

    name: str
    train_loss: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    metric_name: str = "accuracy"
    seconds: float = 0.0
    samples_per_step: int = 0
    tokens_per_step: int = 0

    @property
    def steps(self) -> int:
        return len(self.train_loss)

    @property
    def seconds_per_step(self) -> float:
        return self.seconds / self.steps

    @property
    def samples_per_second(self) -> float:
        return self.samples_per_step / self.seconds_per_step

    def summary(self) -> str:
        """One line: steps, last training loss (mean of 10), validation loss and metric."""
        metric = self.val_metric[-1]
        shown = f"{metric:.2f}" if self.metric_name == "perplexity" else f"{metric:.1%}"
        return (f"{self.name}: {self.steps} steps, training loss {self.smoothed_loss()[-1]:.3f}, "
                f"validation loss {self.val_loss[0]:.3f} -> {self.val_loss[-1]:.3f}, "
                f"validation {self.metric_name} {shown}")

    def smoothed_loss(self, window: int = 10) -> list[float]:
        """Running mean of the training loss over ``window`` steps (minibatch noise off)."""
        out, total = [], 0.0
        for i, v in enumerate(self.train_loss):
            total += v
            if i >= window:
                total -= self.train_loss[i - window]
            out.append(total / min(i + 1, window))
        return out


def train_with_validation(model: nn.Module, loss_fn: Callable, optimizer, train_data: tuple,
                          steps: int, batch: int,
                          evaluate: Callable[[nn.Module], tuple[float, float]],
                          eval_every: int, *, name: str = "model",
                          metric_name: str = "accuracy", progress: bool = True,
                          seed: int = 0) -> Run:
    """Chapter 3's loop (`training.train`: minibatches, forward, loss, zero_grad, backward,
    step) run in chunks of ``eval_every`` steps, with ``evaluate(model) -> (loss, metric)``
    on held-out data before the first step and after every chunk. One tqdm bar for the run."""
    from tqdm import tqdm

    from . import training

    check_positive_int("steps", steps)
    check_positive_int("eval_every", eval_every)
    x, y = train_data
    run = Run(name=name, metric_name=metric_name, samples_per_step=batch,
              tokens_per_step=batch * x.shape[1] if x.dtype == torch.long else 0)

    def validate():
        model.eval()
        with torch.no_grad():
            loss, metric = evaluate(model)
        run.val_steps.append(run.steps)
        run.val_loss.append(float(loss))
        run.val_metric.append(float(metric))

    validate()
    bar = tqdm(total=steps, desc=name, disable=not progress, file=sys.stdout, mininterval=2.0,
               ncols=90)
    for chunk in range(math.ceil(steps / eval_every)):
        n = min(eval_every, steps - run.steps)
        history = training.train(model, loss_fn, optimizer, x, y, n, batch,
                                 seed=seed * 1000 + chunk, progress=False)
        run.train_loss += history.losses
        run.seconds += history.seconds
        validate()
        bar.update(n)
        bar.set_postfix(loss=f"{run.train_loss[-1]:.3f}", val=f"{run.val_loss[-1]:.3f}",
                        refresh=False)
    bar.close()
    return run

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
        return build(self.cfg)

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
        optimizer = ClippedAdam(model.parameters(), lr=self.lr, clip_norm=self.clip_norm)
        run = train_with_validation(model, self.loss_fn, optimizer, self.train_data,
                                    steps or self.steps, self.batch, self.evaluate,
                                    self.eval_every, name=self.key,
                                    metric_name=self.metric_name, progress=progress, seed=seed)
        return model, run


def language_model_config(vocab_size: int, hidden_size: int = 128, embed_dim: int = 32,
                          n_layers: int = 2) -> LSTMConfig:
    """Document 004's model: embedding, two LSTM layers, a dense softmax over the vocabulary."""
    return LSTMConfig(hidden_size=hidden_size, n_layers=n_layers, vocab_size=vocab_size,
                      embed_dim=embed_dim, name="seed 004 LSTM LM")


def document_tasks(seed: int = 0) -> dict[str, Task]:
    """The six corrected document models with their data and short CPU schedules. Data come
    from chapter 3's generators (`training`) where they fit, else from this module."""
    from . import training

    text = load_corpus()
    tok = CharTokenizer(text)
    train_ids, val_ids = split_ids(tok.encode(text))
    windows = lm_windows(train_ids, LM_SEQ)
    tasks = [
        Task("seed001_mlp", "001", SEED001_MLP, "bce", batch=64, steps=150, lr=1e-3,
             train_data=training.binary_task(8192, seed=seed),
             val_data=training.binary_task(512, seed=seed + 100), eval_every=25),
        Task("seed002_mlp", "002", SEED002_MLP, "ce", batch=32, steps=300, lr=1e-3,
             train_data=training.classification_task(4096, seed=seed),
             val_data=training.classification_task(512, seed=seed + 100), eval_every=50),
        Task("seed003_cnn", "003", SEED003_CNN, "ce", batch=32, steps=200, lr=1e-3,
             train_data=digit_images(2048, seed=seed),
             val_data=digit_images(256, seed=seed + 100), eval_every=25),
        Task("seed003_lstm", "003", SEED003_LSTM, "ce", batch=32, steps=400, lr=1e-2,
             train_data=drift_sequences(4096, seed=seed),
             val_data=drift_sequences(256, seed=seed + 100), eval_every=50, clip_norm=1.0),
        Task("seed003_attention", "003", AttentionConfig(), "ce", batch=32, steps=200, lr=3e-3,
             train_data=training.sequence_task(4096, seed=seed),
             val_data=training.sequence_task(256, seed=seed + 100), eval_every=25),
        Task("seed004_lstm_lm", "004", language_model_config(tok.vocab_size), "ce", batch=32,
             steps=500, lr=3e-3, train_data=windows,
             val_data=lm_windows(val_ids, 2 * LM_SEQ, stride=2 * LM_SEQ), eval_every=50,
             clip_norm=1.0, extra={"tokenizer": tok, "text": text, "train_ids": train_ids,
                                   "val_ids": val_ids}),
    ]
    return {t.key: t for t in tasks}


# ---------------------------------------------------------------- predictions (plain arithmetic)

def attention_param_count(cfg: AttentionConfig) -> int:
    """embed (n_f x d + d), query (d), W (d x d_a), U (d x d_a + d_a), v (d_a), out (d x C + C)."""
    d, a = cfg.d_model, cfg.d_attn
    return (counts.dense_layer_params(cfg.n_features, d) + d + d * a
            + counts.dense_layer_params(d, a) + a + counts.dense_layer_params(d, cfg.n_classes))


def attention_flops(cfg: AttentionConfig, batch: int, steps: int, pass_: str = "train") -> int:
    """Matmul FLOPs of the attention classifier (2 per multiply-add), as FlopCounterMode counts:
    forward embed 2BTnd, W q 2dd_a (once: the query is shared), U s 2BTdd_a, v 2BTd_a,
    context (bmm) 2BTd, out 2BdC. Backward is twice each, except the embedding, whose input
    (the data) needs no gradient: once."""
    check_choice("pass_", pass_, ("forward", "backward", "train"))
    d, a, n = cfg.d_model, cfg.d_attn, cfg.n_features
    bt = batch * steps
    embed = 2 * bt * n * d
    rest = 2 * d * a + 2 * bt * d * a + 2 * bt * a + 2 * bt * d + 2 * batch * d * cfg.n_classes
    forward, backward = embed + rest, embed + 2 * rest
    return {"forward": forward, "backward": backward, "train": forward + backward}[pass_]


def param_count(cfg) -> int:
    """Parameters of any chapter-5 model (the library's count for the library's configs)."""
    if isinstance(cfg, AttentionConfig):
        return attention_param_count(cfg)
    return counts.param_count(cfg)


def train_flops(cfg, batch: int, seq: int | None = None) -> int:
    """Matmul FLOPs of one training step (forward + backward): `counts.flops` for the
    library's configs (a feature-sequence LSTM defaults to seed 003's 100 steps)."""
    if isinstance(cfg, AttentionConfig):
        return attention_flops(cfg, batch, seq or SEQUENCE_STEPS)
    if isinstance(cfg, LSTMConfig) and not cfg.vocab_size:
        seq = seq or SEQUENCE_STEPS
    return counts.flops(cfg, batch, seq, "train")


def _loss_bytes(loss: str, batch: int, n_out: int, per: int = 1) -> int:
    """What the loss saves for ``per`` outputs per example: BCEWithLogits its logits and float
    targets; cross-entropy the log-softmax (outputs x classes) and the int64 targets."""
    if loss == "bce":
        return 2 * per * batch * n_out * FP32_BYTES
    return per * batch * (n_out * FP32_BYTES + INDEX_BYTES) + FP32_BYTES  # and the mean


def activation_bytes(cfg, batch: int, seq: int | None = None, loss: str | None = None) -> int:
    """Bytes autograd keeps for the backward pass of one fp32 training step.

    MLP: the input and every hidden layer's ReLU output (each linear layer saves its input; a
    ReLU saves its output, which is the next layer's input: one buffer). CNN: the input, each
    convolution's ReLU output, each max-pool's int64 indices and its output. LSTM (the
    recurrence as written, one cell per step): per layer and step the four gates, the cell
    state, its tanh and the hidden state (7h numbers), plus each layer's input sequence.
    Attention classifier: input, embedded steps, the tanh scores, weights and context.
    ``loss`` ("bce" or "ce") adds what the loss saves."""
    e = FP32_BYTES
    if isinstance(cfg, MLPConfig):
        n = batch * sum(cfg.sizes[:-1]) * e
        out = cfg.sizes[-1]
        per = 1
    elif isinstance(cfg, CNNConfig):
        n, s = batch * cfg.in_channels * cfg.image_size**2 * e, cfg.image_size
        for c_out in cfg.channels:
            s = (s + 2 * cfg.padding - cfg.kernel_size) // cfg.stride + 1
            n += batch * c_out * s * s * e  # ReLU output (the pool's or next conv's input)
            if cfg.pool:
                s //= 2
                n += batch * c_out * s * s * (INDEX_BYTES + e)  # indices and pooled output
        n += batch * sum(cfg.hidden) * e
        out, per = cfg.n_classes, 1
    elif isinstance(cfg, LSTMConfig):
        seq = seq or SEQUENCE_STEPS
        h, tokens = cfg.hidden_size, batch * seq
        n = tokens * cfg.first_input_size * e  # the first layer's input sequence
        n += tokens * INDEX_BYTES if cfg.vocab_size else 0
        n += cfg.n_layers * tokens * (7 * h + h) * e  # gates, c, tanh c, h; output sequence
        out = cfg.n_outputs
        per = cfg.output_steps(seq)  # the loss sees one output per step, or only the last
    elif isinstance(cfg, AttentionConfig):
        seq = seq or SEQUENCE_STEPS
        tokens, d, a = batch * seq, cfg.d_model, cfg.d_attn
        n = tokens * (cfg.n_features + d + a + 1) * e + batch * d * e
        out, per = cfg.n_classes, 1
    else:
        raise TypeError(f"no activation model for {type(cfg).__name__}")
    return int(n + (_loss_bytes(loss, batch, out, per) if loss else 0))


def step_bytes_moved(n_params: int, activation_bytes: float) -> float:
    """A floor on the bytes one fp32 Adam step moves through memory: weights read in the
    forward and again in the backward, gradients written, Adam reading weights, gradients and
    two moments and writing back three (10 x 4 B per parameter); activations written in the
    forward and read in the backward (2 x)."""
    return 10 * FP32_BYTES * n_params + 2 * activation_bytes


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
    from . import machine

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
    import time

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

    Predictions: `param_count`, `train_flops`, `activation_bytes`, and the roofline time
    max(FLOPs / peak, bytes / bandwidth) on the measured ``roofs`` (`measure_peak`), with the
    bytes of `step_bytes_moved`. Measurements: the module's parameters, FlopCounterMode
    (`measure.count_flops`, on `counting_module`), the bytes autograd saves
    (`measure.saved_activation_bytes`, with the loss), and the best of ``repeats`` timed steps."""
    from . import measure, timing

    model = task.build()
    x, y = task.example_batch()
    seq = task.seq
    params = param_count(task.cfg)
    flops = train_flops(task.cfg, task.batch, seq)
    acts = activation_bytes(task.cfg, task.batch, seq, task.loss)
    device = roofs.as_device()
    seconds = timing.roofline_time(flops, step_bytes_moved(params, acts), device,
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
    from .units import format_bytes, format_rate, format_seconds

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


def results_table(tasks: dict[str, Task], runs: dict[str, Run], peak_flops_per_s: float) -> str:
    """Per run: steps, final validation metric against chance, wall seconds of the training
    steps, samples (and tokens) per second, achieved FLOP/s and MFU against ``peak``."""
    from .units import format_rate

    lines = [(f"{'model':<19}{'steps':>6}{'validation':>12}{'chance':>18}{'train s':>9}"
             f"{'samples/s':>11}{'tokens/s':>10}{'FLOP/s':>14}{'MFU':>7}")]
    for key, run in runs.items():
        task = tasks[key]
        flop_rate = train_flops(task.cfg, task.batch, task.seq) / run.seconds_per_step
        metric = run.val_metric[-1]
        shown = f"ppl {metric:.2f}" if run.metric_name == "perplexity" else f"{metric:.1%}"
        tokens = (f"{run.tokens_per_step / run.seconds_per_step:,.0f}" if run.tokens_per_step
                  else "-")
        lines.append(f"{key:<19}{run.steps:>6}{shown:>12}{chance_level(task):>18}"
                     f"{run.seconds:>9.2f}{run.samples_per_second:>11,.0f}{tokens:>10}"
                     f"{format_rate(flop_rate):>14}{flop_rate / peak_flops_per_s:>7.1%}")
    return "\n".join(lines)
