/*
 * phq_nlu_tagger.c - the tagger of NLU profile 3 (spec nlu-profile-v3 §3-§7): decoding with
 * code-point offsets, the word_punct / nonspace_runs tokenizers, token attributes, templates and
 * feature strings, state scores, Viterbi (ties to the lowest label index, no repair of invalid
 * transitions), BIO spans, and the parse result with the classifier's intent. Everything lives in
 * the caller's workspace; nothing is allocated; no recursion. Build with -ffp-contract=off.
 */
#include "phq_nlu_internal.h"

#include <stdio.h>
#include <string.h>

/* -DNLU3T_TEST_COUNTERS (tests/test_tagger.c): counts of the work done, for the linear-cost test */
#ifdef NLU3T_TEST_COUNTERS
static unsigned long long nlu3t_count_steps, nlu3t_count_cells, nlu3t_count_features, nlu3t_count_key_bytes;
#define NLU3T_COUNT(c, k) ((c) += (k))
#else
#define NLU3T_COUNT(c, k) ((void)0)
#endif

/* workspace regions for N decoded code points and L labels */
typedef struct {
    uint32_t *D, *ts, *te, *wo, *W, *SH;
    unsigned char *flags, *key;
    double *state, *dprev, *dcur, *bidx;
    uint16_t *back, *path;
    phq_nlu_slot *slots;
    size_t N, n;
} nlu3t_ws;

#define T_KEY(N) (48 * (N) + 64)

static size_t nlu3t_align(size_t x) { return (x + 7) & ~(size_t)7; }

/* bytes of the tagger's regions; SIZE_MAX when too large */
static size_t nlu3t_size(size_t N, size_t L)
{
    size_t s = 0;
    if (N > ((size_t)1 << 30) || N > (SIZE_MAX / 4 - 4096) / (2 * L + 120)) return SIZE_MAX;
    s += nlu3t_align(4 * N) * 3;      /* D, ts, te */
    s += nlu3t_align(4 * (N + 1));    /* wo */
    s += nlu3t_align(12 * N);         /* W */
    s += nlu3t_align(4 * N);          /* SH */
    s += nlu3t_align(N);              /* flags */
    s += nlu3t_align(T_KEY(N));       /* key */
    s += nlu3t_align(8 * L) * 4;      /* state, dprev, dcur, bidx */
    s += nlu3t_align(2 * N * L);      /* back */
    s += nlu3t_align(2 * N);          /* path */
    s += nlu3t_align(sizeof(phq_nlu_slot) * N); /* slots */
    return s + 16;
}

static unsigned char *nlu3t_carve(unsigned char **p, size_t n)
{
    unsigned char *r = *p;
    *p += nlu3t_align(n);
    return r;
}

static void nlu3t_ws_init(nlu3t_ws *w, unsigned char *p, size_t N, size_t L)
{
    p = (unsigned char *)(((uintptr_t)p + 7) & ~(uintptr_t)7);
    w->D = (uint32_t *)nlu3t_carve(&p, 4 * N);
    w->ts = (uint32_t *)nlu3t_carve(&p, 4 * N);
    w->te = (uint32_t *)nlu3t_carve(&p, 4 * N);
    w->wo = (uint32_t *)nlu3t_carve(&p, 4 * (N + 1));
    w->W = (uint32_t *)nlu3t_carve(&p, 12 * N);
    w->SH = (uint32_t *)nlu3t_carve(&p, 4 * N);
    w->flags = nlu3t_carve(&p, N);
    w->key = nlu3t_carve(&p, T_KEY(N));
    w->state = (double *)nlu3t_carve(&p, 8 * L);
    w->dprev = (double *)nlu3t_carve(&p, 8 * L);
    w->dcur = (double *)nlu3t_carve(&p, 8 * L);
    w->bidx = (double *)nlu3t_carve(&p, 8 * L);
    w->back = (uint16_t *)nlu3t_carve(&p, 2 * N * L);
    w->path = (uint16_t *)nlu3t_carve(&p, 2 * N);
    w->slots = (phq_nlu_slot *)nlu3t_carve(&p, sizeof(phq_nlu_slot) * N);
    w->N = N;
    w->n = 0;
}

