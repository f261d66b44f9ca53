/*
 * phq_nlu_tagger_open.c - opening profile 3 (spec nlu-profile-v3 §2, §8): the outer "phq.nlu"
 * object, the tagger object (measuring pass: every type and range check and the arena size;
 * filling pass: the tagger in its arena region, distinct labels and templates), the tagger's
 * references (state table, transitions tensor copied as binary64, names shared with the
 * classifier). The classifier object is checked by phq_nlu_open.c as a profile 2 object.
 */
#include "phq_nlu_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int nlu3o_fail(phq_nlu_error *err, int code, const char *msg, const char *arg)
{
    if (err) {
        err->code = code;
        snprintf(err->msg, sizeof err->msg, msg, arg ? arg : "");
    }
    return code;
}

static nlu_json nlu3o_at(const unsigned char *meta, size_t n, size_t off)
{
    nlu_json c;
    c.s = meta;
    c.n = n;
    c.i = off;
    return c;
}

static int nlu3o_name_is(const unsigned char *name, size_t len, const char *want)
{
    size_t n = strlen(want);
    return len == n && memcmp(name, want, n) == 0;
}

/* a short string value: its index among choices, -1 another string, -2 not a string */
static int nlu3o_choice(nlu_json c, const char *const *choices, int count)
{
    unsigned char buf[32];
    size_t len;
    int i;
    if (nlu_json_type(&c) != NLU_J_STRING || nlu_json_string(&c, buf, sizeof buf, &len, NULL) != 0) return -2;
    if (len > sizeof buf) return -1;
    for (i = 0; i < count; i++)
        if (nlu3o_name_is(buf, len, choices[i])) return i;
    return -1;
}

int nlu3_outer(const unsigned char *meta, size_t meta_len, size_t obj, size_t *cls, size_t *tag, phq_nlu_error *err)
{
    static const char *const names[4] = {"profile", "unicode", "classifier", "tagger"};
    nlu_json c = nlu3o_at(meta, meta_len, obj);
    size_t at[4];
    unsigned char name[16];
    size_t nlen;
    int first = 1, r, i, seen = 0;
    nlu_json_object_begin(&c);
    while ((r = nlu_json_object_next(&c, &first, name, sizeof name, &nlen)) == 1) {
        int idx = -1;
        for (i = 0; i < 4; i++)
            if (nlen <= sizeof name && nlu3o_name_is(name, nlen, names[i])) idx = i;
        if (idx < 0) return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "\"phq.nlu\" (profile 3) has an unknown member%s", NULL);
        at[idx] = c.i;
        seen |= 1 << idx;
        if (nlu_json_skip(&c) != 0) { r = -1; break; }
    }
    if (r < 0) return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "malformed \"phq.nlu\" object%s", NULL);
    for (i = 0; i < 4; i++)
        if (!(seen & (1 << i))) return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "\"phq.nlu\" (profile 3) has no member \"%s\"", names[i]);
    {
        nlu_json u = nlu3o_at(meta, meta_len, at[1]);
        if (nlu_json_type(&u) != NLU_J_STRING) return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "\"unicode\" is not a string%s", NULL);
    }
    for (i = 2; i < 4; i++) {
        nlu_json v = nlu3o_at(meta, meta_len, at[i]);
        int ty = nlu_json_type(&v);
        size_t *dst = i == 2 ? cls : tag;
        if (ty == NLU_J_NULL) *dst = (size_t)-1;
        else if (ty == NLU_J_OBJECT) *dst = at[i];
        else return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "\"%s\" is not an object or null", names[i]);
    }
    if (*cls == (size_t)-1 && *tag == (size_t)-1)
        return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "\"classifier\" and \"tagger\" are both null%s", NULL);
    return 0;
}

static const char *const nlu3o_attr_names[NLU_A_COUNT] = {
    "w", "raw", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8",
    "shape", "sshape", "digit", "upper", "title"};

const char *nlu3_attr_name(int a) { return nlu3o_attr_names[a]; }

