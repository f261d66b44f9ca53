// CRC32C (Castagnoli, reflected 0x82F63B78, init and final XOR 0xFFFFFFFF): format §3.
// Slicing-by-8 tables; CRC32C("123456789") = 0xE3069283 (§15.3).

const T = new Uint32Array(8 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  T[n] = c >>> 0;
}
for (let n = 0; n < 256; n++) {
  let c = T[n];
  for (let s = 1; s < 8; s++) { c = T[c & 0xff] ^ (c >>> 8); T[s * 256 + n] = c >>> 0; }
}

/** CRC32C of bytes[start, end). */
export function crc32c(bytes, start = 0, end = bytes.length) {
  let c = 0xffffffff, i = start;
  while (i < end && (bytes.byteOffset + i) & 3) c = T[(c ^ bytes[i++]) & 0xff] ^ (c >>> 8);
  if (end - i >= 8) {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset + i, (end - i) >>> 2);
    const nw = ((end - i) >>> 3) << 1;
    for (let w = 0; w < nw; w += 2) {
      const a = c ^ words[w], b = words[w + 1];
      c = T[1792 + (a & 0xff)] ^ T[1536 + ((a >>> 8) & 0xff)] ^ T[1280 + ((a >>> 16) & 0xff)] ^ T[1024 + (a >>> 24)] ^
          T[768 + (b & 0xff)] ^ T[512 + ((b >>> 8) & 0xff)] ^ T[256 + ((b >>> 16) & 0xff)] ^ T[b >>> 24];
    }
    i += nw * 4;
  }
  while (i < end) c = T[(c ^ bytes[i++]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