/* the head of a profile 3 workspace: k decision values and K probabilities */
static size_t nlu3t_head(const phq_nlu *nlu) { return nlu3t_align(((size_t)nlu->k + nlu->K) * 8) + 8; }

static size_t nlu3t_decoded_len(const nlu_tagger *t, const unsigned char *s, size_t len)
{
    long long n = nlu_decode_cps(s, len, t->decode, NULL);
    if (n < 0) n = nlu_decode_cps(s, len, NLU_DEC_REPLACE, NULL);
    return (size_t)n;
}

size_t nlu3_workspace(const phq_nlu *nlu, const void *text, size_t len, int exact)
{
    size_t cls = 0, tag = 0, head = nlu3t_head(nlu);
    if (len > ((size_t)1 << 30)) return SIZE_MAX;
    if (nlu->K) {
        cls = nlu_cls_workspace(nlu, text, len, exact);
        if (cls == SIZE_MAX) return SIZE_MAX;
    }
    if (nlu->tagger) {
        size_t N = exact ? nlu3t_decoded_len(nlu->tagger, text ? (const unsigned char *)text : (const unsigned char *)"", len) : len;
        tag = nlu3t_size(N, nlu->tagger->L);
        if (tag == SIZE_MAX) return SIZE_MAX;
    }
    return head + (cls > tag ? cls : tag);
}

static int nlu3t_err(phq_nlu_error *err, int code, const char *msg)
{
    if (err) {
        err->code = code;
        snprintf(err->msg, sizeof err->msg, "%s", msg);
    }
    return code;
}

/* ---- tokens and attributes (§3, §4.1) ------------------------------------------------------ */

static int nlu3t_is_digit(uint32_t c) { return c >= '0' && c <= '9'; }

static uint32_t nlu3t_shape(uint32_t c)
{
    if (nlu3t_is_digit(c)) return 'd';
    if (nlu_cp_has_lower(c)) return 'X';
    if (c < 0x80 ? (c >= 'a' && c <= 'z') : nlu_cp_is_cased(c)) return 'x';
    if (nlu_cp_is_word(c)) return 'w';
    return c;
}

static void nlu3t_tokenize(const nlu_tagger *t, nlu3t_ws *w)
{
    size_t i = 0, N = w->N, n = 0;
    const uint32_t *D = w->D;
    while (i < N) {
        size_t j;
        if (nlu_cp_is_space(D[i])) { i++; continue; }
        j = i + 1;
        if (t->tokenizer == NLU_TKN_NONSPACE) {
            while (j < N && !nlu_cp_is_space(D[j])) j++;
        } else if (nlu_cp_is_word(D[i])) {
            while (j < N && nlu_cp_is_word(D[j])) j++;
        }
        w->ts[n] = (uint32_t)i;
        w->te[n] = (uint32_t)j;
        n++;
        i = j;
    }
    w->n = n;
}

static void nlu3t_attributes(nlu3t_ws *w)
{
    size_t k, i, wo = 0;
    for (k = 0; k < w->n; k++) {
        size_t s = w->ts[k], e = w->te[k], nX = 0, nx = 0, digits = 0;
        w->wo[k] = (uint32_t)wo;
        wo += nlu_lower_cps(w->D + s, e - s, w->W + wo);
        for (i = s; i < e; i++) {
            uint32_t c = nlu3t_shape(w->D[i]);
            w->SH[i] = c;
            nX += c == 'X';
            nx += c == 'x';
            digits += nlu3t_is_digit(w->D[i]);
        }
        w->flags[k] = (unsigned char)((digits == e - s) | (nX > 0 && nx == 0) << 1 |
                                      (w->SH[s] == 'X' && nX == 1) << 2);
    }
    w->wo[w->n] = (uint32_t)wo;
}

