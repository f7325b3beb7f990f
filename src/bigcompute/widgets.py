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


def _snapshot(title: str, settings: str, result_html: str, chart, *, max_width: int = 760,
              alt: str | None = None) -> str:
    """The static HTML of an explorer: title, settings, result and chart image."""
    image = ""
    if chart.layout.display != "none" and chart.value:
        data = base64.b64encode(chart.value).decode("ascii")
        alt = alt or f"{title} at {settings}"
        image = (f"<img alt='{html.escape(alt)}' "
                 f"src='data:image/png;base64,{data}' style='max-width:{max_width}px'>")
    return (f"<div class='bigcompute-explorer'><p><b>{html.escape(title)}</b> "
            f"({html.escape(settings)})<br><i>{_SNAPSHOT_NOTE}</i></p>{result_html}{image}</div>")


class Explorer(W.VBox):
    """A VBox whose rich display also offers a static HTML snapshot (see module docstring).

    Its chart is one `plots.WidgetFigure`, redrawn at each update and rendered once to the
    ``chart`` image at ``chart_dpi``: an update makes no new figure."""

    chart_dpi = 80
    _widget_figure = None

    def _redrawing(self):
        """A context in which the `plots` chart functions draw on this explorer's figure."""
        if self._widget_figure is None:
            self._widget_figure = plots.WidgetFigure(self.chart_dpi)
        return self._widget_figure.redraw()

    def _show_chart(self) -> None:
        """Render the figure drawn in `_redrawing` into the chart image, and show it."""
        self.chart.value = self._widget_figure.png()
        self.chart.layout.display = None

    def snapshot_html(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        # the snapshot with the controls drawn in it (snapshot_with_controls, near the end)
        bundle["text/html"] = snapshot_with_controls(self)
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
        with self._redrawing():
            plots.parameter_breakdown_chart({label: plots.parameter_breakdown(cfg)},
                                            width=6.2, height_per_model=2.2)
        self._show_chart()

    def snapshot_html(self) -> str:
        settings = ", ".join(f"{k} = {v:,}" for k, v in self.settings().items())
        return _snapshot("Parameter explorer", settings, self.result.value, self.chart,
                         max_width=620, alt=f"Where the parameters are at {settings}")


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


# ---------------------------------------------------------------- chapter 2: the hardware
# catalogue, the hardware explorer and the roofline explorer

# Devices the hardware explorer opens on: three NVIDIA generations' flagships, AMD's and
# Google's, all of which have a bf16 peak.
HARDWARE_DEFAULTS = {"devices": ("a100-80gb", "h100-sxm", "b200", "mi300x", "tpu-v5p"),
                     "dtype": "bf16"}
# Dtypes with a column in the catalogue (hardware.csv).
EXPLORER_DTYPES = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8")
# The catalogue's columns shown in the book's table, with their headings.
_TABLE_COLUMNS = (
    ("name", "key"), ("full_name", "device"), ("year", "year"), ("kind", "kind"),
    ("memory_gib", "memory (GiB)"), ("memory_bandwidth_gbps", "bandwidth (GB/s)"),
    ("tdp_watts", "TDP (W)"), ("interconnect", "interconnect"),
    ("interconnect_gbps", "interconnect (GB/s, both ways)"), ("fp32_tflops", "fp32"),
    ("tf32_tflops", "tf32"), ("bf16_tflops", "bf16"), ("fp16_tflops", "fp16"),
    ("fp8_tflops", "fp8"), ("int8_tops", "int8 (TOP/s)"),
)


def _hw_first_url(text: str) -> str | None:
    import re

    match = re.search(r"https?://[^\s)]+", text)
    return match.group(0).rstrip(".,;") if match else None


def hardware_table_html(rows=None) -> str:
    """The hardware catalogue as an HTML table: memory, bandwidth, power, interconnect and
    dense peak TFLOP/s per dtype (empty where the datasheet gives none), each row linked to
    its first source; hover over the link for the full source note."""
    from . import hardware

    rows = hardware.catalogue_rows() if rows is None else rows
    head = "".join(f"<th style='padding:2px 6px'>{html.escape(h)}</th>"
                   for _, h in _TABLE_COLUMNS) + "<th>source</th>"
    body = []
    for row in rows:
        cells = "".join(f"<td style='padding:2px 6px'>{html.escape(row.get(c, '') or '')}</td>"
                        for c, _ in _TABLE_COLUMNS)
        url = _hw_first_url(row.get("source", ""))
        note = html.escape(row.get("source", ""), quote=True)
        link = (f"<a href='{html.escape(url, quote=True)}' title=\"{note}\">datasheet</a>"
                if url else f"<span title=\"{note}\">note</span>")
        body.append(f"<tr>{cells}<td style='padding:2px 6px'>{link}</td></tr>")
    caption = ("Dense peaks in TFLOP/s (int8: TOP/s); the datasheets' 'with sparsity' figures "
               "are twice these. GB = 10<sup>9</sup> bytes.")
    return (f"<div style='overflow-x:auto'><table class='bigcompute-catalogue' "
            f"style='font-size:0.85em'><caption style='caption-side:bottom;text-align:left'>"
            f"{caption}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _hw_table_html(header, rows) -> str:
    head = "".join(f"<th style='padding:2px 8px;text-align:right'>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(
        f"<td style='padding:1px 8px;text-align:{'left' if i == 0 else 'right'}'>{c}</td>"
        for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table class='bigcompute-summary'><tr>{head}</tr>{body}</table>"


def device_comparison_html(devices, dtype: str) -> str:
    """A table of `plots.device_metrics` for each device, and a message for each device that
    has no ``dtype`` peak (raises ValueError only when none has one)."""
    rows, errors = [], []
    for dev in devices:
        try:
            m = plots.device_metrics(dev, dtype)
        except ValueError as exc:
            errors.append(error_html(exc, f"Pick another dtype to include {dev.name}."))
            continue
        per_watt = m["FLOP/s per watt"]
        rows.append((html.escape(dev.full_name), str(dev.year or ""),
                     units.format_rate(m["peak FLOP/s"]),
                     units.format_bytes(m["memory (bytes)"], binary=False),
                     units.format_bytes(m["bandwidth (bytes/s)"], binary=False) + "/s",
                     units.format_rate(per_watt) + "/W" if per_watt else "no published TDP",
                     f"{m['ridge point (FLOP/B)']:.3g}"))
    header = ("device", "year", f"peak ({dtype}, dense)", "memory", "bandwidth",
              "FLOP/s per watt", "ridge (FLOP/B)")
    table = _hw_table_html(header, rows) if rows else ""
    return table + "".join(errors)


class HardwareExplorer(Explorer):
    """Pick catalogue devices and a dtype; compare peak FLOP/s, memory, bandwidth, FLOP/s per
    watt and the ridge point. A device without a peak in that dtype shows why instead."""

    chart_dpi = 72

    def __init__(self, devices, dtype: str):
        from . import hardware

        self.controls = {
            "devices": W.SelectMultiple(options=hardware.devices(), value=tuple(devices),
                                        rows=9, description="devices",
                                        layout=W.Layout(width="260px")),
            "dtype": W.Dropdown(options=EXPLORER_DTYPES, value=dtype, description="dtype",
                                layout=W.Layout(width="200px")),
        }
        self.result = W.HTML()
        self.chart = W.Image(format="png", layout=W.Layout(max_width="900px"))
        title = W.HTML("<b>Hardware explorer</b>: dense datasheet peaks from the catalogue. "
                       "Ctrl/Cmd-click to pick several devices.")
        super().__init__([title, W.HBox([W.VBox(list(self.controls.values())), self.result]),
                          self.chart])
        for control in self.controls.values():
            control.observe(self.update, names="value")
        self.update()

    def settings(self) -> dict:
        return {"devices": tuple(self.controls["devices"].value),
                "dtype": self.controls["dtype"].value}

    def update(self, _change=None) -> None:
        from . import hardware

        s = self.settings()
        devices = [hardware.device(name) for name in s["devices"]]
        if not devices:
            self.result.value = error_html(ValueError("no device picked"),
                                           "Pick at least one device.")
            self.chart.layout.display = "none"
            return
        self.result.value = device_comparison_html(devices, s["dtype"])
        usable = [d for d in devices if _hw_has_peak(d, s["dtype"])]
        if not usable:
            self.chart.layout.display = "none"
            return
        with self._redrawing():
            plots.device_comparison_chart(usable, s["dtype"], width=10)
        self._show_chart()

    def snapshot_html(self) -> str:
        s = self.settings()
        return _snapshot("Hardware explorer", f"{', '.join(s['devices'])}; {s['dtype']}",
                         self.result.value, self.chart)


def _hw_has_peak(dev, dtype: str) -> bool:
    try:
        dev.peak_flops(dtype)
    except ValueError:
        return False
    return True


def hardware_explorer(**settings) -> HardwareExplorer:
    """The chapter 2.2 explorer: ``devices`` (catalogue names) and ``dtype``."""
    unknown = set(settings) - set(HARDWARE_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown settings {sorted(unknown)}; known: {list(HARDWARE_DEFAULTS)}")
    return HardwareExplorer(**{**HARDWARE_DEFAULTS, **settings})


def hardware_figure(devices=HARDWARE_DEFAULTS["devices"], dtype=HARDWARE_DEFAULTS["dtype"]):
    """The hardware explorer's static companion: its chart at the given (default) settings."""
    from . import hardware

    return plots.device_comparison_chart([hardware.device(d) for d in devices], dtype)


def transformer_matmul_shapes(cfg, tokens: int = 4096, context: int = 4096,
                              decode_batch: int = 64) -> dict[str, tuple[int, int, int]]:
    """(m, n, k) of the matmuls that dominate a decoder, for the roofline: (m x k) @ (k x n).

    * training or prefill of ``tokens`` tokens: the MLP's up-projection (every weight matmul
      has this form) and one head's attention scores Q Kᵀ over ``tokens`` positions, as a
      naive (score-materialising) kernel computes them;
    * decoding one token per sequence: the same up-projection for a batch of 1 and of
      ``decode_batch`` sequences, and one head's q Kᵀ against ``context`` cached keys.
    """
    if isinstance(cfg, str):
        from .catalog import model

        cfg = model(cfg)
    d, f, h = cfg.d_model, cfg.d_ff, cfg.head_dim
    return {
        f"MLP up-projection, {tokens:,} tokens (training/prefill)": (tokens, f, d),
        f"attention scores QKᵀ, one head, {tokens:,} tokens": (tokens, tokens, h),
        f"MLP up-projection, decode batch {decode_batch}": (decode_batch, f, d),
        "MLP up-projection, decode batch 1": (1, f, d),
        f"attention q·Kᵀ, decode, {context:,} cached tokens": (1, context, h),
    }


# Llama-2-7B (Touvron et al. 2023) gives the explorer's preset shapes; it opens on decoding.
ROOFLINE_MODEL = "llama2-7b"
ROOFLINE_DEFAULTS = {"device": "h100-sxm", "dtype": "bf16", "m": 1, "n": 11008, "k": 4096}


def matmul_roofline(m: int, n: int, k: int, device, dtype: str):
    """`timing.roofline_time` of an (m x k) @ (k x n) matmul in ``dtype`` on ``device``, with
    FLOPs and bytes from `timing.matmul_cost` at the dtype's bytes per element."""
    from . import timing
    from .memory import bytes_per_element

    flops, bytes_moved = timing.matmul_cost(m, n, k, bytes_per_element(dtype))
    return timing.roofline_time(flops, bytes_moved, device, dtype)


def roofline_summary_html(r, dev, dtype: str) -> str:
    """The roofline verdict of one operation as an HTML table."""
    peak = dev.peak_flops(dtype)
    verdict = ("<b style='color:#8a1f11'>memory-bound</b>" if r.bound == "memory"
               else "<b style='color:#1d6b2f'>compute-bound</b>")
    rows = [
        ("FLOPs", units.format_flops(r.flops)),
        ("bytes moved", units.format_bytes(r.bytes_moved, binary=False)),
        ("arithmetic intensity", f"{r.arithmetic_intensity:.3g} FLOP/B"),
        (f"ridge point of {html.escape(dev.name)} ({dtype})", f"{r.ridge_point:.3g} FLOP/B"),
        ("verdict", verdict),
        ("compute time (FLOPs / peak)", units.format_seconds(r.compute_seconds)),
        ("memory time (bytes / bandwidth)", units.format_seconds(r.memory_seconds)),
        ("<b>roofline time</b>", f"<b>{units.format_seconds(r.seconds)}</b>"),
        ("attainable FLOP/s", (f"{units.format_rate(r.achieved_flops_per_s)} "
                               f"({plots.share(r.achieved_flops_per_s, peak)} of peak)")),
    ]
    body = "".join(f"<tr><td style='text-align:left;padding:1px 10px 1px 0'>{a}</td>"
                   f"<td style='text-align:right'>{b}</td></tr>" for a, b in rows)
    return f"<table class='bigcompute-summary'>{body}</table>"


class RooflineExplorer(Explorer):
    """Choose a device, a dtype and a matmul shape (m x k) @ (k x n), or a preset from a
    transformer; see whether it is compute- or memory-bound and its roofline time."""

    chart_dpi = 72

    def __init__(self, device: str, dtype: str, m: int, n: int, k: int):
        from . import hardware

        self.presets = transformer_matmul_shapes(ROOFLINE_MODEL)
        style = {"description_width": "60px"}
        box = W.Layout(width="220px")
        self.controls = {
            "device": W.Dropdown(options=hardware.devices(), value=device,
                                 description="device", style=style, layout=box),
            "dtype": W.Dropdown(options=EXPLORER_DTYPES, value=dtype, description="dtype",
                                style=style, layout=box),
            "m": W.IntText(value=m, description="m", style=style, layout=box),
            "n": W.IntText(value=n, description="n", style=style, layout=box),
            "k": W.IntText(value=k, description="k", style=style, layout=box),
        }
        self.preset = W.Dropdown(options=["custom", *self.presets],
                                 value=self._matching_preset(), description="shape",
                                 style=style, layout=W.Layout(width="440px"))
        self.result = W.HTML()
        self.chart = W.Image(format="png", layout=W.Layout(max_width="720px"))
        title = W.HTML(f"<b>Roofline explorer</b>: one matmul (m &times; k) @ (k &times; n). "
                       f"Presets are the shapes of {ROOFLINE_MODEL}'s layers.")
        super().__init__([title, self.preset,
                          W.HBox([W.VBox(list(self.controls.values())), self.result]),
                          self.chart])
        self._syncing = False
        self.preset.observe(self._apply_preset, names="value")
        for control in self.controls.values():
            control.observe(self.update, names="value")
        self.update()

    def _matching_preset(self) -> str:
        shape = (self.controls["m"].value, self.controls["n"].value, self.controls["k"].value)
        return next((name for name, s in self.presets.items() if s == shape), "custom")

    def _apply_preset(self, change) -> None:
        if change["new"] == "custom":
            return
        self._syncing = True
        try:
            for key, value in zip("mnk", self.presets[change["new"]]):
                self.controls[key].value = value
        finally:
            self._syncing = False
        self.update()

    def settings(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def update(self, _change=None) -> None:
        if self._syncing:
            return
        from . import hardware

        self.preset.value = self._matching_preset()
        s = self.settings()
        dev = hardware.device(s["device"])
        try:
            r = matmul_roofline(s["m"], s["n"], s["k"], dev, s["dtype"])
        except ValueError as exc:
            self.result.value = error_html(exc)
            self.chart.layout.display = "none"
            return
        self.result.value = roofline_summary_html(r, dev, s["dtype"])
        with self._redrawing():
            plots.roofline_chart(
                {f"{dev.name} {s['dtype']}": (dev.peak_flops(s["dtype"]),
                                               dev.bandwidth_bytes_per_s)},
                {"this matmul": [(r.arithmetic_intensity, r.achieved_flops_per_s,
                                  f"{s['m']}x{s['n']}x{s['k']}")]},
                width=7, height=4.2)
        self._show_chart()

    def snapshot_html(self) -> str:
        s = self.settings()
        settings = (f"{s['device']}, {s['dtype']}, m = {s['m']:,}, n = {s['n']:,}, "
                    f"k = {s['k']:,}")
        return _snapshot("Roofline explorer", settings, self.result.value, self.chart)


def roofline_explorer(**settings) -> RooflineExplorer:
    """The chapter 2.3 explorer: ``device``, ``dtype``, and the matmul's ``m``, ``n``, ``k``;
    opens on decoding one token of Llama-2-7B's MLP on an H100."""
    unknown = set(settings) - set(ROOFLINE_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown settings {sorted(unknown)}; known: {list(ROOFLINE_DEFAULTS)}")
    return RooflineExplorer(**{**ROOFLINE_DEFAULTS, **settings})


def roofline_figure(device=ROOFLINE_DEFAULTS["device"], dtype=ROOFLINE_DEFAULTS["dtype"],
                    model: str = ROOFLINE_MODEL):
    """The roofline explorer's static companion: every preset shape of ``model`` on the
    device's roofline, each at its roofline time."""
    from . import hardware

    dev = hardware.device(device)
    points = {}
    for label, (m, n, k) in transformer_matmul_shapes(model).items():
        r = matmul_roofline(m, n, k, dev, dtype)
        points[label] = [(r.arithmetic_intensity, r.achieved_flops_per_s, None)]
    return plots.roofline_chart(
        {f"{dev.name} {dtype}": (dev.peak_flops(dtype), dev.bandwidth_bytes_per_s)}, points,
        title=f"Where {model}'s matmuls sit on the {dev.name} roofline ({dtype})")


# ---------------------------------------------------------------- chapters 4.3-4.5: memory,
# training-cost and scaling explorers
#
# Each is a `ControlsExplorer`: a dict of controls, a `render(settings)` that returns the
# result as HTML and a matplotlib figure (or raises ValueError, shown as a message), and the
# same static snapshot as the parameter explorer.

PRECISIONS = ("fp32", "amp-bf16", "bf16", "amp-fp16", "fp16")
OPTIMIZERS = ("sgd", "momentum", "adamw")
RECOMPUTE_CHOICES = {"none": None, "selective": "selective", "full": "full"}
SEQ_CHOICES = tuple(2**k for k in range(7, 18))  # 128 ... 131,072 tokens
DP_CHOICES = tuple(2**k for k in range(13))      # 1 ... 4096
TP_CHOICES = tuple(2**k for k in range(7))       # 1 ... 64
PP_CHOICES = tuple(2**k for k in range(8))       # 1 ... 128
LEDGER_LABELS = {"weights": "weights", "grads": "gradients", "optimizer": "optimizer states",
                 "activations": "activations", "logits": "logits and loss"}

# LLaMA-2-7B (Touvron et al. 2023b) with mixed-precision AdamW at its 4096-token context:
# the explorer opens on a model whose states alone (16 B/param, 108 GB) overflow one GPU.
MEMORY_DEFAULTS = {
    "model": "llama2-7b", "batch": 1, "seq": 4096, "precision": "amp-bf16",
    "optimizer": "adamw", "attention": "flash", "recompute": "none", "zero_stage": 0,
    "dp": 1, "tp": 1, "pp": 1, "device": "h100-sxm",
    # the custom model (model="custom"): a GPT-2-style decoder, as in the parameter explorer
    "d_model": 2048, "n_layers": 24, "n_heads": 16, "vocab_size": 50257,
}

# Reference runs the training-cost explorer sets your run against: catalogue models with
# published parameters and training tokens (data/models.yaml cites each).
REFERENCE_RUNS = ("gpt3-175b", "gopher-280b", "chinchilla-70b", "palm-540b", "llama-65b",
                  "llama2-70b", "llama3.1-405b")
# LLaMA-65B's run (Touvron et al. 2023a, sec. 2.4: 2048 A100-80GB GPUs); parameters and tokens
# come from the catalogue. MFU 0.4: `timing.training_time`'s default, typical of large runs.
TRAINING_COST_DEFAULTS = {"model": "llama-65b", "device": "a100-80gb", "n_devices": 2048,
                          "mfu": 0.4, "pue": 1.0, "power_watts": 0.0}
# The compute budget opens at Gopher's, 5.76e23 FLOP: the budget of Chinchilla's Table 3 row
# "67 Billion" (data/published_runs.yaml, chinchilla-67b-gopher-budget).
SCALING_DEFAULTS = {"budget_run": "chinchilla-67b-gopher-budget", "device": "a100-80gb",
                    "n_devices": 2048, "mfu": 0.4}


def _dropdown(description, options, value):
    return W.Dropdown(options=options, value=value, description=description,
                      style={"description_width": "110px"}, layout=W.Layout(width="330px"))


def _int_text(description, value, lo, hi):
    return W.BoundedIntText(value=value, min=lo, max=hi, description=description,
                            style={"description_width": "110px"},
                            layout=W.Layout(width="330px"))


def _float_text(description, value, lo, hi, step=0.01):
    return W.BoundedFloatText(value=value, min=lo, max=hi, step=step,
                              description=description, style={"description_width": "110px"},
                              layout=W.Layout(width="330px"))


def _log_slider(description, value, lo_exp, hi_exp):
    return W.FloatLogSlider(value=value, base=10, min=lo_exp, max=hi_exp, step=0.01,
                            description=description, readout_format=".3g",
                            continuous_update=False, style={"description_width": "110px"},
                            layout=W.Layout(width="420px"))


def _fraction_slider(description, value):
    return W.FloatSlider(value=value, min=0.01, max=1.0, step=0.01, description=description,
                         readout_format=".2f", continuous_update=False,
                         style={"description_width": "110px"}, layout=W.Layout(width="420px"))


def _table_html(rows, cls="bigcompute-summary") -> str:
    body = "".join(f"<tr><td style='text-align:left;padding:1px 12px 1px 0'>{a}</td>"
                   f"<td style='text-align:right'>{b}</td></tr>" for a, b in rows)
    return f"<table class='{cls}'>{body}</table>"


def _verdict_html(ok: bool, text: str) -> str:
    colour = "#1e6b2f" if ok else "#8a1f11"
    return f"<p style='color:{colour};font-weight:bold;margin:0.4em 0'>{html.escape(text)}</p>"


class ControlsExplorer(Explorer):
    """An explorer made of named controls, a result (HTML) and a chart (PNG).

    Subclasses set ``name`` and implement ``render(settings) -> (html, Figure)``, drawing
    the figure with a `plots` chart function (during `update` it draws on the explorer's one
    figure); a ValueError from it is shown as the setting's message, with the chart hidden."""

    name = "Explorer"
    columns = 2

    def __init__(self, controls: dict, title_html: str):
        self.controls = controls
        self.result = W.HTML()
        self.chart = W.Image(format="png", layout=W.Layout(max_width="760px"))
        widgets = list(controls.values())
        per_column = -(-len(widgets) // self.columns)
        columns = [W.VBox(widgets[i:i + per_column])
                   for i in range(0, len(widgets), per_column)]
        super().__init__([W.HTML(title_html), W.HBox(columns), self.result, self.chart])
        for control in widgets:
            control.observe(self.update, names="value")
        self.update()

    def settings(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def render(self, settings: dict):
        raise NotImplementedError

    def figure(self):
        """The chart at the current settings, as a matplotlib Figure."""
        return self.render(self.settings())[1]

    def update(self, _change=None) -> None:
        """Recompute and redraw from the controls' values."""
        try:
            with self._redrawing():
                text, fig = self.render(self.settings())
        except ValueError as exc:
            self.result.value = error_html(exc)
            self.chart.layout.display = "none"
            return
        if fig is not self._widget_figure.figure:
            raise TypeError(f"{type(self).__name__}.render drew a figure of its own; draw it "
                            "with a plots chart function (plots._subplots)")
        self.result.value = text
        self._show_chart()

    def settings_text(self) -> str:
        """The settings in use (disabled controls left out), numbers readably rounded."""
        return ", ".join(f"{k} = {_setting_text(v)}" for k, v in self.settings().items()
                         if not self.controls[k].disabled)

    def snapshot_html(self) -> str:
        return _snapshot(self.name, self.settings_text(), self.result.value, self.chart)


def _setting_text(value) -> str:
    """2,048 for an int, 6.52e+10 or 0.476 for a float, the text of anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


def _check_settings(settings: dict, defaults: dict, extra=()) -> None:
    unknown = set(settings) - set(defaults) - set(extra)
    if unknown:
        raise TypeError(f"unknown settings {sorted(unknown)}; known: "
                        f"{list(defaults) + list(extra)}")


# ---------------------------------------------------------------- 4.3 memory explorer

def memory_explorer_models() -> list[str]:
    """The catalogue's decoder-only language models (the models the memory explorer offers,
    besides "custom")."""
    from .catalog import model, models

    return [name for name in models()
            if isinstance(model(name), TransformerConfig) and model(name).arch == "decoder"
            and model(name).frontend == "tokens"]


def memory_explorer_config(settings: dict) -> TransformerConfig:
    """The model of a memory-explorer setting: a catalogue model, or for "custom" a
    GPT-2-style decoder (`explorer_config`) with positions up to the sequence length."""
    if settings["model"] != "custom":
        from .catalog import model

        return model(settings["model"])
    return explorer_config(settings["d_model"], settings["n_layers"], settings["n_heads"],
                           settings["vocab_size"], max_seq_len=settings["seq"])


def _training_kwargs(settings: dict) -> dict:
    return {"precision": settings["precision"], "optimizer": settings["optimizer"],
            "attention": settings["attention"],
            "recompute": RECOMPUTE_CHOICES.get(settings["recompute"], settings["recompute"]),
            "zero_stage": settings["zero_stage"], "dp": settings["dp"], "tp": settings["tp"],
            "pp": settings["pp"]}


def ledger_parts(mem) -> dict[str, float]:
    """A `memory.TrainingMemory` as {label: bytes} in ledger order, for `plots`."""
    return {LEDGER_LABELS[k]: getattr(mem, k) for k in LEDGER_LABELS}


def memory_report(settings: dict) -> dict:
    """Everything the memory explorer shows, from the library: the config, the per-device
    `memory.training_memory` at the chosen batch, `memory.fit` (fits? largest batch) and the
    memory at the largest batch that fits (None when no batch fits or it is the chosen one)."""
    from . import memory
    from .errors import fail
    from .hardware import device as get_device

    cfg = memory_explorer_config(settings)
    dev = get_device(settings["device"])
    kw = _training_kwargs(settings)
    batch, seq = settings["batch"], settings["seq"]
    if cfg.positions == "learned" and seq > cfg.max_seq_len:
        # the model has no position embedding beyond max_seq_len (counts.flop_terms says the
        # same; memory.training_memory does not check it)
        fail("seq", seq, f"at most max_seq_len={cfg.max_seq_len} with learned positions")
    mem = memory.training_memory(cfg, batch, seq, **kw)
    fit = memory.fit(cfg, dev, batch, seq, **kw)
    largest = None
    if fit.max_batch >= 1 and fit.max_batch != batch:
        largest = memory.training_memory(cfg, fit.max_batch, seq, **kw)
    return {"cfg": cfg, "device": dev, "memory": mem, "fit": fit, "largest": largest,
            "n_devices": settings["dp"] * settings["tp"] * settings["pp"]}


class MemoryExplorer(ControlsExplorer):
    """Training memory per device: model (catalogue or custom), batch, sequence, precision,
    optimizer, attention kernel, recomputation, ZeRO stage, DP/TP/PP and device. Shows the
    ledger, whether it fits and the largest micro-batch that does, as stacked bars against
    the device's memory."""

    name = "Memory explorer"

    def __init__(self, **s):
        from .hardware import devices

        controls = {
            "model": _dropdown("model", memory_explorer_models() + ["custom"], s["model"]),
            "batch": _int_text("micro-batch", s["batch"], 1, 1_000_000),
            "seq": _dropdown("sequence", SEQ_CHOICES, s["seq"]),
            "precision": _dropdown("precision", PRECISIONS, s["precision"]),
            "optimizer": _dropdown("optimizer", OPTIMIZERS, s["optimizer"]),
            "attention": _dropdown("attention", ("flash", "naive"), s["attention"]),
            "recompute": _dropdown("recompute", tuple(RECOMPUTE_CHOICES), s["recompute"]),
            "zero_stage": _dropdown("ZeRO stage", (0, 1, 2, 3), s["zero_stage"]),
            "dp": _dropdown("data parallel", DP_CHOICES, s["dp"]),
            "tp": _dropdown("tensor parallel", TP_CHOICES, s["tp"]),
            "pp": _dropdown("pipeline parallel", PP_CHOICES, s["pp"]),
            "device": _dropdown("device", devices(), s["device"]),
            "d_model": _int_text("custom d_model", s["d_model"], 64, 65536),
            "n_layers": _int_text("custom layers", s["n_layers"], 1, 512),
            "n_heads": _int_text("custom heads", s["n_heads"], 1, 512),
            "vocab_size": _int_text("custom vocab", s["vocab_size"], 1, 1_000_000),
        }
        title = ("<b>Memory explorer</b>: bytes per device for one training step. "
                 "The custom model is a GPT-2-style decoder (its four settings apply when "
                 "model = custom).")
        super().__init__(controls, title)

    def render(self, settings):
        custom = settings["model"] == "custom"
        for key in ("d_model", "n_layers", "n_heads", "vocab_size"):
            self.controls[key].disabled = not custom
        try:
            report = memory_report(settings)
        except ValueError as exc:
            if custom and settings["d_model"] % settings["n_heads"]:
                raise ValueError(f"{exc} {head_hint(settings['d_model'], settings['n_heads'])}"
                                 ) from None
            raise
        return memory_summary_html(report, settings), memory_report_figure(report, settings)


def memory_summary_html(report: dict, settings: dict) -> str:
    """The ledger per device, the verdict and the largest batch, as HTML."""
    mem, fit, dev = report["memory"], report["fit"], report["device"]
    n = counts.param_count(report["cfg"])
    rows = [("model", f"{html.escape(settings['model'])}, {units.format_count(n)} parameters")]
    for label, value in ledger_parts(mem).items():
        rows.append((f"&nbsp;&nbsp;{label}", (f"{units.format_bytes(value)} "
                                              f"({plots.share(value, mem.total)})")))
    rows.append(("<b>total per device</b>", f"<b>{units.format_bytes(mem.total)}</b>"))
    rows.append((f"{html.escape(dev.name)} memory", units.format_bytes(dev.memory_bytes)))
    rows.append(("devices (dp &times; tp &times; pp)",
                 (f"{settings['dp']} &times; {settings['tp']} &times; {settings['pp']} = "
                 f"{report['n_devices']:,}")))
    rows.append(("largest micro-batch that fits", f"{fit.max_batch:,}"))
    notes = []
    if settings["pp"] > 1:
        notes.append("With pipeline parallelism this is the first stage, which holds the "
                     "activations of pp micro-batches in flight; the logits live on the last.")
    if settings["zero_stage"] and settings["dp"] == 1:
        notes.append("ZeRO shards the model states over the data-parallel replicas: with "
                     "dp = 1 it changes nothing.")
    note_html = "".join(f"<p style='margin:0.2em 0;font-size:90%'>{html.escape(t)}</p>"
                        for t in notes)
    return _verdict_html(fit.fits, fit.message) + _table_html(rows) + note_html


def memory_report_figure(report: dict, settings: dict | None = None):
    """Stacked bars: the chosen batch and the largest batch that fits, against the device."""
    mem, fit, dev = report["memory"], report["fit"], report["device"]
    batch = settings["batch"] if settings else None
    stacks = {f"micro-batch {batch:,} (your settings)" if batch else "your settings":
              ledger_parts(mem)}
    if report["largest"] is not None:
        stacks[f"micro-batch {fit.max_batch:,} (largest that fits)"] = ledger_parts(
            report["largest"])
    name = settings["model"] if settings else report["cfg"].name
    title = f"{name} on {dev.name}: memory per device"
    return plots.memory_stack_chart(stacks, capacity_bytes=dev.memory_bytes,
                                    capacity_label=_capacity_label(dev), title=title)


def _capacity_label(dev) -> str:
    return (f"{dev.name}: {units.format_bytes(dev.memory_bytes, binary=False)} = "
            f"{units.format_bytes(dev.memory_bytes)}")


def memory_explorer(**settings) -> MemoryExplorer:
    """The chapter 4.3 explorer, opening on LLaMA-2-7B with mixed-precision AdamW on one H100
    (`MEMORY_DEFAULTS`) unless ``settings`` say otherwise."""
    _check_settings(settings, MEMORY_DEFAULTS)
    return MemoryExplorer(**{**MEMORY_DEFAULTS, **settings})


def memory_sharding_figure(model: str = MEMORY_DEFAULTS["model"], dp: int = 8, **settings):
    """The memory explorer's static companion: the default setting on one device, then
    ZeRO stages 1-3 over ``dp`` data-parallel devices, then ZeRO-3 with full recomputation,
    against the device's memory."""
    _check_settings(settings, MEMORY_DEFAULTS)
    base = {**MEMORY_DEFAULTS, **settings, "model": model}
    variants = {"1 device, no sharding": {"dp": 1, "zero_stage": 0}}
    for stage in (1, 2, 3):
        variants[f"ZeRO-{stage}, dp = {dp}"] = {"dp": dp, "zero_stage": stage}
    variants[f"ZeRO-3, dp = {dp}, full recompute"] = {"dp": dp, "zero_stage": 3,
                                                       "recompute": "full"}
    stacks = {}
    for label, change in variants.items():
        report = memory_report({**base, **change})
        stacks[label] = ledger_parts(report["memory"])
    dev = report["device"]
    return plots.memory_stack_chart(
        stacks, capacity_bytes=dev.memory_bytes, capacity_label=_capacity_label(dev),
        title=(f"{report['cfg'].name}, micro-batch {base['batch']}, {base['seq']} tokens, "
               f"{base['precision']} {base['optimizer']}: memory per device"))


# ---------------------------------------------------------------- 4.4 training-cost explorer

def _reference_runs():
    from .catalog import model_info

    out = {}
    for name in REFERENCE_RUNS:
        info = model_info(name)
        if info["training_tokens"]:
            params = info["active_params"] or info["published_params"]
            out[name] = (float(params), float(info["training_tokens"]))
    return out


class TrainingCostExplorer(ControlsExplorer):
    """Days, device-hours, energy, CO2 and money for training N parameters on D tokens
    (`estimate.estimate_training`, 6ND), with the price and grid intensity as inputs."""

    name = "Training-cost explorer"

    def __init__(self, *, params, tokens, device, n_devices, mfu, pue, power_watts,
                 price_per_device_hour, grid_kg_per_kwh):
        from .hardware import devices

        controls = {
            "params": _log_slider("parameters N", params, 7, 13),
            "tokens": _log_slider("tokens D", tokens, 9, 14),
            "device": _dropdown("device", devices(), device),
            "n_devices": _int_text("devices", n_devices, 1, 10_000_000),
            "mfu": _fraction_slider("MFU", mfu),
            "pue": _float_text("PUE", pue, 1.0, 5.0),
            "power_watts": _float_text("W/device (0=TDP)", power_watts, 0.0, 10_000.0, 1.0),
            "price_per_device_hour": _float_text("$/device-hour", price_per_device_hour,
                                                 0.0, 10_000.0),
            "grid_kg_per_kwh": _float_text("kg CO2e/kWh", grid_kg_per_kwh, 0.0, 5.0, 0.001),
        }
        title = ("<b>Training-cost explorer</b>: time = 6ND / (devices &times; peak &times; "
                 "MFU); energy = device-hours &times; power &times; PUE; "
                 "CO2 = energy &times; grid intensity; cost = device-hours &times; price.")
        super().__init__(controls, title)

    @staticmethod
    def estimate(settings: dict, params=None, tokens=None):
        from .estimate import estimate_training

        return estimate_training(
            params or settings["params"], tokens or settings["tokens"], settings["device"],
            settings["n_devices"], settings["mfu"], pue=settings["pue"],
            power_watts=settings["power_watts"] or None,
            grid_kg_per_kwh=settings["grid_kg_per_kwh"],
            price_per_device_hour=settings["price_per_device_hour"])

    def render(self, settings):
        est = self.estimate(settings)
        return training_cost_html(est), self._figure(settings, est)

    def _figure(self, settings, est):
        label = (f"your run: {units.format_count(est.n_params)} params, "
                 f"{units.format_count(est.tokens)} tokens")
        values, notes = {label: est.device_hours}, {}
        notes[label] = f"{format_days(est.days)}, {units.format_dollars(est.cost_dollars)}"
        for name, (n, d) in _reference_runs().items():
            ref = self.estimate(settings, n, d)
            key = f"{name}: {units.format_count(n)}, {units.format_count(d)} tokens"
            values[key] = ref.device_hours
            notes[key] = f"{format_days(ref.days)}, {units.format_dollars(ref.cost_dollars)}"
        return plots.ranked_bar_chart(
            values, xlabel=f"{est.device} device-hours at MFU {est.mfu:.0%} (6ND)",
            highlight=label, notes=notes,
            title=(f"The same hardware for famous runs: {est.n_devices:,} x {est.device} "
                   f"(days on that many devices, cost)"))


def format_days(days: float) -> str:
    """Days with sensible precision: 0.42 days, 21.2 days, 1,234 days."""
    return f"{days:,.0f} days" if days >= 1000 else f"{days:.3g} days"


def training_cost_html(est) -> str:
    """The estimate as a table: compute, time, device-hours, energy, CO2, cost."""
    rows = [
        ("compute (6ND)", f"{units.format_flops(est.flops)} = {est.pf_days:,.0f} PF-days"),
        ("time", (f"{format_days(est.days)} on {est.n_devices:,} &times; "
                 f"{html.escape(est.device)}")),
        ("device-hours", f"{est.device_hours:,.0f}"),
        ("energy", (f"{est.energy_kwh / 1000:,.1f} MWh ({est.power_watts:.0f} W/device, "
                   f"PUE {est.pue:g})")),
        ("CO2e", f"{est.co2_tonnes:,.1f} t"),
        ("cost", units.format_dollars(est.cost_dollars)),
    ]
    return _table_html(rows)


def training_cost_explorer(*, price_per_device_hour: float, grid_kg_per_kwh: float,
                           **settings) -> TrainingCostExplorer:
    """The chapter 4.4 explorer. The price and the grid intensity are yours to give (cite
    them where you show them); the rest opens on LLaMA-65B's run (`TRAINING_COST_DEFAULTS`:
    the catalogue's parameters and tokens, 2048 A100-80GB) unless ``settings`` (params,
    tokens, device, n_devices, mfu, pue, power_watts; 0 W means the device's TDP) say
    otherwise."""
    from .catalog import model_info

    _check_settings(settings, TRAINING_COST_DEFAULTS, ("params", "tokens"))
    s = {**TRAINING_COST_DEFAULTS, **settings}
    info = model_info(s.pop("model"))
    s.setdefault("params", float(info["published_params"]))
    s.setdefault("tokens", float(info["training_tokens"]))
    return TrainingCostExplorer(price_per_device_hour=price_per_device_hour,
                                grid_kg_per_kwh=grid_kg_per_kwh, **s)


# ---------------------------------------------------------------- 4.5 scaling explorer

def scaling_report(compute_flops: float, device, n_devices: int, mfu: float,
                   price_per_device_hour: float) -> dict:
    """Compute-optimal allocations of a budget and the cost of training Chinchilla's:
    Chinchilla's D = 20N rule and its Approach 3 fit, Kaplan et al.'s Table 6 rule, each
    with Chinchilla's predicted loss (Kaplan's N trained on the tokens the budget leaves)."""
    from . import energy, scaling, timing

    rules = {
        "Chinchilla, D = 20N": scaling.chinchilla_optimal(compute_flops),
        "Chinchilla, approach 3": scaling.chinchilla_optimal(compute_flops, "approach3"),
    }
    n_kaplan, _ = scaling.kaplan_optimal(energy.pf_days(compute_flops))
    rules["Kaplan et al. 2020"] = (n_kaplan, compute_flops / (6 * n_kaplan))
    losses = {k: scaling.chinchilla_loss(n, d) for k, (n, d) in rules.items()}
    n, d = rules["Chinchilla, D = 20N"]
    seconds = timing.training_time(compute_flops, device, n_devices, mfu)
    hours = energy.device_hours(seconds, n_devices)
    return {"rules": rules, "losses": losses, "seconds": seconds, "device_hours": hours,
            "cost": energy.cost_dollars(hours, price_per_device_hour), "params": n,
            "tokens": d}


class ScalingExplorer(ControlsExplorer):
    """A compute budget -> the compute-optimal parameters and tokens (Chinchilla, Kaplan),
    the loss Chinchilla's fit predicts, and the days, device-hours and money to train it."""

    name = "Scaling explorer"

    def __init__(self, *, compute_flops, device, n_devices, mfu, price_per_device_hour):
        from .hardware import devices

        controls = {
            "compute_flops": _log_slider("budget C (FLOP)", compute_flops, 18, 27),
            "device": _dropdown("device", devices(), device),
            "n_devices": _int_text("devices", n_devices, 1, 10_000_000),
            "mfu": _fraction_slider("MFU", mfu),
            "price_per_device_hour": _float_text("$/device-hour", price_per_device_hour,
                                                 0.0, 10_000.0),
        }
        title = ("<b>Scaling explorer</b>: how to spend a training budget C = 6ND, and what "
                 "it costs to train the compute-optimal model.")
        super().__init__(controls, title)

    def render(self, settings):
        report = scaling_report(**settings)
        return scaling_summary_html(report, settings), self._figure(settings["compute_flops"])

    @staticmethod
    def _figure(budget):
        return compute_optimal_figure(budget)


def scaling_summary_html(report: dict, settings: dict) -> str:
    rows = [("<b>rule</b>", "<b>parameters N, tokens D, predicted loss</b>")]
    for rule, (n, d) in report["rules"].items():
        rows.append((rule, (f"N = {units.format_count(n)}, D = {units.format_count(d)}, "
                           f"loss {report['losses'][rule]:.3f}")))
    rows += [
        ("compute", f"{units.format_flops(settings['compute_flops'])}"),
        ("time (Chinchilla's model)",
         (f"{format_days(report['seconds'] / 86400)} on {settings['n_devices']:,} &times; "
         f"{html.escape(str(settings['device']))} at MFU {settings['mfu']:.0%}")),
        ("device-hours", f"{report['device_hours']:,.0f}"),
        ("cost", units.format_dollars(report["cost"])),
    ]
    note = ("<p style='margin:0.2em 0;font-size:90%'>Losses are Chinchilla's fit "
            "(nats per token on its data); Kaplan's N is non-embedding parameters, "
            "trained here on the tokens the budget leaves, D = C / 6N.</p>")
    return _table_html(rows) + note


def compute_optimal_allocations(budgets) -> dict:
    """Parameters and tokens of each allocation rule over ``budgets`` (FLOP), for
    `plots.compute_optimal_chart`."""
    from . import energy, scaling

    out = {}
    for label, fn in (("Chinchilla, D = 20N", scaling.chinchilla_optimal),
                      ("Chinchilla, approach 3",
                       lambda c: scaling.chinchilla_optimal(c, "approach3")),
                      ("Kaplan et al. 2020 (non-embedding N)",
                       lambda c: scaling.kaplan_optimal(energy.pf_days(c)))):
        pairs = [fn(c) for c in budgets]
        if label.startswith("Kaplan"):  # Kaplan's D is its own fit; the budget fixes D
            pairs = [(n, c / (6 * n)) for (n, _), c in zip(pairs, budgets)]
        out[label] = ([p[0] for p in pairs], [p[1] for p in pairs])
    return out


def compute_optimal_figure(budget: float | None = None, lo: float = 1e18, hi: float = 1e27):
    """Compute-optimal N and D against the budget for the three rules, the budget marked."""
    import numpy as np

    budgets = list(np.logspace(np.log10(lo), np.log10(hi), 37))
    return plots.compute_optimal_chart(budgets, compute_optimal_allocations(budgets),
                                       budget=budget,
                                       title="Compute-optimal allocation of a budget C = 6ND")


def scaling_explorer(*, price_per_device_hour: float, **settings) -> ScalingExplorer:
    """The chapter 4.5 explorer, opening on Gopher's budget (`SCALING_DEFAULTS`) on 2048
    A100s at MFU 0.4 unless ``settings`` (compute_flops, device, n_devices, mfu) say
    otherwise. The price per device-hour is yours to give (and cite)."""
    from .published import run

    _check_settings(settings, SCALING_DEFAULTS, ("compute_flops",))
    s = {**SCALING_DEFAULTS, **settings}
    s.setdefault("compute_flops", float(run(s.pop("budget_run"))["inputs"]["compute_flops"]))
    s.pop("budget_run", None)
    return ScalingExplorer(price_per_device_hour=price_per_device_hour, **s)


# ---------------------------------------------------------------- 6.1 workload explorer

# Opens on the GPT-style workload on an H100, 32 predictions at a time, at the library's
# prefill efficiency (timing.prefill_time's mfu=0.5).
WORKLOAD_DEFAULTS = {"workload": "llama2-7b", "device": "h100-sxm", "dtype": "bf16",
                     "batch": 32, "mfu": 0.5}
SERVING_DTYPES = ("bf16", "fp16", "fp8", "int8", "fp32")


def small_dollars(x: float) -> str:
    """Money that may be a fraction of a cent: $1.23k, $4.56, $0.0012."""
    return units.format_dollars(x) if x >= 0.01 or x == 0 else f"${x:.2g}"


def workload_summary_html(p) -> str:
    """A `workloads.WorkloadProfile` as a table."""
    from .workloads import workload

    w = workload(p.key)
    params = (f"{p.params:,.0f} ({units.format_count(p.params)})" if p.params
              else "not published")
    rows = [
        ("one prediction", html.escape(w.prediction)),
        ("parameters", params),
        ("FLOPs per prediction", (f"{units.format_flops(p.forward_flops)} "
                                  f"({html.escape(p.forward_flops_how)})")),
        ("training compute", (f"{units.format_flops(p.training_flops)} "
                              f"({html.escape(p.training_flops_how)})")),
        ("device time per prediction", (f"{units.format_seconds(p.seconds_per_prediction)} "
                                        f"on {html.escape(p.device)}, {html.escape(p.bound)}-"
                                        f"bound ({html.escape(p.serving_how)})")),
        ("predictions per device-hour", f"{p.predictions_per_device_hour:,.0f}"),
        ("device-hours per 1,000", f"{p.device_hours_per_1000:.3g}"),
    ]
    if p.cost_per_1000 is not None:
        rows.append(("cost per 1,000 predictions",
                     (f"{small_dollars(p.cost_per_1000)} at "
                      f"${p.price_per_device_hour:g} per device-hour")))
    if p.energy_wh_per_prediction is not None:
        rows.append(("energy per prediction (TDP)", f"{p.energy_wh_per_prediction:.3g} Wh"))
    return _table_html(rows)


def workload_cost_figure(settings: dict, price_per_device_hour: float):
    """Device-seconds per prediction of every workload that runs on the settings' device,
    the chosen one highlighted, each bar noting the cost per 1,000 predictions."""
    from .workloads import profiles

    ps = profiles(settings["device"], settings["batch"], settings["dtype"], settings["mfu"],
                  price_per_device_hour)
    values, notes, skipped = {}, {}, []
    for key, p in ps.items():
        if isinstance(p, str):
            skipped.append(key)
            continue
        values[key] = p.seconds_per_prediction
        notes[key] = (f"{units.format_seconds(p.seconds_per_prediction)}, "
                      f"{small_dollars(p.cost_per_1000)} per 1,000")
    if not values:
        raise ValueError(f"no workload runs on {settings['device']} in {settings['dtype']}")
    title = (f"Serving on {settings['device']} ({settings['dtype']}, batch "
             f"{settings['batch']}, {settings['mfu']:.0%} of peak) at "
             f"${price_per_device_hour:g}/device-hour")
    if skipped:
        title += f"\nnot shown: {', '.join(skipped)} (no timing on this device)"
    return plots.ranked_bar_chart(values, xlabel="device-seconds per prediction (roofline)",
                                  highlight=settings["workload"], notes=notes, title=title)


class WorkloadExplorer(ControlsExplorer):
    """Pick a workload and a device: parameters, FLOPs per prediction, training compute,
    device time, energy and cost per 1,000 predictions (`workloads.profile`)."""

    name = "Workload explorer"

    def __init__(self, *, workload, device, dtype, batch, mfu, price_per_device_hour):
        from .hardware import devices
        from .workloads import workloads

        controls = {
            "workload": _dropdown("workload", workloads(), workload),
            "device": _dropdown("device", devices(), device),
            "dtype": _dropdown("dtype", SERVING_DTYPES, dtype),
            "batch": _int_text("batch", batch, 1, 4096),
            "mfu": _fraction_slider("share of peak", mfu),
            "price_per_device_hour": _float_text("$/device-hour", price_per_device_hour,
                                                 0.0, 10_000.0),
        }
        title = ("<b>Workload explorer</b>: one prediction of each workload on one device. "
                 "Time is the roofline (FLOPs at the chosen share of peak vs the weights "
                 "read), or prefill + decode for generated text; cost = device-hours "
                 "&times; your price.")
        super().__init__(controls, title)

    def render(self, settings):
        from .workloads import profile

        s = dict(settings)
        price = s.pop("price_per_device_hour")
        p = profile(s["workload"], s["device"], s["batch"], s["dtype"], s["mfu"], price)
        return workload_summary_html(p), workload_cost_figure(s, price)


def workload_explorer(*, price_per_device_hour: float, **settings) -> WorkloadExplorer:
    """The chapter 6.1 explorer, opening on `WORKLOAD_DEFAULTS` unless ``settings``
    (workload, device, dtype, batch, mfu) say otherwise. The price per device-hour is yours
    to give (and cite): `reference_figures.price(device)` holds a few published ones."""
    _check_settings(settings, WORKLOAD_DEFAULTS)
    return WorkloadExplorer(price_per_device_hour=price_per_device_hour,
                            **{**WORKLOAD_DEFAULTS, **settings})


def workload_map_figure(device="h100-sxm", highlight: str | None = None):
    """Every workload by FLOPs per prediction and training compute (`plots.workload_map_chart`);
    the device only matters to workloads timed on one device (none of the axes uses it)."""
    from .workloads import forward_flops, param_count, training_flops, workload, workloads

    points = []
    for key in workloads():
        w = workload(key)
        fwd, how = forward_flops(key)
        points.append({"label": key, "domain": w.domain, "forward_flops": fwd,
                       "training_flops": training_flops(key)[0], "params": param_count(key),
                       "upper_bound": how.startswith("upper bound")})
    return plots.workload_map_chart(
        points, highlight=highlight,
        title="Representative workloads: cost of one prediction vs cost of training")


# ---------------------------------------------------------------- 8.3 reliability explorer

# Opens on the Llama 3 405B run (16,384 GPUs, the per-GPU MTBF its 419 interruptions in 54
# days imply) with illustrative checkpoint and restart times of 1 and 10 minutes.
RELIABILITY_DEFAULTS = {"n_devices": 16384, "checkpoint_seconds": 60.0,
                        "restart_seconds": 600.0}


def reliability_report(n_devices: int, device_mtbf_hours: float, checkpoint_seconds: float,
                       restart_seconds: float) -> dict:
    """Failures per day, the job's MTBF, Young's and Daly's intervals and the goodput at each
    (`reliability`)."""
    from . import reliability as rel

    mtbf_s = rel.job_mtbf_hours(n_devices, device_mtbf_hours) * 3600
    young = rel.young_interval(checkpoint_seconds, mtbf_s)
    daly = rel.daly_interval(checkpoint_seconds, mtbf_s)
    return {
        "failures_per_day": rel.failures_per_day(n_devices, device_mtbf_hours),
        "job_mtbf_seconds": mtbf_s,
        "clean_day": rel.probability_no_failure(24, n_devices, device_mtbf_hours),
        "young": young, "daly": daly,
        "goodput_young": rel.goodput(young, checkpoint_seconds, restart_seconds, mtbf_s),
        "goodput_daly": rel.goodput(daly, checkpoint_seconds, restart_seconds, mtbf_s),
        "goodput_hourly": rel.goodput(3600, checkpoint_seconds, restart_seconds, mtbf_s),
    }


def reliability_summary_html(r: dict) -> str:
    rows = [
        ("failures per day", f"{r['failures_per_day']:.3g}"),
        ("job MTBF", units.format_seconds(r["job_mtbf_seconds"])),
        ("chance of a day without failure", f"{r['clean_day']:.3g}"),
        ("Young's interval sqrt(2&delta;M)", units.format_seconds(r["young"])),
        ("Daly's interval", units.format_seconds(r["daly"])),
        ("goodput at Daly's interval", f"{r['goodput_daly']:.1%}"),
        ("goodput checkpointing hourly", f"{r['goodput_hourly']:.1%}"),
    ]
    return _table_html(rows)


def goodput_figure(n_devices: int, device_mtbf_hours: float, checkpoint_seconds: float,
                   restart_seconds: float):
    """Goodput against the checkpoint interval (log), Young's and Daly's optima starred."""
    import numpy as np

    from . import reliability as rel

    r = reliability_report(n_devices, device_mtbf_hours, checkpoint_seconds, restart_seconds)
    m = r["job_mtbf_seconds"]
    taus = list(np.logspace(np.log10(max(r["daly"] / 30, 1.0)),
                            np.log10(r["daly"] * 30), 121))
    minutes = [t / 60 for t in taus]
    good = [100 * rel.goodput(t, checkpoint_seconds, restart_seconds, m) for t in taus]
    label = (f"Daly {units.format_seconds(r['daly'])}, {r['goodput_daly']:.1%}\n"
             f"(Young {units.format_seconds(r['young'])}, {r['goodput_young']:.1%})")
    marks = {label: (r["daly"] / 60, 100 * r["goodput_daly"])}
    return plots.line_chart(
        {"goodput (Daly's model)": (minutes, good)}, xlabel="minutes of work between checkpoints",
        ylabel="useful share of wall-clock time (%)", logx=True, marks=marks,
        ylim=(0, 100),  # room above the optimum for its label
        title=(f"{n_devices:,} devices, device MTBF {device_mtbf_hours:,.0f} h (job MTBF "
               f"{units.format_seconds(m)}), checkpoint {units.format_seconds(checkpoint_seconds)}"
               f", restart {units.format_seconds(restart_seconds)}"))


class ReliabilityExplorer(ControlsExplorer):
    """Devices, per-device MTBF, checkpoint and restart times -> failures per day, the
    optimal checkpoint interval (Young 1974, Daly 2006) and the goodput."""

    name = "Reliability explorer"

    def __init__(self, *, n_devices, device_mtbf_hours, checkpoint_seconds, restart_seconds):
        controls = {
            "n_devices": _int_text("devices", n_devices, 1, 10_000_000),
            "device_mtbf_hours": _log_slider("device MTBF (h)", device_mtbf_hours, 2, 7),
            "checkpoint_seconds": _log_slider("checkpoint (s)", checkpoint_seconds, 0, 4),
            "restart_seconds": _log_slider("restart (s)", restart_seconds, 0, 5),
        }
        title = ("<b>Reliability explorer</b>: a synchronous job stops when any device fails; "
                 "checkpoints bound the work lost. Goodput = useful work / wall-clock time "
                 "(Daly 2006).")
        super().__init__(controls, title)

    def render(self, settings):
        return (reliability_summary_html(reliability_report(**settings)),
                goodput_figure(**settings))


def reliability_explorer(**settings) -> ReliabilityExplorer:
    """The chapter 8.3 explorer, opening on Llama 3's 16,384 GPUs and the per-device MTBF its
    reported interruptions imply (`reference_figures`), with `RELIABILITY_DEFAULTS`' checkpoint
    and restart times, unless ``settings`` say otherwise."""
    from . import reference_figures as rf
    from .reliability import device_mtbf_hours

    _check_settings(settings, RELIABILITY_DEFAULTS, ("device_mtbf_hours",))
    s = {**RELIABILITY_DEFAULTS, **settings}
    s.setdefault("device_mtbf_hours", device_mtbf_hours(
        rf.value("llama3-unexpected-interruptions"), rf.value("llama3-snapshot-days"),
        rf.value("llama3-gpus")))
    return ReliabilityExplorer(**s)


# ---------------------------------------------------------------- 9 FAQ explorer: will it run?

# The FAQ explorer opens on LLaMA-2-7B (Touvron et al. 2023b) and one H100: the model the FAQ
# answers with, on the device most questions are about. MFU 0.4 as `timing.training_time`'s
# default; serving at batch 1, the latency-bound case.
FAQ_DEFAULTS = {"model": "llama2-7b", "device": "h100-sxm", "n_devices": 1024, "mfu": 0.4,
                "seq": 4096}
FAQ_QUANTIZED_DTYPES = ("int8", "int4")
FAQ_TRAINING_KWARGS = {"precision": "amp-bf16", "optimizer": "adamw", "attention": "flash"}


def _half_dtype(dev) -> str:
    """The device's 16-bit compute type: bf16 where it lists one, else fp16 (V100, T4), else
    fp32 (a CPU whose datasheet gives only an fp32 peak)."""
    return next((d for d in ("bf16", "fp16") if d in dev.peak), "fp32")


def fewest_zero3_devices(cfg, device, seq: int, max_devices: int = 2**16, **training_kwargs):
    """The smallest power-of-two data-parallel degree at which ZeRO-3 training of ``cfg`` at
    micro-batch 1 fits in the device's memory (weights, gradients and optimizer states sharded
    over the devices; activations are not), or None when even ``max_devices`` do not suffice."""
    from .hardware import device as get_device
    from .memory import training_memory

    dev = get_device(device)
    dp = 1
    while dp <= max_devices:
        mem = training_memory(cfg, 1, seq, zero_stage=3, dp=dp, **training_kwargs)
        if mem.total <= dev.memory_bytes:
            return dp, mem
        dp *= 2
    return None


def faq_report(model: str, device: str, n_devices: int, mfu: float, seq: int) -> dict:
    """The FAQ's questions asked of one model and one device, answered by the library:
    parameters; training memory on one device and the fewest ZeRO-3 devices that fit it;
    training time (and energy at the TDP, where published) for the model's published tokens
    (or Chinchilla's 20 per parameter when unpublished) on ``n_devices`` at ``mfu``; and for
    serving, weights + KV cache at ``seq`` tokens and the batch-1 decode speed with 16-bit
    (bf16, else fp16, else fp32), int8 and int4 weights; the KV cache stays 16-bit."""
    from . import memory, scaling, timing
    from .catalog import model as get_model
    from .catalog import model_info
    from .counts import active_param_count, param_count
    from .estimate import estimate_training
    from .hardware import device as get_device

    cfg = get_model(model)
    dev = get_device(device)
    if seq > cfg.max_seq_len:
        raise ValueError(f"seq={seq} is longer than {cfg.name}'s context of "
                         f"{cfg.max_seq_len:,} tokens")
    info = model_info(model)
    n = param_count(cfg)
    one = memory.training_memory(cfg, 1, seq, **FAQ_TRAINING_KWARGS)
    sharded = fewest_zero3_devices(cfg, dev, seq, **FAQ_TRAINING_KWARGS)
    tokens = info["training_tokens"]
    tokens_note = "published"
    if not tokens:
        tokens = scaling.CHINCHILLA_TOKENS_PER_PARAM * n
        tokens_note = f"{scaling.CHINCHILLA_TOKENS_PER_PARAM:g} per parameter (Chinchilla)"
    half = _half_dtype(dev)
    # Time does not depend on the power; a device without a published TDP (TPU v5e/v5p,
    # Apple) gets a placeholder and its energy is not reported.
    train = estimate_training(cfg, tokens, dev, n_devices, mfu, dtype=half, seq=seq,
                              power_watts=dev.tdp_watts or 1.0)
    serving = {}
    for dtype in (half, *FAQ_QUANTIZED_DTYPES):
        mem = memory.inference_memory(cfg, 1, seq, dtype=dtype, kv_dtype=half)
        try:
            tokens_per_s = 1 / timing.decode_time_per_token(cfg, dev, 1, seq, dtype,
                                                            kv_dtype=half)
        except ValueError:  # the device lists no peak for this dtype
            tokens_per_s = None
        serving[dtype] = {"memory": mem, "fits": mem.total <= dev.memory_bytes,
                          "tokens_per_s": tokens_per_s}
    return {"cfg": cfg, "device": dev, "params": n, "active_params": active_param_count(cfg),
            "seq": seq, "train_one_device": one, "train_zero3": sharded,
            "tokens": tokens, "tokens_note": tokens_note, "train": train,
            "serving": serving, "half_dtype": half}


def faq_summary_html(report: dict) -> str:
    """The FAQ report as a short table of answers."""
    dev, cap = report["device"], report["device"].memory_bytes
    one = report["train_one_device"]
    params = units.format_count(report["params"])
    if report["active_params"] != report["params"]:
        params += f" ({units.format_count(report['active_params'])} active per token)"
    fits_one = "yes" if one.total <= cap else "no"
    rows = [("parameters", params),
            (f"train on one {html.escape(dev.name)}?",
             (f"{fits_one}: needs {units.format_bytes(one.total)} of "
              f"{units.format_bytes(cap)} (micro-batch 1, {report['seq']:,} tokens)"))]
    if report["train_zero3"]:
        dp, mem = report["train_zero3"]
        rows.append(("fewest devices, ZeRO-3",
                     f"{dp:,} ({units.format_bytes(mem.total)} each)"))
    else:
        rows.append(("fewest devices, ZeRO-3",
                     ("none: one sequence's activations overflow the device; add tensor or "
                      "pipeline parallelism")))
    est = report["train"]
    energy = (f"; {est.energy_kwh / 1000:,.0f} MWh at TDP" if dev.tdp_watts
              else "; no published TDP, so no energy")
    rows.append((f"train on {units.format_count(est.tokens)} tokens ({report['tokens_note']})",
                 (f"{format_days(est.days)} on {est.n_devices:,} devices at MFU "
                  f"{est.mfu:.0%}{energy}")))
    for dtype, s in report["serving"].items():
        speed = (f"{s['tokens_per_s']:,.0f} tokens/s at batch 1" if s["tokens_per_s"]
                 else "no peak listed for this dtype")
        verdict = "fits" if s["fits"] else "does not fit"
        rows.append((f"serve with {dtype} weights",
                     f"{verdict}: {units.format_bytes(s['memory'].total)}; {speed}"))
    return _table_html(rows)


def faq_figure(model: str = FAQ_DEFAULTS["model"], device: str = FAQ_DEFAULTS["device"],
               seq: int = FAQ_DEFAULTS["seq"], report: dict | None = None):
    """The FAQ explorer's static companion: memory per device to train (one device; ZeRO-3 on
    the fewest devices that fit) and to serve (bf16, int8, int4) against the device's memory."""
    report = report or faq_report(model, device, FAQ_DEFAULTS["n_devices"],
                                  FAQ_DEFAULTS["mfu"], seq)
    stacks = {"train, 1 device": ledger_parts(report["train_one_device"])}
    if report["train_zero3"]:
        dp, mem = report["train_zero3"]
        stacks[f"train, ZeRO-3 over {dp:,}"] = ledger_parts(mem)
    for dtype, s in report["serving"].items():
        stacks[f"serve, {dtype} weights"] = {"weights": s["memory"].weights,
                                             "KV cache": s["memory"].kv_cache}
    dev = report["device"]
    return plots.memory_stack_chart(
        stacks, capacity_bytes=dev.memory_bytes,
        capacity_label=f"{dev.name} ({units.format_bytes(dev.memory_bytes)})",
        title=f"{report['cfg'].name}, {report['seq']:,} tokens: memory per device")


class FAQExplorer(ControlsExplorer):
    """Pick a model and a device: the FAQ's answers for that pair (`faq_report`)."""

    name = "FAQ explorer"

    def __init__(self, *, model, device, n_devices, mfu, seq):
        from .hardware import devices

        controls = {
            "model": _dropdown("model", memory_explorer_models(), model),
            "device": _dropdown("device", devices(), device),
            "n_devices": _int_text("devices", n_devices, 1, 10_000_000),
            "mfu": _fraction_slider("MFU", mfu),
            "seq": _dropdown("tokens", SEQ_CHOICES, seq),
        }
        title = ("<b>FAQ explorer</b>: does this model train and serve on this device, how "
                 "long does training take, how fast does it generate?")
        super().__init__(controls, title)

    def render(self, settings):
        report = faq_report(**settings)
        return faq_summary_html(report), faq_figure(report=report)


def faq_explorer(**settings) -> FAQExplorer:
    """The chapter 9 explorer, opening on `FAQ_DEFAULTS` unless ``settings`` say otherwise."""
    _check_settings(settings, FAQ_DEFAULTS)
    return FAQExplorer(**{**FAQ_DEFAULTS, **settings})


# ---------------------------------------------------------------- 3.6 parallelism planner

# LLaMA-2-13B trained on 4M-token batches of 4096-token sequences (Touvron et al. 2023b,
# sec. 2.2: "global batch-size of 4M tokens"), i.e. 1024 sequences per step; 64 H100s.
PLANNER_DEFAULTS = {"model": "llama2-13b", "device": "h100-sxm", "n_devices": 64,
                    "global_batch": 1024, "seq": 4096, "micro_batch": 1, "zero_stage": 1,
                    "recompute": "selective", "precision": "amp-bf16"}
PLANNER_DEVICE_COUNTS = tuple(2**k for k in range(3, 15))  # 8 ... 16,384
PLANNER_ROWS = 10


def planner_options(settings: dict) -> list:
    """`planner.plan_parallelism` for a planner setting (best first)."""
    from .planner import plan_parallelism

    return plan_parallelism(
        settings["model"], settings["n_devices"], settings["global_batch"], settings["seq"],
        settings["device"], micro_batch=settings["micro_batch"],
        precision=settings["precision"], zero_stage=settings["zero_stage"],
        recompute=RECOMPUTE_CHOICES.get(settings["recompute"], settings["recompute"]))


def planner_summary_html(options: list, settings: dict, rows: int = PLANNER_ROWS) -> str:
    """The verdict (the fastest plan that fits) and a table of the best ``rows`` plans."""
    fitting = [o for o in options if o.fits]
    if fitting:
        best = fitting[0]
        verdict = _verdict_html(True, (
            f"Fastest plan that fits: {best.label} ({best.n_microbatches} micro-batches of "
            f"{best.micro_batch}), {units.format_seconds(best.step.total_seconds)} per step, "
            f"MFU {best.step.mfu:.0%}, {units.format_bytes(best.memory.total)} per device. "
            f"{len(fitting)} of {len(options)} valid splits fit."))
    else:
        smallest = min(options, key=lambda o: o.memory.total)
        verdict = _verdict_html(False, (
            f"None of the {len(options)} valid splits fits in "
            f"{units.format_bytes(smallest.capacity_bytes)}: the smallest needs "
            f"{units.format_bytes(smallest.memory.total)} per device ({smallest.label}). "
            "Try more devices, a higher ZeRO stage or full recomputation."))
    head = ("plan", "micro-batches", "memory / device", "step", "TP comm", "DP comm",
            "bubble", "MFU")
    cells = "".join(f"<th style='padding:1px 8px;text-align:right'>{h}</th>" for h in head)
    body = []
    for o in options[:rows]:
        colour = "" if o.fits else "color:#8a1f11"
        values = (o.label, f"{o.n_microbatches:,}",
                  units.format_bytes(o.memory.total) + ("" if o.fits else " (too big)"),
                  units.format_seconds(o.step.total_seconds),
                  units.format_seconds(o.step.tp_comm_seconds),
                  units.format_seconds(o.step.dp_comm_seconds),
                  f"{o.bubble_fraction:.1%}", f"{o.step.mfu:.0%}")
        body.append("<tr>" + "".join(f"<td style='padding:1px 8px;text-align:right;{colour}'>"
                                     f"{html.escape(v)}</td>" for v in values) + "</tr>")
    note = ("<p style='margin:0.2em 0;font-size:90%'>Memory from memory.training_memory "
            "(flash attention, sequence parallel with TP); time from parallel.step_time at 60% "
            "of peak for the matmuls, TP inside a node on NVLink, DP across nodes at 50 GB/s "
            "per GPU once the run spans more than one 8-GPU node. Bubble = (p-1)/(m+p-1).</p>")
    return (verdict + f"<table class='bigcompute-summary'><tr>{cells}</tr>{''.join(body)}"
            f"</table>" + note)


def planner_chart(options: list, settings: dict, rows: int = PLANNER_ROWS):
    """The best ``rows`` plans: step time by part and memory per device."""
    from .hardware import device as get_device

    dev = get_device(settings["device"])
    data = [{"label": o.label, "fits": o.fits, "memory": o.memory.total,
             "parts": {"compute": o.step.compute_seconds,
                       "tensor-parallel comm": o.step.tp_comm_seconds,
                       "data-parallel comm": o.step.dp_comm_seconds,
                       "pipeline bubble": o.step.bubble_seconds}}
            for o in options[:rows]]
    title = (f"{settings['model']} on {settings['n_devices']:,} x {dev.name}: "
             f"{settings['global_batch']:,} sequences of {settings['seq']:,} tokens per step")
    return plots.parallel_plan_chart(
        data, capacity_bytes=dev.memory_bytes,
        capacity_label=f"{dev.name} ({units.format_bytes(dev.memory_bytes)})", title=title)


class ParallelismPlanner(ControlsExplorer):
    """N devices, a model and a batch -> every DP x TP x PP split, with memory per device,
    communication time and the pipeline bubble (`planner.plan_parallelism`)."""

    name = "Parallelism planner"

    def __init__(self, **s):
        from .hardware import devices

        controls = {
            "model": _dropdown("model", memory_explorer_models(), s["model"]),
            "device": _dropdown("device", devices(), s["device"]),
            "n_devices": _dropdown("devices", PLANNER_DEVICE_COUNTS, s["n_devices"]),
            "global_batch": _int_text("global batch", s["global_batch"], 1, 1_000_000),
            "seq": _dropdown("sequence", SEQ_CHOICES, s["seq"]),
            "micro_batch": _dropdown("micro-batch", (1, 2, 4, 8, 16), s["micro_batch"]),
            "zero_stage": _dropdown("ZeRO stage", (0, 1, 2, 3), s["zero_stage"]),
            "recompute": _dropdown("recompute", tuple(RECOMPUTE_CHOICES), s["recompute"]),
            "precision": _dropdown("precision", PRECISIONS, s["precision"]),
        }
        title = ("<b>Parallelism planner</b>: split a training run over N devices as data "
                 "&times; tensor &times; pipeline parallel. Global batch in sequences.")
        super().__init__(controls, title)

    def render(self, settings):
        options = planner_options(settings)
        return planner_summary_html(options, settings), planner_chart(options, settings)


def parallelism_planner(**settings) -> ParallelismPlanner:
    """The chapter 3.6 planner, opening on `PLANNER_DEFAULTS` unless ``settings`` say
    otherwise."""
    _check_settings(settings, PLANNER_DEFAULTS)
    return ParallelismPlanner(**{**PLANNER_DEFAULTS, **settings})


def parallelism_plan_figure(**settings):
    """The planner's static companion at the given settings (defaults: `PLANNER_DEFAULTS`)."""
    _check_settings(settings, PLANNER_DEFAULTS)
    s = {**PLANNER_DEFAULTS, **settings}
    return planner_chart(planner_options(s), s)


# ---------------------------------------------------------------- 1.2 trend explorer

# All domains and the dataset's full span: the explorer opens on the fit the chapter makes.
TREND_DEFAULTS = {"domains": ("language", "vision", "speech", "science", "multimodal",
                              "games"),
                  "years": (2012, 2025), "labels": True}


def trend_report(domains, years) -> dict:
    """The notable models in ``domains`` and the inclusive ``years`` range, their least-squares
    doubling time (`trends.fit_doubling_time`) and its bootstrap interval. Raises ValueError
    when fewer than 3 models in at least two different years are selected."""
    from . import trends

    rows = trends.select(domains=list(domains), years=tuple(years))
    x = [r.year for r in rows]
    y = [r.training_flops for r in rows]
    fit = trends.fit_doubling_time(x, y)
    return {"rows": rows, "fit": fit, "bootstrap": trends.bootstrap_doubling_time(x, y)}


def trend_summary_html(report: dict) -> str:
    fit = report["fit"]
    lo, hi = fit.doubling_ci_months
    b_lo, b_hi = report["bootstrap"]

    def months(v):
        return "unbounded" if v == float("inf") else f"{v:.1f} months"

    span = f"{fit.n} ({fit.first_year}-{fit.last_year})"
    growth = (f"&times;{fit.growth_per_year:.2f} "
              f"({fit.orders_of_magnitude_per_year:.2f} orders of magnitude)")
    rows = [("models with a training-compute figure", span),
            ("<b>doubling time</b>", f"<b>{months(fit.doubling_months)}</b>"),
            (f"{fit.confidence:.0%} interval (t, n - 2 = {fit.n - 2})",
             f"{months(lo)} to {months(hi)}"),
            (f"{fit.confidence:.0%} interval (bootstrap)", f"{months(b_lo)} to {months(b_hi)}"),
            ("growth per year", growth),
            ("scatter about the line (sd)", f"&times;{2 ** fit.residual_sd:.1f}")]
    return _table_html(rows)


class TrendExplorer(ControlsExplorer):
    """Pick domains and a year range of the notable-models dataset; the doubling time of
    their training compute is refitted, with its uncertainty, and the points redrawn."""

    name = "Trend explorer"

    def __init__(self, domains, years, labels: bool):
        from .trends import DOMAINS

        controls = {
            "domains": W.SelectMultiple(options=list(DOMAINS), value=tuple(domains), rows=6,
                                        description="domains",
                                        style={"description_width": "70px"},
                                        layout=W.Layout(width="260px")),
            "years": W.IntRangeSlider(value=tuple(years), min=2012, max=2025, step=1,
                                      description="years", continuous_update=False,
                                      style={"description_width": "70px"},
                                      layout=W.Layout(width="340px")),
            "labels": W.Checkbox(value=labels, description="label the models"),
        }
        title = ("<b>Trend explorer</b>: training compute of notable models "
                 "(bigcompute/data/notable_models.csv) and its fitted doubling time. "
                 "Ctrl/Cmd-click to pick several domains.")
        super().__init__(controls, title)

    def render(self, settings: dict):
        report = trend_report(settings["domains"], settings["years"])
        fig = plots.compute_trend_chart(report["rows"], report["fit"],
                                        label=settings["labels"], width=8.5, height=4.8)
        return trend_summary_html(report), fig


def trend_explorer(**settings) -> TrendExplorer:
    """The chapter 1.2 explorer, opening on `TREND_DEFAULTS` (all domains, 2012-2025) unless
    ``settings`` (domains, years, labels) say otherwise."""
    _check_settings(settings, TREND_DEFAULTS)
    return TrendExplorer(**{**TREND_DEFAULTS, **settings})


def trend_figure(**settings):
    """The explorer's static companion at the given settings (defaults: `TREND_DEFAULTS`)."""
    _check_settings(settings, TREND_DEFAULTS)
    s = {**TREND_DEFAULTS, **settings}
    report = trend_report(s["domains"], s["years"])
    return plots.compute_trend_chart(report["rows"], report["fit"], label=s["labels"])


# ------------------------------------------------- the controls, drawn for the website

_CONTROL_LABEL_STYLE = ("display:inline-block;min-width:7em;margin-right:0.4em;"
                        "text-align:right;white-space:nowrap")
_CONTROL_STYLE = "display:inline-flex;align-items:center;margin:2px 18px 2px 0;gap:0.3em"


def controls_snapshot_html(widget) -> str:
    """An explorer's controls drawn in plain HTML at their current values, for its static
    snapshot: sliders as disabled range inputs with their readout, drop-downs as disabled
    selects showing the chosen option, text boxes as disabled inputs. The website, which has
    no kernel, then shows what the reader could move and where it stands (the rest of the
    snapshot shows the numbers and chart at those values). Empty when there are no controls."""
    items = "".join(_control_html(w) for w in _controls_in(widget))
    if not items:
        return ""
    return (f"<div class='bigcompute-controls' style='display:flex;flex-wrap:wrap;"
            f"margin:0.3em 0 0.5em 0'>{items}</div>")


def _controls_in(widget):
    """The value widgets inside ``widget``, in display order, skipping hidden ones and the
    explorer's outputs (HTML, labels, images)."""
    layout = getattr(widget, "layout", None)
    if layout is not None and layout.display == "none":
        return
    if isinstance(widget, W.Box):
        for child in widget.children:
            yield from _controls_in(child)
    elif isinstance(widget, W.ValueWidget) and not isinstance(
            widget, (W.HTML, W.HTMLMath, W.Label, W.Image)):
        yield widget


def _control_html(w) -> str:
    label = html.escape(w.description or "")
    disabled = " disabled"  # drawn, not live: the website has no kernel to recompute
    if isinstance(w, W.FloatLogSlider):
        position = _log(w.value, w.base)
        body = (f"<input type='range' min='{w.min}' max='{w.max}' step='{w.step}' "
                f"value='{position}'{disabled}>{_readout(w)}")
    elif isinstance(w, (W.IntSlider, W.FloatSlider)):
        body = (f"<input type='range' min='{w.min}' max='{w.max}' step='{w.step}' "
                f"value='{w.value}'{disabled}>{_readout(w)}")
    elif isinstance(w, W.SelectionSlider):
        body = (f"<input type='range' min='0' max='{max(len(w.options) - 1, 0)}' step='1' "
                f"value='{w.index}'{disabled}><span>{html.escape(str(w.label))}</span>")
    elif isinstance(w, W.widget_selection._MultipleSelection):
        chosen = set(w.label)
        options = "".join(f"<option{' selected' if lab in chosen else ''}>"
                          f"{html.escape(str(lab))}</option>" for lab in w._options_labels)
        rows = getattr(w, "rows", None) or min(len(w._options_labels), 5)
        body = f"<select multiple size='{rows}'{disabled}>{options}</select>"
    elif isinstance(w, W.widget_selection._Selection):
        body = (f"<select{disabled}><option selected>{html.escape(str(w.label))}</option>"
                f"</select>")
    elif isinstance(w, W.widget_bool._Bool):
        checked = " checked" if w.value else ""
        body = f"<input type='checkbox'{checked}{disabled}>"
    else:
        body = (f"<input type='text' size='10' value='{html.escape(str(w.value))}'"
                f"{disabled}>")
    # a control the explorer has switched off (it does not apply) is faded, as live
    faded = ";opacity:0.45" if w.disabled else ""
    return (f"<label class='bigcompute-control' style='{_CONTROL_STYLE}{faded}'>"
            f"<span style='{_CONTROL_LABEL_STYLE}'>{label}</span>{body}</label>")


def _log(value: float, base: float) -> float:
    import math

    return math.log(value, base) if value > 0 else 0.0


def _readout(w) -> str:
    try:
        text = format(w.value, w.readout_format)
    except (TypeError, ValueError):
        text = str(w.value)
    return f"<span style='min-width:4em'>{html.escape(text)}</span>"


def snapshot_with_controls(explorer) -> str:
    """The explorer's static snapshot with its controls drawn in it, just below the title
    line (or first, for a snapshot of another shape), wrapped in
    ``div.bigcompute-widget-snapshot`` (the website's browser test looks for it)."""
    snapshot = explorer.snapshot_html()
    controls = controls_snapshot_html(explorer)
    head = "<div class='bigcompute-explorer'>"
    if snapshot.startswith(head) and "</p>" in snapshot:
        cut = snapshot.index("</p>") + len("</p>")
        snapshot = snapshot[:cut] + controls + snapshot[cut:]
    else:
        snapshot = controls + snapshot
    return f"<div class='bigcompute-widget-snapshot'>{snapshot}</div>"
