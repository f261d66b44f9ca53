// Hash scheme 1 (format §6): MurmurHash3_x64_128 with a 32-bit seed, in 32-bit halves (no BigInt on
// the hot path). Results are left in the exported `H` array: H[0..1] = h1 (hi, lo), H[2..3] = h2.

export const H = new Uint32Array(4);
let MH = 0, ML = 0; // result of mul64

// (ah:al) * (bh:bl) mod 2^64 -> MH:ML. 16-bit pieces keep every double product exact.
function mul64(ah, al, bh, bl) {
  // high word of al*bl exactly (16-bit halves of bl keep both products below 2^48), low word by imul
  const x = al * (bl & 0xffff);
  MH = (Math.floor((al * (bl >>> 16) + Math.floor(x / 65536)) / 65536) + Math.imul(al, bh) + Math.imul(ah, bl)) >>> 0;
  ML = Math.imul(al, bl) >>> 0;
}

/** floor(a * b / 2^32) for u32 a, b (Lemire's reduction, §6), exactly. */
export function mulhi32(a, b) {
  const x = a * (b & 0xffff);
  return Math.floor((a * (b >>> 16) + Math.floor(x / 65536)) / 65536);
}

let FH = 0, FL = 0;
/** fmix64 (§6) of hi:lo -> FH:FL (exported through fmix64pair for tests). */
function fmix(h, l) {
  l = (l ^ (h >>> 1)) >>> 0;                 // k ^= k >> 33
  mul64(h, l, 0xff51afd7, 0xed558ccd); h = MH; l = ML;
  l = (l ^ (h >>> 1)) >>> 0;
  mul64(h, l, 0xc4ceb9fe, 0x1a85ec53); h = MH; l = ML;
  FL = (l ^ (h >>> 1)) >>> 0; FH = h;
}
export function fmix64pair(h, l) { fmix(h, l); return [FH, FL]; }

/** level_hash(i)'s upper 32 bits from the running sum h1 + i*h2 given as hi:lo. */
export function fmixHi(h, l) { fmix(h, l); return FH; }

