"""The website in a real browser, offline: every built page opened in Chromium.

The site is served on 127.0.0.1 from the session's build (tests/conftest.py, `built_site`:
one build per session, shared with tests/test_site_build.py). Debian's Chromium is driven by
the playwright package (never a browser playwright downloads); every host but 127.0.0.1
resolves to nothing, and any request for one fails the page even so. A page fails on:

- a request leaving 127.0.0.1, or a local request answered 404 (or any error status);
- a JavaScript error, or an error on the console;
- an image that did not load (naturalWidth 0);
- maths not typeset by MathJax (a `.math` element without `mjx-container`, or a TeX error);
- an explorer (a cell that displays an ipywidget) shown as neither its static snapshot, with
  its controls drawn, nor a static figure in that cell or the next.

Screenshots of the intro and two chapter pages are saved in _build/screenshots/.

Chromium comes from `make browser` (apt). Elsewhere set CHROMIUM=/path/to/chrome; without a
browser the test is skipped, except on CI (CI=true), where it fails.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest
import yaml
from test_site_build import toc_files  # tests/ is on sys.path (tests/conftest.py)

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "_build" / "screenshots"
HOST = "127.0.0.1"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# Launch options the issue asks for; the resolver rule makes sure nothing leaves the machine.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {HOST}"]
PAGE_TIMEOUT_MS = 30_000
REDIRECTS = {"index.html"}  # a meta refresh to the first chapter's page

pytestmark = [pytest.mark.site, pytest.mark.timeout(1800)]


def _chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser"),
                      shutil.which("google-chrome")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser test: `make browser`)", pytrace=False)
    pytest.skip(reason)


# ---------------------------------------------------------------- the site and the browser

@pytest.fixture(scope="session")
def site_html(built_site) -> Path:
    if not (built_site.html / "index.html").is_file():
        pytest.fail("the site was not built (see test_site_builds_with_warnings_as_errors)",
                    pytrace=False)
    return built_site.html


class _Handler(SimpleHTTPRequestHandler):
    errors: list[str]  # set per server

    def log_message(self, *args):  # quiet
        pass

    def log_request(self, code="-", size="-"):
        if str(code).isdigit() and int(code) >= 400:
            self.errors.append(f"{code} {self.path}")


@pytest.fixture(scope="session")
def site_server(site_html):
    """The built site on a free port of 127.0.0.1; yields (base url, server-side errors)."""
    errors: list[str] = []
    handler = type("Handler", (_Handler,), {"errors": errors})
    server = ThreadingHTTPServer((HOST, 0), functools.partial(handler, directory=site_html))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}/", errors
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    executable = _chromium()
    if executable is None:
        _unavailable("no Chromium found (make browser, or set CHROMIUM=/path/to/chrome)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -r requirements.txt)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


_SETTLE_SCRIPT = """async timeout => {
    const pause = ms => new Promise(done => setTimeout(done, ms));
    const deadline = Date.now() + timeout;
    if (document.querySelector('.math')) {
        while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
            if (Date.now() > deadline) throw new Error('MathJax never started');
            await pause(50);
        }
        await MathJax.startup.promise;
    }
    const images = [...document.images];
    images.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
    await Promise.race([
        Promise.all(images.map(i => i.complete ? null : new Promise(done => {
            i.addEventListener('load', done); i.addEventListener('error', done); }))),
        pause(15000)]);
}"""


class Visit:
    """One page opened and left to settle, with what went wrong on the way."""

    def __init__(self, browser, server, path: str):
        base, server_errors = server
        self.url = base + path
        self.problems: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(PAGE_TIMEOUT_MS)
        self.page.on("request", self._request)
        self.page.on("response", self._response)
        self.page.on("requestfailed", self._failed)
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        self.page.on("console", self._console)
        first_server_error = len(server_errors)
        self.page.goto(self.url, wait_until="load")
        if path in REDIRECTS:  # wait for the page it sends the reader to, or a check made
            # now runs in a document that is being replaced (CI saw both failures)
            self.page.wait_for_url(lambda url: url != self.url)
            self.page.wait_for_load_state("load")
        self._settle()
        self.page.wait_for_load_state("networkidle")
        self.problems += [f"server answered {e}" for e in server_errors[first_server_error:]]

    def _request(self, request):
        url = urlparse(request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname != HOST:
            self.problems.append(f"request leaving {HOST}: {request.url}")

    def _response(self, response):
        if response.status >= 400:
            self.problems.append(f"{response.status} for {response.url}")

    def _failed(self, request):
        # ERR_ABORTED: the page navigated away first (index.html redirects at once); a
        # missing file shows up as its status instead
        if urlparse(request.url).hostname == HOST and "ERR_ABORTED" not in str(request.failure):
            self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _console(self, message):
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def _settle(self) -> None:
        """Wait for MathJax's first typeset and for every image to load or fail. The script
        polls for MathJax: a page's maths can be in the document before MathJax starts."""
        self.page.evaluate(_SETTLE_SCRIPT, PAGE_TIMEOUT_MS)

    def check_images(self) -> None:
        broken = self.page.evaluate(
            "() => [...document.images].filter(i => !i.complete || i.naturalWidth === 0)"
            "  .map(i => (i.getAttribute('src') || '').slice(0, 120))")
        self.problems += [f"image not shown (naturalWidth 0): {src}" for src in broken]

    def check_maths(self) -> None:
        result = self.page.evaluate("""() => {
            const maths = [...document.querySelectorAll('.math')];
            return {n: maths.length,
                    untypeset: maths.filter(m => !m.querySelector('mjx-container'))
                                    .map(m => m.textContent.trim().slice(0, 80)),
                    errors: [...document.querySelectorAll('mjx-merror')]
                                    .map(m => m.textContent.slice(0, 80))};
        }""")
        self.problems += [f"maths not typeset by MathJax: {t!r}" for t in result["untypeset"]]
        self.problems += [f"MathJax error: {t!r}" for t in result["errors"]]
        self.n_maths = result["n"]

    def check_widgets(self, cells: list[int]) -> None:
        """``cells``: positions, among the page's code cells, of the cells that display an
        ipywidget. Each must show its snapshot with its controls, or a static figure."""
        found = self.page.evaluate("""(positions) => {
            const cells = [...document.querySelectorAll('div.cell')];
            const shown = c => c ? [...c.querySelectorAll('.cell_output img')]
                                   .some(i => i.naturalWidth > 0) : false;
            return {n: cells.length, cells: positions.map(k => {
                const cell = cells[k];
                if (!cell) return {k, snapshot: false, figure: false};
                const snapshot = cell.querySelector('.bigcompute-widget-snapshot');
                return {k,
                        snapshot: !!snapshot &&
                                  snapshot.querySelectorAll('.bigcompute-control').length > 0,
                        figure: shown(cell) || shown(cells[k + 1])};
            })};
        }""", cells)
        for cell in found["cells"]:
            if not (cell["snapshot"] or cell["figure"]):
                self.problems.append(
                    f"code cell {cell['k']} displays a widget but the page shows neither its "
                    f"snapshot (with its controls) nor a static figure")

    def screenshot(self, name: str, selector: str | None = None) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        if selector is None:
            self.page.screenshot(path=path)
        else:
            self.page.locator(selector).first.screenshot(path=path)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser, site_server):
    opened: list[Visit] = []

    def open_page(path: str) -> Visit:
        opened.append(Visit(browser, site_server, path))
        return opened[-1]

    yield open_page
    for page in opened:
        page.close()