/* ---- feature strings (§4.2, §4.3) ------------------------------------------------------------ */

static size_t nlu3t_put_cps(unsigned char *out, const uint32_t *c, size_t n, int dedupe)
{
    size_t i, k = 0;
    for (i = 0; i < n; i++) {
        if (dedupe && i > 0 && c[i] == c[i - 1]) continue;
        if (c[i] < 0x80) out[k++] = (unsigned char)c[i];
        else k += nlu_utf8_put(c[i], out + k);
    }
    return k;
}

/* template k at token i: the feature string's UTF-8 length in w->key, or (size_t)-1 (nothing) */
static size_t nlu3t_feature(const nlu_tagger *t, const nlu3t_ws *w, uint32_t k, size_t i)
{
    unsigned char *out = w->key;
    size_t len = 0, n = w->n;
    uint32_t c;
    switch (t->tkind[k]) {
    case NLU_TT_BIAS: memcpy(out, "bias", 4); return 4;
    case NLU_TT_BOS: if (i != 0) return (size_t)-1; memcpy(out, "bos", 3); return 3;
    case NLU_TT_EOS: if (i + 1 != n) return (size_t)-1; memcpy(out, "eos", 3); return 3;
    default: break;
    }
    for (c = 0; c < t->ncomp[k]; c++) {
        long at = (long)i + t->off[k][c];
        if (at < 0 || at >= (long)n) return (size_t)-1;
    }
    for (c = 0; c < t->ncomp[k]; c++) {
        int a = t->attr[k][c], o = t->off[k][c];
        size_t tok = (size_t)((long)i + o), s = w->ts[tok], e = w->te[tok];
        const uint32_t *wv = w->W + w->wo[tok];
        size_t wl = w->wo[tok + 1] - w->wo[tok];
        const char *name = nlu3_attr_name(a);
        size_t nl = strlen(name);
        if (c) out[len++] = '|';
        memcpy(out + len, name, nl);
        len += nl;
        if (o) {
            out[len++] = o < 0 ? '-' : '+';
            out[len++] = (unsigned char)('0' + (o < 0 ? -o : o));
        }
        out[len++] = '=';
        if (a == NLU_A_W) len += nlu3t_put_cps(out + len, wv, wl, 0);
        else if (a == NLU_A_RAW) len += nlu3t_put_cps(out + len, w->D + s, e - s, 0);
        else if (a >= NLU_A_P1 && a < NLU_A_P1 + 8) {
            size_t m = (size_t)(a - NLU_A_P1 + 1);
            len += nlu3t_put_cps(out + len, wv, m < wl ? m : wl, 0);
        } else if (a >= NLU_A_S1 && a < NLU_A_S1 + 8) {
            size_t m = (size_t)(a - NLU_A_S1 + 1);
            if (m > wl) m = wl;
            len += nlu3t_put_cps(out + len, wv + wl - m, m, 0);
        } else if (a == NLU_A_SHAPE) len += nlu3t_put_cps(out + len, w->SH + s, e - s, 0);
        else if (a == NLU_A_SSHAPE) len += nlu3t_put_cps(out + len, w->SH + s, e - s, 1);
        else out[len++] = (unsigned char)('0' + ((w->flags[tok] >> (a - NLU_A_DIGIT)) & 1));
    }
    return len;
}

/* ---- preparing a query ------------------------------------------------------------------------ */

