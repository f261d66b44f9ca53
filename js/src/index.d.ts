// Type declarations of the phq JavaScript package (hand-written; see js/README.md).

/** Base of the typed errors: `code` is a stable name of the spec's tables. */
export class PhqError extends Error {
  constructor(code: string, message?: string);
  readonly code: string;
  readonly detail: string;
}
/** Bad bytes: `code` is a format error code (format spec §11), e.g. "E_CHECKSUM". */
export class FormatError extends PhqError {}
/** A valid file that is not a valid NLU model: "E_NLU_MISSING" | "E_NLU_VERSION" | "E_NLU_SCHEMA" | "E_NLU_REFERENCE" | "E_NLU_UNSUPPORTED". */
export class ProfileError extends PhqError {}
/** The caller's mistake: "E_USAGE" (unknown table, no classifier, ...) or "E_INPUT" (ill-formed text under decode_error "strict"). */
export class UsageError extends PhqError {}

export type Quant = "f32" | "f16" | "linear8" | "linear4" | "codebook4" | "codebook8";
export type DType = "f32" | "f16" | "f64" | "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64";
export type Key = string | Uint8Array;

export interface OpenOptions {
  /** Read as a 1.x reader of this minor version (0: refuse 1.1 and 1.2 features with E_FEATURE; 1: refuse 1.2 features). Default 2. */
  maxMinor?: number;
}

export interface Tensor {
  name: string;
  dtype: DType;
  shape: number[];
  data: Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;
  /** The stored little-endian bytes. */
  bytes: Uint8Array;
}

export class Table {
  readonly name: string;
  readonly numKeys: number;
  readonly dim: number;
  readonly seed: number;
  readonly numPartitions: number;
  readonly quant: Quant;
  readonly layout: "dense" | "sparse" | "compact";
  readonly fingerprintBits: 0 | 8 | 16 | 32;
  readonly scaleGranularity: "none" | "table" | "column" | "row-block";
  readonly nnz: number;
  readonly length: number;
  /** The key's slot (§7.2), or -1 when absent. A string key is hashed as its UTF-8 bytes. */
  slot(key: Key): number;
  /** The dequantized row (float32 values), or null when absent. */
  get(key: Key): Float32Array | null;
  has(key: Key): boolean;
  /** The raw row (§9.2): stored codes as little-endian bytes (4-bit codes one byte each), or null. */
  raw(key: Key): Uint8Array | null;
  /** Batch lookup: rows is keys.length x dim (zeros where absent), found[i] is 0/1, slots[i] is -1 when absent. */
  lookup(keys: Key[]): { rows: Float32Array; found: Uint8Array; slots: Int32Array };
  rowAt(slot: number, out?: Float32Array | Float64Array, at?: number): Float32Array | Float64Array;
  rawAt(slot: number): Uint8Array;
}

export interface Model {
  readonly bytes: Uint8Array;
  readonly version: string;
  readonly size: number;
  readonly tables: Map<string, Table>;
  readonly tableNames: string[];
  readonly tensorNames: string[];
  readonly sections: ReadonlyArray<{ index: number; kind: number; flags: number; owner: number; off: number; len: number; checksum: number }>;
  /** The META object as plain values ({} without META). */
  readonly metadata: Record<string, unknown>;
  /** META's raw bytes, or null. */
  readonly metadataBytes: Uint8Array | null;
  table(name: string): Table;
  tensor(name: string): Tensor;
  /** Every check of §10.2 (padding, CRC32C, finite values, MPH internals, sparse order). */
  validate(): this;
}

/** Open a model: every structural check of format §10.1, cost independent of the payload. */
export function open(bytes: Uint8Array | ArrayBuffer, options?: OpenOptions): Model;
/** open() plus every check of §10.2. */
export function validate(bytes: Uint8Array | ArrayBuffer, options?: OpenOptions): Model;
export function crc32c(bytes: Uint8Array, start?: number, end?: number): number;
export function f16ToNumber(bits: number): number;
export const QUANT_NAMES: Quant[];
export const DTYPES: (DType | null)[];

/** A document: a JS string (used as code points) or UTF-8 bytes (decoded by the model's decode_error). */
export type Doc = string | Uint8Array;
export type Label = string | number | bigint | boolean;

export interface Slot { slot: string; value: string; start: number; end: number }
export interface ParseResult { intent: { name: Label; score: number } | null; slots: Slot[] }

export class NluModel {
  readonly profile: 1 | 2 | 3;
  readonly model: Model;
  /** The classifier's labels (int labels as bigint), or null without a classifier. */
  readonly classes: Label[] | null;
  /** The tagger's BIO labels, or null without a tagger. */
  readonly labels: string[] | null;
  /** Decision values (profile v2 §8): k values (one for two classes); a calibrated model (v2 §8.5.1): its K probabilities. */
  decision(doc: Doc): Float64Array;
  predict(doc: Doc): Label;
  predictIndex(doc: Doc): number;
  /** Probabilities (v2 §8.5); UsageError when the model's proba is null. */
  predictProba(doc: Doc): Float64Array;
  probaOf(decision: Float64Array): Float64Array;
  /** The n best classes (v2 §8.4). */
  top(doc: Doc, n?: number): { index: number; label: Label; value: number }[];
  /** Distinct terms of featurizer f with their tf (v2 §7.1), in first-occurrence order. */
  terms(doc: Doc, f?: number): Map<string, number>;
  /** Tagger tokens with code-point offsets (v3 §3). */
  tokens(doc: Doc): [string, number, number][];
  /** Feature strings of every token (v3 §4.3). */
  featureLists(doc: Doc): string[][];
  slots(doc: Doc): Slot[];
  /** {intent, slots} (v3 §7.2), as phq.nlu and build/phq-nlu return it. */
  parse(doc: Doc): ParseResult;
  /** The JSON text of class `index` exactly as the profile writes it (int64 labels beyond 2^53 included). */
  labelJson(index: number): string;
  static argmax(decision: Float64Array): number;
}

/** Check the NLU profile (ProfileError) and return a runtime. */
export function load(model: Model | Uint8Array | ArrayBuffer, options?: OpenOptions): NluModel;

export function viterbi(state: Float64Array, n: number, L: number, T: Float64Array): number[];
export function labelSpans(path: number[], labels: string[], spans: number[]): { slot: string; start: number; end: number }[];
export function tokenFeatures(D: Uint32Array, spans: number[], templates: unknown[]): string[][];
export function decodeUtf8(bytes: Uint8Array, mode: "strict" | "ignore" | "replace"): Uint32Array | null;
export function stringToCodePoints(s: string): Uint32Array;
export function lowercase(cps: Uint32Array): Uint32Array;
export function stripAccents(cps: Uint32Array, mode: "ascii" | "unicode"): Uint32Array;
export function tokenSpans(cps: Uint32Array, tokenizer: string): number[];
export function preprocess(cps: Uint32Array, settings: object): Uint32Array;
export function analyze(cps: Uint32Array, settings: object, emit: (term: string) => void): void;
