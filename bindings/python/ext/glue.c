/*
 * glue.c: trampolines from libcraft's callbacks into Python, completion
 * queues for asyncio and blocking calls that release the GIL. See glue.h
 * for the rules every function here keeps.
 */
#include "glue.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *Py_NewRef(PyObject *o)
{
    Py_INCREF(o);
    return o;
}
#endif

/* ---- interpreter state --------------------------------------------- */

/* Once the interpreter is finalizing, PyGILState_Ensure() on a foreign
 * thread may never return: a trampoline then fails its callback instead
 * of touching Python. (craft's atexit hook shuts every node down before
 * that, so this is the last line of defence.) */
static int cpy_python_gone(void)
{
    if (!Py_IsInitialized()) {
        return 1;
    }
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing();
#else
    return _Py_IsFinalizing();
#endif
}

/* ---- thread states of libcraft's threads ---------------------------- */

/* PyGILState_Ensure() on a thread Python has never seen creates a thread
 * state and the matching PyGILState_Release() destroys it: one raw
 * allocation and free per callback. That is slow on the apply thread (a
 * callback per entry), and on CPython 3.11 a raw allocation made while
 * tracemalloc is being stopped on another thread dereferences freed
 * tracemalloc state (a crash in traceback_new). So a libcraft thread
 * that calls into Python keeps its thread state for its whole life: the
 * first call takes one extra PyGILState reference and hands the GIL
 * back, and a thread-specific destructor deletes the state when the
 * thread ends (libcraft joins its threads from shutdown and free, which
 * the glue calls with the GIL released). */
static pthread_key_t cpy_tstate_key;
static pthread_once_t cpy_tstate_once = PTHREAD_ONCE_INIT;
static int cpy_tstate_key_ok;

static void cpy_tstate_release(void *ts)
{
    /* A thread that outlives the interpreter keeps its state: Python
     * cannot take it back any more. */
    if (ts == NULL || cpy_python_gone()) {
        return;
    }
    /* Not PyGILState_Release(): glibc clears every thread-specific
     * value of an exiting thread, Python's own included, before or
     * while it runs the destructors, so PyGILState no longer finds the
     * state. Delete it directly. */
    PyEval_RestoreThread(ts);
    PyThreadState_Clear(ts);
    PyThreadState_DeleteCurrent(); /* and drops the GIL */
}

static void cpy_tstate_key_create(void)
{
    cpy_tstate_key_ok =
        pthread_key_create(&cpy_tstate_key, cpy_tstate_release) == 0;
}

/* PyGILState_Ensure() for trampolines: the thread's state persists. */
static PyGILState_STATE cpy_gil_ensure(void)
{
    if (PyGILState_GetThisThreadState() == NULL) {
        pthread_once(&cpy_tstate_once, cpy_tstate_key_create);
        if (cpy_tstate_key_ok) {
            (void)PyGILState_Ensure();
            PyThreadState *ts = PyEval_SaveThread();
            if (pthread_setspecific(cpy_tstate_key, ts) != 0) {
                /* No destructor: give the extra reference back now. */
                PyEval_RestoreThread(ts);
                PyGILState_Release(PyGILState_UNLOCKED);
            }
        }
    }
    return PyGILState_Ensure();
}

/* With the GIL and an exception set: hands the exception to report
 * (which logs it with its traceback and names the error code), clears it
 * and returns the negative code for the callback. Never fails: when even
 * report fails, Python's unraisable hook gets the exception. */
static int cpy_report(PyObject *report, const char *where, uint64_t node_id)
{
    PyObject *type = NULL, *value = NULL, *tb = NULL;
    int code = CRAFT_ECALLBACK;

    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value == NULL) {
        Py_XDECREF(type);
        Py_XDECREF(tb);
        return CRAFT_ECALLBACK;
    }
    if (tb != NULL) {
        PyException_SetTraceback(value, tb);
    }
    if (report != NULL && report != Py_None) {
        PyObject *r = PyObject_CallFunction(report, "sKO", where,
                                            (unsigned long long)node_id,
                                            value);
        if (r == NULL) {
            PyErr_WriteUnraisable(report);
        } else {
            long c = PyLong_Check(r) ? PyLong_AsLong(r) : 0;
            if (PyErr_Occurred()) {
                PyErr_Clear();
            } else if (c < 0 && c >= -10000) {
                code = (int)c;
            }
            Py_DECREF(r);
        }
    } else {
        PyErr_Restore(type, value, tb);
        type = value = tb = NULL;
        PyErr_WriteUnraisable(NULL);
    }
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return code;
}

/* A reference to obj.name, or NULL for a missing attribute or None. */
static PyObject *cpy_attr(PyObject *obj, const char *name)
{
    PyObject *a = PyObject_GetAttrString(obj, name);
    if (a == NULL) {
        PyErr_Clear();
        return NULL;
    }
    if (a == Py_None) {
        Py_DECREF(a);
        return NULL;
    }
    return a;
}

/* obj.name is present and true (a failed truth test counts as false). */
static int cpy_flag(PyObject *obj, const char *name)
{
    PyObject *a = cpy_attr(obj, name);
    int on;
    if (a == NULL) {
        return 0;
    }
    on = PyObject_IsTrue(a);
    Py_DECREF(a);
    if (on < 0) {
        PyErr_Clear();
        return 0;
    }
    return on;
}

/* ---- the node ------------------------------------------------------ */

struct cpy_node {
    /* The node's lifetime, guarded by mu: node is NULL once freed, and
     * freeing waits for the calls in flight (inflight) that released the
     * GIL while using it. */
    pthread_mutex_t mu;
    pthread_cond_t idle;
    craft_node *node;
    long inflight;
    uint64_t id;
    /* Python references, dropped when the node is freed. */
    PyObject *apply;       /* fsm.apply, bound */
    PyObject *snapshot;    /* or NULL */
    PyObject *restore;     /* or NULL */
    PyObject *report;
    PyObject *trace;       /* or NULL */
    PyObject *target;      /* argument of read functions */
    PyObject *last_result; /* apply's result, borrowed by the node until
                              the next fsm callback */
};