static int nlu3t_prepare(const phq_nlu *nlu, const void *text, size_t len, void *ws, size_t ws_size, nlu3t_ws *w,
                     phq_nlu_error *err)
{
    const nlu_tagger *t = nlu->tagger;
    const unsigned char *s = text ? (const unsigned char *)text : (const unsigned char *)"";
    size_t N, need;
    long long got;
    if (len > ((size_t)1 << 30)) return nlu3t_err(err, PHQ_NLU_E_NOSPACE, "the text is too long for any workspace");
    got = nlu_decode_cps(s, len, t->decode, NULL);
    if (got < 0) return nlu3t_err(err, PHQ_NLU_E_INPUT, "the text is not well-formed UTF-8 (decode_error \"strict\")");
    N = (size_t)got;
    need = nlu3t_size(N, t->L);
    if (need == SIZE_MAX || ws_size < nlu3t_head(nlu) || ws_size - nlu3t_head(nlu) < need)
        return nlu3t_err(err, PHQ_NLU_E_NOSPACE, "the workspace is smaller than phq_nlu_workspace_size()");
    nlu3t_ws_init(w, (unsigned char *)ws + nlu3t_head(nlu), N, t->L);
    nlu_decode_cps(s, len, t->decode, w->D);
    nlu3t_tokenize(t, w);
    nlu3t_attributes(w);
    return 0;
}

static int nlu3t_args(const phq_nlu *nlu, const void *text, size_t len, void *ws, size_t ws_size, const void *out,
                  phq_nlu_error *err)
{
    if (err) { err->code = 0; err->msg[0] = 0; }
    if (!nlu || (!text && len) || (!ws && ws_size) || !out) return nlu3t_err(err, PHQ_E_USAGE, "NULL argument");
    return 0;
}

/* ---- scores, Viterbi, spans (§6, §7) ------------------------------------------------------- */

/* state scores of token i (spec 6.1) into w->state: each feature string looked up, its row added
 * in list order. (Batched lookups, phq_lookup_hash_many, measured 4% slower on the SNIPS tagger:
 * its table stays in cache, where prefetching buys nothing and grouping costs instructions.) */
static int nlu3t_state(const nlu_tagger *t, nlu3t_ws *w, size_t i, phq_nlu_error *err)
{
    uint32_t k, j, L = t->L;
    for (j = 0; j < L; j++) w->state[j] = 0.0;
    for (k = 0; k < t->ntemplates; k++) {
        size_t kl = nlu3t_feature(t, w, k, i);
        uint64_t slot;
        phq_error e;
        int r;
        if (kl == (size_t)-1) continue;
        NLU3T_COUNT(nlu3t_count_features, 1);
        NLU3T_COUNT(nlu3t_count_key_bytes, kl);
        r = phq_lookup(&t->state, w->key, kl, &slot, &e);
        if (r == PHQ_ERROR) return nlu3t_err(err, (int)e.code, e.msg);
        if (r != PHQ_FOUND) continue;
        /* state[j] + 1.0 * row[j]: exactly state[j] + row[j] (a sparse row adds its stored values) */
        if (phq_row_accumulate(&t->state, slot, 1.0, w->state, &e) != PHQ_OK) return nlu3t_err(err, (int)e.code, e.msg);
    }
    return 0;
}

/* One Viterbi step (spec 6.2) for every label j at once. For each j the candidates
 * dprev[a] + T[a][j] are scanned in increasing a and replace the best only when strictly greater
 * (ties to the lowest index; a comparison with NaN is false, so a NaN never replaces): exactly the
 * spec's scan, the same binary64 additions in the same order per j. The scans of several j run
 * side by side with branch-free selects, reading T's row a contiguously: blocks of 8 labels kept in
 * registers over the whole scan, a scalar loop for the last labels (and without SSE2).
 *   SSE2: v = MAXPD(c, v) is exactly "c > v ? c : v" (the second operand when unordered or equal);
 *   the best index b (a double, exact for L <= 1024) becomes a where c > v: since a > b always,
 *   b = MAXPD(b, (c > v) AND a) (the AND gives a or +0.0, and b >= 0). */
#if defined(__SSE2__)
#include <emmintrin.h>
#define NLU3T_LANE(k)                                              \
    c##k = _mm_add_pd(vda, _mm_loadu_pd(row + 2 * (k)));           \
    g##k = _mm_cmpgt_pd(c##k, x##k);                               \
    x##k = _mm_max_pd(c##k, x##k);                                 \
    b##k = _mm_max_pd(b##k, _mm_and_pd(g##k, vfa))
