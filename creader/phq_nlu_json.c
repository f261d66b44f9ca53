/*
 * phq_nlu_json.c - a small pull cursor over the metadata JSON for phq_nlu_open (spec
 * nlu-profile-v2 §2). It reads one value at a time, decodes strings (\uXXXX escapes and
 * surrogate pairs), hands number tokens back as text, and skips values iteratively (a bracket
 * counter, no recursion, so depth costs nothing). Every read is bounds-checked: a malformed or
 * truncated input gives -1, never a read past s + n. No allocation, no global state.
 */
#include "phq_nlu_internal.h"

static void nlu_json_ws(nlu_json *c)
{
    while (c->i < c->n) {
        unsigned char ch = c->s[c->i];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') break;
        c->i++;
    }
}

int nlu_json_type(nlu_json *c)
{
    nlu_json_ws(c);
    if (c->i >= c->n) return NLU_J_END;
    switch (c->s[c->i]) {
    case '"': return NLU_J_STRING;
    case '{': return NLU_J_OBJECT;
    case '[': return NLU_J_ARRAY;
    case 't': return NLU_J_TRUE;
    case 'f': return NLU_J_FALSE;
    case 'n': return NLU_J_NULL;
    default:
        if (c->s[c->i] == '-' || (c->s[c->i] >= '0' && c->s[c->i] <= '9')) return NLU_J_NUMBER;
        return NLU_J_BAD;
    }
}

static int nlu_hex4(const nlu_json *c, size_t at, uint32_t *v)
{
    size_t k;
    uint32_t r = 0;
    if (at > c->n || c->n - at < 4) return -1;
    for (k = 0; k < 4; k++) {
        unsigned char ch = c->s[at + k];
        uint32_t d;
        if (ch >= '0' && ch <= '9') d = (uint32_t)(ch - '0');
        else if (ch >= 'a' && ch <= 'f') d = (uint32_t)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F') d = (uint32_t)(ch - 'A' + 10);
        else return -1;
        r = r * 16 + d;
    }
    *v = r;
    return 0;
}

