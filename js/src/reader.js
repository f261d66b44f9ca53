// phq format reader, versions 1.0 and 1.1 (spec/format-v1.0.md, spec/format-v1.1.md).
// open(bytes) performs every structural check of §10.1 in order (cost independent of the payload);
// validate(bytes) adds §10.2 (padding, CRC32C, finite values, MPH internals, sparse order, 1.1 nibble
// and codebook checks). Lookups perform §10.3. Sizes are compared exactly (BigInt at open only).

import { FormatError, UsageError } from "./errors.js";
import { crc32c } from "./crc32c.js";
import { murmur3, H, mulhi32, fmixHi } from "./murmur.js";
import { parseStrict, toPlain, JsonSyntaxError } from "./json.js";

const SIGNATURE = [0x89, 0x50, 0x48, 0x51, 0x0d, 0x0a, 0x1a, 0x0a];
const NONE = 0xffffffff;
export const KIND = { META: 1, TENSOR: 2, TABLE: 0x10, MPH_PARTITIONS: 0x11, MPH_LEVELS: 0x12, MPH_BITMAP: 0x13,
  MPH_RANK: 0x14, MPH_FALLBACK: 0x15, FINGERPRINTS: 0x16, SCALES: 0x17, ROWS: 0x18, ROW_INDEX: 0x19, COLUMNS: 0x1a, CODEBOOK: 0x1b };
const PART_KINDS = new Set([0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f]);
export const QUANT_NAMES = ["f32", "f16", "linear8", "linear4", "codebook4", "codebook8"];
export const DTYPES = [null, "f32", "f16", "f64", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64"];
const DTYPE_SIZE = [0, 4, 2, 8, 1, 2, 4, 8, 1, 2, 4, 8];
const FEATURE_LINEAR4 = 1n, FEATURE_CODEBOOK = 2n, FEATURE_COMPACT_SPARSE = 4n; // 1.1 §1, 1.2 §1
const META_LIMIT = 16777216n;
const FLT_MAX = 3.4028234663852886e38;

const fail = (code, msg) => { throw new FormatError(code, msg); };
const align64 = (x) => (x + 63n) & ~63n;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }); // keep a leading U+FEFF (WHATWG strips it by default)
const enc = new TextEncoder();

function isUtf8(bytes) { try { utf8.decode(bytes); return true; } catch { return false; } }

/** IEEE binary16 bits -> number (exact). */
export function f16ToNumber(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >>> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * f * 5.960464477539063e-8; // 2^-24
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1024 + f) * Math.pow(2, e - 25);
}

function knownKinds(maxMinor) {
  const k = new Set([1, 2, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a]);
  if (maxMinor >= 1) k.add(0x1b);
  if (maxMinor >= 2) for (const x of [0x1c, 0x1d, 0x1e, 0x1f]) k.add(x); // 1.2 §2
  return k;
}

/** Options: {maxMinor: 2} reads as a 1.x reader of that minor (0: a 1.0 reader, 1: a 1.1 reader). */
export function open(input, options = {}) {
  const maxMinor = options.maxMinor ?? 2;
  let bytes = input instanceof Uint8Array ? input : input instanceof ArrayBuffer ? new Uint8Array(input) : null;
  if (!bytes) throw new UsageError("E_USAGE", "open() takes a Uint8Array or an ArrayBuffer");
  // a plain Uint8Array (a Node Buffer's slice() is a view, not a copy), copied when it is not 8-byte
  // aligned: the typed views below need natural alignment (Node's readFileSync may return a pooled Buffer)
  bytes = bytes.byteOffset % 8 ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return new Model(bytes, maxMinor);
}

/** open() then every check of §10.2. */
export function validate(input, options = {}) {
  const m = open(input, options);
  m.validate();
  return m;
}

class Model {
  constructor(bytes, maxMinor) {
    this.bytes = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.maxMinor = maxMinor;
    this.tables = new Map();
    this.tensors = new Map();
    this.tensorInfo = new Map();
    this.metaSection = null;
    this._metaTree = null;
    this._metadata = undefined;
    this._check();
  }

  u16(o) { return this.dv.getUint16(o, true); }
  u32(o) { return this.dv.getUint32(o, true); }
  u64(o) { return this.dv.getBigUint64(o, true); }

