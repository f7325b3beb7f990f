"""Shared fixtures. `built_site` builds the website once per test session."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE_BUILD_TIMEOUT_S = 900


@dataclass
class SiteBuild:
    returncode: int
    log: str
    html: Path  # _build/html of the build

    def reports(self) -> str:
        """Jupyter Book's execution reports: the traceback of every notebook that failed."""
        logs = sorted((self.html / "reports").rglob("*.log")) if self.html.exists() else []
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}" for p in logs)


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> SiteBuild:
    """The book built as CI builds it: warnings are errors, nitpicky references, every
    notebook executed afresh (a new output folder has an empty execution cache)."""
    out = tmp_path_factory.mktemp("site")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book), "build", "-W", "-n", "--keep-going", "--path-output",
               str(out), str(ROOT)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                            timeout=SITE_BUILD_TIMEOUT_S)
    return SiteBuild(result.returncode, result.stdout + result.stderr, out / "_build" / "html")