/* one template: 0 ok (kind, components stored in t at index k), -1 malformed */
static int nlu3o_template(nlu_json c, nlu_tagger *t, uint32_t k)
{
    static const char *const kinds[3] = {"bias", "bos", "eos"};
    int ty = nlu_json_type(&c), first = 1, r;
    uint32_t n = 0;
    if (ty == NLU_J_STRING) {
        int v = nlu3o_choice(c, kinds, 3);
        if (v < 0) return -1;
        t->tkind[k] = (uint8_t)(v + 1);
        t->ncomp[k] = 0;
        return 0;
    }
    if (ty != NLU_J_ARRAY || nlu_json_array_begin(&c) != 0) return -1;
    t->tkind[k] = NLU_TT_COMPS;
    while ((r = nlu_json_array_next(&c, &first)) == 1) {
        int f2 = 1, a, r2;
        const unsigned char *tok;
        size_t len, i;
        int integ;
        long v = 0;
        if (n >= 4 || nlu_json_array_begin(&c) != 0) return -1;
        if (nlu_json_array_next(&c, &f2) != 1) return -1;
        a = nlu3o_choice(c, nlu3o_attr_names, NLU_A_COUNT);
        if (a < 0 || nlu_json_skip(&c) != 0) return -1;
        if (nlu_json_array_next(&c, &f2) != 1) return -1;
        if (nlu_json_type(&c) != NLU_J_NUMBER || nlu_json_number(&c, &tok, &len, &integ) != 0 || !integ) return -1;
        if (len > 3) return -1; /* "-8".."8" (a JSON integer has no leading zeros) */
        for (i = tok[0] == '-'; i < len; i++) v = v * 10 + (tok[i] - '0');
        if (tok[0] == '-') v = -v;
        if (v < -8 || v > 8) return -1;
        r2 = nlu_json_array_next(&c, &f2);
        if (r2 != 0) return -1; /* exactly two elements */
        t->attr[k][n] = (uint8_t)a;
        t->off[k][n] = (int8_t)v;
        n++;
    }
    if (r < 0 || n == 0) return -1;
    t->ncomp[k] = (uint8_t)n;
    return 0;
}

/* a BIO label (§5) of bytes s[0..n) */
static int nlu3o_bio(const unsigned char *s, size_t n)
{
    if (n == 1 && s[0] == 'O') return 1;
    return n >= 3 && (s[0] == 'B' || s[0] == 'I') && s[1] == '-';
}

enum { TG_TOKENIZER, TG_DECODE, TG_TEMPLATES, TG_LABELS, TG_SCHEME, TG_STATE, TG_TRANS, TG_ESTIMATOR, TG_SOURCE, TG_COUNT };
static const char *const tg_names[TG_COUNT] = {"tokenizer", "decode_error", "templates", "labels", "scheme",
                                               "state_table", "transitions", "estimator", "source"};

static size_t nlu3o_align(size_t x) { return (x + 7) & ~(size_t)7; }

