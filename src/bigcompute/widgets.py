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
    ("memory_gb", "memory (GB)"), ("memory_bandwidth_gbps", "bandwidth (GB/s)"),
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


def _hw_snapshot(title: str, settings: str, result_html: str, chart) -> str:
    """The static HTML of an explorer: title, settings, result and chart image."""
    image = ""
    if chart.layout.display != "none" and chart.value:
        data = base64.b64encode(chart.value).decode("ascii")
        image = (f"<img alt='{html.escape(title)} at {html.escape(settings)}' "
                 f"src='data:image/png;base64,{data}' style='max-width:760px'>")
    return (f"<div class='bigcompute-explorer'><p><b>{html.escape(title)}</b> "
            f"({html.escape(settings)})<br><i>{_SNAPSHOT_NOTE}</i></p>{result_html}{image}</div>")


class HardwareExplorer(Explorer):
    """Pick catalogue devices and a dtype; compare peak FLOP/s, memory, bandwidth, FLOP/s per
    watt and the ridge point. A device without a peak in that dtype shows why instead."""

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
        fig = plots.device_comparison_chart(usable, s["dtype"], width=10)
        self.chart.value = plots.figure_png(fig, dpi=72)
        self.chart.layout.display = None

    def snapshot_html(self) -> str:
        s = self.settings()
        return _hw_snapshot("Hardware explorer", f"{', '.join(s['devices'])}; {s['dtype']}",
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
        fig = plots.roofline_chart(
            {f"{dev.name} {s['dtype']}": (dev.peak_flops(s["dtype"]), dev.bandwidth_bytes_per_s)},
            {"this matmul": [(r.arithmetic_intensity, r.achieved_flops_per_s,
                              f"{s['m']}x{s['n']}x{s['k']}")]},
            width=7, height=4.2)
        self.chart.value = plots.figure_png(fig, dpi=72)
        self.chart.layout.display = None

    def snapshot_html(self) -> str:
        s = self.settings()
        settings = (f"{s['device']}, {s['dtype']}, m = {s['m']:,}, n = {s['n']:,}, "
                    f"k = {s['k']:,}")
        return _hw_snapshot("Roofline explorer", settings, self.result.value, self.chart)


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
