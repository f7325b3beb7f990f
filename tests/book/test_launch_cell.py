"""Notebooks opened from the website's Colab button install the library themselves.

tools/add_colab_cell.py puts a hidden first cell into every notebook that runs
`%pip install "bigcompute[widgets] @ git+<repository url>@<branch>"` when `import bigcompute`
fails. The url is _config.yml's `repository.url`, the one setting the launch buttons use too.

The cell is added to all notebooks at once; so notebooks either all carry it, current and
first, or none does yet (then this only checks the script)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import add_colab_cell as tool

NOTEBOOKS = tool.notebooks()


def test_the_cell_installs_from_the_configured_repository_only_when_missing():
    repository = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    source = tool.install_source()
    assert f"git+{repository['url']}@{repository['branch']}" in source
    python = TransformerManager().transform_cell(source)  # what IPython runs
    compile(python, "<install cell>", "exec")
    assert "import bigcompute" in python and "run_line_magic('pip', 'install" in python
    assert python.index("except ImportError:") < python.index("run_line_magic")


def test_the_script_adds_one_hidden_cell_first_and_is_idempotent(tmp_path):
    copy = tmp_path / "nb.ipynb"
    shutil.copy(NOTEBOOKS[0], copy)
    before = nbformat.read(copy, as_version=4)
    before.cells = [c for c in before.cells if not tool.is_install_cell(c)]
    nbformat.write(before, copy)
    assert tool.main(["--check", str(copy)]) == 1
    assert tool.main([str(copy)]) == 0
    once = copy.read_text()
    tool.main([str(copy)])
    assert copy.read_text() == once
    after = nbformat.read(copy, as_version=4)
    nbformat.validate(after)
    assert tool.is_current(after, tool.install_source())
    assert "remove-cell" in after.cells[0].metadata["tags"]
    assert not after.cells[0].outputs and after.cells[0].execution_count is None
    assert [c.source for c in after.cells[1:]] == [c.source for c in before.cells]
    assert tool.main(["--check", str(copy)]) == 0


def test_notebooks_carry_the_current_cell_all_or_none():
    source = tool.install_source()
    having = [p for p in NOTEBOOKS if any(tool.is_install_cell(c)
                                          for c in nbformat.read(p, as_version=4).cells)]
    if not having:
        pytest.skip("no notebook has the install cell yet (python tools/add_colab_cell.py)")
    stale = [str(p.relative_to(ROOT)) for p in NOTEBOOKS
             if not tool.is_current(nbformat.read(p, as_version=4), source)]
    assert not stale, ("these notebooks lack the current install cell; run "
                       "`python tools/add_colab_cell.py`:\n" + "\n".join(stale))


def test_binder_installs_the_project_pins_with_the_cpu_build_of_torch():
    """binder/requirements.txt = requirements.txt + PyTorch's CPU index; pip then prefers
    2.13.0+cpu, which satisfies the project's exact torch pin and sorts above PyPI's 2.13.0."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    lines = [ln.split("#")[0].strip() for ln in
             (ROOT / "binder" / "requirements.txt").read_text().splitlines()]
    lines = [ln for ln in lines if ln]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    included = [ln.split(None, 1)[1] for ln in lines if ln.startswith("-r ")]
    assert [(ROOT / "binder" / p).resolve() for p in included] == [ROOT / "requirements.txt"]
    pins = [Requirement(ln) for ln in (ROOT / "requirements.txt").read_text().splitlines()
            if ln.startswith("torch")]
    assert [p.name for p in pins] == ["torch"]
    (version,) = [s.version for s in pins[0].specifier]
    cpu_build = Version(f"{version}+cpu")
    assert pins[0].specifier.contains(cpu_build) and cpu_build > Version(version)
