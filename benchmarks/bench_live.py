"""The website's live explorers in Chromium, offline: click-to-live, update latency, bytes.

    python benchmarks/bench_live.py [SITE_HTML]    # default: $BIGCOMPUTE_SITE_HTML or _build/html

Needs a built site (`make book`) and Chromium (`make browser`). Serves the site on 127.0.0.1
(no compression, as Python's http.server; every other host resolves to nothing), then, for
each of RUNS cold visits (a fresh browser context: empty cache) of the memory explorer's
page:

- click-to-live: from the click on "make live" to every explorer on the page live (the page
  script's own clock: `window.bigcomputeLive.ms`), with pyodide's start and the library's
  import inside the Worker;
- bytes downloaded: what the server sent from the click on (the runtime, the bundle, the
  scripts), counted on the server, plus their gzip -6 size (what a compressing host sends);
- update latency: a control moved UPDATES times, from the change event to the explorer's
  new HTML in the page (round trip to the Worker, Python's render, the swap), median and max.

Writes results/live.json and results/live.md (not part of `make bench`, which needs no browser).
"""

from __future__ import annotations

import functools
import gzip
import os
import re
import shutil
import statistics
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import _bench

HOST = "127.0.0.1"
RUNS = 5
UPDATES = 20
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {HOST}"]

_UPDATE_SCRIPT = """async (n) => {
    const s = document.querySelector('.bigcompute-widget-snapshot [data-live]');
    const label = [...s.querySelectorAll('.bigcompute-control[data-kind]')]
        .find(l => ['dropdown', 'int', 'slider'].includes(l.dataset.kind)
                   && !l.querySelector('input, select').disabled);
    const input = label.querySelector('input, select');
    const times = [];
    for (let i = 0; i < n; i++) {
        const before = Number(s.dataset.updates);
        const t0 = performance.now();
        if (input.tagName === 'SELECT') input.selectedIndex = (input.selectedIndex + 1) % Math.min(input.options.length, 3);
        else input.value = Number(input.value) + (i % 2 ? -1 : 1);
        input.dispatchEvent(new Event(input.type === 'range' ? 'input' : 'change', {bubbles: true}));
        while (Number(s.dataset.updates) === before || s.dataset.busy)
            await new Promise(r => setTimeout(r, 0));
        times.push(performance.now() - t0);
    }
    return {control: `${s.dataset.explorer}: ${label.dataset.key} (${label.dataset.kind})`, times};
}"""


def _page(site: Path, explorer: str = "memory") -> str:
    """The page that shows ``explorer`` (the memory explorer: a drop-down, whole numbers, the
    YAML catalogue and a chart the Worker draws as SVG)."""
    return next(str(p.relative_to(site)) for p in sorted(site.rglob("*.html"))
                if f"data-explorer='{explorer}'" in p.read_text(errors="replace"))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _serve(site: Path):
    sent: dict[str, int] = {}

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def copyfile(self, source, outputfile):
            data = source.read()
            sent[self.path.split("?")[0]] = sent.get(self.path.split("?")[0], 0) + len(data)
            outputfile.write(data)

    server = ThreadingHTTPServer((HOST, 0), functools.partial(Handler, directory=site))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, sent


def main() -> None:
    site = Path(sys.argv[1] if len(sys.argv) > 1 else
                os.environ.get("BIGCOMPUTE_SITE_HTML", _bench.ROOT / "_build" / "html"))
    if not (site / "_static" / "live" / "live-worker.mjs").is_file():
        sys.exit(f"{site} has no live explorers: build the site first (make book)")
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    from playwright.sync_api import sync_playwright

    page_name = _page(site)
    server, sent = _serve(site)
    base = f"http://{HOST}:{server.server_address[1]}/"
    runs = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for _ in range(RUNS):
            context = browser.new_context()
            page = context.new_page()
            leaving = []
            page.on("request", lambda r, leaving=leaving: leaving.append(r.url)
                    if not r.url.startswith((base, "data:", "blob:")) else None)
            page.goto(base + page_name, wait_until="load")
            page.wait_for_load_state("networkidle")
            sent.clear()
            page.locator(".bigcompute-live-button").first.click()
            page.wait_for_function("() => window.bigcomputeLive", timeout=180_000)
            live = page.evaluate("window.bigcomputeLive")
            updates = page.evaluate(_UPDATE_SCRIPT, UPDATES)
            files = dict(sent)
            runs.append({"click_to_live_ms": live["ms"], "worker": live["timings"],
                         "update_ms": updates["times"], "control": updates["control"],
                         "bytes": sum(files.values()), "files": files, "leaving": leaving,
                         "explorers": page.locator(".bigcompute-widget-snapshot [data-live]").count()})
            context.close()
        browser.close()
    server.shutdown()
    gz = {name: len(gzip.compress((site / name.lstrip("/")).read_bytes(), 6))
          for name in runs[0]["files"] if (site / name.lstrip("/")).is_file()}
    lives = [r["click_to_live_ms"] / 1e3 for r in runs]
    ups = [t for r in runs for t in r["update_ms"][1:]]  # the first update warms caches
    result = {
        "machine": _bench.machine(), "page": page_name, "runs": runs,
        "click_to_live_seconds": {"median": statistics.median(lives), "min": min(lives),
                                  "max": max(lives)},
        "update_ms": {"median": statistics.median(ups), "max": max(ups),
                      "first": statistics.median(r["update_ms"][0] for r in runs)},
        "bytes": runs[0]["bytes"], "gzip_bytes": sum(gz.values()),
        "requests_leaving_127_0_0_1": sum(len(r["leaving"]) for r in runs)}
    sec = _bench.seconds_text
    lines = ["# Live explorers in Chromium (offline)", "", _bench.machine_line(result["machine"]),
             "", (f"Page: `{page_name}` ({_plural(runs[0]['explorers'], 'explorer')}), {RUNS} cold visits "
             f"(fresh browser context each), served by Python's http.server (no compression)."),
             "", "| figure | measured |", "|---|---|",
             (f"| click to live, median (min–max) | {sec(statistics.median(lives))} "
             f"({sec(min(lives))}–{sec(max(lives))}) |"),
             (f"| of which pyodide starts, median | "
             f"{sec(statistics.median(r['worker']['pyodide_ms'] for r in runs) / 1e3)} |"),
             (f"| of which the library's bundle unpacks and imports, median | "
             f"{sec(statistics.median(r['worker']['import_ms'] for r in runs) / 1e3)} |"),
             (f"| update ({runs[0]['control']}), median / max over {len(ups)} | "
             f"{sec(result['update_ms']['median'] / 1e3)} / {sec(result['update_ms']['max'] / 1e3)} |"),
             f"| first update after going live, median | {sec(result['update_ms']['first'] / 1e3)} |",
             (f"| bytes downloaded on the click | {result['bytes']:,} "
             f"({result['bytes'] / 1e6:.1f} MB; gzip -6: {result['gzip_bytes'] / 1e6:.1f} MB) |"),
             f"| requests leaving 127.0.0.1 | {result['requests_leaving_127_0_0_1']} |", "",
             "Files sent on the click (first run):", ""]
    lines += [f"- `{re.sub(r'^/', '', k)}`: {v:,} B" for k, v in sorted(runs[0]["files"].items())]
    _bench.write("live", result, lines)


if __name__ == "__main__":
    main()
