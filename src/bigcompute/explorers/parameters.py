"""The parameter explorer (chapter 4.1): where the parameters of a GPT-2-style decoder are,
and what its weights weigh."""

from __future__ import annotations

from .. import counts, units
from ..configs import TransformerConfig
from ..precision import bytes_per_element
from ..tables import key_value_html
from .base import Chart, Control, Rendered, Spec

__all__ = ["PARAMETER_DEFAULTS", "WEIGHT_DTYPES", "ParameterSpec", "explorer_config",
           "head_hint", "parameter_summary_html", "parameter_scaling_chart"]

# GPT-2 small (Radford et al. 2019): the explorer opens on a model the chapter has counted.
PARAMETER_DEFAULTS = {"d_model": 768, "n_layers": 12, "n_heads": 12, "vocab_size": 50257}
WEIGHT_DTYPES = ("fp32", "bf16", "int8", "int4")


def explorer_config(d_model: int, n_layers: int, n_heads: int, vocab_size: int,
                    max_seq_len: int = 1024) -> TransformerConfig:
    """A GPT-2-style decoder: learned positions, tied embeddings, MLP of 4 x d_model,
    LayerNorm and biases everywhere. Raises ValueError for invalid shapes."""
    return TransformerConfig(n_layers=n_layers, d_model=d_model, n_heads=n_heads,
                             vocab_size=vocab_size, max_seq_len=max_seq_len, name="explorer")


def head_hint(d_model: int, n_heads: int) -> str:
    """Head counts near ``n_heads`` that divide ``d_model`` (empty when it already divides)."""
    if d_model % n_heads == 0:
        return ""
    below = max(h for h in range(1, n_heads) if d_model % h == 0)
    above = [h for h in range(n_heads + 1, d_model + 1) if d_model % h == 0][:1]
    return f"Try n_heads = {' or '.join(str(h) for h in [below, *above])}."


def parameter_summary_html(cfg: TransformerConfig) -> str:
    """An HTML table: parameters by kind, and the bytes of the weights per dtype."""
    n = counts.param_count(cfg)
    rows = [("<b>parameters</b>", f"<b>{n:,}</b> ({units.format_count(n)})")]
    for part, k in counts.parameter_breakdown(cfg).items():
        rows.append((f"&nbsp;&nbsp;{part}",
                     f"{units.format_count(k)} ({units.format_share(k, n)})"))
    for dtype in WEIGHT_DTYPES:
        b = n * bytes_per_element(dtype)
        rows.append((f"weights at {dtype} ({bytes_per_element(dtype):g} B/param)",
                     f"{units.format_bytes(b)} ({units.format_bytes(b, binary=False)})"))
    return key_value_html(rows)


class ParameterSpec(Spec):
    """Sliders for d_model, n_layers, n_heads and vocabulary size of a GPT-2-style decoder;
    shows the parameter count, where the parameters are, and the weights' bytes at
    fp32/bf16/int8/int4."""

    name = "Parameter explorer"
    title_html = ("<b>Parameter explorer</b>: a GPT-2-style decoder (tied embeddings, "
                  "learned positions up to 1024, MLP of 4 &times; d_model). "
                  "n_heads must divide d_model.")
    defaults = PARAMETER_DEFAULTS
    columns = 1
    chart_width = "620px"

    def controls(self) -> dict[str, Control]:
        def slider(label, lo, hi, step=1):
            return Control("slider", label, lo=lo, hi=hi, step=step, width="340px",
                           label_width="80px")

        return {"d_model": slider("d_model", 64, 12288, 64),
                "n_layers": slider("n_layers", 1, 128),
                "n_heads": slider("n_heads", 1, 128),
                "vocab_size": slider("vocab", 1000, 256000)}

    def render(self, settings: dict) -> Rendered:
        try:
            cfg = explorer_config(**settings)
        except ValueError as exc:
            hint = head_hint(settings["d_model"], settings["n_heads"])
            raise ValueError(f"{exc} {hint}".strip()) from None
        label = ", ".join(f"{k}={v:,}" for k, v in settings.items())
        chart = Chart("parameter_breakdown_chart",
                      {"breakdowns": {label: counts.parameter_breakdown(cfg)}, "width": 6.2,
                       "height_per_model": 2.2})
        numbers = {"params": counts.param_count(cfg), **counts.parameter_breakdown(cfg)}
        return Rendered(parameter_summary_html(cfg), chart, numbers)


def parameter_scaling_chart(n_layers=(6, 12, 24, 48), vocab_size: int | None = None,
                            head_dim: int = 64, d_models=None) -> Chart:
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
    return Chart("parameter_scaling_chart", {
        "lines": lines, "marks": marks, "xlabel": "d_model",
        "bytes_per_param": bytes_per_element("bf16"),
        "title": f"GPT-2-style decoders, vocabulary {vocab_size:,}, heads of {head_dim}"})
