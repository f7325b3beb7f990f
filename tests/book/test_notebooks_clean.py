"""Notebooks are committed clean: no outputs, no execution counts, no widget state.

The build and the tests execute them afresh; outputs in git bring merge conflicts and stale
results. (The numbers a checked cell must print live in its metadata["expected_output"], see
notebooks/conftest.py.)"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, (
        f"{path.relative_to(ROOT)}: cells {dirty} carry outputs or execution counts. Clear "
        f"them (JupyterLab: Edit > Clear Outputs of All Cells, or `jupyter nbconvert "
        f"--clear-output --inplace {path.relative_to(ROOT)}`) and commit again.")
    assert "widgets" not in nb.metadata, (
        f"{path.relative_to(ROOT)}: notebook metadata carries saved widget state; clear it "
        f"(JupyterLab: Settings > Save Widget State Automatically, off).")
