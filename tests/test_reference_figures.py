"""bigcompute.reference_figures: every cited figure and price is sourced, and a broken file
fails loudly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bigcompute import hardware, reference_figures, workloads

ROOT = Path(__file__).resolve().parents[1]


def _bib_keys() -> set[str]:
    text = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    return set(re.findall(r"^\s*@\w+\s*\{\s*([^,\s]+)\s*,", text, flags=re.MULTILINE))


def test_every_cited_figure_and_workload_source_is_in_the_bibliography():
    keys = _bib_keys()
    cited = {s.cite for s in reference_figures.sources()}
    for key in workloads.workloads():
        w = workloads.workload(key)
        for part in (w.published, w.training):
            if "source" in part:
                cited.add(part["source"]["cite"])
    missing = sorted(cited - keys)
    assert not missing, f"add these keys to book/references.bib: {missing}"


def test_the_stock_of_text_is_300_trillion_tokens_within_its_interval():
    f = reference_figures.figure("human-text-stock-tokens")
    assert f.value == 3e14 and f.interval == (1e14, 1e15)


def test_prices_name_catalogue_devices_and_the_latest_is_chosen():
    for p in reference_figures.prices():
        assert hardware.device(p.device).name == p.device
        assert 0.1 < p.dollars_per_device_hour < 100
    h100 = reference_figures.price("H100")
    assert h100.date == max(p.date for p in reference_figures.prices("h100-sxm"))
    assert reference_figures.price("t4") is None


def test_the_h100_on_demand_price_is_the_instance_price_over_eight():
    p = next(p for p in reference_figures.prices("h100-sxm") if "on demand" in p.offer)
    assert p.dollars_per_device_hour == pytest.approx(98.32 / 8, abs=0.005)


@pytest.mark.parametrize("broken, message", [
    ({"figures": {"x": {"value": 1, "unit": "u", "what": "w"}}}, "missing"),
    ({"figures": {"x": {"value": "1e9", "unit": "u", "what": "w",
                        "source": {"cite": "k", "title": "t", "where": "w",
                                   "url": "https://x"}}}}, "not a number"),
    ({"figures": {"x": {"value": 1, "unit": "u", "what": "w",
                        "source": {"cite": "k", "title": "t", "where": "w",
                                   "url": "http://x"}}}}, "https"),
    ({"figures": {}, "prices": [{"device": "h1000", "dollars_per_device_hour": 1.0,
                                 "offer": "o", "date": 2024,
                                 "source": {"cite": "k", "title": "t", "where": "w",
                                            "url": "https://x"}}]}, "not in hardware.csv"),
])
def test_broken_reference_files_fail_loudly(broken, message):
    with pytest.raises(ValueError, match=message):
        reference_figures.parse(broken)


def test_bad_keys_and_devices_are_named():
    with pytest.raises(ValueError, match="key"):
        reference_figures.figure("")
    with pytest.raises(ValueError, match="device"):
        reference_figures.price(None)
