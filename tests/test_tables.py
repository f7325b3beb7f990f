"""bigcompute.tables: rows -> HTML/Markdown, and the appendix tables of the two catalogues."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

import bigcompute as bc
from bigcompute import hardware, tables
from bigcompute.tables import EMPTY, Column, html_table, link_urls, markdown_table


class _Balance(HTMLParser):
    """Counts open tags, so a test can check that every element is closed."""

    VOID = frozenset({"br", "img", "hr", "meta", "input"})

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.links, self.cells = [], [], [], 0

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs)["href"])
        if tag == "td":
            self.cells += 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def _parse(text):
    p = _Balance()
    p.feed(text)
    p.close()
    return p


def test_text_is_escaped_but_html_columns_are_not():
    rows = [{"a": "<b>x</b> & y", "b": "<i>ok</i>"}]
    out = html_table(rows, [Column("a"), Column("b", html=True)])
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in out
    assert "<i>ok</i>" in out
    assert not _parse(out).errors


def test_missing_values_show_a_dash_not_zero():
    rows = [{"x": None, "y": "", "z": 0}]
    md = markdown_table(rows, [Column("x"), Column("y"), Column("z")])
    assert md.splitlines()[-1] == f"| {EMPTY} | {EMPTY} | 0 |"


def test_numbers_align_right_text_left_and_integers_get_separators():
    rows = [{"name": "gpt3-175b", "params": 174_604_259_328}]
    md = markdown_table(rows, [Column("name"), Column("params")])
    assert md.splitlines()[1] == "| :--- | ---: |"
    assert "174,604,259,328" in md


def test_markdown_escapes_pipes_and_joins_lines():
    md = markdown_table([{"t": "a|b\nc"}], [Column("t", "text")])
    assert md.splitlines()[-1] == "| a\\|b c |"


def test_format_spec_and_callable_formats():
    row = [{"f": 0.0375, "g": 3}]
    md = markdown_table(row, [Column("f", fmt="+.1%"), Column("g", fmt=lambda v: f"{v} x")])
    assert md.splitlines()[-1] == "| +3.8% | 3 x |"


def test_link_urls_leaves_the_full_stop_out_of_the_link():
    out = link_urls("see https://example.org/a_b.pdf. And <this> & that")
    assert '<a href="https://example.org/a_b.pdf">' in out
    assert "</a>. And &lt;this&gt; &amp; that" in out


def test_bad_alignment_is_refused():
    with pytest.raises(ValueError, match="align"):
        markdown_table([{"a": 1}], [Column("a", align="centre")])


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="fmt"):
        tables.model_catalogue_table("latex")


# ---------------------------------------------------------------- the appendix tables

def test_hardware_table_has_every_device_once_and_links_every_datasheet():
    out = tables.hardware_catalogue_table()
    parsed = _parse(out)
    assert not parsed.errors and not parsed.stack
    rows = tables.hardware_catalogue_rows()
    assert [r["name"] for r in rows] == bc.devices()
    assert parsed.cells == len(rows) * len(tables.hardware_columns())
    for row in rows:
        for url in tables._URL.findall(row["source"]):
            assert url.rstrip(".,;:") in parsed.links


def test_h100_ridge_point_from_its_datasheet():
    # H100 SXM datasheet: 989.4 TFLOP/s dense bf16, 3.35 TB/s HBM3 -> about 295 FLOP per byte.
    h100 = next(r for r in tables.hardware_catalogue_rows() if r["name"] == "h100-sxm")
    assert h100["ridge_dtype"] == "bf16"
    assert h100["ridge_flop_per_byte"] == pytest.approx(989.4e12 / 3.35e12)
    assert h100["tflops_per_watt"] == pytest.approx(989.4 / 700)


def test_v100_ridge_point_uses_fp16_since_volta_has_no_bf16():
    v100 = next(r for r in tables.hardware_catalogue_rows() if r["name"] == "v100")
    assert v100["ridge_dtype"] == "fp16"
    assert v100["ridge_flop_per_byte"] == pytest.approx(125e12 / 900e9)


def test_model_table_links_every_paper_and_balances():
    out = tables.model_catalogue_table()
    parsed = _parse(out)
    assert not parsed.errors and not parsed.stack
    rows = tables.model_catalogue_rows()
    assert [r["name"] for r in rows] == bc.models()
    assert {r["url"] for r in rows} <= set(parsed.links)


def test_gpt2_small_computed_count_equals_the_released_checkpoints_124_439_808():
    row = next(r for r in tables.model_catalogue_rows() if r["name"] == "gpt2-small")
    assert row["computed_params"] == 124_439_808
    assert row["params_difference"] == 0


def test_gpt3_175b_computed_count_is_within_a_quarter_percent_of_175b():
    row = next(r for r in tables.model_catalogue_rows() if r["name"] == "gpt3-175b")
    assert abs(row["params_difference"]) < 0.0025


def test_markdown_model_table_has_one_line_per_model_and_equal_cell_counts():
    md = tables.model_catalogue_table("markdown")
    lines = md.splitlines()
    assert len(lines) == 2 + len(bc.models())
    counts = {line.replace("\\|", "").count("|") for line in lines}
    assert len(counts) == 1


def test_encoder_decoder_layers_are_shown_as_encoder_plus_decoder():
    row = next(r for r in tables.model_catalogue_rows() if r["name"] == "t5-11b")
    assert row["layers"] == "24 + 24"
    mixtral = next(r for r in tables.model_catalogue_rows() if r["name"] == "mixtral-8x7b")
    assert mixtral["experts"] == "8 (top 2)" and mixtral["heads"] == "32 (kv 8)"


def test_catalogue_table_has_every_device_and_a_link_to_its_source():
    html = tables.hardware_catalogue_table(short=True)
    for name in hardware.devices():
        assert f">{name}<" in html
    assert html.count("href='https://") == len(hardware.devices())


def test_table_arguments_are_checked():
    with pytest.raises(ValueError, match="text=None"):
        link_urls(None)
    with pytest.raises(ValueError, match="short='yes'"):
        tables.hardware_columns(short="yes")
    with pytest.raises(ValueError, match="with_source=1"):
        tables.model_catalogue_table("html", with_source=1)
