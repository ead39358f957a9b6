/*
 * craft.i: the SWIG interface of craft.lowlevel.
 *
 * `swig -python -threads` turns this file and the public headers it
 * includes into the generated wrapper (lowlevel.py + _lowlevel*.so); the
 * build regenerates both every time a header changes, and nobody edits
 * them. The headers come in through headers.i, which the build writes:
 * every header include/craft.h includes, then every other craft/*.h
 * (craft/testing.h, ...), so a new public header or function is wrapped
 * without touching this file.
 *
 * What is here is only how C types map to Python, by rules that follow
 * the header conventions (include/craft.h):
 *  - a non-const pointer to a scalar is an out-parameter: it becomes part
 *    of the returned list ([rc, out1, out2, ...]);
 *  - T **out (a handle the call creates) likewise returns the handle;
 *  - (const void *data, size_t len) and the like take any bytes-like
 *    object; (const void **data, size_t *len) returns bytes (or None);
 *  - every function releases the GIL while it runs (-threads) except the
 *    ones listed below, which never wait (plain reads of a value) or
 *    manage the GIL themselves (the glue).
 */
%module(package="craft") lowlevel

%feature("autodoc", "1");

%{
#define SWIG_FILE_WITH_INIT
#include "craft.h"
#include "craft/testing.h"
#include "glue.h"
%}

/* An enum and a function may share a name in C (enum craft_action_type
 * and craft_action_type()); in Python only the function keeps it. Enum
 * types have no Python object anyway: their values are module
 * constants. */
%rename("enum_%s", %$isenum) "";

%include <stdint.i>
%include <typemaps.i>

/* ---- out-parameters ------------------------------------------------- */

%apply int *OUTPUT { int * };
%apply unsigned int *OUTPUT { uint32_t * };
%apply unsigned long long *OUTPUT { uint64_t * };
%apply long long *OUTPUT { int64_t * };
%apply unsigned long *OUTPUT { size_t * };
/* SWIG would fall back from const T * to the T * rules above: const
 * pointers are inputs, keep SWIG's plain pointer handling for them. */
%apply SWIGTYPE * { const int *, const uint32_t *, const uint64_t *,
                    const int64_t *, const size_t * };

%typemap(in, numinputs=0) const char ** (const char *temp = NULL) {
    $1 = ($1_ltype)&temp;
}
%typemap(argout) const char ** {
    PyObject *o_;
    if (temp$argnum != NULL) {
        o_ = PyUnicode_DecodeUTF8(temp$argnum, (Py_ssize_t)strlen(temp$argnum),
                                  "replace");
    } else {
        o_ = Py_None;
        Py_INCREF(o_);
    }
    $result = SWIG_Python_AppendOutput($result, o_);
}

/* A handle the call creates: returned, None when the call failed. */
%typemap(in, numinputs=0) SWIGTYPE **out ($*1_ltype temp = NULL) {
    $1 = &temp;
}
%typemap(argout) SWIGTYPE **out {
    $result = SWIG_Python_AppendOutput($result,
        SWIG_NewPointerObj(SWIG_as_voidptr(temp$argnum), $*1_descriptor, 0));
}

/* ---- byte buffers --------------------------------------------------- */

%define CRAFT_BYTES_IN(PTR, LEN)
%typemap(in) (const void *PTR, size_t LEN) (Py_buffer view) {
    view.obj = NULL;
    if ($input == Py_None) {
        $1 = NULL;
        $2 = 0;
    } else {
        if (PyObject_GetBuffer($input, &view, PyBUF_SIMPLE) != 0) {
            SWIG_fail;
        }
        $1 = view.buf;
        $2 = (size_t)view.len;
    }
}
%typemap(freearg) (const void *PTR, size_t LEN) {
    if (view$argnum.obj != NULL) {
        PyBuffer_Release(&view$argnum);
    }
}
%typemap(typecheck) (const void *PTR, size_t LEN) {
    $1 = ($input == Py_None || PyObject_CheckBuffer($input)) ? 1 : 0;
}
%enddef
CRAFT_BYTES_IN(data, len)
CRAFT_BYTES_IN(conf, conf_len)

