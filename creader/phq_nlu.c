/*
 * phq_nlu.c - the NLU runtime's text path (spec nlu-profile-v2 §4-§8): UTF-8 decoding with
 * maximal subparts, lowercasing with Final_Sigma, accent stripping with Hangul, the word / char /
 * char_wb analyzers, distinct terms in first-occurrence order, lookups and scoring in the order of
 * §8.1-§8.2 in binary64, argmax, top k and probabilities. Everything a query needs lives in the
 * caller's workspace; nothing is allocated here. Build with -ffp-contract=off (no FMA).
 */
#include "phq_nlu_internal.h"
#include "phq_unicode_data.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- Unicode properties (§3) --------------------------------------------------------------- */

/* ASCII fast path: bit 0 word character, bit 1 whitespace (space.txt) */
static const unsigned char nlu_ascii[128] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2,
    2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0};

static int nlu_in_set(const uint32_t *r, size_t nranges, uint32_t cp)
{
    size_t lo = 0, hi = nranges;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < r[2 * mid]) hi = mid;
        else if (cp > r[2 * mid + 1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}

static int nlu_is_word(uint32_t cp) { return cp < 128 ? nlu_ascii[cp] & 1 : nlu_in_set(phq_ucd_word, PHQ_UCD_WORD_N, cp); }
static int nlu_is_space(uint32_t cp) { return cp < 128 ? (nlu_ascii[cp] >> 1) & 1 : nlu_in_set(phq_ucd_space, PHQ_UCD_SPACE_N, cp); }
static int nlu_is_cased(uint32_t cp) { return nlu_in_set(phq_ucd_cased, PHQ_UCD_CASED_N, cp); }
static int nlu_is_case_ignorable(uint32_t cp) { return nlu_in_set(phq_ucd_case_ignorable, PHQ_UCD_CASE_IGNORABLE_N, cp); }
int nlu_cp_is_word(uint32_t cp) { return nlu_is_word(cp); }
int nlu_cp_is_space(uint32_t cp) { return nlu_is_space(cp); }
int nlu_cp_is_cased(uint32_t cp) { return nlu_is_cased(cp); }

/* a mapping (code point, offset, length) triples: *len code points at pool + offset, or the code
 * point itself (returns NULL, *len = 1) */
static const uint32_t *nlu_map(const uint32_t *map, size_t n, const uint32_t *pool, uint32_t cp, size_t *len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint32_t k = map[3 * mid];
        if (cp < k) hi = mid;
        else if (cp > k) lo = mid + 1;
        else {
            *len = map[3 * mid + 2];
            return pool + map[3 * mid + 1];
        }
    }
    *len = 1;
    return NULL;
}

/* ---- decoding (§4) -------------------------------------------------------------------------- */

