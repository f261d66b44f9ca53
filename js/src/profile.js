// Profile checks of NLU profiles 1-3 (spec/nlu-profile-v2.md §2, §9, §12, §13; nlu-profile-v3.md §2, §8).
// Reads the exact META tree (Maps, JsonNumber) and returns normalized settings, or throws ProfileError.
import { ProfileError } from "./errors.js";
import { JsonNumber } from "./json.js";

const err = (code, msg) => { throw new ProfileError(code, msg); };
const schema = (msg) => err("E_NLU_SCHEMA", msg);

const isStr = (v) => typeof v === "string";
const isInt = (v) => v instanceof JsonNumber && v.isInteger;
const isNum = (v) => v instanceof JsonNumber;
const isObj = (v) => v instanceof Map;
const utf8Len = (s) => { let n = 0; for (let i = 0; i < s.length; i++) { const c = s.charCodeAt(i); n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? (i++, 4) : 3; } return n; };

const V2_MEMBERS = ["profile", "unicode", "input", "classes", "classes_type", "estimator", "table", "intercept", "proba", "featurizers", "source"];
const COMMON_F = ["name", "kind", "key_prefix", "norm", "norm_table", "weight"];
const TEXT_F2 = ["analyzer", "ngram_range", "lowercase", "strip_accents", "binary", "sublinear_tf", "decode_error", "tokenizer", "stop_words"];
const TEXT_F1 = ["analyzer", "ngram_range", "lowercase", "strip_accents", "binary", "sublinear_tf", "encoding", "decode_error", "token_pattern", "stop_words"];
const PATTERNS = new Map([
  ["(?u)\\b\\w\\w+\\b", "word_runs_min2"], ["\\b\\w\\w+\\b", "word_runs_min2"], ["(?u)\\w\\w+", "word_runs_min2"], ["\\w\\w+", "word_runs_min2"],
  ["(?u)\\b\\w+\\b", "word_runs_min1"], ["\\b\\w+\\b", "word_runs_min1"], ["(?u)\\w+", "word_runs_min1"], ["\\w+", "word_runs_min1"],
  ["(?u)\\S+", "nonspace_runs"], ["\\S+", "nonspace_runs"],
]);
const TOKENIZERS = new Set(["word_runs_min2", "word_runs_min1", "nonspace_runs"]);

function exactMembers(obj, names, what) {
  for (const k of obj.keys()) if (!names.includes(k)) schema(`${what}: unknown member ${JSON.stringify(k)}`);
  for (const k of names) if (!obj.has(k)) schema(`${what}: missing member ${JSON.stringify(k)}`);
}

/** E_NLU_MISSING / E_NLU_VERSION: the "phq.nlu" object and its profile number. */
export function readHeader(meta) {
  if (!meta.has("phq.nlu")) err("E_NLU_MISSING", 'the metadata has no "phq.nlu" member: not an NLU model');
  const p = meta.get("phq.nlu");
  if (!isObj(p)) schema('"phq.nlu" is not an object');
  const prof = p.get("profile");
  if (!isInt(prof)) schema("profile is missing or not an integer");
  const profile = BigInt(prof.raw);
  if (profile !== 1n && profile !== 2n && profile !== 3n) err("E_NLU_VERSION", `profile ${prof.raw} is not read by this runtime (1, 2, 3)`);
  if (profile !== 1n) {
    const u = p.get("unicode");
    if (isStr(u) && u !== "14.0.0") err("E_NLU_VERSION", `unicode ${JSON.stringify(u)} (this runtime: 14.0.0)`);
  }
  return { obj: p, profile: Number(profile) };
}

