/*
 * phq_nlu_open.c - phq_nlu_open: reads the "phq.nlu" metadata object (spec nlu-profile-v2 §2, or a
 * profile 1 object mapped by §12), checks it completely in the order of §9 (E_NLU_MISSING,
 * E_NLU_VERSION, E_NLU_SCHEMA, E_NLU_REFERENCE, E_NLU_UNSUPPORTED) and builds the model in ONE
 * arena. The object is read twice with the same code: a measuring pass (every type and range
 * check, sizes counted, nothing written) and, after the single malloc, a filling pass.
 * Checks that need the stored values (distinct labels, distinct prefixes) follow the filling pass.
 */
#include "phq_nlu_internal.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* members of the phq.nlu object (top) and of a featurizer (F_*) */
enum {
    M_PROFILE, M_UNICODE, M_INPUT, M_CLASSES, M_CLASSES_TYPE, M_ESTIMATOR, M_TABLE, M_INTERCEPT,
    M_PROBA, M_FEATURIZERS, M_SOURCE, M_CALIBRATION, M_COUNT
};
static const char *const nlu_top_names[M_COUNT] = {
    "profile", "unicode", "input", "classes", "classes_type", "estimator", "table", "intercept",
    "proba", "featurizers", "source", "calibration"};

enum {
    F_NAME, F_KIND, F_KEY_PREFIX, F_NORM, F_NORM_TABLE, F_WEIGHT, F_ANALYZER, F_NGRAM_RANGE,
    F_LOWERCASE, F_STRIP_ACCENTS, F_BINARY, F_SUBLINEAR_TF, F_DECODE_ERROR, F_TOKENIZER,
    F_STOP_WORDS, F_SEPARATOR, F_ENCODING, F_TOKEN_PATTERN, F_COUNT
};
static const char *const nlu_feat_names[F_COUNT] = {
    "name", "kind", "key_prefix", "norm", "norm_table", "weight", "analyzer", "ngram_range",
    "lowercase", "strip_accents", "binary", "sublinear_tf", "decode_error", "tokenizer",
    "stop_words", "separator", "encoding", "token_pattern"};

#define BIT(x) (1u << (x))
#define F_COMMON (BIT(F_NAME) | BIT(F_KIND) | BIT(F_KEY_PREFIX) | BIT(F_NORM) | BIT(F_NORM_TABLE) | BIT(F_WEIGHT))
#define F_TEXT_ANY (F_COMMON | BIT(F_ANALYZER) | BIT(F_NGRAM_RANGE) | BIT(F_LOWERCASE) | BIT(F_STRIP_ACCENTS) | \
                    BIT(F_BINARY) | BIT(F_SUBLINEAR_TF) | BIT(F_DECODE_ERROR) | BIT(F_STOP_WORDS))
#define F_TEXT_V2 (F_TEXT_ANY | BIT(F_TOKENIZER))
#define F_TEXT_V1 (F_TEXT_ANY | BIT(F_ENCODING) | BIT(F_TOKEN_PATTERN))
#define F_DICT (F_COMMON | BIT(F_SEPARATOR))

/* profile 1 token_pattern spellings (spec §10) */
static const struct { const char *pattern; int tokenizer; } nlu_patterns[] = {
    {"(?u)\\b\\w\\w+\\b", NLU_TOK_MIN2}, {"\\b\\w\\w+\\b", NLU_TOK_MIN2}, {"(?u)\\w\\w+", NLU_TOK_MIN2},
    {"\\w\\w+", NLU_TOK_MIN2}, {"(?u)\\b\\w+\\b", NLU_TOK_MIN1}, {"\\b\\w+\\b", NLU_TOK_MIN1},
    {"(?u)\\w+", NLU_TOK_MIN1}, {"\\w+", NLU_TOK_MIN1}, {"(?u)\\S+", NLU_TOK_NONSPACE},
    {"\\S+", NLU_TOK_NONSPACE}};

typedef struct {
    size_t off, len;
} nlu_span; /* a decoded name in the arena */

typedef struct {
    const phq_model *m;
    phq_nlu_error *err;
    const unsigned char *meta;
    size_t meta_len;
    int profile;
    unsigned char *arena; /* NULL while measuring */
    size_t used;
    /* value offsets of the phq.nlu members */
    size_t top[M_COUNT];
    int classes_type; /* 0 str, 1 int, 2 float, 3 bool */
    uint32_t K, nfeat;
    size_t max_float_tok, label_bytes;
    int input;
    nlu_span table_name, intercept_name, norm_name[NLU_MAX_FEATURIZERS];
    int has_cal;             /* the optional member "calibration" is present (§2.4) */
    uint32_t ncol;           /* score table columns: k, or folds x kb */
    nlu_span iso_x, iso_y;   /* isotonic tensor names */
    int has_norm[NLU_MAX_FEATURIZERS];
    size_t norm_json[NLU_MAX_FEATURIZERS]; /* offset of each norm_table value */
    size_t feat_off[NLU_MAX_FEATURIZERS];
    phq_nlu *nlu; /* in the arena while filling */
    /* open-time scratch in the arena */
    uint64_t *lkey;
    uint32_t *lidx;
    char *numbuf;
} nlu_octx;

static int nlu_fail(nlu_octx *o, int code, const char *fmt, const char *a, const char *b)
{
    if (o->err) {
        o->err->code = code;
        snprintf(o->err->msg, sizeof o->err->msg, fmt, a ? a : "", b ? b : "");
    }
    return code;
}

static void *nlu_alloc(nlu_octx *o, size_t size, size_t *off)
{
    size_t at = (o->used + 7) & ~(size_t)7;
    o->used = at + size;
    if (off) *off = at;
    return o->arena ? o->arena + at : NULL;
}

static int nlu_name_is(const unsigned char *name, size_t len, const char *want)
{
    size_t n = strlen(want);
    return len == n && memcmp(name, want, n) == 0;
}

static int nlu_name_index(const unsigned char *name, size_t len, const char *const *names, int count)
{
    int i;
    for (i = 0; i < count; i++)
        if (nlu_name_is(name, len, names[i])) return i;
    return -1;
}

static nlu_json nlu_at(const nlu_octx *o, size_t off)
{
    nlu_json c;
    c.s = o->meta;
    c.n = o->meta_len;
    c.i = off;
    return c;
}

/* String value equal to one of the choices: its index, -2 not a string, -1 another string. */
static int nlu_choice(const nlu_octx *o, size_t off, const char *const *choices, int count)
{
    nlu_json c = nlu_at(o, off);
    unsigned char buf[32];
    size_t len;
    if (nlu_json_type(&c) != NLU_J_STRING) return -2;
    if (nlu_json_string(&c, buf, sizeof buf, &len, NULL) != 0) return -2;
    if (len > sizeof buf) return -1;
    return nlu_name_index(buf, len, choices, count);
}

/* Integer written without fraction or exponent, in int64: 1 and *v; 0 another number or out of
 * int64; -1 not a number. */
static int nlu_int(const nlu_octx *o, size_t off, int64_t *v)
{
    nlu_json c = nlu_at(o, off);
    const unsigned char *tok;
    size_t len, i;
    int integ, neg;
    uint64_t acc = 0, lim;
    if (nlu_json_type(&c) != NLU_J_NUMBER || nlu_json_number(&c, &tok, &len, &integ) != 0) return -1;
    if (!integ) return 0;
    neg = tok[0] == '-';
    lim = neg ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1;
    for (i = (size_t)neg; i < len; i++) {
        uint64_t d = (uint64_t)(tok[i] - '0');
        if (acc > (lim - d) / 10) return 0;
        acc = acc * 10 + d;
    }
    *v = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return 1;
}