/* One step at s[*i]: 1 and *cp for a well-formed sequence; 0 for a maximal subpart (skipped). */
static int nlu_utf8_step(const unsigned char *s, size_t n, size_t *i, uint32_t *cp)
{
    size_t p = *i;
    uint32_t b = s[p];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t need, k;
    uint32_t v;
    if (b < 0x80) { *cp = b; *i = p + 1; return 1; }
    if (b >= 0xC2 && b <= 0xDF) { need = 1; v = b & 0x1F; }
    else if (b >= 0xE0 && b <= 0xEF) {
        need = 2; v = b & 0x0F;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3; v = b & 0x07;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else { *i = p + 1; return 0; }
    for (k = 1; k <= need; k++) {
        unsigned char c;
        if (p + k >= n) { *i = p + k; return 0; }
        c = s[p + k];
        if (c < lo || c > hi) { *i = p + k; return 0; }
        lo = 0x80; hi = 0xBF;
        v = (v << 6) | (c & 0x3Fu);
    }
    *cp = v;
    *i = p + need + 1;
    return 1;
}

/* Decode with the featurizer's decode_error into out (NULL: count only); -1 for ill-formed input
 * under "strict". */
static long long nlu_decode(const unsigned char *s, size_t n, int mode, uint32_t *out)
{
    size_t i = 0, w = 0;
    while (i < n) {
        uint32_t cp;
        if (s[i] < 0x80) { /* ASCII run */
            if (out) out[w] = s[i];
            w++;
            i++;
            continue;
        }
        if (nlu_utf8_step(s, n, &i, &cp)) {
            if (out) out[w] = cp;
            w++;
        } else if (mode == NLU_DEC_STRICT) {
            return -1;
        } else if (mode == NLU_DEC_REPLACE) {
            if (out) out[w] = 0xFFFD;
            w++;
        }
    }
    return (long long)w;
}

/* ---- preprocessing (§5) --------------------------------------------------------------------- */

static int nlu_final_sigma(const uint32_t *t, size_t n, size_t i)
{
    size_t j = i;
    while (j > 0 && nlu_is_case_ignorable(t[j - 1])) j--;
    if (j == 0 || !nlu_is_cased(t[j - 1])) return 0;
    j = i + 1;
    while (j < n && nlu_is_case_ignorable(t[j])) j++;
    return j == n || !nlu_is_cased(t[j]);
}

/* append strip(cp) (or cp) to out at *w; out NULL: count */
static void nlu_put_stripped(uint32_t cp, int strip, uint32_t *out, size_t *w)
{
    uint32_t hang[3];
    const uint32_t *m;
    size_t len, k;
    if (strip == NLU_STRIP_NONE || cp < 0x80) {
        if (out) out[*w] = cp;
        (*w)++;
        return;
    }
    if (cp >= 0xAC00 && cp <= 0xD7A3) { /* Hangul syllable (Unicode §3.12) */
        uint32_t s = cp - 0xAC00;
        hang[0] = 0x1100 + s / 588;
        hang[1] = 0x1161 + (s % 588) / 28;
        hang[2] = 0x11A7 + s % 28;
        m = hang;
        len = s % 28 ? 3 : 2;
    } else {
        m = nlu_map(phq_ucd_strip_map, PHQ_UCD_STRIP_N, phq_ucd_strip_pool, cp, &len);
        if (!m) { hang[0] = cp; m = hang; }
    }
    for (k = 0; k < len; k++) {
        if (strip == NLU_STRIP_ASCII && m[k] > 0x7F) continue;
        if (out) out[*w] = m[k];
        (*w)++;
    }
}

/* Lowercase (Final_Sigma read on the input t) then strip: writes to out (NULL: counts). */
static size_t nlu_preprocess(const nlu_feat *ft, const uint32_t *t, size_t n, uint32_t *out)
{
    size_t i, w = 0;
    if (!ft->lowercase && ft->strip == NLU_STRIP_NONE) {
        if (out) memcpy(out, t, n * sizeof *t);
        return n;
    }
    for (i = 0; i < n; i++) {
        uint32_t cp = t[i];
        if (cp < 0x80) { /* ASCII: lowercase A-Z, nothing to strip */
            if (ft->lowercase && cp >= 'A' && cp <= 'Z') cp += 32;
            if (out) out[w] = cp;
            w++;
            continue;
        }
        if (ft->lowercase) {
            const uint32_t *m;
            size_t len, k;
            if (cp == 0x03A3) {
                nlu_put_stripped(out && nlu_final_sigma(t, n, i) ? 0x03C2 : 0x03C3, ft->strip, out, &w);
                continue;
            }
            m = nlu_map(phq_ucd_lowercase_map, PHQ_UCD_LOWERCASE_N, phq_ucd_lowercase_pool, cp, &len);
            if (!m) { nlu_put_stripped(cp, ft->strip, out, &w); continue; }
            for (k = 0; k < len; k++) nlu_put_stripped(m[k], ft->strip, out, &w);
        } else {
            nlu_put_stripped(cp, ft->strip, out, &w);
        }
    }
    return w;
}

size_t nlu_lower_cps(const uint32_t *t, size_t n, uint32_t *out)
{
    nlu_feat ft;
    memset(&ft, 0, sizeof ft);
    ft.lowercase = 1;
    ft.strip = NLU_STRIP_NONE;
    return nlu_preprocess(&ft, t, n, out);
}

int nlu_cp_has_lower(uint32_t cp)
{
    size_t len;
    if (cp < 0x80) return cp >= 'A' && cp <= 'Z';
    return nlu_map(phq_ucd_lowercase_map, PHQ_UCD_LOWERCASE_N, phq_ucd_lowercase_pool, cp, &len) != NULL;
}

long long nlu_decode_cps(const unsigned char *s, size_t n, int mode, uint32_t *out) { return nlu_decode(s, n, mode, out); }

/* ---- hashing ---------------------------------------------------------------------------------- */

uint64_t nlu_hash_cps(const uint32_t *cp, size_t n)
{
    uint64_t h = 0x243f6a8885a308d3ULL ^ (uint64_t)n;
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ cp[i]) * 0x9E3779B97F4A7C15ULL, h ^= h >> 29;
    return phq_fmix64(h);
}

/* ---- workspace -------------------------------------------------------------------------------- */

/* Sizes of one query's arrays, from the text's length and the preprocessed length of each
 * featurizer. An arithmetic overflow or an array beyond 2^31 entries makes the size SIZE_MAX
 * (no workspace suffices: E_NOSPACE). */
typedef struct {
    size_t dec, pre, x, tok, terms, slots, key, k, cal;
    size_t total;
} nlu_layout;

static int nlu_muladd(size_t *acc, size_t a, size_t b)
{
    if (b && a > (SIZE_MAX - *acc - 8) / b) return -1;
    *acc += a * b;
    *acc = (*acc + 7) & ~(size_t)7;
    return 0;
}

static void nlu_grow(size_t *v, size_t x) { if (x > *v) *v = x; }

/* per featurizer: x = term-source length, tok = tokens, terms = term occurrences (bounds) */
static int nlu_feat_sizes(const nlu_feat *ft, size_t P, nlu_layout *L)
{
    size_t x, tok = 0, span = ft->hi - ft->lo + 1, src, terms;
    if (P > ((size_t)1 << 30)) return -1;
    if (ft->analyzer == NLU_AN_WORD) {
        x = P;
        tok = P / 2 + 2;
        src = tok;
    } else if (ft->analyzer == NLU_AN_CHAR) {
        x = P;
        src = P;
    } else {
        x = P + P / 2 + 2;
        src = x;
    }
    terms = span * src;
    if (terms > ((size_t)1 << 30)) return -1;
    nlu_grow(&L->pre, P);
    nlu_grow(&L->x, x);
    nlu_grow(&L->tok, tok);
    nlu_grow(&L->terms, terms);
    {
        size_t s = 1;
        while (s < 2 * terms) s <<= 1;
        nlu_grow(&L->slots, s);
    }
    nlu_grow(&L->key, ft->prefix_len + 4 * x);
    return 0;
}

