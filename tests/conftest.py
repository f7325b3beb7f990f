"""Shared fixtures. `built_site` builds the website once per test session; the build test
(tests/test_site_build.py) and the browser test (tests/site/) share it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

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


# Set to a built site's html folder (`make site-check` sets it to _build/html) to test that
# build instead of building a fresh one.
REUSE_SITE_ENV = "BIGCOMPUTE_SITE_HTML"


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> SiteBuild:
    """The book built as CI builds it: warnings are errors, nitpicky references, every
    notebook executed afresh (a new output folder has an empty execution cache). Built
    once per session, whichever test asks first."""
    reuse = os.environ.get(REUSE_SITE_ENV)
    if reuse:
        html = Path(reuse).resolve()
        if not (html / "index.html").is_file():
            pytest.fail(f"{REUSE_SITE_ENV}={reuse} has no index.html; build it first "
                        f"(make book)", pytrace=False)
        return SiteBuild(0, f"reused the build in {html} ({REUSE_SITE_ENV})", html)
    # Under pytest-xdist the workers share one build: the first to ask builds, the others
    # wait on the lock and reuse it.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = tmp_path_factory.getbasetemp().parent  # this run's folder, all workers
    else:
        shared = tmp_path_factory.mktemp("shared")
    with FileLock(str(shared / "site.lock")):
        out = shared / "site"
        record = out / "build.json"
        if record.is_file():
            saved = json.loads(record.read_text())
            return SiteBuild(saved["returncode"], saved["log"], out / "_build" / "html")
        out.mkdir(exist_ok=True)
        jupyter_book = Path(sys.executable).parent / "jupyter-book"
        command = [str(jupyter_book), "build", "-W", "-n", "--keep-going", "--path-output",
                   str(out), str(ROOT)]
        result = subprocess.run(command, check=False, cwd=ROOT, capture_output=True,
                                text=True, timeout=SITE_BUILD_TIMEOUT_S)
        log = result.stdout + result.stderr
        record.write_text(json.dumps({"returncode": result.returncode, "log": log}))
        return SiteBuild(result.returncode, log, out / "_build" / "html")