# ---------------------------------------------------------------- what each page must show

def widget_cells(executed: Path) -> list[int]:
    """Positions, among the code cells the page shows, of those that display an ipywidget.
    ``executed`` is the notebook as the build ran it (_build/jupyter_execute/)."""
    nb = nbformat.read(executed, as_version=4)
    shown = [c for c in nb.cells if c.cell_type == "code"
             and "remove-cell" not in c.metadata.get("tags", [])]
    return [k for k, cell in enumerate(shown)
            if "remove-output" not in cell.metadata.get("tags", [])
            and any(WIDGET_VIEW in out.get("data", {}) for out in cell.get("outputs", []))]


def check_page(visit, site_html: Path, name: str) -> Visit:
    page = visit(f"{name}.html")
    page.check_images()
    page.check_maths()
    executed = site_html.parent / "jupyter_execute" / f"{name}.ipynb"
    if executed.is_file():
        page.check_widgets(widget_cells(executed))
    return page


def _report(name: str, page: Visit) -> str:
    shown = page.problems[:30]
    more = f"\n  ... and {len(page.problems) - 30} more" if len(page.problems) > 30 else ""
    return f"{name}.html ({page.url}):\n  " + "\n  ".join(shown) + more


TOC = toc_files()


@pytest.mark.parametrize("name", TOC)
def test_page_reads_offline_in_a_browser(visit, site_html, name):
    if not (site_html / f"{name}.html").is_file():
        pytest.fail(f"{name}.html was not built", pytrace=False)
    page = check_page(visit, site_html, name)
    assert not page.problems, _report(name, page)


