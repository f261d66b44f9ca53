/*
 * phq.h - an independent C99 reader for the phq binary model format, versions 1.0 and 1.1
 * (spec/format-v1.0.md, and spec/format-v1.1.md: 4-bit linear and codebook quantization;
 * section numbers below are 1.0's, "1.1 §N" the delta's).
 *
 * Design
 *   - Works over a caller-supplied, read-only buffer holding the whole file (a memory
 *     mapping, flash, an embedded blob...). The buffer may have any alignment; all
 *     multi-byte fields are read byte by byte as little-endian, so any host works.
 *     The buffer must stay valid and unchanged while the model is in use.
 *   - No dependency beyond libc (string.h, stdio.h for snprintf of error messages).
 *   - No malloc on any lookup or validation path, no global or static mutable state.
 *     Constant tables only. phq_open alone may allocate one temporary workspace (below),
 *     freed before it returns; -DPHQ_NO_MALLOC builds never call malloc.
 *   - Thread-safe reads: after phq_open returns, a phq_model and the phq_table /
 *     phq_tensor views obtained from it are only read; any number of threads may call
 *     phq_lookup / phq_row_* concurrently on them.
 *   - Never reads outside [buf, buf + len), whatever the bytes (fuzzed with ASan/UBSan).
 *
 * Unbounded counts without malloc
 *   A file may hold up to 65536 sections. phq_model keeps only fixed-size data; the
 *   section table is re-scanned on demand by phq_table_at / phq_tensor_at / phq_find_*
 *   (O(section_count) each: look tables up once at start-up and keep the phq_table).
 *   A table with P > 1 MPH partitions needs per-partition prefix sums for O(1) lookups;
 *   without them a lookup sums the records of the partitions before its own (O(levels
 *   of those partitions)). Give the table a caller-owned array of P phq_part_info with
 *   phq_table_set_index() to make every lookup O(1) in P. phq's writer writes P = 1
 *   unless a table is huge, and P = 1 needs no index.
 *   Duplicate tensor/table names and duplicate JSON member names (spec 5.1, 5.2) are found
 *   at open by sorting (hash, name) entries in a workspace, in O(k log k) comparisons for
 *   k names (or members of one JSON object), whatever k: 256 entries (4 KiB) on the stack,
 *   a caller-provided workspace given to phq_open_ex() (16 bytes per name or member of
 *   the largest object), or else a temporary malloc'ed workspace of exactly k entries
 *   (at most 16 bytes per 5 bytes of metadata, or 1 MiB for 65536 names), freed before
 *   phq_open returns. Crafted hash collisions cost nothing extra (ties are broken by the
 *   names themselves). Built with -DPHQ_NO_MALLOC the library never allocates: beyond
 *   the workspace's capacity, names are then taken in blocks, O(k^2 / capacity)
 *   comparisons (a 16 MiB object of 700k members: ~90 s with the 256-entry stack
 *   workspace); such builds should pass a workspace when opening untrusted files. The
 *   stack default can be changed with -DPHQ_STACK_WORKSPACE=entries (16 bytes each).
 *
 * Format versions
 *   By default the library reads format 1.2 (and so every 1.0 and 1.1 file); 1.2 adds the bit
 *   COMPACT_SPARSE (bit 2), layout 2 and kinds 0x1C-0x1F (spec/format-v1.2.md); built with
 *   -DPHQ_MAX_MINOR=1 it is a 1.1 reader that refuses that bit with E_FEATURE. 1.1 has required feature bits
 *   LINEAR4 (bit 0) and CODEBOOK (bit 1), quant values 3-5, the CODEBOOK part (kind 0x1B).
 *   Built with -DPHQ_MAX_MINOR=0 it is a strict 1.0 reader, as a reader written before 1.1
 *   would be: it refuses those feature bits with E_FEATURE (10.1 step 7), does not know
 *   kind 0x1B and rejects quant > 2 (E_ENUM). phq_supported_minor() tells which build
 *   a program is linked with. Any later minor is read unless it sets an unknown required bit.
 *
 * Error codes are the spec's (section 11) prefixed with PHQ_; phq_error_name() returns the
 * spec's name ("E_CHECKSUM"). PHQ_E_USAGE ("UsageError") is the caller's mistake (unknown
 * table, slot out of range, model not open), never a format error.
 */