/** Schema checks of a profile 1/2 classifier object; returns normalized settings. */
export function checkClassifier(p, profile) {
  // "calibration" (v2 §2.4) is optional, profile 2 only
  const members = profile === 1 ? V2_MEMBERS.filter((m) => m !== "unicode") : p.has("calibration") ? [...V2_MEMBERS, "calibration"] : V2_MEMBERS;
  exactMembers(p, members, '"phq.nlu"');
  if (profile === 2 && !isStr(p.get("unicode"))) schema("unicode is not a string");
  const input = p.get("input");
  if (input !== "text" && input !== "dict") schema(`input ${JSON.stringify(input)}`);
  const ctype = p.get("classes_type");
  if (!["str", "int", "float", "bool"].includes(ctype)) schema(`classes_type ${JSON.stringify(ctype)}`);
  const classes = p.get("classes");
  if (!Array.isArray(classes) || classes.length < 2 || classes.length > 65536) schema("classes: not an array of 2..65536 labels");
  const labels = classes.map((c) => checkLabel(c, ctype));
  const seen = new Set();
  for (const l of labels) { const key = ctype === "float" ? (l.value === 0 ? 0 : l.value) : ctype === "int" ? l.big : l.value; if (seen.has(key)) schema("labels are not distinct"); seen.add(key); }
  for (const m of ["estimator", "table", "intercept"]) if (!isStr(p.get(m))) schema(`${m} is not a string`);
  const proba = p.get("proba");
  if (!(proba === null || ["logistic", "softmax", "modified_huber", "calibrated"].includes(proba))) schema(`proba ${JSON.stringify(proba)}`);
  if ((proba === "calibrated") !== p.has("calibration")) schema(p.has("calibration") ? 'a model with "calibration" has proba "calibrated"' : 'proba "calibrated" without a "calibration" member');
  const calibration = p.has("calibration") ? checkCalibration(p.get("calibration"), classes.length) : null;
  if (proba === "softmax" && classes.length === 2) schema('proba "softmax" with two classes');
  const feats = p.get("featurizers");
  if (!Array.isArray(feats) || feats.length < 1 || feats.length > 64) schema("featurizers: not an array of 1..64 objects");
  const fs = feats.map((f, i) => checkFeaturizer(f, i, profile, input));
  const prefixes = new Set();
  for (const f of fs) { if (prefixes.has(f.key_prefix)) schema("duplicate key prefixes"); prefixes.add(f.key_prefix); }
  if (!isObj(p.get("source"))) schema("source is not an object");
  return { input, classes: labels, classes_type: ctype, estimator: p.get("estimator"), table: p.get("table"), intercept: p.get("intercept"), proba, featurizers: fs, calibration };
}

/** The "calibration" member (v2 §2.4): schema checks; the isotonic tensors are bound by the runtime. */
function checkCalibration(c, K) {
  const bad = (msg) => schema(`calibration: ${msg}`);
  if (!isObj(c)) bad("is not an object");
  const method = c.get("method");
  if (method !== "sigmoid" && method !== "isotonic") bad('method is not "sigmoid" or "isotonic"');
  exactMembers(c, method === "sigmoid" ? ["method", "folds", "a", "b"] : ["method", "folds", "points", "x", "y"], "calibration");
  const folds = c.get("folds");
  if (!isInt(folds) || BigInt(folds.raw) < 1n || BigInt(folds.raw) > 64n) bad("folds is not an integer in 1..64");
  const F = Number(folds.raw), kb = K === 2 ? 1 : K, n = F * kb;
  const out = { method, folds: F, kb, n };
  if (method === "sigmoid") {
    for (const m of ["a", "b"]) {
      const v = c.get(m);
      if (!Array.isArray(v) || v.length !== n || !v.every(isNum)) bad(`${m} is not an array of folds x k numbers`);
      if (!v.every((x) => Number.isFinite(x.value))) bad(`${m} holds a number that is not a finite binary64`);
      out[m] = Float64Array.from(v, (x) => x.value);
    }
  } else {
    const pts = c.get("points");
    if (!Array.isArray(pts) || pts.length !== n || !pts.every((x) => isInt(x) && BigInt(x.raw) >= 1n && BigInt(x.raw) <= 16777216n))
      bad("points is not an array of folds x k integers in 1..2^24");
    out.offsets = new Float64Array(n + 1);
    for (let j = 0; j < n; j++) out.offsets[j + 1] = out.offsets[j] + Number(pts[j].raw);
    if (!isStr(c.get("x")) || !isStr(c.get("y"))) bad("x and y are not strings (tensor names)");
    out.x = c.get("x"); out.y = c.get("y");
  }
  return out;
}

