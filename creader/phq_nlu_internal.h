/*
 * phq_nlu_internal.h - the NLU runtime's shared internals (not an API): the parsed model kept in
 * the arena, and the JSON cursor used at open. Every identifier is prefixed nlu_ / NLU_ so the
 * runtime compiles in one translation unit with phq.c (pyreader/_accel.c does so).
 */
#ifndef PHQ_NLU_INTERNAL_H
#define PHQ_NLU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "phq.h"
#include "phq_nlu.h"

#define NLU_MAX_FEATURIZERS 64
#define NLU_MAX_CLASSES 65536u
#define NLU_MAX_NGRAM 64u
#define NLU_MAX_NGRAM_SPAN 15u
#define NLU_MAX_PREFIX 1024u
#define NLU_MAX_STOP_WORDS 65536u
#define NLU_MAX_SEPARATOR 256u
#define NLU_EXPANSION 6u /* code points per input byte after decoding and preprocessing (spec §13) */

enum { NLU_KIND_TEXT = 0, NLU_KIND_DICT = 1 };
enum { NLU_AN_WORD = 0, NLU_AN_CHAR = 1, NLU_AN_CHAR_WB = 2 };
enum { NLU_TOK_MIN2 = 0, NLU_TOK_MIN1 = 1, NLU_TOK_NONSPACE = 2 };
enum { NLU_STRIP_NONE = 0, NLU_STRIP_UNICODE = 1, NLU_STRIP_ASCII = 2 };
enum { NLU_DEC_STRICT = 0, NLU_DEC_IGNORE = 1, NLU_DEC_REPLACE = 2 };
enum { NLU_NORM_NONE = 0, NLU_NORM_L1 = 1, NLU_NORM_L2 = 2 };
enum { NLU_CAL_NONE = 0, NLU_CAL_SIGMOID = 1, NLU_CAL_ISOTONIC = 2 };
#define NLU_MAX_FOLDS 64u
#define NLU_MAX_POINTS (1u << 24)
/* the calibrated probabilities (v2 §8.5.1) from the ncol fold scores t into K values; fp: K doubles */
void nlu_calibrate(const phq_nlu *nlu, const double *t, double *fp, double *out);

typedef struct nlu_feat {
    uint8_t kind, analyzer, tokenizer, lowercase, strip, binary, sublinear, decode, norm;
    uint8_t prefix_utf8; /* 0 when key_prefix holds a surrogate code point: no key exists (§7.2) */
    uint32_t lo, hi;
    const unsigned char *prefix; /* key_prefix, UTF-8 (arena) */
    size_t prefix_len;
    phq_table norm_table; /* when norm != NONE */
    /* stop words (word analyzer): code points in stop_cps, word i = [stop_off[i], stop_off[i+1]);
     * open addressing: stop_slot[h & stop_mask] = i + 1, 0 for empty */
    uint32_t n_stop, stop_mask;
    const uint32_t *stop_off, *stop_cps, *stop_slot;
    const uint64_t *stop_hash;
} nlu_feat;

#define NLU_MAX_TEMPLATES 256u
#define NLU_MAX_TLABELS 1024u
enum { NLU_TT_COMPS = 0, NLU_TT_BIAS = 1, NLU_TT_BOS = 2, NLU_TT_EOS = 3 };
enum { NLU_TKN_WORD_PUNCT = 0, NLU_TKN_NONSPACE = 1 };
/* token attributes (profile 3 §4.1): w, raw, p1..p8 (2..9), s1..s8 (10..17), shape, sshape, digit, upper, title */
enum { NLU_A_W = 0, NLU_A_RAW = 1, NLU_A_P1 = 2, NLU_A_S1 = 10, NLU_A_SHAPE = 18, NLU_A_SSHAPE = 19,
       NLU_A_DIGIT = 20, NLU_A_UPPER = 21, NLU_A_TITLE = 22, NLU_A_COUNT = 23 };

/* the tagger of a profile 3 model (spec nlu-profile-v3 §2.2), in the arena */
typedef struct nlu_tagger {
    uint8_t tokenizer, decode;
    uint32_t ntemplates, L;
    uint8_t tkind[NLU_MAX_TEMPLATES], ncomp[NLU_MAX_TEMPLATES];
    uint8_t attr[NLU_MAX_TEMPLATES][4];
    int8_t off[NLU_MAX_TEMPLATES][4];
    const uint32_t *label_off;   /* L + 1 offsets into labels */
    const unsigned char *labels; /* labels, UTF-8 (generalized for lone surrogates) */
    const double *trans;         /* T[a][j] at trans[a * L + j] (row-major), widened to binary64 */
    phq_table state;
    size_t state_name_off, state_name_len, trans_name_off, trans_name_len; /* names, in the arena */
} nlu_tagger;

struct phq_nlu {
    const phq_model *model;
    size_t arena_size;
    uint32_t K, k, nfeat;
    int proba;  /* PHQ_NLU_PROBA_* */
    int input;  /* NLU_KIND_* */
    int profile;
    phq_table score;
    const double *intercept;          /* k values */
    const uint32_t *label_off;        /* K + 1 offsets into labels */
    const unsigned char *labels;      /* labels as JSON text */
    nlu_feat feat[NLU_MAX_FEATURIZERS];
    /* calibrated classifiers (spec v2 §2.4, §8.5.1): k = K outputs (the probabilities), the score
     * table and the intercept hold ncol = folds x kb columns, fold-major */
    uint32_t ncol, kb, folds;
    int cal;                       /* NLU_CAL_* */
    const double *cal_a, *cal_b;   /* sigmoid: ncol values each */
    const uint64_t *cal_off;       /* isotonic: ncol + 1 offsets into the two tensors */
    const unsigned char *iso_x, *iso_y; /* isotonic: the f64 tensors' data (little-endian) */
    nlu_tagger *tagger; /* profile 3 with a tagger, else NULL */
    const unsigned char *arena; /* the arena's start (names of the tagger are offsets into it) */
};