static int nlu_is(const nlu_octx *o, size_t off, int type)
{
    nlu_json c = nlu_at(o, off);
    int t = nlu_json_type(&c);
    if (type == NLU_J_TRUE) return t == NLU_J_TRUE || t == NLU_J_FALSE; /* bool */
    return t == type;
}

static int nlu_bool(const nlu_octx *o, size_t off)
{
    nlu_json c = nlu_at(o, off);
    return nlu_json_type(&c) == NLU_J_TRUE;
}

/* A string member decoded into the arena (filling) or measured: its span; -1 not a string. */
static int nlu_string_to_arena(nlu_octx *o, size_t off, nlu_span *sp, int *surrogate)
{
    nlu_json c = nlu_at(o, off);
    size_t len, at;
    unsigned char *p;
    if (nlu_json_type(&c) != NLU_J_STRING || nlu_json_string(&c, NULL, 0, &len, surrogate) != 0) return -1;
    p = (unsigned char *)nlu_alloc(o, len, &at);
    if (p) {
        c.i = off;
        if (nlu_json_string(&c, p, len, &len, surrogate) != 0) return -1;
    }
    sp->off = at;
    sp->len = len;
    return 0;
}

/* ---- version (§9 step 2) ---------------------------------------------------------------- */

static int nlu_check_version(nlu_octx *o, size_t obj)
{
    nlu_json c = nlu_at(o, obj);
    unsigned char name[16];
    size_t nlen;
    int first = 1, r;
    size_t prof = (size_t)-1, uni = (size_t)-1;
    int64_t v;
    if (nlu_json_object_begin(&c) != 0)
        return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"phq.nlu\" is not an object%s%s", NULL, NULL);
    while ((r = nlu_json_object_next(&c, &first, name, sizeof name, &nlen)) == 1) {
        if (nlu_name_is(name, nlen, "profile")) prof = c.i;
        else if (nlu_name_is(name, nlen, "unicode")) uni = c.i;
        if (nlu_json_skip(&c) != 0) r = -1;
        if (r < 0) break;
    }
    if (r < 0) return nlu_fail(o, PHQ_NLU_E_SCHEMA, "malformed \"phq.nlu\" object%s%s", NULL, NULL);
    if (prof == (size_t)-1) return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"phq.nlu\" has no member \"profile\"%s%s", NULL, NULL);
    r = nlu_int(o, prof, &v);
    if (r < 0) return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"profile\" is not an integer%s%s", NULL, NULL);
    if (r == 0) {
        nlu_json t = nlu_at(o, prof);
        const unsigned char *tok;
        size_t len;
        int integ;
        if (nlu_json_number(&t, &tok, &len, &integ) == 0 && integ)
            return nlu_fail(o, PHQ_NLU_E_VERSION, "profile %s is not read by this runtime (it reads 1, 2 and 3)%s", "(huge)", NULL);
        return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"profile\" is not an integer%s%s", NULL, NULL);
    }
    if (v != 1 && v != 2 && v != 3) {
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)v);
        return nlu_fail(o, PHQ_NLU_E_VERSION, "profile %s is not read by this runtime (it reads 1, 2 and 3)%s", num, NULL);
    }
    o->profile = (int)v;
    if (v >= 2 && uni != (size_t)-1) {
        nlu_json t = nlu_at(o, uni);
        unsigned char buf[16];
        size_t len;
        if (nlu_json_type(&t) == NLU_J_STRING && nlu_json_string(&t, buf, sizeof buf, &len, NULL) == 0 &&
            !(len == 6 && memcmp(buf, "14.0.0", 6) == 0))
            return nlu_fail(o, PHQ_NLU_E_VERSION, "\"unicode\" is not \"14.0.0\"%s%s", NULL, NULL);
    }
    return 0;
}

/* ---- labels (§2.1) ---------------------------------------------------------------------- */

static size_t nlu_escape(uint32_t cp, unsigned char *out)
{
    static const char hex[] = "0123456789abcdef";
    const char *sh = NULL;
    switch (cp) {
    case '"': sh = "\\\""; break;
    case '\\': sh = "\\\\"; break;
    case '\b': sh = "\\b"; break;
    case '\f': sh = "\\f"; break;
    case '\n': sh = "\\n"; break;
    case '\r': sh = "\\r"; break;
    case '\t': sh = "\\t"; break;
    default: break;
    }
    if (sh) { out[0] = (unsigned char)sh[0]; out[1] = (unsigned char)sh[1]; return 2; }
    if (cp < 0x20 || (cp >= 0xD800 && cp <= 0xDFFF)) {
        out[0] = '\\'; out[1] = 'u';
        out[2] = (unsigned char)hex[(cp >> 12) & 15]; out[3] = (unsigned char)hex[(cp >> 8) & 15];
        out[4] = (unsigned char)hex[(cp >> 4) & 15]; out[5] = (unsigned char)hex[cp & 15];
        return 6;
    }
    return nlu_utf8_put(cp, out);
}

static uint64_t nlu_hash_bytes(const unsigned char *p, size_t n)
{
    uint64_t out[2];
    phq_murmur3_x64_128(p, n, 0x6e6c75u, out);
    return out[0];
}

/* classes: validated against classes_type; filling stores each label's JSON text and its key. */
static int nlu_labels(nlu_octx *o)
{
    static const char *const types[] = {"str", "int", "float", "bool"};
    nlu_json c = nlu_at(o, o->top[M_CLASSES]);
    int first = 1, r;
    uint32_t K = 0;
    size_t total = 0;
    phq_nlu *nlu = o->nlu;
    unsigned char *lab = NULL;
    uint32_t *loff = NULL;
    o->classes_type = nlu_choice(o, o->top[M_CLASSES_TYPE], types, 4);
    if (o->classes_type < 0)
        return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"classes_type\" is not \"str\", \"int\", \"float\" or \"bool\"%s%s", NULL, NULL);
    if (nlu_json_array_begin(&c) != 0) return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"classes\" is not an array%s%s", NULL, NULL);
    if (nlu) {
        loff = (uint32_t *)nlu->label_off;
        lab = (unsigned char *)nlu->labels;
    }
    while ((r = nlu_json_array_next(&c, &first)) == 1) {
        int t = nlu_json_type(&c);
        uint64_t key = 0;
        size_t start = total;
        if (K >= NLU_MAX_CLASSES) return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"classes\" holds more than 65536 labels%s%s", NULL, NULL);
        if (o->classes_type == 0) {
            uint32_t cp;
            int q;
            if (t != NLU_J_STRING || nlu_json_string_begin(&c) != 0) break;
            if (lab) lab[total] = '"';
            total++;
            while ((q = nlu_json_string_next(&c, &cp)) == 1) {
                unsigned char tmp[6];
                size_t k, m = nlu_escape(cp, tmp);
                for (k = 0; k < m; k++, total++)
                    if (lab) lab[total] = tmp[k];
            }
            if (q < 0) break;
            if (lab) lab[total] = '"';
            total++;
            if (lab) key = nlu_hash_bytes(lab + start, total - start);
        } else if (o->classes_type == 3) {
            int lit = nlu_json_literal(&c);
            if (lit != NLU_J_TRUE && lit != NLU_J_FALSE) break;
            key = lit == NLU_J_TRUE;
            if (lab) memcpy(lab + total, lit == NLU_J_TRUE ? "true" : "false", lit == NLU_J_TRUE ? 4 : 5);
            total += lit == NLU_J_TRUE ? 4 : 5;
        } else {
            const unsigned char *tok;
            size_t len;
            int integ;
            if (t != NLU_J_NUMBER || nlu_json_number(&c, &tok, &len, &integ) != 0) break;
            if (o->classes_type == 1) {
                int64_t v;
                nlu_json t2 = nlu_at(o, (size_t)(tok - o->meta));
                if (!integ || nlu_int(o, t2.i, &v) != 1) break;
                key = (uint64_t)v;
            } else {
                /* binary64 by the C library's correctly rounded strtod (C locale decimal point) */
                double v;
                char *end = NULL, dp = '.';
                size_t k;
                const struct lconv *lc = localeconv();
                if (lc && lc->decimal_point && lc->decimal_point[0]) dp = lc->decimal_point[0];
                if (len > o->max_float_tok) o->max_float_tok = len;
                if (o->numbuf) {
                    for (k = 0; k < len; k++) o->numbuf[k] = tok[k] == '.' ? dp : (char)tok[k];
                    o->numbuf[len] = 0;
                    v = strtod(o->numbuf, &end);
                    if (!isfinite(v))
                        return nlu_fail(o, PHQ_NLU_E_SCHEMA, "a float label is not a finite binary64%s%s", NULL, NULL);
                    if (v == 0) v = 0; /* -0.0 and 0.0 are one label */
                    memcpy(&key, &v, 8);
                }
            }
            if (lab) memcpy(lab + total, tok, len);
            total += len;
        }
        if (loff) loff[K] = (uint32_t)start;
        if (o->lkey) { o->lkey[K] = key; o->lidx[K] = K; }
        K++;
    }
    if (r == 1) return nlu_fail(o, PHQ_NLU_E_SCHEMA, "a label of \"classes\" is not of classes_type \"%s\"%s", types[o->classes_type], NULL);
    if (r < 0) return nlu_fail(o, PHQ_NLU_E_SCHEMA, "malformed \"classes\"%s%s", NULL, NULL);
    if (K < 2) return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"classes\" holds fewer than 2 labels%s%s", NULL, NULL);
    if (total > UINT32_MAX) return nlu_fail(o, PHQ_NLU_E_SCHEMA, "labels too large%s%s", NULL, NULL);
    if (loff) loff[K] = (uint32_t)total;
    o->K = K;
    o->label_bytes = total;
    if (!o->arena) {
        size_t at;
        nlu_alloc(o, ((size_t)K + 1) * 4, &at);
        nlu_alloc(o, total, &at);
    }
    return 0;
}

