#!/usr/bin/env node
// Conformance adapter (conformance/README.md "Reader protocol" and "NLU adapter protocol").
//   node js/bin/phq-conform.js FILE            format suites: probes on stdin
//   node js/bin/phq-conform.js --nlu MODEL     NLU suite: requests on stdin
//   node js/bin/phq-conform.js --max-version 1.0 FILE   as a 1.0 reader
import { readFileSync, writeSync } from "node:fs";
import { readModelFile } from "../src/node.js";
import { validate } from "../src/reader.js";
import { FormatError } from "../src/errors.js";

const hex = (u8) => (u8 && u8.length ? Buffer.from(u8.buffer, u8.byteOffset, u8.length).toString("hex") : "-");
const unhex = (s) => (s === "-" ? new Uint8Array(0) : new Uint8Array(Buffer.from(s, "hex")));
const out = (text) => { const b = Buffer.from(text, "utf8"); let o = 0; while (o < b.length) o += writeSync(1, b, o); };

function formatAnswer(path, stdin, maxMinor) {
  const probes = stdin.split("\n").filter((l) => l.trim()).map((l) => l.trim().split(/\s+/));
  let model;
  try { model = validate(readModelFile(path), { maxMinor }); }
  catch (e) { if (e instanceof FormatError) return `error ${e.code} ${e.detail}\n`; throw e; }
  try {
    const lines = ["ok", "meta " + hex(model.metadataBytes)];
    for (const name of model.tensorNames) {
      const t = model.tensor(name);
      lines.push(`tensor ${hex(new TextEncoder().encode(name))} ${t.dtype} ${t.shape.length ? t.shape.join(",") : "-"} ${hex(t.bytes)}`);
    }
    for (const t of model.tables.values()) lines.push(`table ${hex(new TextEncoder().encode(t.name))} ${t.numKeys} ${t.dim} ${t.quant}`);
    for (const [tname, key] of probes) {
      const t = model.table(new TextDecoder().decode(unhex(tname)));
      const slot = t.slot(unhex(key));
      if (slot < 0) { lines.push("absent"); continue; }
      const deq = t.rowAt(slot);
      lines.push(`found ${slot} ${hex(t.rawAt(slot))} ${hex(new Uint8Array(deq.buffer))}`);
    }
    lines.push("end");
    return lines.join("\n") + "\n";
  } catch (e) {
    if (e instanceof FormatError) return `error ${e.code} ${e.detail}\n`;
    throw e;
  }
}

async function main(argv) {
  let mode = "format", maxMinor = 2;
  const args = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--nlu") mode = "nlu";
    else if (argv[i] === "--max-version") maxMinor = Number(String(argv[++i]).split(".")[1] || 0);
    else args.push(argv[i]);
  }
  if (args.length !== 1) { process.stderr.write("usage: phq-conform.js [--nlu] [--max-version 1.0] FILE < requests\n"); return 2; }
  const stdin = readFileSync(0, "utf8");
  if (mode === "format") { out(formatAnswer(args[0], stdin, maxMinor)); return 0; }
  const { nluAnswer } = await import("../src/conform_nlu.js");
  out(nluAnswer(args[0], stdin));
  return 0;
}

main(process.argv.slice(2)).then((rc) => { process.exitCode = rc; }, (e) => {
  // an unexpected exception is a bug of this reader: report it on the protocol's first line
  out(`error E_INTERNAL ${String(e && e.stack || e).split("\n").join(" | ")}\n`);
  process.exitCode = 3;
});