/** MurmurHash3_x64_128(bytes[0, len), seed) -> H. */
export function murmur3(bytes, len, seed) {
  let h1h = 0, h1l = seed >>> 0, h2h = 0, h2l = seed >>> 0;
  let k1h, k1l, k2h, k2l, t;
  const nblocks = len >>> 4;
  let i = 0;
  for (let b = 0; b < nblocks; b++, i += 16) {
    k1l = (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24)) >>> 0;
    k1h = (bytes[i + 4] | (bytes[i + 5] << 8) | (bytes[i + 6] << 16) | (bytes[i + 7] << 24)) >>> 0;
    k2l = (bytes[i + 8] | (bytes[i + 9] << 8) | (bytes[i + 10] << 16) | (bytes[i + 11] << 24)) >>> 0;
    k2h = (bytes[i + 12] | (bytes[i + 13] << 8) | (bytes[i + 14] << 16) | (bytes[i + 15] << 24)) >>> 0;
    // k1 *= c1; k1 = rotl(k1, 31); k1 *= c2; h1 ^= k1
    mul64(k1h, k1l, 0x87c37b91, 0x114253d5);
    t = ((MH << 31) | (ML >>> 1)) >>> 0; k1l = ((ML << 31) | (MH >>> 1)) >>> 0; k1h = t;
    mul64(k1h, k1l, 0x4cf5ad43, 0x2745937f);
    h1h = (h1h ^ MH) >>> 0; h1l = (h1l ^ ML) >>> 0;
    // h1 = rotl(h1, 27); h1 += h2; h1 = h1 * 5 + 0x52dce729
    t = ((h1h << 27) | (h1l >>> 5)) >>> 0; h1l = ((h1l << 27) | (h1h >>> 5)) >>> 0; h1h = t;
    t = h1l + h2l; h1l = t >>> 0; h1h = (h1h + h2h + (t > 0xffffffff ? 1 : 0)) >>> 0;
    mul64(h1h, h1l, 0, 5);
    t = ML + 0x52dce729; h1l = t >>> 0; h1h = (MH + (t > 0xffffffff ? 1 : 0)) >>> 0;
    // k2 *= c2; k2 = rotl(k2, 33); k2 *= c1; h2 ^= k2
    mul64(k2h, k2l, 0x4cf5ad43, 0x2745937f);
    // rotl 33 = swap halves then rotl 1
    k2h = ((ML << 1) | (MH >>> 31)) >>> 0; k2l = ((MH << 1) | (ML >>> 31)) >>> 0;
    mul64(k2h, k2l, 0x87c37b91, 0x114253d5);
    h2h = (h2h ^ MH) >>> 0; h2l = (h2l ^ ML) >>> 0;
    // h2 = rotl(h2, 31); h2 += h1; h2 = h2 * 5 + 0x38495ab5
    t = ((h2h << 31) | (h2l >>> 1)) >>> 0; h2l = ((h2l << 31) | (h2h >>> 1)) >>> 0; h2h = t;
    t = h2l + h1l; h2l = t >>> 0; h2h = (h2h + h1h + (t > 0xffffffff ? 1 : 0)) >>> 0;
    mul64(h2h, h2l, 0, 5);
    t = ML + 0x38495ab5; h2l = t >>> 0; h2h = (MH + (t > 0xffffffff ? 1 : 0)) >>> 0;
  }
  const rem = len & 15;
  if (rem > 8) {
    k2h = 0; k2l = 0;
    for (let j = rem - 1; j >= 8; j--) {
      if (j >= 12) k2h |= bytes[i + j] << ((j - 12) * 8); else k2l |= bytes[i + j] << ((j - 8) * 8);
    }
    mul64(k2h >>> 0, k2l >>> 0, 0x4cf5ad43, 0x2745937f);
    k2h = ((ML << 1) | (MH >>> 31)) >>> 0; k2l = ((MH << 1) | (ML >>> 31)) >>> 0;
    mul64(k2h, k2l, 0x87c37b91, 0x114253d5);
    h2h = (h2h ^ MH) >>> 0; h2l = (h2l ^ ML) >>> 0;
  }
  if (rem > 0) {
    k1h = 0; k1l = 0;
    for (let j = Math.min(rem, 8) - 1; j >= 0; j--) {
      if (j >= 4) k1h |= bytes[i + j] << ((j - 4) * 8); else k1l |= bytes[i + j] << (j * 8);
    }
    mul64(k1h >>> 0, k1l >>> 0, 0x87c37b91, 0x114253d5);
    t = ((MH << 31) | (ML >>> 1)) >>> 0; k1l = ((ML << 31) | (MH >>> 1)) >>> 0; k1h = t;
    mul64(k1h, k1l, 0x4cf5ad43, 0x2745937f);
    h1h = (h1h ^ MH) >>> 0; h1l = (h1l ^ ML) >>> 0;
  }
  // h1 ^= len; h2 ^= len (len < 2^32 here)
  h1l = (h1l ^ len) >>> 0; h2l = (h2l ^ len) >>> 0;
  t = h1l + h2l; h1l = t >>> 0; h1h = (h1h + h2h + (t > 0xffffffff ? 1 : 0)) >>> 0;
  t = h2l + h1l; h2l = t >>> 0; h2h = (h2h + h1h + (t > 0xffffffff ? 1 : 0)) >>> 0;
  fmix(h1h, h1l); h1h = FH; h1l = FL;
  fmix(h2h, h2l); h2h = FH; h2l = FL;
  t = h1l + h2l; h1l = t >>> 0; h1h = (h1h + h2h + (t > 0xffffffff ? 1 : 0)) >>> 0;
  t = h2l + h1l; h2l = t >>> 0; h2h = (h2h + h1h + (t > 0xffffffff ? 1 : 0)) >>> 0;
  H[0] = h1h; H[1] = h1l; H[2] = h2h; H[3] = h2l;
}