static size_t nlu_total(nlu_layout *L)
{
    size_t t = 64;
    if (nlu_muladd(&t, L->dec, 4) || nlu_muladd(&t, L->pre, 4) || nlu_muladd(&t, L->x, 4) ||
        nlu_muladd(&t, L->tok, 12) || nlu_muladd(&t, L->terms, 16 + 1) || nlu_muladd(&t, L->slots, 4) ||
        nlu_muladd(&t, L->key, 1) || nlu_muladd(&t, L->k, 4 + 8) || nlu_muladd(&t, L->cal, 8))
        return SIZE_MAX;
    L->total = t;
    return t;
}

/* The layout for featurizers [f0, f1) of a text (text NULL: the bound for any text of len bytes).
 * *bad = 1 when the text is ill-formed and a featurizer's decode_error is "strict". */
static size_t nlu_layout_for(const phq_nlu *nlu, uint32_t f0, uint32_t f1, const unsigned char *s, size_t len,
                             nlu_layout *L, int *bad)
{
    uint32_t f;
    int ascii = 1;
    size_t i;
    memset(L, 0, sizeof *L);
    *bad = 0;
    if (len > ((size_t)1 << 30)) return SIZE_MAX;
    L->dec = len;
    L->k = nlu->ncol; /* the score table's columns (folds x k for a calibrated model) */
    L->cal = nlu->cal ? (size_t)nlu->ncol + nlu->K : 0; /* fold scores and one fold's probabilities */
    if (s) {
        unsigned char acc = 0;
        for (i = 0; i < len; i++) acc |= s[i];
        ascii = acc < 0x80;
    }
    for (f = f0; f < f1; f++) {
        const nlu_feat *ft = &nlu->feat[f];
        size_t P;
        if (!s) {
            P = NLU_EXPANSION * len;
        } else if (ascii) {
            P = len;
        } else {
            /* count: decode (1 code point at most per byte) then preprocess, one code point at a time */
            size_t p = 0, w = 0;
            while (p < len) {
                uint32_t cp, one[1];
                size_t q = p;
                if (!nlu_utf8_step(s, len, &q, &cp)) {
                    if (ft->decode == NLU_DEC_STRICT) { *bad = 1; cp = 0xFFFD; }
                    else if (ft->decode == NLU_DEC_IGNORE) { p = q; continue; }
                    else cp = 0xFFFD;
                }
                p = q;
                one[0] = cp;
                w += nlu_preprocess(ft, one, 1, NULL);
            }
            P = w;
        }
        if (nlu_feat_sizes(ft, P, L) != 0) return SIZE_MAX;
    }
    return nlu_total(L);
}

size_t nlu_cls_workspace(const phq_nlu *nlu, const void *text, size_t len, int exact)
{
    nlu_layout L;
    int bad;
    return nlu_layout_for(nlu, 0, nlu->nfeat, exact ? (text ? (const unsigned char *)text : (const unsigned char *)"") : NULL,
                          len, &L, &bad);
}

size_t phq_nlu_workspace_size(const phq_nlu *nlu, const void *text, size_t len)
{
    if (!nlu || (!text && len)) return 0;
    if (nlu->profile == 3) return nlu3_workspace(nlu, text, len, 1);
    return nlu_cls_workspace(nlu, text, len, 1);
}

size_t phq_nlu_workspace_bound(const phq_nlu *nlu, size_t len)
{
    if (!nlu) return 0;
    if (nlu->profile == 3) return nlu3_workspace(nlu, NULL, len, 0);
    return nlu_cls_workspace(nlu, NULL, len, 0);
}

typedef struct {
    uint32_t start, len, count, h32;
} nlu_term;

typedef struct {
    uint32_t *dec, *pre, *x, *tok_start;
    uint64_t *tok_hash;
    nlu_term *terms;
    unsigned char *in_v;
    uint32_t *slots;
    unsigned char *key;
    float *row;
    double *partial;
    double *raw, *fp; /* calibrated models: the fold scores (ncol) and one fold's probabilities (K) */
    size_t nterms, slot_mask;
    size_t probes; /* hash-table probes of this query (work counter, for the tests) */
    /* cache: what dec and pre hold */
    int dec_mode, pre_lower, pre_strip;
    size_t ndec, npre;
} nlu_ws;

static void *nlu_carve(unsigned char **p, size_t n, size_t elem)
{
    void *r = *p;
    *p += (n * elem + 7) & ~(size_t)7;
    return r;
}

