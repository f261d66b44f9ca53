/*
 * phq._accel_nlu - the C NLU runtime (creader/phq_nlu.c) bound for phq.nlu.
 *
 *   Model(buffer)              phq_open + phq_nlu_open over the bytes the Python reader mapped
 *                              (the Py_buffer is held for the object's lifetime); a profile the C
 *                              runtime refuses raises phq.ProfileError with its code
 *   decision(docs, out)        docs: list of str / bytes; out: writable float64 buffer of
 *                              len(docs) * k. Returns (fallback, errors): the indices of documents
 *                              the C runtime was not given (a str holding surrogates, another
 *                              type: phq.nlu scores those in Python, the reference) and a list of
 *                              (index, code, message) input errors (ill-formed UTF-8, strict).
 *   tag(docs, slots)           profile 3 models with a tagger: phq_nlu_tag on each document (the GIL
 *                              released around all of them). Returns a list with, per document:
 *                              None (not given to the C runtime, as in decision: phq.nlu tags it in
 *                              Python), an (error name, message) pair of str (an input error), or a
 *                              tuple of (start, end, label index) triples: the tokens and their labels
 *                              (slots false) or the spans of spec v3 §7.1 (slots true; the label is the
 *                              one that began the span). Offsets are code points of the decoded text.
 *   memory                     bytes of the runtime's arena
 *
 * The C reader and the NLU runtime are compiled beside this file (setup.py lists their sources;
 * -fvisibility=hidden keeps their symbols inside the module). The GIL is released while the
 * runtime scores (the documents stay referenced by the caller's list). No
 * numpy C API: the output array comes from Python.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>

#include "phq.h"
#include "phq_nlu.h"

typedef struct {
    PyObject_HEAD
    Py_buffer view;
    int has_view;
    phq_model model;
    phq_nlu *nlu;
    uint32_t k;
} ModelObject;

static PyObject *error_class(const char *name)
{
    PyObject *mod = PyImport_ImportModule("phq.errors"), *cls;
    if (!mod) return NULL;
    cls = PyObject_GetAttrString(mod, name);
    Py_DECREF(mod);
    return cls;
}

static void raise_nlu(int code, const char *msg)
{
    const char *name = phq_nlu_error_name(code);
    PyObject *cls = NULL, *exc = NULL;
    if (code >= PHQ_NLU_E_MISSING && code <= PHQ_NLU_E_UNSUPPORTED) {
        cls = error_class("ProfileError");
        if (cls) exc = PyObject_CallFunction(cls, "ss", name, msg);
    } else if (code > 0 && code < PHQ_E_USAGE) {
        cls = error_class("FormatError");
        if (cls) exc = PyObject_CallFunction(cls, "ss", name, msg);
    } else {
        cls = error_class("UsageError");
        if (cls) exc = PyObject_CallFunction(cls, "s", msg);
    }
    if (exc) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    Py_XDECREF(cls);
}

static void Model_dealloc(ModelObject *self)
{
    phq_nlu_close(self->nlu);
    if (self->has_view) PyBuffer_Release(&self->view);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Model_init(ModelObject *self, PyObject *args, PyObject *kwds)
{
    PyObject *buf;
    phq_error err;
    phq_nlu_error nerr;
    int rc;
    static char *kwlist[] = {"buffer", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Model", kwlist, &buf)) return -1;
    if (self->has_view) {
        PyErr_SetString(PyExc_RuntimeError, "Model is already initialized");
        return -1;
    }
    if (PyObject_GetBuffer(buf, &self->view, PyBUF_SIMPLE) < 0) return -1;
    self->has_view = 1;
    Py_BEGIN_ALLOW_THREADS
    rc = phq_open(self->view.buf, (size_t)self->view.len, &self->model, &err);
    Py_END_ALLOW_THREADS
    if (rc != PHQ_OK) {
        raise_nlu(err.code, err.msg);
        return -1;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = phq_nlu_open(&self->model, &self->nlu, &nerr);
    Py_END_ALLOW_THREADS
    if (rc != PHQ_NLU_OK) {
        raise_nlu(nerr.code, nerr.msg);
        return -1;
    }
    self->k = phq_nlu_output_count(self->nlu);
    return 0;
}

typedef struct {
    const char *text;
    size_t len;
    int rc;            /* phq_nlu_decision's result */
    int skip;          /* not given to the C runtime */
    char msg[120];
} doc_ref;

/* A document's UTF-8 bytes: a str's cached UTF-8 form or a bytes object's contents; 0 for a str
 * with surrogates (no UTF-8 form) or another type, which the Python runtime then handles. */
static int doc_utf8(PyObject *d, const char **text, size_t *len)
{
    if (PyUnicode_Check(d)) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(d, &n);
        if (!s) {
            PyErr_Clear();
            return 0;
        }
        *text = s;
        *len = (size_t)n;
        return 1;
    }
    if (PyBytes_Check(d)) {
        *text = PyBytes_AS_STRING(d);
        *len = (size_t)PyBytes_GET_SIZE(d);
        return 1;
    }
    return 0;
}