/* labels distinct (§2.1): heap sort of (key, label text), then neighbours compared */
static int nlu_label_cmp(const nlu_octx *o, uint32_t a, uint32_t b)
{
    const phq_nlu *nlu = o->nlu;
    uint64_t ka = o->lkey[a], kb = o->lkey[b];
    size_t la, lb, n;
    int r;
    if (ka != kb) return ka < kb ? -1 : 1;
    if (o->classes_type != 0) return 0; /* the key is the value */
    la = nlu->label_off[a + 1] - nlu->label_off[a];
    lb = nlu->label_off[b + 1] - nlu->label_off[b];
    n = la < lb ? la : lb;
    r = memcmp(nlu->labels + nlu->label_off[a], nlu->labels + nlu->label_off[b], n);
    if (r) return r;
    return la < lb ? -1 : la > lb ? 1 : 0;
}

static void nlu_sift(const nlu_octx *o, uint32_t *a, size_t root, size_t end)
{
    for (;;) {
        size_t child = 2 * root + 1;
        uint32_t t;
        if (child >= end) return;
        if (child + 1 < end && nlu_label_cmp(o, a[child], a[child + 1]) < 0) child++;
        if (nlu_label_cmp(o, a[root], a[child]) >= 0) return;
        t = a[root]; a[root] = a[child]; a[child] = t;
        root = child;
    }
}

static int nlu_labels_distinct(nlu_octx *o)
{
    uint32_t *a = o->lidx, t;
    size_t n = o->K, i;
    for (i = n / 2; i-- > 0;) nlu_sift(o, a, i, n);
    for (i = n; i-- > 1;) {
        t = a[0]; a[0] = a[i]; a[i] = t;
        nlu_sift(o, a, 0, i);
    }
    for (i = 1; i < n; i++)
        if (nlu_label_cmp(o, a[i - 1], a[i]) == 0)
            return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"classes\" holds a label twice%s%s", NULL, NULL);
    return 0;
}

/* ---- featurizers (§2.2) ----------------------------------------------------------------- */

static int nlu_bad(nlu_octx *o, uint32_t f, int member, const char *what)
{
    char where[48];
    snprintf(where, sizeof where, "featurizers[%u].%s", (unsigned)f, nlu_feat_names[member]);
    return nlu_fail(o, PHQ_NLU_E_SCHEMA, "%s %s", where, what);
}

static int nlu_stop_words(nlu_octx *o, uint32_t f, size_t off, nlu_feat *ft)
{
    nlu_json c = nlu_at(o, off);
    int first = 1, r;
    uint32_t n = 0, mask;
    size_t total = 0;
    uint32_t *soff = NULL, *scps = NULL, *slot = NULL;
    uint64_t *shash = NULL;
    if (nlu_json_array_begin(&c) != 0) return nlu_bad(o, f, F_STOP_WORDS, "is not null or an array of strings");
    if (ft) { soff = (uint32_t *)ft->stop_off; scps = (uint32_t *)ft->stop_cps; }
    while ((r = nlu_json_array_next(&c, &first)) == 1) {
        uint32_t cp;
        int q;
        if (n >= NLU_MAX_STOP_WORDS) return nlu_bad(o, f, F_STOP_WORDS, "holds more than 65536 strings");
        if (nlu_json_string_begin(&c) != 0) return nlu_bad(o, f, F_STOP_WORDS, "is not null or an array of strings");
        if (soff) soff[n] = (uint32_t)total;
        while ((q = nlu_json_string_next(&c, &cp)) == 1) {
            if (scps) scps[total] = cp;
            total++;
        }
        if (q < 0) r = -1;
        if (r < 0) break;
        n++;
    }
    if (r < 0) return nlu_bad(o, f, F_STOP_WORDS, "is malformed");
    if (total > UINT32_MAX / 2) return nlu_bad(o, f, F_STOP_WORDS, "is too large");
    for (mask = 1; mask < 2 * n; mask <<= 1) {}
    if (!ft) { /* measuring */
        size_t at;
        nlu_alloc(o, ((size_t)n + 1) * 4, &at);
        nlu_alloc(o, total * 4, &at);
        nlu_alloc(o, (size_t)n * 8, &at);
        nlu_alloc(o, (size_t)mask * 4, &at);
        return 0;
    }
    soff[n] = (uint32_t)total;
    shash = (uint64_t *)ft->stop_hash;
    slot = (uint32_t *)ft->stop_slot;
    memset(slot, 0, (size_t)mask * 4);
    ft->n_stop = n;
    ft->stop_mask = mask - 1;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t h = nlu_hash_cps(scps + soff[i], soff[i + 1] - soff[i]);
        uint32_t s = (uint32_t)h & (mask - 1);
        shash[i] = h;
        while (slot[s]) s = (s + 1) & (mask - 1);
        slot[s] = i + 1;
    }
    return 0;
}

