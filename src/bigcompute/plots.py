"""Matplotlib helpers shared by the chapters: one look for the same kind of figure everywhere.

matplotlib is imported inside each plotting function, never at module level, so that
``import bigcompute`` (and the pure formulas) stay light. Every function returns the Figure;
in a notebook the figure is shown as the cell's result.
"""

from __future__ import annotations

from . import counts, units
from .configs import RELATIVE_BUCKETS, TransformerConfig
from .errors import fail

# One colour per kind of parameter, reused by every chart that splits a model up.
PART_COLOURS = {
    "embeddings": "#4C72B0",
    "attention": "#DD8452",
    "MLP": "#55A868",
    "norms": "#C44E52",
    "output head": "#8172B3",
    "relative positions": "#937860",
}


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


# ---------------------------------------------------------------- data for the charts

def parameter_breakdown(cfg: TransformerConfig) -> dict[str, int]:
    """Parameters of a decoder-only, token-input transformer by kind.

    embeddings (token and learned position tables), attention (Q, K, V and output
    projections of every layer), MLP (every layer's MLP, or router and experts), norms,
    output head (an untied LM head). The parts add up to ``counts.param_count(cfg)``.
    """
    if cfg.arch != "decoder" or cfg.frontend != "tokens":
        fail("cfg", cfg.name, "a decoder-only transformer with token inputs")
    n_layers = cfg.n_layers
    n_norms = 2 * n_layers + (0 if cfg.post_norm else 1)
    parts = {
        "embeddings": counts.embedding_params(cfg),
        "attention": n_layers * counts.attention_params(cfg),
        "MLP": n_layers * counts.moe_params(cfg),
        "norms": n_norms * counts.norm_params(cfg),
        "output head": counts.head_params(cfg),
        "relative positions": cfg.n_heads * RELATIVE_BUCKETS if cfg.positions == "relative" else 0,
    }
    if sum(parts.values()) != counts.param_count(cfg):  # a part of the model is missing here
        raise AssertionError(f"parameter breakdown of {cfg.name} does not add up to param_count")
    return {k: v for k, v in parts.items() if v}


# ---------------------------------------------------------------- charts

def parameter_breakdown_chart(breakdowns: dict[str, dict[str, int]], *, width: float = 9.0,
                              height_per_model: float = 1.9):
    """Horizontal bars, one panel per model: parameters of each kind, labelled with the
    count and its share of the model. ``breakdowns`` maps a model's name to
    `parameter_breakdown` of it."""
    plt = _pyplot()
    n = len(breakdowns)
    fig, axes = plt.subplots(n, 1, figsize=(width, 0.6 + height_per_model * n), squeeze=False)
    for ax, (name, parts) in zip(axes[:, 0], breakdowns.items()):
        total = sum(parts.values())
        labels = list(parts)[::-1]  # first part on top
        values = [parts[k] for k in labels]
        colours = [PART_COLOURS.get(k, "#777777") for k in labels]
        ax.barh(labels, values, color=colours)
        ax.set_xlim(0, max(values) * 1.45)
        for y, v in enumerate(values):
            ax.text(v + max(values) * 0.01, y, f"{units.format_count(v)}  ({share(v, total)})",
                    va="center", fontsize=9)
        ax.set_title(f"{name}: {total:,} parameters", loc="left", fontsize=10)
        ax.xaxis.set_major_formatter(_count_formatter())
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1, 0].set_xlabel("parameters")
    fig.tight_layout()
    plt.close(fig)  # returned, not shown twice
    return fig


def parameter_scaling_chart(lines: dict[str, tuple[list[float], list[float]]], *,
                            marks: dict[str, tuple[float, float]] | None = None,
                            xlabel: str = "d_model", bytes_per_param: float = 2,
                            bytes_label: str = "bf16", title: str | None = None):
    """Parameters against a size knob (log-log), one line per label, with named points marked
    and a right-hand axis giving the weights' bytes at ``bytes_per_param``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for label, (xs, ys) in lines.items():
        ax.plot(xs, ys, label=label)
    for label, (x, y) in (marks or {}).items():
        ax.plot([x], [y], "k*", markersize=12, zorder=5)
        ax.annotate(f"{label}\n{units.format_count(y)}", (x, y), textcoords="offset points",
                    xytext=(12, -12), ha="left", va="top", fontsize=9,
                    bbox={"boxstyle": "round", "fc": "white", "ec": "none", "alpha": 0.85})
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("parameters")
    ax.yaxis.set_major_formatter(_count_formatter())
    ax.xaxis.set_major_formatter(_plain_formatter())
    right = ax.secondary_yaxis("right", functions=(lambda p: p * bytes_per_param,
                                                   lambda b: b / bytes_per_param))
    right.set_ylabel(f"weights at {bytes_label} (bytes)")
    right.yaxis.set_major_formatter(_bytes_formatter())
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig


def share(part: float, total: float) -> str:
    """A part's share of a total as a percentage that never reads 0.0% for a non-zero part:
    45.5%, 1.9%, 0.031%."""
    pct = 100 * part / total
    return f"{pct:.1f}%" if pct >= 0.1 or pct == 0 else f"{pct:.2g}%"


def figure_png(fig, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (for image widgets and static snapshots)."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def _count_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: units.format_count(v) if v else "0")


def _bytes_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: units.format_bytes(v, binary=False) if v else "0")


def _plain_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: f"{v:g}")