static void nlu_ws_init(nlu_ws *w, const nlu_layout *L, void *ws)
{
    unsigned char *p = (unsigned char *)ws;
    p += (8 - ((uintptr_t)p & 7)) & 7; /* the 64 bytes of slack in the total cover this */
    w->dec = (uint32_t *)nlu_carve(&p, L->dec, 4);
    w->pre = (uint32_t *)nlu_carve(&p, L->pre, 4);
    w->x = (uint32_t *)nlu_carve(&p, L->x, 4);
    w->tok_start = (uint32_t *)nlu_carve(&p, L->tok, 4);
    w->tok_hash = (uint64_t *)nlu_carve(&p, L->tok, 8);
    w->terms = (nlu_term *)nlu_carve(&p, L->terms, sizeof(nlu_term));
    w->in_v = (unsigned char *)nlu_carve(&p, L->terms, 1);
    w->slots = (uint32_t *)nlu_carve(&p, L->slots, 4);
    w->key = (unsigned char *)nlu_carve(&p, L->key, 1);
    w->row = (float *)nlu_carve(&p, L->k, 4);
    w->partial = (double *)nlu_carve(&p, L->k, 8);
    w->raw = L->cal ? (double *)nlu_carve(&p, L->cal, 8) : NULL;
    w->fp = w->raw ? w->raw + L->k : NULL; /* L->k = ncol */
    w->slot_mask = L->slots ? L->slots - 1 : 0;
    w->dec_mode = -1;
    w->probes = 0;
    w->pre_lower = -1;
    w->pre_strip = -1;
}

/* ---- distinct terms (§7.1) ------------------------------------------------------------------ */

static void nlu_add_term(nlu_ws *w, uint32_t start, uint32_t len, uint64_t h)
{
    size_t s = (size_t)h & w->slot_mask;
    uint32_t h32 = (uint32_t)(h >> 32);
    for (;;) {
        uint32_t e = w->slots[s];
        nlu_term *t;
        w->probes++;
        if (e == 0) break;
        t = &w->terms[e - 1];
        if (t->h32 == h32 && t->len == len &&
            (t->start == start || memcmp(w->x + t->start, w->x + start, (size_t)len * 4) == 0)) {
            t->count++;
            return;
        }
        s = (s + 1) & w->slot_mask;
    }
    w->terms[w->nterms].start = start;
    w->terms[w->nterms].len = len;
    w->terms[w->nterms].count = 1;
    w->terms[w->nterms].h32 = h32;
    w->nterms++;
    w->slots[s] = (uint32_t)w->nterms;
}

static int nlu_is_stop(const nlu_feat *ft, const uint32_t *cp, size_t n, uint64_t h)
{
    uint32_t s = (uint32_t)h & ft->stop_mask;
    if (!ft->n_stop) return 0;
    for (;;) {
        uint32_t e = ft->stop_slot[s];
        if (!e) return 0;
        e--;
        if (ft->stop_hash[e] == h && ft->stop_off[e + 1] - ft->stop_off[e] == n &&
            memcmp(ft->stop_cps + ft->stop_off[e], cp, n * 4) == 0)
            return 1;
        s = (s + 1) & ft->stop_mask;
    }
}

/* ---- analyzers (§6) ------------------------------------------------------------------------- */

static void nlu_analyze_word(const nlu_feat *ft, nlu_ws *w)
{
    const uint32_t *u = w->pre;
    size_t n = w->npre, i = 0, m = 0, xl = 0, nn;
    while (i < n) {
        size_t j = i;
        int in;
        if (ft->tokenizer == NLU_TOK_NONSPACE) {
            while (j < n && !nlu_is_space(u[j])) j++;
            in = j > i;
        } else {
            while (j < n && nlu_is_word(u[j])) j++;
            in = j > i;
        }
        if (!in) { i++; continue; }
        if (ft->tokenizer != NLU_TOK_MIN2 || j - i >= 2) {
            uint64_t h = nlu_hash_cps(u + i, j - i);
            if (!nlu_is_stop(ft, u + i, j - i, h)) {
                if (m) w->x[xl++] = 0x20;
                w->tok_start[m] = (uint32_t)xl;
                w->tok_hash[m] = h;
                memcpy(w->x + xl, u + i, (j - i) * 4);
                xl += j - i;
                m++;
            }
        }
        i = j;
    }
    w->tok_start[m] = (uint32_t)(xl + 1);
    for (nn = ft->lo; nn <= ft->hi && nn <= m; nn++) {
        for (i = 0; i + nn <= m; i++) {
            uint64_t h = 0x452821e638d01377ULL ^ nn;
            size_t k;
            for (k = 0; k < nn; k++) h = phq_fmix64(h ^ w->tok_hash[i + k]) + k;
            nlu_add_term(w, w->tok_start[i], w->tok_start[i + nn] - 1 - w->tok_start[i], h);
        }
    }
}

static void nlu_ngrams(nlu_ws *w, size_t start, size_t L, uint32_t lo, uint32_t hi, int wb)
{
    size_t nn, i;
    for (nn = lo; nn <= hi; nn++) {
        if (wb && nn >= L) {
            nlu_add_term(w, (uint32_t)start, (uint32_t)L, nlu_hash_cps(w->x + start, L));
            return;
        }
        if (nn > L) return;
        for (i = 0; i + nn <= L; i++)
            nlu_add_term(w, (uint32_t)(start + i), (uint32_t)nn, nlu_hash_cps(w->x + start + i, nn));
    }
}

