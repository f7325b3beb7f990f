"""Tables for the book: rows of dicts -> HTML or Markdown, and the catalogues' appendix tables.

Pure Python (the standard library's ``html`` only): no pandas, no notebook machinery. A table
is a list of row dicts and a list of `Column` s saying which key to show, under which header,
formatted how. Empty cells (None or "") show as an em dash, so a missing datasheet figure is
visibly missing rather than zero.

    >>> from bigcompute.tables import Column, markdown_table
    >>> print(markdown_table([{"name": "a", "n": 1234}], [Column("name"), Column("n", "count")]))
    | name | count |
    | :--- | ---: |
    | a | 1,234 |
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

from . import catalog, hardware
from .counts import param_count
from .errors import check_bool, check_choice, check_non_negative_int, fail
from .precision import PEAK_COLUMNS, PEAK_DTYPES
from .units import format_count

__all__ = [
    "EMPTY",
    "Column",
    "format_cell",
    "hardware_catalogue_rows",
    "hardware_catalogue_table",
    "hardware_columns",
    "html_table",
    "key_value_html",
    "text_table",
    "link_urls",
    "markdown_table",
    "model_catalogue_rows",
    "model_catalogue_table",
    "model_columns",
]

EMPTY = "\u2014"  # an em dash for a missing value
FORMATS = ("html", "markdown")  # what the catalogue tables render to
_URL = re.compile(r"https?://[^\s)<>\"']+")
_TRAILING = ".,;:"  # punctuation that ends a sentence, not the URL


@dataclass(frozen=True)
class Column:
    """One column: the row key, its header (default: the key), how to format the value (a
    format spec such as ",.0f", or a function of the value returning text), the alignment
    ("left"/"right"; None: right for numbers, left otherwise), and ``html=True`` when the
    formatted value is already HTML (links), so it is not escaped."""

    key: str
    header: str | None = None
    fmt: str | Callable | None = None
    align: str | None = None
    html: bool = False

    def __post_init__(self):
        check_choice("align", self.align, (None, "left", "right"))
        check_bool("html", self.html)

    @property
    def title(self) -> str:
        return self.header if self.header is not None else self.key


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_cell(value, fmt: str | Callable | None = None) -> str:
    """Text of one cell: EMPTY for None/"", ``fmt(value)`` or ``format(value, fmt)``; integers
    get thousands separators by default, floats 4 significant digits."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return EMPTY
    if callable(fmt):
        return str(fmt(value))
    if fmt is not None:
        return format(value, fmt)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e15 else f"{value:.3e}"
    return str(value)


def _check_table(rows, columns) -> None:
    """Rows are dicts and columns `Column`s, each given as a list."""
    if not isinstance(rows, (list, tuple)) or not all(isinstance(r, dict) for r in rows):
        fail("rows", rows, "a list of dicts, one per row")
    if not isinstance(columns, (list, tuple)) or not columns or not all(
            isinstance(c, Column) for c in columns):
        fail("columns", columns, "a non-empty list of tables.Column")


def _align(column: Column, rows) -> str:
    if column.align:
        return column.align
    values = [r.get(column.key) for r in rows if r.get(column.key) not in (None, "")]
    return "right" if values and all(_is_number(v) for v in values) else "left"


def link_urls(text: str) -> str:
    """HTML-escape ``text`` and turn every http(s) URL in it into a link."""
    if not isinstance(text, str):
        fail("text", text, "a string")
    out, last = [], 0
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(_TRAILING)
        end = m.start() + len(url)
        out.append(html.escape(text[last:m.start()]))
        out.append(f'<a href="{html.escape(url, quote=True)}">{html.escape(url)}</a>')
        last = end
    out.append(html.escape(text[last:]))
    return "".join(out)


