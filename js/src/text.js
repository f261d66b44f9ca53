// Text featurization of NLU profile v2 §4-§7 and the tagger tokens of profile v3 §3. Texts are
// arrays of code points (Uint32Array or number[]); terms are JS strings (UTF-16) of those code points.
import { ensureUnicode, ensureStrip, FLAGS, LOWER_MAP, STRIP_MAP, F_WORD, F_SPACE, F_CASED, F_IGNORABLE, F_LOWER, F_STRIP } from "./unicode.js";

export { ensureUnicode };

/**
 * Decode UTF-8 bytes (profile v2 §4): returns a code-point array, or null when `mode` is "strict" and
 * the bytes are ill-formed. Each maximal ill-formed subpart becomes one U+FFFD ("replace") or nothing.
 */
export function decodeUtf8(bytes, mode) {
  const n = bytes.length, out = new Uint32Array(n);
  let o = 0, i = 0;
  while (i < n) {
    const b = bytes[i];
    if (b < 0x80) { out[o++] = b; i++; continue; }
    let need, lo = 0x80, hi = 0xbf, cp;
    if (b >= 0xc2 && b <= 0xdf) { need = 1; cp = b & 0x1f; }
    else if (b >= 0xe0 && b <= 0xef) { need = 2; cp = b & 0x0f; if (b === 0xe0) lo = 0xa0; else if (b === 0xed) hi = 0x9f; }
    else if (b >= 0xf0 && b <= 0xf4) { need = 3; cp = b & 0x07; if (b === 0xf0) lo = 0x90; else if (b === 0xf4) hi = 0x8f; }
    else need = 0;
    let k = 0; // continuation bytes accepted
    if (need) {
      for (; k < need; k++) {
        const c = bytes[i + 1 + k];
        if (i + 1 + k >= n || c < (k === 0 ? lo : 0x80) || c > (k === 0 ? hi : 0xbf)) break;
        cp = (cp << 6) | (c & 0x3f);
      }
      if (k === need) { out[o++] = cp; i += need + 1; continue; }
    }
    if (mode === "strict") return null;
    if (mode === "replace") out[o++] = 0xfffd;
    i += 1 + k; // the maximal subpart: the lead byte and the continuation bytes that fit
  }
  return out.subarray(0, o);
}

/** Code points of a JS string (a lone surrogate is a code point of its own, like a Python str's). */
export function stringToCodePoints(s) {
  const out = new Uint32Array(s.length);
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { out[o++] = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000; i++; continue; }
    }
    out[o++] = c;
  }
  return out.subarray(0, o);
}

/** The JS string of cps[a, z). */
export function cpString(cps, a = 0, z = cps.length) {
  let s = "";
  for (let i = a; i < z; i++) {
    const c = cps[i];
    if (c < 0x10000) s += String.fromCharCode(c);
    else s += String.fromCharCode(0xd800 + ((c - 0x10000) >> 10), 0xdc00 + ((c - 0x10000) & 0x3ff));
  }
  return s;
}

/** Lowercase with Final_Sigma (profile v2 §5.1). */
export function lowercase(cps) {
  ensureUnicode();
  const n = cps.length;
  let out = new Uint32Array(n + 8), o = 0;
  for (let i = 0; i < n; i++) {
    const c = cps[i];
    if (!(FLAGS[c] & F_LOWER)) { if (o >= out.length) out = grow(out); out[o++] = c; continue; }
    if (c === 0x03a3) { if (o >= out.length) out = grow(out); out[o++] = finalSigma(cps, i) ? 0x03c2 : 0x03c3; continue; }
    const m = LOWER_MAP.get(c);
    if (typeof m === "number") { if (o >= out.length) out = grow(out); out[o++] = m; }
    else for (const t of m) { if (o >= out.length) out = grow(out); out[o++] = t; }
  }
  return out.subarray(0, o);
}

function grow(a) { const b = new Uint32Array(a.length * 2 + 8); b.set(a); return b; }

function finalSigma(cps, i) {
  let j = i - 1;
  while (j >= 0 && FLAGS[cps[j]] & F_IGNORABLE) j--;
  if (j < 0 || !(FLAGS[cps[j]] & F_CASED)) return false;
  j = i + 1;
  while (j < cps.length && FLAGS[cps[j]] & F_IGNORABLE) j++;
  return j >= cps.length || !(FLAGS[cps[j]] & F_CASED);
}

/** Strip accents (profile v2 §5.2): mode "unicode" or "ascii". */
export function stripAccents(cps, mode) {
  ensureStrip();
  const ascii = mode === "ascii";
  let out = new Uint32Array(cps.length + 8), o = 0;
  const put = (t) => { if (ascii && t > 0x7f) return; if (o >= out.length) out = grow(out); out[o++] = t; };
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i];
    if (c >= 0xac00 && c <= 0xd7a3) {
      const s = c - 0xac00;
      put(0x1100 + Math.floor(s / 588)); put(0x1161 + Math.floor((s % 588) / 28));
      if (s % 28) put(0x11a7 + (s % 28));
    } else if (FLAGS[c] & F_STRIP) {
      const m = STRIP_MAP.get(c);
      if (typeof m === "number") put(m); else for (const t of m) put(t);
    } else put(c);
  }
  return out.subarray(0, o);
}