static PyObject *Model_decision(ModelObject *self, PyObject *args)
{
    PyObject *docs, *out_obj, *seq = NULL, *fallback = NULL, *errors = NULL, *result = NULL;
    Py_buffer out;
    Py_ssize_t n, i;
    doc_ref *refs = NULL;
    void *ws = NULL;
    size_t ws_size = 0;
    if (!self->nlu) {
        PyErr_SetString(PyExc_RuntimeError, "Model is not initialized");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "OO:decision", &docs, &out_obj)) return NULL;
    /* a tuple of its own (not the caller's list, which PySequence_Fast would return): it holds a
     * reference to every text while the GIL is released, whatever another thread does to the list */
    seq = PySequence_Tuple(docs);
    if (!seq) return NULL;
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_WRITABLE) < 0) {
        Py_DECREF(seq);
        return NULL;
    }
    n = PyTuple_GET_SIZE(seq);
    if ((size_t)out.len < (size_t)n * self->k * sizeof(double)) {
        PyErr_SetString(PyExc_ValueError, "out is too small");
        goto done;
    }
    refs = PyMem_Calloc((size_t)(n ? n : 1), sizeof *refs);
    fallback = PyList_New(0);
    errors = PyList_New(0);
    if (!refs || !fallback || !errors) goto done;
    for (i = 0; i < n; i++)
        refs[i].skip = !doc_utf8(PyTuple_GET_ITEM(seq, i), &refs[i].text, &refs[i].len);
    {
        double *dec = out.buf;
        int nomem = 0;
        Py_BEGIN_ALLOW_THREADS
        size_t maxlen = 0;
        for (i = 0; i < n; i++)
            if (!refs[i].skip && refs[i].len > maxlen) maxlen = refs[i].len;
        if (maxlen <= 4096) { /* short texts: the bound for the longest, without a pass over the texts */
            ws_size = phq_nlu_workspace_bound(self->nlu, maxlen);
        } else { /* a long text: the exact need of each, so one long text does not inflate the rest */
            for (i = 0; i < n; i++) {
                size_t need;
                if (refs[i].skip) continue;
                need = phq_nlu_workspace_size(self->nlu, refs[i].text, refs[i].len);
                if (need > ws_size) ws_size = need;
            }
        }
        ws = malloc(ws_size ? ws_size : 1);
        if (!ws) nomem = 1;
        for (i = 0; i < n && !nomem; i++) {
            phq_nlu_error e;
            if (refs[i].skip) continue;
            refs[i].rc = phq_nlu_decision(self->nlu, refs[i].text, refs[i].len, ws, ws_size, dec + (size_t)i * self->k, &e);
            if (refs[i].rc != PHQ_NLU_OK) snprintf(refs[i].msg, sizeof refs[i].msg, "%s", e.msg);
        }
        Py_END_ALLOW_THREADS
        if (nomem) {
            PyErr_NoMemory();
            goto done;
        }
    }
    for (i = 0; i < n; i++) {
        PyObject *item;
        if (refs[i].skip) {
            item = PyLong_FromSsize_t(i);
            if (!item || PyList_Append(fallback, item) < 0) {
                Py_XDECREF(item);
                goto done;
            }
            Py_DECREF(item);
        } else if (refs[i].rc != PHQ_NLU_OK) {
            item = Py_BuildValue("nss", i, phq_nlu_error_name(refs[i].rc), refs[i].msg);
            if (!item || PyList_Append(errors, item) < 0) {
                Py_XDECREF(item);
                goto done;
            }
            Py_DECREF(item);
        }
    }
    result = PyTuple_Pack(2, fallback, errors);
done:
    free(ws);
    PyMem_Free(refs);
    Py_XDECREF(fallback);
    Py_XDECREF(errors);
    PyBuffer_Release(&out);
    Py_DECREF(seq);
    return result;
}

typedef struct {
    const char *text;
    size_t len;
    int rc;            /* phq_nlu_tag's result */
    int skip;          /* not given to the C runtime */
    size_t first, n;   /* its triples: out[first .. first + n) */
    char msg[120];
} tag_ref;

