// The live explorers' Python, run as the website's Worker runs it, but in Node: pyodide from
// site/node_modules, the library from the bundle the site build writes, and
// bigcompute.live.update for each case. Run by tests/site/test_live_explorers.py:
//
//   node node_live_smoke.mjs PYODIDE_DIR BUNDLE.zip CASES.json
//
// CASES.json: [{kind, settings, derived}]; prints one JSON line: {results: [update's JSON
// text, or {error}], timings}.
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import path from "node:path";

const [pyodideDir, bundle, casesFile] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(path.join(pyodideDir, "pyodide.mjs")).href);
const t0 = performance.now();
const pyodide = await loadPyodide({ indexURL: path.resolve(pyodideDir) + path.sep });
const loaded = performance.now();
pyodide.unpackArchive(new Uint8Array(await readFile(bundle)), "zip", { extractDir: "/lib/bigcompute-web" });
pyodide.runPython("import sys; sys.path.insert(0, '/lib/bigcompute-web'); import bigcompute.live");
const update = pyodide.pyimport("bigcompute.live").update;
const imported = performance.now();
const cases = JSON.parse(await readFile(casesFile, "utf8"));
const results = cases.map(({ kind, settings, derived }) => {
  try {
    return update(kind, JSON.stringify(settings), JSON.stringify(derived || {}));
  } catch (error) {
    return JSON.stringify({ error: String(error.message || error).split("\n").filter(Boolean).pop() });
  }
});
const version = pyodide.runPython("import sys; sys.version.split()[0]");
console.log(JSON.stringify({
  results, version,
  timings: { pyodide_ms: loaded - t0, import_ms: imported - loaded, render_ms: performance.now() - imported },
}));