/* One featurizer: every member checked (measuring) or stored (filling: ft non-NULL). */
static int nlu_featurizer(nlu_octx *o, uint32_t f, nlu_feat *ft)
{
    static const char *const kinds[] = {"text", "dict"};
    static const char *const analyzers[] = {"word", "char", "char_wb"};
    static const char *const norms[] = {"l1", "l2"};
    static const char *const strips[] = {"unicode", "ascii"};
    static const char *const decodes[] = {"strict", "ignore", "replace"};
    static const char *const tokenizers[] = {"word_runs_min2", "word_runs_min1", "nonspace_runs"};
    nlu_json c = nlu_at(o, o->feat_off[f]);
    size_t off[F_COUNT];
    uint32_t seen = 0, want;
    unsigned char name[32];
    size_t nlen;
    int first = 1, r, kind, v, analyzer = 0;
    nlu_span sp;
    int sur = 0;
    if (nlu_json_object_begin(&c) != 0)
        return nlu_fail(o, PHQ_NLU_E_SCHEMA, "featurizers[%s] is not an object%s", "", NULL);
    while ((r = nlu_json_object_next(&c, &first, name, sizeof name, &nlen)) == 1) {
        int idx = nlen <= sizeof name ? nlu_name_index(name, nlen, nlu_feat_names, F_COUNT) : -1;
        if (idx < 0) {
            char where[48];
            snprintf(where, sizeof where, "featurizers[%u]", (unsigned)f);
            return nlu_fail(o, PHQ_NLU_E_SCHEMA, "%s has an unknown member%s", where, NULL);
        }
        off[idx] = c.i;
        seen |= BIT(idx);
        if (nlu_json_skip(&c) != 0) { r = -1; break; }
    }
    if (r < 0) return nlu_fail(o, PHQ_NLU_E_SCHEMA, "malformed featurizer%s%s", NULL, NULL);
    if (!(seen & BIT(F_KIND))) return nlu_bad(o, f, F_KIND, "is missing");
    kind = nlu_choice(o, off[F_KIND], kinds, 2);
    if (kind < 0) return nlu_bad(o, f, F_KIND, "is not \"text\" or \"dict\"");
    if (kind != o->input) {
        char where[40];
        snprintf(where, sizeof where, "featurizers[%u]", (unsigned)f);
        return nlu_fail(o, PHQ_NLU_E_SCHEMA, "%s has another kind than \"input\"%s", where, NULL);
    }
    want = kind == NLU_KIND_DICT ? F_DICT : o->profile == 1 ? F_TEXT_V1 : F_TEXT_V2;
    if (seen & ~want) {
        int i;
        for (i = 0; i < F_COUNT; i++)
            if ((seen & ~want) & BIT(i)) return nlu_bad(o, f, i, "is not a member of this kind of featurizer");
    }
    if (want & ~seen) {
        int i;
        for (i = 0; i < F_COUNT; i++)
            if ((want & ~seen) & BIT(i)) return nlu_bad(o, f, i, "is missing");
    }
    if (!nlu_is(o, off[F_NAME], NLU_J_STRING)) return nlu_bad(o, f, F_NAME, "is not a string");
    if (nlu_string_to_arena(o, off[F_KEY_PREFIX], &sp, &sur) != 0) return nlu_bad(o, f, F_KEY_PREFIX, "is not a string");
    if (sp.len > NLU_MAX_PREFIX) return nlu_bad(o, f, F_KEY_PREFIX, "is longer than 1024 UTF-8 bytes");
    if (ft) {
        ft->kind = (uint8_t)kind;
        ft->prefix = o->arena + sp.off;
        ft->prefix_len = sp.len;
        ft->prefix_utf8 = (uint8_t)!sur;
    }
    v = nlu_is(o, off[F_NORM], NLU_J_NULL) ? 0 : nlu_choice(o, off[F_NORM], norms, 2) + 1;
    if (v < 0 || (v == 0 && !nlu_is(o, off[F_NORM], NLU_J_NULL))) return nlu_bad(o, f, F_NORM, "is not null, \"l1\" or \"l2\"");
    if (ft) ft->norm = (uint8_t)v;
    if (nlu_is(o, off[F_NORM_TABLE], NLU_J_NULL)) {
        if (v != NLU_NORM_NONE) return nlu_bad(o, f, F_NORM_TABLE, "is null but norm is not");
        o->has_norm[f] = 0;
    } else {
        o->norm_json[f] = off[F_NORM_TABLE];
        if (nlu_string_to_arena(o, off[F_NORM_TABLE], &o->norm_name[f], NULL) != 0)
            return nlu_bad(o, f, F_NORM_TABLE, "is not a string or null");
        if (v == NLU_NORM_NONE) return nlu_bad(o, f, F_NORM_TABLE, "is not null but norm is");
        o->has_norm[f] = 1;
    }
    if (!nlu_is(o, off[F_WEIGHT], NLU_J_NUMBER)) return nlu_bad(o, f, F_WEIGHT, "is not a number");
    if (kind == NLU_KIND_DICT) {
        if (nlu_string_to_arena(o, off[F_SEPARATOR], &sp, NULL) != 0) return nlu_bad(o, f, F_SEPARATOR, "is not a string");
        if (sp.len > NLU_MAX_SEPARATOR) return nlu_bad(o, f, F_SEPARATOR, "is longer than 256 UTF-8 bytes");
        return 0;
    }
    analyzer = nlu_choice(o, off[F_ANALYZER], analyzers, 3);
    if (analyzer < 0) return nlu_bad(o, f, F_ANALYZER, "is not \"word\", \"char\" or \"char_wb\"");
    {
        nlu_json a = nlu_at(o, off[F_NGRAM_RANGE]);
        int64_t lo = 0, hi = 0;
        int fa = 1, ok = nlu_json_array_begin(&a) == 0;
        if (ok) ok = nlu_json_array_next(&a, &fa) == 1 && nlu_int(o, a.i, &lo) == 1 && nlu_json_skip(&a) == 0;
        if (ok) ok = nlu_json_array_next(&a, &fa) == 1 && nlu_int(o, a.i, &hi) == 1 && nlu_json_skip(&a) == 0;
        if (ok) ok = nlu_json_array_next(&a, &fa) == 0;
        if (!ok) return nlu_bad(o, f, F_NGRAM_RANGE, "is not an array of two integers");
        if (!(lo >= 1 && lo <= hi && hi <= (int64_t)NLU_MAX_NGRAM && hi - lo <= (int64_t)NLU_MAX_NGRAM_SPAN))
            return nlu_bad(o, f, F_NGRAM_RANGE, "is out of range (1 <= lo <= hi <= 64, hi - lo <= 15)");
        if (ft) { ft->lo = (uint32_t)lo; ft->hi = (uint32_t)hi; }
    }
    if (!nlu_is(o, off[F_LOWERCASE], NLU_J_TRUE)) return nlu_bad(o, f, F_LOWERCASE, "is not a bool");
    if (!nlu_is(o, off[F_BINARY], NLU_J_TRUE)) return nlu_bad(o, f, F_BINARY, "is not a bool");
    if (!nlu_is(o, off[F_SUBLINEAR_TF], NLU_J_TRUE)) return nlu_bad(o, f, F_SUBLINEAR_TF, "is not a bool");
    v = nlu_is(o, off[F_STRIP_ACCENTS], NLU_J_NULL) ? 0 : nlu_choice(o, off[F_STRIP_ACCENTS], strips, 2) + 1;
    if (v <= 0 && !nlu_is(o, off[F_STRIP_ACCENTS], NLU_J_NULL))
        return nlu_bad(o, f, F_STRIP_ACCENTS, "is not null, \"ascii\" or \"unicode\"");
    if (ft) {
        ft->analyzer = (uint8_t)analyzer;
        ft->lowercase = (uint8_t)nlu_bool(o, off[F_LOWERCASE]);
        ft->binary = (uint8_t)nlu_bool(o, off[F_BINARY]);
        ft->sublinear = (uint8_t)nlu_bool(o, off[F_SUBLINEAR_TF]);
        ft->strip = (uint8_t)v;
    }
    v = nlu_choice(o, off[F_DECODE_ERROR], decodes, 3);
    if (v < 0) return nlu_bad(o, f, F_DECODE_ERROR, "is not \"strict\", \"ignore\" or \"replace\"");
    if (ft) ft->decode = (uint8_t)v;
    if (o->profile == 1) {
        /* §12: encoding must name UTF-8; token_pattern by the table of §10 */
        nlu_json e = nlu_at(o, off[F_ENCODING]);
        unsigned char enc[8];
        size_t elen, k;
        if (nlu_json_type(&e) != NLU_J_STRING || nlu_json_string(&e, enc, sizeof enc, &elen, NULL) != 0)
            return nlu_bad(o, f, F_ENCODING, "is not a string");
        for (k = 0; k < elen && k < sizeof enc; k++)
            if (enc[k] >= 'A' && enc[k] <= 'Z') enc[k] = (unsigned char)(enc[k] + 32);
        if (!nlu_name_is(enc, elen, "utf-8") && !nlu_name_is(enc, elen, "utf8"))
            return nlu_bad(o, f, F_ENCODING, "does not name UTF-8 (profile 1, spec 12)");
        if (analyzer == NLU_AN_WORD) {
            nlu_json p = nlu_at(o, off[F_TOKEN_PATTERN]);
            unsigned char pat[24];
            size_t plen, i;
            v = -1;
            if (nlu_json_type(&p) != NLU_J_STRING || nlu_json_string(&p, pat, sizeof pat, &plen, NULL) != 0)
                return nlu_bad(o, f, F_TOKEN_PATTERN, "is not a string");
            for (i = 0; i < sizeof nlu_patterns / sizeof nlu_patterns[0]; i++)
                if (plen <= sizeof pat && nlu_name_is(pat, plen, nlu_patterns[i].pattern)) v = nlu_patterns[i].tokenizer;
            if (v < 0) return nlu_bad(o, f, F_TOKEN_PATTERN, "has no portable equivalent (spec 10, 12)");
        } else if (!nlu_is(o, off[F_TOKEN_PATTERN], NLU_J_NULL)) {
            return nlu_bad(o, f, F_TOKEN_PATTERN, "is not null for a char analyzer");
        }
    } else if (analyzer == NLU_AN_WORD) {
        v = nlu_choice(o, off[F_TOKENIZER], tokenizers, 3);
        if (v < 0) return nlu_bad(o, f, F_TOKENIZER, "is not \"word_runs_min2\", \"word_runs_min1\" or \"nonspace_runs\"");
    } else if (!nlu_is(o, off[F_TOKENIZER], NLU_J_NULL)) {
        return nlu_bad(o, f, F_TOKENIZER, "is not null for a char analyzer");
    }
    if (ft) ft->tokenizer = (uint8_t)(analyzer == NLU_AN_WORD ? v : 0);
    if (nlu_is(o, off[F_STOP_WORDS], NLU_J_NULL)) return 0;
    if (analyzer != NLU_AN_WORD) return nlu_bad(o, f, F_STOP_WORDS, "is not null for a char analyzer");
    if (ft) {
        /* carve the same regions the measuring pass counted */
        uint32_t n = 0, total = 0, mask;
        nlu_json s = nlu_at(o, off[F_STOP_WORDS]);
        int fs = 1;
        uint32_t cp;
        nlu_json_array_begin(&s);
        while (nlu_json_array_next(&s, &fs) == 1) {
            nlu_json_string_begin(&s);
            while (nlu_json_string_next(&s, &cp) == 1) total++;
            n++;
        }
        for (mask = 1; mask < 2 * n; mask <<= 1) {}
        ft->stop_off = (const uint32_t *)nlu_alloc(o, ((size_t)n + 1) * 4, NULL);
        ft->stop_cps = (const uint32_t *)nlu_alloc(o, (size_t)total * 4, NULL);
        ft->stop_hash = (const uint64_t *)nlu_alloc(o, (size_t)n * 8, NULL);
        ft->stop_slot = (const uint32_t *)nlu_alloc(o, (size_t)mask * 4, NULL);
    }
    return nlu_stop_words(o, f, off[F_STOP_WORDS], ft);
}

