// The page's logic (classic script: works from file://). Uses globalThis.phq (js/dist/phq.js) and
// the bundled demo model (demo-model.js). No network request: models come from the bundle or a drop.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const KIND = { 1: "META", 2: "TENSOR", 16: "TABLE", 17: "MPH_PARTITIONS", 18: "MPH_LEVELS", 19: "MPH_BITMAP", 20: "MPH_RANK",
    21: "MPH_FALLBACK", 22: "FINGERPRINTS", 23: "SCALES", 24: "ROWS", 25: "ROW_INDEX", 26: "COLUMNS", 27: "CODEBOOK" };
  let nlu = null;
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  const kb = (n) => (n >= 10240 ? (n / 1024).toFixed(0) : (n / 1024).toFixed(1)) + " KiB";

  function fromBase64(b64) {
    const s = atob(b64), out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }

  function summary(model, name) {
    // size of each part: META, each tensor, and per table its MPH, fingerprints, scales, rows, sparse index
    const groups = [];
    let g = null;
    for (const s of model.sections) {
      if (s.kind === 1) groups.push({ name: "META (metadata JSON)", total: s.len });
      else if (s.kind === 2) groups.push({ name: "tensor", total: s.len });
      else if (s.kind === 16) { g = { name: null, mph: 0, fp: 0, scales: 0, rows: 0, index: 0, total: s.len }; groups.push(g); }
      else if (g && s.owner !== 0xffffffff) {
        g.total += s.len;
        if (s.kind >= 17 && s.kind <= 21) g.mph += s.len; else if (s.kind === 22) g.fp += s.len;
        else if (s.kind === 23 || s.kind === 27) g.scales += s.len; else if (s.kind === 24) g.rows += s.len; else if (s.kind === 25 || s.kind === 26) g.index += s.len;
      }
    }
    const tn = model.tableNames, tensorNames = model.tensorNames;
    let ti = 0, xi = 0, rows = "";
    const n = (v) => (v === undefined ? "" : v.toLocaleString("en"));
    for (const x of groups) {
      if (x.mph === undefined) { const label = x.name === "tensor" ? `tensor ${esc(tensorNames[xi++])}` : x.name; rows += `<tr><td>${label}</td><td></td><td></td><td></td><td></td><td></td><td class="num">${n(x.total)}</td></tr>`; continue; }
      rows += `<tr><td>table ${esc(tn[ti++])}</td><td class="num">${n(x.mph)}</td><td class="num">${n(x.fp)}</td><td class="num">${n(x.scales)}</td><td class="num">${n(x.rows)}</td><td class="num">${n(x.index)}</td><td class="num">${n(x.total)}</td></tr>`;
    }
    let tables = "";
    for (const t of model.tables.values())
      tables += `<tr><td>${esc(t.name)}</td><td class="num">${t.numKeys.toLocaleString("en")}</td><td class="num">${t.dim}</td><td>${t.quant}</td><td>${t.layout}</td><td class="num">${t.fingerprintBits}</td></tr>`;
    let tensors = "";
    for (const n of model.tensorNames) { const x = model.tensor(n); tensors += `<tr><td>${esc(n)}</td><td>${x.dtype}</td><td>(${x.shape.join(", ")})</td></tr>`; }
    let html = `<p><b>${esc(name)}</b>: phq ${model.version}, ${model.size.toLocaleString("en")} bytes (${kb(model.size)}), ${model.sections.length} sections</p>`;
    if (nlu) {
      html += `<p>NLU profile ${nlu.profile}${nlu.classifier ? `, intent classifier (${nlu.classes.length} classes)` : ""}${nlu.tagger ? `, slot tagger (${nlu.labels.length} BIO labels)` : ""}</p>`;
      if (nlu.classifier) html += `<h2>Classes</h2><div class="chips" id="classes">${nlu.classes.map((c) => `<span>${esc(c)}</span>`).join("")}</div>`;
      if (nlu.tagger) {
        const slots = [...new Set(nlu.labels.filter((l) => l !== "O").map((l) => l.slice(2)))];
        html += `<h2 style="margin-top:10px">Slots</h2><div class="chips" id="slot-names">${slots.map((s) => `<span>${esc(s)}</span>`).join("")}</div>`;
      }
    }
    html += `<h2 style="margin-top:10px">Tables</h2><table><tr><th>name</th><th class="num">keys</th><th class="num">dim</th><th>quant</th><th>layout</th><th class="num">fp bits</th></tr>${tables}</table>`;
    if (tensors) html += `<h2 style="margin-top:10px">Tensors</h2><table><tr><th>name</th><th>dtype</th><th>shape</th></tr>${tensors}</table>`;
    html += `<h2 style="margin-top:10px">Size of each part (bytes)</h2><table id="parts"><tr><th>part</th><th class="num">MPH</th><th class="num">finger&shy;prints</th><th class="num">scales</th><th class="num">rows</th><th class="num">sparse index</th><th class="num">total</th></tr>${rows}</table>`;
    $("summary").innerHTML = html;
  }

  function loadBytes(bytes, name) {
    $("error").textContent = "";
    const t0 = performance.now();
    try {
      const model = phq.open(bytes);
      const t1 = performance.now();
      nlu = null;
      try { nlu = phq.load(model); } catch (e) { if (!(e instanceof phq.ProfileError)) throw e; $("error").textContent = `not an NLU model: ${e.code}`; }
      const t2 = performance.now();
      $("status").textContent = `${name}: opened in ${(t1 - t0).toFixed(2)} ms, NLU profile checked in ${(t2 - t1).toFixed(2)} ms`;
      summary(model, name);
      render();
    } catch (e) {
      nlu = null;
      $("error").textContent = e.code ? `${e.code}: ${e.detail}` : String(e);
      $("status").textContent = `${name}: refused`;
      $("summary").innerHTML = "";
      render();
    }
  }

  function render() {
    const text = $("text").value;
    $("slots").innerHTML = ""; $("scores").innerHTML = ""; $("intent-score").textContent = "";
    if (!nlu) { $("rendered").textContent = text; $("intent-name").textContent = "—"; return; }
    const t0 = performance.now();
    let r;
    try { r = nlu.parse(text); } catch (e) { $("intent-name").textContent = e.code || String(e); return; }
    const us = (performance.now() - t0) * 1000;
    // the text with its slots highlighted (offsets are code points)
    const cps = Array.from(text);
    let html = "", at = 0;
    for (const s of r.slots) {
      html += esc(cps.slice(at, s.start).join(""));
      html += `<mark data-slot="${esc(s.slot)}">${esc(cps.slice(s.start, s.end).join(""))}<small>${esc(s.slot)}</small></mark>`;
      at = s.end;
    }
    $("rendered").innerHTML = html + esc(cps.slice(at).join(""));
    if (r.intent) {
      $("intent-name").textContent = String(r.intent.name);
      $("intent-score").textContent = r.intent.score.toFixed(4);
      const top = nlu.top(text, 5), proba = nlu.classifier.proba !== null ? nlu.predictProba(text) : null;
      $("scores").innerHTML = top.map((x) => {
        const v = proba ? proba[x.index] : x.value, w = proba ? Math.max(0, v) * 100 : Math.max(0, Math.min(100, 50 + 25 * v));
        return `<div class="bar" data-label="${esc(x.label)}"><span>${esc(x.label)}</span><div><div class="fill" style="width:${w.toFixed(1)}%"></div></div><span class="num">${v.toFixed(4)}</span></div>`;
      }).join("");
    } else $("intent-name").textContent = "(no classifier)";
    $("slots").innerHTML = r.slots.map((s) => `<tr data-slot="${esc(s.slot)}"><td>${esc(s.slot)}</td><td class="value">${esc(s.value)}</td><td class="num">${s.start}</td><td class="num">${s.end}</td></tr>`).join("");
    $("timing").textContent = `parsed in ${us.toFixed(0)} µs`;
    $("rendered").dataset.result = JSON.stringify(r);
  }

  function readFile(file) {
    const reader = new FileReader();
    reader.onload = () => loadBytes(new Uint8Array(reader.result), file.name);
    reader.readAsArrayBuffer(file);
  }

  $("text").addEventListener("input", render);
  $("file").addEventListener("change", (e) => e.target.files[0] && readFile(e.target.files[0]));
  const drop = $("drop");
  for (const ev of ["dragenter", "dragover"]) drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
  for (const ev of ["dragleave", "drop"]) drop.addEventListener(ev, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); if (e.dataTransfer.files[0]) readFile(e.dataTransfer.files[0]); });
  // window.phqLoad(bytes, name): for tests and for embedding pages
  window.phqLoad = loadBytes;
  if (window.PHQ_DEMO_MODEL) loadBytes(fromBase64(window.PHQ_DEMO_MODEL.base64), window.PHQ_DEMO_MODEL.name);
  else $("status").textContent = "no demo model bundled: drop a .phq file";
})();