def html_table(rows: list[dict], columns: list[Column], *, caption: str | None = None,
               css_class: str = "bigcompute-table", row_style=None) -> str:
    """An HTML <table> of ``rows`` showing ``columns``; text is escaped unless the column says
    its formatted value is HTML. ``row_style(row)`` may add CSS to a row's cells (e.g. a
    colour for the rows that do not fit)."""
    _check_table(rows, columns)
    aligns = [_align(c, rows) for c in columns]
    head = "".join(f'<th style="text-align:{a}">{html.escape(c.title)}</th>'
                   for c, a in zip(columns, aligns))
    body = []
    for row in rows:
        extra = row_style(row) if row_style else ""
        cells = []
        for c, a in zip(columns, aligns):
            text = format_cell(row.get(c.key), c.fmt)
            text = text if c.html else html.escape(text)
            cells.append(f'<td style="text-align:{a};vertical-align:top{extra}">{text}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (f'<table class="{html.escape(css_class)}">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def key_value_html(rows, css_class: str = "bigcompute-summary") -> str:
    """A two-column HTML table of (label, value) pairs, both already HTML: the summary an
    explorer shows beside its chart."""
    if not isinstance(rows, (list, tuple)) or not all(
            isinstance(r, (list, tuple)) and len(r) == 2 for r in rows):
        fail("rows", rows, "a list of (label, value) pairs")
    body = "".join(f"<tr><td style='text-align:left;padding:1px 12px 1px 0'>{label}</td>"
                   f"<td style='text-align:right'>{value}</td></tr>" for label, value in rows)
    return f"<table class='{html.escape(css_class)}'>{body}</table>"


def text_table(rows: list[dict], columns: list[Column], *, gap: int = 2) -> str:
    """A plain-text table with aligned columns (headers, then one line per row), for the
    notebooks' checked printouts: each column as wide as its widest cell, numbers
    right-aligned, ``gap`` spaces between columns."""
    _check_table(rows, columns)
    check_non_negative_int("gap", gap)
    if gap > 20:
        fail("gap", gap, "at most 20 spaces between columns")
    aligns = [_align(c, rows) for c in columns]
    cells = [[c.title for c in columns]]
    cells += [[format_cell(row.get(c.key), c.fmt) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = []
    for line in cells:
        parts = [text.rjust(w) if a == "right" else text.ljust(w)
                 for text, w, a in zip(line, widths, aligns)]
        lines.append((" " * gap).join(parts).rstrip())
    return "\n".join(lines)


def _markdown_text(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def markdown_table(rows: list[dict], columns: list[Column]) -> str:
    """A Markdown (GFM/MyST) pipe table; '|' in cells is escaped, newlines become spaces."""
    _check_table(rows, columns)
    aligns = [_align(c, rows) for c in columns]
    lines = ["| " + " | ".join(_markdown_text(c.title) for c in columns) + " |",
             "| " + " | ".join("---:" if a == "right" else ":---" for a in aligns) + " |"]
    for row in rows:
        lines.append("| " + " | ".join(_markdown_text(format_cell(row.get(c.key), c.fmt))
                                       for c in columns) + " |")
    return "\n".join(lines)


def _render(rows, columns, fmt, caption):
    if fmt == "html":
        return html_table(rows, columns, caption=caption)
    return markdown_table(rows, [Column(c.key, c.header, c.fmt, c.align) for c in columns])


# ---------------------------------------------------------------- appendix A: hardware

# The catalogue's peak columns, from the one dtype registry.
_PEAKS = tuple((dtype, PEAK_COLUMNS[dtype]) for dtype in PEAK_DTYPES)


def _number(text: str):
    text = (text or "").strip()
    if not text:
        return None
    value = float(text)
    return int(value) if value.is_integer() else value


def hardware_catalogue_rows() -> list[dict]:
    """hardware.csv's rows with numbers as numbers, plus what the book derives from them: the
    roofline ridge point at the device's fastest 16-bit dtype (peak FLOP/s / bandwidth) and
    that peak per watt of TDP."""
    out = []
    for raw in hardware.catalogue_rows():
        dev = hardware.device(raw["name"])
        row = {k: (raw[k] if k in ("name", "full_name", "vendor", "kind", "interconnect",
                                   "source") else _number(raw[k]))
               for k in raw}
        row["ridge_dtype"] = dev.sixteen_bit_dtype
        row["ridge_flop_per_byte"] = dev.ridge_point(row["ridge_dtype"])
        row["tflops_per_watt"] = (dev.peak_flops(row["ridge_dtype"]) / 1e12 / dev.tdp_watts
                                  if dev.tdp_watts else None)
        out.append(row)
    return out


def _source_html(text: str) -> str:
    return f"<details><summary>source</summary>{link_urls(text)}</details>"


def _datasheet_html(text: str) -> str:
    """A link to the first URL of a source note, the whole note in its tooltip."""
    url = _URL.search(text)
    note = html.escape(text, quote=True)
    if not url:
        return f"<span title=\"{note}\">note</span>"
    href = html.escape(url.group(0).rstrip(_TRAILING), quote=True)
    return f"<a href='{href}' title=\"{note}\">datasheet</a>"


def hardware_columns(with_source: bool = True, short: bool = False) -> list[Column]:
    """The columns of appendix A: identity, memory, power, interconnect, dense peaks,
    ridge point and efficiency, and the datasheet. ``short`` (chapter 2.2's table) leaves
    out what the book derives (ridge point, efficiency) and links each row to its
    datasheet, the whole source note in the link's tooltip."""
    check_bool("with_source", with_source)
    check_bool("short", short)
    cols = [
        Column("name", "key"), Column("full_name", "device"), Column("kind"),
        Column("year", fmt="d"),
        Column("memory_gib", "memory (GiB)", fmt="g"),
        Column("memory_bandwidth_gbps", "bandwidth (GB/s)", fmt=",.0f"),
        Column("tdp_watts", "TDP (W)", fmt=",.0f"),
        Column("interconnect"),
        Column("interconnect_gbps", "link (GB/s, both ways)", fmt=",.0f"),
    ]
    cols += [Column(col, f"{dtype} ({'TOP/s' if dtype == 'int8' else 'TFLOP/s'})", fmt=",.4g")
             for dtype, col in _PEAKS]
    if not short:
        cols += [
            Column("ridge_flop_per_byte", "ridge point (FLOP/byte)", fmt=",.0f"),
            Column("ridge_dtype", "at dtype"),
            Column("tflops_per_watt", "TFLOP/s per W", fmt=".2f"),
        ]
    if with_source:
        cols.append(Column("source", fmt=_datasheet_html if short else _source_html, html=True))
    return cols


def hardware_catalogue_table(fmt: str = "html", with_source: bool = True,
                             short: bool = False) -> str:
    """Appendix A's table, every device of data/hardware.csv with its datasheet (``short``:
    chapter 2.2's, without the derived columns; see `hardware_columns`)."""
    check_choice("fmt", fmt, FORMATS)
    check_bool("with_source", with_source)
    check_bool("short", short)
    return _render(hardware_catalogue_rows(), hardware_columns(with_source, short), fmt,
                   "Dense peaks (no sparsity); GB = 10^9 bytes as the datasheets print them.")


# ---------------------------------------------------------------- appendix B: models

def model_catalogue_rows() -> list[dict]:
    """catalog.catalogue_rows() plus the parameter count the library computes from each config,
    and its relative difference from the published count."""
    out = []
    for raw in catalog.catalogue_rows():
        row = dict(raw)
        row["computed_params"] = param_count(catalog.model(raw["name"]))
        row["params_difference"] = row["computed_params"] / raw["published_params"] - 1
        if raw["arch"] == "encoder-decoder":
            row["layers"] = f"{raw['n_encoder_layers']} + {raw['n_layers']}"
        else:
            row["layers"] = raw["n_layers"]
        if raw["n_heads"] and raw["n_kv_heads"] != raw["n_heads"]:
            row["heads"] = f"{raw['n_heads']} (kv {raw['n_kv_heads']})"
        else:
            row["heads"] = raw["n_heads"]
        row["experts"] = (f"{raw['n_experts']} (top {raw['top_k']})"
                          if raw["n_experts"] and raw["n_experts"] > 1 else None)
        out.append(row)
    return out


def _count(value) -> str:
    return format_count(value)


def model_columns(with_source: bool = True) -> list[Column]:
    """The columns of appendix B: shape, published and computed parameters, tokens, paper."""
    check_bool("with_source", with_source)
    cols = [
        Column("name", "key"), Column("year", fmt="d"), Column("arch"),
        Column("layers", align="right"), Column("d_model"), Column("heads", align="right"),
        Column("d_ff"), Column("vocab_size", "vocabulary"), Column("max_seq_len", "context"),
        Column("experts", align="right"),
        Column("published_params", "published params", fmt=_count),
        Column("computed_params", "computed params", fmt=","),
        Column("params_difference", "difference", fmt="+.1%"),
        Column("active_params", "active params", fmt=_count),
        Column("training_tokens", "training tokens", fmt=_count),
    ]
    if with_source:
        cols.append(Column("paper_link", "paper", html=True))
        cols.append(Column("table", "where in the paper"))
    return cols


def model_catalogue_table(fmt: str = "html", with_source: bool = True) -> str:
    """Appendix B's table, every model of data/models.yaml with its paper."""
    check_choice("fmt", fmt, FORMATS)
    check_bool("with_source", with_source)
    rows = model_catalogue_rows()
    for row in rows:
        row["paper_link"] = (f'<a href="{html.escape(row["url"], quote=True)}">'
                             f'{html.escape(row["paper"])}</a> ({html.escape(row["authors"])})')
        row["paper_markdown"] = f"[{row['paper']}]({row['url']}) ({row['authors']})"
    columns = model_columns(with_source)
    if fmt == "markdown" and with_source:
        columns = [Column("paper_markdown", "paper") if c.key == "paper_link" else c
                   for c in columns]
    return _render(rows, columns, fmt,
                   "Parameters computed by bigcompute.counts.param_count from each config.")
