"""Sphinx extension: the explorers' snapshots can come alive in the reader's browser, offline.

Each explorer's static snapshot (`bigcompute.widgets.snapshot`) carries its name, settings
and controls as data attributes. On the pages that show one, this extension adds the module
script ``_static/live/live-explorers.mjs`` (site/live-explorers.mjs), which offers a "make
live" button; on a click it starts one module Worker (site/live-worker.mjs) that runs the
library's pure half in pyodide, served by the site itself.

When the build has finished, it writes into ``_static/live/`` of the built site:

- ``pyodide/``: pyodide's runtime (pyodide.mjs, pyodide.asm.mjs, pyodide.asm.wasm,
  python_stdlib.zip, pyodide-lock.json) and its licence, from the npm package pinned in
  ``site/package-lock.json`` (installed by site/offline_assets.py; never committed);
- ``bigcompute-web.zip``: the pure library, its data and PyYAML's pure sources
  (`bigcompute.web_bundle`);
- the two scripts, with the bytes a reader downloads written into the button's text.

Without the runtime (no npm), the build warns (an error under ``-W``) and the pages keep
their snapshots only.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent                  # site/
PYODIDE_SOURCE = HERE / "node_modules" / "pyodide"
RUNTIME = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip",
           "pyodide-lock.json")
TARGET = Path("_static") / "live"                       # inside the built site
SCRIPTS = ("live-explorers.mjs", "live-worker.mjs")
BUNDLE = "bigcompute-web.zip"
SNAPSHOT_CLASS = "bigcompute-widget-snapshot"
NOTICE = """pyodide {version} (https://pyodide.org), from the npm package "pyodide".
Copyright the Pyodide contributors. Licensed under the Mozilla Public License 2.0
(https://mozilla.org/MPL/2.0/); its source is at https://github.com/pyodide/pyodide.
"""


def add_script(app, pagename, templatename, context, doctree) -> None:
    """The live script, on the pages that show an explorer's snapshot only."""
    if SNAPSHOT_CLASS in (context.get("body") or "") and "data-explorer=" in context["body"]:
        app.add_js_file("live/live-explorers.mjs", type="module")


def write_live_files(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    missing = [name for name in RUNTIME if not (PYODIDE_SOURCE / name).is_file()]
    if missing:
        logger.warning(f"live_explorers: {PYODIDE_SOURCE} lacks {', '.join(missing)} (run "
                       f"`npm ci` in site/); the explorers stay static snapshots.")
        return
    target = Path(app.outdir) / TARGET
    (target / "pyodide").mkdir(parents=True, exist_ok=True)
    for name in RUNTIME:
        shutil.copy2(PYODIDE_SOURCE / name, target / "pyodide" / name)
    version = json.loads((PYODIDE_SOURCE / "package.json").read_text())["version"]
    (target / "pyodide" / "NOTICE.txt").write_text(NOTICE.format(version=version))
    src = Path(app.confdir) / "src"
    if str(src) not in sys.path:
        sys.path.insert(0, str(src))
    from bigcompute.web_bundle import write_bundle

    bundle_bytes = write_bundle(target / BUNDLE)
    download = bundle_bytes + sum((PYODIDE_SOURCE / n).stat().st_size for n in RUNTIME)
    for name in SCRIPTS:
        text = (HERE / name).read_text(encoding="utf8")
        text = text.replace("__DOWNLOAD_BYTES__", str(download))
        (target / name).write_text(text, encoding="utf8")


def setup(app):
    app.connect("html-page-context", add_script)
    app.connect("build-finished", write_live_files)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