int nlu3_tagger(const phq_model *m, const unsigned char *meta, size_t meta_len, size_t tag, unsigned char *mem,
                size_t *size, nlu_tagger **out, phq_nlu_error *err)
{
    static const char *const tokenizers[2] = {"word_punct", "nonspace_runs"};
    static const char *const decodes[3] = {"strict", "ignore", "replace"};
    static const char *const schemes[1] = {"bio"};
    nlu_json c = nlu3o_at(meta, meta_len, tag);
    size_t at[TG_COUNT], nlen, used = 0, label_bytes = 0, sn_len = 0, tn_len = 0;
    unsigned char name[16];
    int first = 1, r, i, seen = 0, v;
    uint32_t L = 0, T = 0, a, b;
    nlu_tagger tmp, *t;
    unsigned char *lab = NULL;
    uint32_t *loff = NULL;
    (void)m;
    nlu_json_object_begin(&c);
    while ((r = nlu_json_object_next(&c, &first, name, sizeof name, &nlen)) == 1) {
        int idx = -1;
        for (i = 0; i < TG_COUNT; i++)
            if (nlen <= sizeof name && nlu3o_name_is(name, nlen, tg_names[i])) idx = i;
        if (idx < 0) return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "the tagger object has an unknown member%s", NULL);
        at[idx] = c.i;
        seen |= 1 << idx;
        if (nlu_json_skip(&c) != 0) { r = -1; break; }
    }
    if (r < 0) return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "malformed tagger object%s", NULL);
    for (i = 0; i < TG_COUNT; i++)
        if (!(seen & (1 << i))) return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "the tagger object has no member \"%s\"", tg_names[i]);
    /* the tagger struct: in the region when filling, on the stack when measuring */
    t = mem ? (nlu_tagger *)mem : &tmp;
    memset(t, 0, sizeof *t);
    used = nlu3o_align(sizeof *t);
    v = nlu3o_choice(nlu3o_at(meta, meta_len, at[TG_TOKENIZER]), tokenizers, 2);
    if (v < 0) return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "the tagger's \"tokenizer\" is not \"word_punct\" or \"nonspace_runs\"%s", NULL);
    t->tokenizer = (uint8_t)v;
    v = nlu3o_choice(nlu3o_at(meta, meta_len, at[TG_DECODE]), decodes, 3);
    if (v < 0) return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "the tagger's \"decode_error\" is not \"strict\", \"ignore\" or \"replace\"%s", NULL);
    t->decode = (uint8_t)v;
    /* templates */
    c = nlu3o_at(meta, meta_len, at[TG_TEMPLATES]);
    first = 1;
    if (nlu_json_array_begin(&c) != 0) return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "\"templates\" is not an array%s", NULL);
    while ((r = nlu_json_array_next(&c, &first)) == 1) {
        if (T >= NLU_MAX_TEMPLATES) return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "\"templates\" holds more than 256 templates%s", NULL);
        if (nlu3o_template(c, t, T) != 0)
            return nlu3o_fail(err, PHQ_NLU_E_SCHEMA,
                          "a template is not \"bias\", \"bos\", \"eos\" or 1..4 pairs [attribute, offset in -8..8] (spec 4.2)%s", NULL);
        T++;
        if (nlu_json_skip(&c) != 0) { r = -1; break; }
    }
    if (r < 0) return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "malformed \"templates\"%s", NULL);
    if (T == 0) return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "\"templates\" is empty%s", NULL);
    t->ntemplates = T;
    for (a = 0; a < T; a++)
        for (b = a + 1; b < T; b++)
            if (t->tkind[a] == t->tkind[b] && t->ncomp[a] == t->ncomp[b] &&
                memcmp(t->attr[a], t->attr[b], t->ncomp[a]) == 0 && memcmp(t->off[a], t->off[b], t->ncomp[a]) == 0)
                return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "a template is repeated in \"templates\"%s", NULL);
    /* labels: count and bytes (measuring), stored (filling) */
    c = nlu3o_at(meta, meta_len, at[TG_LABELS]);
    first = 1;
    if (nlu_json_array_begin(&c) != 0) return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "\"labels\" is not an array%s", NULL);
    if (mem) {
        /* the measuring pass stored L and the label bytes in *size's companions: recompute below */
    }
    while ((r = nlu_json_array_next(&c, &first)) == 1) {
        size_t len;
        if (L >= NLU_MAX_TLABELS) return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "\"labels\" holds more than 1024 labels%s", NULL);
        if (nlu_json_type(&c) != NLU_J_STRING || nlu_json_string(&c, NULL, 0, &len, NULL) != 0)
            return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "a label is not a string%s", NULL);
        label_bytes += len;
        L++;
    }
    if (r < 0) return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "malformed \"labels\"%s", NULL);
    if (L == 0) return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "\"labels\" is empty%s", NULL);
    t->L = L;
    if (nlu3o_choice(nlu3o_at(meta, meta_len, at[TG_SCHEME]), schemes, 1) != 0)
        return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "\"scheme\" is not \"bio\"%s", NULL);
    {
        nlu_json s1 = nlu3o_at(meta, meta_len, at[TG_STATE]), s2 = nlu3o_at(meta, meta_len, at[TG_TRANS]);
        if (nlu_json_type(&s1) != NLU_J_STRING || nlu_json_string(&s1, NULL, 0, &sn_len, NULL) != 0)
            return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "\"state_table\" is not a string%s", NULL);
        if (nlu_json_type(&s2) != NLU_J_STRING || nlu_json_string(&s2, NULL, 0, &tn_len, NULL) != 0)
            return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "\"transitions\" is not a string%s", NULL);
    }
    {
        nlu_json e = nlu3o_at(meta, meta_len, at[TG_ESTIMATOR]), s = nlu3o_at(meta, meta_len, at[TG_SOURCE]);
        if (nlu_json_type(&e) != NLU_J_STRING) return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "the tagger's \"estimator\" is not a string%s", NULL);
        if (nlu_json_type(&s) != NLU_J_OBJECT) return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "the tagger's \"source\" is not an object%s", NULL);
    }
    /* regions: label offsets, label bytes, names, transitions (L*L binary64), part_info of the table */
    {
        size_t o_loff = used, o_lab, o_sn, o_tn, o_tr, o_pi, parts = 0;
        phq_table st;
        unsigned char nb[512];
        size_t nbl;
        nlu_json s1 = nlu3o_at(meta, meta_len, at[TG_STATE]);
        if (nlu_json_string(&s1, nb, sizeof nb, &nbl, NULL) == 0 && nbl <= sizeof nb && phq_find_table(m, nb, nbl, &st) &&
            st.num_partitions > 1)
            parts = st.num_partitions;
        used = nlu3o_align(o_loff + ((size_t)L + 1) * 4);
        o_lab = used;
        used = nlu3o_align(o_lab + label_bytes);
        o_sn = used;
        used = nlu3o_align(o_sn + sn_len);
        o_tn = used;
        used = nlu3o_align(o_tn + tn_len);
        o_tr = used;
        used = nlu3o_align(o_tr + (size_t)L * L * 8);
        o_pi = used;
        used = nlu3o_align(o_pi + parts * sizeof(phq_part_info));
        if (!mem) {
            *size = used;
            return 0;
        }
        if (used > *size) return nlu3o_fail(err, PHQ_E_USAGE, "internal: tagger region%s", NULL);
        loff = (uint32_t *)(mem + o_loff);
        lab = mem + o_lab;
        t->label_off = loff;
        t->labels = lab;
        t->trans = (const double *)(mem + o_tr);
        s1 = nlu3o_at(meta, meta_len, at[TG_STATE]);
        nlu_json_string(&s1, mem + o_sn, sn_len, &nbl, NULL);
        s1 = nlu3o_at(meta, meta_len, at[TG_TRANS]);
        nlu_json_string(&s1, mem + o_tn, tn_len, &nbl, NULL);
        /* names as pointers-by-offset from the tagger (the struct is at mem) */
        t->state_name_off = o_sn;
        t->state_name_len = sn_len;
        t->trans_name_off = o_tn;
        t->trans_name_len = tn_len;
        {
            /* part_info region recorded in label_off's tail is not needed: kept at o_pi */
            t->state.num_partitions = 0;
        }
        /* store labels */
        c = nlu3o_at(meta, meta_len, at[TG_LABELS]);
        first = 1;
        nlu_json_array_begin(&c);
        {
            size_t total = 0;
            uint32_t j = 0;
            while (nlu_json_array_next(&c, &first) == 1) {
                size_t len;
                nlu_json_string(&c, lab + total, label_bytes - total, &len, NULL);
                loff[j++] = (uint32_t)total;
                total += len;
            }
            loff[j] = (uint32_t)total;
        }
        for (a = 0; a < L; a++) {
            const unsigned char *la = lab + loff[a];
            size_t na = loff[a + 1] - loff[a];
            if (!nlu3o_bio(la, na)) return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "a label is not \"O\", \"B-\" or \"I-\" with a slot name (spec 5)%s", NULL);
            for (b = a + 1; b < L; b++)
                if (loff[b + 1] - loff[b] == na && memcmp(lab + loff[b], la, na) == 0)
                    return nlu3o_fail(err, PHQ_NLU_E_SCHEMA, "a label is repeated in \"labels\"%s", NULL);
        }
        /* remember where the part_info region is: after the transitions */
        t->state.num_partitions = 0;
        *out = t;
        /* the region offset of part_info is recomputed by nlu3_tagger_refs from L and the names */
        (void)o_pi;
    }
    return 0;
}

