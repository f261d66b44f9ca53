/*
 * phq._accel - optional compiled lookups for the Python reader, over the C reader.
 *
 * A thin CPython binding of creader/phq.c (compiled into this module, see the #include
 * below; no second implementation of the format): `Model(buffer)` runs phq_open over the bytes the Python
 * reader mapped (the Py_buffer is held for the object's lifetime), `Model.table(name)` finds
 * a table (with a per-partition index for P > 1), and the table answers
 *
 *   slot(key) -> int (-1 absent)
 *   get(key)  -> new float32 row (numpy, through the allocator given to the table) or None
 *   slots(keys, out)             out: writable int64 buffer of len(keys); -1 = absent
 *   lookup(keys, rows, found)    rows: float32 (k, dim) buffer, found: bool (k,); absent rows
 *                                are zeroed
 *   lookup_raw(keys, raw, found) raw: (k, dim * itemsize) bytes of stored codes (absent: zeros)
 *
 * keys are str (UTF-8) or bytes; a list or tuple for the batch calls. Anything this module
 * does not handle itself (another key type, a str that is not encodable as UTF-8) raises
 * `Fallback`, and so does a C open that fails: the Python reader then answers (it stays the
 * authority). A C-side format error raises phq.FormatError with the same code name
 * (PHQ_E_RANK <-> "E_RANK"); PHQ_E_USAGE raises phq.UsageError.
 *
 * No numpy C API: output arrays come from Python (numpy arrays export writable buffers),
 * and the single-row array from the allocator callable the table was given. The batch
 * calls release the GIL while the C reader runs (the keys are referenced until it returns),
 * and so does Model() while phq_open checks the file. The Python reader makes one Model per
 * open file, shared by all its tables (phq.table.AccelModel): one phq_open per file,
 * whatever the number of tables.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* The C reader is compiled into this file as one translation unit (setup.py compiles only
 * this file, with creader/ on the include path): its public API is all this module calls,
 * and small primitives such as phq_linear8 inline into the row loops below (vectorized). */
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC visibility push(hidden) /* not exported from the module: calls bind locally and inline */
#endif
#include "phq.c"
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC visibility pop
#endif

static PyObject *Fallback; /* _accel.Fallback */
static unsigned long long model_opens; /* phq_open calls made by Model(): open_count() (under the GIL) */

/* ---- errors -------------------------------------------------------------------------- */

static PyObject *load_error_class(const char *name)
{
    PyObject *mod = PyImport_ImportModule("phq.errors"), *cls;
    if (!mod) return NULL;
    cls = PyObject_GetAttrString(mod, name);
    Py_DECREF(mod);
    return cls;
}

/* Raise the Python exception of a C error: FormatError(code, msg, offset) or UsageError(msg). */
static void raise_phq_error(const phq_error *err)
{
    PyObject *cls, *exc;
    if (err->code == PHQ_OK || strcmp(phq_error_name(err->code), "E_UNKNOWN") == 0) {
        /* not a code the C reader should report: let the Python reader answer */
        PyErr_SetString(Fallback, "the C reader failed without an error code");
        return;
    }
    if (err->code == PHQ_E_USAGE) {
        cls = load_error_class("UsageError");
        if (!cls) return;
        exc = PyObject_CallFunction(cls, "s", err->msg);
    } else {
        PyObject *off;
        cls = load_error_class("FormatError");
        if (!cls) return;
        if (err->offset == PHQ_NO_OFFSET) {
            off = Py_NewRef(Py_None);
        } else {
            off = PyLong_FromUnsignedLongLong((unsigned long long)err->offset);
        }
        exc = off ? PyObject_CallFunction(cls, "ssO", phq_error_name(err->code), err->msg, off) : NULL;
        Py_XDECREF(off);
    }
    if (exc) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    Py_DECREF(cls);
}

/* ---- keys ------------------------------------------------------------------------------ */

/* The bytes of a key: 0 and (*p, *n) borrowed from the object (ASCII str, bytes), or 0 with
 * *tmp a new bytes object holding the UTF-8 (other str); -1 with Fallback set otherwise. */