function checkLabel(c, t) {
  switch (t) {
    case "str": if (!isStr(c)) schema("a label is not a string"); return { value: c, json: JSON.stringify(c) };
    case "bool": if (c !== true && c !== false) schema("a label is not a bool"); return { value: c, json: String(c) };
    case "int": {
      if (!isInt(c)) schema("a label is not an integer");
      const big = BigInt(c.raw);
      if (big < -(1n << 63n) || big >= 1n << 63n) schema(`label ${c.raw} out of the int64 range`);
      return { value: Number(big), big, json: big.toString() };
    }
    case "float": {
      if (!isNum(c)) schema("a label is not a number");
      const v = c.value;
      if (!Number.isFinite(v)) schema(`label ${c.raw} is not finite in binary64`);
      return { value: v, json: floatRepr(v) };
    }
  }
}

/** A binary64 written as a JSON number of float type (always with a '.' or an exponent). */
export function floatRepr(v) {
  if (Object.is(v, -0)) return "-0.0";
  const s = String(v);
  return /[.e]/.test(s) ? s : s + ".0";
}

function checkFeaturizer(f, i, profile, input) {
  const what = `featurizer ${i}`;
  if (!isObj(f)) schema(`${what} is not an object`);
  const kind = f.get("kind");
  if (kind !== "text" && kind !== "dict") schema(`${what}: kind ${JSON.stringify(kind)}`);
  exactMembers(f, kind === "dict" ? [...COMMON_F, "separator"] : [...COMMON_F, ...(profile === 1 ? TEXT_F1 : TEXT_F2)], what);
  if (kind !== input) schema(`${what}: kind ${kind} in a model of input ${input}`);
  const out = { name: f.get("name"), kind, key_prefix: f.get("key_prefix"), norm: f.get("norm"), norm_table: f.get("norm_table") };
  if (!isStr(out.name)) schema(`${what}: name is not a string`);
  if (!isStr(out.key_prefix) || utf8Len(out.key_prefix) > 1024) schema(`${what}: key_prefix not a string of at most 1024 UTF-8 bytes`);
  if (!(out.norm === null || out.norm === "l1" || out.norm === "l2")) schema(`${what}: norm ${JSON.stringify(out.norm)}`);
  if (!(out.norm_table === null || isStr(out.norm_table))) schema(`${what}: norm_table is not a string or null`);
  if ((out.norm === null) !== (out.norm_table === null)) schema(`${what}: norm_table must be null exactly when norm is null`);
  if (!isNum(f.get("weight"))) schema(`${what}: weight is not a number`);
  if (kind === "dict") {
    const sep = f.get("separator");
    if (!isStr(sep) || utf8Len(sep) > 256) schema(`${what}: separator`);
    out.separator = sep;
    return out;
  }
  const an = f.get("analyzer");
  if (!["word", "char", "char_wb"].includes(an)) schema(`${what}: analyzer ${JSON.stringify(an)}`);
  const nr = f.get("ngram_range");
  if (!Array.isArray(nr) || nr.length !== 2 || !isInt(nr[0]) || !isInt(nr[1])) schema(`${what}: ngram_range is not two integers`);
  const lo = Number(BigInt(nr[0].raw)), hi = Number(BigInt(nr[1].raw));
  if (!(lo >= 1 && lo <= hi && hi <= 64 && hi - lo <= 15)) schema(`${what}: ngram_range [${lo}, ${hi}] out of range`);
  for (const m of ["lowercase", "binary", "sublinear_tf"]) if (typeof f.get(m) !== "boolean") schema(`${what}: ${m} is not a bool`);
  const sa = f.get("strip_accents");
  if (!(sa === null || sa === "ascii" || sa === "unicode")) schema(`${what}: strip_accents ${JSON.stringify(sa)}`);
  const de = f.get("decode_error");
  if (!["strict", "ignore", "replace"].includes(de)) schema(`${what}: decode_error ${JSON.stringify(de)}`);
  let tok;
  if (profile === 1) {
    const enc = f.get("encoding");
    if (!isStr(enc) || !["utf-8", "utf8"].includes(enc.replace(/[A-Z]/g, (c) => c.toLowerCase()))) schema(`${what}: encoding ${JSON.stringify(enc)} (profile 1: utf-8 only)`);
    const pat = f.get("token_pattern");
    if (an === "word") {
      if (!isStr(pat) || !PATTERNS.has(pat)) schema(`${what}: token_pattern ${JSON.stringify(pat)} has no portable tokenizer`);
      tok = PATTERNS.get(pat);
    } else if (pat !== null) schema(`${what}: token_pattern for analyzer ${an}`);
    else tok = null;
  } else {
    tok = f.get("tokenizer");
    if (an === "word" ? !TOKENIZERS.has(tok) : tok !== null) schema(`${what}: tokenizer ${JSON.stringify(tok)}`);
  }
  const sw = f.get("stop_words");
  let stopSet = null;
  if (sw !== null) {
    if (an !== "word") schema(`${what}: stop_words for analyzer ${an}`);
    if (!Array.isArray(sw) || sw.length > 65536 || !sw.every(isStr)) schema(`${what}: stop_words is not an array of at most 65536 strings`);
    stopSet = new Set(sw);
  }
  return Object.assign(out, { analyzer: an, ngram_range: [lo, hi], lowercase: f.get("lowercase"), strip_accents: sa, binary: f.get("binary"),
    sublinear_tf: f.get("sublinear_tf"), decode_error: de, tokenizer: tok, stopSet });
}

