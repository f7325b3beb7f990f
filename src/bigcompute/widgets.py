"""ipywidgets explorers: controls wired to the pure functions, nothing more.

Each explorer is a real ipywidget (compose it, observe it) that also carries a static HTML
snapshot of its current state. JupyterLab shows the live widget; the book's website, which has
no kernel, shows the snapshot instead (``_config.yml`` ranks ``text/html`` above the widget
view for the HTML builder). Invalid settings show the library's ValueError message in the
widget, never a traceback.

ipywidgets and matplotlib are needed here, so ``import bigcompute`` never imports this module.
"""

from __future__ import annotations

import base64
import html

import ipywidgets as W

from . import counts, plots, units
from .configs import TransformerConfig
from .memory import bytes_per_element

WEIGHT_DTYPES = ("fp32", "bf16", "int8", "int4")

# GPT-2 small (Radford et al. 2019): the explorer opens on a model the chapter has counted.
PARAMETER_DEFAULTS = {"d_model": 768, "n_layers": 12, "n_heads": 12, "vocab_size": 50257}

_ERROR_STYLE = ("color:#8a1f11;background:#fdecea;border-left:4px solid #c0392b;"
                "padding:0.5em 0.8em;margin:0.3em 0")
_SNAPSHOT_NOTE = ("Static snapshot at the settings shown. Run this notebook (JupyterLab, "
                  "Binder or Colab) to move the sliders.")


def explorer_config(d_model: int, n_layers: int, n_heads: int, vocab_size: int,
                    max_seq_len: int = 1024) -> TransformerConfig:
    """A GPT-2-style decoder: learned positions, tied embeddings, MLP of 4 x d_model,
    LayerNorm and biases everywhere. Raises ValueError for invalid shapes."""
    return TransformerConfig(n_layers=n_layers, d_model=d_model, n_heads=n_heads,
                             vocab_size=vocab_size, max_seq_len=max_seq_len, name="explorer")


def parameter_summary_html(cfg: TransformerConfig) -> str:
    """An HTML table: parameters by kind, and the bytes of the weights per dtype."""
    n = counts.param_count(cfg)
    rows = [("<b>parameters</b>", f"<b>{n:,}</b> ({units.format_count(n)})")]
    for part, k in plots.parameter_breakdown(cfg).items():
        rows.append((f"&nbsp;&nbsp;{part}", f"{units.format_count(k)} ({plots.share(k, n)})"))
    for dtype in WEIGHT_DTYPES:
        b = n * bytes_per_element(dtype)
        rows.append((f"weights at {dtype} ({bytes_per_element(dtype):g} B/param)",
                     f"{units.format_bytes(b)} ({units.format_bytes(b, binary=False)})"))
    body = "".join(f"<tr><td style='text-align:left;padding:1px 10px 1px 0'>{a}</td>"
                   f"<td style='text-align:right'>{b}</td></tr>" for a, b in rows)
    return f"<table class='bigcompute-summary'>{body}</table>"


def error_html(exc: Exception, hint: str = "") -> str:
    """The message of an invalid setting, shown where the result would be."""
    hint = f"<br>{html.escape(hint)}" if hint else ""
    return (f"<div class='bigcompute-error' style='{_ERROR_STYLE}'>"
            f"{html.escape(str(exc))}{hint}</div>")


def head_hint(d_model: int, n_heads: int) -> str:
    """Head counts near ``n_heads`` that divide ``d_model`` (empty when it already divides)."""
    if d_model % n_heads == 0:
        return ""
    below = max(h for h in range(1, n_heads) if d_model % h == 0)
    above = [h for h in range(n_heads + 1, d_model + 1) if d_model % h == 0][:1]
    return f"Try n_heads = {' or '.join(str(h) for h in [below, *above])}."