#endif

static void nlu3t_step(const double *restrict trans, uint32_t L, const double *restrict dprev,
                       const double *restrict state, double *restrict v, double *restrict bidx,
                       uint16_t *restrict back)
{
    uint32_t a, j = 0;
    NLU3T_COUNT(nlu3t_count_steps, 1);
    NLU3T_COUNT(nlu3t_count_cells, (unsigned long long)L * L);
#if defined(__SSE2__)
    for (; j + 8 <= L; j += 8) {
        const double *row = trans + j;
        __m128d vda = _mm_set1_pd(dprev[0]), vfa, c0, c1, c2, c3, g0, g1, g2, g3;
        __m128d x0 = _mm_add_pd(vda, _mm_loadu_pd(row)), x1 = _mm_add_pd(vda, _mm_loadu_pd(row + 2));
        __m128d x2 = _mm_add_pd(vda, _mm_loadu_pd(row + 4)), x3 = _mm_add_pd(vda, _mm_loadu_pd(row + 6));
        __m128d b0 = _mm_setzero_pd(), b1 = b0, b2 = b0, b3 = b0;
        for (a = 1; a < L; a++) {
            row = trans + (size_t)a * L + j;
            vda = _mm_set1_pd(dprev[a]);
            vfa = _mm_set1_pd((double)a);
            NLU3T_LANE(0); NLU3T_LANE(1); NLU3T_LANE(2); NLU3T_LANE(3);
        }
        _mm_storeu_pd(v + j, x0); _mm_storeu_pd(v + j + 2, x1); _mm_storeu_pd(v + j + 4, x2); _mm_storeu_pd(v + j + 6, x3);
        _mm_storeu_pd(bidx + j, b0); _mm_storeu_pd(bidx + j + 2, b1); _mm_storeu_pd(bidx + j + 4, b2); _mm_storeu_pd(bidx + j + 6, b3);
    }
    for (; j + 2 <= L; j += 2) { /* the last labels two at a time */
        const double *row = trans + j;
        __m128d vda = _mm_set1_pd(dprev[0]), vfa, c0, g0;
        __m128d x0 = _mm_add_pd(vda, _mm_loadu_pd(row)), b0 = _mm_setzero_pd();
        for (a = 1; a < L; a++) {
            row = trans + (size_t)a * L + j;
            vda = _mm_set1_pd(dprev[a]);
            vfa = _mm_set1_pd((double)a);
            NLU3T_LANE(0);
        }
        _mm_storeu_pd(v + j, x0);
        _mm_storeu_pd(bidx + j, b0);
    }
#endif
    if (j < L) {
        uint32_t j0 = j;
        for (; j < L; j++) {
            v[j] = dprev[0] + trans[j];
            bidx[j] = 0.0;
        }
        for (a = 1; a < L; a++) {
            const double *row = trans + (size_t)a * L, da = dprev[a];
            for (j = j0; j < L; j++) {
                double c = da + row[j];
                if (c > v[j]) {
                    v[j] = c;
                    bidx[j] = (double)a;
                }
            }
        }
    }
    for (j = 0; j < L; j++) {
        back[j] = (uint16_t)bidx[j];
        v[j] = v[j] + state[j]; /* delta[t][j] */
    }
}