/* ---- JSON cursor (phq_nlu_json.c): reads one value at a time; never reads out of bounds;
 * iterative (skipping a value counts brackets, no recursion). The metadata passed the reader's
 * strict validator first; the cursor still refuses what it cannot read (-1). */
typedef struct nlu_json {
    const unsigned char *s;
    size_t n, i;
} nlu_json;

enum { NLU_J_END = 0, NLU_J_STRING, NLU_J_NUMBER, NLU_J_TRUE, NLU_J_FALSE, NLU_J_NULL, NLU_J_OBJECT, NLU_J_ARRAY, NLU_J_BAD };

int nlu_json_type(nlu_json *c);  /* type of the next value (whitespace skipped), not consumed */
int nlu_json_skip(nlu_json *c);  /* skip one value; 0 or -1 */
/* Decode a string value: its code points written as UTF-8 (a lone surrogate from a \u escape as
 * its 3-byte generalized UTF-8 form ED A0..BF xx) into out[0..cap); *len = the full decoded
 * length even when larger than cap (then out holds a prefix); *surrogate = 1 when it holds a lone
 * surrogate. 0 or -1. out may be NULL (cap 0) to measure. */
int nlu_json_string(nlu_json *c, unsigned char *out, size_t cap, size_t *len, int *surrogate);
/* A number value: its text [*tok, *tok + *len); *integer = 1 when written without fraction or
 * exponent. 0 or -1. */
int nlu_json_number(nlu_json *c, const unsigned char **tok, size_t *len, int *integer);
int nlu_json_literal(nlu_json *c);
/* Code point by code point: *_begin consumes the opening quote; *_next gives 1 and *cp, 0 after
 * the closing quote, -1 on malformed input (lone surrogates from \u escapes are returned as is). */
int nlu_json_string_begin(nlu_json *c);
int nlu_json_string_next(nlu_json *c, uint32_t *cp);
size_t nlu_utf8_put(uint32_t cp, unsigned char *out); /* 1..4 bytes (surrogates as 3 bytes) */ /* true/false/null: consumes it, returns its NLU_J_* or -1 */
/* Objects and arrays: *_begin consumes the opening bracket (-1 if absent); *_next returns 1 with
 * the cursor on the next member's value (its decoded name in name[0..cap), *name_len its full
 * length) or element, 0 after consuming the closing bracket, -1 on malformed input. */
int nlu_json_object_begin(nlu_json *c);
int nlu_json_object_next(nlu_json *c, int *first, unsigned char *name, size_t cap, size_t *name_len);
int nlu_json_array_begin(nlu_json *c);
int nlu_json_array_next(nlu_json *c, int *first);
/* Decode a code point from generalized UTF-8 as written by nlu_json_string (valid input only). */
uint32_t nlu_wtf8_next(const unsigned char *s, size_t n, size_t *i);

/* ---- shared helpers (phq_nlu.c) */
uint64_t nlu_hash_cps(const uint32_t *cp, size_t n);
int nlu_cp_is_word(uint32_t cp);
int nlu_cp_is_space(uint32_t cp);
int nlu_cp_is_cased(uint32_t cp);
int nlu_cp_has_lower(uint32_t cp); /* lowercase.txt lists cp */
long long nlu_decode_cps(const unsigned char *s, size_t n, int mode, uint32_t *out); /* -1: ill-formed, strict */
size_t nlu_lower_cps(const uint32_t *t, size_t n, uint32_t *out); /* v2 §5.1 on t alone; out NULL: count */
/* the classifier's workspace size (0 featurizers: a minimal size); exact = 0: the bound for len bytes */
size_t nlu_cls_workspace(const phq_nlu *nlu, const void *text, size_t len, int exact);

/* ---- profile 3 (phq_nlu_tagger_open.c, phq_nlu_tagger.c) */
/* the outer object of profile 3: members checked (E_NLU_SCHEMA); *cls / *tag the offsets of the
 * classifier / tagger objects, (size_t)-1 when null */
int nlu3_outer(const unsigned char *meta, size_t meta_len, size_t obj, size_t *cls, size_t *tag, phq_nlu_error *err);
/* the tagger object: measuring (mem NULL: every type/range check, *size = arena bytes it needs) or
 * filling (mem: the region of *size bytes, *out the tagger; distinctness checks) */
int nlu3_tagger(const phq_model *m, const unsigned char *meta, size_t meta_len, size_t tag, unsigned char *mem,
                size_t *size, nlu_tagger **out, phq_nlu_error *err);
/* references of the tagger (§8 E_NLU_REFERENCE) once filled; names shared with the classifier */
int nlu3_tagger_refs(phq_nlu *nlu, nlu_tagger *t, phq_nlu_error *err);
const char *nlu3_attr_name(int a);
size_t nlu3_workspace(const phq_nlu *nlu, const void *text, size_t len, int exact);

/* Element i of a little-endian binary64 array at p (isotonic points, v2 §2.4), whatever the host's
 * byte order or the array's alignment. */
static inline double nlu_f64le(const unsigned char *p, uint64_t i)
{
    uint64_t b = 0;
    double v;
    int k;
    p += i * 8;
    for (k = 7; k >= 0; k--) b = b << 8 | p[k];
    memcpy(&v, &b, 8);
    return v;
}

#endif
