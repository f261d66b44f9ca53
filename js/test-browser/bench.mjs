#!/usr/bin/env node
// The JS runtime's figures in headless Chromium (and, for comparison, in this Node process):
// model open time, NLU load time, per-utterance latency (performance.now), on a model and texts
// given by bench/bench_js.py. Prints flat-key JSON.
//   node js/test-browser/bench.mjs --model m.phq --texts texts.json [--reps 50] [--chromium /usr/bin/chromium]
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { launch } from "./page.mjs";

const arg = (name, dflt) => { const i = process.argv.indexOf("--" + name); return i > 0 ? process.argv[i + 1] : dflt; };
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

// Runs in the page (and in Node): everything it needs comes in as arguments.
function measure(phq, bytes, texts, reps) {
  const q = (a, p) => { const s = Float64Array.from(a).sort(); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
  const out = {};
  let t = performance.now();
  let model = phq.open(bytes);
  out.open_first_ms = performance.now() - t;
  t = performance.now();
  let nlu = phq.load(model);
  out.nlu_load_first_ms = performance.now() - t; // includes decoding the Unicode tables once
  const opens = [], loads = [];
  for (let i = 0; i < 30; i++) {
    t = performance.now(); model = phq.open(bytes); opens.push(performance.now() - t);
    t = performance.now(); nlu = phq.load(model); loads.push(performance.now() - t);
  }
  out.open_p50_ms = q(opens, 0.5);
  out.nlu_load_p50_ms = q(loads, 0.5);
  // one pass cold (each utterance once), then warm passes
  t = performance.now();
  let sink = 0;
  for (const s of texts) sink += nlu.predictIndex(s);
  out.first_pass_mean_us = ((performance.now() - t) * 1000) / texts.length;
  for (let r = 0; r < 2; r++) for (const s of texts) sink += nlu.predictIndex(s);
  t = performance.now();
  for (const s of texts) sink += nlu.predictIndex(s);
  out.mean_us = ((performance.now() - t) * 1000) / texts.length;
  // per-utterance latency: performance.now() is coarsened in browsers (100 us without cross-origin
  // isolation), so each utterance is timed over `reps` back-to-back calls and divided
  const lat = [];
  for (const s of texts) {
    const a = performance.now();
    for (let r = 0; r < reps; r++) sink += nlu.predictIndex(s);
    lat.push(((performance.now() - a) * 1000) / reps);
  }
  out.p50_us = q(lat, 0.5);
  out.p90_us = q(lat, 0.9);
  out.p99_us = q(lat, 0.99);
  out.reps_per_utterance = reps;
  out.utterances = texts.length;
  out.sink = sink;
  return out;
}

async function main() {
  const bytes = readFileSync(arg("model"));
  const texts = JSON.parse(readFileSync(arg("texts"), "utf8"));
  const reps = Number(arg("reps", "50"));
  const result = { model_bytes: bytes.length };
  // Node (same code, the package's ES modules)
  const phq = await import(pathToFileURL(path.join(ROOT, "js/src/index.js")).href);
  for (const [k, v] of Object.entries(measure(phq, new Uint8Array(bytes), texts, reps))) result["node_" + k] = v;
  result.node_version = process.version;
  // Chromium: the bundle (js/dist/phq.js) in a blank page (bench.html), from file://
  const { browser, close } = await launch(arg("chromium", "/usr/bin/chromium"));
  try {
    const url = pathToFileURL(path.join(ROOT, "js/test-browser/bench.html")).href;
    const setup = `globalThis.__bytes = Uint8Array.from(atob(${JSON.stringify(bytes.toString("base64"))}), (c) => c.charCodeAt(0)); globalThis.__texts = ${JSON.stringify(texts)}; 0`;
    // the first open and load in a fresh page (the reader's code not yet compiled): median of 7 pages;
    // the bytes are decoded by an earlier script, so that their garbage is not collected inside the timing
    const firsts = [];
    for (let i = 0; i < 7; i++) {
      const page = await browser.newPage();
      await page.goto(url, { waitUntil: "load" });
      await page.evaluate(setup);
      await new Promise((r) => setTimeout(r, 50));
      firsts.push(await page.evaluate(`(() => { let t = performance.now(); const m = phq.open(__bytes); const a = performance.now() - t;
        t = performance.now(); phq.load(m); return [a, performance.now() - t]; })()`));
      await page.close();
    }
    const med = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
    result.browser_fresh_page_open_ms_median7 = med(firsts.map((x) => x[0]));
    result.browser_fresh_page_open_ms_max7 = Math.max(...firsts.map((x) => x[0]));
    result.browser_fresh_page_nlu_load_ms_median7 = med(firsts.map((x) => x[1]));
    const page = await browser.newPage();
    await page.goto(url, { waitUntil: "load" });
    result.browser_version = await browser.version();
    await page.evaluate(setup);
    const got = await page.evaluate(`(${measure.toString()})(globalThis.phq, __bytes, __texts, ${reps})`);
    for (const [k, v] of Object.entries(got)) result["browser_" + k] = v;
  } finally { await close(); }
  delete result.node_sink; delete result.browser_sink;
  process.stdout.write(JSON.stringify(result) + "\n");
}

main().catch((e) => { console.error(e); process.exit(1); });