/* ---- the phq.nlu object ----------------------------------------------------------------- */

static int nlu_members(nlu_octx *o, size_t obj)
{
    nlu_json c = nlu_at(o, obj);
    unsigned char name[16];
    size_t nlen;
    int first = 1, r, i;
    uint32_t seen = 0, want = (1u << M_COUNT) - 1;
    if (o->profile == 1) want &= ~(BIT(M_UNICODE) | BIT(M_CALIBRATION)); /* §2.4: profile 2 only */
    if (o->profile == 3) want &= ~(BIT(M_UNICODE) | BIT(M_PROFILE)); /* the classifier object (v3 §2.1) */
    nlu_json_object_begin(&c);
    while ((r = nlu_json_object_next(&c, &first, name, sizeof name, &nlen)) == 1) {
        int idx = nlen <= sizeof name ? nlu_name_index(name, nlen, nlu_top_names, M_COUNT) : -1;
        if (idx < 0 || !(want & BIT(idx))) {
            char nm[20];
            snprintf(nm, sizeof nm, "%.*s", (int)(nlen < 16 ? nlen : 16), (const char *)name);
            return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"phq.nlu\" has an unknown member \"%s%s\"", nm, nlen > 16 ? "..." : "");
        }
        o->top[idx] = c.i;
        seen |= BIT(idx);
        if (nlu_json_skip(&c) != 0) { r = -1; break; }
    }
    if (r < 0) return nlu_fail(o, PHQ_NLU_E_SCHEMA, "malformed \"phq.nlu\" object%s%s", NULL, NULL);
    o->has_cal = (seen & BIT(M_CALIBRATION)) != 0;
    for (i = 0; i < M_COUNT; i++)
        if ((want & ~seen & ~BIT(M_CALIBRATION)) & BIT(i)) return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"phq.nlu\" has no member \"%s\"%s", nlu_top_names[i], NULL);
    return 0;
}

/* ---- calibration (§2.4) ------------------------------------------------------------------- */

static int nlu_cal_fail(nlu_octx *o, const char *what)
{
    return nlu_fail(o, PHQ_NLU_E_SCHEMA, "calibration: %s%s", what, NULL);
}

/* an array of exactly n numbers (sigmoid a or b); filling: parsed into out (finite binary64) */
static int nlu_cal_numbers(nlu_octx *o, size_t off, uint32_t n, double *out, const char *name)
{
    nlu_json c = nlu_at(o, off);
    int first = 1, r;
    uint32_t i = 0;
    char msg[96];
    snprintf(msg, sizeof msg, "\"%s\" is not an array of folds x k numbers", name);
    if (nlu_json_array_begin(&c) != 0) return nlu_cal_fail(o, msg);
    while ((r = nlu_json_array_next(&c, &first)) == 1) {
        const unsigned char *tok;
        size_t len, k;
        int integ;
        if (i >= n || nlu_json_type(&c) != NLU_J_NUMBER || nlu_json_number(&c, &tok, &len, &integ) != 0)
            return nlu_cal_fail(o, msg);
        if (len > o->max_float_tok) o->max_float_tok = len;
        if (out && o->numbuf) {
            char *end = NULL, dp = '.';
            const struct lconv *lc = localeconv();
            double v;
            if (lc && lc->decimal_point && lc->decimal_point[0]) dp = lc->decimal_point[0];
            for (k = 0; k < len; k++) o->numbuf[k] = tok[k] == '.' ? dp : (char)tok[k];
            o->numbuf[len] = 0;
            v = strtod(o->numbuf, &end);
            if (!isfinite(v)) {
                snprintf(msg, sizeof msg, "\"%s\" holds a number that is not a finite binary64", name);
                return nlu_cal_fail(o, msg);
            }
            out[i] = v;
        }
        i++;
    }
    if (r < 0 || i != n) return nlu_cal_fail(o, msg);
    return 0;
}