static int key_bytes(PyObject *key, const char **p, Py_ssize_t *n, PyObject **tmp)
{
    *tmp = NULL;
    if (PyUnicode_CheckExact(key)) {
        if (PyUnicode_IS_ASCII(key)) {
            *p = (const char *)PyUnicode_DATA(key);
            *n = PyUnicode_GET_LENGTH(key);
            return 0;
        }
        *tmp = PyUnicode_AsUTF8String(key); /* a temporary: no UTF-8 cache left on the str */
        if (!*tmp) {
            PyErr_Clear();
            PyErr_SetString(Fallback, "key is not encodable as UTF-8");
            return -1;
        }
        *p = PyBytes_AS_STRING(*tmp);
        *n = PyBytes_GET_SIZE(*tmp);
        return 0;
    }
    if (PyBytes_CheckExact(key)) {
        *p = PyBytes_AS_STRING(key);
        *n = PyBytes_GET_SIZE(key);
        return 0;
    }
    PyErr_SetString(Fallback, "key type not handled by the accelerator");
    return -1;
}

/* A batch of keys as C arrays; holders keep every key's bytes alive without the GIL. */
typedef struct {
    Py_ssize_t n;
    const void **ptrs;
    size_t *lens;
    PyObject **holders;
} key_batch;

static void batch_free(key_batch *b)
{
    Py_ssize_t i;
    if (b->holders)
        for (i = 0; i < b->n; i++) Py_XDECREF(b->holders[i]);
    PyMem_Free(b->ptrs);
    PyMem_Free(b->lens);
    PyMem_Free(b->holders);
    b->ptrs = NULL;
    b->lens = NULL;
    b->holders = NULL;
}

static int batch_load(PyObject *keys, key_batch *b)
{
    Py_ssize_t i, n;
    PyObject **items;
    memset(b, 0, sizeof *b);
    if (!PyList_CheckExact(keys) && !PyTuple_CheckExact(keys)) {
        PyErr_SetString(Fallback, "keys must be a list or a tuple");
        return -1;
    }
    n = PySequence_Fast_GET_SIZE(keys);
    items = PySequence_Fast_ITEMS(keys);
    b->ptrs = PyMem_Malloc(sizeof(void *) * (size_t)(n ? n : 1));
    b->lens = PyMem_Malloc(sizeof(size_t) * (size_t)(n ? n : 1));
    b->holders = PyMem_Calloc((size_t)(n ? n : 1), sizeof(PyObject *));
    if (!b->ptrs || !b->lens || !b->holders) {
        batch_free(b);
        PyErr_NoMemory();
        return -1;
    }
    b->n = n;
    for (i = 0; i < n; i++) {
        const char *p;
        Py_ssize_t len;
        PyObject *tmp, *k = items[i];
        if (key_bytes(k, &p, &len, &tmp) < 0) {
            batch_free(b);
            return -1;
        }
        b->holders[i] = tmp ? tmp : Py_NewRef(k);
        b->ptrs[i] = p;
        b->lens[i] = (size_t)len;
    }
    return 0;
}

/* A writable C-contiguous buffer of at least `need` bytes. */
static int out_buffer(PyObject *obj, Py_buffer *view, size_t need, const char *what)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) return -1;
    if ((size_t)view->len < need) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_ValueError, "%s buffer is %zd bytes, %zu needed", what, view->len, need);
        return -1;
    }
    return 0;
}

/* ---- Model ------------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    Py_buffer view;
    int has_view;
    phq_model model;
} ModelObject;

static void Model_dealloc(ModelObject *self)
{
    if (self->has_view) PyBuffer_Release(&self->view);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Model_init(ModelObject *self, PyObject *args, PyObject *kwds)
{
    PyObject *buf;
    phq_error err;
    phq_code rc;
    static char *kwlist[] = {"buffer", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Model", kwlist, &buf)) return -1;
    if (self->has_view) {
        PyErr_SetString(PyExc_RuntimeError, "Model is already initialized");
        return -1;
    }
    if (PyObject_GetBuffer(buf, &self->view, PyBUF_SIMPLE) < 0) return -1;
    self->has_view = 1;
    model_opens++;
    /* the checks of spec 10.1 read the metadata (up to 16 MiB of JSON): other threads run
     * meanwhile (the view is held, and nothing else touches self until this returns) */
    Py_BEGIN_ALLOW_THREADS
    rc = phq_open(self->view.buf, (size_t)self->view.len, &self->model, &err);
    Py_END_ALLOW_THREADS
    if (rc != PHQ_OK) {
        raise_phq_error(&err);
        return -1;
    }
    return 0;
}

static PyTypeObject TableType;