static void nlu_analyze_char(const nlu_feat *ft, nlu_ws *w)
{
    const uint32_t *u = w->pre;
    size_t n = w->npre, i = 0, xl = 0;
    while (i < n) {
        if (nlu_is_space(u[i])) {
            size_t j = i + 1;
            while (j < n && nlu_is_space(u[j])) j++;
            w->x[xl++] = j - i >= 2 ? 0x20 : u[i];
            i = j;
        } else {
            w->x[xl++] = u[i++];
        }
    }
    nlu_ngrams(w, 0, xl, ft->lo, ft->hi, 0);
}

static void nlu_analyze_char_wb(const nlu_feat *ft, nlu_ws *w)
{
    const uint32_t *u = w->pre;
    size_t n = w->npre, i = 0, xl = 0;
    while (i < n) {
        size_t j = i, start = xl;
        if (nlu_is_space(u[i])) { i++; continue; }
        while (j < n && !nlu_is_space(u[j])) j++;
        w->x[xl++] = 0x20;
        memcpy(w->x + xl, u + i, (j - i) * 4);
        xl += j - i;
        w->x[xl++] = 0x20;
        nlu_ngrams(w, start, xl - start, ft->lo, ft->hi, 1);
        i = j;
    }
}

/* decode + preprocess + analyze featurizer f into w->terms */
static int nlu_featurize(const phq_nlu *nlu, uint32_t f, const unsigned char *s, size_t len, nlu_ws *w,
                         phq_nlu_error *err)
{
    const nlu_feat *ft = &nlu->feat[f];
    if (w->dec_mode != ft->decode) {
        long long nd = nlu_decode(s, len, ft->decode, w->dec);
        if (nd < 0) {
            if (err) {
                err->code = PHQ_NLU_E_INPUT;
                snprintf(err->msg, sizeof err->msg, "the text is not well-formed UTF-8 (decode_error \"strict\")");
            }
            return PHQ_NLU_E_INPUT;
        }
        w->ndec = (size_t)nd;
        w->dec_mode = ft->decode;
        w->pre_lower = -1;
    }
    if (w->pre_lower != ft->lowercase || w->pre_strip != ft->strip) {
        w->npre = nlu_preprocess(ft, w->dec, w->ndec, w->pre);
        w->pre_lower = ft->lowercase;
        w->pre_strip = ft->strip;
    }
    memset(w->slots, 0, (w->slot_mask + 1) * 4);
    w->nterms = 0;
    if (ft->analyzer == NLU_AN_WORD) nlu_analyze_word(ft, w);
    else if (ft->analyzer == NLU_AN_CHAR) nlu_analyze_char(ft, w);
    else nlu_analyze_char_wb(ft, w);
    return 0;
}

/* ---- scoring (§7-§8) ------------------------------------------------------------------------- */

static double nlu_tf(const nlu_feat *ft, uint32_t count)
{
    if (ft->binary) return 1.0;
    if (ft->sublinear) return 1.0 + log((double)count);
    return (double)count;
}

/* prefix + UTF-8 of term t into w->key; returns the key's length */
static size_t nlu_key(const nlu_feat *ft, nlu_ws *w, const nlu_term *t)
{
    size_t k = ft->prefix_len, i;
    memcpy(w->key, ft->prefix, ft->prefix_len);
    for (i = 0; i < t->len; i++) {
        uint32_t cp = w->x[t->start + i];
        if (cp < 0x80) w->key[k++] = (unsigned char)cp;
        else k += nlu_utf8_put(cp, w->key + k);
    }
    return k;
}

static int nlu_reader_error(phq_nlu_error *err, const phq_error *e)
{
    if (err) {
        err->code = (int)e->code;
        snprintf(err->msg, sizeof err->msg, "%s", e->msg);
    }
    return (int)e->code;
}

/* tf(t) for a term counted `count` times; 1 + ln 1 is 1 exactly, so a single occurrence needs no ln */
static double nlu_tf1(const nlu_feat *ft, uint32_t count)
{
    return count == 1 && !ft->binary ? 1.0 : nlu_tf(ft, count);
}

/* §8.1-§8.2 for one featurizer. The keys of the distinct terms are hashed and looked up in
 * chunks of NLU_CHUNK terms, one batched call per chunk and table (phq_get_f32_hash_many /
 * phq_lookup_hash_many: the same answers as one phq_lookup per key, with the memory accesses of
 * the chunk's keys overlapped; a few KiB of stack, no workspace per term). The sums run over the
 * terms in first-occurrence order, as §8.1 fixes, and a key whose lookup failed stops the query
 * where the one-key-at-a-time order meets it: at that term. */