static int nlu_calibration(nlu_octx *o)
{
    static const char *const methods[] = {"sigmoid", "isotonic"};
    enum { C_METHOD, C_FOLDS, C_A, C_B, C_POINTS, C_X, C_Y, C_COUNT };
    static const char *const names[C_COUNT] = {"method", "folds", "a", "b", "points", "x", "y"};
    nlu_json c = nlu_at(o, o->top[M_CALIBRATION]);
    size_t off[C_COUNT], nlen;
    unsigned char name[16];
    uint32_t seen = 0, want, kb = o->K == 2 ? 1 : o->K, ncol, i;
    int first = 1, r, method, idx;
    int64_t folds;
    phq_nlu *nlu = o->nlu;
    if (nlu_json_object_begin(&c) != 0) return nlu_cal_fail(o, "is not an object");
    while ((r = nlu_json_object_next(&c, &first, name, sizeof name, &nlen)) == 1) {
        idx = nlen <= sizeof name ? nlu_name_index(name, nlen, names, C_COUNT) : -1;
        if (idx < 0 || (seen & BIT(idx))) return nlu_cal_fail(o, "has an unknown member");
        off[idx] = c.i;
        seen |= BIT(idx);
        if (nlu_json_skip(&c) != 0) { r = -1; break; }
    }
    if (r < 0) return nlu_cal_fail(o, "is malformed");
    if (!(seen & BIT(C_METHOD))) return nlu_cal_fail(o, "has no member \"method\"");
    method = nlu_choice(o, off[C_METHOD], methods, 2);
    if (method < 0) return nlu_cal_fail(o, "\"method\" is not \"sigmoid\" or \"isotonic\"");
    want = BIT(C_METHOD) | BIT(C_FOLDS) | (method == 0 ? BIT(C_A) | BIT(C_B) : BIT(C_POINTS) | BIT(C_X) | BIT(C_Y));
    if (seen != want) return nlu_cal_fail(o, "does not have exactly the members of its method");
    if (nlu_int(o, off[C_FOLDS], &folds) != 1 || folds < 1 || folds > (int64_t)NLU_MAX_FOLDS)
        return nlu_cal_fail(o, "\"folds\" is not an integer in 1..64");
    ncol = (uint32_t)folds * kb;
    o->ncol = ncol;
    if (nlu) {
        nlu->folds = (uint32_t)folds;
        nlu->kb = kb;
        nlu->cal = method == 0 ? NLU_CAL_SIGMOID : NLU_CAL_ISOTONIC;
    }
    if (method == 0) {
        double *a = (double *)nlu_alloc(o, (size_t)ncol * 8, NULL), *b = (double *)nlu_alloc(o, (size_t)ncol * 8, NULL);
        if (nlu) { nlu->cal_a = a; nlu->cal_b = b; }
        r = nlu_cal_numbers(o, off[C_A], ncol, a, "a");
        if (!r) r = nlu_cal_numbers(o, off[C_B], ncol, b, "b");
        return r;
    }
    {
        uint64_t *po = (uint64_t *)nlu_alloc(o, ((size_t)ncol + 1) * 8, NULL), total = 0;
        nlu_json p = nlu_at(o, off[C_POINTS]);
        int fp = 1;
        i = 0;
        if (nlu_json_array_begin(&p) != 0) return nlu_cal_fail(o, "\"points\" is not an array");
        while ((r = nlu_json_array_next(&p, &fp)) == 1) {
            int64_t v;
            if (i >= ncol || nlu_int(o, p.i, &v) != 1 || v < 1 || v > (int64_t)NLU_MAX_POINTS || nlu_json_skip(&p) != 0)
                return nlu_cal_fail(o, "\"points\" is not an array of folds x k integers in 1..2^24");
            if (po) po[i] = total;
            total += (uint64_t)v;
            i++;
        }
        if (r < 0 || i != ncol) return nlu_cal_fail(o, "\"points\" is not an array of folds x k integers in 1..2^24");
        if (po) po[ncol] = total;
        if (nlu) nlu->cal_off = po;
        if (nlu_string_to_arena(o, off[C_X], &o->iso_x, NULL) != 0 || nlu_string_to_arena(o, off[C_Y], &o->iso_y, NULL) != 0)
            return nlu_cal_fail(o, "\"x\" and \"y\" are not strings (tensor names)");
    }
    return 0;
}

/* the isotonic tensors (§9 E_NLU_REFERENCE): present, f64 of shape (total,), valid maps */
static int nlu_cal_references(nlu_octx *o)
{
    phq_nlu *nlu = o->nlu;
    phq_tensor t[2];
    const nlu_span *sp[2] = {&o->iso_x, &o->iso_y};
    uint64_t total = nlu->cal_off[nlu->ncol], j, i;
    int w;
    for (w = 0; w < 2; w++) {
        if (!phq_find_tensor(o->m, o->arena + sp[w]->off, sp[w]->len, &t[w]))
            return nlu_fail(o, PHQ_NLU_E_REFERENCE, "calibration: the tensor named by \"%s\" is missing%s", w ? "y" : "x", NULL);
        if (t[w].dtype != PHQ_DT_F64 || t[w].ndim != 1 || (uint64_t)t[w].shape[0] != total)
            return nlu_fail(o, PHQ_NLU_E_REFERENCE, "calibration: tensor \"%s\" is not f64 of shape (sum of points,)%s", w ? "y" : "x", NULL);
    }
    nlu->iso_x = t[0].data;
    nlu->iso_y = t[1].data;
    for (j = 0; j < nlu->ncol; j++)
        for (i = nlu->cal_off[j]; i < nlu->cal_off[j + 1]; i++) {
            double x = nlu_f64le(nlu->iso_x, i), y = nlu_f64le(nlu->iso_y, i);
            if (!isfinite(x) || !isfinite(y) || y < 0.0 || y > 1.0)
                return nlu_fail(o, PHQ_NLU_E_REFERENCE, "calibration: an isotonic map holds a value that is not finite or a y outside [0, 1]%s%s", NULL, NULL);
            if (i > nlu->cal_off[j] && (x <= nlu_f64le(nlu->iso_x, i - 1) || y < nlu_f64le(nlu->iso_y, i - 1)))
                return nlu_fail(o, PHQ_NLU_E_REFERENCE, "calibration: an isotonic map's x is not strictly increasing or its y decreases%s%s", NULL, NULL);
        }
    return 0;
}