%define CRAFT_BYTES_OUT(PTR, LEN)
%typemap(in, numinputs=0) (const void **PTR, size_t *LEN)
    (const void *tdata = NULL, size_t tlen = 0) {
    $1 = ($1_ltype)&tdata;
    $2 = &tlen;
}
%typemap(argout) (const void **PTR, size_t *LEN) {
    PyObject *o_;
    if (tdata$argnum != NULL) {
        o_ = PyBytes_FromStringAndSize((const char *)tdata$argnum,
                                       (Py_ssize_t)tlen$argnum);
    } else {
        o_ = Py_None;
        Py_INCREF(o_);
    }
    $result = SWIG_Python_AppendOutput($result, o_);
}
%enddef
CRAFT_BYTES_OUT(data, len)
CRAFT_BYTES_OUT(addr, len)

/* Up to cap bytes read into a new bytes object. */
%typemap(in) (void *buf, size_t cap, size_t *n) (PyObject *chunk = NULL, size_t got = 0) {
    unsigned long long cap_ = PyLong_AsUnsignedLongLong($input);
    if (PyErr_Occurred()) {
        SWIG_fail;
    }
    chunk = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)cap_);
    if (chunk == NULL) {
        SWIG_fail;
    }
    $1 = PyBytes_AS_STRING(chunk);
    $2 = (size_t)cap_;
    $3 = &got;
}
%typemap(argout) (void *buf, size_t cap, size_t *n) {
    if (got$argnum < (size_t)PyBytes_GET_SIZE(chunk$argnum)) {
        if (_PyBytes_Resize(&chunk$argnum, (Py_ssize_t)got$argnum) != 0) {
            SWIG_fail;
        }
    }
    $result = SWIG_Python_AppendOutput($result, chunk$argnum);
    chunk$argnum = NULL;
}
%typemap(freearg) (void *buf, size_t cap, size_t *n) {
    Py_XDECREF(chunk$argnum);
}

/* Text into a caller-sized buffer: pass the capacity, get a str. */
%typemap(in) (char *buf, size_t cap) (char *tbuf = NULL) {
    unsigned long long cap_ = PyLong_AsUnsignedLongLong($input);
    if (PyErr_Occurred()) {
        SWIG_fail;
    }
    tbuf = (char *)calloc(1, (size_t)cap_ + 1);
    if (tbuf == NULL) {
        PyErr_NoMemory();
        SWIG_fail;
    }
    $1 = tbuf;
    $2 = (size_t)cap_;
}
%typemap(argout) (char *buf, size_t cap) {
    $result = SWIG_Python_AppendOutput($result,
        PyUnicode_DecodeUTF8(tbuf$argnum, (Py_ssize_t)strlen(tbuf$argnum),
                             "replace"));
}
%typemap(freearg) (char *buf, size_t cap) {
    free(tbuf$argnum);
}

/* A list of ids. */
%typemap(in) (const uint64_t *ids, size_t n) (uint64_t *tids = NULL) {
    PyObject *seq_ = PySequence_Fast($input, "ids must be a sequence of ints");
    Py_ssize_t k_, n_;
    if (seq_ == NULL) {
        SWIG_fail;
    }
    n_ = PySequence_Fast_GET_SIZE(seq_);
    tids = (uint64_t *)calloc((size_t)n_ + 1, sizeof(uint64_t));
    if (tids == NULL) {
        Py_DECREF(seq_);
        PyErr_NoMemory();
        SWIG_fail;
    }
    for (k_ = 0; k_ < n_; k_++) {
        tids[k_] = PyLong_AsUnsignedLongLong(PySequence_Fast_GET_ITEM(seq_, k_));
    }
    Py_DECREF(seq_);
    if (PyErr_Occurred()) {
        SWIG_fail;
    }
    $1 = tids;
    $2 = (size_t)n_;
}
%typemap(argout) (const uint64_t *ids, size_t n) "";

