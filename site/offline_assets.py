"""Sphinx extension: the website serves its own third-party scripts, so it reads offline.

Jupyter Book 1 loads MathJax from a CDN by default; offline (classrooms, blocked CDNs) the
maths then shows as raw TeX. This extension makes every page load MathJax 3 from the site:

1. MathJax is an npm package, pinned in ``site/package-lock.json``. When the build starts, the
   installed copy in ``site/node_modules/`` (ignored by git) is checked against the lockfile
   and, if it differs or is missing, ``npm ci`` installs it from the npm registry. Nothing
   third-party is committed.
2. ``mathjax_path`` points at ``_static/offline/mathjax/tex-mml-chtml.js``.
3. When the build has finished, MathJax (the combined component, the TeX extensions it may
   load on demand, its fonts, menu and accessibility parts, and its licence) is copied into
   ``_static/offline/mathjax/`` of the built site. It is copied after the build rather than
   put in a ``_static/`` source folder because Jupyter Book adds every ``.js`` file found in a
   book's ``_static/`` to every page.
4. Each notebook page embeds the saved state of its ipywidgets as a JSON script for a widget
   manager. The site renders explorers from their static snapshots instead (``_config.yml``,
   ``nb_mime_priority_overrides``) and loads no widget manager, so that dead JSON (often
   hundreds of kB: it holds the explorers' PNGs a second time) is left out of the pages.

Without Node.js/npm, or offline with nothing installed yet, the build warns (an error under
``-W``, as in ``make book`` and the tests) and falls back to the CDN.
"""

from __future__ import annotations

import contextlib
import html
import json
import shutil
import subprocess
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent          # site/
NODE_MODULES = HERE / "node_modules"
MATHJAX_SOURCE = NODE_MODULES / "mathjax" / "es5"
MATHJAX_TARGET = Path("_static") / "offline" / "mathjax"   # inside the built site
MATHJAX_ENTRY = "tex-mml-chtml.js"
# MathJax's other combined components (SVG output, node builds) are not used by the site.
_MATHJAX_UNUSED = ("*-svg*.js", "mml-chtml.js", "tex-chtml*.js", "node-main.js", "latest.js",
                   "svg")
WIDGET_STATE_TYPE = "application/vnd.jupyter.widget-state+json"


def locked_packages() -> dict[str, str]:
    """{package: version} that site/package-lock.json pins (top-level packages only)."""
    lock = json.loads((HERE / "package-lock.json").read_text())
    return {path.removeprefix("node_modules/"): entry["version"]
            for path, entry in lock["packages"].items()
            if path.startswith("node_modules/") and "/node_modules/" not in path[13:]}


def installed_matches_lock() -> bool:
    for name, version in locked_packages().items():
        manifest = NODE_MODULES / name / "package.json"
        if not manifest.is_file() or json.loads(manifest.read_text())["version"] != version:
            return False
    return True


@contextlib.contextmanager
def _exclusive():
    """One `npm ci` at a time (a `make book` and a test session may build at once)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock
        yield
        return
    with open(HERE / ".npm-install.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_installed() -> str | None:
    """Install site/node_modules from the lockfile unless it is already there. Returns None
    when it is, else the reason it could not be installed."""
    with _exclusive():
        if installed_matches_lock():
            return None
        npm = shutil.which("npm")
        if npm is None:
            return "npm (Node.js) is not installed"
        logger.info("offline_assets: installing site/package-lock.json with npm ci")
        result = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            check=False, cwd=HERE, capture_output=True, text=True)
        if result.returncode != 0:
            return f"`npm ci` in site/ failed:\n{result.stdout}{result.stderr}"
        if not installed_matches_lock():
            return "`npm ci` in site/ did not install the locked versions"
        return None


def setup_mathjax(app, config) -> None:
    # at config-inited, so that the value is the same in every build (a changed config
    # value would make Sphinx read every page again)
    problem = ensure_installed()
    if problem is None and not (MATHJAX_SOURCE / MATHJAX_ENTRY).is_file():
        problem = f"{MATHJAX_SOURCE / MATHJAX_ENTRY} is missing"
    if problem:
        app.offline_assets_ready = False
        logger.warning(
            f"offline_assets: {problem}. The site will load MathJax from a CDN and show raw "
            f"TeX offline. Install Node.js (it brings npm) and build again, or run "
            f"`npm ci` in site/.")
        return
    app.offline_assets_ready = True
    config.mathjax_path = (MATHJAX_TARGET.relative_to("_static") / MATHJAX_ENTRY).as_posix()


def tidy_scripts(app, pagename, templatename, context, doctree) -> None:
    """Leave the widget state out of the page (point 4 above), and each inline script in
    once: sphinx-thebe's configuration is added twice, and the second copy throws
    ("Identifier 'THEBE_JS_URL' has already been declared") on every page."""
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    kept, seen = [], set()
    for js in scripts:
        attributes = getattr(js, "attributes", {})
        if attributes.get("type") == WIDGET_STATE_TYPE:
            continue
        # (the copies differ only in filename None versus "")
        key = (str(getattr(js, "filename", js) or ""),
               tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key in seen:
            continue
        seen.add(key)
        kept.append(js)
    scripts[:] = kept


def copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    if not getattr(app, "offline_assets_ready", False):
        return
    target = Path(app.outdir) / MATHJAX_TARGET
    shutil.copytree(MATHJAX_SOURCE, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(*_MATHJAX_UNUSED))
    shutil.copy2(NODE_MODULES / "mathjax" / "LICENSE", target / "LICENSE")


REDIRECT = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta http-equiv="Refresh" content="0; url={target}">
{icon}</head>
<body><p><a href="{target}">{title}</a></p></body></html>
"""


def write_index_redirect(app, exception) -> None:
    """index.html, the site's front door, sends the reader to the first page. (Jupyter
    Book's own redirect has no icon, so browsers ask for /favicon.ico, a 404.) Runs before
    sphinx-external-toc's, which then leaves it be."""
    if exception is not None or app.builder.name != "html":
        return
    root = app.config.root_doc
    if root == "index":
        return
    favicon = app.config.html_favicon
    icon = (f'<link rel="icon" href="_static/{Path(favicon).name}">'
            if favicon and "://" not in favicon else "")
    title = html.escape(app.config.html_title or app.config.project)
    (Path(app.outdir) / "index.html").write_text(
        REDIRECT.format(title=title, target=f"{root}.html", icon=icon), encoding="utf8")


def setup(app):
    app.connect("config-inited", setup_mathjax)
    # after myst-nb adds each page's scripts (priority 500)
    app.connect("html-page-context", tidy_scripts, priority=900)
    app.connect("build-finished", copy_mathjax)
    app.connect("build-finished", write_index_redirect, priority=400)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