static int cpy_fsm_apply(void *user, uint64_t index, uint64_t term,
                         const void *data, size_t len, const void **result,
                         size_t *result_len)
{
    cpy_node *n = user;
    PyObject *args[3] = {NULL, NULL, NULL};
    PyObject *r = NULL;
    int rc = CRAFT_OK;
    PyGILState_STATE g;

    if (cpy_python_gone()) {
        return CRAFT_ECALLBACK;
    }
    g = cpy_gil_ensure();
    Py_CLEAR(n->last_result);
    args[0] = PyLong_FromUnsignedLongLong(index);
    args[1] = PyLong_FromUnsignedLongLong(term);
    args[2] = PyBytes_FromStringAndSize(len ? data : NULL, (Py_ssize_t)len);
    if (args[0] == NULL || args[1] == NULL || args[2] == NULL) {
        rc = cpy_report(n->report, "fsm.apply", n->id);
        goto out;
    }
    r = PyObject_Vectorcall(n->apply, args, 3, NULL);
    if (r == NULL) {
        rc = cpy_report(n->report, "fsm.apply", n->id);
        goto out;
    }
    if (r == Py_None) {
        goto out;
    }
    if (!PyBytes_CheckExact(r)) {
        PyObject *b = NULL;
        if (PyObject_CheckBuffer(r)) {
            b = PyBytes_FromObject(r);
        } else {
            PyErr_Format(PyExc_TypeError,
                         "apply() must return bytes or None, not %.100s",
                         Py_TYPE(r)->tp_name);
        }
        Py_DECREF(r);
        r = b;
        if (r == NULL) {
            rc = cpy_report(n->report, "fsm.apply", n->id);
            goto out;
        }
    }
    n->last_result = r;
    r = NULL;
    *result = PyBytes_AS_STRING(n->last_result);
    *result_len = (size_t)PyBytes_GET_SIZE(n->last_result);
out:
    Py_XDECREF(r);
    Py_XDECREF(args[0]);
    Py_XDECREF(args[1]);
    Py_XDECREF(args[2]);
    PyGILState_Release(g);
    return rc;
}

static int cpy_fsm_snapshot(void *user, uint64_t index, uint64_t term,
                            craft_snapshot_writer *w)
{
    cpy_node *n = user;
    PyObject *p, *r;
    int rc = CRAFT_OK;
    PyGILState_STATE g;

    if (cpy_python_gone()) {
        return CRAFT_ECALLBACK;
    }
    g = cpy_gil_ensure();
    Py_CLEAR(n->last_result);
    p = cpy_ptr_writer(w);
    r = p ? PyObject_CallFunction(n->snapshot, "KKO",
                                  (unsigned long long)index,
                                  (unsigned long long)term, p)
          : NULL;
    if (r == NULL) {
        rc = cpy_report(n->report, "fsm.snapshot", n->id);
    }
    Py_XDECREF(r);
    Py_XDECREF(p);
    PyGILState_Release(g);
    return rc;
}

static int cpy_fsm_restore(void *user, uint64_t index, uint64_t term,
                           craft_snapshot_reader *rd)
{
    cpy_node *n = user;
    PyObject *p, *r;
    int rc = CRAFT_OK;
    PyGILState_STATE g;

    if (cpy_python_gone()) {
        return CRAFT_ECALLBACK;
    }
    g = cpy_gil_ensure();
    Py_CLEAR(n->last_result);
    p = cpy_ptr_reader(rd);
    r = p ? PyObject_CallFunction(n->restore, "KKO",
                                  (unsigned long long)index,
                                  (unsigned long long)term, p)
          : NULL;
    if (r == NULL) {
        rc = cpy_report(n->report, "fsm.restore", n->id);
    }
    Py_XDECREF(r);
    Py_XDECREF(p);
    PyGILState_Release(g);
    return rc;
}

/* Hands one trace event to trace(node_id, level, target, name, fields). */
static void cpy_trace_emit(PyObject *trace, PyObject *report, uint64_t id,
                           const craft_trace_event *ev)
{
    PyObject *fields = NULL, *r = NULL;
    size_t k, count;
    PyGILState_STATE g;

    if (cpy_python_gone()) {
        return;
    }
    g = cpy_gil_ensure();
    fields = PyDict_New();
    if (fields == NULL) {
        goto fail;
    }
    count = craft_trace_event_field_count(ev);
    for (k = 0; k < count; k++) {
        const char *key = NULL, *str = NULL;
        int type = 0;
        uint64_t u = 0;
        int64_t i = 0;
        PyObject *v;
        if (craft_trace_event_field(ev, k, &key, &type, &u, &i, &str) !=
                CRAFT_OK ||
            key == NULL) {
            continue;
        }
        if (type == CRAFT_FIELD_I64) {
            v = PyLong_FromLongLong((long long)i);
        } else if (type == CRAFT_FIELD_STR) {
            v = PyUnicode_DecodeUTF8(str ? str : "", (Py_ssize_t)strlen(str ? str : ""),
                                     "replace");
        } else {
            v = PyLong_FromUnsignedLongLong((unsigned long long)u);
        }
        if (v == NULL || PyDict_SetItemString(fields, key, v) < 0) {
            Py_XDECREF(v);
            goto fail;
        }
        Py_DECREF(v);
    }
    r = PyObject_CallFunction(
        trace, "KissO", (unsigned long long)id,
        craft_trace_event_level(ev),
        craft_trace_event_target(ev) ? craft_trace_event_target(ev) : "craft",
        craft_trace_event_name(ev) ? craft_trace_event_name(ev) : "?",
        fields);
    if (r == NULL) {
        goto fail;
    }
    Py_DECREF(r);
    Py_DECREF(fields);
    PyGILState_Release(g);
    return;
fail:
    (void)cpy_report(report, "trace", id);
    Py_XDECREF(fields);
    PyGILState_Release(g);
}

static void cpy_trace(void *user, const craft_trace_event *ev)
{
    cpy_node *n = user;
    cpy_trace_emit(n->trace, n->report, n->id, ev);
}

static void cpy_node_clear(cpy_node *n)
{
    Py_CLEAR(n->apply);
    Py_CLEAR(n->snapshot);
    Py_CLEAR(n->restore);
    Py_CLEAR(n->report);
    Py_CLEAR(n->trace);
    Py_CLEAR(n->target);
    Py_CLEAR(n->last_result);
}

static void cpy_node_destroy_struct(cpy_node *n)
{
    cpy_node_clear(n);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->idle);
    free(n);
}

/* ---- a state machine in C ----------------------------------------- */

