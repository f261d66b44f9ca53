// The reader against the format conformance goldens (conformance/v1.0, v1.1), through the API
// rather than the adapter, plus API behaviour (usage errors, batch lookups, JSON strictness).
import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { open, validate, FormatError, UsageError } from "../src/index.js";
import { parseStrict } from "../src/json.js";
import { CONF, haveConformance, readJson, bytesOf, hex, unhex } from "./util.js";

function answer(bytes, probes, maxMinor = 1) {
  let m;
  try { m = validate(bytes, { maxMinor }); } catch (e) { if (e instanceof FormatError) return `error ${e.code}`; throw e; }
  try {
    const lines = ["ok", "meta " + hex(m.metadataBytes)];
    for (const name of m.tensorNames) { const t = m.tensor(name); lines.push(`tensor ${hex(new TextEncoder().encode(name))} ${t.dtype} ${t.shape.length ? t.shape.join(",") : "-"} ${hex(t.bytes)}`); }
    for (const t of m.tables.values()) lines.push(`table ${hex(new TextEncoder().encode(t.name))} ${t.numKeys} ${t.dim} ${t.quant}`);
    for (const [tn, key] of probes) {
      const t = m.table(new TextDecoder().decode(unhex(tn))), s = t.slot(unhex(key));
      lines.push(s < 0 ? "absent" : `found ${s} ${hex(t.rawAt(s))} ${hex(new Uint8Array(t.rowAt(s).buffer))}`);
    }
    lines.push("end");
    return lines.join("\n");
  } catch (e) { if (e instanceof FormatError) return `error ${e.code}`; throw e; }
}

for (const version of ["v1.0", "v1.1"]) {
  test(`format conformance suite ${version}: every file`, { skip: !haveConformance && "conformance/ not beside js/" }, () => {
    const dir = path.join(CONF, version), man = readJson(path.join(dir, "manifest.json"));
    let n = 0;
    for (const f of man.files) {
      const file = path.join(dir, f.file), stem = file.replace(/\.phq$/, "");
      const probes = existsSync(stem + ".probes") ? readFileSync(stem + ".probes", "utf8").split("\n").filter((l) => l.trim()).map((l) => l.trim().split(/\s+/)) : [];
      const got = answer(bytesOf(file), probes);
      if (f.expect === "accept") assert.equal(got, readFileSync(stem + ".expected", "utf8").trimEnd(), f.file);
      else if (Array.isArray(f.expect)) assert.ok(f.expect.some((e) => (e === "accept" ? got.startsWith("ok") : got === `error ${e}`)), f.file);
      else assert.equal(got, `error ${f.expect}`, f.file);
      n++;
    }
    assert.ok(n >= 40);
  });
}

test("a 1.0 reader refuses every 1.1 feature with E_FEATURE", { skip: !haveConformance && "no conformance/" }, () => {
  const dir = path.join(CONF, "v1.1");
  for (const f of readJson(path.join(dir, "manifest.json")).files) {
    const b = bytesOf(path.join(dir, f.file));
    if (b.length < 64) continue;
    const req = new DataView(b.buffer, b.byteOffset).getBigUint64(16, true);
    if (req & 3n) assert.equal(answer(b, [], 0), "error E_FEATURE", f.file);
  }
});

test("API: get / raw / batch lookup / usage errors", { skip: !haveConformance && "no conformance/" }, () => {
  const dir = path.join(CONF, "v1.0", "valid");
  const m = open(bytesOf(path.join(dir, "y_linear8_column_sparse.phq")));
  const [name] = m.tableNames, t = m.table(name);
  const probes = readFileSync(path.join(dir, "y_linear8_column_sparse.probes"), "utf8").split("\n").filter(Boolean).map((l) => unhex(l.split(" ")[1]));
  const { rows, found, slots } = t.lookup(probes);
  let hits = 0;
  probes.forEach((k, i) => {
    const r = t.get(k);
    assert.equal(found[i], r ? 1 : 0);
    if (r) { hits++; assert.deepEqual(Array.from(rows.subarray(i * t.dim, (i + 1) * t.dim)), Array.from(r)); assert.equal(slots[i], t.slot(k)); }
  });
  assert.ok(hits > 0 && hits < probes.length);
  assert.throws(() => m.table("no such table"), UsageError);
  assert.throws(() => t.slot(42), UsageError);
  assert.throws(() => open("not bytes"), UsageError);
});

test("signature errors (§3.1)", () => {
  const code = (b) => { try { open(new Uint8Array(b)); return "ok"; } catch (e) { return e.code; } };
  assert.equal(code([]), "E_TRUNCATED");
  assert.equal(code([0x89, 0x50, 0x48]), "E_TRUNCATED");
  assert.equal(code([0x0d, 0x50, 0x48, 0x51, 0, 0, 0, 0, 0]), "E_TEXT_MODE");
  const lfs = new TextEncoder().encode("version https://git-lfs.github.com/spec/v1\n");
  assert.equal(code(lfs), "E_SIGNATURE");
  try { open(lfs); } catch (e) { assert.match(e.message, /LFS/); }
});

test("strict JSON of META (§5.2)", () => {
  const ok = (t) => { try { parseStrict(t); return true; } catch { return false; } };
  for (const t of ['{"a":1}', ' {"a":[1,2,{"b":null}]}\n', '{"a":1e400}', '{"s":"\\ud800"}', '{"a":-0.5E+3}']) assert.ok(ok(t), t);
  for (const t of ['{"a":1,"a":2}', '{"a":01}', '{"a":NaN}', '{"a":Infinity}', '{"a":1,}', '\ufeff{}', '{"a":"\u0001"}', "", '{"a":1} x', '{"\\u0061":1,"a":2}'])
    assert.ok(!ok(t), t);
  const deep = (d) => '{"a":' + "[".repeat(d - 1) + "]".repeat(d - 1) + "}";
  assert.ok(ok(deep(64))); assert.ok(!ok(deep(65)));
  assert.ok(!ok('{"a":' + "[".repeat(100000)), "deep nesting is refused without recursion");
});

test("a Node Buffer at any byte offset (readFileSync's pooled buffers) reads like the same bytes aligned", { skip: !haveConformance && "no conformance/" }, () => {
  const file = path.join(CONF, "v1.0", "valid", "y_full_model.phq");
  const aligned = bytesOf(file), want = answer(aligned, []);
  for (const off of [1, 3, 4, 8]) {
    const pool = Buffer.alloc(aligned.length + 16);
    pool.set(aligned, off);
    const buf = pool.subarray(off, off + aligned.length); // a Buffer, byteOffset = off
    assert.equal(answer(buf, []), want, `offset ${off}`);
    const m = open(buf);
    for (const n of m.tensorNames) {
      assert.deepEqual(m.tensor(n).bytes, open(aligned).tensor(n).bytes);
      assert.deepEqual(Array.from(m.tensor(n).data), Array.from(open(aligned).tensor(n).data), n);
    }
  }
  assert.equal(answer(readFileSync(file), []), want);
});
