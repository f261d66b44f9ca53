// NLU runtime: profile 1/2 classifiers (spec/nlu-profile-v2.md), profile 3 taggers and joint models
// (spec/nlu-profile-v3.md). load(model) checks the whole profile first (ProfileError), then
// decision()/predict()/predictProba()/parse() score raw text (a JS string, or UTF-8 bytes).
import { ProfileError, UsageError } from "./errors.js";
import { open } from "./reader.js";
import { H, murmur3 } from "./murmur.js";
import { readHeader, checkClassifier, checkTagger, exactMembers, schema, PROFILE3_MEMBERS, floatRepr } from "./profile.js";
import { decodeUtf8, stringToCodePoints, preprocess, analyze, encodeKey, keyBuffer, ensureUnicode, cpString, tokenSpans } from "./text.js";
import { FLAGS, LOWER_MAP, F_WORD, F_CASED, F_LOWER } from "./unicode.js";
import { lowercase } from "./text.js";

const ref = (msg) => { throw new ProfileError("E_NLU_REFERENCE", msg); };

/** Load an NLU model from a Model (reader), a Uint8Array or an ArrayBuffer. */
export function load(input, options) {
  const model = input && input.tables instanceof Map ? input : open(input, options);
  return new NluModel(model);
}

/** The isotonic tensors (v2 §2.4, §9 E_NLU_REFERENCE): f64 of shape (sum of points,), valid maps. */
function bindIsotonic(model, cal) {
  const total = cal.offsets[cal.n];
  const arrays = [cal.x, cal.y].map((name, w) => {
    const info = model.tensorInfo.get(name);
    if (!info) ref(`calibration: no tensor named ${JSON.stringify(name)}`);
    if (info.dtypeName !== "f64" || info.shape.length !== 1 || info.shape[0] !== total) ref(`calibration: tensor ${w ? "y" : "x"} is not f64 of shape (${total},)`);
    return Float64Array.from(model.tensor(name).data);
  });
  const [x, y] = arrays;
  for (let j = 0; j < cal.n; j++) {
    for (let i = cal.offsets[j]; i < cal.offsets[j + 1]; i++) {
      if (!Number.isFinite(x[i]) || !Number.isFinite(y[i]) || y[i] < 0 || y[i] > 1) ref("calibration: an isotonic map holds a value that is not finite or a y outside [0, 1]");
      if (i > cal.offsets[j] && (x[i] <= x[i - 1] || y[i] < y[i - 1])) ref("calibration: an isotonic map's x is not strictly increasing or its y decreases");
    }
  }
  cal.xs = x; cal.ys = y;
}

/** Map j of a calibration at the fold score t (v2 §8.5.1). */
function calMap(cal, j, t) {
  if (cal.method === "sigmoid") return 1 / (1 + Math.exp(cal.a[j] * t + cal.b[j]));
  const lo = cal.offsets[j], P = cal.offsets[j + 1] - lo, x = cal.xs, y = cal.ys;
  if (P === 1) return Number.isNaN(t) ? t : y[lo];
  if (t < x[lo]) t = x[lo];
  if (t > x[lo + P - 1]) t = x[lo + P - 1];
  let a = 0, b = P; // the number of points with x < t
  while (a < b) { const m = (a + b) >>> 1; if (x[lo + m] < t) a = m + 1; else b = m; }
  const i = lo + Math.min(Math.max(a, 1), P - 1);
  return ((y[i] - y[i - 1]) / (x[i] - x[i - 1])) * (t - x[i - 1]) + y[i - 1];
}

/** The K averaged probabilities of a calibrated model from its fold scores (v2 §8.5.1). */
export function calibrate(cal, K, t) {
  const mean = new Float64Array(K), p = new Float64Array(K), kb = cal.kb;
  for (let f = 0; f < cal.folds; f++) {
    if (K === 2) { const q = calMap(cal, f, t[f]); p[0] = 1 - q; p[1] = q; }
    else {
      let s = 0;
      for (let c = 0; c < K; c++) { p[c] = calMap(cal, f * kb + c, t[f * kb + c]); s = s + p[c]; }
      for (let c = 0; c < K; c++) p[c] = s !== 0 ? p[c] / s : 1 / K;
    }
    for (let c = 0; c < K; c++) { if (p[c] > 1 && p[c] <= 1 + 1e-5) p[c] = 1; mean[c] = mean[c] + p[c]; }
  }
  for (let c = 0; c < K; c++) mean[c] = mean[c] / cal.folds;
  return mean;
}