struct cpy_counter {
    atomic_ullong value;
    unsigned char result[8];
};

int cpy_counter_create(cpy_counter **out)
{
    cpy_counter *c;
    if (out == NULL) {
        return CRAFT_EINVAL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return CRAFT_ENOMEM;
    }
    atomic_init(&c->value, 0);
    *out = c;
    return CRAFT_OK;
}

uint64_t cpy_counter_value(cpy_counter *c)
{
    return c ? atomic_load(&c->value) : 0;
}

void cpy_counter_free(cpy_counter *c)
{
    free(c);
}

static void cpy_le64(unsigned char *p, uint64_t v)
{
    for (int k = 0; k < 8; k++) {
        p[k] = (unsigned char)(v >> (8 * k));
    }
}

static int cpy_counter_apply(void *user, uint64_t index, uint64_t term,
                             const void *data, size_t len,
                             const void **result, size_t *result_len)
{
    cpy_counter *c = user;
    uint64_t v = atomic_fetch_add(&c->value, 1) + 1;
    (void)index;
    (void)term;
    (void)data;
    (void)len;
    cpy_le64(c->result, v);
    *result = c->result;
    *result_len = sizeof(c->result);
    return CRAFT_OK;
}

static int cpy_counter_snapshot(void *user, uint64_t index, uint64_t term,
                                craft_snapshot_writer *w)
{
    cpy_counter *c = user;
    unsigned char b[8];
    (void)index;
    (void)term;
    cpy_le64(b, atomic_load(&c->value));
    return craft_snapshot_writer_write(w, b, sizeof(b));
}

static int cpy_counter_restore(void *user, uint64_t index, uint64_t term,
                               craft_snapshot_reader *r)
{
    cpy_counter *c = user;
    unsigned char b[8];
    size_t got = 0, n = 0;
    uint64_t v = 0;
    (void)index;
    (void)term;
    while (got < sizeof(b)) {
        int rc = craft_snapshot_reader_read(r, b + got, sizeof(b) - got, &n);
        if (rc != CRAFT_OK) {
            return rc;
        }
        if (n == 0) {
            return CRAFT_EMALFORMED;
        }
        got += n;
    }
    for (int k = 7; k >= 0; k--) {
        v = (v << 8) | b[k];
    }
    atomic_store(&c->value, v);
    return CRAFT_OK;
}

int cpy_node_create(craft_node_options *opts, PyObject *hooks,
                    cpy_counter *native, cpy_node **out, char *buf,
                    size_t cap)
{
    craft_fsm_ops fsm;
    cpy_node *n;
    craft_node *node = NULL;
    int trace_stderr;
    int rc;

    if (buf != NULL && cap > 0) {
        buf[0] = '\0';
    }
    if (opts == NULL || hooks == NULL || out == NULL) {
        return CRAFT_EINVAL;
    }
    trace_stderr = cpy_flag(hooks, "trace_stderr");
    n = calloc(1, sizeof(*n));
    if (n == NULL) {
        return CRAFT_ENOMEM;
    }
    if (pthread_mutex_init(&n->mu, NULL) != 0) {
        free(n);
        return CRAFT_ENOMEM;
    }
    if (pthread_cond_init(&n->idle, NULL) != 0) {
        pthread_mutex_destroy(&n->mu);
        free(n);
        return CRAFT_ENOMEM;
    }
    n->id = opts->id;
    n->apply = cpy_attr(hooks, "apply");
    n->snapshot = cpy_attr(hooks, "snapshot");
    n->restore = cpy_attr(hooks, "restore");
    n->report = cpy_attr(hooks, "report");
    n->trace = cpy_attr(hooks, "trace");
    n->target = PyObject_GetAttrString(hooks, "target");
    if (n->target == NULL) {
        PyErr_Clear();
        n->target = Py_NewRef(Py_None);
    }
    if ((native == NULL &&
         (n->apply == NULL || !PyCallable_Check(n->apply))) ||
        n->report == NULL) {
        cpy_node_destroy_struct(n);
        if (buf != NULL && cap > 0) {
            snprintf(buf, cap, "hooks: apply or report missing");
        }
        return CRAFT_EINVAL;
    }
    craft_fsm_ops_init(&fsm);
    if (native != NULL) {
        fsm.user = native;
        fsm.apply = cpy_counter_apply;
        fsm.snapshot = cpy_counter_snapshot;
        fsm.restore = cpy_counter_restore;
    } else {
        fsm.user = n;
        fsm.apply = cpy_fsm_apply;
        if (n->snapshot != NULL && n->restore != NULL) {
            fsm.snapshot = cpy_fsm_snapshot;
        }
        if (n->restore != NULL) {
            fsm.restore = cpy_fsm_restore;
        }
    }
    opts->fsm = &fsm;
    if (n->trace != NULL) {
        opts->trace = cpy_trace;
        opts->trace_user = n;
    } else if (trace_stderr) {
        /* libcraft's own printer: no Python (and no GIL) on the path. */
        opts->trace = craft_trace_stderr;
        opts->trace_user = NULL;
    }
    /* craft_node_create_msg: the message names the option or the step at
     * fault, which the exception carries. */
    Py_BEGIN_ALLOW_THREADS
    rc = craft_node_create_msg(opts, &node, buf, buf != NULL ? cap : 0);
    Py_END_ALLOW_THREADS
    opts->fsm = NULL;
    opts->trace = NULL;
    opts->trace_user = NULL;
    if (rc != CRAFT_OK) {
        cpy_node_destroy_struct(n);
        return rc;
    }
    n->node = node;
    *out = n;
    return CRAFT_OK;
}

craft_node *cpy_node_enter(cpy_node *n)
{
    craft_node *node;
    if (n == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&n->mu);
    node = n->node;
    if (node != NULL) {
        n->inflight++;
    }
    pthread_mutex_unlock(&n->mu);
    return node;
}

void cpy_node_leave(cpy_node *n)
{
    if (n == NULL) {
        return;
    }
    pthread_mutex_lock(&n->mu);
    if (--n->inflight == 0) {
        pthread_cond_broadcast(&n->idle);
    }
    pthread_mutex_unlock(&n->mu);
}

