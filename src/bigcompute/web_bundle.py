"""The website's live-explorer bundle: a zip of the pure library (what `bigcompute.live` and
the explorers import, with its data files) and PyYAML's pure-Python sources, which the page's
Worker unpacks into pyodide. Written at build time (site/live_explorers.py), never committed.

    python -m bigcompute.web_bundle OUT.zip
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

__all__ = ["EXCLUDED", "bundle_files", "write_bundle"]

PACKAGE = Path(__file__).resolve().parent
# Subpackages and modules the browser never imports: torch (lab), matplotlib (plots),
# ipywidgets (widgets), nbgrader (coursework), the shell command.
EXCLUDED = ("lab", "plots", "widgets", "coursework", "cli.py", "__main__.py")
# Fixed zip times, so that the same sources give the same bytes.
_DATE = (2020, 1, 1, 0, 0, 0)


def _yaml_dir() -> Path:
    import yaml

    return Path(yaml.__file__).resolve().parent


def bundle_files() -> dict[str, Path]:
    """{path in the zip: file}: bigcompute's pure modules and data, and yaml/*.py."""
    files = {}
    for path in sorted(PACKAGE.rglob("*")):
        rel = path.relative_to(PACKAGE)
        if (not path.is_file() or rel.parts[0] in EXCLUDED or "__pycache__" in rel.parts
                or path.suffix in (".pyc", ".so")):
            continue
        files[f"bigcompute/{rel.as_posix()}"] = path
    for path in sorted(_yaml_dir().glob("*.py")):  # no _yaml.*.so (libyaml): pure only
        files[f"yaml/{path.name}"] = path
    return files


def write_bundle(out: Path) -> int:
    """Write the bundle to ``out``; returns its size in bytes."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, path in bundle_files().items():
            info = zipfile.ZipInfo(name, _DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
    tmp.replace(out)
    return out.stat().st_size


if __name__ == "__main__":  # pragma: no cover
    print(write_bundle(Path(sys.argv[1])))