/* Servers with their addresses: a sequence of (id, address bytes). */
%typemap(in) (const uint64_t *ids, const craft_buf *addrs, size_t n)
    (uint64_t *tids = NULL, craft_buf *tbufs = NULL, PyObject *keep = NULL) {
    PyObject *seq_ = PySequence_Fast($input, "expected a sequence of (id, address)");
    Py_ssize_t k_, n_;
    if (seq_ == NULL) {
        SWIG_fail;
    }
    n_ = PySequence_Fast_GET_SIZE(seq_);
    tids = (uint64_t *)calloc((size_t)n_ + 1, sizeof(uint64_t));
    tbufs = (craft_buf *)calloc((size_t)n_ + 1, sizeof(craft_buf));
    keep = PyList_New(0);
    if (tids == NULL || tbufs == NULL || keep == NULL) {
        Py_DECREF(seq_);
        if (!PyErr_Occurred()) {
            PyErr_NoMemory();
        }
        SWIG_fail;
    }
    for (k_ = 0; k_ < n_; k_++) {
        PyObject *id_ = NULL, *addr_ = NULL, *b_;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq_, k_),
                              "OO;expected (id, address) pairs", &id_, &addr_)) {
            Py_DECREF(seq_);
            SWIG_fail;
        }
        tids[k_] = PyLong_AsUnsignedLongLong(id_);
        b_ = PyBytes_FromObject(addr_);
        if (b_ == NULL || PyList_Append(keep, b_) < 0) {
            Py_XDECREF(b_);
            Py_DECREF(seq_);
            SWIG_fail;
        }
        Py_DECREF(b_);
        tbufs[k_].base = PyBytes_AS_STRING(b_);
        tbufs[k_].len = (size_t)PyBytes_GET_SIZE(b_);
    }
    Py_DECREF(seq_);
    if (PyErr_Occurred()) {
        SWIG_fail;
    }
    $1 = tids;
    $2 = tbufs;
    $3 = (size_t)n_;
}
%typemap(argout) (const uint64_t *ids, const craft_buf *addrs, size_t n) "";
%typemap(freearg) (const uint64_t *ids, const craft_buf *addrs, size_t n) {
    free(tids$argnum);
    free(tbufs$argnum);
    Py_XDECREF(keep$argnum);
}
%typemap(freearg) (const uint64_t *ids, size_t n) {
    free(tids$argnum);
}

/* Up to cap ids into a caller-sized array: pass the capacity, get
 * [rc, [ids...], how many there are]. */
%typemap(in) (uint64_t *ids, size_t cap, size_t *n)
    (uint64_t *tids = NULL, size_t tcap = 0, size_t tn = 0) {
    unsigned long long cap_ = PyLong_AsUnsignedLongLong($input);
    if (PyErr_Occurred()) {
        SWIG_fail;
    }
    tids = (uint64_t *)calloc((size_t)cap_ + 1, sizeof(uint64_t));
    if (tids == NULL) {
        PyErr_NoMemory();
        SWIG_fail;
    }
    tcap = (size_t)cap_;
    $1 = tids;
    $2 = tcap;
    $3 = &tn;
}
%typemap(argout) (uint64_t *ids, size_t cap, size_t *n) {
    size_t k_, m_ = tn$argnum < tcap$argnum ? tn$argnum : tcap$argnum;
    PyObject *l_ = PyList_New((Py_ssize_t)m_);
    if (l_ == NULL) {
        SWIG_fail;
    }
    for (k_ = 0; k_ < m_; k_++) {
        PyList_SET_ITEM(l_, (Py_ssize_t)k_, PyLong_FromUnsignedLongLong(tids$argnum[k_]));
    }
    $result = SWIG_Python_AppendOutput($result, l_);
    $result = SWIG_Python_AppendOutput($result, PyLong_FromSize_t(tn$argnum));
}
%typemap(freearg) (uint64_t *ids, size_t cap, size_t *n) {
    free(tids$argnum);
}

