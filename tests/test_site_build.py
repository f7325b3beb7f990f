"""The website builds with warnings as errors, and every page in the table of contents is
there with its notebooks executed. Select with `pytest -m site`, skip with -m "not site"."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

# the build itself times out after 900 s (tests/conftest.py); this bounds the whole test
pytestmark = [pytest.mark.site, pytest.mark.timeout(1000)]


def toc_files(entry=None) -> list[str]:
    """Every file named in _toc.yml, root first."""
    if entry is None:
        entry = yaml.safe_load((ROOT / "_toc.yml").read_text())
        return [entry["root"]] + toc_files({k: v for k, v in entry.items() if k != "root"})
    files = [entry["file"]] if "file" in entry else []
    for key in ("parts", "chapters", "sections"):
        for child in entry.get(key, []):
            files += toc_files(child)
    return files


def _source(name: str) -> Path:
    matches = [p for p in (ROOT / name).parent.glob(Path(name).name + ".*")
               if p.suffix in (".md", ".ipynb")]
    assert matches, f"{name} is in _toc.yml but has no .md or .ipynb file"
    return matches[0]


def test_site_builds_with_warnings_as_errors(built_site):
    if built_site.returncode != 0:
        tail = "\n".join(built_site.log.splitlines()[-80:])
        pytest.fail(f"jupyter-book build -W -n failed (exit {built_site.returncode}).\n"
                    f"{built_site.reports()}\n--- last lines of the build log\n{tail}",
                    pytrace=False)
    assert (built_site.html / "index.html").exists()


@pytest.mark.parametrize("name", toc_files())
def test_every_toc_page_is_built(built_site, name):
    page = built_site.html / f"{name}.html"
    assert page.exists(), f"{name} is in _toc.yml but {page.name} was not built"
    if _source(name).suffix == ".ipynb":
        html = page.read_text()
        assert "cell_output" in html, f"{name}: the notebook was not executed (no outputs)"
        assert "Traceback" not in html, f"{name}: a cell raised during the build"


def _browser_tests() -> dict:
    """The browser test's names (tests/site/test_site_browser.py). Under pytest-xdist with
    --dist loadfile a file's tests share one worker; collecting the browser test here puts it
    on the worker that builds the site, instead of another worker waiting for the build."""
    import importlib.util

    path = ROOT / "tests" / "site" / "test_site_browser.py"
    spec = importlib.util.spec_from_file_location("site_browser", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {k: v for k, v in vars(module).items()
            if not k.startswith("__") and k not in ("pytestmark", "ROOT", "annotations")}


if os.environ.get("PYTEST_XDIST_WORKER"):
    pytestmark = [pytest.mark.site, pytest.mark.timeout(1800)]
    globals().update(_browser_tests())
