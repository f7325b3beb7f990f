"""The website's live explorers (site/live_explorers.py, site/live-explorers.mjs): what the
browser runs is the library's pure half.

- every explorer's snapshot carries its name, settings and controls as data, and
  `bigcompute.live.render` at the snapshot's settings gives the snapshot's numbers, in a
  Python where numpy, matplotlib, ipywidgets and torch cannot be imported;
- the bundle holds what that needs and nothing heavy;
- in Node + pyodide (the runtime the site serves, from site/node_modules), the bundle renders
  every explorer at its defaults and at one changed setting exactly as CPython does (skipped
  when Node or site/node_modules is missing: `make setup` installs it).
"""

from __future__ import annotations

import html
import inspect
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bigcompute import live, web_bundle, widgets
from bigcompute.explorers import SPECS

ROOT = Path(__file__).resolve().parents[1]
PYODIDE = ROOT / "site" / "node_modules" / "pyodide"
SMOKE = ROOT / "tests" / "site" / "node_live_smoke.mjs"
BLOCKED = ("numpy", "matplotlib", "ipywidgets", "torch", "PIL")
EXTRA = {"price_per_device_hour": 2.5, "grid_kg_per_kwh": 0.4}
# the chart recipes svg_charts draws, and the explorers whose charts they are
DRAWN = set(SPECS) - {"trend"}  # the trend's scatter with its fit band stays an image


def _snapshots() -> dict[str, tuple[dict, str, list]]:
    """{explorer: (its data-settings, its result HTML, its controls' data)} from the snapshot
    each factory's explorer writes for the website."""
    out = {}
    for factory in widgets.explorer_factories().values():
        given = {k: v for k, v in EXTRA.items()
                 if k in inspect.signature(factory).parameters}
        page = factory(**given)._repr_mimebundle_()["text/html"]
        kind = re.search(r"data-explorer='([^']+)'", page).group(1)
        settings = json.loads(html.unescape(re.search(r"data-settings='([^']*)'", page).group(1)))
        result = page.split("<div class='bigcompute-result'>", 1)[1]
        result = result[:result.rindex("</div>", 0, result.find("<img") if "<img" in result
                                      else len(result))]
        controls = [{k: html.unescape(v) for k, v in re.findall(r"data-(\w+)='([^']*)'",
                                                                       tag)}
                    for tag in re.findall(r"<label class='bigcompute-control'[^>]*>", page)]
        out[kind] = (settings, result, controls)
    return out


@pytest.fixture(scope="module")
def snapshots():
    return _snapshots()


def test_every_explorer_snapshot_carries_its_name_settings_and_controls(snapshots):
    assert set(snapshots) == set(SPECS)
    for kind, (settings, _, controls) in snapshots.items():
        spec = SPECS[kind]()
        assert set(settings) == set(spec.controls()) - set(spec.derived), kind
        declared = spec.controls()
        assert {c["key"] for c in controls} == set(declared), kind
        for control in controls:
            assert control["kind"] == declared[control["key"]].kind
            if declared[control["key"]].options:
                assert json.loads(control["options"]) == json.loads(
                    json.dumps(list(declared[control["key"]].options)))


def _run_blocked(code: str) -> dict:
    script = f"""
import importlib.abc, json, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ImportError(name + " is blocked in this test")
sys.meta_path.insert(0, Block())
{code}
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_render_at_the_snapshot_settings_gives_the_snapshot_numbers_without_numpy(snapshots):
    cases = {kind: settings for kind, (settings, _, _) in snapshots.items()}
    result = _run_blocked(f"""