#define NLU_CHUNK 32
static int nlu_score_feat(const phq_nlu *nlu, const nlu_feat *ft, nlu_ws *w, double *score, phq_nlu_error *err)
{
    size_t t, c, k = nlu->ncol, n = w->nterms, t0, i;
    double s = 1.0;
    uint64_t hash[2 * NLU_CHUNK], slot[NLU_CHUNK];
    signed char st[NLU_CHUNK];
    float idf[NLU_CHUNK];
    uint32_t idx[NLU_CHUNK];
    phq_error e;
    if (ft->norm != NLU_NORM_NONE) {
        double N = 0.0;
        for (t0 = 0; t0 < n; t0 += NLU_CHUNK) {
            size_t m = n - t0 < NLU_CHUNK ? n - t0 : NLU_CHUNK;
            for (i = 0; i < m; i++) {
                size_t kl = nlu_key(ft, w, &w->terms[t0 + i]);
                phq_murmur3_x64_128(w->key + ft->prefix_len, kl - ft->prefix_len, ft->norm_table.seed, hash + 2 * i);
            }
            /* a dim-0 norm table has no rows: the call then only finds the keys */
            (void)phq_get_f32_hash_many(&ft->norm_table, hash, m, idf, st, &e);
            for (i = 0; i < m; i++) {
                double x;
                if (st[i] == PHQ_ERROR) return nlu_reader_error(err, &e);
                w->in_v[t0 + i] = st[i] == PHQ_FOUND;
                if (st[i] != PHQ_FOUND) continue;
                x = nlu_tf1(ft, w->terms[t0 + i].count);
                if (ft->norm_table.dim == 1) x = x * (double)idf[i];
                if (ft->norm == NLU_NORM_L2) N = N + x * x;
                else N = N + fabs(x);
            }
        }
        if (ft->norm == NLU_NORM_L2) N = sqrt(N);
        s = N > 0 ? 1.0 / N : 0.0;
    }
    for (c = 0; c < k; c++) w->partial[c] = 0.0;
    if (ft->prefix_utf8) {
        for (t = 0; t < n;) {
            size_t m = 0;
            for (; t < n && m < NLU_CHUNK; t++) {
                size_t kl;
                if (ft->norm != NLU_NORM_NONE && !w->in_v[t]) continue;
                kl = nlu_key(ft, w, &w->terms[t]);
                phq_murmur3_x64_128(w->key, kl, nlu->score.seed, hash + 2 * m);
                idx[m++] = (uint32_t)t;
            }
            (void)phq_lookup_hash_many(&nlu->score, hash, m, slot, st, &e);
            for (i = 0; i < m; i++) {
                phq_error e2;
                double u;
                if (st[i] == PHQ_ERROR) return nlu_reader_error(err, &e);
                if (st[i] != PHQ_FOUND) continue;
                u = nlu_tf1(ft, w->terms[idx[i]].count) * s;
                /* partial[c] + u * W[c] for every c (a sparse row: its stored values only) */
                if (phq_row_accumulate(&nlu->score, slot[i], u, w->partial, &e2) != PHQ_OK) return nlu_reader_error(err, &e2);
            }
        }
    }
    for (c = 0; c < k; c++) score[c] = score[c] + w->partial[c];
    return 0;
}

static int nlu_prepare(const phq_nlu *nlu, uint32_t f0, uint32_t f1, const void *text, size_t len, void *ws,
                       size_t ws_size, nlu_ws *w, phq_nlu_error *err)
{
    nlu_layout L;
    int bad;
    size_t need;
    if (err) { err->code = 0; err->msg[0] = 0; }
    if (!nlu || (!text && len) || (!ws && ws_size)) {
        if (err) { err->code = PHQ_E_USAGE; snprintf(err->msg, sizeof err->msg, "NULL argument"); }
        return PHQ_E_USAGE;
    }
    need = nlu_layout_for(nlu, f0, f1, text ? (const unsigned char *)text : (const unsigned char *)"", len, &L, &bad);
    if (bad) {
        if (err) {
            err->code = PHQ_NLU_E_INPUT;
            snprintf(err->msg, sizeof err->msg, "the text is not well-formed UTF-8 (decode_error \"strict\")");
        }
        return PHQ_NLU_E_INPUT;
    }
    if (need == SIZE_MAX || ws_size < need) {
        if (err) {
            err->code = PHQ_NLU_E_NOSPACE;
            if (need == SIZE_MAX) snprintf(err->msg, sizeof err->msg, "the text is too long for any workspace");
            else snprintf(err->msg, sizeof err->msg, "workspace of %zu bytes, the text needs %zu", ws_size, need);
        }
        return PHQ_NLU_E_NOSPACE;
    }
    nlu_ws_init(w, &L, ws);
    return 0;
}

int phq_nlu_decision(const phq_nlu *nlu, const void *text, size_t len, void *ws, size_t ws_size, double *decision,
                     phq_nlu_error *err)
{
    nlu_ws w;
    uint32_t f, c;
    int r;
    if (!decision || (nlu && nlu->K == 0)) {
        if (err) { err->code = PHQ_E_USAGE; snprintf(err->msg, sizeof err->msg, "%s", decision ? "the model has no classifier" : "NULL decision"); }
        return PHQ_E_USAGE;
    }
    double *score;
    r = nlu_prepare(nlu, 0, nlu ? nlu->nfeat : 0, text, len, ws, ws_size, &w, err);
    if (r) return r;
    score = nlu->cal ? w.raw : decision; /* a calibrated model: the fold scores first (§8.5.1) */
    for (c = 0; c < nlu->ncol; c++) score[c] = nlu->intercept[c];
    for (f = 0; f < nlu->nfeat; f++) {
        r = nlu_featurize(nlu, f, (const unsigned char *)text, len, &w, err);
        if (!r) r = nlu_score_feat(nlu, &nlu->feat[f], &w, score, err);
        if (r) return r;
    }
    if (nlu->cal) nlu_calibrate(nlu, w.raw, w.fp, decision);
    return 0;
}

/* ---- calibrated models (§8.5.1) ------------------------------------------------------------- */