static int nlu3t_viterbi(const nlu_tagger *t, nlu3t_ws *w, phq_nlu_error *err)
{
    size_t n = w->n, i;
    uint32_t L = t->L, j, best;
    int r;
    double *tmp;
    if (n == 0) return 0;
    r = nlu3t_state(t, w, 0, err);
    if (r) return r;
    for (j = 0; j < L; j++) w->dprev[j] = w->state[j];
    for (i = 1; i < n; i++) {
        r = nlu3t_state(t, w, i, err);
        if (r) return r;
        nlu3t_step(t->trans, L, w->dprev, w->state, w->dcur, w->bidx, w->back + i * L);
        tmp = w->dprev; w->dprev = w->dcur; w->dcur = tmp;
    }
    best = 0;
    for (j = 1; j < L; j++)
        if (w->dprev[j] > w->dprev[best]) best = j;
    w->path[n - 1] = (uint16_t)best;
    for (i = n - 1; i >= 1; i--) w->path[i - 1] = w->back[i * L + w->path[i]];
    return 0;
}

static size_t nlu3t_spans(const nlu_tagger *t, nlu3t_ws *w)
{
    size_t i, ns = 0;
    int open = 0;
    for (i = 0; i < w->n; i++) {
        uint32_t y = w->path[i];
        const unsigned char *lab = t->labels + t->label_off[y];
        size_t ll = t->label_off[y + 1] - t->label_off[y];
        if (lab[0] == 'O' && ll == 1) { open = 0; continue; }
        if (lab[0] == 'I' && open) {
            uint32_t p = w->slots[ns - 1].label;
            const unsigned char *pl = t->labels + t->label_off[p];
            size_t pn = t->label_off[p + 1] - t->label_off[p];
            if (pn == ll && memcmp(pl + 2, lab + 2, ll - 2) == 0) {
                w->slots[ns - 1].end = w->te[i];
                continue;
            }
        }
        w->slots[ns].label = y;
        w->slots[ns].start = w->ts[i];
        w->slots[ns].end = w->te[i];
        ns++;
        open = 1;
    }
    return ns;
}

/* ---- public ----------------------------------------------------------------------------------- */

int phq_nlu_has_tagger(const phq_nlu *nlu) { return nlu && nlu->tagger; }
uint32_t phq_nlu_label_count(const phq_nlu *nlu) { return nlu && nlu->tagger ? nlu->tagger->L : 0; }

const char *phq_nlu_label(const phq_nlu *nlu, uint32_t j, size_t *len)
{
    const nlu_tagger *t = nlu ? nlu->tagger : NULL;
    if (!t || j >= t->L) {
        if (len) *len = 0;
        return "";
    }
    if (len) *len = t->label_off[j + 1] - t->label_off[j];
    return (const char *)t->labels + t->label_off[j];
}

int phq_nlu_tokens(const phq_nlu *nlu, const void *text, size_t len, void *ws, size_t ws_size,
                   phq_nlu_parse_result *res, phq_nlu_error *err)
{
    nlu3t_ws w;
    int r = nlu3t_args(nlu, text, len, ws, ws_size, res, err);
    if (r) return r;
    if (!nlu->tagger) return nlu3t_err(err, PHQ_E_USAGE, "the model has no tagger");
    memset(res, 0, sizeof *res);
    r = nlu3t_prepare(nlu, text, len, ws, ws_size, &w, err);
    if (r) return r;
    res->text = w.D;
    res->text_len = w.N;
    res->n_tokens = w.n;
    /* tokens as (start, end) pairs: ts/te are separate arrays, so pack them into the key region */
    {
        phq_nlu_token *tk = (phq_nlu_token *)(void *)w.slots; /* N slots of 12 bytes hold N tokens of 8 */
        size_t i;
        for (i = 0; i < w.n; i++) { tk[i].start = w.ts[i]; tk[i].end = w.te[i]; }
        res->tokens = tk;
    }
    return 0;
}

