/*
 * glue.h: the hand-written C between libcraft's callbacks and Python.
 *
 * It is compiled into the extension next to the wrapper SWIG generates
 * from craft.i, and SWIG wraps the cpy_* declarations below exactly as it
 * wraps the public headers, so Python reaches both through one module,
 * craft.lowlevel. Everything here exists because a C callback cannot be a
 * Python function: each table of callbacks (state machine, storage,
 * transport, trace, completion) gets trampolines that take the GIL, call
 * Python and turn an exception into the callback's error code.
 *
 * GIL rules (craft.i marks which wrappers keep the GIL):
 *  - every trampoline runs on a craft thread without the GIL and takes it
 *    with PyGILState_Ensure() for as long as it touches Python, and not at
 *    all once the interpreter is finalizing (it then fails the callback);
 *  - every cpy_* function that can wait (create, start, shutdown, free,
 *    a blocking call) releases the GIL while it waits;
 *  - completions of asynchronous calls take no GIL: they are queued in C
 *    and a byte written to a pipe wakes the event loop, which collects
 *    every completion in one call (cpy_queue_drain).
 */
#ifndef CRAFT_PY_GLUE_H
#define CRAFT_PY_GLUE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "craft.h"
#include "craft/testing.h"

typedef struct cpy_node cpy_node;
typedef struct cpy_queue cpy_queue;
typedef struct cpy_storage cpy_storage;
typedef struct cpy_transport cpy_transport;
typedef struct cpy_counter cpy_counter;
typedef struct cpy_trace_sink cpy_trace_sink;

/* The asynchronous calls cpy_call and cpy_call_wait make. */
enum cpy_call_kind {
    CPY_PROPOSE = 1,   /* obj: bytes-like payload */
    CPY_READ = 2,      /* obj: fn(target) run on the apply thread, or None */
    CPY_ADD_PEER = 3,  /* arg: peer id (also below); obj: its address
                          (bytes-like) or None */
    CPY_ADD_LEARNER = 4,
    CPY_PROMOTE = 5,
    CPY_REMOVE = 6,
    CPY_TRANSFER = 7,
    CPY_SNAPSHOT = 8
};

/*
 * Creates a node from opts (storage and transport set by the caller; the
 * fsm table and the trace callback are set here, then reset) and hooks, a
 * Python object whose attributes are read once:
 *   apply(index, term, data) -> bytes-like | None     (the fsm's, bound)
 *   snapshot(index, term, writer) | None              writer: a pointer
 *   restore(index, term, reader) | None               reader: a pointer
 *   report(where, node_id, exc) -> int                logs exc, returns
 *                                                      the error code
 *   trace(node_id, level, target, name, fields) | None
 *   target                                             handed to read fns
 *   trace_stderr (optional, truthy)                    with trace None:
 *                                                      craft_trace_stderr
 * When native is not NULL it is the state machine instead (apply,
 * snapshot and restore of hooks are then not used).
 * Releases the GIL while craft_node_create_msg runs (storage load); on
 * error buf (cap bytes) gets its one-line message.
 */
int cpy_node_create(craft_node_options *opts, PyObject *hooks,
                    cpy_counter *native, cpy_node **out, char *buf,
                    size_t cap);

/*
 * A state machine written in C: it counts the entries it applied, and
 * apply's result is the new count (8 bytes, little-endian). For
 * benchmarks and tests of the binding without Python in the apply path.
 * The value may be read from any thread. Free it once no node uses it.
 */
int cpy_counter_create(cpy_counter **out);
uint64_t cpy_counter_value(cpy_counter *c);
void cpy_counter_free(cpy_counter *c);
/*
 * A node's lifetime. Python may call cpy_node_free_node() on one thread
 * while another is inside a call on the same node, so every use of the
 * craft_node that releases the GIL is bracketed: cpy_node_enter() returns
 * the craft_node (NULL once it was freed: the node is shut down) and
 * cpy_node_leave() ends the use; cpy_node_free_node() waits for the uses
 * in flight, frees the craft_node (shutting it down if needed) and drops
 * the Python references, all with the GIL released but the last step.
 * cpy_node_destroy() frees what is left. cpy_node_shutdown() is
 * craft_node_shutdown() with the GIL released.
 */
craft_node *cpy_node_enter(cpy_node *n);
void cpy_node_leave(cpy_node *n);
int cpy_node_shutdown(cpy_node *n);
int cpy_node_free_node(cpy_node *n);
void cpy_node_destroy(cpy_node *n);