function floatTensor(model, name, shape, what) {
  const info = model.tensorInfo.get(name);
  if (!info) ref(`${what}: no tensor named ${JSON.stringify(name)}`);
  if (info.dtypeName !== "f32" && info.dtypeName !== "f64") ref(`${what}: tensor dtype ${info.dtypeName} (f32 or f64)`);
  if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) ref(`${what}: shape (${info.shape}) != (${shape})`);
  return Float64Array.from(model.tensor(name).data);
}

export class NluModel {
  constructor(model) {
    this.model = model;
    const { obj, profile } = readHeader(model.metadataTree);
    this.profile = profile;
    let clfObj = null, tagObj = null;
    if (profile === 3) {
      exactMembers(obj, PROFILE3_MEMBERS, '"phq.nlu"');
      if (typeof obj.get("unicode") !== "string") schema("unicode is not a string");
      const c = obj.get("classifier"), t = obj.get("tagger");
      if (c === null && t === null) schema("classifier and tagger are both null");
      if (c !== null) {
        if (!(c instanceof Map)) schema("classifier is not an object");
        if (c.has("profile") || c.has("unicode")) schema("the classifier object has a profile or unicode member");
        const full = new Map(c); full.set("profile", null); full.set("unicode", obj.get("unicode"));
        clfObj = checkClassifier(full, 2);
        if (t !== null && clfObj.input !== "text") schema('a classifier beside a tagger must have input "text"');
      }
      if (t !== null) tagObj = checkTagger(t);
    } else clfObj = checkClassifier(obj, profile);
    // references (E_NLU_REFERENCE), classifier first
    if (clfObj) this._bindClassifier(clfObj);
    if (tagObj) this._bindTagger(tagObj);
    if (clfObj && tagObj) {
      // v3 §2.1: no name of one part equals a name of the other, whatever their kinds (a table
      // and a tensor included, although the format lets them share a name)
      const clfNames = [clfObj.table, clfObj.intercept, ...clfObj.featurizers.filter((f) => f.norm_table !== null).map((f) => f.norm_table)];
      if (clfNames.includes(tagObj.state_table) || clfNames.includes(tagObj.transitions)) ref("the classifier and the tagger share a table or tensor name");
    }
    if (clfObj && clfObj.input === "dict") throw new ProfileError("E_NLU_UNSUPPORTED", 'input "dict": this runtime implements text input only');
    this.classifier = clfObj; this.tagger = tagObj;
    ensureUnicode();
  }

  _bindClassifier(c) {
    const m = this.model;
    const K = c.classes.length, k = c.calibration ? c.calibration.n : K === 2 ? 1 : K; // columns (v2 §2.4)
    const table = m.tables.get(c.table);
    if (!table) ref(`no score table named ${JSON.stringify(c.table)}`);
    if (table.dim !== k) ref(`score table dim ${table.dim} != ${k}`);
    for (const f of c.featurizers) {
      if (f.norm_table === null) continue;
      const nt = m.tables.get(f.norm_table);
      if (!nt) ref(`no norm table named ${JSON.stringify(f.norm_table)}`);
      if (nt.dim !== 0 && nt.dim !== 1) ref(`norm table ${JSON.stringify(f.norm_table)} has dim ${nt.dim}`);
      f.normTableRef = nt;
    }
    c.intercept_ = floatTensor(m, c.intercept, [k], "intercept");
    if (c.calibration && c.calibration.method === "isotonic") bindIsotonic(m, c.calibration);
    c.scoreTable = table;
    c.k = k;
    c.rowBuf = new Float32Array(k);
    c.idfBuf = new Float32Array(1);
  }

  _bindTagger(t) {
    const m = this.model, L = t.labels.length;
    const st = m.tables.get(t.state_table);
    if (!st) ref(`no state table named ${JSON.stringify(t.state_table)}`);
    if (st.dim !== L) ref(`state table dim ${st.dim} != ${L} labels`);
    t.T = floatTensor(m, t.transitions, [L, L], "transitions");
    for (const v of t.T) if (!Number.isFinite(v)) ref("the transitions hold a non-finite value");
    t.stateTable = st;
    t.rowBuf = new Float32Array(L);
  }