int nlu3_tagger_refs(phq_nlu *nlu, nlu_tagger *t, phq_nlu_error *err)
{
    const unsigned char *base = (const unsigned char *)t;
    const unsigned char *sn = base + t->state_name_off, *tn = base + t->trans_name_off;
    phq_tensor tr;
    uint32_t L = t->L;
    size_t i, n;
    if (!phq_find_table(nlu->model, sn, t->state_name_len, &t->state))
        return nlu3o_fail(err, PHQ_NLU_E_REFERENCE, "the state table named by \"state_table\" is missing%s", NULL);
    if (t->state.dim != L)
        return nlu3o_fail(err, PHQ_NLU_E_REFERENCE, "the state table's dim is not the number of labels%s", NULL);
    if (!phq_find_tensor(nlu->model, tn, t->trans_name_len, &tr))
        return nlu3o_fail(err, PHQ_NLU_E_REFERENCE, "the transitions tensor named by \"transitions\" is missing%s", NULL);
    if ((tr.dtype != PHQ_DT_F32 && tr.dtype != PHQ_DT_F64) || tr.ndim != 2 || tr.shape[0] != L || tr.shape[1] != L)
        return nlu3o_fail(err, PHQ_NLU_E_REFERENCE, "the transitions tensor is not f32 or f64 of shape (L, L)%s", NULL);
    n = (size_t)L * L;
    for (i = 0; i < n; i++) {
        double x;
        if (tr.dtype == PHQ_DT_F32) {
            const unsigned char *p = tr.data + i * 4;
            uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            float f;
            memcpy(&f, &bits, 4);
            x = (double)f;
        } else {
            const unsigned char *p = tr.data + i * 8;
            uint64_t bits = 0;
            int k;
            for (k = 7; k >= 0; k--) bits = bits << 8 | p[k];
            memcpy(&x, &bits, 8);
        }
        if (!isfinite(x)) return nlu3o_fail(err, PHQ_NLU_E_REFERENCE, "the transitions tensor holds a non-finite value%s", NULL);
        ((double *)t->trans)[i] = x; /* row-major as the tensor: trans[a * L + j] = T[a][j] */
    }
    if (t->state.num_partitions > 1) {
        size_t o_pi = (size_t)(((const unsigned char *)t->trans - base) + nlu3o_align(n * 8));
        phq_part_info *pi = (phq_part_info *)(base + o_pi);
        if (phq_table_set_index(&t->state, pi, t->state.num_partitions) != PHQ_OK)
            return nlu3o_fail(err, PHQ_E_USAGE, "internal: table index%s", NULL);
    }
    return 0;
}
