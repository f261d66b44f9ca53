/*
 * fuzz_nlu.c - libFuzzer harness for the NLU runtime (make -C creader fuzz-nlu).
 * An input is (model file, text): a 4-byte little-endian model length L, then L model bytes
 * (fewer if the input is shorter), then the text. The model runs as is and, when that fails
 * phq_open, "re-sealed" (its header, section-table and section CRC32Cs recomputed, as in fuzz.c)
 * so that mutations of the header and section table reach phq_nlu_open too. For an open model: the exact workspace is malloc'd (ASan sees any
 * write past it), the decision, argmax, top k and probabilities are computed, and the terms of
 * every featurizer are listed; invariants are checked (abort on failure): the workspace bound
 * covers the exact size, a 1-byte-smaller workspace gives E_NOSPACE, every term is valid UTF-8,
 * a second run gives bit-identical decision values, top k is sorted and a permutation prefix.
 * Seeds: NLU models of creader/tests/gen_nlu_testdata.py with short texts (tests/nlu_fuzz_seeds.py).
 * Built as one translation unit with phq.c (no global mutable state but this file's buffers).
 */
#include "phq.c"
#include "phq_nlu.c"
#include "phq_nlu_json.c"
#include "phq_nlu_open.c"
#include "phq_nlu_tagger.c"
#include "phq_nlu_tagger_open.c"

#include <stdlib.h>

static unsigned char sealed[1 << 20];
static volatile double dsink;

static void term_check(void *ctx, const unsigned char *term, size_t len, double tf)
{
    (void)ctx;
    if (!phq_utf8_valid(term, len)) abort();
    if (!(tf > 0)) abort(); /* counts are >= 1: tf is 1, count or 1 + ln(count) */
    dsink += tf;
}

static void feat_check(void *ctx, const unsigned char *f, size_t len)
{
    (void)ctx;
    if (len == 0 || !phq_utf8_valid(f, len)) abort();
    dsink += (double)len;
}

static void run_text(const phq_nlu *nlu, const unsigned char *text, size_t tlen)
{
    size_t need = phq_nlu_workspace_size(nlu, text, tlen), bound = phq_nlu_workspace_bound(nlu, tlen);
    uint32_t k = phq_nlu_output_count(nlu), K = phq_nlu_class_count(nlu), f, i;
    double *d1, *d2, *p, *val;
    uint32_t *idx;
    void *ws;
    phq_nlu_error err;
    int r;
    if (need > bound) abort();
    if (need == SIZE_MAX || need > (64u << 20)) return;
    ws = malloc(need);
    d1 = (double *)malloc(8 * (size_t)k + 8);
    d2 = (double *)malloc(8 * (size_t)k + 8);
    p = (double *)malloc(8 * (size_t)K + 8);
    val = (double *)malloc(8 * (size_t)K + 8);
    idx = (uint32_t *)malloc(4 * (size_t)K + 4);
    if (!ws || !d1 || !d2 || !p || !val || !idx) abort();
    r = phq_nlu_decision(nlu, text, tlen, ws, need, d1, &err);
    if (r == 0) {
        size_t n, j;
        if (tlen % 4 == 1 && nlu->profile != 3 && phq_nlu_decision(nlu, text, tlen, ws, need - 1, d2, &err) != PHQ_NLU_E_NOSPACE) abort();
        if (tlen % 4 == 0) { /* determinism, on a quarter of the inputs */
            if (phq_nlu_decision(nlu, text, tlen, ws, need, d2, &err) != 0) abort();
            if (memcmp(d1, d2, 8 * (size_t)k) != 0) abort();
        }
        dsink += (double)phq_nlu_argmax(nlu, d1);
        r = phq_nlu_proba(nlu, d1, p, &err);
        if ((r == 0) != (phq_nlu_proba_rule(nlu) != PHQ_NLU_PROBA_NONE)) abort();
        n = phq_nlu_top(nlu, d1, NULL, 3, idx, val);
        if (n != (K < 3 ? K : 3)) abort();
        for (j = 0; j < n; j++) {
            if (idx[j] >= K) abort();
            if (j && val[j - 1] < val[j]) abort();
        }
        if (n && !isnan(val[0]) && idx[0] != phq_nlu_argmax(nlu, d1) && val[0] != val[1]) abort();
    } else if (r != PHQ_NLU_E_INPUT && r >= 200) {
        abort(); /* a sufficient workspace never gives E_NOSPACE */
    }
    /* the terms of one featurizer per input (chosen by the text's length) */
    for (f = phq_nlu_featurizer_count(nlu) ? (uint32_t)(tlen % phq_nlu_featurizer_count(nlu)) : 0; f < phq_nlu_featurizer_count(nlu); f += 1000) {
        r = phq_nlu_terms(nlu, f, text, tlen, ws, need, term_check, NULL, &err); /* need covers every featurizer */
        if (r != 0 && r != PHQ_NLU_E_INPUT && r < 200) { /* reader errors of a corrupt table are fine */ }
        if (r == PHQ_NLU_E_NOSPACE) abort();
    }
    /* profile 3: the parse (intent + slots), its spans inside the decoded text, determinism */
    if (nlu->profile == 3) {
        phq_nlu_parse_result res, res2;
        size_t s, end = 0;
        r = phq_nlu_parse(nlu, text, tlen, ws, need, &res, &err);
        if (r == PHQ_NLU_E_NOSPACE) abort();
        if (r == 0) {
            if (res.has_intent != (K > 0) || (K && res.intent >= K)) abort();
            for (s = 0; s < res.n_slots; s++) {
                size_t ll;
                const char *lab = phq_nlu_label(nlu, res.slots[s].label, &ll);
                if (ll < 3 || (lab[0] != 'B' && lab[0] != 'I')) abort();
                if (res.slots[s].start < end || res.slots[s].end <= res.slots[s].start || res.slots[s].end > res.text_len) abort();
                end = res.slots[s].end;
            }
            for (s = 0; s < res.n_tokens; s++)
                if (res.path[s] >= phq_nlu_label_count(nlu)) abort();
            if (tlen % 4 == 2) {
                size_t n1 = res.n_slots, n0 = res.n_tokens;
                if (phq_nlu_parse(nlu, text, tlen, ws, need, &res2, &err) != 0 || res2.n_slots != n1 || res2.n_tokens != n0) abort();
            }
            if (phq_nlu_has_tagger(nlu) && res.n_tokens) {
                r = phq_nlu_features(nlu, text, tlen, tlen % res.n_tokens, ws, need, feat_check, NULL, &err);
                if (r != 0 && r >= 200) abort();
            }
        } else if (r != PHQ_NLU_E_INPUT && r >= 200) {
            abort();
        }
    } else if (phq_nlu_parse(nlu, text, tlen, ws, need, &(phq_nlu_parse_result){0}, &err) != PHQ_E_USAGE) {
        abort(); /* parse is the API of profile 3 models only */
    }
    for (i = 0; i < K; i++) {
        size_t len;
        const char *j = phq_nlu_class_json(nlu, i, &len);
        if (len == 0 || !phq_utf8_valid((const unsigned char *)j, len)) abort();
    }
    free(ws);
    free(d1);
    free(d2);
    free(p);
    free(val);
    free(idx);
}

