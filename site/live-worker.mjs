// The live explorers' Worker (a module Worker, one per page): pyodide from the site's own
// files, the library's pure half from bigcompute-web.zip, and bigcompute.live.update for
// each request. Messages in: {id, kind, settings, derived}; out: {id, result} (JSON text of
// bigcompute.live.render) or {id, error}. The first message starts Python; {id, type:
// "start"} only starts it and answers {id, ready: true, timings}.
import { loadPyodide } from "./pyodide/pyodide.mjs";

const base = new URL("./", import.meta.url);
let ready = null;
const timings = {};

async function start() {
  const t0 = performance.now();
  const pyodide = await loadPyodide({ indexURL: new URL("pyodide/", base).href });
  timings.pyodide_ms = performance.now() - t0;
  const response = await fetch(new URL("bigcompute-web.zip", base));
  if (!response.ok) throw new Error(`bigcompute-web.zip: HTTP ${response.status}`);
  pyodide.unpackArchive(await response.arrayBuffer(), "zip", { extractDir: "/lib/bigcompute-web" });
  pyodide.runPython("import sys; sys.path.insert(0, '/lib/bigcompute-web'); import bigcompute.live");
  timings.import_ms = performance.now() - t0 - timings.pyodide_ms;
  return pyodide.pyimport("bigcompute.live").update;
}

self.onmessage = async (event) => {
  const { id, type, kind, settings, derived } = event.data;
  try {
    const update = await (ready ||= start());
    if (type === "start") {
      self.postMessage({ id, ready: true, timings });
      return;
    }
    const t0 = performance.now();
    const result = update(kind, JSON.stringify(settings), JSON.stringify(derived || {}));
    self.postMessage({ id, result, ms: performance.now() - t0 });
  } catch (error) {
    self.postMessage({ id, error: String((error && error.message) || error).split("\n").filter(Boolean).pop() });
  }
};