int cpy_node_shutdown(cpy_node *n)
{
    craft_node *node = cpy_node_enter(n);
    int rc;
    if (node == NULL) {
        return n ? CRAFT_ESHUTDOWN : CRAFT_EINVAL;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = craft_node_shutdown(node);
    Py_END_ALLOW_THREADS
    cpy_node_leave(n);
    return rc;
}

int cpy_node_free_node(cpy_node *n)
{
    craft_node *node;
    if (n == NULL) {
        return CRAFT_EINVAL;
    }
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&n->mu);
    node = n->node;
    n->node = NULL;
    while (n->inflight > 0) {
        pthread_cond_wait(&n->idle, &n->mu);
    }
    pthread_mutex_unlock(&n->mu);
    craft_node_free(node);
    Py_END_ALLOW_THREADS
    /* No callback can run any more: drop the Python references. */
    cpy_node_clear(n);
    return node != NULL ? CRAFT_OK : CRAFT_ESHUTDOWN;
}

void cpy_node_destroy(cpy_node *n)
{
    if (n == NULL) {
        return;
    }
    (void)cpy_node_free_node(n);
    cpy_node_destroy_struct(n);
}

/* ---- calls --------------------------------------------------------- */

struct cpy_call {
    int kind;
    cpy_node *node;       /* outlives the call: shutdown completes it */
    PyObject *fn;         /* CPY_READ: the function, or NULL */
    cpy_queue *queue;     /* asynchronous: where the completion goes */
    uint64_t token;
    struct cpy_call *next; /* in the queue */
    /* a blocking call's waiter */
    atomic_int refs;
    int sync;
    int done;
    int abandoned;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* the outcome */
    int status;
    uint64_t index, term, leader;
    void *data;
    size_t len;
    int has_data;
    PyObject *value, *exc;
};

struct cpy_queue {
    pthread_mutex_t mu;
    struct cpy_call *head, *tail;
    int armed;  /* a byte is in the pipe, or about to be */
    int closed; /* the owner is gone */
    int rfd, wfd;
    atomic_long refs; /* the owner + calls in flight */
};

/* Calls allocated and not yet freed, in every node of the process: the
 * leak test's view of the glue's own allocations. */
static atomic_long cpy_calls_live;

long cpy_live_calls(void)
{
    return atomic_load(&cpy_calls_live);
}

static struct cpy_call *cpy_call_new(int kind, cpy_node *n, int sync)
{
    struct cpy_call *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    atomic_fetch_add(&cpy_calls_live, 1);
    c->kind = kind;
    c->node = n;
    c->sync = sync;
    atomic_init(&c->refs, sync ? 2 : 1);
    if (sync) {
        if (pthread_mutex_init(&c->mu, NULL) != 0) {
            free(c);
            return NULL;
        }
        if (pthread_cond_init(&c->cv, NULL) != 0) {
            pthread_mutex_destroy(&c->mu);
            free(c);
            return NULL;
        }
    }
    return c;
}

/* Frees c. Python references it still holds (fn, value, exc) are only
 * ever set where the caller holds the GIL. */
static void cpy_call_free(struct cpy_call *c)
{
    if (c->fn != NULL || c->value != NULL || c->exc != NULL) {
        Py_CLEAR(c->fn);
        Py_CLEAR(c->value);
        Py_CLEAR(c->exc);
    }
    if (c->sync) {
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
    }
    free(c->data);
    free(c);
    atomic_fetch_sub(&cpy_calls_live, 1);
}

static void cpy_call_unref(struct cpy_call *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1) {
        cpy_call_free(c);
    }
}

static void cpy_queue_unref(cpy_queue *q)
{
    if (atomic_fetch_sub(&q->refs, 1) == 1) {
        struct cpy_call *c = q->head;
        while (c != NULL) {
            struct cpy_call *next = c->next;
            cpy_call_free(c);
            c = next;
        }
        close(q->rfd);
        close(q->wfd);
        pthread_mutex_destroy(&q->mu);
        free(q);
    }
}

/* Hands a finished call to its queue (and wakes the loop when the queue
 * was idle). Called with the GIL when the call holds Python references. */
static void cpy_queue_push(cpy_queue *q, struct cpy_call *c)
{
    int wake = 0;

    pthread_mutex_lock(&q->mu);
    if (q->closed) {
        pthread_mutex_unlock(&q->mu);
        cpy_call_free(c);
        cpy_queue_unref(q);
        return;
    }
    c->next = NULL;
    if (q->tail != NULL) {
        q->tail->next = c;
    } else {
        q->head = c;
    }
    q->tail = c;
    if (!q->armed) {
        q->armed = 1;
        wake = 1;
    }
    pthread_mutex_unlock(&q->mu);
    if (wake) {
        ssize_t w;
        do {
            w = write(q->wfd, "c", 1);
        } while (w < 0 && errno == EINTR);
        /* EAGAIN: the pipe is full, so the loop is woken anyway. */
    }
    cpy_queue_unref(q);
}

/* Delivers a finished call to whoever waits for it. The caller holds the
 * GIL when c holds Python references (a read's value or exception). */
static void cpy_call_deliver(struct cpy_call *c)
{
    if (c->queue != NULL) {
        cpy_queue_push(c->queue, c);
        return;
    }
    pthread_mutex_lock(&c->mu);
    if (c->abandoned) {
        /* The waiter left (a signal): nobody will read the outcome. */
        pthread_mutex_unlock(&c->mu);
        Py_CLEAR(c->value);
        Py_CLEAR(c->exc);
        cpy_call_unref(c);
        return;
    }
    c->done = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    cpy_call_unref(c);
}

/* The completion callback of every call (on the apply thread, or on the
 * thread shutting a never-started node down). */