from bigcompute import live
cases = json.loads({json.dumps(json.dumps(cases))})
out = {{kind: json.loads(live.update(kind, json.dumps(s))) for kind, s in cases.items()}}
out["__loaded__"] = sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r})
print(json.dumps(out))
""")
    assert result.pop("__loaded__") == []
    for kind, (_, snapshot_html, _) in snapshots.items():
        rendered = result[kind]
        assert not rendered.get("error"), (kind, rendered["html"])
        assert rendered["html"] == snapshot_html, kind
        assert (rendered["svg"] is not None) == (kind in DRAWN), kind
        if rendered["svg"]:
            assert rendered["svg"].startswith("<svg") and rendered["svg"].endswith("</svg>")


def test_a_derived_control_sets_the_settings_it_stands_for():
    spec = live.spec("roofline")
    preset = next(iter(spec.presets))
    out = live.render("roofline", spec.settings(), {"preset": preset})
    assert [out["settings"][k] for k in "mnk"] == list(spec.presets[preset])
    assert out["derived"] == {"preset": preset}


def test_an_invalid_setting_shows_the_message_not_a_traceback():
    out = live.render("parameter", {"d_model": 770, "n_heads": 12})
    assert out["error"] and "bigcompute-error" in out["html"] and out["svg"] is None


def test_the_bundle_holds_the_pure_library_its_data_and_pure_yaml(tmp_path):
    size = web_bundle.write_bundle(tmp_path / "b.zip")
    names = zipfile.ZipFile(tmp_path / "b.zip").namelist()
    assert size < 600_000
    assert "bigcompute/live.py" in names and "bigcompute/svg_charts.py" in names
    assert "bigcompute/data/models.yaml" in names and "yaml/__init__.py" in names
    assert not [n for n in names if n.split("/")[1] in ("lab", "plots", "widgets")
                or n.endswith((".so", ".pyc"))]
    again = tmp_path / "c.zip"
    web_bundle.write_bundle(again)
    assert again.read_bytes() == (tmp_path / "b.zip").read_bytes()  # reproducible


def _changed(spec, settings: dict) -> dict:
    """One setting moved: the first control of the explorer that is not derived."""
    name, control = next((n, c) for n, c in spec.controls().items() if n not in spec.derived)
    value = settings[name]
    if control.kind == "dropdown":
        options = list(control.options)
        new = options[1] if value == options[0] else options[0]
    elif control.kind == "multi":
        new = list(control.options[:1])
    elif control.kind == "range":
        new = [control.lo + 1, control.hi]
    elif control.kind == "checkbox":
        new = not value
    elif control.kind == "log":
        new = value * 10 if value * 10 <= 10 ** control.hi else value / 10
    elif control.kind == "fraction":
        new = 0.5
    else:
        new = value * 2 if control.hi is None or value * 2 <= control.hi else value // 2
    return {**settings, name: new}


def test_node_and_pyodide_render_every_explorer_as_cpython_does(tmp_path):
    node = shutil.which("node")
    if node is None or not (PYODIDE / "pyodide.mjs").is_file():
        pytest.skip("needs Node.js and site/node_modules/pyodide (make setup, or `npm ci` in "
                    "site/)")
    cases = []
    for kind, spec_class in SPECS.items():
        spec = spec_class()
        settings = json.loads(json.dumps(
            spec.settings(**{k: v for k, v in EXTRA.items() if k in spec.extra})))
        cases += [{"kind": kind, "settings": settings},
                  {"kind": kind, "settings": _changed(spec, settings)}]
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    web_bundle.write_bundle(tmp_path / "bundle.zip")
    run = subprocess.run([node, str(SMOKE), str(PYODIDE), str(tmp_path / "bundle.zip"),
                          str(tmp_path / "cases.json")], capture_output=True, text=True,
                         timeout=240, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["version"].startswith("3.14")
    for case, got in zip(cases, out["results"]):
        expected = json.loads(live.update(case["kind"], json.dumps(case["settings"])))
        assert json.loads(got) == expected, case
    # the changed setting changed what the page shows
    for default, changed in zip(out["results"][::2], out["results"][1::2]):
        a, b = json.loads(default), json.loads(changed)
        assert (a["html"], a["settings_text"]) != (b["html"], b["settings_text"])