static int nlu_top(nlu_octx *o)
{
    static const char *const inputs[] = {"text", "dict"};
    static const char *const probas[] = {"logistic", "softmax", "modified_huber", "calibrated"};
    nlu_json c;
    int r, input, proba, first = 1;
    uint32_t nf = 0;
    if (o->profile == 2 && !nlu_is(o, o->top[M_UNICODE], NLU_J_STRING))
        return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"unicode\" is not a string%s%s", NULL, NULL);
    input = nlu_choice(o, o->top[M_INPUT], inputs, 2);
    if (input < 0) return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"input\" is not \"text\" or \"dict\"%s%s", NULL, NULL);
    o->input = input;
    r = nlu_labels(o);
    if (r) return r;
    if (!nlu_is(o, o->top[M_ESTIMATOR], NLU_J_STRING))
        return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"estimator\" is not a string%s%s", NULL, NULL);
    if (nlu_string_to_arena(o, o->top[M_TABLE], &o->table_name, NULL) != 0)
        return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"table\" is not a string%s%s", NULL, NULL);
    if (nlu_string_to_arena(o, o->top[M_INTERCEPT], &o->intercept_name, NULL) != 0)
        return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"intercept\" is not a string%s%s", NULL, NULL);
    proba = nlu_is(o, o->top[M_PROBA], NLU_J_NULL) ? 0 : nlu_choice(o, o->top[M_PROBA], probas, 4) + 1;
    if (proba <= 0 && !nlu_is(o, o->top[M_PROBA], NLU_J_NULL))
        return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"proba\" is not null, \"logistic\", \"softmax\", \"modified_huber\" or \"calibrated\"%s%s", NULL, NULL);
    if ((proba == PHQ_NLU_PROBA_CALIBRATED) != o->has_cal)
        return nlu_fail(o, PHQ_NLU_E_SCHEMA, "%s%s", o->has_cal ? "a model with \"calibration\" has proba \"calibrated\"" : "proba \"calibrated\" without a \"calibration\" member", NULL);
    if (proba == PHQ_NLU_PROBA_SOFTMAX && o->K == 2)
        return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"proba\" \"softmax\" with two classes%s%s", NULL, NULL);
    if (!nlu_is(o, o->top[M_SOURCE], NLU_J_OBJECT))
        return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"source\" is not an object%s%s", NULL, NULL);
    c = nlu_at(o, o->top[M_FEATURIZERS]);
    if (nlu_json_array_begin(&c) != 0)
        return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"featurizers\" is not an array%s%s", NULL, NULL);
    while ((r = nlu_json_array_next(&c, &first)) == 1) {
        if (nf >= NLU_MAX_FEATURIZERS)
            return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"featurizers\" holds more than 64 objects%s%s", NULL, NULL);
        o->feat_off[nf++] = c.i;
        if (nlu_json_skip(&c) != 0) { r = -1; break; }
    }
    if (r < 0) return nlu_fail(o, PHQ_NLU_E_SCHEMA, "malformed \"featurizers\"%s%s", NULL, NULL);
    if (nf == 0) return nlu_fail(o, PHQ_NLU_E_SCHEMA, "\"featurizers\" is empty%s%s", NULL, NULL);
    o->nfeat = nf;
    for (uint32_t f = 0; f < nf; f++) {
        nlu_feat *ft = o->nlu ? &o->nlu->feat[f] : NULL;
        r = nlu_featurizer(o, f, ft);
        if (r) return r;
    }
    if (o->nlu) {
        o->nlu->input = input;
        o->nlu->proba = proba;
        o->nlu->nfeat = nf;
    }
    o->ncol = o->K == 2 ? 1 : o->K;
    return o->has_cal ? nlu_calibration(o) : 0;
}

/* ---- references (§2.3) ------------------------------------------------------------------ */

static int nlu_find_table(const nlu_octx *o, nlu_span sp, phq_table *t)
{
    return phq_find_table(o->m, o->arena + sp.off, sp.len, t);
}

static int nlu_references(nlu_octx *o)
{
    phq_nlu *nlu = o->nlu;
    phq_tensor it;
    uint32_t f;
    if (!nlu_find_table(o, o->table_name, &nlu->score))
        return nlu_fail(o, PHQ_NLU_E_REFERENCE, "the score table named by \"table\" is missing%s%s", NULL, NULL);
    if (nlu->score.dim != nlu->ncol)
        return nlu_fail(o, PHQ_NLU_E_REFERENCE, "the score table's dim is not the number of output columns%s%s", NULL, NULL);
    for (f = 0; f < nlu->nfeat; f++) {
        if (!o->has_norm[f]) continue;
        if (!nlu_find_table(o, o->norm_name[f], &nlu->feat[f].norm_table))
            return nlu_fail(o, PHQ_NLU_E_REFERENCE, "a norm table named by \"norm_table\" is missing%s%s", NULL, NULL);
        if (nlu->feat[f].norm_table.dim > 1)
            return nlu_fail(o, PHQ_NLU_E_REFERENCE, "a norm table's dim is not 0 or 1%s%s", NULL, NULL);
    }
    if (!phq_find_tensor(o->m, o->arena + o->intercept_name.off, o->intercept_name.len, &it))
        return nlu_fail(o, PHQ_NLU_E_REFERENCE, "the intercept tensor is missing%s%s", NULL, NULL);
    if ((it.dtype != PHQ_DT_F32 && it.dtype != PHQ_DT_F64) || it.ndim != 1 || it.shape[0] != nlu->ncol)
        return nlu_fail(o, PHQ_NLU_E_REFERENCE, "the intercept is not an f32 or f64 tensor of shape (k,)%s%s", NULL, NULL);
    {
        double *ic = (double *)nlu->intercept;
        uint32_t c;
        for (c = 0; c < nlu->ncol; c++) {
            const unsigned char *p = it.data + (size_t)c * (it.dtype == PHQ_DT_F32 ? 4 : 8);
            if (it.dtype == PHQ_DT_F32) {
                uint32_t b = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
                float x;
                memcpy(&x, &b, 4);
                ic[c] = (double)x;
            } else {
                uint64_t b = 0;
                int k;
                for (k = 7; k >= 0; k--) b = b << 8 | p[k];
                memcpy(&ic[c], &b, 8);
            }
        }
    }
    return nlu->cal == NLU_CAL_ISOTONIC ? nlu_cal_references(o) : 0;
}

/* part_info arrays for tables with several partitions (O(1) lookups in P); measured before the
 * arena exists, so the name is decoded from the JSON string at `json` into a stack buffer (a longer
 * name names no table: the format caps names) */
static size_t nlu_parts_of(const nlu_octx *o, size_t json)
{
    phq_table t;
    unsigned char buf[512]; /* names are at most 255 bytes (format 5.1) */
    size_t len;
    nlu_json c = nlu_at(o, json);
    if (nlu_json_string(&c, buf, sizeof buf, &len, NULL) != 0 || len > sizeof buf) return 0;
    if (!phq_find_table(o->m, buf, len, &t) || t.num_partitions <= 1) return 0;
    return t.num_partitions;
}

static int nlu_index(nlu_octx *o, phq_table *t)
{
    phq_part_info *pi;
    if (t->num_partitions <= 1) return 0;
    pi = (phq_part_info *)nlu_alloc(o, (size_t)t->num_partitions * sizeof(phq_part_info), NULL);
    return phq_table_set_index(t, pi, t->num_partitions) == PHQ_OK ? 0 : -1;
}