  get classes() { return this.classifier ? this.classifier.classes.map((l) => (this.classifier.classes_type === "int" ? l.big : l.value)) : null; }
  get labels() { return this.tagger ? this.tagger.labels.slice() : null; }

  _needClassifier() { if (!this.classifier) throw new UsageError("E_USAGE", "this model has no classifier"); return this.classifier; }

  /** Decoded code points of a document for a decode_error setting (null: refused, strict). */
  static codePoints(doc, mode) {
    if (typeof doc === "string") return stringToCodePoints(doc);
    if (doc instanceof Uint8Array) return decodeUtf8(doc, mode);
    throw new UsageError("E_INPUT", "a document is a string or a Uint8Array of UTF-8");
  }

  /** The distinct terms of featurizer f (v2 §7.1): a Map term -> tf, in first-occurrence order. */
  terms(doc, f = 0) {
    const c = this._needClassifier();
    const fz = c.featurizers[f];
    if (!fz) throw new UsageError("E_USAGE", `no featurizer ${f}`);
    return this._terms(doc, fz);
  }

  _terms(doc, fz) {
    const cps = NluModel.codePoints(doc, fz.decode_error);
    if (cps === null) throw new UsageError("E_INPUT", "the text is not valid UTF-8 (decode_error strict)");
    const counts = new Map();
    analyze(preprocess(cps, fz), fz, (t) => counts.set(t, (counts.get(t) || 0) + 1));
    if (fz.binary) for (const t of counts.keys()) counts.set(t, 1);
    else if (fz.sublinear_tf) for (const [t, n] of counts) counts.set(t, 1 + Math.log(n));
    return counts;
  }

  /** Decision values (v2 §8.1-8.3): a Float64Array of k values. */
  decision(doc) {
    const c = this._needClassifier(), k = c.k, st = c.scoreTable, row = c.rowBuf, kb = keyBuffer;
    const score = Float64Array.from(c.intercept_), partial = new Float64Array(k);
    for (const fz of c.featurizers) {
      const tf = this._terms(doc, fz);
      if (fz !== c.featurizers[0]) partial.fill(0);
      let s = 1;
      const terms = Array.from(tf.keys()), n = terms.length;
      let inNorm = null;
      if (fz.norm !== null) {
        const nt = fz.normTableRef, l2 = fz.norm === "l2";
        inNorm = new Uint8Array(n);
        let N = 0;
        for (let i = 0; i < n; i++) {
          const len = encodeKey("", terms[i]);
          if (len < 0) continue;
          const slot = nt.slotOfBytes(kb(), len);
          if (slot < 0) continue;
          inNorm[i] = 1;
          const x = tf.get(terms[i]) * (nt.dim === 1 ? nt.rowAt(slot, c.idfBuf)[0] : 1);
          N = l2 ? N + x * x : N + Math.abs(x);
        }
        if (l2) N = Math.sqrt(N);
        s = N > 0 ? 1 / N : 0;
      }
      for (let i = 0; i < n; i++) {
        if (inNorm && !inNorm[i]) continue;
        const len = encodeKey(fz.key_prefix, terms[i]);
        if (len < 0) continue;
        const slot = st.slotOfBytes(kb(), len);
        if (slot < 0) continue;
        st.addScaledRow(slot, tf.get(terms[i]) * s, partial, row);
      }
      for (let j = 0; j < k; j++) score[j] += partial[j];
    }
    return c.calibration ? calibrate(c.calibration, c.classes.length, score) : score; // §8.5.1: the K probabilities
  }

  /** Index of the predicted class (v2 §8.3). */
  static argmax(score) {
    if (score.length === 1) return score[0] > 0 ? 1 : 0;
    let best = 0;
    for (let j = 1; j < score.length; j++) {
      const a = score[best], b = score[j];
      if (Number.isNaN(a)) break;
      if (Number.isNaN(b) || b > a) best = j;
    }
    return best;
  }

  predictIndex(doc) { return NluModel.argmax(this.decision(doc)); }
  predict(doc) { return this.classes[this.predictIndex(doc)]; }