  _check() {
    const b = this.bytes, size = b.length, realSize = BigInt(size);
    // step 1: signature (§3.1)
    let sigOk = size >= 8;
    for (let i = 0; i < Math.min(8, size); i++) if (b[i] !== SIGNATURE[i]) sigOk = false;
    if (!sigOk) {
      let prefix = size < 8;
      for (let i = 0; i < Math.min(8, size); i++) if (b[i] !== SIGNATURE[i]) prefix = false;
      if (prefix) fail("E_TRUNCATED", `file of ${size} bytes is shorter than the signature`);
      if (size >= 4 && b[1] === 0x50 && b[2] === 0x48 && b[3] === 0x51) fail("E_TEXT_MODE", "signature damaged by a text-mode transfer");
      const LFS = "version https://git-lfs", lfs = size >= LFS.length && String.fromCharCode(...b.subarray(0, LFS.length)) === LFS;
      fail("E_SIGNATURE", lfs ? "a Git LFS pointer, not the model: fetch it with git lfs pull" : "not a phq file");
    }
    if (size < 64) fail("E_TRUNCATED", "file shorter than the 64-byte header");           // step 2
    this.major = this.u16(8); this.minor = this.u16(10);
    if (this.major !== 1) fail("E_VERSION", `major version ${this.major}`);               // 3
    if (this.u32(12) !== 64) fail("E_HEADER_SIZE", `header_size ${this.u32(12)}`);          // 4
    if (crc32c(b, 0, 60) !== this.u32(60)) fail("E_HEADER_CHECKSUM", "header checksum");   // 5
    if (this.u32(56) !== 0) fail("E_RESERVED", "header reserved field");                   // 6
    const required = this.u64(16);
    let known = 0n;
    if (this.maxMinor >= 1) known = FEATURE_LINEAR4 | FEATURE_CODEBOOK;
    if (this.maxMinor >= 2) known |= FEATURE_COMPACT_SPARSE;
    if (required & ~known) fail("E_FEATURE", `unknown required feature bits 0x${(required & ~known).toString(16)}`); // 7
    this.requiredFeatures = required;
    const fileSize = this.u64(32);
    if (fileSize > realSize) fail("E_TRUNCATED", `file_size ${fileSize} > real size ${size}`); // 8
    if (fileSize !== realSize) fail("E_FILE_SIZE", `file_size ${fileSize} != real size ${size}`);
    if (this.u64(40) !== 64n) fail("E_SECTION_TABLE", "section table not at offset 64");   // 9
    const count = this.u32(48);
    if (count > 65536) fail("E_LIMIT", `${count} sections`);                               // 10
    const tableEnd = 64 + 32 * count;
    if (tableEnd > size) fail("E_TRUNCATED", "section table runs past the end of the file");
    if (crc32c(b, 64, tableEnd) !== this.u32(52)) fail("E_HEADER_CHECKSUM", "section table checksum"); // 11
    // step 12
    const secs = [];
    let expected = align64(BigInt(tableEnd));
    for (let k = 0; k < count; k++) {
      const e = 64 + 32 * k;
      const s = { index: k, kind: this.u16(e), flags: this.u16(e + 2), owner: this.u32(e + 4), offset: this.u64(e + 8),
        size: this.u64(e + 16), checksum: this.u32(e + 24) };
      if (s.flags & 0xfffe || this.u32(e + 28) !== 0) fail("E_RESERVED", `section ${k}: reserved flags or field`);
      if (s.kind === KIND.META && s.size > META_LIMIT) fail("E_LIMIT", `section ${k}: META of ${s.size} bytes`);
      if (s.offset % 64n) fail("E_SECTION_ALIGN", `section ${k}: offset ${s.offset}`);
      if (s.offset < expected) fail("E_SECTION_OVERLAP", `section ${k}: offset ${s.offset} < ${expected}`);
      if (s.offset > expected) fail("E_SECTION_GAP", `section ${k}: offset ${s.offset} > ${expected}`);
      if (s.offset + s.size > fileSize) fail("E_SECTION_BOUNDS", `section ${k} ends past the file`);
      expected = align64(s.offset + s.size);
      s.off = Number(s.offset); s.len = Number(s.size);
      secs.push(s);
    }
    if (expected !== fileSize) fail("E_SECTION_GAP", "sections do not end at file_size");          // 13
    this.sections = secs;
    // step 14
    const known14 = knownKinds(this.maxMinor);
    let group = null;
    const closeGroup = () => { if (group) { this._closeGroup(group); group = null; } };
    for (const s of secs) {
      const isKnown = known14.has(s.kind), ancillary = (s.flags & 1) === 1;
      if (isKnown && ancillary) fail("E_RESERVED", `section ${s.index}: known kind flagged ancillary`);
      if (s.owner !== NONE) {
        if (!group || s.owner !== group.table.index || s.kind === KIND.META || s.kind === KIND.TENSOR || s.kind === KIND.TABLE)
          fail("E_SECTION_ORDER", `section ${s.index}: bad owner ${s.owner}`);
        if (!isKnown) { if (!ancillary) fail("E_UNKNOWN_SECTION", `section ${s.index}: kind 0x${s.kind.toString(16)}`); continue; }
        group.parts.push(s);
        continue;
      }
      closeGroup();
      if (!isKnown) { if (!ancillary) fail("E_UNKNOWN_SECTION", `section ${s.index}: kind 0x${s.kind.toString(16)}`); continue; }
      if (PART_KINDS.has(s.kind)) fail("E_SECTION_ORDER", `section ${s.index}: table part without owner`);
      if (s.kind === KIND.META) {
        if (this.metaSection) fail("E_DUPLICATE_SECTION", "second META section");
        this.metaSection = s;
        this._checkMeta(s);
      } else if (s.kind === KIND.TENSOR) this._checkTensor(s);
      else group = { table: s, parts: [] };
    }
    closeGroup();
  }

  _checkMeta(s) {
    const raw = this.bytes.subarray(s.off, s.off + s.len);
    let text;
    try { text = utf8.decode(raw); } catch { fail("E_METADATA", "META is not valid UTF-8"); }
    let tree;
    try { tree = parseStrict(text); } catch (e) {
      if (e instanceof JsonSyntaxError) fail("E_METADATA", `META is not strict JSON: ${e.message}`);
      throw e;
    }
    if (!(tree instanceof Map)) fail("E_METADATA", "META's top-level value is not an object");
    this._metaTree = tree;
  }

  _name(off, len) {
    if (len < 1 || len > 255) fail("E_NAME", `name of ${len} bytes`);
    const raw = this.bytes.subarray(off, off + len);
    try { return utf8.decode(raw); } catch { fail("E_NAME", "name is not UTF-8"); }
  }

  _checkTensor(s) {
    const o = s.off, len = s.size;
    if (len < 8n) fail("E_SECTION_SIZE", `tensor section ${s.index} of ${len} bytes`);
    const dtype = this.bytes[o], ndim = this.bytes[o + 1], nameLen = this.u16(o + 2);
    if (this.u32(o + 4) !== 0) fail("E_RESERVED", `tensor section ${s.index}: reserved field`);
    if (dtype < 1 || dtype > 11) fail("E_ENUM", `tensor dtype ${dtype}`);
    if (ndim > 8) fail("E_LIMIT", `tensor ndim ${ndim}`);
    const headEnd = 8 + 8 * ndim + nameLen;
    if (BigInt(headEnd) > len) fail("E_SECTION_SIZE", "tensor header or name runs past its section");
    const name = this._name(o + 8 + 8 * ndim, nameLen);
    const shape = [];
    let span = BigInt(DTYPE_SIZE[dtype]), nelem = 1n;
    for (let d = 0; d < ndim; d++) {
      const v = this.u64(o + 8 + 8 * d);
      shape.push(v);
      if (v !== 0n) span *= v;
      nelem *= v;
    }
    if (span >= 1n << 63n) fail("E_OVERFLOW", "tensor span overflows");
    const dataOffset = align64(BigInt(headEnd));
    const nbytes = nelem * BigInt(DTYPE_SIZE[dtype]);
    if (dataOffset + nbytes !== len) fail("E_SECTION_SIZE", `tensor section ${s.index}: size ${len} != ${dataOffset + nbytes}`);
    for (let i = headEnd; i < Number(dataOffset); i++) if (this.bytes[o + i] !== 0) fail("E_PADDING", "tensor header padding");
    if (this.tensorInfo.has(name)) fail("E_DUPLICATE_NAME", `two tensors named ${JSON.stringify(name)}`);
    const info = { name, dtype, dtypeName: DTYPES[dtype], shape: shape.map(Number), dataOff: o + Number(dataOffset), nbytes: Number(nbytes), section: s };
    this.tensorInfo.set(name, info);
  }

