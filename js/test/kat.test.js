// Known-answer vectors of format §15 and format 1.1 §8.
import test from "node:test";
import assert from "node:assert/strict";
import { murmur3, H, fmix64pair, mulhi32, fmixHi } from "../src/murmur.js";
import { crc32c } from "../src/crc32c.js";
import { f16ToNumber } from "../src/reader.js";
import { unhex } from "./util.js";

const h64 = (h, l) => h.toString(16).padStart(8, "0") + l.toString(16).padStart(8, "0");

test("hash scheme 1 (§15.1): h1, h2, partition, level positions, fingerprint", () => {
  const rows = [
    ["-", 0, "0000000000000000", "0000000000000000", 0, 0, 0, 0x0000],
    ["-", 1, "4610abe56eff5cb5", "51622daa78f83583", 0, 120, 31, 0x3583],
    ["706c6179", 0, "a45a86b5871711ae", "aba81a260c134e02", 2, 44, 40, 0x4e02],
    ["74686520626561746c6573", 0, "1edb658d5b366b98", "890c8dc5570a7fad", 1, 33, 40, 0x7fad],
    ["773d706c61797c772b313d746865", 42, "084e28e12f38023f", "b9a7e3e3675bf91a", 2, 21, 53, 0xf91a],
    ["636166c3a9", 7, "f6fe80fead927326", "ccf6b778962991c7", 2, 55, 26, 0x91c7],
    ["fffe00", 4294967295, "47a8fe7b5b818c32", "4e2501ae2f61e779", 0, 11, 40, 0xe779],
    ["30313233343536373839616263646566", 0, "4be06d94cf4ad1a7", "87c35b5c63a708da", 1, 55, 35, 0x08da],
    ["3031323334353637383961626364656658", 3, "064e7ff078415c2b", "9c4349899848b92a", 1, 80, 50, 0xb92a],
  ];
  for (const [key, seed, h1, h2, part, pos0, pos1, fp16] of rows) {
    const b = unhex(key);
    murmur3(b, b.length, seed);
    const [a, c, d, e] = H;
    assert.equal(h64(a, c), h1, key);
    assert.equal(h64(d, e), h2, key);
    assert.equal(mulhi32(d, 3), part, key);
    assert.equal(mulhi32(fmixHi(a, c), 128), pos0, key);       // level_hash(0) = fmix64(h1)
    let lo = c + e, hi = (a + d + (lo > 0xffffffff ? 1 : 0)) >>> 0; lo >>>= 0;  // h1 + 1 * h2
    assert.equal(mulhi32(fmixHi(hi, lo), 64), pos1, key);
    assert.equal(e & 0xffff, fp16, key);
  }
});

test("fmix64 vectors and exact 32x32 high products", () => {
  assert.deepEqual(fmix64pair(0, 0), [0, 0]);
  assert.equal(h64(...fmix64pair(0, 1)), "b456bcfc34c2cb2c");
  assert.equal(h64(...fmix64pair(0x01234567, 0x89abcdef)), "87cbfbfe89022cea");
  assert.equal(h64(...fmix64pair(0xffffffff, 0xffffffff)), "64b5720b4b825f21");
  for (const [a, b] of [[0xffffffff, 0xffffffff], [0x80000000, 3], [123456789, 987654321], [1, 1]])
    assert.equal(mulhi32(a, b), Number((BigInt(a) * BigInt(b)) >> 32n));
});

test("CRC32C (§15.3)", () => {
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  // the sliced path (8-byte steps at any alignment) equals the bytewise one
  const buf = new Uint8Array(1000).map((_, i) => (i * 7919) & 255);
  const slow = (b) => { let c = 0xffffffff; for (const x of b) { c ^= x; for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1; } return (c ^ 0xffffffff) >>> 0; };
  for (const off of [0, 1, 3, 5]) assert.equal(crc32c(buf.subarray(off, 997)), slow(buf.subarray(off, 997)));
});

test("linear8 dequantization (§15.2) and linear4 / binary16 (1.1 §8)", () => {
  const bits = (v) => { const f = new Float32Array([v]); return new Uint32Array(f.buffer)[0].toString(16).padStart(8, "0"); };
  const deq = (q, zp, scale) => Math.fround((q - zp) * scale);
  const s1 = new Float32Array(new Uint32Array([0x3c40c0c1]).buffer)[0];
  assert.deepEqual([0, 85, 127, 255, 85, 85].map((q) => bits(deq(q, 85, s1))), ["bf800000", "00000000", "3efcfcfd", "40000000", "00000000", "00000000"]);
  assert.deepEqual([21, 85, 255].map((q) => bits(deq(q, 0, s1))), ["3e7cfcfd", "3f800000", "40400000"]);
  const s3 = new Float32Array(new Uint32Array([0x3cf0f0f1]).buffer)[0];
  assert.deepEqual([0, 252, 255].map((q) => bits(deq(q, 255, s3))), ["c0f00000", "bdb4b4b5", "00000000"]);
  assert.deepEqual([0, 3, 4, 15].map((q) => deq(q, 3, 0.5)), [-1.5, 0, 0.5, 6]);
  assert.ok(Object.is(deq(3, 3, 0.5), 0)); // +0.0, not -0.0
  assert.equal(f16ToNumber(0x3c00), 1); assert.equal(f16ToNumber(0xc000), -2); assert.equal(f16ToNumber(0x7bff), 65504);
  assert.equal(f16ToNumber(0x0001), 2 ** -24); assert.ok(Number.isNaN(f16ToNumber(0x7e00))); assert.equal(f16ToNumber(0xfc00), -Infinity);
});
