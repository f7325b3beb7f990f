"""Chapter 1's dataset: notable models 2012-2025 with their training compute and its source."""

import csv
from importlib import resources

import numpy as np
import pytest

COLUMNS = ["name", "year", "domain", "organization", "params", "training_tokens",
           "training_flops", "flops_source", "params_source", "notes"]
DOMAINS = {"language", "vision", "speech", "science", "multimodal", "games"}
# Every flops_source says what kind of figure it is before the colon.
SOURCE_KINDS = ("published:", "6ND:", "estimate:", "estimate (rough):", "Epoch AI estimate:",
                "not disclosed:")


def _number(text):
    return float(text) if text.strip() else None


@pytest.fixture(scope="module")
def rows():
    path = resources.files("bigcompute").joinpath("data/notable_models.csv")
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == COLUMNS
        raw = list(reader)
    for row in raw:
        assert None not in row, f"{row['name']}: more fields than columns (unquoted comma?)"
        row["year"] = int(row["year"])
        for key in ("params", "training_tokens", "training_flops"):
            row[key] = _number(row[key])
    return raw


def test_at_least_30_notable_models(rows):
    assert len(rows) >= 30
    assert len({r["name"] for r in rows}) == len(rows)


def test_every_year_from_2012_to_2025_is_covered(rows):
    assert {r["year"] for r in rows} == set(range(2012, 2026))


def test_domains_come_from_the_fixed_list_and_all_appear(rows):
    assert {r["domain"] for r in rows} == DOMAINS


def test_every_row_says_where_its_compute_figure_comes_from(rows):
    for r in rows:
        assert r["flops_source"].startswith(SOURCE_KINDS), r["name"]
        assert r["params_source"], r["name"]
        undisclosed = r["flops_source"].startswith("not disclosed:")
        assert (r["training_flops"] is None) == undisclosed, r["name"]


def test_numbers_are_positive_and_plausible(rows):
    for r in rows:
        for key, low, high in [("params", 1e6, 1e13), ("training_tokens", 1e9, 1e14),
                               ("training_flops", 1e16, 1e27)]:
            if r[key] is not None:
                assert low < r[key] < high, (r["name"], key)


def test_the_published_anchor_figures(rows):
    by_name = {r["name"]: r for r in rows}
    assert by_name["GPT-3 175B"]["training_flops"] == 3.14e23
    assert by_name["Chinchilla"]["training_flops"] == 5.76e23
    assert by_name["PaLM"]["training_flops"] == 2.53e24
    assert by_name["Llama 3.1 405B"]["training_flops"] == 3.8e25


def test_deepseek_v3_compute_is_6nd_with_active_parameters(rows):
    r = next(r for r in rows if r["name"] == "DeepSeek-V3")
    assert r["training_flops"] == pytest.approx(6 * 37e9 * 14.8e12, rel=0.02)
    assert "2.788M H800" in r["notes"]


def test_6nd_rows_agree_with_6_n_d(rows):
    """Rows labelled 6ND use the active parameters for mixtures of experts, else params."""
    for r in rows:
        if r["flops_source"].startswith("6ND:") and "active per token" not in r["flops_source"]:
            assert r["training_flops"] == pytest.approx(
                6 * r["params"] * r["training_tokens"], rel=0.05), r["name"]


def test_published_compute_is_within_a_factor_2_of_6nd(rows):
    """Where a paper publishes its compute and its N and D, 6ND reproduces it within 2x."""
    checked = 0
    for r in rows:
        if (r["flops_source"].startswith("published:")
                and r["params"] and r["training_tokens"]):
            ratio = r["training_flops"] / (6 * r["params"] * r["training_tokens"])
            assert 0.5 <= ratio <= 2, (r["name"], ratio)
            checked += 1
    assert checked >= 4


def test_training_compute_grows_over_the_period(rows):
    """A log-linear fit of compute against year rises (chapter 1's trend line)."""
    years = np.array([r["year"] for r in rows if r["training_flops"]], dtype=float)
    log_flops = np.log10([r["training_flops"] for r in rows if r["training_flops"]])
    slope, _ = np.polyfit(years, log_flops, 1)
    assert slope > 0
    # Sevilla et al. 2022 find about 0.5-0.7 orders of magnitude per year since 2010.
    assert 0.3 < slope < 1.0