#ifndef PHQ_H
#define PHQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PHQ_FORMAT_MAJOR 1
#define PHQ_FORMAT_MINOR 2 /* highest minor this header describes; see phq_supported_minor() */

/* required_features bits of format 1.1 (1.1 §1) */
#define PHQ_FEATURE_LINEAR4 ((uint64_t)1 << 0)  /* tables with quant 3 (linear4) */
#define PHQ_FEATURE_CODEBOOK ((uint64_t)1 << 1) /* tables with quant 4/5 and their CODEBOOK part */
/* format 1.2 (1.2 §1): tables with layout 2 (compact sparse rows, PHQ_LAYOUT_COMPACT) */
#define PHQ_FEATURE_COMPACT_SPARSE ((uint64_t)1 << 2)

/* The highest format minor version the library was built to read: 2, or 1 / 0 for a
 * -DPHQ_MAX_MINOR=1 / 0 build (which refuses the feature bits of later minors with E_FEATURE). */
unsigned phq_supported_minor(void);

typedef enum phq_code {
    PHQ_OK = 0,
    PHQ_E_TRUNCATED,
    PHQ_E_SIGNATURE,
    PHQ_E_TEXT_MODE,
    PHQ_E_VERSION,
    PHQ_E_HEADER_SIZE,
    PHQ_E_HEADER_CHECKSUM,
    PHQ_E_RESERVED,
    PHQ_E_FEATURE,
    PHQ_E_FILE_SIZE,
    PHQ_E_LIMIT,
    PHQ_E_OVERFLOW,
    PHQ_E_SECTION_TABLE,
    PHQ_E_SECTION_ALIGN,
    PHQ_E_SECTION_OVERLAP,
    PHQ_E_SECTION_GAP,
    PHQ_E_SECTION_BOUNDS,
    PHQ_E_PADDING,
    PHQ_E_UNKNOWN_SECTION,
    PHQ_E_SECTION_ORDER,
    PHQ_E_SECTION_SIZE,
    PHQ_E_ENUM,
    PHQ_E_NAME,
    PHQ_E_DUPLICATE_NAME,
    PHQ_E_DUPLICATE_SECTION,
    PHQ_E_METADATA,
    PHQ_E_MPH,
    PHQ_E_RANK,
    PHQ_E_FALLBACK,
    PHQ_E_SCALE,
    PHQ_E_SPARSE,
    PHQ_E_VALUE,
    PHQ_E_CHECKSUM,
    PHQ_E_USAGE = 100 /* caller error, not a format error ("UsageError") */
} phq_code;

/* The spec's name of a code ("E_CHECKSUM"), "OK" for PHQ_OK, "UsageError" for
 * PHQ_E_USAGE, "E_UNKNOWN" for anything else. Never NULL. */
const char *phq_error_name(int code);

#define PHQ_NO_OFFSET UINT64_MAX
#define PHQ_NO_SECTION UINT32_MAX

typedef struct phq_error {
    phq_code code;    /* PHQ_OK when no error */
    uint64_t offset;  /* file offset where the problem was found, or PHQ_NO_OFFSET */
    uint32_t section; /* section-table index concerned, or PHQ_NO_SECTION */
    char msg[160];    /* human-readable detail, NUL-terminated */
} phq_error;

/* ---- model ---------------------------------------------------------------------- */

typedef struct phq_model {
    const unsigned char *buf; /* the caller's buffer */
    size_t len;
    uint16_t major, minor;
    uint64_t required_features, optional_features;
    uint32_t section_count;
    uint32_t table_count, tensor_count;
    uint32_t meta_section; /* PHQ_NO_SECTION when the file has no META */
    uint64_t meta_offset, meta_size;
    uint32_t magic_; /* set by a successful phq_open */
} phq_model;

typedef struct phq_open_options {
    /* Optional workspace for duplicate-name detection (see top of file). Any alignment;
     * NULL/0 means the 4 KiB stack default, and a temporary heap workspace for longer
     * lists (unless -DPHQ_NO_MALLOC). Only used during open. */
    void *scratch;
    size_t scratch_size;
} phq_open_options;

/* Open a file image: every structural check of spec 10.1, in the spec's order (cost
 * independent of payload size, except metadata, which is checked as in 5.2). On
 * failure returns the code, fills *err (if non-NULL) and leaves *m unusable. */
phq_code phq_open(const void *buf, size_t len, phq_model *m, phq_error *err);
phq_code phq_open_ex(const void *buf, size_t len, const phq_open_options *opt,
                     phq_model *m, phq_error *err);

