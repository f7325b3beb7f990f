"""The bibliography (book/references.bib) covers every source the catalogues cite.

The data files cite their sources in three ways, and each is matched its own way:

- models.yaml (``paper``) and published_runs.yaml (``citation``) give a URL: the bibliography
  must hold an entry with the same URL, or the same arXiv id (``eprint`` or an arXiv URL), or —
  for papers with no stable URL, such as the GPT-2 report — the same title;
- hardware.csv's ``source`` column quotes datasheet URLs: every one of them must be the ``url``
  of an entry or appear in its ``note`` (a second URL of the same document);
- notable_models.csv quotes authors and years ("Touvron et al. 2023b", "Amodei & Hernandez
  2018"): each must match an entry by its first author's surname and year (the venue's year may
  be a year later than the preprint's, or the arXiv id's year may match); a row that cites a
  document instead (a model card, a technical report, an announcement, Epoch AI's database) is
  claimed by an entry with ``keywords = {notable:<row name>}``.

The file must parse with pybtex (what sphinxcontrib-bibtex uses) and keys must be unique
(BibTeX keys are case-insensitive), as must the papers themselves (one entry per arXiv id/URL).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIB = ROOT / "book" / "references.bib"
DATA = ROOT / "src" / "bigcompute" / "data"

ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})(?:v\d+)?(?:\.pdf)?", re.IGNORECASE)
URL = re.compile(r"https?://[^\s)\"'<>]+")
# "Surname et al. 2023b", "Surname & Other 2014", "Surname 2024"; the name may be hyphenated.
AUTHOR_YEAR = re.compile(
    r"\b([A-Z][A-Za-z\-]+)(?:\s+et al\.|\s*&\s*[A-Z][A-Za-z\-]+)?,?\s+((?:19|20)\d\d)[a-z]?\b")
NOT_AUTHORS = {"January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December", "Team", "Table", "Figure"}
# Phrases by which a notable-models row cites a document rather than an author and a year.
DOCUMENT_PHRASES = re.compile(
    r"model card|technical report|announcement|blog post|Epoch AI|torchvision|Llama Team", re.IGNORECASE)


# ---------------------------------------------------------------- reading the files

def _plain(text: str) -> str:
    """Lowercase ASCII without braces, LaTeX accents or punctuation: for comparing names and
    titles written in BibTeX with those written in the data files."""
    text = re.sub(r"\\[a-zA-Z]+\s*|\\.", "", text)  # \'e -> e, \L -> (dropped)
    text = unicodedata.normalize("NFKD", text.replace("{", "").replace("}", ""))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def normalise_url(url: str) -> str:
    """One spelling per document: arXiv abs/pdf/versions -> 'arxiv:ID'; otherwise https,
    lowercase host, no trailing slash or punctuation."""
    url = url.strip().rstrip(".,;")
    m = ARXIV_URL.search(url)
    if m:
        return f"arxiv:{m.group(1)}"
    url = re.sub(r"^http://", "https://", url)
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    return f"{scheme}://{host.lower()}/{path}".rstrip("/")


@pytest.fixture(scope="module")
def bib():
    from pybtex.database import parse_file

    return parse_file(str(BIB), bib_format="bibtex")


@pytest.fixture(scope="module")
def bib_index(bib):
    """Normalised URL/arXiv id -> keys, plain title -> keys, and each entry's first-author
    surname, years and notable-model claims."""
    by_url, by_title, entries = {}, {}, {}
    for key, entry in bib.entries.items():
        f = entry.fields
        ids = set()
        if f.get("url"):
            ids.add(normalise_url(f["url"]))
        for url in URL.findall(f.get("note", "")) + URL.findall(f.get("howpublished", "")):
            ids.add(normalise_url(url))
        eprint = f.get("eprint", "")
        if re.fullmatch(r"\d{4}\.\d{4,5}", eprint):
            ids.add(f"arxiv:{eprint}")
        for i in ids:
            by_url.setdefault(i, []).append(key)
        by_title.setdefault(_plain(f.get("title", "")), []).append(key)
        people = entry.persons.get("author", [])
        surname = _plain(" ".join(people[0].last_names)) if people else ""
        years = {int(f["year"])} if f.get("year", "").isdigit() else set()
        arxiv_years = {2000 + int(i[6:8]) for i in ids if i.startswith("arxiv:")}
        claims = {k.strip()[len("notable:"):] for k in f.get("keywords", "").split(",")
                  if k.strip().startswith("notable:")}
        entries[key] = {"surname": surname, "years": years, "arxiv_years": arxiv_years,
                        "claims": claims, "ids": ids}
    return {"url": by_url, "title": by_title, "entries": entries}


def _models_papers() -> list[dict]:
    data = yaml.safe_load((DATA / "models.yaml").read_text(encoding="utf-8"))
    return [{"where": f"models.yaml: {name}", **entry["paper"]}
            for name, entry in data["models"].items()]


def _run_citations() -> list[dict]:
    data = yaml.safe_load((DATA / "published_runs.yaml").read_text(encoding="utf-8"))
    return [{"where": f"published_runs.yaml: {run['id']}", "title": run["citation"]["paper"],
             "url": run["citation"]["url"]} for run in data["runs"]]


def _csv_rows(name: str) -> list[dict]:
    with open(DATA / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _resolve_paper(paper: dict, index) -> list[str]:
    keys = index["url"].get(normalise_url(str(paper["url"])), [])
    return keys or index["title"].get(_plain(str(paper["title"])), [])


def _notable_citations(row: dict) -> list[tuple[str, int]]:
    text = " ".join(row[c] for c in ("flops_source", "params_source", "notes"))
    return [(name, int(year)) for name, year in AUTHOR_YEAR.findall(text)
            if name not in NOT_AUTHORS and not name.isupper()]  # not "WMT 2014", a dataset


def _entries_for(surname: str, year: int, index) -> list[str]:
    wanted = _plain(surname)
    return [key for key, e in index["entries"].items()
            if e["surname"] == wanted
            and (e["years"] & {year, year + 1} or year in e["arxiv_years"])]


# ---------------------------------------------------------------- the file itself

def test_references_bib_parses_with_pybtex(bib):
    assert len(bib.entries) >= 80
    for key, entry in bib.entries.items():
        assert entry.fields.get("title"), f"{key} has no title"
        assert entry.fields.get("year", "").isdigit(), f"{key} has no numeric year"
        assert entry.persons.get("author"), f"{key} has no author"


def test_no_duplicate_keys_even_ignoring_case():
    # pybtex would keep one of two identical keys and only warn: read the raw text.
    keys = re.findall(r"^\s*@\w+\s*\{\s*([^,\s]+)\s*,", BIB.read_text(encoding="utf-8"),
                      flags=re.MULTILINE)
    repeated = [k for k, n in Counter(k.lower() for k in keys).items() if n > 1]
    assert not repeated, f"keys defined twice in references.bib: {repeated}"


def test_each_paper_has_one_entry(bib_index):
    """The same arXiv id or URL under two keys means two people cite one paper differently."""
    shared = {i: keys for i, keys in bib_index["url"].items() if len(set(keys)) > 1}
    assert not shared, f"one document, several entries: {shared}"


def test_comment_lines_hold_no_at_sign():
    """BibTeX has no comments: an '@' outside an entry starts a new one (and breaks parsing)."""
    depth, bad = 0, []
    for n, line in enumerate(BIB.read_text(encoding="utf-8").splitlines(), 1):
        if depth == 0 and "@" in line and not re.match(r"\s*@\w+\s*\{", line):
            bad.append(n)
        depth += line.count("{") - line.count("}")
    assert not bad, f"stray '@' outside entries on lines {bad}"


# ---------------------------------------------------------------- coverage of the data files

def test_every_model_catalogue_paper_is_in_the_bibliography(bib_index):
    missing = [f"{p['where']}: {p['title']} <{p['url']}>" for p in _models_papers()
               if not _resolve_paper(p, bib_index)]
    assert not missing, "add these to book/references.bib:\n" + "\n".join(missing)


def test_every_published_run_citation_is_in_the_bibliography(bib_index):
    missing = [f"{c['where']}: {c['title']} <{c['url']}>" for c in _run_citations()
               if not bib_index["url"].get(normalise_url(c["url"]))]
    assert not missing, "add these to book/references.bib:\n" + "\n".join(missing)


def test_every_datasheet_url_in_the_hardware_catalogue_is_in_the_bibliography(bib_index):
    missing = []
    for row in _csv_rows("hardware.csv"):
        urls = URL.findall(row["source"])
        assert urls, f"hardware.csv {row['name']}: the source quotes no URL"
        missing += [f"{row['name']}: {u}" for u in urls
                    if not bib_index["url"].get(normalise_url(u))]
    assert not missing, "add these to book/references.bib (url or note):\n" + "\n".join(missing)


def test_every_author_year_citation_of_the_notable_models_resolves(bib_index):
    missing = []
    for row in _csv_rows("notable_models.csv"):
        for surname, year in _notable_citations(row):
            if not _entries_for(surname, year, bib_index):
                missing.append(f"{row['name']}: {surname} {year}")
    assert not missing, "no entry by these first authors in these years:\n" + "\n".join(missing)


def test_every_notable_model_row_has_a_source_in_the_bibliography(bib_index):
    """A row that names a document (model card, report, database) must be claimed by an entry
    (keywords = {notable:<row>}); every row must resolve to at least one entry."""
    claims = {}
    for key, e in bib_index["entries"].items():
        for name in e["claims"]:
            claims.setdefault(name, []).append(key)
    rows = _csv_rows("notable_models.csv")
    names = {row["name"] for row in rows}
    stale = sorted(set(claims) - names)
    assert not stale, f"entries claim rows that notable_models.csv does not have: {stale}"
    problems = []
    for row in rows:
        text = " ".join(row[c] for c in ("flops_source", "params_source", "notes"))
        cited = [k for s, y in _notable_citations(row) for k in _entries_for(s, y, bib_index)]
        if DOCUMENT_PHRASES.search(text) and row["name"] not in claims:
            problems.append(f"{row['name']}: cites a document; claim it with keywords = "
                            f"{{notable:{row['name']}}} in its entry")
        if not cited and row["name"] not in claims:
            problems.append(f"{row['name']}: no source found in the bibliography")
    assert not problems, "\n".join(problems)


def _cited_sources(node, where=""):
    """Every mapping with a ``cite`` key (a bibliography key) anywhere in a YAML tree."""
    if isinstance(node, dict):
        if isinstance(node.get("cite"), str):
            yield where, node
        for key, value in node.items():
            yield from _cited_sources(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _cited_sources(value, f"{where}[{i}]")


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.yaml")))
def test_every_cite_key_in_the_yaml_data_names_its_own_entry(name, bib, bib_index):
    """Data files that cite by key (reference_figures.yaml, workloads.yaml, ...): the key
    exists, and its entry is the document the source describes (same URL, DOI or title)."""
    data = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
    problems = []
    for where, source in _cited_sources(data):
        key = source["cite"]
        if key not in bib.entries:
            problems.append(f"{name}{where}: no entry {key!r} in references.bib")
            continue
        entry = bib.entries[key]
        same_url = source.get("url") and (
            normalise_url(str(source["url"])) in bib_index["entries"][key]["ids"]
            or _doi(str(source["url"])) == entry.fields.get("doi", "").lower() != "")
        same_title = source.get("title") and (
            _plain(str(source["title"])) == _plain(entry.fields.get("title", "")))
        if not (same_url or same_title):
            problems.append(f"{name}{where}: {key!r} is {entry.fields.get('title')!r}, "
                            f"but the source says {source.get('title')!r} <{source.get('url')}>")
    assert not problems, "\n".join(problems)


def _doi(url: str) -> str:
    """The DOI a publisher URL carries (doi.org/..., nature.com/articles/...), lowercased."""
    m = re.search(r"doi\.org/(10\.\S+)", url)
    if m:
        return m.group(1).lower()
    m = re.search(r"nature\.com/articles/(s?\d[\w.\-]+)", url)
    return f"10.1038/{m.group(1)}".lower() if m else ""


# ---------------------------------------------------------------- the matchers themselves

@pytest.mark.parametrize("a, b", [
    ("https://arxiv.org/abs/2005.14165", "http://arxiv.org/pdf/2005.14165v4.pdf"),
    ("https://www.nvidia.com/en-us/data-center/h100/", "https://www.NVIDIA.com/en-us/data-center/h100"),
])
def test_urls_of_one_document_normalise_alike(a, b):
    assert normalise_url(a) == normalise_url(b)


def test_author_year_citations_are_found_in_free_text():
    row = {"flops_source": "estimate: Amodei & Hernandez 2018 (AI and Compute), the April "
                           "2019 match", "params_source": "Touvron et al. 2023b, Table 1",
           "notes": "Llama Team 2024"}
    assert _notable_citations(row) == [("Amodei", 2018), ("Touvron", 2023)]


# ---------------------------------------------------------------- the further-reading page

FURTHER_READING = ROOT / "book" / "further_reading.md"
READ_PREFIX = "read-"  # the page's {bibliography} has :keyprefix: read-


def _page_cites(text: str) -> list[str]:
    """Keys of every {cite}, {cite:p}, {cite:t}... role on a MyST page (comma-separated)."""
    keys = []
    for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text):
        keys += [k.strip() for k in group.split(",") if k.strip()]
    return keys


def test_further_reading_cites_only_existing_keys_with_its_prefix(bib):
    text = FURTHER_READING.read_text(encoding="utf-8")
    assert f":keyprefix: {READ_PREFIX}" in text
    assert text.count("```{bibliography}") == 1
    cites = _page_cites(text)
    unprefixed = [k for k in cites if not k.startswith(READ_PREFIX)]
    assert not unprefixed, f"cite these as {READ_PREFIX}<key>: {unprefixed}"
    missing = sorted({k[len(READ_PREFIX):] for k in cites} - set(bib.entries))
    assert not missing, f"not in references.bib: {missing}"


def test_further_reading_lists_every_source_the_data_files_cite(bib, bib_index):
    cited = {k[len(READ_PREFIX):] for k in
             _page_cites(FURTHER_READING.read_text(encoding="utf-8"))}
    needed = set()
    for paper in _models_papers() + _run_citations():
        needed.update(_resolve_paper(paper, bib_index)[:1])
    for row in _csv_rows("hardware.csv"):
        for url in URL.findall(row["source"]):
            needed.update(bib_index["url"].get(normalise_url(url), []))
    for row in _csv_rows("notable_models.csv"):
        for surname, year in _notable_citations(row):
            needed.update(_entries_for(surname, year, bib_index))
    needed.update(key for key, e in bib_index["entries"].items() if e["claims"])
    for path in DATA.glob("*.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        needed.update(source["cite"] for _, source in _cited_sources(data))
    missing = sorted(needed - cited)
    assert not missing, ("book/further_reading.md does not mention these catalogue sources: "
                         f"{missing}")