static double nlu_cal_map(const phq_nlu *nlu, uint32_t j, double t)
{
    uint64_t lo, P, a, b;
    double x0, x1, y0, y1;
    if (nlu->cal == NLU_CAL_SIGMOID) return 1.0 / (1.0 + exp(nlu->cal_a[j] * t + nlu->cal_b[j]));
    lo = nlu->cal_off[j];
    P = nlu->cal_off[j + 1] - lo;
    if (P == 1) return t != t ? t : nlu_f64le(nlu->iso_y, lo);
    x0 = nlu_f64le(nlu->iso_x, lo);
    x1 = nlu_f64le(nlu->iso_x, lo + P - 1);
    if (t < x0) t = x0;
    if (t > x1) t = x1;
    /* i = the number of points with x < t (binary search), clipped to 1..P-1 */
    a = 0;
    b = P;
    while (a < b) {
        uint64_t m = a + (b - a) / 2;
        if (nlu_f64le(nlu->iso_x, lo + m) < t) a = m + 1;
        else b = m;
    }
    if (a < 1) a = 1;
    if (a > P - 1) a = P - 1;
    x0 = nlu_f64le(nlu->iso_x, lo + a - 1);
    x1 = nlu_f64le(nlu->iso_x, lo + a);
    y0 = nlu_f64le(nlu->iso_y, lo + a - 1);
    y1 = nlu_f64le(nlu->iso_y, lo + a);
    return ((y1 - y0) / (x1 - x0)) * (t - x0) + y0;
}

void nlu_calibrate(const phq_nlu *nlu, const double *t, double *fp, double *out)
{
    uint32_t f, c, K = nlu->K, kb = nlu->kb;
    for (c = 0; c < K; c++) out[c] = 0.0;
    for (f = 0; f < nlu->folds; f++) {
        if (K == 2) {
            double q = nlu_cal_map(nlu, f, t[f]);
            fp[0] = 1.0 - q;
            fp[1] = q;
        } else {
            double s = 0.0;
            for (c = 0; c < K; c++) {
                fp[c] = nlu_cal_map(nlu, f * kb + c, t[f * kb + c]);
                s = s + fp[c];
            }
            for (c = 0; c < K; c++) fp[c] = s != 0.0 ? fp[c] / s : 1.0 / (double)K;
        }
        for (c = 0; c < K; c++) {
            if (fp[c] > 1.0 && fp[c] <= 1.0 + 1e-5) fp[c] = 1.0;
            out[c] = out[c] + fp[c];
        }
    }
    for (c = 0; c < K; c++) out[c] = out[c] / (double)nlu->folds;
}

int phq_nlu_terms(const phq_nlu *nlu, uint32_t f, const void *text, size_t len, void *ws, size_t ws_size,
                  phq_nlu_term_fn term, void *ctx, phq_nlu_error *err)
{
    nlu_ws w;
    size_t t;
    int r;
    if (!nlu || f >= nlu->nfeat || !term) {
        if (err) { err->code = PHQ_E_USAGE; snprintf(err->msg, sizeof err->msg, "no such featurizer, or NULL argument"); }
        return PHQ_E_USAGE;
    }
    r = nlu_prepare(nlu, f, f + 1, text, len, ws, ws_size, &w, err);
    if (!r) r = nlu_featurize(nlu, f, (const unsigned char *)text, len, &w, err);
    if (r) return r;
    for (t = 0; t < w.nterms; t++) {
        const nlu_feat *ft = &nlu->feat[f];
        size_t kl = nlu_key(ft, &w, &w.terms[t]);
        term(ctx, w.key + ft->prefix_len, kl - ft->prefix_len, nlu_tf(ft, w.terms[t].count));
    }
    return 0;
}

/* ---- decision, top k, probabilities (§8.3-§8.5) --------------------------------------------- */

uint32_t phq_nlu_argmax(const phq_nlu *nlu, const double *d)
{
    uint32_t c, best = 0;
    if (!nlu || !d) return 0;
    if (nlu->k == 1) return d[0] > 0 ? 1 : 0;
    {
        double bv = d[0];
        int nan = d[0] != d[0];
        for (c = 1; c < nlu->k; c++) { /* one pass without early exit; a NaN is looked for after */
            double v = d[c];
            nan |= v != v;
            best = v > bv ? c : best;
            bv = v > bv ? v : bv;
        }
        if (nan)
            for (c = 0; c < nlu->k; c++)
                if (isnan(d[c])) return c;
    }
    return best;
}

/* value of class i for ordering: k = 1 gives (-d, d) */
static double nlu_val(const phq_nlu *nlu, const double *d, uint32_t i)
{
    return nlu->k == 1 ? (i ? d[0] : -d[0]) : d[i];
}

/* 1 when class a ranks before class b (§8.4; NaN ranks first, as in §8.3) */
static int nlu_before(const phq_nlu *nlu, const double *d, uint32_t a, uint32_t b)
{
    double x = nlu_val(nlu, d, a), y = nlu_val(nlu, d, b);
    int nx = isnan(x), ny = isnan(y);
    if (nx || ny) return nx && ny ? a < b : nx;
    if (x != y) return x > y;
    return a < b;
}