static void cpy_call_cb(void *ctx, const craft_result *res)
{
    struct cpy_call *c = ctx;
    PyGILState_STATE g;

    c->status = craft_result_status(res);
    c->index = craft_result_index(res);
    c->term = craft_result_term(res);
    c->leader = craft_result_leader(res);
    if (c->kind == CPY_PROPOSE) {
        const void *d = NULL;
        size_t l = 0;
        if (craft_result_data(res, &d, &l) == CRAFT_OK && d != NULL) {
            c->data = malloc(l ? l : 1);
            if (c->data != NULL) {
                memcpy(c->data, d, l);
                c->len = l;
                c->has_data = 1;
            }
        }
    }
    if (c->fn == NULL) {
        cpy_call_deliver(c);
        return;
    }
    /* A read with a function: run it now, on the apply thread, so that it
     * sees the state machine as of the read index (thesis §6.4). */
    if (cpy_python_gone()) {
        /* The references leak: Python is gone and cannot take them. */
        c->fn = NULL;
        cpy_call_deliver(c);
        return;
    }
    g = cpy_gil_ensure();
    if (c->status == CRAFT_OK) {
        int skip = 0;
        if (c->queue == NULL) {
            pthread_mutex_lock(&c->mu);
            skip = c->abandoned;
            pthread_mutex_unlock(&c->mu);
        }
        if (!skip) {
            c->value = PyObject_CallOneArg(c->fn, c->node->target);
            if (c->value == NULL) {
                PyObject *type = NULL, *tb = NULL;
                PyErr_Fetch(&type, &c->exc, &tb);
                PyErr_NormalizeException(&type, &c->exc, &tb);
                if (c->exc != NULL && tb != NULL) {
                    PyException_SetTraceback(c->exc, tb);
                }
                Py_XDECREF(type);
                Py_XDECREF(tb);
            }
        }
    }
    Py_CLEAR(c->fn);
    cpy_call_deliver(c);
    PyGILState_Release(g);
}

/* Starts call c on node. GIL held; never waits. */
static int cpy_call_start_on(craft_node *node, struct cpy_call *c, int kind,
                             uint64_t arg, PyObject *obj,
                             uint32_t timeout_ms)
{
    int rc;

    switch (kind) {
    case CPY_PROPOSE: {
        Py_buffer view;
        if (obj == NULL || PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) != 0) {
            PyErr_Clear();
            return CRAFT_EINVAL;
        }
        rc = craft_node_propose(node, view.buf, (size_t)view.len, timeout_ms,
                                cpy_call_cb, c);
        PyBuffer_Release(&view);
        return rc;
    }
    case CPY_READ:
        if (obj != NULL && obj != Py_None) {
            c->fn = Py_NewRef(obj);
        }
        rc = craft_node_read_linearizable(node, timeout_ms, cpy_call_cb, c);
        if (rc != CRAFT_OK) {
            Py_CLEAR(c->fn);
        }
        return rc;
    case CPY_ADD_PEER:
    case CPY_ADD_LEARNER: {
        Py_buffer view;
        if (obj == NULL || obj == Py_None) {
            return kind == CPY_ADD_PEER
                       ? craft_node_add_peer(node, arg, timeout_ms,
                                             cpy_call_cb, c)
                       : craft_node_add_learner(node, arg, timeout_ms,
                                                cpy_call_cb, c);
        }
        if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) != 0) {
            PyErr_Clear();
            return CRAFT_EINVAL;
        }
        rc = kind == CPY_ADD_PEER
                 ? craft_node_add_peer_addr(node, arg, view.buf,
                                            (size_t)view.len, timeout_ms,
                                            cpy_call_cb, c)
                 : craft_node_add_learner_addr(node, arg, view.buf,
                                               (size_t)view.len, timeout_ms,
                                               cpy_call_cb, c);
        PyBuffer_Release(&view);
        return rc;
    }
    case CPY_PROMOTE:
        return craft_node_promote_learner(node, arg, timeout_ms, cpy_call_cb,
                                          c);
    case CPY_REMOVE:
        return craft_node_remove_peer(node, arg, timeout_ms, cpy_call_cb, c);
    case CPY_TRANSFER:
        return craft_node_transfer_leadership(node, arg, timeout_ms,
                                              cpy_call_cb, c);
    case CPY_SNAPSHOT:
        return craft_node_trigger_snapshot(node, timeout_ms, cpy_call_cb, c);
    default:
        return CRAFT_EINVAL;
    }
}

/* Starts call c on n, unless n was freed (the node is shut down). */
static int cpy_call_start(cpy_node *n, struct cpy_call *c, int kind,
                          uint64_t arg, PyObject *obj, uint32_t timeout_ms)
{
    craft_node *node = cpy_node_enter(n);
    int rc;

    if (node == NULL) {
        return CRAFT_ESHUTDOWN;
    }
    rc = cpy_call_start_on(node, c, kind, arg, obj, timeout_ms);
    cpy_node_leave(n);
    return rc;
}

int cpy_call(cpy_node *n, int kind, uint64_t arg, PyObject *obj,
             uint32_t timeout_ms, cpy_queue *q, uint64_t token)
{
    struct cpy_call *c;
    int rc;

    if (n == NULL || q == NULL) {
        return CRAFT_EINVAL;
    }
    c = cpy_call_new(kind, n, 0);
    if (c == NULL) {
        return CRAFT_ENOMEM;
    }
    c->queue = q;
    c->token = token;
    atomic_fetch_add(&q->refs, 1);
    rc = cpy_call_start(n, c, kind, arg, obj, timeout_ms);
    if (rc != CRAFT_OK) {
        cpy_call_free(c);
        cpy_queue_unref(q);
    }
    return rc;
}

/* The outcome tuple of a finished call; takes value and exc. */
static PyObject *cpy_outcome(struct cpy_call *c, int with_token)
{
    PyObject *data, *t;

    if (c->has_data) {
        data = PyBytes_FromStringAndSize(c->data, (Py_ssize_t)c->len);
        if (data == NULL) {
            return NULL;
        }
    } else {
        data = Py_NewRef(Py_None);
    }
    if (c->value == NULL) {
        c->value = Py_NewRef(Py_None);
    }
    if (c->exc == NULL) {
        c->exc = Py_NewRef(Py_None);
    }
    if (with_token) {
        t = Py_BuildValue("KiKKKNNN", (unsigned long long)c->token, c->status,
                          (unsigned long long)c->index,
                          (unsigned long long)c->term,
                          (unsigned long long)c->leader, data, c->value,
                          c->exc);
    } else {
        t = Py_BuildValue("iKKKNNN", c->status, (unsigned long long)c->index,
                          (unsigned long long)c->term,
                          (unsigned long long)c->leader, data, c->value,
                          c->exc);
    }
    /* "N" stole the references, also on failure. */
    c->value = NULL;
    c->exc = NULL;
    return t;
}