  _closeGroup(g) {
    const s = g.table, o = s.off, b = this.bytes;
    if (s.size < 64n) fail("E_SECTION_SIZE", `TABLE section ${s.index} of ${s.size} bytes`);
    const d = {
      numKeys: this.u64(o), dim: this.u32(o + 8), seed: this.u32(o + 12), P: this.u32(o + 16), nnz: this.u64(o + 24),
      hashScheme: b[o + 32], quant: b[o + 33], layout: b[o + 34], fpBits: b[o + 35], gran: b[o + 36],
      indexWidth: b[o + 37], columnWidth: b[o + 38], blockRows: this.u32(o + 40), nameLen: this.u16(o + 44),
      deltaWidth: b[o + 39], rowBlockLog2: b[o + 46], lowBits: b[o + 47], // 1.2 §3 (reserved without COMPACT_SPARSE)
    };
    const compactBit = (this.requiredFeatures & FEATURE_COMPACT_SPARSE) !== 0n;
    if ((!compactBit && (b[o + 39] !== 0 || this.u16(o + 46) !== 0)) || this.u64(o + 48) !== 0n || this.u64(o + 56) !== 0n)
      fail("E_RESERVED", `TABLE section ${s.index}: reserved field`);
    if (s.size !== BigInt(64 + d.nameLen)) fail("E_SECTION_SIZE", `TABLE section ${s.index}: size != 64 + name_len`);
    const name = this._name(o + 64, d.nameLen);
    if (d.hashScheme !== 1) fail("E_ENUM", `hash_scheme ${d.hashScheme}`);
    const q = d.quant;
    const quantOk = q <= 2 || (this.maxMinor >= 1 && ((q === 3 && this.requiredFeatures & FEATURE_LINEAR4) || ((q === 4 || q === 5) && this.requiredFeatures & FEATURE_CODEBOOK)));
    if (!quantOk) fail("E_ENUM", `quant ${q}`);
    if (d.layout > 2 || (d.layout === 2 && !compactBit)) fail("E_ENUM", `layout ${d.layout}`);
    if (![0, 8, 16, 32].includes(d.fpBits)) fail("E_ENUM", `fingerprint_bits ${d.fpBits}`);
    const linear = q === 2 || q === 3, codebook = q === 4 || q === 5;
    const granOk = q <= 1 ? d.gran === 0 : linear ? d.gran >= 1 && d.gran <= 3 : d.gran === 1 || d.gran === 2;
    if (!granOk) fail("E_ENUM", `scale_granularity ${d.gran} for quant ${q}`);
    if ((d.blockRows > 0) !== (d.gran === 3)) fail("E_ENUM", `scale_block_rows ${d.blockRows}`);
    const widthsOk = d.layout === 0 ? d.indexWidth === 0 && d.columnWidth === 0
      : d.layout === 2 ? (d.indexWidth === 4 || d.indexWidth === 8) && d.columnWidth === 0
        : (d.indexWidth === 4 || d.indexWidth === 8) && [1, 2, 4].includes(d.columnWidth);
    if (!widthsOk) fail("E_ENUM", `index_width ${d.indexWidth} / column_width ${d.columnWidth}`);
    const compactOk = d.layout === 2 ? [1, 2, 4].includes(d.deltaWidth) && d.rowBlockLog2 <= 15 && d.lowBits <= 24
      : d.deltaWidth === 0 && d.rowBlockLog2 === 0 && d.lowBits === 0;
    if (!compactOk) fail("E_ENUM", `delta_width ${d.deltaWidth} / row_block_log2 ${d.rowBlockLog2} / column_low_bits ${d.lowBits}`);
    if (d.numKeys > 1n << 40n) fail("E_LIMIT", `num_keys ${d.numKeys}`);
    if (d.dim > 1 << 24) fail("E_LIMIT", `dim ${d.dim}`);
    if (d.P < 1 || d.P > 1 << 20) fail("E_LIMIT", `num_partitions ${d.P}`);
    // the parts list
    const want = [0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17];
    if (codebook) want.push(0x1b);
    want.push(0x18);
    if (d.layout === 1) want.push(0x19, 0x1a);
    if (d.layout === 2) want.push(0x1c, 0x1d, 0x1e, 0x1f);
    if (g.parts.length !== want.length || g.parts.some((p, i) => p.kind !== want[i]))
      fail("E_SECTION_ORDER", `table ${JSON.stringify(name)}: parts missing, extra or out of order`);
    const [partS, levS, bmS, rankS, fbS, fpS, scS] = g.parts;
    const cbS = codebook ? g.parts[7] : null;
    const rowsS = g.parts[codebook ? 8 : 7];
    const riS = d.layout === 1 ? g.parts[want.length - 2] : null, colS = d.layout === 1 ? g.parts[want.length - 1] : null;
    const [basesS, deltasS, lowS, highS] = d.layout === 2 ? g.parts.slice(want.length - 4) : [null, null, null, null];
    const P = d.P;
    const size = (sec, want, what) => { if (sec.size !== want) fail("E_SECTION_SIZE", `${what}: size ${sec.size} != ${want}`); };
    size(partS, 16n * BigInt(P), "MPH_PARTITIONS");
    const po = partS.off;
    for (let p = 0; p < P; p++) if (this.u32(po + 16 * p + 12) !== 0) fail("E_RESERVED", `partition ${p} reserved field`);
    let keySum = 0n;
    for (let p = 0; p < P; p++) keySum += BigInt(this.u32(po + 16 * p));
    if (keySum !== d.numKeys) fail("E_MPH", `partition key counts sum to ${keySum}, num_keys ${d.numKeys}`);
    for (let p = 0; p < P; p++) if (this.u32(po + 16 * p + 4) > this.u32(po + 16 * p)) fail("E_MPH", `partition ${p}: fallback_count > key_count`);
    let L = 0, F = 0;
    for (let p = 0; p < P; p++) {
      const lc = this.u32(po + 16 * p + 8);
      if (lc > 64) fail("E_LIMIT", `partition ${p}: ${lc} levels`);
      L += lc; F += this.u32(po + 16 * p + 4);
    }
    size(levS, 4n * BigInt(L), "MPH_LEVELS");
    const levelWords = new Uint32Array(b.buffer, b.byteOffset + levS.off, L);
    for (let i = 0; i < L; i++) if (levelWords[i] < 1 || levelWords[i] > 0x3ffffff) fail("E_MPH", `level word count ${levelWords[i]}`);
    const parts = [];
    let firstSlot = 0, firstLevel = 0, firstWord = 0, firstFallback = 0;
    for (let p = 0; p < P; p++) {
      const keyCount = this.u32(po + 16 * p), fb = this.u32(po + 16 * p + 4), lc = this.u32(po + 16 * p + 8);
      let words = 0;
      const levels = [];
      for (let i = 0; i < lc; i++) { levels.push({ bits: levelWords[firstLevel + i] * 64, base: words * 64 }); words += levelWords[firstLevel + i]; }
      const ones = keyCount - fb;
      if (ones > 64 * words) fail("E_MPH", `partition ${p}: ${ones} keys in ${words} words`);
      const W = Math.ceil(words / 32) * 32;
      parts.push({ keyCount, fallbackCount: fb, ones, levels, words, W, firstSlot, firstWord, firstFallback });
      firstSlot += keyCount; firstLevel += lc; firstWord += W; firstFallback += fb;
    }
    const Wtot = firstWord;
    size(bmS, 8n * BigInt(Wtot), "MPH_BITMAP");
    size(rankS, BigInt(Wtot / 4), "MPH_RANK");
    size(fbS, 16n * BigInt(F), "MPH_FALLBACK");
    const n = Number(d.numKeys);
    size(fpS, d.numKeys * BigInt(d.fpBits) / 8n, "FINGERPRINTS");
    const G = d.gran === 0 ? 0 : d.gran === 1 ? 1 : d.gran === 2 ? d.dim : Math.ceil(n / d.blockRows);
    if (codebook) size(scS, 0n, "SCALES"); else size(scS, 8n * BigInt(G), "SCALES");
    let scales = null, zeroPoints = null;
    if (linear) {
      scales = new Float32Array(G); zeroPoints = new Int32Array(G);
      for (let gi = 0; gi < G; gi++) { scales[gi] = this.dv.getFloat32(scS.off + 8 * gi, true); zeroPoints[gi] = this.dv.getInt32(scS.off + 8 * gi + 4, true); }
      for (let gi = 0; gi < G; gi++) { const sc = scales[gi]; if (!(sc > 0) || 255 * sc > FLT_MAX) fail("E_SCALE", `scale ${sc} of group ${gi}`); }
      const zmax = q === 3 ? 15 : 255;
      for (let gi = 0; gi < G; gi++) if (zeroPoints[gi] < 0 || zeroPoints[gi] > zmax) fail("E_SCALE", `zero point ${zeroPoints[gi]} of group ${gi}`);
    }
    const K = q === 4 ? 16 : q === 5 ? 256 : 0;
    if (codebook) size(cbS, 4n * BigInt(G) * BigInt(K), "CODEBOOK");
    const nibbles = q === 3 || q === 4;
    const itemsize = q === 0 ? 4 : q === 1 ? 2 : 1;
    const rowsBytes = (cnt) => (nibbles ? (cnt + 1n) / 2n : cnt * BigInt(itemsize));
    if (d.layout === 2) { // 1.2 §4
      if (d.indexWidth === 4 && d.nnz >= 1n << 32n) fail("E_SPARSE", `nnz ${d.nnz} with 4-byte row bases`);
      size(rowsS, rowsBytes(d.nnz), "ROWS");
      const k = BigInt(d.rowBlockLog2), l = BigInt(d.lowBits), H = (BigInt(d.dim) + (1n << l) - 1n) >> l;
      size(basesS, ((d.numKeys >> k) + 1n) * BigInt(d.indexWidth), "ROW_BASES");
      size(deltasS, (d.numKeys + 1n) * BigInt(d.deltaWidth), "ROW_DELTAS");
      size(lowS, (d.nnz * l + 7n) / 8n, "COLUMN_LOW");
      size(highS, (d.nnz + d.numKeys * H + 7n) / 8n, "COLUMN_HIGH");
      const ri = (i) => {
        const j = BigInt(i) >> k;
        const base = d.indexWidth === 4 ? BigInt(this.u32(basesS.off + 4 * Number(j))) : this.u64(basesS.off + 8 * Number(j));
        if (base > d.nnz) return -1n;
        const o = deltasS.off + d.deltaWidth * i;
        return base + BigInt(d.deltaWidth === 1 ? b[o] : d.deltaWidth === 2 ? this.u16(o) : this.u32(o));
      };
      if (ri(0) !== 0n || ri(n) !== d.nnz) fail("E_SPARSE", "row_index(0) != 0 or row_index(n) != nnz");
    } else if (d.layout === 1) {
      if (d.indexWidth === 4 && d.nnz >= 1n << 32n) fail("E_SPARSE", `nnz ${d.nnz} with 4-byte row index`);
      size(rowsS, rowsBytes(d.nnz), "ROWS");
      size(riS, (d.numKeys + 1n) * BigInt(d.indexWidth), "ROW_INDEX");
      size(colS, d.nnz * BigInt(d.columnWidth), "COLUMNS");
      const ri = (i) => (d.indexWidth === 4 ? BigInt(this.u32(riS.off + 4 * i)) : this.u64(riS.off + 8 * i));
      if (ri(0) !== 0n || ri(n) !== d.nnz) fail("E_SPARSE", "row_index[0] != 0 or row_index[n] != nnz");
    } else {
      const total = d.numKeys * BigInt(d.dim);
      if ((nibbles ? total : total * BigInt(itemsize)) >= 1n << 64n) fail("E_OVERFLOW", "dense payload size overflows 64 bits");
      if (d.nnz !== total) fail("E_SECTION_SIZE", `nnz ${d.nnz} != num_keys x dim`);
      size(rowsS, rowsBytes(total), "ROWS");
    }
    if (this.tables.has(name)) fail("E_DUPLICATE_NAME", `two tables named ${JSON.stringify(name)}`);
    this.tables.set(name, new Table(this, name, d, { partS, levS, bmS, rankS, fbS, fpS, scS, cbS, rowsS, riS, colS, basesS, deltasS, lowS, highS }, parts, scales, zeroPoints, G, K));
  }

