/*
 * phq_nlu.h - the NLU runtime in C: featurize UTF-8 text, score and classify with a phq file of
 * the NLU profile, version 2 (spec/nlu-profile-v2.md; profile 1 files whose settings map to
 * profile 2, spec §12). C99, libc and libm only; built beside the reader (phq.h), whose checks
 * every model passes first.
 *
 * Memory
 *   - phq_nlu_open() allocates ONE arena (malloc once), sized from the model's metadata: the parsed
 *     profile, class labels, stop words, table handles, the intercept. phq_nlu_memory() tells its
 *     size. phq_nlu_close() frees it. Nothing else is allocated by the library, ever.
 *   - Each query works in a caller-supplied workspace. phq_nlu_workspace_size(nlu, text, len)
 *     returns the exact size a query on this text requires (computed from the text's length after
 *     decoding and preprocessing, one linear pass, no memory; ASCII text needs no pass);
 *     phq_nlu_workspace_bound(nlu, len) a size that suffices for ANY text of len bytes (linear in
 *     len; for sizing once, e.g. for the longest utterance a device accepts). A workspace may be
 *     reused for any number of queries and any alignment works. A query with a too-small
 *     workspace fails with PHQ_NLU_E_NOSPACE. Both return SIZE_MAX (no workspace suffices: the
 *     query gives E_NOSPACE) for a text over 1 GiB or one whose term count could pass 2^30. For a
 *     text that is ill-formed under decode_error "strict" the size is that of the text with
 *     U+FFFD replacements (the query then fails with E_INPUT). The size covers every featurizer,
 *     so it also serves phq_nlu_terms.
 *   - Cost of a query is linear in len for a fixed model (spec §13); no recursion on input.
 *
 * Thread safety: after phq_nlu_open returns, the phq_nlu is only read; queries on it may run
 * concurrently, each with its own workspace. The phq_model (and its buffer) must outlive it.
 *
 * Errors: functions return 0 (PHQ_NLU_OK) or a code. A code below 200 is the reader's phq_code
 * (a FormatError, or PHQ_E_USAGE); 200.. are this runtime's. A query can also return a reader code
 * found at lookup time (format 10.3: PHQ_E_RANK, PHQ_E_SPARSE of a corrupt table). phq_nlu_error_name() gives the spec's
 * name for every code ("E_NLU_SCHEMA", "E_INPUT", "E_CHECKSUM", ...).
 */
#ifndef PHQ_NLU_H
#define PHQ_NLU_H

#include <stddef.h>
#include <stdint.h>

#include "phq.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PHQ_NLU_PROFILE_MAX 2 /* the highest profile version this runtime reads */

enum {
    PHQ_NLU_OK = 0,
    /* ProfileError codes, spec §9 */
    PHQ_NLU_E_MISSING = 200,
    PHQ_NLU_E_VERSION = 201,
    PHQ_NLU_E_SCHEMA = 202,
    PHQ_NLU_E_REFERENCE = 203,
    PHQ_NLU_E_UNSUPPORTED = 204,
    /* usage errors */
    PHQ_NLU_E_INPUT = 210,   /* "E_INPUT": the text is ill-formed UTF-8 and decode_error is "strict" */
    PHQ_NLU_E_NOSPACE = 211, /* "E_NOSPACE": the workspace is smaller than phq_nlu_workspace_size() */
    PHQ_NLU_E_NOMEM = 212    /* "E_NOMEM": phq_nlu_open could not allocate its arena */
};

typedef struct phq_nlu_error {
    int code;      /* PHQ_NLU_OK when no error */
    char msg[200]; /* human-readable detail, NUL-terminated */
} phq_nlu_error;

/* The spec's name of a code: "E_NLU_MISSING" ... "E_INPUT", "E_NOSPACE", "E_NOMEM", or the
 * reader's phq_error_name() for codes below 200. Never NULL. */
