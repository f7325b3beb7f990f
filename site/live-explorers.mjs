// Live explorers: each explorer's static snapshot (div.bigcompute-widget-snapshot, whose
// div.bigcompute-explorer has data-explorer and data-settings, and whose controls carry
// data-key, data-kind and their choices)
// gets a "make live" button. A click starts one module Worker for the page (live-worker.mjs:
// pyodide and the library, from this site's own files), turns the drawn controls into live
// inputs, and on each change asks the Worker for the explorer's render at the new settings,
// swapping in its HTML and, where the Worker draws it, its SVG chart (stale answers dropped).
// On a failure the snapshot stays, with a one-line note. Without WebAssembly or module
// Workers nothing changes. The opt-in is remembered (localStorage): later pages go live when
// the browser is idle.
const DOWNLOAD_BYTES = __DOWNLOAD_BYTES__;
const OPT_IN = "bigcompute-live-explorers";
const base = new URL("./", import.meta.url);
const snapshots = [...document.querySelectorAll(".bigcompute-widget-snapshot [data-explorer]")];

let worker = null;
let nextId = 0;
const pending = new Map();

function supported() {
  // a browser without module Workers fails at the Worker's first message: the snapshot stays
  return typeof WebAssembly === "object" && typeof Worker === "function";
}

function ask(message) {
  if (!worker) {
    worker = new Worker(new URL("live-worker.mjs", base), { type: "module" });
    worker.onmessage = (event) => {
      const done = pending.get(event.data.id);
      pending.delete(event.data.id);
      if (done) done(event.data);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      for (const done of pending.values()) done({ error: event.message || "the Worker failed" });
      pending.clear();
    };
  }
  const id = ++nextId;
  return new Promise((done) => {
    pending.set(id, done);
    worker.postMessage({ id, ...message });
  });
}

const mb = (bytes) => (bytes / 1e6).toFixed(1);

function note(snapshot, text, kind = "note") {
  let line = snapshot.querySelector(":scope > .bigcompute-live-bar .bigcompute-live-note");
  if (line) {
    line.textContent = text;
    line.dataset.state = kind;
  }
}

function addButton(snapshot) {
  const bar = document.createElement("div");
  bar.className = "bigcompute-live-bar";
  bar.style.cssText = "margin:0.2em 0 0.4em 0;font-size:90%;display:flex;gap:0.6em;align-items:center;flex-wrap:wrap";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "bigcompute-live-button";
  button.textContent = `\u25B6 Make live: runs the book's Python in your browser (downloads ${mb(DOWNLOAD_BYTES)} MB once)`;
  button.style.cssText = "padding:0.2em 0.7em;border:1px solid #4C72B0;border-radius:4px;background:#eef3fa;color:#1d3d6e;cursor:pointer";
  button.addEventListener("click", () => goLive(true));
  const line = document.createElement("span");
  line.className = "bigcompute-live-note";
  bar.append(button, line);
  snapshot.prepend(bar);
}

// ---------------------------------------------------------------- the live controls

function readout(kind, value) {
  if (kind === "log") return Number(value).toPrecision(3).replace(/\.?0+(e|$)/, "$1");
  if (kind === "fraction") return Number(value).toFixed(2);
  return String(value);
}

function makeInput(label, value, onChange) {
  const kind = label.dataset.kind;
  const options = label.dataset.options ? JSON.parse(label.dataset.options) : [];
  const lo = label.dataset.lo !== undefined ? Number(label.dataset.lo) : undefined;
  const hi = label.dataset.hi !== undefined ? Number(label.dataset.hi) : undefined;
  const step = label.dataset.step !== undefined ? Number(label.dataset.step) : undefined;
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  let read, write;
  const parts = [];
  if (kind === "dropdown" || kind === "multi") {
    const select = document.createElement("select");
    select.multiple = kind === "multi";
    if (select.multiple) select.size = Math.min(options.length, 6);
    options.forEach((option, i) => select.add(new Option(String(option), String(i))));
    read = () => select.multiple ? [...select.selectedOptions].map((o) => options[Number(o.value)])
                                 : options[select.selectedIndex];
    write = (v) => [...select.options].forEach((o, i) => {
      o.selected = select.multiple ? v.some((x) => same(x, options[i])) : same(v, options[i]);
    });
    select.addEventListener("change", () => onChange(read()));
    parts.push(select);
  } else if (kind === "checkbox") {
    const box = document.createElement("input");
    box.type = "checkbox";
    read = () => box.checked;
    write = (v) => { box.checked = !!v; };
    box.addEventListener("change", () => onChange(read()));
    parts.push(box);
  } else if (kind === "range") {
    const [a, b] = [0, 1].map(() => {
      const input = document.createElement("input");
      input.type = "number";
      if (lo !== undefined) input.min = lo;
      if (hi !== undefined) input.max = hi;
      input.step = step || 1;
      input.style.width = "5.5em";
      input.addEventListener("change", () => onChange(read()));
      return input;
    });
    read = () => [Number(a.value), Number(b.value)];
    write = (v) => { a.value = v[0]; b.value = v[1]; };
    parts.push(a, document.createTextNode("\u2013"), b);
  } else if (kind === "int" || kind === "float") {
    const input = document.createElement("input");
    input.type = "number";
    if (lo !== undefined) input.min = lo;
    if (hi !== undefined) input.max = hi;
    input.step = kind === "int" ? 1 : (step || "any");
    input.style.width = "8em";
    read = () => kind === "int" ? Math.round(Number(input.value)) : Number(input.value);
    write = (v) => { input.value = v; };
    input.addEventListener("change", () => { if (input.value !== "") onChange(read()); });
    parts.push(input);
  } else {  // slider, log, fraction: a range input with its readout
    const input = document.createElement("input");
    input.type = "range";
    input.min = lo;
    input.max = hi;
    input.step = step || 1;
    const shown = document.createElement("span");
    shown.style.minWidth = "4em";
    const value = () => kind === "log" ? Math.pow(10, Number(input.value)) : Number(input.value);
    read = () => kind === "slider" ? Math.round(value()) : value();
    write = (v) => {
      input.value = kind === "log" ? Math.log10(v) : v;
      shown.textContent = readout(kind, v);
    };
    input.addEventListener("input", () => { shown.textContent = readout(kind, read()); onChange(read()); });
    parts.push(input, shown);
  }
  [...label.children].slice(1).forEach((child) => child.remove());  // keep the name
  [...label.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).forEach((n) => n.remove());
  label.append(...parts);
  write(value);
  return { read, write, inputs: parts.filter((p) => p.nodeType === Node.ELEMENT_NODE) };
}