/* Full validation (spec 10.2: padding bytes, every section CRC32C, float values, MPH bitmaps, rank
 * entries, fallback lists, sparse indexes). Reads every byte. Needs a model opened by
 * phq_open. */
phq_code phq_validate(const phq_model *m, phq_error *err);

/* Metadata: returns 1 and the META section's bytes (UTF-8 JSON object, not
 * NUL-terminated) when the file has one; 0 and "{}" (the spec's empty object) when not. */
int phq_metadata(const phq_model *m, const unsigned char **data, size_t *len);

/* ---- tensors (spec 5.3) ------------------------------------------------------------ */

enum {
    PHQ_DT_F32 = 1, PHQ_DT_F16, PHQ_DT_F64, PHQ_DT_I8, PHQ_DT_I16, PHQ_DT_I32,
    PHQ_DT_I64, PHQ_DT_U8, PHQ_DT_U16, PHQ_DT_U32, PHQ_DT_U64
};

typedef struct phq_tensor {
    const unsigned char *name; /* not NUL-terminated */
    size_t name_len;
    uint8_t dtype;  /* PHQ_DT_* */
    uint8_t ndim;   /* 0..8 */
    uint64_t shape[8];
    const unsigned char *data; /* elements in C order, little-endian as stored */
    uint64_t nbytes;
    uint32_t section;
} phq_tensor;

uint32_t phq_tensor_count(const phq_model *m);
/* i-th tensor in file order; PHQ_E_USAGE if i is out of range. O(section_count). */
phq_code phq_tensor_at(const phq_model *m, uint32_t i, phq_tensor *t);
/* 1 and *t filled when a tensor has this name, else 0. */
int phq_find_tensor(const phq_model *m, const void *name, size_t name_len, phq_tensor *t);
const char *phq_dtype_name(int dtype); /* "f32" ... "u64", or "?" */
size_t phq_dtype_size(int dtype);     /* bytes per element, 0 if unknown */

/* ---- tables (spec 5.4, 7, 8, 9) ------------------------------------------------------ */

enum {
    PHQ_QUANT_F32 = 0,
    PHQ_QUANT_F16 = 1,
    PHQ_QUANT_LINEAR8 = 2,
    PHQ_QUANT_LINEAR4 = 3,   /* 1.1: 4-bit codes, scale records as linear8 (zero points 0..15) */
    PHQ_QUANT_CODEBOOK4 = 4, /* 1.1: 4-bit codes into 16 float32 levels per group */
    PHQ_QUANT_CODEBOOK8 = 5  /* 1.1: 8-bit codes into 256 float32 levels per group */
};
enum { PHQ_LAYOUT_DENSE = 0, PHQ_LAYOUT_SPARSE = 1, PHQ_LAYOUT_COMPACT = 2 /* 1.2 §3 */ };
enum { PHQ_SCALE_NONE = 0, PHQ_SCALE_TABLE = 1, PHQ_SCALE_COLUMN = 2, PHQ_SCALE_ROW_BLOCK = 3 };

/* Prefix sums of one partition (spec 5.5.1 "derived" values). */
typedef struct phq_part_info {
    uint64_t first_slot, first_level, first_word, first_fallback;
} phq_part_info;

typedef struct phq_table {
    const unsigned char *name; /* not NUL-terminated */
    size_t name_len;
    uint32_t section;          /* index of the TABLE section */
    uint64_t num_keys;
    uint32_t dim;
    uint32_t seed;
    uint32_t num_partitions;
    uint32_t gamma_milli;
    uint64_t nnz;
    uint8_t hash_scheme, quant, layout, fingerprint_bits;
    uint8_t scale_granularity, index_width, column_width;
    uint32_t scale_block_rows;
    size_t itemsize;           /* bytes per value of a raw row: 4 (f32), 2 (f16), 1 (codes;
                                * 4-bit codes are unpacked to one byte each) */
    /* parts, pointers into the buffer */
    const unsigned char *partitions, *levels, *bitmap, *rank, *fallback;
    const unsigned char *fingerprints, *scales, *rows, *row_index, *columns;
    uint64_t num_levels, bitmap_words, num_fallback, num_scales;
    const phq_part_info *index_; /* optional, see phq_table_set_index */
    /* format 1.1 (appended: the fields above keep their places) */
    uint8_t code_bits;             /* bits per stored value in ROWS: 32, 16, 8 or 4 (a nibble
                                    * stream, 1.1 §4.3: code i in byte i/2, low nibble first) */
    const unsigned char *codebook; /* codebook4/8: G x codebook_levels f32 levels (1.1 §4.2), else NULL */
    uint32_t codebook_levels;      /* K: 16 (codebook4), 256 (codebook8), 0 otherwise */
    /* format 1.2, the compact layout (1.2 §4; NULL / 0 for other layouts): row_index(s) =
     * row_bases[s >> row_block_log2] + row_deltas[s]; the columns of row s are Elias-Fano
     * coded: column_low_bits low bits each in column_low, the high parts in the row's region
     * of column_high (bits [row_index(s) + s H, row_index(s + 1) + (s + 1) H), H = column_high_zeros) */
    const unsigned char *row_bases, *row_deltas, *column_low, *column_high;
    uint8_t delta_width, row_block_log2, column_low_bits;
    uint32_t column_high_zeros;
} phq_table;

