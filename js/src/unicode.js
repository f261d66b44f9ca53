// Unicode 14.0.0 properties of NLU profile v2 §3, decoded from the generated js/src/unicode_data.js
// on first use: one byte of flags per code point (1.1 MB) and two Maps for the mappings.
import { WORD, SPACE, CASED, CASE_IGNORABLE, LOWERCASE, STRIP } from "./unicode_data.js";

export const F_WORD = 1, F_SPACE = 2, F_CASED = 4, F_IGNORABLE = 8, F_LOWER = 16, F_STRIP = 32;
export const FLAGS = new Uint8Array(0x110000); // filled by ensureUnicode()
export const LOWER_MAP = new Map();             // cp -> number (one code point) or number[]
export const STRIP_MAP = new Map();
let ready = false;

// `first`: FLAGS is still all zero, so a range can be filled at once (the word set's ranges cover
// about 140,000 code points: a byte loop over them is most of the start-up cost)
function setFlag(encoded, bit, first = false) {
  let prev = -1;
  for (const item of encoded.split(",")) {
    const dot = item.indexOf(".");
    const lo = prev + 1 + parseInt(item.slice(0, dot), 36), hi = lo + parseInt(item.slice(dot + 1), 36);
    if (first) FLAGS.fill(bit, lo, hi + 1);
    else for (let cp = lo; cp <= hi; cp++) FLAGS[cp] |= bit;
    prev = hi;
  }
}

function readMap(encoded, bit, map) {
  let prev = -1;
  for (const item of encoded.split(",")) {
    const colon = item.indexOf(":");
    const cp = prev + 1 + parseInt(item.slice(0, colon), 36);
    const rest = item.slice(colon + 1);
    const targets = rest === "" ? [] : rest.split(".").map((t) => cp + parseInt(t, 36));
    map.set(cp, targets.length === 1 ? targets[0] : targets);
    FLAGS[cp] |= bit;
    prev = cp;
  }
  return map;
}

export function ensureUnicode() {
  if (ready) return;
  ready = true;
  setFlag(WORD, F_WORD, true); setFlag(SPACE, F_SPACE); setFlag(CASED, F_CASED); setFlag(CASE_IGNORABLE, F_IGNORABLE);
  readMap(LOWERCASE, F_LOWER, LOWER_MAP);
}

let stripReady = false;
/** The strip mapping (the largest table) is decoded only for models that strip accents. */
export function ensureStrip() {
  ensureUnicode();
  if (stripReady) return;
  stripReady = true;
  readMap(STRIP, F_STRIP, STRIP_MAP);
}