int phq_nlu_open(const phq_model *m, phq_nlu **out, phq_nlu_error *err)
{
    nlu_octx o;
    nlu_json c;
    unsigned char name[8];
    size_t nlen, obj = (size_t)-1, arena_size, cls = (size_t)-1, tag = (size_t)-1, tag_size = 0, cls_used;
    int first = 1, r;
    uint32_t f;
    phq_nlu *nlu;
    if (out) *out = NULL;
    if (err) { err->code = 0; err->msg[0] = 0; }
    memset(&o, 0, sizeof o);
    o.m = m;
    o.err = err;
    if (!out || !m || m->magic_ == 0)
        return nlu_fail(&o, PHQ_E_USAGE, "phq_nlu_open needs a model opened by phq_open and an output pointer%s%s", NULL, NULL);
    phq_metadata(m, &o.meta, &o.meta_len);
    c = nlu_at(&o, 0);
    if (nlu_json_object_begin(&c) != 0) return nlu_fail(&o, PHQ_NLU_E_MISSING, "the metadata is not an object%s%s", NULL, NULL);
    while ((r = nlu_json_object_next(&c, &first, name, sizeof name, &nlen)) == 1) {
        if (nlu_name_is(name, nlen, "phq.nlu")) obj = c.i;
        if (nlu_json_skip(&c) != 0) { r = -1; break; }
    }
    if (r < 0) return nlu_fail(&o, PHQ_E_METADATA, "malformed metadata%s%s", NULL, NULL);
    if (obj == (size_t)-1) return nlu_fail(&o, PHQ_NLU_E_MISSING, "the metadata has no \"phq.nlu\" member: not an NLU model%s%s", NULL, NULL);
    r = nlu_check_version(&o, obj);
    if (r) return r;
    if (o.profile == 3) {
        r = nlu3_outer(o.meta, o.meta_len, obj, &cls, &tag, err);
        if (r) return r;
        obj = cls;
    }
    if (obj != (size_t)-1) {
        r = nlu_members(&o, obj);
        if (r) return r;
    }
    /* measuring pass */
    nlu_alloc(&o, sizeof(phq_nlu), NULL);
    if (obj != (size_t)-1) {
        r = nlu_top(&o);
        if (r) return r;
        if (tag != (size_t)-1 && o.input != NLU_KIND_TEXT)
            return nlu_fail(&o, PHQ_NLU_E_SCHEMA, "the classifier's \"input\" is not \"text\" beside a tagger%s%s", NULL, NULL);
        nlu_alloc(&o, (size_t)o.ncol * 8, NULL);       /* intercept (k, or folds x k columns) */
        nlu_alloc(&o, (size_t)o.K * 8, NULL);          /* label keys (open only) */
        nlu_alloc(&o, (size_t)o.K * 4, NULL);          /* label order (open only) */
        nlu_alloc(&o, o.max_float_tok + 1, NULL);      /* strtod buffer (open only) */
        nlu_alloc(&o, nlu_parts_of(&o, o.top[M_TABLE]) * sizeof(phq_part_info), NULL);
        for (f = 0; f < o.nfeat; f++)
            if (o.has_norm[f]) nlu_alloc(&o, nlu_parts_of(&o, o.norm_json[f]) * sizeof(phq_part_info), NULL);
    }
    if (tag != (size_t)-1) {
        r = nlu3_tagger(m, o.meta, o.meta_len, tag, NULL, &tag_size, NULL, err);
        if (r) return r;
    }
    cls_used = o.used;
    arena_size = tag != (size_t)-1 ? ((o.used + 7) & ~(size_t)7) + tag_size + 8 : o.used + 8;
    o.arena = (unsigned char *)malloc(arena_size);
    if (!o.arena) return nlu_fail(&o, PHQ_NLU_E_NOMEM, "cannot allocate the model's arena%s%s", NULL, NULL);
    memset(o.arena, 0, arena_size);
    /* filling pass: the same order of allocations */
    o.used = 0;
    nlu = (phq_nlu *)nlu_alloc(&o, sizeof(phq_nlu), NULL);
    o.nlu = nlu;
    nlu->model = m;
    nlu->arena_size = arena_size;
    nlu->arena = o.arena;
    nlu->profile = o.profile;
    r = 0;
    if (obj != (size_t)-1) {
        /* labels need their regions before nlu_top runs: carve them now, as measured */
        uint32_t K = o.K;
        size_t total;
        o.K = 0;
        nlu->label_off = (const uint32_t *)nlu_alloc(&o, ((size_t)K + 1) * 4, NULL);
        total = o.label_bytes;
        nlu->labels = (const unsigned char *)nlu_alloc(&o, total, NULL);
        {
            nlu->intercept = (const double *)nlu_alloc(&o, (size_t)o.ncol * 8, NULL);
            o.lkey = (uint64_t *)nlu_alloc(&o, (size_t)K * 8, NULL);
            o.lidx = (uint32_t *)nlu_alloc(&o, (size_t)K * 4, NULL);
            o.numbuf = (char *)nlu_alloc(&o, o.max_float_tok + 1, NULL);
        }
        nlu->K = K;
        nlu->k = K == 2 ? 1 : K;
        nlu->ncol = o.ncol; /* as measured */
        r = nlu_top(&o);
        if (!r && nlu->cal) nlu->k = K; /* the decision values are the K probabilities (§8.5.1) */
        if (!r) r = nlu_labels_distinct(&o);
        if (!r) {
            uint32_t a, b;
            for (a = 0; a < o.nfeat && !r; a++)
                for (b = a + 1; b < o.nfeat && !r; b++)
                    if (nlu->feat[a].prefix_len == nlu->feat[b].prefix_len &&
                        memcmp(nlu->feat[a].prefix, nlu->feat[b].prefix, nlu->feat[a].prefix_len) == 0)
                        r = nlu_fail(&o, PHQ_NLU_E_SCHEMA, "two featurizers have the same key_prefix%s%s", NULL, NULL);
        }
    }
    if (!r && tag != (size_t)-1) {
        unsigned char *region = o.arena + ((cls_used + 7) & ~(size_t)7);
        r = nlu3_tagger(m, o.meta, o.meta_len, tag, region, &tag_size, &nlu->tagger, err);
    }
    if (!r && obj != (size_t)-1) r = nlu_references(&o);
    if (!r && nlu->tagger) r = nlu3_tagger_refs(nlu, nlu->tagger, err);
    if (!r && nlu->tagger && obj != (size_t)-1) {
        /* a name shared by the two parts (v3 §2.1): the tagger's names against the classifier's */
        const nlu_tagger *t = nlu->tagger;
        const unsigned char *tb = (const unsigned char *)t;
        nlu_span cn[2 + NLU_MAX_FEATURIZERS];
        size_t ncn = 0, i, j;
        cn[ncn++] = o.table_name;
        cn[ncn++] = o.intercept_name;
        for (f = 0; f < nlu->nfeat; f++)
            if (o.has_norm[f]) cn[ncn++] = o.norm_name[f];
        for (i = 0; i < ncn && !r; i++)
            for (j = 0; j < 2 && !r; j++) {
                const unsigned char *tn = tb + (j ? t->trans_name_off : t->state_name_off);
                size_t tl = j ? t->trans_name_len : t->state_name_len;
                if (cn[i].len == tl && memcmp(o.arena + cn[i].off, tn, tl) == 0)
                    r = nlu_fail(&o, PHQ_NLU_E_REFERENCE, "the classifier and the tagger share a table or tensor name%s%s", NULL, NULL);
            }
    }
    if (!r && obj != (size_t)-1 && nlu->input == NLU_KIND_DICT)
        r = nlu_fail(&o, PHQ_NLU_E_UNSUPPORTED, "dict input (feature-dict models) is not implemented by the C runtime%s%s", NULL, NULL);
    if (!r && obj != (size_t)-1) {
        if (nlu_index(&o, &nlu->score) != 0) r = -1;
        for (f = 0; f < nlu->nfeat && !r; f++)
            if (nlu->feat[f].norm != NLU_NORM_NONE && nlu_index(&o, &nlu->feat[f].norm_table) != 0) r = -1;
        if (r) r = nlu_fail(&o, PHQ_E_USAGE, "internal: table index%s%s", NULL, NULL);
    }
    if (!r && o.used > cls_used) r = nlu_fail(&o, PHQ_E_USAGE, "internal: arena overflow%s%s", NULL, NULL);
    if (r) {
        free(o.arena);
        return r;
    }
    *out = nlu;
    return 0;
}

void phq_nlu_close(phq_nlu *nlu) { free(nlu); }