uint32_t phq_table_count(const phq_model *m);
/* i-th table in file order; PHQ_E_USAGE if out of range. O(section_count). */
phq_code phq_table_at(const phq_model *m, uint32_t i, phq_table *t);
/* 1 and *t filled when a table has this name (bytes), else 0. */
int phq_find_table(const phq_model *m, const void *name, size_t name_len, phq_table *t);
/* "f32", "f16", "linear8", "linear4", "codebook4", "codebook8" (the last three only in a
 * 1.1 build), or "?" */
const char *phq_quant_name(int quant);

/* Optional O(1)-in-P lookups for tables with several partitions: fills arr[0..P) (the
 * caller keeps it alive as long as *t is used) and attaches it to *t. n must be >=
 * t->num_partitions; returns PHQ_E_USAGE otherwise. O(levels of the table). */
phq_code phq_table_set_index(phq_table *t, phq_part_info *arr, size_t n);

#define PHQ_ABSENT 0
#define PHQ_FOUND 1
#define PHQ_ERROR (-1)

/* Look a key (bytes; text keys as UTF-8) up: PHQ_FOUND and *slot, PHQ_ABSENT, or
 * PHQ_ERROR with *err filled (spec 10.3: E_RANK for a corrupt rank entry). No
 * allocation, no writes but *slot and *err. With fingerprint_bits = 0 every key is
 * "found" (spec 7.5). */
int phq_lookup(const phq_table *t, const void *key, size_t key_len, uint64_t *slot,
               phq_error *err);
/* The same from a precomputed hash (h1, h2) = MurmurHash3_x64_128(key, t->seed). */
int phq_lookup_hash(const phq_table *t, uint64_t h1, uint64_t h2, uint64_t *slot,
                    phq_error *err);

/* Raw row of a slot (spec 9.2): dim * itemsize bytes of stored codes, little-endian as
 * in the file, sparse rows expanded with their zero code (zero_point for linear8/linear4,
 * code 0 for codebooks); 4-bit codes unpacked to one byte each (1.1 §5). out needs
 * dim*itemsize bytes.
 * PHQ_E_SPARSE for a corrupt sparse row (10.3), PHQ_E_USAGE for slot >= num_keys. */
phq_code phq_row_raw(const phq_table *t, uint64_t slot, void *out, phq_error *err);
/* Dequantized row (spec 8.1; 1.1 §5: linear4 as linear8, codebook levels[g][q]) as host
 * floats; out needs dim floats. */
phq_code phq_row_f32(const phq_table *t, uint64_t slot, float *out, phq_error *err);
/* acc[c] = acc[c] + u * (double)row[c] for the row's values as phq_row_f32 reads them, in
 * binary64 (the NLU profile's scoring step, spec/nlu-profile-v2.md 8.1). A sparse row adds only
 * its stored values: an omitted value is +0.0, whose product leaves a sum unchanged (up to the
 * sign of a zero sum). Cost O(stored values) instead of O(dim). */
phq_code phq_row_accumulate(const phq_table *t, uint64_t slot, double u, double *acc, phq_error *err);
/* Lookup + dequantized row in one call: PHQ_FOUND / PHQ_ABSENT / PHQ_ERROR. */
int phq_get_f32(const phq_table *t, const void *key, size_t key_len, float *out,
                phq_error *err);

