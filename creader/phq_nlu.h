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
 *   - Stack: a query looks its terms' keys up in batches of 32 (the reader's batched lookups, about
 *     24 KiB of stack with the default PHQ_GROUP, plus 1.5 KiB here); no other stack grows with input.
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

#define PHQ_NLU_PROFILE_MAX 3 /* the highest profile version this runtime reads */

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
/* PHQ_NLU_PROBA_CALIBRATED: a calibrated classifier (spec §2.4, §8.5.1); its k = K decision values
 * are the averaged calibrated probabilities, and phq_nlu_proba copies them. */
enum { PHQ_NLU_PROBA_NONE = 0, PHQ_NLU_PROBA_LOGISTIC, PHQ_NLU_PROBA_SOFTMAX, PHQ_NLU_PROBA_MODIFIED_HUBER,
       PHQ_NLU_PROBA_CALIBRATED };

/* Check the profile completely (spec §9, in the table's order) and prepare the model. `m` must
 * have been opened by phq_open/phq_open_ex. On success *out is the model; on failure *out is NULL
 * and err (if non-NULL) says why. */
int phq_nlu_open(const phq_model *m, phq_nlu **out, phq_nlu_error *err);
void phq_nlu_close(phq_nlu *nlu); /* NULL is fine */

size_t phq_nlu_memory(const phq_nlu *nlu);      /* bytes of the arena */
uint32_t phq_nlu_class_count(const phq_nlu *nlu);  /* K */
uint32_t phq_nlu_output_count(const phq_nlu *nlu); /* k: 1 when K == 2, else K (K for a calibrated model) */
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
 * writes k doubles to `decision` (a calibrated model, §8.5.1: its K averaged probabilities; the
 * fold scores stay in the workspace). */
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

/* ---- profile 3 (spec/nlu-profile-v3.md): sequence taggers and joint intent + slots models ----
 * A profile 3 model has a classifier (the functions above; K = 0 without one: phq_nlu_decision
 * then answers PHQ_E_USAGE), a tagger, or both. The workspace functions above cover phq_nlu_parse,
 * phq_nlu_tokens and phq_nlu_features too (for the tagger part the size follows the decoded
 * length N: O(N x L) bytes, the Viterbi back-pointers as 16-bit integers, spec §11). */

typedef struct phq_nlu_token {
    uint32_t start, end; /* code-point offsets into the decoded text, end exclusive (§3) */
} phq_nlu_token;

typedef struct phq_nlu_slot {
    uint32_t label;      /* the label that began the span (B-x, or I-x continuing nothing); slot x */
    uint32_t start, end; /* code-point offsets (§7.1) */
} phq_nlu_slot;

/* The parse of an utterance (§7.2). Every pointer points into the workspace of the call and is
 * valid until the workspace is reused. */
typedef struct phq_nlu_parse_result {
    int has_intent;               /* 0 when the model has no classifier (intent null) */
    uint32_t intent;              /* the predicted class (phq_nlu_class_json) */
    double score;                 /* its probability, or its decision value (§7.2) */
    const uint32_t *text;         /* the decoded code points D[0..text_len) (§3) */
    size_t text_len;
    size_t n_tokens;
    const phq_nlu_token *tokens;  /* n_tokens (start, end) pairs */
    const uint16_t *path;         /* label index per token (n_tokens; NULL from phq_nlu_tokens) */
    size_t n_slots;
    const phq_nlu_slot *slots;
} phq_nlu_parse_result;

int phq_nlu_has_tagger(const phq_nlu *nlu);
uint32_t phq_nlu_label_count(const phq_nlu *nlu); /* L of the tagger, 0 without one */
/* Label j of the tagger as UTF-8 ("O", "B-x", "I-x"); the slot name of a B-/I- label is label + 2.
 * An index >= L gives "" and *len = 0. */
const char *phq_nlu_label(const phq_nlu *nlu, uint32_t j, size_t *len);

/* Parse a text (len bytes) with a profile 3 model (a profile 1/2 model gives PHQ_E_USAGE: use
 * phq_nlu_decision): the intent (classifier, v2 §8) and the slots (tagger, v3 §3-§7). O(len
 * + tokens x (templates + L^2)). Input errors: PHQ_NLU_E_INPUT (ill-formed UTF-8 under "strict"),
 * PHQ_NLU_E_NOSPACE. */
int phq_nlu_parse(const phq_nlu *nlu, const void *text, size_t len, void *ws, size_t ws_size,
                  phq_nlu_parse_result *result, phq_nlu_error *err);

/* The tagger's part of phq_nlu_parse alone (tokens, path, slots; has_intent = 0, no classifier
 * work even in a joint model). PHQ_E_USAGE without a tagger. */
int phq_nlu_tag(const phq_nlu *nlu, const void *text, size_t len, void *ws, size_t ws_size,
                phq_nlu_parse_result *result, phq_nlu_error *err);

/* Only the decoded text and its tokens (result->text, text_len, n_tokens, tokens; nothing else is
 * set). PHQ_E_USAGE without a tagger. */
int phq_nlu_tokens(const phq_nlu *nlu, const void *text, size_t len, void *ws, size_t ws_size,
                   phq_nlu_parse_result *result, phq_nlu_error *err);

/* The feature list of token i (§4.3), in order: calls feature(ctx, utf8, len) once per string.
 * PHQ_E_USAGE when there is no tagger or no token i. */
typedef void (*phq_nlu_feature_fn)(void *ctx, const unsigned char *feature, size_t len);
int phq_nlu_features(const phq_nlu *nlu, const void *text, size_t len, size_t i, void *ws, size_t ws_size,
                     phq_nlu_feature_fn feature, void *ctx, phq_nlu_error *err);

#ifdef __cplusplus
}
#endif
#endif
