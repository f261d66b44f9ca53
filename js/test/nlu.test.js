// NLU profile known-answer vectors (spec/nlu-profile-v2.md §14, nlu-profile-v3.md §13) and the NLU
// conformance suite (conformance/nlu) through the API.
import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { open, load, NluModel, viterbi, labelSpans, tokenFeatures, decodeUtf8, stringToCodePoints, preprocess, analyze, tokenSpans, lowercase, ProfileError, FormatError, UsageError } from "../src/index.js";
import { cpString } from "../src/text.js";
import { CONF, haveConformance, readJson, bytesOf, unhex } from "./util.js";

const feat = (o) => ({ analyzer: "word", ngram_range: [1, 1], lowercase: true, strip_accents: null, tokenizer: "word_runs_min2", stopSet: null, ...o });
const terms = (text, f) => {
  const out = [], cps = typeof text === "string" ? stringToCodePoints(text) : text;
  analyze(preprocess(cps, f), f, (t) => out.push(t));
  return out;
};
const uniq = (a) => [...new Set(a)];

test("profile v2 §14: text -> terms", () => {
  assert.deepEqual(terms("Play THE Beatles, a song", feat({})), ["play", "the", "beatles", "song"]);
  assert.deepEqual(terms("a b_c 3", feat({ tokenizer: "word_runs_min1" })), ["a", "b_c", "3"]);
  assert.deepEqual(terms("hi,\u3000there!\u00a0x", feat({ tokenizer: "nonspace_runs", lowercase: false })), ["hi,", "there!", "x"]);
  assert.deepEqual(uniq(terms("play the beatles", feat({ ngram_range: [1, 2], stopSet: new Set(["the"]) }))), ["play", "beatles", "play beatles"]);
  assert.deepEqual(terms("ΟΔΟΣ ΣΑ", feat({})), ["οδος", "σα"]);
  assert.deepEqual(terms("İstanbul", feat({})), ["stanbul"]);
  assert.deepEqual(terms("İstanbul Ærø ﬁne", feat({ strip_accents: "unicode" })), ["istanbul", "ærø", "fine"]);
  assert.deepEqual(terms("café ½ ŀ", feat({ strip_accents: "ascii", lowercase: false })), ["cafe", "12"]);
  assert.deepEqual(terms("ab  c", feat({ analyzer: "char", ngram_range: [2, 3], lowercase: false })), ["ab", "b ", " c", "ab ", "b c"]);
  assert.deepEqual(terms("ab c", feat({ analyzer: "char_wb", ngram_range: [2, 3] })), [" a", "ab", "b ", " ab", "ab ", " c", "c ", " c "]);
  assert.deepEqual(terms(decodeUtf8(new Uint8Array([0x61, 0x62, 0xff, 0x63, 0x64]), "replace"), feat({})), ["ab", "cd"]);
  // Hangul syllables decompose algorithmically (§5.2)
  assert.deepEqual(terms("한글", feat({ strip_accents: "unicode", tokenizer: "nonspace_runs" })), ["\u1112\u1161\u11ab\u1100\u1173\u11af"]);
});

test("profile v2 §4: UTF-8 decoding with maximal subparts", () => {
  const d = (bytes, mode) => { const r = decodeUtf8(new Uint8Array(bytes), mode); return r && Array.from(r); };
  assert.deepEqual(d([0xe2, 0x82, 0xac], "strict"), [0x20ac]);
  assert.equal(d([0xc0, 0xaf], "strict"), null);
  assert.deepEqual(d([0xc0, 0xaf], "replace"), [0xfffd, 0xfffd]);               // C0 and lone AF
  assert.deepEqual(d([0xe2, 0x82, 0x41], "replace"), [0xfffd, 0x41]);           // truncated 3-byte: one subpart
  assert.deepEqual(d([0xed, 0xa0, 0x80], "replace"), [0xfffd, 0xfffd, 0xfffd]); // encoded surrogate
  assert.deepEqual(d([0xf0, 0x90, 0x80], "replace"), [0xfffd]);                 // truncated 4-byte at the end
  assert.deepEqual(d([0xf4, 0x90, 0x80, 0x80], "ignore"), []);                  // above U+10FFFF
  assert.deepEqual(d([0xef, 0xbb, 0xbf, 0x61], "strict"), [0xfeff, 0x61]);      // BOM kept
  assert.deepEqual(d([0xf0, 0x9f, 0x98, 0x80], "strict"), [0x1f600]);
  assert.deepEqual(Array.from(stringToCodePoints("a\ud800b\ud83d\ude00")), [0x61, 0xd800, 0x62, 0x1f600]);
});