static int run(const unsigned char *model, size_t mlen, const unsigned char *text, size_t tlen)
{
    phq_model m;
    phq_error e;
    phq_nlu *nlu;
    phq_nlu_error err;
    if (phq_open(model, mlen, &m, &e) != PHQ_OK) return -1;
    if (phq_nlu_open(&m, &nlu, &err) != 0) {
        if (err.code < 200 && err.code != PHQ_E_USAGE && err.code != PHQ_E_METADATA) abort();
        return 0;
    }
    if (phq_nlu_memory(nlu) == 0) abort();
    run_text(nlu, text, tlen);
    phq_nlu_close(nlu);
    return 0;
}

static uint32_t frd32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t frd64(const unsigned char *p) { return frd32(p) | (uint64_t)frd32(p + 4) << 32; }
static void fwr32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t mlen;
    if (size < 4) return 0;
    mlen = frd32(data);
    if (mlen > size - 4) mlen = size - 4;
    /* re-sealed only when the file as is fails phq_open: open checks the header and section-table
     * CRCs, not the sections' own, so a file that opens would run the same way twice */
    if (run(data + 4, mlen, data + 4 + mlen, size - 4 - mlen) != 0 && mlen >= 64 && mlen <= sizeof sealed) {
        uint64_t nsec, k;
        memcpy(sealed, data + 4, mlen);
        nsec = frd32(sealed + 48);
        if (64 + 32 * nsec <= mlen) {
            for (k = 0; k < nsec; k++) {
                unsigned char *ent = sealed + 64 + 32 * k;
                uint64_t off = frd64(ent + 8), sz = frd64(ent + 16);
                if (off <= mlen && sz <= mlen - off) fwr32(ent + 24, phq_crc32c(0, sealed + off, (size_t)sz));
            }
            fwr32(sealed + 52, phq_crc32c(0, sealed + 64, (size_t)(32 * nsec)));
        }
        fwr32(sealed + 60, phq_crc32c(0, sealed, 60));
        run(sealed, mlen, data + 4 + mlen, size - 4 - mlen);
    }
    return 0;
}