def test_every_other_built_page_reads_offline(visit, site_html):
    """The pages outside the table of contents: index (a redirect), search, genindex..."""
    skip = {"_static", "_sources", "_images", "reports", "_panels_static"}
    names = sorted(str(p.relative_to(site_html).with_suffix("")).replace(os.sep, "/")
                   for p in site_html.rglob("*.html")
                   if not skip & set(p.relative_to(site_html).parts))
    others = [n for n in names if n not in set(TOC)]
    assert "search" in others and "index" in others
    failures = []
    for name in others:
        page = check_page(visit, site_html, name)
        if page.problems:
            failures.append(_report(name, page))
        page.close()
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------- offline, search, Chinese

def test_no_page_loads_a_script_or_stylesheet_from_the_internet(site_html):
    tag = re.compile(r"<(script|link)\b[^>]*?\b(src|href)\s*=\s*[\"']?([^\"' >]+)", re.IGNORECASE)
    remote = []
    for path in site_html.rglob("*.html"):
        for match in tag.finditer(path.read_text(errors="replace")):
            if re.match(r"(https?:)?//", match.group(3), re.IGNORECASE):
                remote.append(f"{path.relative_to(site_html)}: <{match.group(1)} "
                              f"{match.group(2)}={match.group(3)}>")
    assert not remote, "pages load from the internet:\n" + "\n".join(sorted(set(remote))[:40])