static size_t nlu_json_put_utf8(uint32_t cp, unsigned char *o)
{
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { o[0] = (unsigned char)(0xC0 | (cp >> 6)); o[1] = (unsigned char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The next code point of a string whose opening quote was consumed: 1 and *cp, 0 after the
 * closing quote, -1 on malformed input. A \u escape of a lone surrogate gives that surrogate. */
static int nlu_str_next(nlu_json *c, uint32_t *cp)
{
    unsigned char ch;
    if (c->i >= c->n) return -1;
    ch = c->s[c->i];
    if (ch == '"') { c->i++; return 0; }
    if (ch < 0x20) return -1;
    if (ch != '\\') { /* raw UTF-8 (the reader checked the metadata is strict UTF-8) */
        size_t k, m = ch < 0x80 ? 1 : ch < 0xE0 ? 2 : ch < 0xF0 ? 3 : 4;
        uint32_t v = m == 1 ? ch : m == 2 ? (ch & 0x1Fu) : m == 3 ? (ch & 0x0Fu) : (ch & 0x07u);
        if (ch >= 0x80 && ch < 0xC2) return -1;
        if (c->n - c->i < m) return -1;
        for (k = 1; k < m; k++) {
            unsigned char b = c->s[c->i + k];
            if ((b & 0xC0) != 0x80) return -1;
            v = (v << 6) | (b & 0x3Fu);
        }
        c->i += m;
        *cp = v;
        return 1;
    }
    if (c->i + 1 >= c->n) return -1;
    ch = c->s[c->i + 1];
    switch (ch) {
    case '"': *cp = '"'; break;
    case '\\': *cp = '\\'; break;
    case '/': *cp = '/'; break;
    case 'b': *cp = '\b'; break;
    case 'f': *cp = '\f'; break;
    case 'n': *cp = '\n'; break;
    case 'r': *cp = '\r'; break;
    case 't': *cp = '\t'; break;
    case 'u': {
        uint32_t v, lo;
        if (nlu_hex4(c, c->i + 2, &v) != 0) return -1;
        c->i += 6;
        if (v >= 0xD800 && v <= 0xDBFF && c->n - c->i >= 6 && c->s[c->i] == '\\' && c->s[c->i + 1] == 'u' &&
            nlu_hex4(c, c->i + 2, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
            v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
            c->i += 6;
        }
        *cp = v;
        return 1;
    }
    default: return -1;
    }
    c->i += 2;
    return 1;
}

int nlu_json_string_begin(nlu_json *c)
{
    if (nlu_json_type(c) != NLU_J_STRING) return -1;
    c->i++;
    return 0;
}

int nlu_json_string_next(nlu_json *c, uint32_t *cp) { return nlu_str_next(c, cp); }

size_t nlu_utf8_put(uint32_t cp, unsigned char *o) { return nlu_json_put_utf8(cp, o); }

int nlu_json_string(nlu_json *c, unsigned char *out, size_t cap, size_t *len, int *surrogate)
{
    size_t w = 0;
    int sur = 0, r;
    uint32_t cp;
    if (nlu_json_string_begin(c) != 0) return -1;
    while ((r = nlu_str_next(c, &cp)) == 1) {
        unsigned char tmp[4];
        size_t k, m = nlu_json_put_utf8(cp, tmp);
        if (cp >= 0xD800 && cp <= 0xDFFF) sur = 1;
        for (k = 0; k < m; k++, w++)
            if (w < cap) out[w] = tmp[k];
    }
    if (r < 0) return -1;
    if (len) *len = w;
    if (surrogate) *surrogate = sur;
    return 0;
}

static size_t nlu_digits(const nlu_json *c, size_t p)
{
    size_t q = p;
    while (q < c->n && c->s[q] >= '0' && c->s[q] <= '9') q++;
    return q - p;
}

int nlu_json_number(nlu_json *c, const unsigned char **tok, size_t *len, int *integer)
{
    size_t p, d;
    int integ = 1;
    nlu_json_ws(c);
    p = c->i;
    if (p < c->n && c->s[p] == '-') p++;
    d = nlu_digits(c, p);
    if (d == 0 || (d > 1 && c->s[p] == '0')) return -1;
    p += d;
    if (p < c->n && c->s[p] == '.') {
        d = nlu_digits(c, p + 1);
        if (d == 0) return -1;
        p += 1 + d;
        integ = 0;
    }
    if (p < c->n && (c->s[p] == 'e' || c->s[p] == 'E')) {
        p++;
        if (p < c->n && (c->s[p] == '+' || c->s[p] == '-')) p++;
        d = nlu_digits(c, p);
        if (d == 0) return -1;
        p += d;
        integ = 0;
    }
    *tok = c->s + c->i;
    *len = p - c->i;
    *integer = integ;
    c->i = p;
    return 0;
}

static int nlu_lit(nlu_json *c, const char *w, size_t n)
{
    size_t k;
    if (c->n - c->i < n) return -1;
    for (k = 0; k < n; k++)
        if (c->s[c->i + k] != (unsigned char)w[k]) return -1;
    c->i += n;
    return 0;
}

int nlu_json_literal(nlu_json *c)
{
    int t = nlu_json_type(c);
    if (t == NLU_J_TRUE) return nlu_lit(c, "true", 4) == 0 ? t : -1;
    if (t == NLU_J_FALSE) return nlu_lit(c, "false", 5) == 0 ? t : -1;
    if (t == NLU_J_NULL) return nlu_lit(c, "null", 4) == 0 ? t : -1;
    return -1;
}

int nlu_json_skip(nlu_json *c)
{
    size_t depth = 0;
    do {
        int t = nlu_json_type(c);
        const unsigned char *tok;
        size_t len;
        int integ;
        switch (t) {
        case NLU_J_STRING:
            if (nlu_json_string(c, NULL, 0, &len, NULL) != 0) return -1;
            break;
        case NLU_J_NUMBER:
            if (nlu_json_number(c, &tok, &len, &integ) != 0) return -1;
            break;
        case NLU_J_TRUE: case NLU_J_FALSE: case NLU_J_NULL:
            if (nlu_json_literal(c) < 0) return -1;
            break;
        case NLU_J_OBJECT: case NLU_J_ARRAY:
            c->i++;
            depth++;
            break;
        default: {
            unsigned char ch;
            if (c->i >= c->n || depth == 0) return -1;
            ch = c->s[c->i];
            if (ch == '}' || ch == ']') { c->i++; depth--; }
            else if (ch == ',' || ch == ':') c->i++;
            else return -1;
        }
        }
    } while (depth > 0);
    return 0;
}

static int nlu_sep(nlu_json *c, int *first, unsigned char close)
{
    nlu_json_ws(c);
    if (c->i >= c->n) return -1;
    if (c->s[c->i] == close) { c->i++; return 0; }
    if (!*first) {
        if (c->s[c->i] != ',') return -1;
        c->i++;
    }
    *first = 0;
    return 1;
}

int nlu_json_object_begin(nlu_json *c)
{
    if (nlu_json_type(c) != NLU_J_OBJECT) return -1;
    c->i++;
    return 0;
}

int nlu_json_array_begin(nlu_json *c)
{
    if (nlu_json_type(c) != NLU_J_ARRAY) return -1;
    c->i++;
    return 0;
}

int nlu_json_object_next(nlu_json *c, int *first, unsigned char *name, size_t cap, size_t *name_len)
{
    int r = nlu_sep(c, first, '}');
    if (r <= 0) return r;
    if (nlu_json_string(c, name, cap, name_len, NULL) != 0) return -1;
    nlu_json_ws(c);
    if (c->i >= c->n || c->s[c->i] != ':') return -1;
    c->i++;
    return 1;
}

int nlu_json_array_next(nlu_json *c, int *first) { return nlu_sep(c, first, ']'); }

uint32_t nlu_wtf8_next(const unsigned char *s, size_t n, size_t *i)
{
    size_t p = *i;
    uint32_t c0 = s[p];
    if (c0 < 0x80 || p + 1 >= n) { *i = p + 1; return c0; }
    if (c0 < 0xE0) { *i = p + 2; return ((c0 & 0x1F) << 6) | (s[p + 1] & 0x3Fu); }
    if (c0 < 0xF0 || p + 3 >= n) {
        if (p + 2 >= n) { *i = n; return 0xFFFD; }
        *i = p + 3;
        return ((c0 & 0x0F) << 12) | ((s[p + 1] & 0x3Fu) << 6) | (s[p + 2] & 0x3Fu);
    }
    *i = p + 4;
    return ((c0 & 0x07) << 18) | ((s[p + 1] & 0x3Fu) << 12) | ((s[p + 2] & 0x3Fu) << 6) | (s[p + 3] & 0x3Fu);
}