// ---------------------------------------------------------------- one live explorer

class LiveExplorer {
  constructor(snapshot) {
    this.snapshot = snapshot;
    this.kind = snapshot.dataset.explorer;
    this.settings = JSON.parse(snapshot.dataset.settings);
    this.latest = 0;
    this.controls = {};
    this.result = snapshot.querySelector(".bigcompute-result");
    this.settingsText = snapshot.querySelector(".bigcompute-settings-text");
    this.image = snapshot.querySelector(":scope > img");
  }

  async start() {
    const first = await this.request({});  // the chart as SVG, and the derived controls
    if (first.error) throw new Error(first.error);
    for (const label of this.snapshot.querySelectorAll(".bigcompute-control[data-key]")) {
      const key = label.dataset.key;
      const derived = !(key in this.settings);
      const value = derived ? first.derived[key] : this.settings[key];
      this.controls[key] = makeInput(label, value, (v) => {
        if (derived) this.update({ [key]: v });
        else { this.settings[key] = v; this.update({}); }
      });
    }
    this.show(first);
    const noteText = this.snapshot.querySelector(".bigcompute-snapshot-note");
    if (noteText) noteText.textContent = "Live: computed by the book's Python in your browser.";
    this.snapshot.dataset.live = "true";
  }

  async request(derived) {
    const serial = ++this.latest;
    const answer = await ask({ kind: this.kind, settings: this.settings, derived });
    if (answer.error) return { error: answer.error, serial };
    return { ...JSON.parse(answer.result), serial, stale: serial !== this.latest };
  }

  async update(derived) {
    this.snapshot.dataset.busy = "true";
    const answer = await this.request(derived);
    if (answer.stale) return;  // a newer request is on its way
    delete this.snapshot.dataset.busy;
    if (answer.error && !answer.html) {
      note(this.snapshot, `Could not compute this: ${answer.error}`, "error");
      return;
    }
    this.show(answer);
  }

  show(answer) {
    this.settings = answer.settings;
    for (const [key, control] of Object.entries(this.controls)) {
      const value = key in answer.settings ? answer.settings[key] : answer.derived[key];
      if (value !== undefined && JSON.stringify(control.read()) !== JSON.stringify(value)) control.write(value);
      const off = (answer.inactive || []).includes(key);
      control.inputs.forEach((i) => { i.disabled = off; });
      control.inputs[0].closest("label").style.opacity = off ? "0.45" : "";
    }
    this.result.innerHTML = answer.html;
    if (this.settingsText) this.settingsText.textContent = answer.settings_text;
    this.showChart(answer);
    this.snapshot.dataset.updates = String(Number(this.snapshot.dataset.updates || 0) + 1);
    note(this.snapshot, answer.svg || !answer.chart ? "" : "The chart updates in the notebook; this one shows the snapshot's settings.");
  }

  showChart(answer) {
    let box = this.snapshot.querySelector(".bigcompute-live-chart");
    if (answer.svg) {
      if (!box) {
        box = document.createElement("div");
        box.className = "bigcompute-live-chart";
        if (this.image) this.image.before(box); else this.result.after(box);
      }
      box.innerHTML = answer.svg;
      box.hidden = false;
      if (this.image) this.image.hidden = true;
    } else {
      if (box) box.hidden = true;
      if (this.image) this.image.hidden = !!answer.error || !answer.chart;
    }
  }
}

// ---------------------------------------------------------------- going live

let going = null;

function goLive(clicked) {
  if (going) return going;
  try { localStorage.setItem(OPT_IN, "yes"); } catch (e) { /* private mode: no memory */ }
  const t0 = performance.now();
  for (const s of snapshots) {
    s.querySelector(".bigcompute-live-button").disabled = true;
    note(s, "Starting Python in your browser\u2026");
  }
  going = (async () => {
    const started = await ask({ type: "start" });
    if (started.error) throw new Error(started.error);
    for (const s of snapshots) {
      try {
        await new LiveExplorer(s).start();
        s.querySelector(".bigcompute-live-button").remove();
      } catch (error) {
        note(s, `Could not make this explorer live (${error.message}); showing the snapshot.`, "error");
      }
    }
    window.bigcomputeLive = { ms: performance.now() - t0, timings: started.timings, clicked };
  })().catch((error) => {
    for (const s of snapshots) note(s, `Could not make this explorer live (${error.message}); showing the snapshot.`, "error");
  });
  return going;
}

if (snapshots.length && supported()) {
  snapshots.forEach(addButton);
  let opted = false;
  try { opted = localStorage.getItem(OPT_IN) === "yes"; } catch (e) { /* no storage */ }
  if (opted) {
    const idle = window.requestIdleCallback || ((f) => setTimeout(f, 200));
    idle(() => goLive(false));
  }
}
