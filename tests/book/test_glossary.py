"""Appendix D, the glossary: at least 80 terms, each in English and Chinese, none twice, each
saying where the book defines it (and every link it gives leads to a file that exists)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GLOSSARY = ROOT / "book" / "appendix_d_glossary.md"
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def glossary_entries(text: str) -> list[dict]:
    """The entries of the page's {glossary} directive: each has its term lines (flush left)
    and its definition (indented lines), as Sphinx's glossary reads them."""
    block = re.search(r"^```\{glossary\}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    assert block, "no {glossary} directive"
    entries, current = [], None
    for line in block.group(1).splitlines():
        if not line.strip() or line.startswith(":"):  # blank line or a directive option
            if current and current["definition"]:
                current = None
            continue
        if line[0].isspace():
            assert current, f"definition without a term: {line!r}"
            current["definition"] += line.strip() + " "
        else:
            if current is None or current["definition"]:
                current = {"terms": [], "definition": ""}
                entries.append(current)
            current["terms"].append(line.strip())
    return entries


@pytest.fixture(scope="module")
def entries():
    return glossary_entries(GLOSSARY.read_text(encoding="utf-8"))


def test_glossary_has_at_least_80_entries(entries):
    assert len(entries) >= 80


def test_each_entry_names_the_term_in_english_and_in_chinese(entries):
    for e in entries:
        assert any(LATIN.search(t) for t in e["terms"]), f"no English term: {e['terms']}"
        assert any(CJK.search(t) for t in e["terms"]), f"no Chinese term: {e['terms']}"
        assert e["definition"].strip(), f"no definition: {e['terms']}"


def test_no_term_appears_twice(entries):
    seen = {}
    for e in entries:
        for term in e["terms"]:
            key = term.casefold()
            assert key not in seen, f"{term!r} is defined twice ({seen[key]} and {e['terms']})"
            seen[key] = e["terms"]


def test_every_entry_says_where_the_book_defines_it(entries):
    for e in entries:
        d = e["definition"]
        assert "See " in d and (LINK.search(d) or re.search(r"chapter \d|section \d|appendix [A-E]", d)), (
            f"{e['terms'][0]}: no pointer to where the book defines it")


def test_every_link_leads_to_a_file_that_exists(entries):
    for e in entries:
        for target in LINK.findall(e["definition"]):
            path = (GLOSSARY.parent / target.split("#")[0]).resolve()
            assert path.exists(), f"{e['terms'][0]}: link to a missing file {target}"


def test_parser_reads_a_two_language_entry():
    text = "```{glossary}\n:sorted:\n\nKV cache\n键值缓存\n  Keys and values. See x.\n```\n"
    assert glossary_entries(text) == [{"terms": ["KV cache", "键值缓存"],
                                       "definition": "Keys and values. See x. "}]