  /** Probabilities (v2 §8.5) from decision values. */
  probaOf(score) {
    const c = this._needClassifier();
    if (c.proba === null) throw new UsageError("E_USAGE", "this model defines no probabilities (proba null)");
    const k = score.length;
    if (c.proba === "calibrated") return Float64Array.from(score); // the decision values are the probabilities
    if (c.proba === "softmax") {
      let m = -Infinity; for (const v of score) if (v > m) m = v;
      const e = score.map((v) => Math.exp(v - m)); let sum = 0; for (const v of e) sum += v;
      return e.map((v) => v / sum);
    }
    const p = score.map((v) => (c.proba === "logistic" ? 1 / (1 + Math.exp(-v)) : (Math.min(Math.max(v, -1), 1) + 1) / 2));
    if (k === 1) return Float64Array.of(1 - p[0], p[0]);
    let sum = 0; for (const v of p) sum += v;
    return sum === 0 ? p.map(() => 1 / k) : p.map((v) => v / sum);
  }
  predictProba(doc) { return this.probaOf(this.decision(doc)); }

  /** The n best classes (v2 §8.4): [{index, label, value}]. */
  top(doc, n = 5) {
    const d = this.decision(doc);
    const vals = d.length === 1 ? [-d[0], d[0]] : Array.from(d);
    const idx = vals.map((_, i) => i);
    idx.sort((a, b) => {
      const x = vals[a], y = vals[b];
      if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) && Number.isNaN(y) ? a - b : Number.isNaN(x) ? -1 : 1;
      return x !== y ? y - x : a - b;
    });
    return idx.slice(0, n).map((i) => ({ index: i, label: this.classes[i], value: vals[i] }));
  }

  // -- tagger (profile v3) ------------------------------------------------------------------------
  _needTagger() { if (!this.tagger) throw new UsageError("E_USAGE", "this model has no tagger"); return this.tagger; }

  _tagText(doc) {
    const t = this._needTagger();
    const D = NluModel.codePoints(doc, t.decode_error);
    if (D === null) throw new UsageError("E_INPUT", "the text is not valid UTF-8 (decode_error strict)");
    return { D, spans: tokenSpans(D, t.tokenizer) };
  }

  /** Tokens (v3 §3): [[token, start, end], ...] with code-point offsets. */
  tokens(doc) {
    const { D, spans } = this._tagText(doc);
    const out = [];
    for (let i = 0; i < spans.length; i += 2) out.push([cpString(D, spans[i], spans[i + 1]), spans[i], spans[i + 1]]);
    return out;
  }

  /** Feature lists of every token (v3 §4.3). */
  featureLists(doc) {
    const { D, spans } = this._tagText(doc);
    return tokenFeatures(D, spans, this.tagger.templates);
  }

  /** Label indices of the best path (v3 §6). */
  _path(D, spans) {
    const t = this.tagger, L = t.labels.length, n = spans.length / 2, st = t.stateTable, row = t.rowBuf, T = t.T;
    if (n === 0) return [];
    const feats = tokenFeatures(D, spans, t.templates);
    const state = new Float64Array(n * L);
    for (let i = 0; i < n; i++) {
      for (const fstr of feats[i]) {
        const len = encodeKey("", fstr);
        if (len < 0) continue;
        const slot = st.slotOfBytes(keyBuffer(), len);
        if (slot < 0) continue;
        st.rowAt(slot, row);
        for (let j = 0; j < L; j++) state[i * L + j] += row[j];
      }
    }
    return viterbi(state, n, L, T);
  }

  /** Slot spans (v3 §7.1) of an utterance. */
  slots(doc) {
    if (!this.tagger) return [];
    const { D, spans } = this._tagText(doc);
    return labelSpans(this._path(D, spans), this.tagger.labels, spans).map((s) => ({ slot: s.slot, value: cpString(D, s.start, s.end), start: s.start, end: s.end }));
  }

  /** The parse result of v3 §7.2: {intent: {name, score} | null, slots: [...]}. */
  parse(doc) {
    let intent = null;
    if (this.classifier) {
      const d = this.decision(doc), j = NluModel.argmax(d);
      let score;
      if (this.classifier.proba !== null) score = this.probaOf(d)[j];
      else score = d.length === 1 ? (j === 1 ? d[0] : -d[0]) : d[j];
      intent = { name: this.classes[j], score };
    }
    return { intent, slots: this.slots(doc) };
  }

  /** JSON text of a label, exactly as the profile's JSON value (int labels beyond 2^53 included). */
  labelJson(index) { return this.classifier.classes[index].json; }
}

/**
 * Viterbi of v3 §6.2 over state scores (n x L, row-major) and transitions T (L x L, T[i*L + j]: j
 * after i); ties go to the lowest label index; returns the label path.
 */