const ATTRS = new Set(["w", "raw", "shape", "sshape", "digit", "upper", "title"]);
for (let n = 1; n <= 8; n++) { ATTRS.add("p" + n); ATTRS.add("s" + n); }
const TAGGER_MEMBERS = ["tokenizer", "decode_error", "templates", "labels", "scheme", "state_table", "transitions", "estimator", "source"];

/** Schema checks of a profile 3 tagger object (v3 §2.2, §4.2, §5). */
export function checkTagger(t) {
  if (!isObj(t)) schema("tagger is not an object");
  exactMembers(t, TAGGER_MEMBERS, "tagger");
  const tokenizer = t.get("tokenizer");
  if (tokenizer !== "word_punct" && tokenizer !== "nonspace_runs") schema(`tagger tokenizer ${JSON.stringify(tokenizer)}`);
  const de = t.get("decode_error");
  if (!["strict", "ignore", "replace"].includes(de)) schema(`tagger decode_error ${JSON.stringify(de)}`);
  const tpl = t.get("templates");
  if (!Array.isArray(tpl) || tpl.length < 1 || tpl.length > 256) schema("templates: not an array of 1..256 templates");
  const seen = new Set(), templates = [];
  for (const x of tpl) {
    let norm;
    if (x === "bias" || x === "bos" || x === "eos") norm = x;
    else {
      if (!Array.isArray(x) || x.length < 1 || x.length > 4) schema("a template is not bias/bos/eos or 1..4 components");
      norm = x.map((c) => {
        if (!Array.isArray(c) || c.length !== 2 || !ATTRS.has(c[0]) || !isInt(c[1])) schema("a template component is not [attribute, offset]");
        const off = BigInt(c[1].raw);
        if (off < -8n || off > 8n) schema("a template offset is outside -8..8");
        return [c[0], Number(off)];
      });
    }
    const key = JSON.stringify(norm);
    if (seen.has(key)) schema("a template is repeated");
    seen.add(key);
    templates.push(norm);
  }
  const labels = t.get("labels");
  if (!Array.isArray(labels) || labels.length < 1 || labels.length > 1024 || !labels.every(isStr)) schema("labels: not 1..1024 strings");
  if (new Set(labels).size !== labels.length) schema("labels are not distinct");
  for (const l of labels) if (!(l === "O" || (/^[BI]-/.test(l) && l.length > 2))) schema(`label ${JSON.stringify(l)} is not BIO`);
  if (t.get("scheme") !== "bio") schema(`scheme ${JSON.stringify(t.get("scheme"))}`);
  for (const m of ["state_table", "transitions", "estimator"]) if (!isStr(t.get(m))) schema(`tagger ${m} is not a string`);
  if (!isObj(t.get("source"))) schema("tagger source is not an object");
  return { tokenizer, decode_error: de, templates, labels, state_table: t.get("state_table"), transitions: t.get("transitions") };
}

export const PROFILE3_MEMBERS = ["profile", "unicode", "classifier", "tagger"];
export { exactMembers, schema };