class Explorer(W.VBox):
    """A VBox whose rich display also offers a static HTML snapshot (see module docstring)."""

    def snapshot_html(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/html"] = self.snapshot_html()
        return bundle


class ParameterExplorer(Explorer):
    """Sliders for d_model, n_layers, n_heads and vocabulary size of a GPT-2-style decoder;
    shows the parameter count, where the parameters are, and the weights' bytes at
    fp32/bf16/int8/int4."""

    def __init__(self, d_model: int, n_layers: int, n_heads: int, vocab_size: int):
        def slider(description, value, lo, hi, step=1):
            return W.IntSlider(value=value, min=lo, max=hi, step=step, description=description,
                               continuous_update=False, style={"description_width": "80px"},
                               layout=W.Layout(width="340px"))

        self.controls = {
            "d_model": slider("d_model", d_model, 64, 12288, 64),
            "n_layers": slider("n_layers", n_layers, 1, 128),
            "n_heads": slider("n_heads", n_heads, 1, 128),
            "vocab_size": slider("vocab", vocab_size, 1000, 256000),
        }
        self.result = W.HTML()
        self.chart = W.Image(format="png", layout=W.Layout(max_width="620px"))
        title = W.HTML("<b>Parameter explorer</b>: a GPT-2-style decoder (tied embeddings, "
                       "learned positions up to 1024, MLP of 4 &times; d_model). "
                       "n_heads must divide d_model.")
        super().__init__([title,
                          W.HBox([W.VBox(list(self.controls.values())), self.result]),
                          self.chart])
        for control in self.controls.values():
            control.observe(self.update, names="value")
        self.update()

    def settings(self) -> dict[str, int]:
        return {name: control.value for name, control in self.controls.items()}

    def update(self, _change=None) -> None:
        """Recompute and redraw from the sliders' values."""
        try:
            cfg = explorer_config(**self.settings())
        except ValueError as exc:
            s = self.settings()
            self.result.value = error_html(exc, head_hint(s["d_model"], s["n_heads"]))
            self.chart.layout.display = "none"
            return
        self.result.value = parameter_summary_html(cfg)
        label = ", ".join(f"{k}={v:,}" for k, v in self.settings().items())
        fig = plots.parameter_breakdown_chart({label: plots.parameter_breakdown(cfg)},
                                              width=6.2, height_per_model=2.2)
        self.chart.value = plots.figure_png(fig, dpi=80)
        self.chart.layout.display = None

    def snapshot_html(self) -> str:
        settings = ", ".join(f"{k} = {v:,}" for k, v in self.settings().items())
        image = ""
        if self.chart.layout.display != "none" and self.chart.value:
            data = base64.b64encode(self.chart.value).decode("ascii")
            image = (f"<img alt='Where the parameters are at {html.escape(settings)}' "
                     f"src='data:image/png;base64,{data}' style='max-width:620px'>")
        return (f"<div class='bigcompute-explorer'>"
                f"<p><b>Parameter explorer</b> ({html.escape(settings)})<br>"
                f"<i>{_SNAPSHOT_NOTE}</i></p>{self.result.value}{image}</div>")


def parameter_explorer(**settings) -> ParameterExplorer:
    """The chapter 4.1 explorer, opening on GPT-2 small unless ``settings`` (d_model,
    n_layers, n_heads, vocab_size) say otherwise."""
    unknown = set(settings) - set(PARAMETER_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown settings {sorted(unknown)}; known: {list(PARAMETER_DEFAULTS)}")
    return ParameterExplorer(**{**PARAMETER_DEFAULTS, **settings})


def parameter_scaling_figure(n_layers=(6, 12, 24, 48), vocab_size: int | None = None,
                             head_dim: int = 64, d_models=None):
    """The explorer's static companion: parameters against d_model for a few depths of the
    same GPT-2-style decoder (n_heads = d_model / head_dim), the default setting starred."""
    vocab_size = vocab_size or PARAMETER_DEFAULTS["vocab_size"]
    d_models = list(d_models or range(2 * head_dim, 8192 + 1, head_dim))
    lines = {}
    for depth in n_layers:
        ys = [counts.param_count(explorer_config(d, depth, d // head_dim, vocab_size))
              for d in d_models]
        lines[f"{depth} layers"] = (d_models, ys)
    default = explorer_config(**PARAMETER_DEFAULTS)
    marks = {"GPT-2 small (default)": (default.d_model, counts.param_count(default))}
    return plots.parameter_scaling_chart(
        lines, marks=marks, xlabel="d_model", bytes_per_param=bytes_per_element("bf16"),
        title=f"GPT-2-style decoders, vocabulary {vocab_size:,}, heads of {head_dim}")