  /** The metadata object (plain JS values; `{}` without META). */
  get metadata() {
    if (this._metadata === undefined) this._metadata = this._metaTree ? toPlain(this._metaTree) : Object.create(null);
    return this._metadata;
  }
  /** The parsed META tree (Maps and JsonNumber values, for exact reading). */
  get metadataTree() { return this._metaTree || new Map(); }
  /** META's raw bytes, or null. */
  get metadataBytes() { const s = this.metaSection; return s ? this.bytes.subarray(s.off, s.off + s.len) : null; }

  table(name) {
    const t = this.tables.get(name);
    if (!t) throw new UsageError("E_USAGE", `no table named ${JSON.stringify(name)}`);
    return t;
  }

  /** A tensor: {name, dtype, shape, data (typed array, copied), bytes (the stored bytes)}. */
  tensor(name) {
    const info = this.tensorInfo.get(name);
    if (!info) throw new UsageError("E_USAGE", `no tensor named ${JSON.stringify(name)}`);
    const raw = this.bytes.slice(info.dataOff, info.dataOff + info.nbytes); // a copy (a plain Uint8Array)
    const n = info.shape.reduce((a, x) => a * x, 1);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    let data;
    switch (info.dtypeName) {
      case "f32": data = new Float32Array(n); for (let i = 0; i < n; i++) data[i] = dv.getFloat32(4 * i, true); break;
      case "f16": data = new Float32Array(n); for (let i = 0; i < n; i++) data[i] = f16ToNumber(dv.getUint16(2 * i, true)); break;
      case "f64": data = new Float64Array(n); for (let i = 0; i < n; i++) data[i] = dv.getFloat64(8 * i, true); break;
      case "i8": data = new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength); break;
      case "u8": data = raw; break;
      case "i16": data = new Int16Array(n); for (let i = 0; i < n; i++) data[i] = dv.getInt16(2 * i, true); break;
      case "u16": data = new Uint16Array(n); for (let i = 0; i < n; i++) data[i] = dv.getUint16(2 * i, true); break;
      case "i32": data = new Int32Array(n); for (let i = 0; i < n; i++) data[i] = dv.getInt32(4 * i, true); break;
      case "u32": data = new Uint32Array(n); for (let i = 0; i < n; i++) data[i] = dv.getUint32(4 * i, true); break;
      case "i64": data = new BigInt64Array(n); for (let i = 0; i < n; i++) data[i] = dv.getBigInt64(8 * i, true); break;
      case "u64": data = new BigUint64Array(n); for (let i = 0; i < n; i++) data[i] = dv.getBigUint64(8 * i, true); break;
    }
    return { name, dtype: info.dtypeName, shape: info.shape.slice(), data, bytes: raw };
  }

  get tensorNames() { return [...this.tensorInfo.keys()]; }
  get tableNames() { return [...this.tables.keys()]; }
  get version() { return `${this.major}.${this.minor}`; }
  get size() { return this.bytes.length; }

  /** §10.2, in order. */
  validate() {
    const b = this.bytes, secs = this.sections;
    // 1. padding of §2
    let pos = 64 + 32 * secs.length;
    const zeros = (from, to, what) => { for (let i = from; i < to; i++) if (b[i] !== 0) fail("E_PADDING", `${what} at byte ${i}`); };
    for (const s of secs) { zeros(pos, s.off, "padding before section " + s.index); pos = s.off + s.len; }
    zeros(pos, b.length, "padding after the last section");
    // 2. checksums
    for (const s of secs) if (crc32c(b, s.off, s.off + s.len) !== s.checksum) fail("E_CHECKSUM", `section ${s.index}`);
    // 3. float tensors finite
    for (const info of this.tensorInfo.values()) {
      const k = info.dtypeName;
      if (k !== "f32" && k !== "f16" && k !== "f64") continue;
      const n = info.nbytes / DTYPE_SIZE[info.dtype];
      for (let i = 0; i < n; i++) {
        const v = k === "f32" ? this.dv.getFloat32(info.dataOff + 4 * i, true) : k === "f64" ? this.dv.getFloat64(info.dataOff + 8 * i, true)
          : f16ToNumber(this.u16(info.dataOff + 2 * i));
        if (!Number.isFinite(v)) fail("E_VALUE", `tensor ${JSON.stringify(info.name)} holds a non-finite value`);
      }
    }
    // 4. tables
    for (const t of this.tables.values()) t._validate();
    return this;
  }
}

