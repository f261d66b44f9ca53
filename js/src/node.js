// Node-only helpers: open a model by path (format §10: a path that is not a regular file is refused
// before reading a byte, with a UsageError).
import { openSync, fstatSync, readSync, closeSync, constants } from "node:fs";
import { open, validate } from "./reader.js";
import { UsageError } from "./errors.js";

/** The bytes of a regular file (refuses FIFOs, devices, sockets, directories without blocking). */
export function readModelFile(path) {
  let fd;
  try { fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK || 0)); }
  catch (e) { throw new UsageError("E_USAGE", `cannot open ${path}: ${e.code || e.message}`); }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UsageError("E_USAGE", `${path} is not a regular file`);
    const buf = new Uint8Array(new ArrayBuffer(st.size));
    let got = 0;
    while (got < st.size) {
      const n = readSync(fd, buf, got, st.size - got, got);
      if (n === 0) break;
      got += n;
    }
    return got === st.size ? buf : buf.subarray(0, got);
  } finally { closeSync(fd); }
}

export function openFile(path, options) { return open(readModelFile(path), options); }
export function validateFile(path, options) { return validate(readModelFile(path), options); }