const char *phq_nlu_error_name(int code);

typedef struct phq_nlu phq_nlu; /* opaque; one arena */

/* Probability rules, spec §8.5 */
enum { PHQ_NLU_PROBA_NONE = 0, PHQ_NLU_PROBA_LOGISTIC, PHQ_NLU_PROBA_SOFTMAX, PHQ_NLU_PROBA_MODIFIED_HUBER };

/* Check the profile completely (spec §9, in the table's order) and prepare the model. `m` must
 * have been opened by phq_open/phq_open_ex. On success *out is the model; on failure *out is NULL
 * and err (if non-NULL) says why. */
int phq_nlu_open(const phq_model *m, phq_nlu **out, phq_nlu_error *err);
void phq_nlu_close(phq_nlu *nlu); /* NULL is fine */

size_t phq_nlu_memory(const phq_nlu *nlu);      /* bytes of the arena */
uint32_t phq_nlu_class_count(const phq_nlu *nlu);  /* K */
uint32_t phq_nlu_output_count(const phq_nlu *nlu); /* k: 1 when K == 2, else K */
uint32_t phq_nlu_featurizer_count(const phq_nlu *nlu);
int phq_nlu_proba_rule(const phq_nlu *nlu);     /* PHQ_NLU_PROBA_* */
/* Class i's label as JSON text (a string with its quotes, a number, true or false), exactly as
 * the metadata wrote it after re-serialization: strings re-escaped (only '"', '\\' and control
 * characters escaped, other code points as UTF-8), numbers as written. Not NUL-terminated.
 * Escapes: \" \\ \b \f \n \r \t, other U+0000-001F as \u00xx (lowercase hex, as Python's
 * json.dumps), a lone surrogate of a \uD8xx escape as \udxxx (it has no UTF-8 form). An index
 * >= K gives "" and *len = 0. */
const char *phq_nlu_class_json(const phq_nlu *nlu, uint32_t i, size_t *len);

/* Workspace sizes (see top). */
size_t phq_nlu_workspace_size(const phq_nlu *nlu, const void *text, size_t len);
size_t phq_nlu_workspace_bound(const phq_nlu *nlu, size_t len);

/* Decision values of a text (len bytes, UTF-8, any bytes allowed: spec §4), spec §8.1-§8.3:
 * writes k doubles to `decision`. */
int phq_nlu_decision(const phq_nlu *nlu, const void *text, size_t len, void *ws, size_t ws_size,
                     double *decision, phq_nlu_error *err);

/* The predicted class index from k decision values (spec §8.3). */
uint32_t phq_nlu_argmax(const phq_nlu *nlu, const double *decision);

/* Probabilities of the K classes from k decision values (spec §8.5); PHQ_E_USAGE when the model
 * defines none. */
int phq_nlu_proba(const phq_nlu *nlu, const double *decision, double *proba, phq_nlu_error *err);

/* The n best classes (spec §8.4): writes min(n, K) class indices and their values (decision
 * values, or probabilities when `proba` is given: then values are proba[i]); returns how many.
 * The order is always by decision value (k = 1: -d and d), ties by class index; a NaN ranks
 * before any number, as in argmax (§8.3). O(K log n). */
size_t phq_nlu_top(const phq_nlu *nlu, const double *decision, const double *proba, size_t n,
                   uint32_t *index, double *value);

/* The distinct terms of featurizer f for a text (spec §7.1), in first-occurrence order, with their
 * tf: calls term(ctx, utf8, len, tf) once per distinct term. For conformance and debugging. */
typedef void (*phq_nlu_term_fn)(void *ctx, const unsigned char *term, size_t len, double tf);
int phq_nlu_terms(const phq_nlu *nlu, uint32_t f, const void *text, size_t len, void *ws, size_t ws_size,
                  phq_nlu_term_fn term, void *ctx, phq_nlu_error *err);

#ifdef __cplusplus
}
#endif
#endif
