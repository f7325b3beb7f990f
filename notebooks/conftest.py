"""nbval on clean notebooks: the expected output of a checked cell lives in its metadata.

Notebooks are committed without outputs (tests/book/test_notebooks_clean.py). nbval, though,
compares a cell marked ``# NBVAL_CHECK_OUTPUT`` with the outputs stored in the notebook, and
silently skips the comparison for a cell that was never run, so on a clean notebook nothing
would be checked. This plugin closes that gap: a checked cell keeps the text it must print in
``metadata["expected_output"]`` (a list of lines, like a cell's source), and nbval compares the
fresh output against it. A checked cell without an expected output fails.

After changing a checked cell on purpose, record its output again and review the diff (it
shows exactly which taught numbers changed):

    python -m pytest --nbval-lax --nbval-current-env notebooks --record-expected-output
    git diff notebooks/

Checked cells must print() what they teach: only their stdout is compared.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest

KEY = "expected_output"
MARKER = "NBVAL_CHECK_OUTPUT"
RECORD = "--record-expected-output"

_recorded: dict[Path, dict[int, list[str]]] = {}


def pytest_addoption(parser):
    parser.getgroup("nbval").addoption(
        RECORD, action="store_true",
        help=f"run the notebooks and store each '# {MARKER}' cell's stdout as its expected output")


def _is_checked(cell) -> bool:
    lines = cell.source.lstrip().splitlines()
    return bool(lines) and lines[0].strip() == f"# {MARKER}"


def _stream(lines: list[str]) -> list[dict]:
    return [nbformat.NotebookNode(output_type="stream", name="stdout", text="".join(lines))]


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    record = config.getoption(RECORD)
    for item in items:
        if type(item).__name__ != "IPyNbCell" or not _is_checked(item.cell):
            continue
        index = next(i for i, c in enumerate(item.parent.nb.cells) if c is item.cell)
        expected = item.cell.metadata.get(KEY)
        reference = copy.deepcopy(item.cell)
        if record or expected is not None:
            reference.execution_count = 1  # nbval only compares cells that have been run
            reference.outputs = [] if record else _stream(expected)
        item.cell = reference
        if record:
            item.compare_outputs = _recorder(item, Path(str(item.fspath)), index)
        elif expected is None:
            item.runtest = _fail_after(item.runtest, (
                f"cell {item.cell_num} is marked '# {MARKER}' but has no "
                f"metadata['{KEY}']; record it with: python -m pytest --nbval-lax "
                f"--nbval-current-env {item.fspath} {RECORD}"))


def _recorder(item, path: Path, index: int):
    def compare_outputs(test, ref, skip_compare=None):
        others = [o for o in test if not (o.output_type == "stream" and o.name == "stdout")]
        if others:
            item.comparison_traceback = [
                f"a '# {MARKER}' cell may only print to stdout; it also produced "
                f"{sorted({o.output_type for o in others})}"]
            return False
        text = "".join(o.text for o in test)
        _recorded.setdefault(path, {})[index] = _lines(text)
        return True

    return compare_outputs


def _fail_after(runtest, message: str):
    def run():
        runtest()  # run the cell anyway: later cells depend on its state
        pytest.fail(message, pytrace=False)

    return run


def pytest_sessionfinish(session, exitstatus):
    for path, cells in _recorded.items():
        nb = nbformat.read(path, as_version=4)
        for index, lines in cells.items():
            nb.cells[index].metadata[KEY] = lines
        nbformat.write(nb, path)
        print(f"\nrecorded {len(cells)} expected outputs in {path}")
    _recorded.clear()