PyObject *cpy_call_wait(cpy_node *n, int kind, uint64_t arg, PyObject *obj,
                        uint32_t timeout_ms)
{
    struct cpy_call *c;
    PyObject *t;
    int rc;

    if (n == NULL) {
        return Py_BuildValue("iKKKOOO", CRAFT_EINVAL, 0ULL, 0ULL, 0ULL,
                             Py_None, Py_None, Py_None);
    }
    c = cpy_call_new(kind, n, 1);
    if (c == NULL) {
        return PyErr_NoMemory();
    }
    rc = cpy_call_start(n, c, kind, arg, obj, timeout_ms);
    if (rc != CRAFT_OK) {
        cpy_call_free(c);
        return Py_BuildValue("iKKKOOO", rc, 0ULL, 0ULL, 0ULL, Py_None,
                             Py_None, Py_None);
    }
    for (;;) {
        int done;
        Py_BEGIN_ALLOW_THREADS
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100 * 1000 * 1000; /* wake to check for signals */
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&c->mu);
        while (!c->done) {
            if (pthread_cond_timedwait(&c->cv, &c->mu, &until) != 0) {
                break;
            }
        }
        done = c->done;
        pthread_mutex_unlock(&c->mu);
        Py_END_ALLOW_THREADS
        if (done) {
            break;
        }
        if (PyErr_CheckSignals() < 0) {
            pthread_mutex_lock(&c->mu);
            done = c->done;
            c->abandoned = !done;
            pthread_mutex_unlock(&c->mu);
            if (done) {
                /* It finished meanwhile: drop what it produced. */
                Py_CLEAR(c->value);
                Py_CLEAR(c->exc);
            }
            cpy_call_unref(c);
            return NULL;
        }
    }
    t = cpy_outcome(c, 0);
    cpy_call_unref(c);
    return t;
}

/* ---- completion queues ------------------------------------------------ */

int cpy_queue_create(cpy_queue **out)
{
    cpy_queue *q;
    int fds[2];

    if (out == NULL) {
        return CRAFT_EINVAL;
    }
    q = calloc(1, sizeof(*q));
    if (q == NULL) {
        return CRAFT_ENOMEM;
    }
    if (pipe(fds) != 0) {
        free(q);
        return CRAFT_EIO;
    }
    for (int k = 0; k < 2; k++) {
        int fl = fcntl(fds[k], F_GETFL);
        (void)fcntl(fds[k], F_SETFL, fl | O_NONBLOCK);
        (void)fcntl(fds[k], F_SETFD, FD_CLOEXEC);
    }
    if (pthread_mutex_init(&q->mu, NULL) != 0) {
        close(fds[0]);
        close(fds[1]);
        free(q);
        return CRAFT_ENOMEM;
    }
    q->rfd = fds[0];
    q->wfd = fds[1];
    atomic_init(&q->refs, 1);
    *out = q;
    return CRAFT_OK;
}

int cpy_queue_fd(cpy_queue *q)
{
    return q ? q->rfd : -1;
}

PyObject *cpy_queue_drain(cpy_queue *q)
{
    struct cpy_call *c, *next;
    PyObject *list;
    char buf[64];
    ssize_t r;

    if (q == NULL) {
        return PyList_New(0);
    }
    /* Empty the pipe first, then take the list: a completion queued after
     * the take writes a new byte (armed is cleared with the take). */
    do {
        r = read(q->rfd, buf, sizeof(buf));
    } while (r > 0 || (r < 0 && errno == EINTR));
    pthread_mutex_lock(&q->mu);
    c = q->head;
    q->head = q->tail = NULL;
    q->armed = 0;
    pthread_mutex_unlock(&q->mu);

    list = PyList_New(0);
    for (; c != NULL; c = next) {
        next = c->next;
        if (list != NULL) {
            PyObject *t = cpy_outcome(c, 1);
            if (t == NULL || PyList_Append(list, t) < 0) {
                Py_CLEAR(list);
            }
            Py_XDECREF(t);
        }
        cpy_call_free(c);
    }
    return list;
}

void cpy_queue_free(cpy_queue *q)
{
    struct cpy_call *c;

    if (q == NULL) {
        return;
    }
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    c = q->head;
    q->head = q->tail = NULL;
    pthread_mutex_unlock(&q->mu);
    while (c != NULL) {
        struct cpy_call *next = c->next;
        cpy_call_free(c);
        c = next;
    }
    cpy_queue_unref(q);
}

/* ---- storage in Python ------------------------------------------------- */

struct cpy_storage {
    PyObject *load, *save_hard_state, *append, *truncate, *sync,
        *snapshot_write, *snapshot_read, *report;
};

/* Calls fn(args...) built from fmt; returns the callback's code. */
#define CPY_STORAGE_ENTER(s)                                                  \
    PyGILState_STATE g_;                                                      \
    if (cpy_python_gone()) {                                                  \
        return CRAFT_EIO;                                                     \
    }                                                                         \
    g_ = cpy_gil_ensure()
#define CPY_STORAGE_LEAVE() PyGILState_Release(g_)

static int cpy_result_code(PyObject *r, PyObject *report, const char *where)
{
    if (r == NULL) {
        return cpy_report(report, where, 0);
    }
    Py_DECREF(r);
    return CRAFT_OK;
}

static int cpy_st_load(void *user, craft_loader *loader)
{
    struct cpy_storage *s = user;
    PyObject *p, *r = NULL;
    int rc;
    CPY_STORAGE_ENTER(s);
    p = cpy_ptr_loader(loader);
    if (p != NULL) {
        r = PyObject_CallOneArg(s->load, p);
        Py_DECREF(p);
    }
    rc = cpy_result_code(r, s->report, "storage.load");
    CPY_STORAGE_LEAVE();
    return rc;
}

static int cpy_st_save_hard_state(void *user, uint64_t term, uint64_t vote)
{
    struct cpy_storage *s = user;
    int rc;
    CPY_STORAGE_ENTER(s);
    rc = cpy_result_code(PyObject_CallFunction(s->save_hard_state, "KK",
                                               (unsigned long long)term,
                                               (unsigned long long)vote),
                         s->report, "storage.save_hard_state");
    CPY_STORAGE_LEAVE();
    return rc;
}

static int cpy_st_append(void *user, uint64_t index, uint64_t term,
                         uint32_t type, const void *data, size_t len)
{
    struct cpy_storage *s = user;
    int rc;
    CPY_STORAGE_ENTER(s);
    rc = cpy_result_code(
        PyObject_CallFunction(s->append, "KKIy#", (unsigned long long)index,
                              (unsigned long long)term, (unsigned int)type,
                              len ? (const char *)data : "", (Py_ssize_t)len),
        s->report, "storage.append");
    CPY_STORAGE_LEAVE();
    return rc;
}

