// NLU adapter protocol (conformance/README.md "NLU adapter protocol") over js/src/nlu.js.
import { readModelFile } from "./node.js";
import { open } from "./reader.js";
import { load, NluModel } from "./nlu.js";
import { FormatError, ProfileError, UsageError } from "./errors.js";
import { floatRepr } from "./profile.js";

const unhex = (s) => (s === "-" ? new Uint8Array(0) : new Uint8Array(Buffer.from(s, "hex")));
const num = (x) => (Number.isFinite(x) ? floatRepr(x) : "null");
const jstr = (s) => JSON.stringify(s);

function labelJson(nlu, j) { return nlu.labelJson(j); }

function answerOne(nlu, parts) {
  const [kind] = parts;
  try {
    if (kind === "score") {
      const d = nlu.decision(unhex(parts[1])), j = NluModel.argmax(d);
      let s = `{"label": ${labelJson(nlu, j)}, "decision": [${Array.from(d, num).join(", ")}]`;
      if (nlu.classifier.proba !== null) s += `, "proba": [${Array.from(nlu.probaOf(d), num).join(", ")}]`;
      return s + "}";
    }
    if (kind === "terms") {
      const tf = nlu.terms(unhex(parts[2]), Number(parts[1]));
      return `{"terms": [${Array.from(tf, ([t, v]) => `[${jstr(t)}, ${num(v)}]`).join(", ")}]}`;
    }
    if (kind === "tokens") return `{"tokens": [${nlu.tokens(unhex(parts[1])).map(([t, a, z]) => `[${jstr(t)}, ${a}, ${z}]`).join(", ")}]}`;
    if (kind === "features") {
      const lists = nlu.featureLists(unhex(parts[2])), i = Number(parts[1]);
      if (!(i >= 0 && i < lists.length)) throw new UsageError("E_USAGE", `no token ${i}`);
      return `{"features": [${lists[i].map(jstr).join(", ")}]}`;
    }
    if (kind === "parse") {
      const r = nlu.parse(unhex(parts[1]));
      let intent = "null";
      if (r.intent) {
        const j = NluModel.argmax(nlu.decision(unhex(parts[1])));
        intent = `{"name": ${labelJson(nlu, j)}, "score": ${num(r.intent.score)}}`;
      }
      const slots = r.slots.map((s) => `{"slot": ${jstr(s.slot)}, "value": ${jstr(s.value)}, "start": ${s.start}, "end": ${s.end}}`);
      return `{"intent": ${intent}, "slots": [${slots.join(", ")}]}`;
    }
    return `{"error": "UsageError", "message": ${jstr("unknown request " + kind)}}`;
  } catch (e) {
    if (e instanceof UsageError) return `{"error": ${jstr(e.code === "E_USAGE" ? "UsageError" : e.code)}, "message": ${jstr(e.detail.slice(0, 120))}}`;
    throw e;
  }
}

export function nluAnswer(path, stdin) {
  const reqs = stdin.split("\n").map((l) => l.trim().split(/\s+/)).filter((p) => p[0]);
  let nlu;
  try { nlu = load(open(readModelFile(path))); }
  catch (e) {
    if (e instanceof FormatError || e instanceof ProfileError) return `error ${e.code} ${e.detail.slice(0, 200)}\n`;
    throw e;
  }
  const lines = ["ok"];
  for (const p of reqs) lines.push(answerOne(nlu, p));
  lines.push("end");
  return lines.join("\n") + "\n";
}