function popcount(x) {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

const keyBuf = { buf: new Uint8Array(256) };
function encodeKey(key) {
  if (key instanceof Uint8Array) return key;
  if (typeof key !== "string") throw new UsageError("E_USAGE", "a key is a string or a Uint8Array");
  return enc.encode(key);
}

export class Table {
  constructor(model, name, d, s, parts, scales, zeroPoints, G, K) {
    const b = model.bytes, base = b.byteOffset, buf = b.buffer;
    this.model = model;
    this.name = name;
    this.numKeys = Number(d.numKeys);
    this.dim = d.dim;
    this.seed = d.seed;
    this.numPartitions = d.P;
    this.quantCode = d.quant;
    this.quant = QUANT_NAMES[d.quant];
    this.layout = ["dense", "sparse", "compact"][d.layout];
    this.fingerprintBits = d.fpBits;
    this.scaleGranularity = ["none", "table", "column", "row-block"][d.gran];
    this.gran = d.gran;
    this.scaleBlockRows = d.blockRows;
    this.nnz = Number(d.nnz);
    this.indexWidth = d.indexWidth;
    this.columnWidth = d.columnWidth;
    this.sec = s;
    this.parts = parts;
    this.G = G; this.K = K;
    this.scales = scales; this.zeroPoints = zeroPoints;
    this.bitmap = new Uint32Array(buf, base + s.bmS.off, s.bmS.len >>> 2);
    this.rank = new Uint32Array(buf, base + s.rankS.off, s.rankS.len >>> 2);
    this.fallback = new Uint32Array(buf, base + s.fbS.off, s.fbS.len >>> 2);
    const fb = d.fpBits;
    this.fingerprints = fb === 8 ? new Uint8Array(buf, base + s.fpS.off, s.fpS.len) : fb === 16 ? new Uint16Array(buf, base + s.fpS.off, s.fpS.len >>> 1)
      : fb === 32 ? new Uint32Array(buf, base + s.fpS.off, s.fpS.len >>> 2) : null;
    this.fpMask = fb === 32 ? 0xffffffff : (1 << fb) - 1;
    const rows = s.rowsS;
    this.rowsU8 = new Uint8Array(buf, base + rows.off, rows.len);
    this.rowsF32 = d.quant === 0 ? new Float32Array(buf, base + rows.off, rows.len >>> 2) : null;
    this.rowsU16 = d.quant === 1 ? new Uint16Array(buf, base + rows.off, rows.len >>> 1) : null;
    this.codebook = s.cbS ? new Float32Array(buf, base + s.cbS.off, s.cbS.len >>> 2) : null;
    this.nibbles = d.quant === 3 || d.quant === 4;
    if (d.layout === 1) {
      this.rowIndex = d.indexWidth === 4 ? new Uint32Array(buf, base + s.riS.off, s.riS.len >>> 2) : new Uint32Array(buf, base + s.riS.off, s.riS.len >>> 2);
      this.columns = d.columnWidth === 1 ? new Uint8Array(buf, base + s.colS.off, s.colS.len) : d.columnWidth === 2 ? new Uint16Array(buf, base + s.colS.off, s.colS.len >>> 1)
        : new Uint32Array(buf, base + s.colS.off, s.colS.len >>> 2);
    }
    if (d.layout === 2) { // 1.2 §4: views of the compact index (sizes checked at open)
      this.rowBlockLog2 = d.rowBlockLog2; this.deltaWidth = d.deltaWidth; this.lowBits = d.lowBits;
      this.highZeros = Math.ceil(d.dim / 2 ** d.lowBits);
      this.bases = d.indexWidth === 4 ? new Uint32Array(buf, base + s.basesS.off, s.basesS.len >>> 2) : new Uint32Array(buf, base + s.basesS.off, s.basesS.len >>> 2);
      this.deltas = d.deltaWidth === 1 ? new Uint8Array(buf, base + s.deltasS.off, s.deltasS.len)
        : d.deltaWidth === 2 ? new Uint16Array(buf, base + s.deltasS.off, s.deltasS.len >>> 1) : new Uint32Array(buf, base + s.deltasS.off, s.deltasS.len >>> 2);
      this.colLow = new Uint8Array(buf, base + s.lowS.off, s.lowS.len);
      this.colHigh = new Uint8Array(buf, base + s.highS.off, s.highS.len);
    }
    this.itemsize = d.quant === 0 ? 4 : d.quant === 1 ? 2 : 1;
  }

  /** 1.2 §4.2: row_index(i) = ROW_BASES[i >> row_block_log2] + ROW_DELTAS[i]; -1 for a base past nnz. */
  _compactIndex(i) {
    const j = Math.floor(i / 2 ** this.rowBlockLog2);
    let base;
    if (this.indexWidth === 4) base = this.bases[j];
    else { if (this.bases[2 * j + 1]) return -1; base = this.bases[2 * j]; }
    return base > this.nnz ? -1 : base + this.deltas[i];
  }

  /** The columns of slot's stored values [a, z) (a checked span): the 1.0 COLUMNS view, or the
   * compact row decoded (1.2 §4.4): the row's COLUMN_HIGH region must hold one 1 bit per value. */
  _rowCols(slot, a, z) {
    if (this.layout !== "compact") return this.columns.subarray(a, z);
    const k = z - a, l = this.lowBits, H = this.highZeros, hi = this.colHigh, lo = this.colLow, out = new Float64Array(k);
    let bit = a + slot * H, j = 0, zeros = 0;
    const end = z + (slot + 1) * H;
    for (; bit < end; bit++) {
      if ((hi[Math.floor(bit / 8)] >> (bit % 8)) & 1) {
        if (j === k) fail("E_SPARSE", `slot ${slot}: COLUMN_HIGH region holds more 1 bits than values`);
        let low = 0;
        const p = (a + j) * l;
        for (let t = 0; t < l; t++) low += ((lo[Math.floor((p + t) / 8)] >> ((p + t) % 8)) & 1) * 2 ** t;
        out[j++] = zeros * 2 ** l + low;
      } else zeros++;
    }
    if (j !== k) fail("E_SPARSE", `slot ${slot}: COLUMN_HIGH region holds fewer 1 bits than values`);
    return out;
  }

  get length() { return this.numKeys; }

  /** The slot of a key (string: its UTF-8 bytes; Uint8Array: the bytes), or -1 (§7.2). */
  slot(key) { const k = encodeKey(key); return this.slotOfBytes(k, k.length); }

  /** §7.2 over bytes[0, len). */
  slotOfBytes(bytes, len) {
    murmur3(bytes, len, this.seed);
    return this.slotOfHash();
  }

  /** §7.2 from the digest in H. */
  slotOfHash() {
    const h1h = H[0], h1l = H[1], h2h = H[2], h2l = H[3];
    const p = this.numPartitions === 1 ? 0 : mulhi32(h2h, this.numPartitions);
    const part = this.parts[p];
    const levels = part.levels, bm = this.bitmap, fw2 = part.firstWord * 2;
    let sh = h1h, sl = h1l, slot = -1;
    for (let i = 0; i < levels.length; i++) {
      if (i > 0) { const t = sl + h2l; sl = t >>> 0; sh = (sh + h2h + (t > 0xffffffff ? 1 : 0)) >>> 0; }
      const lv = levels[i];
      const bit = lv.base + mulhi32(fmixHi(sh, sl), lv.bits);
      if ((bm[fw2 + (bit >>> 5)] >>> (bit & 31)) & 1) {
        const r = this._rank(part, bit);
        if (r >= part.ones) fail("E_RANK", `rank ${r} >= ones ${part.ones}`);
        slot = part.firstSlot + r;
        break;
      }
    }
    if (slot < 0) {
      // binary search of the partition's fallback list on (h1, h2)
      let lo = 0, hi = part.fallbackCount - 1;
      const f = this.fallback, base = part.firstFallback * 4;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1, o = base + mid * 4;
        // stored little-endian u64: [lo32, hi32]
        const a1h = f[o + 1], a1l = f[o], a2h = f[o + 3], a2l = f[o + 2];
        const c = a1h !== h1h ? (a1h < h1h ? -1 : 1) : a1l !== h1l ? (a1l < h1l ? -1 : 1) : a2h !== h2h ? (a2h < h2h ? -1 : 1) : a2l !== h2l ? (a2l < h2l ? -1 : 1) : 0;
        if (c === 0) { slot = part.firstSlot + part.ones + mid; break; }
        if (c < 0) lo = mid + 1; else hi = mid - 1;
      }
      if (slot < 0) return -1;
    }
    if (this.fingerprints && this.fingerprints[slot] !== ((h2l & this.fpMask) >>> 0)) return -1;
    return slot;
  }

  _rank(part, bit) {
    const e = part.firstWord / 32 + (bit >>> 11);
    const elo = this.rank[2 * e], ehi = this.rank[2 * e + 1];
    let r = elo;
    const sb = (bit >>> 9) & 3;
    if (sb > 0) r += ehi & 0x3ff;
    if (sb > 1) r += (ehi >>> 10) & 0x3ff;
    if (sb > 2) r += (ehi >>> 20) & 0x3ff;
    const bm = this.bitmap, fw2 = part.firstWord * 2;
    const end = fw2 + (bit >>> 5);
    for (let w = fw2 + 16 * (bit >>> 9); w < end; w++) r += popcount(bm[w]);
    const m = bit & 31;
    if (m) r += popcount(bm[end] & ((1 << m) - 1) >>> 0);
    return r;
  }

  _span(slot) {
    let a, z;
    if (this.layout === "compact") {
      a = this._compactIndex(slot); z = this._compactIndex(slot + 1);
      if (a < 0 || z < 0) fail("E_SPARSE", "a row base is past nnz");
    } else if (this.indexWidth === 4) { a = this.rowIndex[slot]; z = this.rowIndex[slot + 1]; }
    else {
      const ri = this.rowIndex;
      if (ri[2 * slot + 1] || ri[2 * slot + 3]) fail("E_SPARSE", "row index beyond nnz");
      a = ri[2 * slot]; z = ri[2 * slot + 2];
    }
    if (!(a <= z && z <= this.nnz)) fail("E_SPARSE", `row span [${a}, ${z}) outside [0, ${this.nnz}]`);
    return [a, z];
  }

  _code(i) { // stored code number i (4-bit codes unpacked)
    if (this.nibbles) { const byte = this.rowsU8[i >>> 1]; return i & 1 ? byte >>> 4 : byte & 15; }
    return this.rowsU8[i];
  }

  _group(slot, c) { return this.gran === 1 ? 0 : this.gran === 2 ? c : Math.floor(slot / this.scaleBlockRows); }

  _zeroCode(slot, c) { return (this.quantCode === 2 || this.quantCode === 3) ? this.zeroPoints[this._group(slot, c)] : 0; }

  _deq(slot, c, q) {
    switch (this.quantCode) {
      case 2: case 3: { const g = this._group(slot, c); return Math.fround((q - this.zeroPoints[g]) * this.scales[g]); }
      case 4: return this.codebook[this._group(slot, c) * 16 + q];
      case 5: return this.codebook[this._group(slot, c) * 256 + q];
    }
    return 0;
  }

  /** Dequantized row of a slot into out (Float32Array or Float64Array) at offset. */
  rowAt(slot, out = new Float32Array(this.dim), at = 0) {
    const dim = this.dim, q = this.quantCode;
    if (this.layout === "dense") {
      const o = slot * dim;
      if (q === 0) for (let c = 0; c < dim; c++) out[at + c] = this.rowsF32[o + c];
      else if (q === 1) for (let c = 0; c < dim; c++) out[at + c] = f16ToNumber(this.rowsU16[o + c]);
      else if (q === 2 && this.gran === 2) {
        const sc = this.scales, zp = this.zeroPoints, r = this.rowsU8;
        for (let c = 0; c < dim; c++) out[at + c] = Math.fround((r[o + c] - zp[c]) * sc[c]);
      } else for (let c = 0; c < dim; c++) out[at + c] = this._deq(slot, c, this._code(o + c));
      return out;
    }
    const [a, z] = this._span(slot);
    if (q === 0 || q === 1 || q === 4 || q === 5) for (let c = 0; c < dim; c++) out[at + c] = q >= 4 ? this._deq(slot, c, 0) : 0;
    else for (let c = 0; c < dim; c++) out[at + c] = 0; // zero code reads back as +0.0 (§8.1)
    const cols = this._rowCols(slot, a, z);
    for (let k = a; k < z; k++) {
      const c = cols[k - a];
      if (c >= dim) fail("E_SPARSE", `column ${c} >= dim ${dim}`);
      out[at + c] = q === 0 ? this.rowsF32[k] : q === 1 ? f16ToNumber(this.rowsU16[k]) : this._deq(slot, c, this._code(k));
    }
    return out;
  }

  /**
   * acc[c] += u * W[c] for every column c of slot's dequantized row W (binary64, one rounding per
   * operation: profile v2 §8.1). Columns a sparse row omits read +0.0 and are skipped (v2 §8.1 allows
   * it). `tmp` is a Float32Array(dim) scratch row for the generic path.
   */
  addScaledRow(slot, u, acc, tmp) {
    const dim = this.dim, q = this.quantCode;
    if (this.layout !== "dense") {
      const [a, z] = this._span(slot);
      const cols = this._rowCols(slot, a, z);
      if (q === 2) {
        const r = this.rowsU8, sc = this.scales, zp = this.zeroPoints, gran = this.gran;
        const g0 = gran === 3 ? Math.floor(slot / this.scaleBlockRows) : 0;
        for (let k = a; k < z; k++) {
          const c = cols[k - a];
          if (c >= dim) fail("E_SPARSE", `column ${c} >= dim ${dim}`);
          const g = gran === 2 ? c : g0;
          acc[c] += u * Math.fround((r[k] - zp[g]) * sc[g]);
        }
        return;
      }
      for (let k = a; k < z; k++) {
        const c = cols[k - a];
        if (c >= dim) fail("E_SPARSE", `column ${c} >= dim ${dim}`);
        acc[c] += u * (q === 0 ? this.rowsF32[k] : q === 1 ? f16ToNumber(this.rowsU16[k]) : this._deq(slot, c, this._code(k)));
      }
      return;
    }
    if (q === 2 && this.gran === 2) {
      const r = this.rowsU8, sc = this.scales, zp = this.zeroPoints, o = slot * dim;
      for (let c = 0; c < dim; c++) acc[c] += u * Math.fround((r[o + c] - zp[c]) * sc[c]);
      return;
    }
    if (q === 0) { const r = this.rowsF32, o = slot * dim; for (let c = 0; c < dim; c++) acc[c] += u * r[o + c]; return; }
    this.rowAt(slot, tmp);
    for (let c = 0; c < dim; c++) acc[c] += u * tmp[c];
  }

  /** Raw row (§9.2): stored codes, little-endian bytes (4-bit codes one byte each). */
  rawAt(slot) {
    const dim = this.dim, isz = this.itemsize, out = new Uint8Array(dim * isz);
    const put = (c, k) => { // copy stored value k into column c
      if (this.nibbles) out[c] = this._code(k);
      else for (let j = 0; j < isz; j++) out[c * isz + j] = this.rowsU8[k * isz + j];
    };
    if (this.layout === "dense") { for (let c = 0; c < dim; c++) put(c, slot * dim + c); return out; }
    const [a, z] = this._span(slot);
    if (isz === 1) for (let c = 0; c < dim; c++) out[c] = this._zeroCode(slot, c);
    const cols = this._rowCols(slot, a, z);
    for (let k = a; k < z; k++) {
      const c = cols[k - a];
      if (c >= dim) fail("E_SPARSE", `column ${c} >= dim ${dim}`);
      put(c, k);
    }
    return out;
  }

  /** The dequantized row of a key, or null when absent. */
  get(key) { const s = this.slot(key); return s < 0 ? null : this.rowAt(s); }
  has(key) { return this.slot(key) >= 0; }
  raw(key) { const s = this.slot(key); return s < 0 ? null : this.rawAt(s); }

  /** Batch: rows (Float32Array, n x dim, zeros for absent keys) and found (Uint8Array). */
  lookup(keys) {
    const n = keys.length, rows = new Float32Array(n * this.dim), found = new Uint8Array(n), slots = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const s = this.slot(keys[i]);
      slots[i] = s;
      if (s >= 0) { found[i] = 1; this.rowAt(s, rows, i * this.dim); }
    }
    return { rows, found, slots };
  }

  _validate() {
    const s = this.sec, u32 = (o) => this.model.dv.getUint32(o, true);
    const bm = this.bitmap;
    for (let p = 0; p < this.parts.length; p++) {
      const part = this.parts[p], fw2 = part.firstWord * 2;
      for (let w = part.words * 2; w < part.W * 2; w++) if (bm[fw2 + w]) fail("E_PADDING", `partition ${p}: bitmap padding word`);
      let ones = 0;
      for (let w = 0; w < part.words * 2; w++) ones += popcount(bm[fw2 + w]);
      if (ones !== part.ones) fail("E_MPH", `partition ${p}: ${ones} one bits, ones = ${part.ones}`);
      let before = 0;
      for (let blk = 0; blk < part.W / 32; blk++) {
        const sub = [0, 0, 0, 0];
        for (let w = 0; w < 64; w++) sub[w >>> 4] += popcount(bm[fw2 + blk * 64 + w]);
        const e = part.firstWord / 32 + blk;
        const wantLo = before >>> 0, wantHi = (sub[0] | (sub[1] << 10) | (sub[2] << 20)) >>> 0;
        if (this.rank[2 * e] !== wantLo || this.rank[2 * e + 1] !== wantHi) fail("E_RANK", `partition ${p}: rank entry ${blk}`);
        before += sub[0] + sub[1] + sub[2] + sub[3];
      }
      const f = this.fallback, base = part.firstFallback * 4;
      for (let j = 0; j < part.fallbackCount; j++) {
        const o = base + 4 * j;
        if (j > 0) {
          const a = [f[o - 3], f[o - 4], f[o - 1], f[o - 2]], c = [f[o + 1], f[o], f[o + 3], f[o + 2]];
          let cmp = 0;
          for (let t = 0; t < 4 && cmp === 0; t++) cmp = a[t] < c[t] ? -1 : a[t] > c[t] ? 1 : 0;
          if (cmp >= 0) fail("E_FALLBACK", `partition ${p}: fallback pairs not strictly ascending`);
        }
        const pp = this.numPartitions === 1 ? 0 : mulhi32(f[o + 3], this.numPartitions);
        if (pp !== p) fail("E_FALLBACK", `partition ${p}: fallback pair of partition ${pp}`);
      }
    }
    const n = this.numKeys, dim = this.dim;
    if (this.layout === "compact") { // 1.2 §6, in order
      let prev = 0;
      for (let i = 0; i <= n; i++) {
        const r = this._compactIndex(i);
        if (r < prev || r > this.nnz) fail("E_SPARSE", `row_index decreases at slot ${i}`);
        prev = r;
      }
      for (let i = 0; i <= n; i += 2 ** this.rowBlockLog2) if (this.deltas[i] !== 0) fail("E_SPARSE", `the delta of block row ${i} is not 0`);
      for (const [arr, used] of [[this.colLow, this.nnz * this.lowBits], [this.colHigh, this.nnz + n * this.highZeros]])
        if (used % 8 && arr[arr.length - 1] >> (used % 8)) fail("E_PADDING", "padding bits of COLUMN_LOW or COLUMN_HIGH are not 0");
      for (let i = 0; i < n; i++) {
        const a = this._compactIndex(i), z = this._compactIndex(i + 1), cols = this._rowCols(i, a, z);
        let prev = -1;
        for (const c of cols) {
          if (c >= dim) fail("E_SPARSE", `column ${c} >= dim`);
          if (c <= prev) fail("E_SPARSE", `columns not ascending in slot ${i}`);
          prev = c;
        }
      }
    }
    if (this.layout === "sparse") {
      const ri = (i) => (this.indexWidth === 4 ? this.rowIndex[i] : this.rowIndex[2 * i + 1] * 4294967296 + this.rowIndex[2 * i]);
      for (let i = 0; i < n; i++) if (ri(i) > ri(i + 1)) fail("E_SPARSE", `row_index decreases at slot ${i}`);
      for (let i = 0; i < n; i++) {
        let prev = -1;
        for (let k = ri(i); k < ri(i + 1); k++) {
          const c = this.columns[k];
          if (c >= dim) fail("E_SPARSE", `column ${c} >= dim`);
          if (c <= prev) fail("E_SPARSE", `columns not ascending in slot ${i}`);
          prev = c;
        }
      }
    }
    if (this.quantCode === 0) { for (const v of this.rowsF32) if (!Number.isFinite(v)) fail("E_VALUE", `table ${JSON.stringify(this.name)}: non-finite weight`); }
    else if (this.quantCode === 1) { for (const v of this.rowsU16) if ((v & 0x7c00) === 0x7c00) fail("E_VALUE", `table ${JSON.stringify(this.name)}: non-finite weight`); }
    if (this.nibbles && this.nnz % 2 === 1 && this.rowsU8[this.rowsU8.length - 1] >>> 4) fail("E_PADDING", "pad nibble is not 0");
    if (this.codebook) {
      for (const v of this.codebook) if (!Number.isFinite(v)) fail("E_VALUE", "codebook level is not finite");
      const cbu = new Uint32Array(this.codebook.buffer, this.codebook.byteOffset, this.codebook.length);
      for (let g = 0; g < this.G; g++) if (cbu[g * this.K] !== 0) fail("E_SCALE", `level 0 of group ${g} is not +0.0`);
    }
  }
}