int phq_nlu_features(const phq_nlu *nlu, const void *text, size_t len, size_t i, void *ws, size_t ws_size,
                     phq_nlu_feature_fn feature, void *ctx, phq_nlu_error *err)
{
    nlu3t_ws w;
    uint32_t k;
    int r = nlu3t_args(nlu, text, len, ws, ws_size, feature ? "" : NULL, err);
    if (r) return r;
    if (!nlu->tagger) return nlu3t_err(err, PHQ_E_USAGE, "the model has no tagger");
    r = nlu3t_prepare(nlu, text, len, ws, ws_size, &w, err);
    if (r) return r;
    if (i >= w.n) return nlu3t_err(err, PHQ_E_USAGE, "no such token");
    for (k = 0; k < nlu->tagger->ntemplates; k++) {
        size_t kl = nlu3t_feature(nlu->tagger, &w, k, i);
        if (kl != (size_t)-1) feature(ctx, w.key, kl);
    }
    return 0;
}

/* the tagger's part of a parse: tokens, label path, spans (res->has_intent stays 0) */
static int nlu3t_tag(const phq_nlu *nlu, const void *text, size_t len, void *ws, size_t ws_size,
                     phq_nlu_parse_result *res, phq_nlu_error *err)
{
    nlu3t_ws w;
    int r = nlu3t_prepare(nlu, text, len, ws, ws_size, &w, err);
    if (!r) r = nlu3t_viterbi(nlu->tagger, &w, err);
    if (r) return r;
    res->text = w.D;
    res->text_len = w.N;
    res->n_tokens = w.n;
    res->path = w.path;
    res->n_slots = nlu3t_spans(nlu->tagger, &w);
    res->slots = w.slots;
    /* tokens as (start, end) pairs in the key region, free after Viterbi (48 N + 64 >= 8 N bytes) */
    {
        phq_nlu_token *tk = (phq_nlu_token *)(void *)w.key;
        size_t i;
        for (i = 0; i < w.n; i++) { tk[i].start = w.ts[i]; tk[i].end = w.te[i]; }
        res->tokens = tk;
    }
    return 0;
}

int phq_nlu_tag(const phq_nlu *nlu, const void *text, size_t len, void *ws, size_t ws_size,
                phq_nlu_parse_result *res, phq_nlu_error *err)
{
    int r = nlu3t_args(nlu, text, len, ws, ws_size, res, err);
    if (r) return r;
    if (!nlu->tagger) return nlu3t_err(err, PHQ_E_USAGE, "the model has no tagger");
    memset(res, 0, sizeof *res);
    return nlu3t_tag(nlu, text, len, ws, ws_size, res, err);
}

int phq_nlu_parse(const phq_nlu *nlu, const void *text, size_t len, void *ws, size_t ws_size,
                  phq_nlu_parse_result *res, phq_nlu_error *err)
{
    int r = nlu3t_args(nlu, text, len, ws, ws_size, res, err);
    if (r) return r;
    if (nlu->profile != 3) /* a classifier alone (profile 1 or 2): phq_nlu_decision is its API */
        return nlu3t_err(err, PHQ_E_USAGE, "phq_nlu_parse needs a profile 3 model; use phq_nlu_decision");
    memset(res, 0, sizeof *res);
    if (nlu->K) {
        size_t head = nlu3t_head(nlu);
        double *dec = (double *)(((uintptr_t)ws + 7) & ~(uintptr_t)7), *proba = dec + nlu->k;
        if (ws_size < head) return nlu3t_err(err, PHQ_NLU_E_NOSPACE, "the workspace is smaller than phq_nlu_workspace_size()");
        r = phq_nlu_decision(nlu, text, len, (unsigned char *)ws + head, ws_size - head, dec, err);
        if (r) return r;
        res->has_intent = 1;
        res->intent = phq_nlu_argmax(nlu, dec);
        if (nlu->proba != PHQ_NLU_PROBA_NONE) {
            r = phq_nlu_proba(nlu, dec, proba, err);
            if (r) return r;
            res->score = proba[res->intent];
        } else if (nlu->k == 1) {
            res->score = res->intent == 1 ? dec[0] : -dec[0];
        } else {
            res->score = dec[res->intent];
        }
    }
    if (!nlu->tagger) return 0;
    return nlu3t_tag(nlu, text, len, ws, ws_size, res, err);
}