static PyObject *Model_tag(ModelObject *self, PyObject *args)
{
    PyObject *docs, *seq = NULL, *result = NULL;
    int want_slots = 0;
    Py_ssize_t n, i;
    tag_ref *refs = NULL;
    void *ws = NULL;
    size_t ws_size = 0, used = 0, cap = 0;
    uint32_t *trip = NULL;
    int nomem = 0;
    if (!self->nlu) {
        PyErr_SetString(PyExc_RuntimeError, "Model is not initialized");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "Op:tag", &docs, &want_slots)) return NULL;
    if (!phq_nlu_has_tagger(self->nlu)) {
        PyErr_SetString(PyExc_ValueError, "the model has no tagger");
        return NULL;
    }
    seq = PySequence_Tuple(docs); /* a tuple of its own: no other thread can drop a document meanwhile */
    if (!seq) return NULL;
    n = PyTuple_GET_SIZE(seq);
    refs = PyMem_Calloc((size_t)(n ? n : 1), sizeof *refs);
    if (!refs) {
        PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < n; i++)
        refs[i].skip = !doc_utf8(PyTuple_GET_ITEM(seq, i), &refs[i].text, &refs[i].len);
    /* the documents stay referenced by seq, their UTF-8 forms cached in the str objects, bytes are
     * immutable: the C runtime reads them without the GIL */
    Py_BEGIN_ALLOW_THREADS
    for (i = 0; i < n; i++) {
        size_t need;
        if (refs[i].skip) continue;
        need = phq_nlu_workspace_size(self->nlu, refs[i].text, refs[i].len);
        if (need == SIZE_MAX) { /* no workspace suffices (over 1 GiB): the Python runtime answers it */
            refs[i].skip = 1;
            continue;
        }
        if (need > ws_size) ws_size = need;
    }
    ws = malloc(ws_size ? ws_size : 1);
    if (!ws) nomem = 1;
    for (i = 0; i < n && !nomem; i++) {
        phq_nlu_error e;
        phq_nlu_parse_result r;
        size_t k, m;
        if (refs[i].skip) continue;
        refs[i].rc = phq_nlu_tag(self->nlu, refs[i].text, refs[i].len, ws, ws_size, &r, &e);
        if (refs[i].rc != PHQ_NLU_OK) {
            snprintf(refs[i].msg, sizeof refs[i].msg, "%s", e.msg);
            continue;
        }
        m = want_slots ? r.n_slots : r.n_tokens;
        if (used + m > cap) {
            size_t ncap = cap ? cap : 256;
            uint32_t *nt;
            while (ncap < used + m) ncap *= 2;
            nt = realloc(trip, ncap * 3 * sizeof *trip);
            if (!nt) {
                nomem = 1;
                break;
            }
            trip = nt;
            cap = ncap;
        }
        refs[i].first = used;
        refs[i].n = m;
        for (k = 0; k < m; k++) {
            uint32_t *o = trip + 3 * (used + k);
            if (want_slots) {
                o[0] = r.slots[k].start;
                o[1] = r.slots[k].end;
                o[2] = r.slots[k].label;
            } else {
                o[0] = r.tokens[k].start;
                o[1] = r.tokens[k].end;
                o[2] = r.path[k];
            }
        }
        used += m;
    }
    Py_END_ALLOW_THREADS
    if (nomem) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyList_New(n);
    if (!result) goto done;
    for (i = 0; i < n; i++) {
        PyObject *item;
        if (refs[i].skip) {
            item = Py_None;
            Py_INCREF(item);
        } else if (refs[i].rc != PHQ_NLU_OK) {
            item = Py_BuildValue("ss", phq_nlu_error_name(refs[i].rc), refs[i].msg);
        } else {
            size_t k;
            item = PyTuple_New((Py_ssize_t)refs[i].n);
            for (k = 0; item && k < refs[i].n; k++) {
                const uint32_t *o = trip + 3 * (refs[i].first + k);
                PyObject *t = Py_BuildValue("(kkk)", (unsigned long)o[0], (unsigned long)o[1], (unsigned long)o[2]);
                if (!t) {
                    Py_CLEAR(item);
                    break;
                }
                PyTuple_SET_ITEM(item, (Py_ssize_t)k, t);
            }
        }
        if (!item) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, i, item);
    }
done:
    free(ws);
    free(trip);
    PyMem_Free(refs);
    Py_DECREF(seq);
    return result;
}

static PyObject *Model_memory(ModelObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSize_t(self->nlu ? phq_nlu_memory(self->nlu) : 0);
}

static PyObject *Model_outputs(ModelObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLong(self->k);
}

static PyMethodDef Model_methods[] = {
    {"decision", (PyCFunction)Model_decision, METH_VARARGS, "decision(docs, out) -> (fallback indices, input errors)"},
    {"tag", (PyCFunction)Model_tag, METH_VARARGS, "tag(docs, slots) -> per document None, (error, message) or ((start, end, label), ...)"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Model_getset[] = {
    {"memory", (getter)Model_memory, NULL, "bytes of the runtime's arena", NULL},
    {"outputs", (getter)Model_outputs, NULL, "k, the number of decision values", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "phq._accel_nlu.Model",
    .tp_basicsize = sizeof(ModelObject),
    .tp_dealloc = (destructor)Model_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The C NLU runtime over a mapped phq file.",
    .tp_methods = Model_methods,
    .tp_getset = Model_getset,
    .tp_init = (initproc)Model_init,
    .tp_new = PyType_GenericNew,
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "phq._accel_nlu", "The C NLU runtime (creader/phq_nlu.c) for phq.nlu.", -1, NULL,
};

PyMODINIT_FUNC PyInit__accel_nlu(void)
{
    PyObject *m;
    if (PyType_Ready(&ModelType) < 0) return NULL;
    m = PyModule_Create(&moduledef);
    if (!m) return NULL;
    Py_INCREF(&ModelType);
    if (PyModule_AddObject(m, "Model", (PyObject *)&ModelType) < 0) {
        Py_DECREF(&ModelType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
