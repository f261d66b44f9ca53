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
    seq = PySequence_Fast(docs, "docs must be a sequence");
    if (!seq) return NULL;
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_WRITABLE) < 0) {
        Py_DECREF(seq);
        return NULL;
    }
    n = PySequence_Fast_GET_SIZE(seq);
    if ((size_t)out.len < (size_t)n * self->k * sizeof(double)) {
        PyErr_SetString(PyExc_ValueError, "out is too small");
        goto done;
    }
    refs = PyMem_Calloc((size_t)(n ? n : 1), sizeof *refs);
    fallback = PyList_New(0);
    errors = PyList_New(0);
    if (!refs || !fallback || !errors) goto done;
    for (i = 0; i < n; i++) {
        PyObject *d = PySequence_Fast_GET_ITEM(seq, i);
        if (PyUnicode_Check(d)) {
            Py_ssize_t len;
            const char *s = PyUnicode_AsUTF8AndSize(d, &len);
            if (!s) { /* surrogates: the Python runtime scores it */
                PyErr_Clear();
                refs[i].skip = 1;
            } else {
                refs[i].text = s;
                refs[i].len = (size_t)len;
            }
        } else if (PyBytes_Check(d)) {
            refs[i].text = PyBytes_AS_STRING(d);
            refs[i].len = (size_t)PyBytes_GET_SIZE(d);
        } else {
            refs[i].skip = 1;
        }
    }
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