static int cpy_st_truncate(void *user, uint64_t index)
{
    struct cpy_storage *s = user;
    int rc;
    CPY_STORAGE_ENTER(s);
    rc = cpy_result_code(PyObject_CallFunction(s->truncate, "K",
                                               (unsigned long long)index),
                         s->report, "storage.truncate");
    CPY_STORAGE_LEAVE();
    return rc;
}

static int cpy_st_sync(void *user)
{
    struct cpy_storage *s = user;
    int rc;
    CPY_STORAGE_ENTER(s);
    rc = cpy_result_code(PyObject_CallNoArgs(s->sync), s->report,
                         "storage.sync");
    CPY_STORAGE_LEAVE();
    return rc;
}

static int cpy_st_snapshot_write(void *user, uint64_t index, uint64_t term,
                                 uint64_t offset, const void *data,
                                 size_t len, const void *conf,
                                 size_t conf_len, uint32_t flags)
{
    struct cpy_storage *s = user;
    PyObject *conf_obj;
    int rc;
    CPY_STORAGE_ENTER(s);
    if (conf != NULL) {
        conf_obj = PyBytes_FromStringAndSize(conf, (Py_ssize_t)conf_len);
    } else {
        conf_obj = Py_NewRef(Py_None);
    }
    if (conf_obj == NULL) {
        rc = cpy_report(s->report, "storage.snapshot_write", 0);
    } else {
        rc = cpy_result_code(
            PyObject_CallFunction(s->snapshot_write, "KKKy#NO",
                                  (unsigned long long)index,
                                  (unsigned long long)term,
                                  (unsigned long long)offset,
                                  len ? (const char *)data : "",
                                  (Py_ssize_t)len, conf_obj,
                                  (flags & CRAFT_SNAPSHOT_F_LAST) ? Py_True
                                                                  : Py_False),
            s->report, "storage.snapshot_write");
    }
    CPY_STORAGE_LEAVE();
    return rc;
}

static int cpy_st_snapshot_read(void *user, uint64_t index, uint64_t offset,
                                void *buf, size_t count, size_t *n,
                                int *last)
{
    struct cpy_storage *s = user;
    PyObject *r, *chunk = NULL, *flag = NULL;
    int rc = CRAFT_OK;
    CPY_STORAGE_ENTER(s);
    r = PyObject_CallFunction(s->snapshot_read, "KKn",
                              (unsigned long long)index,
                              (unsigned long long)offset, (Py_ssize_t)count);
    if (r == NULL) {
        rc = cpy_report(s->report, "storage.snapshot_read", 0);
        goto out;
    }
    if (!PyArg_ParseTuple(r, "OO;snapshot_read() must return (bytes, last)",
                          &chunk, &flag)) {
        rc = cpy_report(s->report, "storage.snapshot_read", 0);
        goto out;
    }
    {
        Py_buffer view;
        int truth;
        if (PyObject_GetBuffer(chunk, &view, PyBUF_SIMPLE) != 0) {
            rc = cpy_report(s->report, "storage.snapshot_read", 0);
            goto out;
        }
        if ((size_t)view.len > count) {
            PyBuffer_Release(&view);
            PyErr_SetString(PyExc_ValueError,
                            "snapshot_read() returned more than count bytes");
            rc = cpy_report(s->report, "storage.snapshot_read", 0);
            goto out;
        }
        memcpy(buf, view.buf, (size_t)view.len);
        *n = (size_t)view.len;
        PyBuffer_Release(&view);
        truth = PyObject_IsTrue(flag);
        if (truth < 0) {
            rc = cpy_report(s->report, "storage.snapshot_read", 0);
            goto out;
        }
        *last = truth;
    }
out:
    Py_XDECREF(r);
    CPY_STORAGE_LEAVE();
    return rc;
}

static void cpy_storage_clear(struct cpy_storage *s)
{
    Py_CLEAR(s->load);
    Py_CLEAR(s->save_hard_state);
    Py_CLEAR(s->append);
    Py_CLEAR(s->truncate);
    Py_CLEAR(s->sync);
    Py_CLEAR(s->snapshot_write);
    Py_CLEAR(s->snapshot_read);
    Py_CLEAR(s->report);
}

int cpy_storage_create(PyObject *obj, PyObject *report, cpy_storage **out)
{
    struct cpy_storage *s;

    if (obj == NULL || report == NULL || out == NULL) {
        return CRAFT_EINVAL;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return CRAFT_ENOMEM;
    }
    s->load = cpy_attr(obj, "load");
    s->save_hard_state = cpy_attr(obj, "save_hard_state");
    s->append = cpy_attr(obj, "append");
    s->truncate = cpy_attr(obj, "truncate");
    s->sync = cpy_attr(obj, "sync");
    s->snapshot_write = cpy_attr(obj, "snapshot_write");
    s->snapshot_read = cpy_attr(obj, "snapshot_read");
    s->report = Py_NewRef(report);
    if (s->load == NULL || s->save_hard_state == NULL || s->append == NULL ||
        s->truncate == NULL || s->snapshot_write == NULL ||
        s->snapshot_read == NULL) {
        cpy_storage_clear(s);
        free(s);
        return CRAFT_EINVAL;
    }
    *out = s;
    return CRAFT_OK;
}

int cpy_storage_ops(cpy_storage *s, craft_storage_ops *ops)
{
    if (s == NULL || ops == NULL) {
        return CRAFT_EINVAL;
    }
    ops->user = s;
    ops->load = cpy_st_load;
    ops->save_hard_state = cpy_st_save_hard_state;
    ops->append = cpy_st_append;
    ops->truncate = cpy_st_truncate;
    ops->sync = s->sync ? cpy_st_sync : NULL;
    ops->snapshot_write = cpy_st_snapshot_write;
    ops->snapshot_read = cpy_st_snapshot_read;
    return CRAFT_OK;
}

void cpy_storage_free(cpy_storage *s)
{
    if (s == NULL) {
        return;
    }
    cpy_storage_clear(s);
    free(s);
}

/* ---- transport in Python ------------------------------------------------ */

struct cpy_transport {
    PyObject *send, *report;
};