/* min-heap on "rank" (the worst kept class at the root) */
static void nlu_heap_down(const phq_nlu *nlu, const double *d, uint32_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t c = 2 * i + 1;
        uint32_t t;
        if (c >= n) return;
        if (c + 1 < n && nlu_before(nlu, d, h[c], h[c + 1])) c++;
        if (!nlu_before(nlu, d, h[i], h[c])) return;
        t = h[i]; h[i] = h[c]; h[c] = t;
        i = c;
    }
}

size_t phq_nlu_top(const phq_nlu *nlu, const double *decision, const double *proba, size_t n, uint32_t *index,
                   double *value)
{
    size_t m, i;
    uint32_t c;
    if (!nlu || !decision || !index || !n) return 0;
    m = n < nlu->K ? n : nlu->K;
    for (c = 0; c < m; c++) index[c] = c;
    for (i = m / 2; i-- > 0;) nlu_heap_down(nlu, decision, index, m, i);
    for (c = (uint32_t)m; c < nlu->K; c++)
        if (nlu_before(nlu, decision, c, index[0])) {
            index[0] = c;
            nlu_heap_down(nlu, decision, index, m, 0);
        }
    for (i = m; i-- > 1;) { /* heap sort: worst to the end */
        uint32_t t = index[0];
        index[0] = index[i];
        index[i] = t;
        nlu_heap_down(nlu, decision, index, i, 0);
    }
    if (value)
        for (i = 0; i < m; i++) value[i] = proba ? proba[index[i]] : nlu_val(nlu, decision, index[i]);
    return m;
}

int phq_nlu_proba(const phq_nlu *nlu, const double *d, double *p, phq_nlu_error *err)
{
    uint32_t c, k;
    if (err) { err->code = 0; err->msg[0] = 0; }
    if (!nlu || !d || !p || nlu->proba == PHQ_NLU_PROBA_NONE) {
        if (err) {
            err->code = PHQ_E_USAGE;
            snprintf(err->msg, sizeof err->msg, "%s", nlu && d && p ? "the model defines no probabilities (proba is null)" : "NULL argument");
        }
        return PHQ_E_USAGE;
    }
    k = nlu->k;
    if (nlu->proba == PHQ_NLU_PROBA_CALIBRATED) { /* the decision values are the probabilities */
        for (c = 0; c < k; c++) p[c] = d[c];
        return 0;
    }
    if (nlu->proba == PHQ_NLU_PROBA_SOFTMAX) {
        double m = d[0], sum = 0.0;
        for (c = 1; c < k; c++) if (d[c] > m) m = d[c];
        for (c = 0; c < k; c++) { p[c] = exp(d[c] - m); sum = sum + p[c]; }
        for (c = 0; c < k; c++) p[c] = p[c] / sum;
        return 0;
    }
    for (c = 0; c < k; c++) {
        double x = d[c];
        if (nlu->proba == PHQ_NLU_PROBA_LOGISTIC) {
            p[k == 1 ? 1 : c] = 1.0 / (1.0 + exp(-x));
        } else {
            if (x < -1.0) x = -1.0;
            if (x > 1.0) x = 1.0;
            p[k == 1 ? 1 : c] = (x + 1.0) / 2.0;
        }
    }
    if (k == 1) {
        p[0] = 1.0 - p[1];
    } else {
        double sum = 0.0;
        for (c = 0; c < k; c++) sum = sum + p[c];
        for (c = 0; c < k; c++) p[c] = sum == 0.0 ? 1.0 / (double)k : p[c] / sum;
    }
    return 0;
}

/* ---- accessors -------------------------------------------------------------------------------- */

size_t phq_nlu_memory(const phq_nlu *nlu) { return nlu ? nlu->arena_size : 0; }
uint32_t phq_nlu_class_count(const phq_nlu *nlu) { return nlu ? nlu->K : 0; }
uint32_t phq_nlu_output_count(const phq_nlu *nlu) { return nlu ? nlu->k : 0; }
uint32_t phq_nlu_featurizer_count(const phq_nlu *nlu) { return nlu ? nlu->nfeat : 0; }
int phq_nlu_proba_rule(const phq_nlu *nlu) { return nlu ? nlu->proba : 0; }

const char *phq_nlu_class_json(const phq_nlu *nlu, uint32_t i, size_t *len)
{
    if (!nlu || i >= nlu->K) {
        if (len) *len = 0;
        return "";
    }
    if (len) *len = nlu->label_off[i + 1] - nlu->label_off[i];
    return (const char *)nlu->labels + nlu->label_off[i];
}

const char *phq_nlu_error_name(int code)
{
    switch (code) {
    case PHQ_NLU_E_MISSING: return "E_NLU_MISSING";
    case PHQ_NLU_E_VERSION: return "E_NLU_VERSION";
    case PHQ_NLU_E_SCHEMA: return "E_NLU_SCHEMA";
    case PHQ_NLU_E_REFERENCE: return "E_NLU_REFERENCE";
    case PHQ_NLU_E_UNSUPPORTED: return "E_NLU_UNSUPPORTED";
    case PHQ_NLU_E_INPUT: return "E_INPUT";
    case PHQ_NLU_E_NOSPACE: return "E_NOSPACE";
    case PHQ_NLU_E_NOMEM: return "E_NOMEM";
    default: return code < 200 ? phq_error_name(code) : "E_UNKNOWN";
    }
}
