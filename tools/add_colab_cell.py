"""Give every notebook a first cell that installs the bigcompute library when it is missing.

A notebook opened from the website's Colab button runs in a kernel without the library (Binder
installs requirements.txt, so there the cell does nothing; so it does in JupyterLab with
`make lab`). The cell is tagged `remove-cell`, so the website does not show it. The address
it installs from is the repository url in _config.yml: after changing that url, run this
script again.

    python tools/add_colab_cell.py           # add the cell, or bring it up to date, everywhere
    python tools/add_colab_cell.py --check   # list notebooks without the current cell; exit 1
    python tools/add_colab_cell.py NB.ipynb  # only these notebooks

tests/book/test_launch_cell.py checks the cell; a notebook added later gets it by running this
script again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
MARKER = "# Install the bigcompute library when this kernel lacks it (Colab). Hidden on the website."
TAGS = ["remove-cell"]
# in a coursework notebook (its cells carry nbgrader metadata) the cell is a locked, ungraded one
NBGRADER = {"grade": False, "grade_id": "install_bigcompute", "locked": True,
            "schema_version": 3, "solution": False}


def install_source(config_path: Path = ROOT / "_config.yml") -> str:
    """The cell's code, for the repository url and branch in _config.yml."""
    repository = yaml.safe_load(config_path.read_text())["repository"]
    url, branch = repository["url"].rstrip("/"), repository.get("branch", "main")
    return (f"{MARKER}\n"
            "try:\n"
            "    import bigcompute  # noqa: F401\n"
            "except ImportError:\n"
            f'    %pip install --quiet "bigcompute[widgets] @ git+{url}@{branch}"')


def is_install_cell(cell) -> bool:
    return cell.cell_type == "code" and cell.source.startswith(MARKER)


def is_coursework(nb) -> bool:
    return any("nbgrader" in c.metadata for c in nb.cells if not is_install_cell(c))


def is_current(nb, source: str) -> bool:
    """The notebook's first cell is the install cell, as `source` says, and hidden (and, in
    coursework, locked)."""
    if not nb.cells or not is_install_cell(nb.cells[0]):
        return False
    first = nb.cells[0]
    return (first.source == source and set(TAGS) <= set(first.metadata.get("tags", []))
            and first.metadata.get("nbgrader") == (NBGRADER if is_coursework(nb) else None)
            and sum(is_install_cell(c) for c in nb.cells) == 1)


def with_install_cell(nb, source: str):
    """The notebook with exactly one install cell, first, up to date. Other cells unchanged."""
    metadata = {"tags": list(TAGS)}
    if is_coursework(nb):
        metadata["nbgrader"] = dict(NBGRADER)
    nb.cells = [c for c in nb.cells if not is_install_cell(c)]
    cell = nbformat.v4.new_code_cell(source, metadata=metadata)
    if (nb.nbformat, nb.nbformat_minor) < (4, 5):
        del cell["id"]  # cell ids came with nbformat 4.5
    nb.cells.insert(0, cell)
    return nb


def notebooks() -> list[Path]:
    return sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: all)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a notebook lacks the current cell")
    args = parser.parse_args(argv)
    source = install_source()
    stale = []
    for path in args.paths or notebooks():
        nb = nbformat.read(path, as_version=4)
        if is_current(nb, source):
            continue
        stale.append(path)
        if not args.check:
            nbformat.write(with_install_cell(nb, source), path)
    verb = "lack the current install cell" if args.check else "given the install cell"
    for path in stale:
        print(f"{verb}: {path.resolve().relative_to(ROOT)}" if path.resolve().is_relative_to(ROOT)
              else f"{verb}: {path}")
    if not stale:
        print("every notebook has the current install cell")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