def test_mathjax_is_served_by_the_site(site_html):
    mathjax = site_html / "_static" / "offline" / "mathjax"
    assert (mathjax / "tex-mml-chtml.js").is_file()
    assert list((mathjax / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert (mathjax / "LICENSE").is_file()
    pages_with_maths = [p for p in site_html.rglob("*.html") if 'class="math' in p.read_text()]
    assert pages_with_maths
    for path in pages_with_maths:
        assert "_static/offline/mathjax/tex-mml-chtml.js" in path.read_text(), path


def test_search_works_offline(visit):
    page = visit("search.html?q=parameters")
    page.page.wait_for_selector("#search-results li", timeout=PAGE_TIMEOUT_MS)
    hits = page.page.locator("#search-results li").count()
    assert hits > 0, "the offline search found nothing for 'parameters'"
    assert not page.problems, _report("search", page)


def _tofu(page, text: str) -> list[str]:
    """The characters of ``text`` that the page draws as the missing-glyph box: each is
    drawn on a canvas in the page's body font and compared with two unassigned code points
    (which every font draws as that box). Empty if the two boxes differ (no way to tell)."""
    return page.evaluate("""(chars) => {
        const font = getComputedStyle(document.body).fontFamily;
        const canvas = document.createElement('canvas');
        canvas.width = 64; canvas.height = 64;
        const g = canvas.getContext('2d', {willReadFrequently: true});
        const draw = ch => { g.clearRect(0, 0, 64, 64); g.font = `48px ${font}`;
                             g.fillText(ch, 4, 52); return g.getImageData(0, 0, 64, 64).data.join(); };
        const box = draw('\\u0378');
        if (box !== draw('\\u0379')) return [];
        return chars.filter(ch => draw(ch) === box);
    }""", sorted(set(CJK.findall(text)))[:300])


def test_chinese_renders(visit, site_html):
    """The glossary (English/中文) when it is built, and the intro: the Chinese is in the
    page, drawn with a real font (not as boxes), and no font request fails."""
    names = [n for n in ("book/appendix_d_glossary", "book/intro")
             if (site_html / f"{n}.html").is_file()]
    assert names
    for name in names:
        page = visit(f"{name}.html")
        text = page.page.inner_text("main") if page.page.locator("main").count() \
            else page.page.inner_text("body")
        assert CJK.search(text), f"{name}: no Chinese text in the page"
        missing = _tofu(page.page, text)
        assert not missing, f"{name}: drawn as boxes (no font): {''.join(missing[:40])}"
        assert not page.problems, _report(name, page)


def test_launch_buttons_are_plain_links_to_the_repository(visit, site_html):
    notebooks = [n for n in TOC if (site_html.parent / "jupyter_execute" / f"{n}.ipynb").is_file()]
    assert notebooks, "no notebook page in the table of contents"
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repository = urlparse(config["repository"]["url"]).path.strip("/")  # org/repo
    page = visit(f"{notebooks[0]}.html")
    links = page.page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
    for service in ("mybinder.org", "colab.research.google.com", "git-pull"):
        matching = [u for u in links if service in u]
        assert matching, f"no {service} launch link on {notebooks[0]}"
        assert any(repository in u.replace("%2F", "/") for u in matching), matching
    assert not page.problems, _report(notebooks[0], page)


# ---------------------------------------------------------------- screenshots

def _with_explorer(site_html: Path, names: list[str]) -> list[str]:
    return [n for n in names if "bigcompute-widget-snapshot" in
            (site_html / f"{n}.html").read_text(errors="replace")]


def test_screenshots_of_the_intro_and_two_chapters(visit, site_html):
    """Saved in _build/screenshots/ for a person to look at: the intro, the first chapter
    page with an explorer (and the explorer itself), and a page of another chapter."""
    chapters = [n for n in TOC if n.startswith("notebooks/")
                and (site_html / f"{n}.html").is_file()]
    assert chapters, "no chapter page built"
    first = (_with_explorer(site_html, chapters) or chapters)[0]
    folder = Path(first).parent
    second = next((n for n in _with_explorer(site_html, chapters) if Path(n).parent != folder),
                  next((n for n in chapters if Path(n).parent != folder), chapters[-1]))
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    saved = [visit("book/intro.html").screenshot("intro")]
    page = visit(f"{first}.html")
    saved.append(page.screenshot(Path(first).name))
    if page.page.locator(".bigcompute-widget-snapshot").count():
        page.page.locator(".bigcompute-widget-snapshot").first.scroll_into_view_if_needed()
        saved.append(page.screenshot(f"{Path(first).name}-explorer",
                                     ".bigcompute-widget-snapshot"))
    page = visit(f"{second}.html")
    if page.page.locator(".bigcompute-widget-snapshot").count():  # the page at its explorer
        page.page.evaluate("document.querySelector('.bigcompute-widget-snapshot')"
                           ".scrollIntoView(); window.scrollBy(0, -120)")  # below the header
    saved.append(page.screenshot(Path(second).name))
    if (site_html / "book/appendix_d_glossary.html").is_file():
        saved.append(visit("book/appendix_d_glossary.html").screenshot("glossary"))
    for path in saved:
        assert path.stat().st_size > 10_000, f"{path} looks empty"
    (SCREENSHOTS / "index.json").write_text(json.dumps(
        {p.name: str(p) for p in saved}, indent=1))


# ---------------------------------------------------------------- live explorers

_CHANGE_SCRIPT = """([index, kind]) => {
    const snapshot = document.querySelectorAll('.bigcompute-widget-snapshot [data-live]')[index];
    const label = [...snapshot.querySelectorAll(`.bigcompute-control[data-kind='${kind}']`)]
        .find(l => [...l.querySelectorAll('input, select')].every(i => !i.disabled));
    if (!label) return null;
    const state = () => ({text: snapshot.querySelector('.bigcompute-settings-text').textContent,
                         result: snapshot.querySelector('.bigcompute-result').innerHTML,
                         svg: (snapshot.querySelector('.bigcompute-live-chart') || {}).innerHTML
                              || null});
    const before = {...state(), updates: Number(snapshot.dataset.updates), key: label.dataset.key};
    const input = label.querySelector('input, select');
    const fire = (el, type) => el.dispatchEvent(new Event(type, {bubbles: true}));
    if (kind === 'dropdown') {
        input.selectedIndex = input.selectedIndex === 0 ? 1 : 0; fire(input, 'change');
    } else if (kind === 'multi') {
        const first = input.options[0].selected && input.selectedOptions.length === 1 ? 1 : 0;
        [...input.options].forEach((o, i) => { o.selected = i === first; }); fire(input, 'change');
    } else if (kind === 'checkbox') {
        input.click();
    } else if (kind === 'range') {
        const high = [...label.querySelectorAll('input')].pop();  // the years' upper end
        high.value = Number(high.value) - 3; fire(high, 'change');
    } else if (input.type === 'number') {
        const v = Number(input.value);
        const max = input.max === '' ? Infinity : Number(input.max);
        input.value = v * 2 <= max ? v * 2 : Math.max(Number(input.min || 1), Math.floor(v / 2));
        fire(input, 'change');
    } else {  // slider, log, fraction
        const lo = Number(input.min), hi = Number(input.max), v = Number(input.value);
        input.value = v - lo > hi - v ? lo + (v - lo) / 2 : v + (hi - v) / 2; fire(input, 'input');
    }
    return before;
}"""

_STATE_SCRIPT = """(index) => {
    const s = document.querySelectorAll('.bigcompute-widget-snapshot [data-live]')[index];
    return {text: s.querySelector('.bigcompute-settings-text').textContent,
            result: s.querySelector('.bigcompute-result').innerHTML,
            svg: (s.querySelector('.bigcompute-live-chart') || {}).innerHTML || null,
            updates: Number(s.dataset.updates), busy: s.dataset.busy || null,
            note: s.querySelector('.bigcompute-live-note').textContent};
}"""


def _live_pages(site_html: Path) -> list[tuple[str, set[str]]]:
    """Few built pages whose explorers between them offer every kind of control (greedy:
    the page with the most kinds not yet covered first), each with the kinds to move on it."""
    offered = {}
    for path in sorted(site_html.rglob("*.html")):
        text = path.read_text(errors="replace")
        if "data-explorer=" in text:
            offered[str(path.relative_to(site_html)).replace(os.sep, "/")] = set(
                re.findall(r"data-kind='(\w+)'", text))
    assert offered, "no page carries a live explorer's data (data-explorer)"
    pages, covered = [], set()
    while True:
        name, kinds = max(offered.items(), key=lambda item: len(item[1] - covered))
        if not kinds - covered:
            return pages
        pages.append((name, kinds - covered))
        covered |= kinds


def _go_live_and_move(page, kinds: set[str]) -> list[str]:
    """Click "make live" on the open page, then move one control of each of ``kinds``;
    returns the kinds moved. Each move must change the settings shown and the numbers (or
    the chart), and the live SVG chart where there is one."""
    p = page.page
    buttons = p.locator(".bigcompute-live-button")
    assert buttons.count() == p.locator(".bigcompute-widget-snapshot [data-explorer]").count() > 0
    assert "MB once" in buttons.first.inner_text()
    buttons.first.click()
    p.wait_for_function(
        "() => window.bigcomputeLive || [...document.querySelectorAll('.bigcompute-live-note')]"
        ".some(n => n.dataset.state === 'error')", timeout=120_000)
    errors = p.eval_on_selector_all(".bigcompute-live-note[data-state='error']",
                                    "ns => ns.map(n => n.textContent)")
    assert not errors, errors
    n_live = p.locator(".bigcompute-widget-snapshot [data-live]").count()
    assert n_live == buttons.count() or n_live > 0
    assert p.evaluate("localStorage.getItem('bigcompute-live-explorers')") == "yes"
    changed, svg_before, svg_changed = [], [], False
    # a drop-down may choose a device without the dtype in use (an error message, which is
    # also what the page must show): moved last
    for kind in sorted(kinds, key=lambda k: (k == "dropdown", k)):
        for index in range(n_live):
            before = p.evaluate(_CHANGE_SCRIPT, [index, kind])
            if before is None:
                continue
            p.wait_for_function(f"() => {{ const s = document.querySelectorAll("
                                f"'.bigcompute-widget-snapshot [data-live]')[{index}]; "
                                f"return Number(s.dataset.updates) > {before['updates']} "
                                f"&& !s.dataset.busy; }}", timeout=30_000)
            after = p.evaluate(_STATE_SCRIPT, index)
            assert after["text"] != before["text"], (kind, before["key"], after["text"])
            assert after["result"] != before["result"] or kind in ("checkbox", "multi"), \
                (kind, before["key"])
            svg_before.append(bool(before["svg"]))
            svg_changed |= bool(before["svg"]) and after["svg"] != before["svg"]
            changed.append(kind)
            break
    if any(svg_before):
        assert svg_changed, "the live SVG chart never changed"
    return changed


def test_explorers_go_live_offline_and_recompute(visit, site_html):
    """Click "make live" on the fewest pages that offer every kind of control between them:
    Python starts from the site's own files (nothing leaves 127.0.0.1, no console error), and
    moving each kind of control changes the settings, the numbers and, where the Worker draws
    it, the SVG chart."""
    assert (site_html / "_static/live/pyodide/pyodide.asm.wasm").is_file()
    assert (site_html / "_static/live/bigcompute-web.zip").is_file()
    moved, pages = [], _live_pages(site_html)
    for name, kinds in pages:
        page = visit(name)
        moved += _go_live_and_move(page, kinds)
        assert not page.problems, _report(name, page)
        page.close()
    assert set(moved) == {k for _, kinds in pages for k in kinds}, (pages, moved)
    assert {"dropdown", "int"} <= set(moved), moved