test("profile v3 §13: tokens, attributes, feature lists, Viterbi and spans", () => {
  const toks = (text, tk = "word_punct") => { const D = typeof text === "string" ? stringToCodePoints(text) : text, s = tokenSpans(D, tk), o = []; for (let i = 0; i < s.length; i += 2) o.push([cpString(D, s[i], s[i + 1]), s[i], s[i + 1]]); return o; };
  assert.deepEqual(toks("Play Yesterday by the Beatles"), [["Play", 0, 4], ["Yesterday", 5, 14], ["by", 15, 17], ["the", 18, 21], ["Beatles", 22, 29]]);
  assert.deepEqual(toks("7:30pm İstanbul!"), [["7", 0, 1], [":", 1, 2], ["30pm", 2, 6], ["İstanbul", 7, 15], ["!", 15, 16]]);
  assert.deepEqual(toks("don't  STOP-me"), [["don", 0, 3], ["'", 3, 4], ["t", 4, 5], ["STOP", 7, 11], ["-", 11, 12], ["me", 12, 14]]);
  assert.deepEqual(toks("  "), []);
  assert.deepEqual(toks("don't  STOP-me", "nonspace_runs"), [["don't", 0, 5], ["STOP-me", 7, 14]]);
  assert.deepEqual(toks(decodeUtf8(new Uint8Array([0x61, 0xff, 0x62, 0x20, 0x63]), "replace")), [["a", 0, 1], ["\ufffd", 1, 2], ["b", 2, 3], ["c", 4, 5]]);
  assert.deepEqual(toks(decodeUtf8(new Uint8Array([0x61, 0xff, 0x62, 0x20, 0x63]), "ignore")), [["ab", 0, 2], ["c", 3, 4]]);
  const one = (text, tpl) => { const D = stringToCodePoints(text); return tokenFeatures(D, tokenSpans(D, "nonspace_runs"), [tpl])[0][0]; };
  assert.equal(one("Ab9_é中ǅİ-", [["shape", 0]]), "shape=XxdwxwXX-");
  assert.equal(one("İ", [["w", 0]]), "w=i\u0307");
  assert.equal(one("ΟΔΟΣ", [["w", 0]]), "w=οδος");
  assert.equal(one("ǅungla", [["title", 0]]), "title=1");
  const T = ["bias", "bos", "eos", [["w", 0]], [["w", -1]], [["p2", 0]], [["s3", 0]], [["shape", 0]], [["sshape", 0]], [["digit", 0]], [["upper", 0]], [["title", 0]], [["w", 0], ["w", 1]]];
  const D = stringToCodePoints("Play THE Beatles");
  assert.deepEqual(tokenFeatures(D, tokenSpans(D, "word_punct"), T), [
    ["bias", "bos", "w=play", "p2=pl", "s3=lay", "shape=Xxxx", "sshape=Xx", "digit=0", "upper=0", "title=1", "w=play|w+1=the"],
    ["bias", "w=the", "w-1=play", "p2=th", "s3=the", "shape=XXX", "sshape=X", "digit=0", "upper=1", "title=0", "w=the|w+1=beatles"],
    ["bias", "eos", "w=beatles", "w-1=the", "p2=be", "s3=les", "shape=Xxxxxxx", "sshape=Xx", "digit=0", "upper=0", "title=1"],
  ]);
  const D2 = stringToCodePoints("7:30pm");
  assert.deepEqual(tokenFeatures(D2, tokenSpans(D2, "word_punct"), T)[2], ["bias", "eos", "w=30pm", "w-1=:", "p2=30", "s3=0pm", "shape=ddxx", "sshape=dx", "digit=0", "upper=0", "title=0"]);
  const labels = ["O", "B-a", "I-a"], Tr = new Float64Array(9); Tr[0 * 3 + 2] = -5;
  const run = (rows) => viterbi(Float64Array.from(rows.flat()), rows.length, 3, Tr);
  const sp = [0, 4, 5, 14, 15, 17, 18, 21];
  assert.deepEqual(run([[1, 0, 0], [0, 2, 0], [0, 0, 3]]), [0, 1, 2]);
  assert.deepEqual(labelSpans([0, 1, 2], labels, sp), [{ slot: "a", start: 5, end: 17 }]);
  assert.deepEqual(run([[0, 0, 0], [0, 0, 0]]), [0, 0]);
  assert.deepEqual(run([[3, -9, -9], [0, 0, 6]]), [0, 2]);
  assert.deepEqual(labelSpans([0, 2], labels, sp), [{ slot: "a", start: 5, end: 14 }]);
  const p4 = run([[0, 1, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1]]);
  assert.deepEqual(p4, [1, 2, 1, 2]);
  assert.deepEqual(labelSpans(p4, labels, sp), [{ slot: "a", start: 0, end: 14 }, { slot: "a", start: 15, end: 21 }]);
});