/* Batched lookups: status[i] = PHQ_FOUND / PHQ_ABSENT / PHQ_ERROR for key i, exactly as the
 * single-key calls answer it (phq_lookup / phq_lookup_hash, then phq_row_f32 / phq_row_raw
 * for the row calls), computed in groups of keys whose memory accesses overlap (software
 * prefetch of each next access: bitmap words level by level, rank entries, fingerprints,
 * rows; much faster than a loop of single lookups on tables larger than the caches).
 * String keys: keys[i], lens[i] bytes. Pre-hashed keys ("_hash_"): hashes[2i] = h1,
 * hashes[2i+1] = h2 = MurmurHash3_x64_128(key i, t->seed).
 *   phq_lookup_many / phq_lookup_hash_many: slots[i] set for found keys.
 *   phq_get_f32_many / phq_get_f32_hash_many: the dequantized row of found key i at
 *     out + i * dim (phq_row_f32's values, bit for bit).
 *   phq_get_raw_many / phq_get_raw_hash_many: the raw row of found key i (phq_row_raw's
 *     bytes) at (unsigned char *)out + i * dim * itemsize.
 * Rows of keys not found are left untouched. *err gets the error of the lowest-indexed key
 * whose status is PHQ_ERROR (code PHQ_OK when none). Returns the number of keys found.
 * No allocation (about 24 KiB of stack with the default -DPHQ_GROUP=64 keys a group). */
size_t phq_lookup_many(const phq_table *t, const void *const *keys, const size_t *lens, size_t n,
                       uint64_t *slots, signed char *status, phq_error *err);
size_t phq_lookup_hash_many(const phq_table *t, const uint64_t *hashes, size_t n, uint64_t *slots,
                            signed char *status, phq_error *err);
size_t phq_get_f32_many(const phq_table *t, const void *const *keys, const size_t *lens, size_t n,
                        float *out, signed char *status, phq_error *err);
size_t phq_get_f32_hash_many(const phq_table *t, const uint64_t *hashes, size_t n, float *out,
                             signed char *status, phq_error *err);
size_t phq_get_raw_many(const phq_table *t, const void *const *keys, const size_t *lens, size_t n,
                        void *out, signed char *status, phq_error *err);
size_t phq_get_raw_hash_many(const phq_table *t, const uint64_t *hashes, size_t n, void *out,
                             signed char *status, phq_error *err);

/* ---- primitives (exposed for tests and tools) ---------------------------------------- */

/* MurmurHash3_x64_128 (SMHasher) with 32-bit seed; out[0] = h1, out[1] = h2 (spec 6). */
void phq_murmur3_x64_128(const void *key, size_t len, uint32_t seed, uint64_t out[2]);
uint64_t phq_fmix64(uint64_t k);
/* CRC32C (Castagnoli). Start with crc = 0; chain by passing the previous result. */
uint32_t phq_crc32c(uint32_t crc, const void *data, size_t len);
/* binary16 -> binary32, exact (NaN payloads kept as quiet NaNs). */
float phq_f16_to_f32(uint16_t h);
/* linear8 dequantization of spec 8.1: float32(float32(q - zero_point) * scale); also
 * linear4's (1.1 §5, q and zero_point in 0..15). */
float phq_linear8(uint8_t q, float scale, int32_t zero_point);
/* Code i of a 4-bit nibble stream (1.1 §4.3): low nibble of byte i/2 when i is even, high
 * nibble when odd. phq_unpack_nibbles writes codes [first, first + count) to out, one per
 * byte. The caller guarantees that packed holds at least (first + count + 1) / 2 bytes. */
uint8_t phq_nibble(const void *packed, uint64_t i);
void phq_unpack_nibbles(const void *packed, uint64_t first, size_t count, uint8_t *out);
/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF): 1 valid, 0 not. */
int phq_utf8_valid(const unsigned char *s, size_t n);
/* Strict RFC 8259 JSON holding one object as in spec 5.2 (no duplicate member names,
 * depth <= 64, UTF-8). Returns 1 valid, 0 not (*err_pos, if non-NULL, gets the byte
 * position of the problem and *why a static description). scratch as in
 * phq_open_options. */
int phq_json_object_valid(const unsigned char *s, size_t n, void *scratch,
                          size_t scratch_size, size_t *err_pos, const char **why);

#ifdef __cplusplus
}
#endif
#endif /* PHQ_H */
