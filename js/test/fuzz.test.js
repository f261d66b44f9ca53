// Mutation fuzzing (fixed seed): hostile files never make the reader or the NLU runtime throw
// anything but their typed errors (format spec §17), whatever byte changes. Header and
// section-table checksums are recomputed after each mutation so the checks behind them run too.
import test from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import path from "node:path";
import { validate, open, load, crc32c, FormatError, ProfileError, UsageError } from "../src/index.js";
import { CONF, haveConformance, bytesOf } from "./util.js";

function rng(seed) { let s = seed >>> 0; return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; }; }

function fixCrcs(b) {
  if (b.length < 64) return;
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const count = dv.getUint32(48, true);
  if (64 + 32 * count <= b.length) dv.setUint32(52, crc32c(b, 64, 64 + 32 * count), true);
  dv.setUint32(60, crc32c(b, 0, 60), true);
}

const typed = (e) => e instanceof FormatError || e instanceof ProfileError || e instanceof UsageError;

test("mutated format goldens: only FormatError, from validate and from lookups", { skip: !haveConformance && "no conformance/" }, () => {
  const dir = path.join(CONF, "v1.1", "valid"), rand = rng(18);
  const files = readdirSync(dir).filter((f) => f.endsWith(".phq")).concat(readdirSync(path.join(CONF, "v1.0", "valid")).filter((f) => f.endsWith(".phq")).map((f) => "../../v1.0/valid/" + f));
  let runs = 0, refused = 0;
  for (const f of files) {
    const orig = bytesOf(path.join(dir, f));
    for (let i = 0; i < 60; i++) {
      const b = orig.slice();
      const n = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < n; k++) {
        // bias towards the header, the section table and the first descriptors
        const span = rand() < 0.6 ? Math.min(b.length, 64 + 32 * 40 + 256) : b.length;
        const at = Math.floor(rand() * span);
        const r = rand();
        b[at] = r < 0.4 ? b[at] ^ (1 << Math.floor(rand() * 8)) : r < 0.7 ? Math.floor(rand() * 256) : r < 0.85 ? 0xff : 0;
      }
      if (rand() < 0.8) fixCrcs(b);
      const cut = rand() < 0.1 ? b.subarray(0, Math.floor(rand() * b.length)) : b;
      runs++;
      try {
        const m = open(cut);
        for (const t of m.tables.values()) for (const key of ["play", "", "w=the", "x".repeat(40)]) { const s = t.slot(key); if (s >= 0) { t.rowAt(s); t.rawAt(s); } }
        m.validate();
        m.metadata;
      } catch (e) {
        if (!(e instanceof FormatError)) throw new Error(`${f} mutation ${i}: ${e && e.stack}`);
        refused++;
      }
    }
  }
  assert.ok(runs > 1000 && refused > runs / 2, `${refused} of ${runs} refused`);
});

test("mutated NLU models: only typed errors from load and scoring", { skip: !haveConformance && "no conformance/" }, () => {
  const dir = path.join(CONF, "nlu"), rand = rng(7);
  const files = readdirSync(dir).filter((f) => f.startsWith("y_") && f.endsWith(".phq"));
  let runs = 0;
  for (const f of files) {
    const orig = bytesOf(path.join(dir, f));
    for (let i = 0; i < 40; i++) {
      const b = orig.slice();
      for (let k = 0; k < 3; k++) { const at = Math.floor(rand() * b.length); b[at] = Math.floor(rand() * 256); }
      fixCrcs(b);
      runs++;
      try {
        const nlu = load(open(b));
        for (const t of ["play the beatles", "", "ΟΔΟΣ İstanbul ﬁne 한글", new Uint8Array([0x61, 0xff, 0x62])]) { nlu.decision(t); }
      } catch (e) {
        if (!typed(e)) throw new Error(`${f} mutation ${i}: ${e && e.stack}`);
      }
    }
  }
  assert.ok(runs > 300);
});