static PyObject *Model_table(ModelObject *self, PyObject *args);

static PyMethodDef Model_methods[] = {
    {"table", (PyCFunction)Model_table, METH_VARARGS,
     "table(name: bytes, alloc, col_scales=None, col_zero_points=None) -> Table; alloc() must return a new "
     "float32 array of dim values; for linear tables with column scales, float32[dim] and int32[dim] "
     "buffers of the scale records (as the Python reader parsed them) speed rows up "
     "(KeyError when the file has no such table)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "phq._accel.Model",
    .tp_basicsize = sizeof(ModelObject),
    .tp_dealloc = (destructor)Model_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Model(buffer): phq_open over the buffer (held while the object lives)",
    .tp_methods = Model_methods,
    .tp_init = (initproc)Model_init,
    .tp_new = PyType_GenericNew,
};

/* ---- Table ------------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    ModelObject *model; /* strong reference: keeps the buffer */
    phq_table table;
    phq_part_info *index;
    PyObject *alloc; /* () -> new float32 array of dim values */
    size_t row_bytes; /* dim * 4 */
    size_t raw_bytes; /* dim * itemsize */
    /* linear8/linear4 with one scale per column: the per-column (scale, zero point) the
     * Python reader parsed, so that a row is phq_row_raw + phq_linear8 per value (the
     * C reader's phq_row_f32 re-reads a column's scale record for every value) */
    float *col_scale;
    int32_t *col_zp;
    unsigned char *raw1; /* one raw row, for single lookups (under the GIL) */
} TableObject;

/* The float32 row of a slot a lookup returned; raw: dim bytes of scratch (column scales). */
static phq_code decode_row(const TableObject *self, uint64_t slot, float *out, unsigned char *raw, phq_error *err)
{
    uint32_t c, dim = self->table.dim;
    phq_code rc;
    if (!self->col_scale) return phq_row_f32(&self->table, slot, out, err);
    rc = phq_row_raw(&self->table, slot, raw, err);
    if (rc != PHQ_OK) return rc;
    for (c = 0; c < dim; c++) out[c] = phq_linear8(raw[c], self->col_scale[c], self->col_zp[c]);
    return PHQ_OK;
}

