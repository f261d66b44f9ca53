// Strict RFC 8259 JSON for META (format §5.2): UTF-8 checked by the caller; white space is
// space/tab/LF/CR; no NaN/Infinity; no leading zeros; no unescaped control characters; duplicate
// member names (after escapes) refused; nesting at most 64 levels. Iterative (no recursion), so a
// hostile 16 MiB text cannot exhaust the stack. Numbers are returned as `JsonNumber` (value plus
// source text) so a runtime can read integers beyond 2^53 exactly (NLU labels, profile v2 §2.1).

export class JsonNumber {
  constructor(raw) { this.raw = raw; this.value = Number(raw); }
  /** true when written without fraction or exponent (profile v2 §2: "an integer"). */
  get isInteger() { return !/[.eE]/.test(this.raw); }
  toJSON() { return this.value; }
}

export class JsonSyntaxError extends Error {}

const MAX_DEPTH = 64;

/** Parse `text` (a JS string decoded from valid UTF-8). Objects are Maps (member order kept). */
export function parseStrict(text) {
  let i = 0;
  const n = text.length;
  const fail = (msg) => { throw new JsonSyntaxError(`${msg} at offset ${i}`); };
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++; else break;
    }
  };
  const parseString = () => {
    // text[i] === '"'
    i++;
    let out = "", start = i;
    for (;;) {
      if (i >= n) fail("unterminated string");
      const c = text.charCodeAt(i);
      if (c === 0x22) { out += text.slice(start, i); i++; return out; }
      if (c < 0x20) fail("control character in string");
      if (c === 0x5c) {
        out += text.slice(start, i);
        const e = text[i + 1];
        i += 2;
        switch (e) {
          case '"': out += '"'; break;
          case "\\": out += "\\"; break;
          case "/": out += "/"; break;
          case "b": out += "\b"; break;
          case "f": out += "\f"; break;
          case "n": out += "\n"; break;
          case "r": out += "\r"; break;
          case "t": out += "\t"; break;
          case "u": {
            const h = text.slice(i, i + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(h)) fail("bad \\u escape");
            out += String.fromCharCode(parseInt(h, 16));
            i += 4;
            break;
          }
          default: i -= 1; fail("bad escape");
        }
        start = i;
      } else i++;
    }
  };
  const NUM = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
  const parseScalar = () => {
    const c = text[i];
    if (c === '"') return parseString();
    if (text.startsWith("true", i)) { i += 4; return true; }
    if (text.startsWith("false", i)) { i += 5; return false; }
    if (text.startsWith("null", i)) { i += 4; return null; }
    NUM.lastIndex = i;
    const m = NUM.exec(text);
    if (!m) fail("unexpected character");
    i += m[0].length;
    return new JsonNumber(m[0]);
  };
  // explicit stack of containers: {kind: 'a'|'o', value, key}
  const stack = [];
  let result, have = false;
  ws();
  for (;;) {
    let value;
    const c = text[i];
    if (c === "{" || c === "[") {
      if (stack.length + 1 > MAX_DEPTH) fail("nesting deeper than 64");
      i++; ws();
      const frame = c === "{" ? { kind: "o", value: new Map(), key: null } : { kind: "a", value: [], key: null };
      stack.push(frame);
      if (text[i] === (c === "{" ? "}" : "]")) { i++; stack.pop(); value = frame.value; }
      else {
        if (frame.kind === "o") {
          if (text[i] !== '"') fail("expected member name");
          frame.key = parseString(); ws();
          if (text[i] !== ":") fail("expected ':'");
          i++; ws();
        }
        continue;
      }
    } else {
      if (i >= n) fail("unexpected end");
      value = parseScalar();
    }
    // attach value, then close containers as far as possible
    for (;;) {
      if (stack.length === 0) { result = value; have = true; break; }
      const top = stack[stack.length - 1];
      if (top.kind === "a") top.value.push(value);
      else {
        if (top.value.has(top.key)) fail("duplicate member name");
        top.value.set(top.key, value);
      }
      ws();
      if (text[i] === ",") {
        i++; ws();
        if (top.kind === "o") {
          if (text[i] !== '"') fail("expected member name");
          top.key = parseString(); ws();
          if (text[i] !== ":") fail("expected ':'");
          i++; ws();
        }
        value = undefined;
        break;
      }
      if (text[i] === (top.kind === "a" ? "]" : "}")) { i++; stack.pop(); value = top.value; continue; }
      fail("expected ',' or end of container");
    }
    if (have) break;
  }
  ws();
  if (i !== n) fail("trailing characters");
  return result;
}

/** The plain JS value of a parsed tree (objects as plain objects, numbers as numbers). */
export function toPlain(v) {
  if (v instanceof JsonNumber) return v.value;
  if (Array.isArray(v)) return v.map(toPlain);
  if (v instanceof Map) {
    const o = Object.create(null);
    for (const [k, x] of v) Object.defineProperty(o, k, { value: toPlain(x), enumerable: true, writable: true, configurable: true });
    return o;
  }
  return v;
}