export function viterbi(state, n, L, T) {
  if (n === 0) return [];
  let delta = state.slice(0, L), next = new Float64Array(L);
  const back = new Uint16Array(n * L);
  for (let i = 1; i < n; i++) {
    for (let j = 0; j < L; j++) {
      let best = 0, v = delta[0] + T[j];
      for (let a = 1; a < L; a++) { const c = delta[a] + T[a * L + j]; if (c > v) { best = a; v = c; } }
      back[i * L + j] = best;
      next[j] = v + state[i * L + j];
    }
    const tmp = delta; delta = next; next = tmp;
  }
  let y = 0, v = delta[0];
  for (let j = 1; j < L; j++) if (delta[j] > v) { y = j; v = delta[j]; }
  const path = new Array(n);
  path[n - 1] = y;
  for (let i = n - 1; i >= 1; i--) path[i - 1] = back[i * L + path[i]];
  return path;
}

/** Spans of v3 §7.1: [{slot, start, end}] from a label path and token spans [s0, e0, s1, e1, ...]. */
export function labelSpans(path, labels, spans) {
  const out = [];
  let open = null;
  for (let i = 0; i < path.length; i++) {
    const l = labels[path[i]];
    if (l === "O") { open = null; continue; }
    const slot = l.slice(2);
    if (l[0] === "I" && open && open.slot === slot) { open.end = spans[2 * i + 1]; continue; }
    open = { slot, start: spans[2 * i], end: spans[2 * i + 1] };
    out.push(open);
  }
  return out;
}

// -- token attributes and features (v3 §4) ---------------------------------------------------------
function shapeOf(x) {
  const out = new Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = x[i];
    out[i] = c >= 0x30 && c <= 0x39 ? 0x64 : FLAGS[c] & F_LOWER ? 0x58 : FLAGS[c] & F_CASED ? 0x78 : FLAGS[c] & F_WORD ? 0x77 : c;
  }
  return out;
}

function attrs(D, a, z) {
  const x = D.subarray(a, z), w = lowercase(x), shape = shapeOf(x);
  const sshape = shape.filter((c, i) => i === 0 || c !== shape[i - 1]);
  let digit = x.length > 0 ? "1" : "0";
  for (const c of x) if (c < 0x30 || c > 0x39) { digit = "0"; break; }
  const hasX = shape.includes(0x58), hasx = shape.includes(0x78);
  const upper = hasX && !hasx ? "1" : "0";
  const title = shape.length > 0 && shape[0] === 0x58 && shape.indexOf(0x58, 1) < 0 ? "1" : "0";
  return { x, w, shape, sshape, digit, upper, title, cache: new Map() };
}

function attrValue(at, name) {
  let v = at.cache.get(name);
  if (v !== undefined) return v;
  switch (name) {
    case "w": v = cpString(at.w); break;
    case "raw": v = cpString(at.x); break;
    case "shape": v = cpString(at.shape); break;
    case "sshape": v = cpString(at.sshape); break;
    case "digit": v = at.digit; break;
    case "upper": v = at.upper; break;
    case "title": v = at.title; break;
    default: {
      const n = name.charCodeAt(1) - 48, w = at.w;
      v = name[0] === "p" ? cpString(w, 0, Math.min(n, w.length)) : cpString(w, Math.max(0, w.length - n), w.length);
    }
  }
  at.cache.set(name, v);
  return v;
}

/** Feature strings of every token (v3 §4.2-4.3). */
export function tokenFeatures(D, spans, templates) {
  const n = spans.length / 2, at = [];
  for (let i = 0; i < n; i++) at.push(attrs(D, spans[2 * i], spans[2 * i + 1]));
  const out = [];
  for (let i = 0; i < n; i++) {
    const list = [];
    for (const t of templates) {
      if (t === "bias") { list.push("bias"); continue; }
      if (t === "bos") { if (i === 0) list.push("bos"); continue; }
      if (t === "eos") { if (i === n - 1) list.push("eos"); continue; }
      let s = "", ok = true;
      for (let c = 0; c < t.length; c++) {
        const [name, off] = t[c], j = i + off;
        if (j < 0 || j >= n) { ok = false; break; }
        s += (c ? "|" : "") + name + (off === 0 ? "" : off > 0 ? "+" + off : String(off)) + "=" + attrValue(at[j], name);
      }
      if (ok) list.push(s);
    }
    out.push(list);
  }
  return out;
}

export { floatRepr };