/*
 * Starts an asynchronous call whose completion goes to q with token. It
 * returns the call's error (the completion then never comes) or
 * CRAFT_OK. Keeps the GIL: it never waits.
 */
int cpy_call(cpy_node *n, int kind, uint64_t arg, PyObject *obj,
             uint32_t timeout_ms, cpy_queue *q, uint64_t token);
/*
 * Makes the call and waits for it with the GIL released. Returns the
 * tuple (status, index, term, leader, data, value, exc): data the apply
 * result (bytes or None), value what a read's fn returned, exc what it
 * raised (or None). NULL with an exception set when a signal handler
 * raised while waiting (the call then completes unobserved).
 */
PyObject *cpy_call_wait(cpy_node *n, int kind, uint64_t arg, PyObject *obj,
                        uint32_t timeout_ms);

/*
 * A completion queue, one per event loop: cpy_queue_fd() becomes readable
 * when completions are waiting; cpy_queue_drain() returns them as a list
 * of (token, status, index, term, leader, data, value, exc) tuples.
 * cpy_queue_free() drops the owner's reference: completions still in
 * flight are discarded when they arrive.
 */
int cpy_queue_create(cpy_queue **out);
int cpy_queue_fd(cpy_queue *q);
PyObject *cpy_queue_drain(cpy_queue *q);
void cpy_queue_free(cpy_queue *q);

/*
 * A storage written in Python: obj has the methods load(loader),
 * save_hard_state(term, vote), append(index, term, type, data),
 * truncate(index), sync() (or sync = None), snapshot_write(index, term,
 * offset, data, conf, last), snapshot_read(index, offset, count) ->
 * (bytes, last). report as for cpy_node_create. cpy_storage_ops fills an
 * initialised craft_storage_ops. Free only once no node uses it.
 */
int cpy_storage_create(PyObject *obj, PyObject *report, cpy_storage **out);
int cpy_storage_ops(cpy_storage *s, craft_storage_ops *ops);
void cpy_storage_free(cpy_storage *s);

/* A transport written in Python: obj.send(peer, data). */
int cpy_transport_create(PyObject *obj, PyObject *report,
                         cpy_transport **out);
int cpy_transport_ops(cpy_transport *t, craft_transport_ops *ops);
void cpy_transport_free(cpy_transport *t);

/*
 * The file storage (craft/storage.h). cpy_file_storage_open opens dir
 * with opts (GIL released: recovery reads the whole log) and returns
 * (rc, storage or None, message): the detailed message of a failed open.
 * sink, if not NULL, receives the storage's trace events: a trace sink
 * calls trace(node_id, level, target, name, fields) like a node's hooks;
 * it must outlive the storage.
 */
int cpy_trace_sink_create(PyObject *trace, PyObject *report, uint64_t id,
                          cpy_trace_sink **out);
void cpy_trace_sink_free(cpy_trace_sink *t);
PyObject *cpy_file_storage_open(const char *dir,
                                craft_file_storage_options *opts,
                                cpy_trace_sink *sink);

/*
 * Routes the trace events of the TCP transport that will be created with
 * opts to sink (which must outlive the transport: free it after
 * craft_tcp_free). CRAFT_EINVAL on NULL.
 */
int cpy_tcp_options_trace(craft_tcp_options *opts, cpy_trace_sink *sink);

/*
 * The same cluster driven from C, for bench.py: keeps `outstanding`
 * proposals of `payload` bytes in flight at node (each completion
 * proposes again, from the apply thread) for duration_ms, then waits for
 * the last ones. *done: proposals completed OK within the window.
 * Runs with the GIL released.
 */
int cpy_bench_drive(craft_node *node, uint32_t outstanding,
                    uint32_t duration_ms, uint32_t payload, uint64_t *done);

/* Calls (blocking or asynchronous) allocated and not yet freed, in the
 * whole process: for the leak test. */
long cpy_live_calls(void);

/* Pointer objects of the SWIG runtime, defined in craft.i. */
PyObject *cpy_ptr_writer(craft_snapshot_writer *w);
PyObject *cpy_ptr_reader(craft_snapshot_reader *r);
PyObject *cpy_ptr_loader(craft_loader *l);
PyObject *cpy_ptr_file_storage(craft_file_storage *fs);

#endif /* CRAFT_PY_GLUE_H */