static void Table_dealloc(TableObject *self)
{
    Py_XDECREF(self->model);
    Py_XDECREF(self->alloc);
    PyMem_Free(self->index);
    PyMem_Free(self->col_scale);
    PyMem_Free(self->col_zp);
    PyMem_Free(self->raw1);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Model_table(ModelObject *self, PyObject *args)
{
    const char *name;
    Py_ssize_t name_len;
    PyObject *alloc, *scales = Py_None, *zps = Py_None;
    TableObject *t;
    if (!PyArg_ParseTuple(args, "y#O|OO:table", &name, &name_len, &alloc, &scales, &zps)) return NULL;
    t = PyObject_New(TableObject, &TableType);
    if (!t) return NULL;
    t->model = (ModelObject *)Py_NewRef((PyObject *)self);
    t->alloc = Py_NewRef(alloc);
    t->index = NULL;
    t->col_scale = NULL;
    t->col_zp = NULL;
    t->raw1 = NULL;
    if (!phq_find_table(&self->model, name, (size_t)name_len, &t->table)) {
        Py_DECREF(t);
        PyErr_SetString(PyExc_KeyError, "no such table");
        return NULL;
    }
    if (t->table.num_partitions > 1) {
        t->index = PyMem_Calloc(t->table.num_partitions, sizeof(phq_part_info));
        if (!t->index) {
            Py_DECREF(t);
            return PyErr_NoMemory();
        }
        if (phq_table_set_index(&t->table, t->index, t->table.num_partitions) != PHQ_OK) {
            Py_DECREF(t);
            PyErr_SetString(Fallback, "phq_table_set_index failed");
            return NULL;
        }
    }
    t->row_bytes = (size_t)t->table.dim * sizeof(float);
    t->raw_bytes = (size_t)t->table.dim * t->table.itemsize;
    if (scales != Py_None && zps != Py_None && t->table.scale_granularity == PHQ_SCALE_COLUMN &&
        (t->table.quant == PHQ_QUANT_LINEAR8 || t->table.quant == PHQ_QUANT_LINEAR4) && t->table.itemsize == 1) {
        /* scales: float32[dim], zps: int32[dim], as bytes-like objects */
        Py_buffer sv, zv;
        size_t dim = t->table.dim;
        if (PyObject_GetBuffer(scales, &sv, PyBUF_C_CONTIGUOUS) < 0) {
            Py_DECREF(t);
            return NULL;
        }
        if (PyObject_GetBuffer(zps, &zv, PyBUF_C_CONTIGUOUS) < 0) {
            PyBuffer_Release(&sv);
            Py_DECREF(t);
            return NULL;
        }
        if ((size_t)sv.len == 4 * dim && (size_t)zv.len == 4 * dim) {
            t->col_scale = PyMem_Malloc(4 * (dim ? dim : 1));
            t->col_zp = PyMem_Malloc(4 * (dim ? dim : 1));
            if (t->col_scale && t->col_zp) {
                memcpy(t->col_scale, sv.buf, 4 * dim);
                memcpy(t->col_zp, zv.buf, 4 * dim);
            } else {
                PyMem_Free(t->col_scale);
                PyMem_Free(t->col_zp);
                t->col_scale = NULL;
                t->col_zp = NULL;
            }
        }
        PyBuffer_Release(&zv);
        PyBuffer_Release(&sv);
    }
    t->raw1 = PyMem_Malloc(t->raw_bytes ? t->raw_bytes : 1);
    if (!t->raw1) {
        Py_DECREF(t);
        return PyErr_NoMemory();
    }
    return (PyObject *)t;
}

static PyObject *Table_slot(TableObject *self, PyObject *key)
{
    const char *p;
    Py_ssize_t n;
    PyObject *tmp;
    uint64_t slot = 0;
    phq_error err;
    int rc;
    if (key_bytes(key, &p, &n, &tmp) < 0) return NULL;
    rc = phq_lookup(&self->table, p, (size_t)n, &slot, &err);
    Py_XDECREF(tmp);
    if (rc == PHQ_FOUND) return PyLong_FromUnsignedLongLong((unsigned long long)slot);
    if (rc == PHQ_ABSENT) return PyLong_FromLong(-1);
    raise_phq_error(&err);
    return NULL;
}

static PyObject *Table_get(TableObject *self, PyObject *key)
{
    const char *p;
    Py_ssize_t n;
    PyObject *tmp, *arr;
    uint64_t slot = 0;
    phq_error err;
    Py_buffer view;
    int rc;
    if (key_bytes(key, &p, &n, &tmp) < 0) return NULL;
    rc = phq_lookup(&self->table, p, (size_t)n, &slot, &err);
    Py_XDECREF(tmp);
    if (rc == PHQ_ABSENT) Py_RETURN_NONE;
    if (rc != PHQ_FOUND) {
        raise_phq_error(&err);
        return NULL;
    }
    arr = PyObject_CallNoArgs(self->alloc);
    if (!arr) return NULL;
    if (out_buffer(arr, &view, self->row_bytes, "row") < 0) {
        Py_DECREF(arr);
        return NULL;
    }
    if (decode_row(self, slot, (float *)view.buf, self->raw1, &err) != PHQ_OK) {
        PyBuffer_Release(&view);
        Py_DECREF(arr);
        raise_phq_error(&err);
        return NULL;
    }
    PyBuffer_Release(&view);
    return arr;
}

static PyObject *Table_slots(TableObject *self, PyObject *args)
{
    PyObject *keys, *out;
    key_batch b;
    Py_buffer ov;
    signed char *status;
    phq_error err;
    size_t found;
    Py_ssize_t i;
    int bad = 0;
    if (!PyArg_ParseTuple(args, "OO:slots", &keys, &out)) return NULL;
    if (batch_load(keys, &b) < 0) return NULL;
    if (out_buffer(out, &ov, sizeof(int64_t) * (size_t)b.n, "slots") < 0) {
        batch_free(&b);
        return NULL;
    }
    status = PyMem_Malloc((size_t)(b.n ? b.n : 1));
    if (!status) {
        PyBuffer_Release(&ov);
        batch_free(&b);
        return PyErr_NoMemory();
    }
    err.code = PHQ_OK;
    Py_BEGIN_ALLOW_THREADS
    found = phq_lookup_many(&self->table, b.ptrs, b.lens, (size_t)b.n, (uint64_t *)ov.buf, status, &err);
    for (i = 0; i < b.n; i++) {
        if (status[i] != PHQ_FOUND) ((int64_t *)ov.buf)[i] = -1;
        if (status[i] == PHQ_ERROR) bad = 1;
    }
    Py_END_ALLOW_THREADS
    PyMem_Free(status);
    PyBuffer_Release(&ov);
    batch_free(&b);
    if (bad) {
        raise_phq_error(&err);
        return NULL;
    }
    return PyLong_FromSize_t(found);
}

/* lookup (rows = float32 rows) and lookup_raw (rows = stored codes): the C reader's batched
 * calls (groups of keys with overlapping memory accesses, rows decoded in the group) */
static PyObject *batch_rows(TableObject *self, PyObject *args, int raw)
{
    PyObject *keys, *rows, *found_obj;
    key_batch b;
    Py_buffer rv, fv;
    signed char *status;
    phq_error err;
    size_t found = 0, row = raw ? self->raw_bytes : self->row_bytes;
    Py_ssize_t i;
    int bad = 0;
    if (!PyArg_ParseTuple(args, raw ? "OOO:lookup_raw" : "OOO:lookup", &keys, &rows, &found_obj)) return NULL;
    if (batch_load(keys, &b) < 0) return NULL;
    if (out_buffer(rows, &rv, row * (size_t)b.n, "rows") < 0) {
        batch_free(&b);
        return NULL;
    }
    if (out_buffer(found_obj, &fv, (size_t)b.n, "found") < 0) {
        PyBuffer_Release(&rv);
        batch_free(&b);
        return NULL;
    }
    status = PyMem_Malloc((size_t)(b.n ? b.n : 1));
    if (!status) {
        PyBuffer_Release(&fv);
        PyBuffer_Release(&rv);
        batch_free(&b);
        return PyErr_NoMemory();
    }
    err.code = PHQ_OK;
    Py_BEGIN_ALLOW_THREADS
    if (raw) found = phq_get_raw_many(&self->table, b.ptrs, b.lens, (size_t)b.n, rv.buf, status, &err);
    else found = phq_get_f32_many(&self->table, b.ptrs, b.lens, (size_t)b.n, (float *)rv.buf, status, &err);
    for (i = 0; i < b.n; i++) { /* absent rows are zeros (the callers pass np.empty) */
        ((unsigned char *)fv.buf)[i] = status[i] == PHQ_FOUND;
        if (status[i] != PHQ_FOUND) memset((unsigned char *)rv.buf + row * (size_t)i, 0, row);
        if (status[i] == PHQ_ERROR) bad = 1;
    }
    Py_END_ALLOW_THREADS
    PyMem_Free(status);
    PyBuffer_Release(&fv);
    PyBuffer_Release(&rv);
    batch_free(&b);
    if (bad) {
        raise_phq_error(&err);
        return NULL;
    }
    return PyLong_FromSize_t(found);
}

static PyObject *Table_lookup(TableObject *self, PyObject *args) { return batch_rows(self, args, 0); }
static PyObject *Table_lookup_raw(TableObject *self, PyObject *args) { return batch_rows(self, args, 1); }

static PyObject *Table_info(TableObject *self, void *closure)
{
    const phq_table *t = &self->table;
    (void)closure;
    return Py_BuildValue("{sKsIsIsIsBsBsBsn}", "num_keys", (unsigned long long)t->num_keys, "dim", t->dim,
                         "seed", t->seed, "num_partitions", t->num_partitions, "quant", t->quant, "layout",
                         t->layout, "fingerprint_bits", t->fingerprint_bits, "itemsize", (Py_ssize_t)t->itemsize);
}

static PyMethodDef Table_methods[] = {
    {"slot", (PyCFunction)Table_slot, METH_O, "slot(key) -> int, -1 when absent"},
    {"get", (PyCFunction)Table_get, METH_O, "get(key) -> new float32 row, or None when absent"},
    {"slots", (PyCFunction)Table_slots, METH_VARARGS, "slots(keys, out_int64) -> number found"},
    {"lookup", (PyCFunction)Table_lookup, METH_VARARGS, "lookup(keys, rows_f32, found_bool) -> number found (absent rows zeroed)"},
    {"lookup_raw", (PyCFunction)Table_lookup_raw, METH_VARARGS,
     "lookup_raw(keys, raw, found_bool) -> number found (raw: dim * itemsize bytes a key, absent zeroed)"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Table_getset[] = {
    {"info", (getter)Table_info, NULL, "the C reader's view of the table descriptor", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject TableType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "phq._accel.Table",
    .tp_basicsize = sizeof(TableObject),
    .tp_dealloc = (destructor)Table_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "a table of an accelerated model (Model.table)",
    .tp_methods = Table_methods,
    .tp_getset = Table_getset,
};

/* ---- module ------------------------------------------------------------------------------ */

static PyObject *mod_error_name(PyObject *mod, PyObject *arg)
{
    long code = PyLong_AsLong(arg);
    (void)mod;
    if (code == -1 && PyErr_Occurred()) return NULL;
    return PyUnicode_FromString(phq_error_name((int)code));
}

/* hash_keys(keys, seed, out): MurmurHash3_x64_128 (spec §6) of every key of a list or
 * tuple of bytes/str into `out`, a writable buffer of 16 × len(keys) bytes read as (h1, h2)
 * native uint64 pairs (phq.hashing.hash_keys: the writer's and the pure reader's hashing). */
static PyObject *mod_hash_keys(PyObject *mod, PyObject *args)
{
    PyObject *keys, *out;
    unsigned long seed;
    key_batch b;
    Py_buffer view;
    Py_ssize_t i;
    uint64_t *h;
    (void)mod;
    if (!PyArg_ParseTuple(args, "OkO", &keys, &seed, &out)) return NULL;
    if (seed > 0xFFFFFFFFul) {
        PyErr_SetString(PyExc_ValueError, "seed must fit in 32 bits");
        return NULL;
    }
    if (batch_load(keys, &b) < 0) return NULL;
    if (out_buffer(out, &view, (size_t)b.n * 16u, "hash") < 0) {
        batch_free(&b);
        return NULL;
    }
    h = (uint64_t *)view.buf;
    Py_BEGIN_ALLOW_THREADS
    for (i = 0; i < b.n; i++) phq_murmur3_x64_128(b.ptrs[i], b.lens[i], (uint32_t)seed, h + 2 * i);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    batch_free(&b);
    Py_RETURN_NONE;
}

/* json_check(buffer) -> None when the bytes are a META text that spec 5.2 allows, else
 * (byte position, reason): the C reader's validator (the one phq_open runs), with the GIL
 * released; no tree is built (phq.metajson.check). */
static PyObject *mod_json_check(PyObject *mod, PyObject *arg)
{
    Py_buffer view;
    size_t pos = 0;
    const char *why = "";
    int ok;
    (void)mod;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    Py_BEGIN_ALLOW_THREADS
    ok = phq_json_object_valid((const unsigned char *)view.buf, (size_t)view.len, NULL, 0, &pos, &why);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (ok) Py_RETURN_NONE;
    return Py_BuildValue("(ns)", (Py_ssize_t)pos, why);
}

static PyObject *mod_open_count(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    return PyLong_FromUnsignedLongLong(model_opens);
}

static PyMethodDef module_methods[] = {
    {"error_name", mod_error_name, METH_O, "error_name(code) -> the C reader's name of an error code"},
    {"open_count", mod_open_count, METH_NOARGS,
     "open_count() -> number of phq_open calls Model() made in this process (one per accelerated file: tests)"},
    {"json_check", mod_json_check, METH_O,
     "json_check(buffer) -> None if a valid META text (spec 5.2), else (byte position, reason)"},
    {"hash_keys", mod_hash_keys, METH_VARARGS, "hash_keys(keys, seed, out_uint64_nx2): MurmurHash3_x64_128 of every key"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "phq._accel",
    "Optional compiled lookups for phq (the C reader, creader/phq.c, bound for Python).", -1, module_methods,
};

PyMODINIT_FUNC PyInit__accel(void)
{
    PyObject *m;
    if (PyType_Ready(&ModelType) < 0 || PyType_Ready(&TableType) < 0) return NULL;
    m = PyModule_Create(&moduledef);
    if (!m) return NULL;
    Fallback = PyErr_NewExceptionWithDoc("phq._accel.Fallback",
                                         "the accelerator does not answer this call; use the Python reader", NULL, NULL);
    if (!Fallback || PyModule_AddObjectRef(m, "Fallback", Fallback) < 0 ||
        PyModule_AddObjectRef(m, "Model", (PyObject *)&ModelType) < 0 ||
        PyModule_AddObjectRef(m, "Table", (PyObject *)&TableType) < 0 ||
        PyModule_AddIntConstant(m, "SUPPORTED_MINOR", (long)phq_supported_minor()) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