export const isWord = (c) => (FLAGS[c] & F_WORD) !== 0;
export const isSpace = (c) => (FLAGS[c] & F_SPACE) !== 0;

/** Token spans [start, end) of a tokenizer over cps (v2 §6.1, v3 §3). */
export function tokenSpans(cps, tokenizer) {
  ensureUnicode();
  const spans = [], n = cps.length;
  let i = 0;
  if (tokenizer === "nonspace_runs") {
    while (i < n) {
      if (FLAGS[cps[i]] & F_SPACE) { i++; continue; }
      const a = i;
      while (i < n && !(FLAGS[cps[i]] & F_SPACE)) i++;
      spans.push(a, i);
    }
  } else if (tokenizer === "word_punct") {
    while (i < n) {
      const f = FLAGS[cps[i]];
      if (f & F_SPACE) { i++; continue; }
      const a = i;
      if (f & F_WORD) { while (i < n && FLAGS[cps[i]] & F_WORD) i++; }
      else i++;
      spans.push(a, i);
    }
  } else {
    const min = tokenizer === "word_runs_min2" ? 2 : 1;
    while (i < n) {
      if (!(FLAGS[cps[i]] & F_WORD)) { i++; continue; }
      const a = i;
      while (i < n && FLAGS[cps[i]] & F_WORD) i++;
      if (i - a >= min) spans.push(a, i);
    }
  }
  return spans;
}

/** Collapse runs of two or more whitespace code points into one U+0020 (v2 §6.2 step 1). */
function collapseSpace(cps) {
  const out = new Uint32Array(cps.length);
  let o = 0;
  for (let i = 0; i < cps.length;) {
    if (FLAGS[cps[i]] & F_SPACE) {
      let j = i + 1;
      while (j < cps.length && FLAGS[cps[j]] & F_SPACE) j++;
      out[o++] = j - i >= 2 ? 0x20 : cps[i];
      i = j;
    } else out[o++] = cps[i++];
  }
  return out.subarray(0, o);
}

/**
 * The term list of a text featurizer (v2 §6) over a preprocessed code-point array; calls emit(term)
 * for every term in order (duplicates included).
 */
export function analyze(cps, f, emit) {
  const [lo, hi] = f.ngram_range;
  if (f.analyzer === "word") {
    const spans = tokenSpans(cps, f.tokenizer);
    let toks = [];
    for (let t = 0; t < spans.length; t += 2) toks.push(cpString(cps, spans[t], spans[t + 1]));
    if (f.stopSet) toks = toks.filter((t) => !f.stopSet.has(t));
    const m = toks.length;
    for (let n = lo; n <= Math.min(hi, m); n++) {
      for (let i = 0; i + n <= m; i++) {
        let s = toks[i];
        for (let j = 1; j < n; j++) s += " " + toks[i + j];
        emit(s);
      }
    }
    return;
  }
  const u = collapseSpace(cps);
  if (f.analyzer === "char") {
    const L = u.length;
    for (let n = lo; n <= Math.min(hi, L); n++) for (let i = 0; i + n <= L; i++) emit(cpString(u, i, i + n));
    return;
  }
  // char_wb
  const words = tokenSpans(u, "nonspace_runs");
  for (let t = 0; t < words.length; t += 2) {
    const w = " " + cpString(u, words[t], words[t + 1]) + " ";
    const wc = stringToCodePoints(w), L = wc.length;
    for (let n = lo; n <= hi; n++) {
      if (n >= L) { emit(w); break; }
      for (let i = 0; i + n <= L; i++) emit(cpString(wc, i, i + n));
    }
  }
}

/** Preprocess (v2 §5) a code-point array with a featurizer's settings. */
export function preprocess(cps, f) {
  let t = cps;
  if (f.lowercase) t = lowercase(t);
  if (f.strip_accents) t = stripAccents(t, f.strip_accents);
  return t;
}

// -- UTF-8 keys ------------------------------------------------------------------------------------
let KEYBUF = new Uint8Array(1024);
export function keyBuffer() { return KEYBUF; }

/**
 * Encode prefix + term as UTF-8 into the shared key buffer; returns the byte length, or -1 when the
 * string holds a lone surrogate (no UTF-8 encoding: the key is absent, v2 §7.2).
 */
export function encodeKey(prefix, term) {
  const need = 3 * (prefix.length + term.length);
  if (need > KEYBUF.length) KEYBUF = new Uint8Array(need * 2);
  const b = KEYBUF;
  let o = 0;
  for (let part = 0; part < 2; part++) {
    const s = part === 0 ? prefix : term;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) { b[o++] = c; continue; }
      if (c < 0x800) { b[o++] = 0xc0 | (c >> 6); b[o++] = 0x80 | (c & 63); continue; }
      if (c >= 0xd800 && c <= 0xdfff) {
        if (c > 0xdbff || i + 1 >= s.length) return -1;
        const d = s.charCodeAt(i + 1);
        if (d < 0xdc00 || d > 0xdfff) return -1;
        c = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000; i++;
        b[o++] = 0xf0 | (c >> 18); b[o++] = 0x80 | ((c >> 12) & 63); b[o++] = 0x80 | ((c >> 6) & 63); b[o++] = 0x80 | (c & 63);
        continue;
      }
      b[o++] = 0xe0 | (c >> 12); b[o++] = 0x80 | ((c >> 6) & 63); b[o++] = 0x80 | (c & 63);
    }
  }
  return o;
}