/* ---- the GIL -------------------------------------------------------- */

/* The glue takes and releases the GIL itself. */
%nothread cpy_node_create;
%nothread cpy_node_enter;
%nothread cpy_node_leave;
%nothread cpy_node_shutdown;
%nothread cpy_node_free_node;
%nothread cpy_node_destroy;
%nothread cpy_call;
%nothread cpy_call_wait;
%nothread cpy_queue_create;
%nothread cpy_queue_fd;
%nothread cpy_queue_drain;
%nothread cpy_queue_free;
%nothread cpy_storage_create;
%nothread cpy_storage_ops;
%nothread cpy_storage_free;
%nothread cpy_transport_create;
%nothread cpy_transport_ops;
%nothread cpy_transport_free;
%nothread cpy_bench_drive;
%nothread cpy_live_calls;
%nothread cpy_counter_create;
%nothread cpy_counter_value;
%nothread cpy_counter_free;
%nothread cpy_trace_sink_create;
%nothread cpy_trace_sink_free;
%nothread cpy_file_storage_open;
%nothread cpy_tcp_options_trace;
%nothread cpy_ptr_file_storage;
%nothread cpy_ptr_writer;
%nothread cpy_ptr_reader;
%nothread cpy_ptr_loader;

/* Plain reads that never wait: releasing the GIL would cost more than
 * the call. */
%nothread craft_strerror;
%nothread craft_version;
%nothread craft_version_string;
%nothread craft_abi_version;
%nothread craft_node_id;
%nothread craft_node_role;
%nothread craft_node_term;
%nothread craft_node_leader;
%nothread craft_node_applied_index;
%nothread craft_node_metric;
%nothread craft_metric_name;
%nothread craft_metric_help;
%nothread craft_metric_kind;
%nothread craft_result_status;
%nothread craft_result_index;
%nothread craft_result_term;
%nothread craft_result_leader;
%nothread craft_result_data;
%nothread craft_status_id;
%nothread craft_status_role;
%nothread craft_status_term;
%nothread craft_status_leader;
%nothread craft_status_commit_index;
%nothread craft_status_applied_index;
%nothread craft_status_last_index;
%nothread craft_status_snapshot_index;
%nothread craft_status_member_count;
%nothread craft_status_member;
%nothread craft_status_member_addr;
%nothread craft_node_membership_version;
%nothread craft_trace_name;
%nothread craft_trace_target;
%nothread craft_node_metrics_text;
%nothread craft_node_errmsg;
%nothread craft_node_receive;
%nothread craft_snapshot_writer_write;

/* ---- the declarations ----------------------------------------------- */

%include "headers.i"
%include "glue.h"

%{
/* SWIG pointer objects for the glue's trampolines (glue.h). */
PyObject *cpy_ptr_writer(craft_snapshot_writer *w)
{
    return SWIG_NewPointerObj(SWIG_as_voidptr(w),
                              SWIGTYPE_p_craft_snapshot_writer, 0);
}
PyObject *cpy_ptr_reader(craft_snapshot_reader *r)
{
    return SWIG_NewPointerObj(SWIG_as_voidptr(r),
                              SWIGTYPE_p_craft_snapshot_reader, 0);
}
PyObject *cpy_ptr_loader(craft_loader *l)
{
    return SWIG_NewPointerObj(SWIG_as_voidptr(l), SWIGTYPE_p_craft_loader, 0);
}
PyObject *cpy_ptr_file_storage(craft_file_storage *fs)
{
    return SWIG_NewPointerObj(SWIG_as_voidptr(fs),
                              SWIGTYPE_p_craft_file_storage, 0);
}
%}