static int cpy_tr_send(void *user, uint64_t peer, const void *data,
                       size_t len)
{
    struct cpy_transport *t = user;
    PyObject *r;
    int rc;
    PyGILState_STATE g;

    if (cpy_python_gone()) {
        return CRAFT_EIO;
    }
    g = cpy_gil_ensure();
    r = PyObject_CallFunction(t->send, "Ky#", (unsigned long long)peer,
                              (const char *)data, (Py_ssize_t)len);
    rc = cpy_result_code(r, t->report, "transport.send");
    PyGILState_Release(g);
    return rc;
}

int cpy_transport_create(PyObject *obj, PyObject *report,
                         cpy_transport **out)
{
    struct cpy_transport *t;

    if (obj == NULL || report == NULL || out == NULL) {
        return CRAFT_EINVAL;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return CRAFT_ENOMEM;
    }
    t->send = cpy_attr(obj, "send");
    t->report = Py_NewRef(report);
    if (t->send == NULL) {
        Py_CLEAR(t->report);
        free(t);
        return CRAFT_EINVAL;
    }
    *out = t;
    return CRAFT_OK;
}

int cpy_transport_ops(cpy_transport *t, craft_transport_ops *ops)
{
    if (t == NULL || ops == NULL) {
        return CRAFT_EINVAL;
    }
    ops->user = t;
    ops->send = cpy_tr_send;
    return CRAFT_OK;
}

void cpy_transport_free(cpy_transport *t)
{
    if (t == NULL) {
        return;
    }
    Py_CLEAR(t->send);
    Py_CLEAR(t->report);
    free(t);
}

/* ---- the file storage ------------------------------------------------- */

struct cpy_trace_sink {
    PyObject *trace, *report;
    uint64_t id;
};

static void cpy_sink_trace(void *user, const craft_trace_event *ev)
{
    struct cpy_trace_sink *t = user;
    cpy_trace_emit(t->trace, t->report, t->id, ev);
}

int cpy_trace_sink_create(PyObject *trace, PyObject *report, uint64_t id,
                          cpy_trace_sink **out)
{
    struct cpy_trace_sink *t;
    if (trace == NULL || report == NULL || out == NULL) {
        return CRAFT_EINVAL;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return CRAFT_ENOMEM;
    }
    t->trace = Py_NewRef(trace);
    t->report = Py_NewRef(report);
    t->id = id;
    *out = t;
    return CRAFT_OK;
}

void cpy_trace_sink_free(cpy_trace_sink *t)
{
    if (t == NULL) {
        return;
    }
    Py_CLEAR(t->trace);
    Py_CLEAR(t->report);
    free(t);
}

PyObject *cpy_file_storage_open(const char *dir,
                                craft_file_storage_options *opts,
                                cpy_trace_sink *sink)
{
    char msg[1024];
    craft_file_storage *fs = NULL;
    PyObject *p;
    int rc;

    if (opts == NULL) {
        return Py_BuildValue("iOs", CRAFT_EINVAL, Py_None, "");
    }
    msg[0] = '\0';
    opts->errbuf = msg;
    opts->errbuf_size = sizeof(msg);
    if (sink != NULL) {
        opts->trace = cpy_sink_trace;
        opts->trace_user = sink;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = craft_file_storage_open(dir, opts, &fs);
    Py_END_ALLOW_THREADS
    opts->errbuf = NULL;
    opts->errbuf_size = 0;
    opts->trace = NULL;
    opts->trace_user = NULL;
    if (rc != CRAFT_OK) {
        return Py_BuildValue("iOs", rc, Py_None, msg);
    }
    p = cpy_ptr_file_storage(fs);
    if (p == NULL) {
        craft_file_storage_close(fs);
        return NULL;
    }
    return Py_BuildValue("iNs", rc, p, "");
}

int cpy_tcp_options_trace(craft_tcp_options *opts, cpy_trace_sink *sink)
{
    if (opts == NULL || sink == NULL) {
        return CRAFT_EINVAL;
    }
    opts->trace = cpy_sink_trace;
    opts->trace_user = sink;
    return CRAFT_OK;
}

/* ---- the C driver of bench.py -------------------------------------------- */

struct cpy_bench {
    craft_node *node;
    atomic_int stop;
    atomic_long outstanding;
    atomic_ullong done;
    uint32_t len;
    unsigned char payload[4096];
};

static void cpy_bench_cb(void *ctx, const craft_result *res)
{
    struct cpy_bench *b = ctx;
    if (craft_result_status(res) == CRAFT_OK) {
        atomic_fetch_add(&b->done, 1);
    }
    if (!atomic_load(&b->stop) &&
        craft_node_propose(b->node, b->payload, b->len, 0, cpy_bench_cb, b) ==
            CRAFT_OK) {
        return;
    }
    atomic_fetch_sub(&b->outstanding, 1);
}

int cpy_bench_drive(craft_node *node, uint32_t outstanding,
                    uint32_t duration_ms, uint32_t payload, uint64_t *done)
{
    struct cpy_bench *b;
    struct timespec d;
    uint64_t n;

    if (node == NULL || done == NULL || outstanding == 0) {
        return CRAFT_EINVAL;
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return CRAFT_ENOMEM;
    }
    b->node = node;
    b->len = payload < sizeof(b->payload) ? payload : sizeof(b->payload);
    memset(b->payload, 'x', b->len);
    Py_BEGIN_ALLOW_THREADS
    for (uint32_t k = 0; k < outstanding; k++) {
        atomic_fetch_add(&b->outstanding, 1);
        if (craft_node_propose(node, b->payload, b->len, 0, cpy_bench_cb, b) !=
            CRAFT_OK) {
            atomic_fetch_sub(&b->outstanding, 1);
        }
    }
    d.tv_sec = duration_ms / 1000;
    d.tv_nsec = (long)(duration_ms % 1000) * 1000000L;
    while (nanosleep(&d, &d) != 0 && errno == EINTR) {
    }
    n = atomic_load(&b->done);
    atomic_store(&b->stop, 1);
    d.tv_sec = 0;
    d.tv_nsec = 1000000L;
    while (atomic_load(&b->outstanding) > 0) {
        nanosleep(&d, NULL);
    }
    Py_END_ALLOW_THREADS
    free(b);
    *done = n;
    return CRAFT_OK;
}
