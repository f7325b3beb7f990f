"""Synthetic data of the right shapes for the documents' models, generated, never downloaded.

Chapter 3's tasks (a linear teacher's binary labels, a random network's classes, sequences
with a hidden motif), chapter 5's (seven-segment digit images, drifting-channel sequences) and
the small public-domain text corpus shipped in ``data/corpus.txt`` with its character
tokenizer. Everything is seeded. This module imports torch.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..configs import SEQUENCE_CHANNELS, SEQUENCE_STEPS
from .training import DOCUMENTS_SIZES

__all__ = [
    "CORPUS_PATH", "binary_task", "classification_task", "sequence_task", "digit_images",
    "drift_sequences", "load_corpus", "CharTokenizer", "split_ids", "lm_windows",
]

CORPUS_PATH = Path(__file__).parents[1] / "data" / "corpus.txt"


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- chapter 3's tasks

def binary_task(n: int, n_features: int = DOCUMENTS_SIZES[0], seed: int = 0,
                rule_seed: int = 1234):
    """x ~ N(0, 1) of shape (n, n_features) and labels y = [x . w > 0] as floats of shape
    (n, 1), the shape BCEWithLogitsLoss expects. ``rule_seed`` fixes the hidden rule w (the
    same for a training and a test set drawn with different ``seed``s)."""
    w = torch.randn(n_features, generator=torch.Generator().manual_seed(rule_seed))
    x = torch.randn(n, n_features, generator=torch.Generator().manual_seed(seed))
    return x, (x @ w > 0).float().unsqueeze(1)


def classification_task(n: int, n_features: int = 100, n_classes: int = 10, seed: int = 0,
                        rule_seed: int = 1234, hidden: int = 8, label_noise: float = 0.0):
    """A nonlinear synthetic classification task: x ~ N(0, 1); the label is the argmax of a
    fixed random two-layer network (a tanh hidden layer of ``hidden`` units) applied to x, the
    same rule for every ``seed`` (draw training and test sets with different seeds).
    ``label_noise`` replaces that fraction of labels by random ones. Returns (x, y) with y
    int64 class indices."""
    rule = torch.Generator().manual_seed(rule_seed)
    a = torch.randn(n_features, hidden, generator=rule) / n_features**0.5
    b = torch.randn(hidden, n_classes, generator=rule)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, n_features, generator=g)
    y = (torch.tanh(x @ a) @ b).argmax(dim=1)
    if label_noise:
        flip = torch.rand(n, generator=g) < label_noise
        y = torch.where(flip, torch.randint(0, n_classes, (n,), generator=g), y)
    return x, y


def sequence_task(n: int, seq: int = SEQUENCE_STEPS, n_features: int = SEQUENCE_CHANNELS,
                  n_classes: int = 10, seed: int = 0, rule_seed: int = 1234, period: int = 5,
                  amplitude: float = 0.5):
    """Sequences of the shape document 003's LSTM expects, (n, seq, n_features): unit noise
    plus a class-specific motif of ``period`` steps repeated along the whole sequence (at a
    random phase), weaker than the noise at any one step. The label is the motif's class, so
    a model has to accumulate evidence along the sequence."""
    rule = torch.Generator().manual_seed(rule_seed)
    motifs = torch.randn(n_classes, period, n_features, generator=rule) * amplitude
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, n_classes, (n,), generator=g)
    phase = torch.randint(0, period, (n,), generator=g)
    t = (torch.arange(seq)[None, :] + phase[:, None]) % period
    x = torch.randn(n, seq, n_features, generator=g) + motifs[y[:, None], t]
    return x, y


# ---------------------------------------------------------------- chapter 5's images and sequences

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