test("lowercase: Final_Sigma looks past case-ignorable code points", () => {
  assert.equal(cpString(lowercase(stringToCodePoints("AΣ'"))), "aς'");
  assert.equal(cpString(lowercase(stringToCodePoints("AΣ'b"))), "aσ'b");
  assert.equal(cpString(lowercase(stringToCodePoints("Σ"))), "σ");
});

const close = (a, b) => (a === null || b === null ? a === b : Math.abs(a - b) <= 1e-9 + 1e-9 * Math.abs(b));

test("NLU conformance suite through the API", { skip: !haveConformance && "no conformance/" }, () => {
  const dir = path.join(CONF, "nlu"), man = readJson(path.join(dir, "manifest.json"));
  const hard = readFileSync(path.join(dir, "hard_strings.txt"), "utf8").split("\n");
  let cases = 0;
  for (const e of man.models) {
    let nlu;
    try { nlu = load(open(bytesOf(path.join(dir, e.file)))); }
    catch (err) {
      assert.ok(err instanceof ProfileError || err instanceof FormatError, e.file);
      if (e.expect === "accept-or-unsupported") { assert.equal(err.code, "E_NLU_UNSUPPORTED"); continue; }
      assert.equal(err.code, e.expect, e.file); continue;
    }
    assert.equal(e.expect, "accept", `${e.file} accepted`);
    const reqs = readFileSync(path.join(dir, e.requests), "utf8").split("\n").filter(Boolean);
    const exp = readFileSync(path.join(dir, e.expected), "utf8").split("\n").filter((l) => l && l !== "end").map((l) => JSON.parse(l));
    reqs.forEach((r, i) => {
      const parts = r.split(" "), text = unhex(hard[Number(parts[parts.length - 1].slice(1))]), want = exp[i];
      const call = {
        score: () => nlu.decision(text),
        terms: () => nlu.terms(text, Number(parts[1])),
        tokens: () => nlu.tokens(text),
        parse: () => nlu.parse(text),
        features: () => { const l = nlu.featureLists(text)[Number(parts[1])]; if (!l) throw new UsageError("E_USAGE", "no token"); return l; },
      }[parts[0]];
      if (want.error) { assert.throws(call, UsageError, `${e.file} ${r}`); cases++; return; }
      if (parts[0] === "tokens") {
        assert.deepEqual(nlu.tokens(text).map(([t, a, z]) => [t, a, z]), want.tokens, `${e.file} ${r}`);
      } else if (parts[0] === "features") {
        assert.deepEqual([...call()], want.features, `${e.file} ${r}`);
      } else if (parts[0] === "parse") {
        const got = nlu.parse(text);
        assert.deepEqual(got.slots.map((x) => ({ slot: x.slot, value: x.value, start: x.start, end: x.end })), want.slots, `${e.file} ${r}`);
        assert.equal(got.intent === null, want.intent === null, `${e.file} ${r}`);
        if (got.intent) {
          assert.equal(JSON.parse(nlu.labelJson(NluModel.argmax(nlu.decision(text)))), want.intent.name, `${e.file} ${r}`);
          assert.ok(close(Number.isFinite(got.intent.score) ? got.intent.score : null, want.intent.score), `${e.file} ${r}`);
        }
      } else if (parts[0] === "terms") {
        const got = [...nlu.terms(text, Number(parts[1]))];
        assert.deepEqual(got.map((x) => x[0]), want.terms.map((x) => x[0]), `${e.file} ${r}`);
        got.forEach(([, v], j) => assert.ok(close(v, want.terms[j][1])));
      } else {
        const d = nlu.decision(text), j = NluModel.argmax(d);
        assert.equal(JSON.parse(nlu.labelJson(j)), want.label, `${e.file} ${r}`);
        Array.from(d).forEach((v, c) => assert.ok(close(Number.isFinite(v) ? v : null, want.decision[c]), `${e.file} ${r}`));
        if (want.proba) Array.from(nlu.probaOf(d)).forEach((v, c) => assert.ok(close(v, want.proba[c])));
      }
      cases++;
    });
  }
  assert.ok(cases > 5000, `${cases} cases`);
});

test("parse() of a classifier-only model: intent with its score, no slots; tagger calls are usage errors", { skip: !haveConformance && "no conformance/" }, () => {
  const nlu = load(open(bytesOf(path.join(CONF, "nlu", "y_word2_lower_tfidf_l2_softmax.phq"))));
  const r = nlu.parse("play the beatles");
  assert.deepEqual(r.slots, []);
  assert.equal(r.intent.name, nlu.predict("play the beatles"));
  assert.ok(close(r.intent.score, Math.max(...nlu.predictProba("play the beatles"))));
  assert.throws(() => nlu.tokens("x"), UsageError);
  assert.equal(nlu.top("play the beatles", 2)[0].label, r.intent.name);
});
