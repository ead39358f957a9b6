/*
 * tests/ffi/test_ffi.c: libcraft driven the way a foreign binding (Python
 * ctypes/cffi, Go purego, Rust libloading, a host app's plugin loader)
 * drives it.
 *
 *  - This program is NOT linked against libcraft: it dlopen()s
 *    "libcraft.so.1" (LD_LIBRARY_PATH points at the build directory) and
 *    resolves every function with dlsym(). A direct call to a craft_*
 *    function would not even link. The headers are used only for what a
 *    binding copies from them: macros, enum values and struct layouts.
 *  - Every call goes through ffi_call with an ffi_cif prepared from a
 *    signature string (ci(), cU(), cz(), cp(), cv() below).
 *  - Every callback the library invokes (fsm apply/snapshot/restore,
 *    transport send, trace, completion and read callbacks) is an
 *    ffi_closure made with ffi_closure_alloc + ffi_prep_closure_loc, and
 *    freed with ffi_closure_free once no node can call it any more.
 *  - Ownership rules of craft.h, as a binding must follow them: a buffer
 *    passed in (propose, propose_wait, bootstrap ids, option structs) is
 *    overwritten and freed as soon as the call returns; bytes the library
 *    hands to a callback (apply payload, apply result in a completion,
 *    trace strings) are only valid during that callback, so the closures
 *    copy them there and the checks run on the copies afterwards.
 *
 * ck_assert is only used on the test's own thread: closures run on the
 * node's driver and apply threads, so they record what they saw (under a
 * mutex) and the test thread checks it.
 *
 * The list of functions to resolve (ffi_symbols.h) is generated at build
 * time from the CRAFT_API declarations of include/ by gen-symbols.sh.
 */
#define _GNU_SOURCE /* dlvsym */
#include <dlfcn.h>
#include <ffi.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "craft.h"
#include "craft/testing.h"
#include "ffi_symbols.h"

#define LIBNAME "libcraft.so." CRAFT_STR(CRAFT_ABI_VERSION)
#define CRAFT_STR(x) CRAFT_STR2(x)
#define CRAFT_STR2(x) #x

/* Generous: valgrind makes everything 20-50 times slower. */
#define WAIT_MS 30000

/* ---- loading ---------------------------------------------------------- */

static void *lib;           /* the dlopen handle, per test */
static int preloaded = -1;  /* was libcraft mapped before any dlopen? */

static void lib_open(void)
{
    lib = dlopen(LIBNAME, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(lib != NULL, "dlopen(%s): %s (is LD_LIBRARY_PATH set?)",
                  LIBNAME, dlerror());
}

static void lib_close(void)
{
    if (lib != NULL) {
        dlclose(lib);
        lib = NULL;
    }
}

static void *sym(const char *name)
{
    void *p = lib != NULL ? dlsym(lib, name) : NULL;
    if (p == NULL) {
        /* Possibly on a library thread: no ck_assert here. The symbols
         * test reports a missing name properly. */
        fprintf(stderr, "test_ffi: cannot resolve %s\n", name);
        abort();
    }
    return p;
}

/* ---- calls through ffi_call --------------------------------------------
 *
 * A signature is a string of type letters, the return type first:
 *   v void   i int   u uint32_t   U uint64_t   z size_t   p any pointer
 * e.g. craft_node_propose is "ippzupp". Arguments are passed to ci() & co
 * as: i int, u unsigned, U uint64_t, z size_t, p a pointer (void *).
 */

#define FFI_MAXARGS 10

typedef union {
    ffi_arg a;
    ffi_sarg s;
    uint64_t u64;
    void *p;
} fret;

static ffi_type *type_of(char c)
{
    switch (c) {
    case 'v': return &ffi_type_void;
    case 'i': return &ffi_type_sint;
    case 'u': return &ffi_type_uint32;
    case 'U': return &ffi_type_uint64;
    case 'z': return sizeof(size_t) == 8 ? &ffi_type_uint64
                                         : &ffi_type_uint32;
    case 'p': return &ffi_type_pointer;
    default:
        fprintf(stderr, "test_ffi: bad type letter '%c'\n", c);
        abort();
    }
}

static fret vfcall_fn(void *fn, const char *sig, va_list ap)
{
    ffi_cif cif;
    ffi_type *types[FFI_MAXARGS];
    union {
        int i;
        uint32_t u;
        uint64_t U;
        size_t z;
        void *p;
    } vals[FFI_MAXARGS];
    void *avalues[FFI_MAXARGS];
    unsigned n = (unsigned)strlen(sig) - 1;
    fret ret;

    if (n > FFI_MAXARGS) {
        abort();
    }
    for (unsigned k = 0; k < n; k++) {
        char c = sig[k + 1];
        types[k] = type_of(c);
        switch (c) {
        case 'i': vals[k].i = va_arg(ap, int); break;
        case 'u': vals[k].u = (uint32_t)va_arg(ap, unsigned); break;
        case 'U': vals[k].U = va_arg(ap, uint64_t); break;
        case 'z': vals[k].z = va_arg(ap, size_t); break;
        case 'p': vals[k].p = va_arg(ap, void *); break;
        default: abort();
        }
        avalues[k] = &vals[k];
    }
    if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, n, type_of(sig[0]), types) !=
        FFI_OK) {
        fprintf(stderr, "test_ffi: ffi_prep_cif failed for %s\n", sig);
        abort();
    }
    memset(&ret, 0, sizeof(ret));
    ffi_call(&cif, FFI_FN(fn), &ret, avalues);
    return ret;
}

/* Typed shorthands; the return letter of sig must match. Integral
 * returns narrower than ffi_arg come back widened in an ffi_arg. */
#define CALL_BODY(name, sig)                                                  \
    va_list ap;                                                               \
    va_start(ap, sig);                                                        \
    fret r = vfcall_fn(sym(name), sig, ap);                                   \
    va_end(ap)

static int ci(const char *name, const char *sig, ...)
{
    CALL_BODY(name, sig);
    return (int)r.s;
}

static uint64_t cU(const char *name, const char *sig, ...)
{
    CALL_BODY(name, sig);
    return r.u64;
}

static size_t cz(const char *name, const char *sig, ...)
{
    CALL_BODY(name, sig);
    return sizeof(size_t) == 8 ? (size_t)r.u64 : (size_t)r.a;
}

static void *cp(const char *name, const char *sig, ...)
{
    CALL_BODY(name, sig);
    return r.p;
}

static void cv(const char *name, const char *sig, ...)
{
    CALL_BODY(name, sig);
    (void)r;
}

/* Calls a function pointer the library handed out (e.g. the hub's send). */
static int ci_fn(void *fn, const char *sig, ...)
{
    va_list ap;
    va_start(ap, sig);
    fret r = vfcall_fn(fn, sig, ap);
    va_end(ap);
    return (int)r.s;
}

static const char *errname(int code)
{
    return cp("craft_strerror", "pi", code);
}

#define ck_craft_eq(expr, want)                                               \
    do {                                                                      \
        int got_ = (expr);                                                    \
        int want_ = (want);                                                   \
        ck_assert_msg(got_ == want_, "%s: got %d (%s), want %d (%s)", #expr,  \
                      got_, errname(got_), want_, errname(want_));            \
    } while (0)

/* ---- closures ----------------------------------------------------------- */

typedef void (*tramp_fn)(ffi_cif *cif, void *ret, void **args, void *user);

struct closure {
    ffi_closure *cl;
    void *code; /* the executable address handed to the library */
    ffi_cif cif;
    ffi_type *types[FFI_MAXARGS];
};

/* sig as for ci(). */
static void closure_make(struct closure *c, const char *sig, tramp_fn fn,
                         void *user)
{
    unsigned n = (unsigned)strlen(sig) - 1;
    ck_assert_uint_le(n, FFI_MAXARGS);
    for (unsigned k = 0; k < n; k++) {
        c->types[k] = type_of(sig[k + 1]);
    }
    c->cl = ffi_closure_alloc(sizeof(ffi_closure), &c->code);
    ck_assert_ptr_nonnull(c->cl);
    ck_assert_int_eq(ffi_prep_cif(&c->cif, FFI_DEFAULT_ABI, n,
                                  type_of(sig[0]), c->types),
                     FFI_OK);
    ck_assert_int_eq(ffi_prep_closure_loc(c->cl, &c->cif, fn, user, c->code),
                     FFI_OK);
}

static void closure_free(struct closure *c)
{
    if (c->cl != NULL) {
        ffi_closure_free(c->cl);
        c->cl = NULL;
        c->code = NULL;
    }
}

/* A closure's return of an int (narrower than ffi_arg: widened). */
static void ret_int(void *ret, int v)
{
    *(ffi_sarg *)ret = (ffi_sarg)v;
}

/* Function pointer from a closure's code address (what a binding does). */
#define FNPTR(type, c) ((type)(c).code)

/* ---- time --------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int k = 0; k < 8; k++) {
        p[k] = (unsigned char)(v >> (8 * k));
    }
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) {
        v |= (uint64_t)p[k] << (8 * k);
    }
    return v;
}

/* Payloads: PAYLOAD bytes, the value then a pattern derived from it. */
#define PAYLOAD 64
static void payload_fill(unsigned char *p, uint64_t v)
{
    put_u64(p, v);
    for (int k = 8; k < PAYLOAD; k++) {
        p[k] = (unsigned char)(v * 7u + (unsigned)k);
    }
}

static int payload_ok(const unsigned char *p, size_t len)
{
    if (len != PAYLOAD) {
        return 0;
    }
    uint64_t v = get_u64(p);
    for (int k = 8; k < PAYLOAD; k++) {
        if (p[k] != (unsigned char)(v * 7u + (unsigned)k)) {
            return 0;
        }
    }
    return 1;
}

/* ---- a node: its state machine, transport and trace closures ---------- */

struct fnode {
    uint64_t id;
    void *node;                 /* craft_node * */
    void *ms;                   /* craft_mem_storage * */
    craft_transport_ops hub_tr; /* the hub's send, wrapped by ours */
    struct closure apply, snapshot, restore, send, trace;

    pthread_mutex_t mu; /* everything below */
    uint64_t last, count, sum;
    unsigned char result[8];
    unsigned char lastdata[PAYLOAD]; /* copy of the last payload applied */
    size_t lastlen;
    int bad;        /* contract violations seen inside callbacks */
    int snapshots, restores;
    uint64_t sends;
    int trace_events;
    uint32_t trace_seen; /* bit id: event id seen */
};

static void fnode_bad(struct fnode *n, const char *what)
{
    fprintf(stderr, "node %llu: %s\n", (unsigned long long)n->id, what);
    n->bad++;
}

/* int apply(void *user, uint64_t index, uint64_t term, const void *data,
 *           size_t len, const void **result, size_t *result_len) */
static void apply_tramp(ffi_cif *cif, void *ret, void **args, void *user)
{
    struct fnode *n = user;
    void *u = *(void **)args[0];
    uint64_t index = *(uint64_t *)args[1];
    const unsigned char *data = *(const unsigned char **)args[3];
    size_t len = *(size_t *)args[4];
    const void **result = *(const void ***)args[5];
    size_t *result_len = *(size_t **)args[6];
    (void)cif;

    pthread_mutex_lock(&n->mu);
    if (u != n) {
        fnode_bad(n, "apply: wrong user pointer");
    }
    if (index <= n->last) {
        fnode_bad(n, "apply: out of order");
    }
    n->last = index;
    /* data is borrowed for this call only: check and copy it now. */
    if (!payload_ok(data, len)) {
        fnode_bad(n, "apply: payload bytes differ from the proposal");
    } else {
        memcpy(n->lastdata, data, len);
        n->lastlen = len;
        n->sum += get_u64(data);
    }
    n->count++;
    put_u64(n->result, n->count);
    pthread_mutex_unlock(&n->mu);
    *result = n->result; /* borrowed by the node until the next callback */
    *result_len = sizeof(n->result);
    ret_int(ret, CRAFT_OK);
}

/* int snapshot(void *user, uint64_t index, uint64_t term,
 *              craft_snapshot_writer *w) */
static void snapshot_tramp(ffi_cif *cif, void *ret, void **args, void *user)
{
    struct fnode *n = user;
    uint64_t index = *(uint64_t *)args[1];
    void *w = *(void **)args[3];
    unsigned char buf[24];
    (void)cif;

    pthread_mutex_lock(&n->mu);
    if (index != n->last) {
        fnode_bad(n, "snapshot: not at the last applied index");
    }
    put_u64(buf, n->count);
    put_u64(buf + 8, n->sum);
    put_u64(buf + 16, n->last);
    n->snapshots++;
    pthread_mutex_unlock(&n->mu);
    /* Two pieces, to exercise the writer; the writer copies: scribble. */
    int rv = ci("craft_snapshot_writer_write", "ippz", w, (void *)buf,
                (size_t)10);
    memset(buf, 0xEE, 10);
    if (rv == CRAFT_OK) {
        rv = ci("craft_snapshot_writer_write", "ippz", w, (void *)(buf + 10),
                (size_t)14);
    }
    ret_int(ret, rv);
}

/* int restore(void *user, uint64_t index, uint64_t term,
 *             craft_snapshot_reader *r) */
static void restore_tramp(ffi_cif *cif, void *ret, void **args, void *user)
{
    struct fnode *n = user;
    uint64_t index = *(uint64_t *)args[1];
    void *r = *(void **)args[3];
    unsigned char buf[24];
    size_t got = 0, k = 0;
    (void)cif;

    do {
        int rv = ci("craft_snapshot_reader_read", "ippzp", r,
                    (void *)(buf + got), sizeof(buf) - got, (void *)&k);
        if (rv != CRAFT_OK) {
            ret_int(ret, rv);
            return;
        }
        got += k;
    } while (k > 0 && got < sizeof(buf));
    pthread_mutex_lock(&n->mu);
    if (got != sizeof(buf) || get_u64(buf + 16) != index) {
        fnode_bad(n, "restore: snapshot bytes wrong");
        pthread_mutex_unlock(&n->mu);
        ret_int(ret, CRAFT_ECORRUPT);
        return;
    }
    n->count = get_u64(buf);
    n->sum = get_u64(buf + 8);
    n->last = index;
    n->restores++;
    pthread_mutex_unlock(&n->mu);
    ret_int(ret, CRAFT_OK);
}

/* int send(void *user, uint64_t peer, const void *data, size_t len):
 * forwards to the hub's own send, through ffi_call on the pointer the
 * hub handed out. */
static void send_tramp(ffi_cif *cif, void *ret, void **args, void *user)
{
    struct fnode *n = user;
    uint64_t peer = *(uint64_t *)args[1];
    const void *data = *(const void **)args[2];
    size_t len = *(size_t *)args[3];
    (void)cif;

    int rv = ci_fn((void *)n->hub_tr.send, "ipUpz", n->hub_tr.user, peer,
                   (void *)data, len);
    pthread_mutex_lock(&n->mu);
    n->sends++;
    pthread_mutex_unlock(&n->mu);
    ret_int(ret, rv);
}

/* void trace(void *user, const craft_trace_event *ev) */
static void trace_tramp(ffi_cif *cif, void *ret, void **args, void *user)
{
    struct fnode *n = user;
    void *ev = *(void **)args[1];
    char name[64] = "", target[64] = "", key[32] = "";
    const char *s;
    const char *k = NULL;
    int type = 0;
    uint64_t u64 = 0;
    (void)cif;
    (void)ret;

    int id = ci("craft_trace_event_id", "ip", ev);
    int level = ci("craft_trace_event_level", "ip", ev);
    /* The strings are borrowed for the callback: copy them. */
    s = cp("craft_trace_event_name", "pp", ev);
    if (s != NULL) {
        snprintf(name, sizeof(name), "%s", s);
    }
    s = cp("craft_trace_event_target", "pp", ev);
    if (s != NULL) {
        snprintf(target, sizeof(target), "%s", s);
    }
    size_t nfields = cz("craft_trace_event_field_count", "zp", ev);
    int frv = ci("craft_trace_event_field", "ipzppppp", ev, (size_t)0,
                 (void *)&k, (void *)&type, (void *)&u64, NULL, NULL);
    if (frv == CRAFT_OK && k != NULL) {
        snprintf(key, sizeof(key), "%s", k);
    }
    const char *want_name = cp("craft_trace_name", "pi", id);
    const char *want_target = cp("craft_trace_target", "pi", id);

    pthread_mutex_lock(&n->mu);
    n->trace_events++;
    if (id >= 1 && id < 32) {
        n->trace_seen |= 1u << id;
    }
    if (want_name == NULL || strcmp(name, want_name) != 0 ||
        want_target == NULL || strcmp(target, want_target) != 0) {
        fnode_bad(n, "trace: name/target differ from craft_trace_name()");
    }
    if (level < CRAFT_TRACE_ERROR || level > CRAFT_TRACE_INFO) {
        fnode_bad(n, "trace: level above the configured one");
    }
    if (nfields < 1 || frv != CRAFT_OK || strcmp(key, "node_id") != 0 ||
        type != CRAFT_FIELD_U64 || u64 != n->id) {
        fnode_bad(n, "trace: first field is not node_id");
    }
    pthread_mutex_unlock(&n->mu);
}

static void fnode_init(struct fnode *n, uint64_t id)
{
    memset(n, 0, sizeof(*n));
    n->id = id;
    pthread_mutex_init(&n->mu, NULL);
    closure_make(&n->apply, "ipUUpzpp", apply_tramp, n);
    closure_make(&n->snapshot, "ipUUp", snapshot_tramp, n);
    closure_make(&n->restore, "ipUUp", restore_tramp, n);
    closure_make(&n->send, "ipUpz", send_tramp, n);
    closure_make(&n->trace, "vpp", trace_tramp, n);
}

static void fnode_destroy(struct fnode *n)
{
    closure_free(&n->apply);
    closure_free(&n->snapshot);
    closure_free(&n->restore);
    closure_free(&n->send);
    closure_free(&n->trace);
    pthread_mutex_destroy(&n->mu);
}

static uint64_t fnode_sum(struct fnode *n)
{
    pthread_mutex_lock(&n->mu);
    uint64_t s = n->sum;
    pthread_mutex_unlock(&n->mu);
    return s;
}

/* ---- completion and read callbacks ------------------------------------- */

struct waiter {
    pthread_mutex_t mu;
    int calls;
    int status;
    uint64_t index, term, leader;
    unsigned char data[16]; /* copy of craft_result_data */
    size_t len;
    int data_rv;
    /* read callbacks: the state machine seen inside the callback */
    struct fnode *fsm;
    uint64_t read_sum;
    /* when set: a blocking call on this node from inside the callback */
    void *probe;
    int probe_rv;
};

static void waiter_init(struct waiter *w)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->mu, NULL);
    w->probe_rv = 1;
}

static void waiter_destroy(struct waiter *w)
{
    pthread_mutex_destroy(&w->mu);
}

/* void cb(void *ctx, const craft_result *res) */
static void done_tramp(ffi_cif *cif, void *ret, void **args, void *user)
{
    struct waiter *w = *(void **)args[0];
    void *res = *(void **)args[1];
    const void *data = NULL;
    size_t len = 0;
    (void)cif;
    (void)ret;
    (void)user;

    int status = ci("craft_result_status", "ip", res);
    uint64_t index = cU("craft_result_index", "Up", res);
    uint64_t term = cU("craft_result_term", "Up", res);
    uint64_t leader = cU("craft_result_leader", "Up", res);
    int drv = ci("craft_result_data", "ippp", res, (void *)&data,
                 (void *)&len);
    int probe_rv = 1;
    if (w->probe != NULL) {
        void *st = NULL;
        probe_rv = ci("craft_node_status", "ipp", w->probe, (void *)&st);
        if (st != NULL) {
            cv("craft_status_free", "vp", st);
        }
    }
    uint64_t read_sum = w->fsm != NULL ? fnode_sum(w->fsm) : 0;

    pthread_mutex_lock(&w->mu);
    w->calls++;
    w->status = status;
    w->index = index;
    w->term = term;
    w->leader = leader;
    w->data_rv = drv;
    /* Borrowed for the callback: copy. */
    w->len = len;
    if (data != NULL && len <= sizeof(w->data)) {
        memcpy(w->data, data, len);
    }
    w->probe_rv = probe_rv;
    w->read_sum = read_sum;
    pthread_mutex_unlock(&w->mu);
}

/* Waits for the callback; returns its status. */
static int waiter_wait(struct waiter *w)
{
    int64_t end = now_ms() + WAIT_MS;
    pthread_mutex_lock(&w->mu);
    while (w->calls == 0 && now_ms() < end) {
        pthread_mutex_unlock(&w->mu);
        sleep_ms(2);
        pthread_mutex_lock(&w->mu);
    }
    int calls = w->calls, status = w->status;
    pthread_mutex_unlock(&w->mu);
    ck_assert_msg(calls == 1, "callback ran %d times", calls);
    return status;
}

/* ---- clusters ------------------------------------------------------------ */

#define NMAX 3

struct fcluster {
    int n;
    void *hub; /* craft_hub * */
    struct fnode nodes[NMAX];
    struct closure done; /* completion callbacks */
    struct closure read; /* read_linearizable callbacks */
};

static void fc_init(struct fcluster *c, int n)
{
    memset(c, 0, sizeof(*c));
    c->n = n;
    ck_craft_eq(ci("craft_hub_create", "ipp", NULL, (void *)&c->hub),
                CRAFT_OK);
    for (int k = 0; k < n; k++) {
        fnode_init(&c->nodes[k], (uint64_t)k + 1);
    }
    closure_make(&c->done, "vpp", done_tramp, NULL);
    closure_make(&c->read, "vpp", done_tramp, NULL);
}

/* Creates (on its storage, made if needed), bootstraps when asked,
 * attaches and starts node k. Every struct passed in is on the stack and
 * scribbled over right after the call that takes it. */
static void fc_launch(struct fcluster *c, int k, int bootstrap)
{
    struct fnode *n = &c->nodes[k];
    craft_storage_ops st;
    craft_transport_ops tr;
    craft_fsm_ops fsm;
    craft_node_options o;

    if (n->ms == NULL) {
        ck_craft_eq(ci("craft_mem_storage_create", "ipp", NULL,
                       (void *)&n->ms),
                    CRAFT_OK);
    }
    ck_craft_eq(ci("craft_storage_ops_init", "ip", (void *)&st), CRAFT_OK);
    ck_craft_eq(ci("craft_mem_storage_ops", "ipp", n->ms, (void *)&st),
                CRAFT_OK);
    ck_craft_eq(ci("craft_transport_ops_init", "ip", (void *)&n->hub_tr),
                CRAFT_OK);
    ck_craft_eq(ci("craft_hub_transport", "ipUp", c->hub, n->id,
                   (void *)&n->hub_tr),
                CRAFT_OK);
    ck_craft_eq(ci("craft_transport_ops_init", "ip", (void *)&tr), CRAFT_OK);
    tr.user = n;
    tr.send = FNPTR(int (*)(void *, uint64_t, const void *, size_t), n->send);
    ck_craft_eq(ci("craft_fsm_ops_init", "ip", (void *)&fsm), CRAFT_OK);
    fsm.user = n;
    fsm.apply = FNPTR(int (*)(void *, uint64_t, uint64_t, const void *,
                              size_t, const void **, size_t *),
                      n->apply);
    fsm.snapshot = FNPTR(int (*)(void *, uint64_t, uint64_t,
                                 craft_snapshot_writer *),
                         n->snapshot);
    fsm.restore = FNPTR(int (*)(void *, uint64_t, uint64_t,
                                craft_snapshot_reader *),
                        n->restore);
    ck_craft_eq(ci("craft_node_options_init", "ip", (void *)&o), CRAFT_OK);
    o.id = n->id;
    o.tick_ms = 10;
    o.request_timeout_ms = 10000;
    o.storage = &st;
    o.transport = &tr;
    o.fsm = &fsm;
    o.trace = FNPTR(void (*)(void *, const craft_trace_event *), n->trace);
    o.trace_user = n;
    o.trace_level = CRAFT_TRACE_INFO;
    ck_craft_eq(ci("craft_node_create", "ipp", (void *)&o, (void *)&n->node),
                CRAFT_OK);
    /* The tables were copied: a binding may drop them now. */
    memset(&o, 0xA5, sizeof(o));
    memset(&st, 0xA5, sizeof(st));
    memset(&tr, 0xA5, sizeof(tr));
    memset(&fsm, 0xA5, sizeof(fsm));
    if (bootstrap) {
        uint64_t *ids = malloc(sizeof(uint64_t) * (size_t)c->n);
        ck_assert_ptr_nonnull(ids);
        for (int j = 0; j < c->n; j++) {
            ids[j] = (uint64_t)j + 1;
        }
        ck_craft_eq(ci("craft_node_bootstrap", "ippz", n->node, (void *)ids,
                       (size_t)c->n),
                    CRAFT_OK);
        memset(ids, 0xA5, sizeof(uint64_t) * (size_t)c->n);
        free(ids);
    }
    ck_craft_eq(ci("craft_hub_attach", "ipUp", c->hub, n->id, n->node),
                CRAFT_OK);
    ck_craft_eq(ci("craft_node_start", "ip", n->node), CRAFT_OK);
}

static void fc_start(struct fcluster *c)
{
    for (int k = 0; k < c->n; k++) {
        fc_launch(c, k, 1);
    }
}

/* A crash: the node is freed (its storage stays). */
static void fc_crash(struct fcluster *c, int k)
{
    struct fnode *n = &c->nodes[k];
    ck_craft_eq(ci("craft_hub_detach", "ipU", c->hub, n->id), CRAFT_OK);
    cv("craft_node_free", "vp", n->node);
    n->node = NULL;
    pthread_mutex_lock(&n->mu);
    n->count = n->sum = n->last = 0;
    pthread_mutex_unlock(&n->mu);
}

static void fc_free(struct fcluster *c)
{
    for (int k = 0; k < c->n; k++) {
        struct fnode *n = &c->nodes[k];
        if (n->node != NULL) {
            ci("craft_hub_detach", "ipU", c->hub, n->id);
            cv("craft_node_free", "vp", n->node);
            n->node = NULL;
        }
    }
    /* No node is left to call a closure: free them. */
    for (int k = 0; k < c->n; k++) {
        cv("craft_mem_storage_free", "vp", c->nodes[k].ms);
        fnode_destroy(&c->nodes[k]);
    }
    cv("craft_hub_free", "vp", c->hub);
    closure_free(&c->done);
    closure_free(&c->read);
}

static int fc_role(struct fnode *n)
{
    return ci("craft_node_role", "ip", n->node);
}

/* The leader (index into nodes) every running node agrees on, or -1. */
static int fc_leader_now(struct fcluster *c)
{
    int leader = -1;
    uint64_t term = 0, max_term = 0;
    for (int k = 0; k < c->n; k++) {
        struct fnode *n = &c->nodes[k];
        if (n->node == NULL) {
            continue;
        }
        uint64_t t = cU("craft_node_term", "Up", n->node);
        if (t > max_term) {
            max_term = t;
        }
        if (fc_role(n) == CRAFT_ROLE_LEADER && t >= term) {
            leader = k;
            term = t;
        }
    }
    if (leader < 0 || term < max_term) {
        return -1;
    }
    for (int k = 0; k < c->n; k++) {
        struct fnode *n = &c->nodes[k];
        if (n->node != NULL && k != leader &&
            cU("craft_node_leader", "Up", n->node) !=
                c->nodes[leader].id) {
            return -1;
        }
    }
    return leader;
}

static int fc_wait_leader(struct fcluster *c)
{
    int64_t end = now_ms() + WAIT_MS;
    while (now_ms() < end) {
        int l = fc_leader_now(c);
        if (l >= 0) {
            return l;
        }
        sleep_ms(5);
    }
    ck_abort_msg("no leader within %d ms", WAIT_MS);
    return -1;
}

/* Proposes value asynchronously on node k: the payload is on the heap,
 * overwritten and freed as soon as the call returns. */
static int fc_propose(struct fcluster *c, int k, uint64_t value,
                      struct waiter *w)
{
    unsigned char *buf = malloc(PAYLOAD);
    ck_assert_ptr_nonnull(buf);
    payload_fill(buf, value);
    int rv = ci("craft_node_propose", "ippzupp", c->nodes[k].node,
                (void *)buf, (size_t)PAYLOAD, 0u, c->done.code, (void *)w);
    memset(buf, 0xEE, PAYLOAD);
    free(buf);
    return rv;
}

/* Proposes until it succeeds on the current leader; returns its index. */
static uint64_t fc_commit(struct fcluster *c, uint64_t value)
{
    int64_t end = now_ms() + WAIT_MS;
    while (now_ms() < end) {
        int l = fc_wait_leader(c);
        struct waiter w;
        waiter_init(&w);
        ck_craft_eq(fc_propose(c, l, value, &w), CRAFT_OK);
        int st = waiter_wait(&w);
        uint64_t index = w.index;
        waiter_destroy(&w);
        if (st == CRAFT_OK) {
            return index;
        }
        sleep_ms(5);
    }
    ck_abort_msg("could not commit %llu", (unsigned long long)value);
    return 0;
}

static void fc_wait_applied(struct fcluster *c, uint64_t index)
{
    int64_t end = now_ms() + WAIT_MS;
    for (;;) {
        int all = 1;
        for (int k = 0; k < c->n; k++) {
            struct fnode *n = &c->nodes[k];
            if (n->node != NULL &&
                cU("craft_node_applied_index", "Up", n->node) < index) {
                all = 0;
            }
        }
        if (all) {
            return;
        }
        ck_assert_msg(now_ms() < end, "index %llu not applied everywhere",
                      (unsigned long long)index);
        sleep_ms(5);
    }
}

static void fc_check_state(struct fcluster *c, uint64_t sum)
{
    for (int k = 0; k < c->n; k++) {
        struct fnode *n = &c->nodes[k];
        if (n->node == NULL) {
            continue;
        }
        pthread_mutex_lock(&n->mu);
        uint64_t s = n->sum;
        int bad = n->bad;
        pthread_mutex_unlock(&n->mu);
        ck_assert_msg(s == sum, "node %llu: sum %llu, want %llu",
                      (unsigned long long)n->id, (unsigned long long)s,
                      (unsigned long long)sum);
        ck_assert_int_eq(bad, 0);
    }
}

/* ---- tests: loading and symbols --------------------------------------- */

START_TEST(library_reached_only_through_dlopen)
{
    /* Before any dlopen (checked in the suite function, in the parent
     * process) libcraft was not mapped: nothing links it. */
    ck_assert_int_eq(preloaded, 0);
    ck_assert_ptr_nonnull(lib);
    /* Now it is, under its SONAME. */
    void *again = dlopen(LIBNAME, RTLD_NOW | RTLD_NOLOAD);
    ck_assert_ptr_eq(again, lib);
    dlclose(again);
    /* The SONAME the Makefile promises: libcraft.so.<CRAFT_ABI_VERSION>. */
    Dl_info info;
    ck_assert_int_ne(dladdr(sym("craft_abi_version"), &info), 0);
    ck_assert_ptr_nonnull(strstr(info.dli_fname, "libcraft.so"));
}
END_TEST

START_TEST(every_api_function_resolves)
{
    ck_assert_int_ge(FFI_NSYMBOLS, 100);
    for (size_t k = 0; k < FFI_NSYMBOLS; k++) {
        const char *name = ffi_symbols[k].name;
        void *p = dlsym(lib, name);
        ck_assert_msg(p != NULL, "dlsym(%s): %s", name, dlerror());
        /* A binding may pin the version node (dlvsym / symbol@CRAFT_1.0). */
        void *v = dlvsym(lib, name, ffi_symbols[k].node);
        ck_assert_msg(v == p, "dlvsym(%s, %s) = %p, dlsym = %p", name,
                      ffi_symbols[k].node, v, p);
        /* And it lives in libcraft, not elsewhere. */
        Dl_info info;
        ck_assert_int_ne(dladdr(p, &info), 0);
        ck_assert_msg(strstr(info.dli_fname, "libcraft.so") != NULL,
                      "%s resolved in %s", name, info.dli_fname);
    }
    /* Internal names are not exported; unknown ones do not resolve. */
    ck_assert_ptr_null(dlsym(lib, "craft_no_such_function"));
    ck_assert_ptr_null(dlsym(lib, "nd_options_copy"));
    ck_assert_ptr_null(dlsym(lib, "craft_malloc"));
    ck_assert_ptr_null(dlvsym(lib, "craft_abi_version", "CRAFT_0.9"));
}
END_TEST

/* ---- tests: versions and errors ------------------------------------------ */

START_TEST(version_functions_match_macros)
{
    int major = -1, minor = -1, patch = -1;
    ck_assert_int_eq(ci("craft_version", "ippp", (void *)&major,
                        (void *)&minor, (void *)&patch),
                     CRAFT_VERSION_NUMBER);
    ck_assert_int_eq(major, CRAFT_VERSION_MAJOR);
    ck_assert_int_eq(minor, CRAFT_VERSION_MINOR);
    ck_assert_int_eq(patch, CRAFT_VERSION_PATCH);
    /* Every out pointer may be NULL. */
    ck_assert_int_eq(ci("craft_version", "ippp", NULL, NULL, NULL),
                     CRAFT_VERSION_NUMBER);
    const char *s = cp("craft_version_string", "p");
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, CRAFT_VERSION_STRING);
    char want[32];
    snprintf(want, sizeof(want), "%d.%d.%d", major, minor, patch);
    ck_assert_str_eq(s, want);
    /* Static: the same pointer every time. */
    ck_assert_ptr_eq(cp("craft_version_string", "p"), s);
    ck_assert_int_eq(ci("craft_abi_version", "i"), CRAFT_ABI_VERSION);
}
END_TEST

static const struct {
    int code;
    const char *name;
} codes[] = {
    { CRAFT_OK, "CRAFT_OK" },
    { CRAFT_EINVAL, "CRAFT_EINVAL" },
    { CRAFT_ENOMEM, "CRAFT_ENOMEM" },
    { CRAFT_ESTRUCT, "CRAFT_ESTRUCT" },
    { CRAFT_EMALFORMED, "CRAFT_EMALFORMED" },
    { CRAFT_ECHECKSUM, "CRAFT_ECHECKSUM" },
    { CRAFT_EVERSION, "CRAFT_EVERSION" },
    { CRAFT_ETOOBIG, "CRAFT_ETOOBIG" },
    { CRAFT_ENOTLEADER, "CRAFT_ENOTLEADER" },
    { CRAFT_EUNKNOWNPEER, "CRAFT_EUNKNOWNPEER" },
    { CRAFT_ESHUTDOWN, "CRAFT_ESHUTDOWN" },
    { CRAFT_EBUSY, "CRAFT_EBUSY" },
    { CRAFT_ETIMEDOUT, "CRAFT_ETIMEDOUT" },
    { CRAFT_ELOST, "CRAFT_ELOST" },
    { CRAFT_ESTEPPEDDOWN, "CRAFT_ESTEPPEDDOWN" },
    { CRAFT_ENOTREADY, "CRAFT_ENOTREADY" },
    { CRAFT_ECALLBACK, "CRAFT_ECALLBACK" },
    { CRAFT_ESTATE, "CRAFT_ESTATE" },
    { CRAFT_EIO, "CRAFT_EIO" },
    { CRAFT_ECORRUPT, "CRAFT_ECORRUPT" },
    { CRAFT_EEXIST, "CRAFT_EEXIST" },
    { CRAFT_ENOENT, "CRAFT_ENOENT" },
    { CRAFT_ECANCELED, "CRAFT_ECANCELED" },
};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

START_TEST(strerror_of_every_code)
{
    for (size_t k = 0; k < NCODES; k++) {
        const char *s = errname(codes[k].code);
        ck_assert_ptr_nonnull(s);
        /* "CRAFT_EINVAL: invalid argument" */
        size_t n = strlen(codes[k].name);
        ck_assert_msg(strncmp(s, codes[k].name, n) == 0 && s[n] == ':',
                      "strerror(%d) = \"%s\"", codes[k].code, s);
        ck_assert_uint_gt(strlen(s), n + 2);
        for (size_t j = 0; j < k; j++) {
            ck_assert_str_ne(s, errname(codes[j].code));
        }
    }
    const int unknown[] = {1, 42, -23, -999, INT32_MIN, INT32_MAX};
    for (size_t k = 0; k < sizeof(unknown) / sizeof(unknown[0]); k++) {
        ck_assert_str_eq(errname(unknown[k]), "unknown error");
    }
}
END_TEST

/* The init functions called through the ABI give the macros' bytes.
 * Like tests/unit/test_structinit.c, the output starts zeroed (as a
 * binding's freshly allocated, zeroed struct would): the engine-side init
 * functions assign a struct, which need not copy padding bytes. */
START_TEST(init_functions_match_macros)
{
    {
        craft_allocator a;
        static const craft_allocator m = CRAFT_ALLOCATOR_INIT;
        memset(&a, 0, sizeof(a));
        ck_craft_eq(ci("craft_allocator_init", "ip", (void *)&a), CRAFT_OK);
        ck_assert_int_eq(memcmp(&a, &m, sizeof(a)), 0);
    }
    {
        craft_node_options a;
        static const craft_node_options m = CRAFT_NODE_OPTIONS_INIT;
        memset(&a, 0, sizeof(a));
        ck_craft_eq(ci("craft_node_options_init", "ip", (void *)&a),
                    CRAFT_OK);
        ck_assert_int_eq(memcmp(&a, &m, sizeof(a)), 0);
    }
    {
        craft_storage_ops a;
        static const craft_storage_ops m = CRAFT_STORAGE_OPS_INIT;
        memset(&a, 0, sizeof(a));
        ck_craft_eq(ci("craft_storage_ops_init", "ip", (void *)&a),
                    CRAFT_OK);
        ck_assert_int_eq(memcmp(&a, &m, sizeof(a)), 0);
    }
    {
        craft_transport_ops a;
        static const craft_transport_ops m = CRAFT_TRANSPORT_OPS_INIT;
        memset(&a, 0, sizeof(a));
        ck_craft_eq(ci("craft_transport_ops_init", "ip", (void *)&a),
                    CRAFT_OK);
        ck_assert_int_eq(memcmp(&a, &m, sizeof(a)), 0);
    }
    {
        craft_fsm_ops a;
        static const craft_fsm_ops m = CRAFT_FSM_OPS_INIT;
        memset(&a, 0, sizeof(a));
        ck_craft_eq(ci("craft_fsm_ops_init", "ip", (void *)&a), CRAFT_OK);
        ck_assert_int_eq(memcmp(&a, &m, sizeof(a)), 0);
    }
    {
        craft_engine_options a;
        static const craft_engine_options m = CRAFT_ENGINE_OPTIONS_INIT;
        memset(&a, 0, sizeof(a));
        ck_craft_eq(ci("craft_engine_options_init", "ip", (void *)&a),
                    CRAFT_OK);
        ck_assert_int_eq(memcmp(&a, &m, sizeof(a)), 0);
    }
}
END_TEST

/* ---- tests: error paths ------------------------------------------------- */

START_TEST(null_handles_and_bad_arguments)
{
    void *out = (void *)&out;
    unsigned char buf[8] = {0};
    size_t len = 0;
    uint64_t v = 0;

    /* init functions */
    static const char *inits[] = {
        "craft_allocator_init", "craft_node_options_init",
        "craft_storage_ops_init", "craft_transport_ops_init",
        "craft_fsm_ops_init", "craft_engine_options_init",
        "craft_event_init",
    };
    for (size_t k = 0; k < sizeof(inits) / sizeof(inits[0]); k++) {
        ck_craft_eq(ci(inits[k], "ip", NULL), CRAFT_EINVAL);
    }
    /* creators: NULL out */
    ck_craft_eq(ci("craft_hub_create", "ipp", NULL, NULL), CRAFT_EINVAL);
    ck_craft_eq(ci("craft_mem_storage_create", "ipp", NULL, NULL),
                CRAFT_EINVAL);
    ck_craft_eq(ci("craft_node_create", "ipp", NULL, (void *)&out),
                CRAFT_EINVAL);
    ck_assert_ptr_eq(out, (void *)&out); /* untouched on error */
    {
        craft_node_options o;
        ci("craft_node_options_init", "ip", (void *)&o);
        ck_craft_eq(ci("craft_node_create", "ipp", (void *)&o, NULL),
                    CRAFT_EINVAL);
        /* id 0 and missing tables */
        ck_craft_eq(ci("craft_node_create", "ipp", (void *)&o, (void *)&out),
                    CRAFT_EINVAL);
    }
    /* NULL node */
    ck_craft_eq(ci("craft_node_bootstrap", "ippz", NULL, (void *)&v,
                   (size_t)1),
                CRAFT_EINVAL);
    ck_craft_eq(ci("craft_node_start", "ip", NULL), CRAFT_EINVAL);
    ck_craft_eq(ci("craft_node_shutdown", "ip", NULL), CRAFT_EINVAL);
    ck_craft_eq(ci("craft_node_receive", "ippz", NULL, (void *)buf,
                   sizeof(buf)),
                CRAFT_EINVAL);
    ck_craft_eq(ci("craft_node_propose", "ippzupp", NULL, (void *)buf,
                   sizeof(buf), 0u, NULL, NULL),
                CRAFT_EINVAL);
    out = (void *)&out;
    ck_craft_eq(ci("craft_node_propose_wait", "ippzup", NULL, (void *)buf,
                   sizeof(buf), 0u, (void *)&out),
                CRAFT_EINVAL);
    ck_assert_ptr_null(out); /* "otherwise *out is set to NULL" */
    ck_craft_eq(ci("craft_node_read_linearizable", "ipupp", NULL, 0u,
                   (void *)1, NULL),
                CRAFT_EINVAL);
    static const char *changes[] = {
        "craft_node_add_peer", "craft_node_add_learner",
        "craft_node_promote_learner", "craft_node_remove_peer",
        "craft_node_transfer_leadership",
    };
    for (size_t k = 0; k < sizeof(changes) / sizeof(changes[0]); k++) {
        ck_craft_eq(ci(changes[k], "ipUupp", NULL, (uint64_t)2, 0u, NULL,
                       NULL),
                    CRAFT_EINVAL);
    }
    ck_craft_eq(ci("craft_node_trigger_snapshot", "ipupp", NULL, 0u, NULL,
                   NULL),
                CRAFT_EINVAL);
    ck_craft_eq(ci("craft_node_status", "ipp", NULL, (void *)&out),
                CRAFT_EINVAL);
    ck_craft_eq(ci("craft_node_metric", "ipip", NULL, CRAFT_METRIC_TERM,
                   (void *)&v),
                CRAFT_EINVAL);
    ck_craft_eq(ci("craft_node_metrics_text", "ippzp", NULL, NULL, (size_t)0,
                   (void *)&len),
                CRAFT_EINVAL);
    ck_assert_uint_eq(cz("craft_node_errmsg", "zppz", NULL, (void *)buf,
                         sizeof(buf)),
                      0);
    /* Cheap reads: 0 on NULL. */
    ck_assert_uint_eq(cU("craft_node_id", "Up", NULL), 0);
    ck_assert_int_eq(ci("craft_node_role", "ip", NULL), 0);
    ck_assert_uint_eq(cU("craft_node_term", "Up", NULL), 0);
    ck_assert_uint_eq(cU("craft_node_leader", "Up", NULL), 0);
    ck_assert_uint_eq(cU("craft_node_applied_index", "Up", NULL), 0);
    /* Results, statuses, trace events: 0 / NULL / EINVAL on NULL. */
    ck_assert_int_eq(ci("craft_result_status", "ip", NULL), CRAFT_EINVAL);
    ck_assert_uint_eq(cU("craft_result_index", "Up", NULL), 0);
    ck_assert_uint_eq(cU("craft_result_term", "Up", NULL), 0);
    ck_assert_uint_eq(cU("craft_result_leader", "Up", NULL), 0);
    ck_craft_eq(ci("craft_result_data", "ippp", NULL, (void *)&out,
                   (void *)&len),
                CRAFT_EINVAL);
    ck_assert_uint_eq(cU("craft_status_id", "Up", NULL), 0);
    ck_assert_uint_eq(cU("craft_status_commit_index", "Up", NULL), 0);
    ck_assert_uint_eq(cz("craft_status_member_count", "zp", NULL), 0);
    ck_craft_eq(ci("craft_status_member", "ipzppppp", NULL, (size_t)0, NULL,
                   NULL, NULL, NULL, NULL),
                CRAFT_EINVAL);
    ck_assert_int_eq(ci("craft_trace_event_id", "ip", NULL), 0);
    ck_assert_ptr_null(cp("craft_trace_event_name", "pp", NULL));
    ck_craft_eq(ci("craft_trace_event_field", "ipzppppp", NULL, (size_t)0,
                   NULL, NULL, NULL, NULL, NULL),
                CRAFT_EINVAL);
    ck_craft_eq(ci("craft_snapshot_writer_write", "ippz", NULL, (void *)buf,
                   sizeof(buf)),
                CRAFT_EINVAL);
    ck_craft_eq(ci("craft_snapshot_reader_read", "ippzp", NULL, (void *)buf,
                   sizeof(buf), (void *)&len),
                CRAFT_EINVAL);
    /* Test helpers. */
    ck_craft_eq(ci("craft_mem_storage_ops", "ipp", NULL, NULL), CRAFT_EINVAL);
    ck_craft_eq(ci("craft_mem_storage_fail", "ipi", NULL, CRAFT_EIO),
                CRAFT_EINVAL);
    ck_craft_eq(ci("craft_hub_transport", "ipUp", NULL, (uint64_t)1, NULL),
                CRAFT_EINVAL);
    ck_craft_eq(ci("craft_hub_attach", "ipUp", NULL, (uint64_t)1, NULL),
                CRAFT_EINVAL);
    ck_craft_eq(ci("craft_hub_detach", "ipU", NULL, (uint64_t)1),
                CRAFT_EINVAL);
    ck_craft_eq(ci("craft_hub_set_link", "ipUUi", NULL, (uint64_t)1,
                   (uint64_t)2, 1),
                CRAFT_EINVAL);
    ck_craft_eq(ci("craft_hub_isolate", "ipUi", NULL, (uint64_t)1, 1),
                CRAFT_EINVAL);
    /* Metrics and trace tables: unknown ids. */
    ck_assert_ptr_null(cp("craft_metric_name", "pi", 0));
    ck_assert_ptr_null(cp("craft_metric_help", "pi", 9999));
    ck_assert_int_eq(ci("craft_metric_kind", "ii", -1), 0);
    ck_assert_ptr_null(cp("craft_trace_name", "pi", 0));
    ck_assert_ptr_null(cp("craft_trace_target", "pi", 9999));
    int nm = 0;
    while (cp("craft_metric_name", "pi", nm + 1) != NULL) {
        nm++;
        ck_assert_int_ge(ci("craft_metric_kind", "ii", nm), 1);
    }
    ck_assert_int_ge(nm, CRAFT_METRIC_APPLY_QUEUE_MAX);
    /* Frees of NULL are harmless. */
    cv("craft_node_free", "vp", NULL);
    cv("craft_result_free", "vp", NULL);
    cv("craft_status_free", "vp", NULL);
    cv("craft_hub_free", "vp", NULL);
    cv("craft_mem_storage_free", "vp", NULL);
    cv("craft_engine_free", "vp", NULL);
    cv("craft_actions_free", "vp", NULL);
}
END_TEST

/* An allocator made of closures: counts the blocks it has handed out. */
struct falloc {
    pthread_mutex_t mu;
    long live, calls;
    struct closure malloc_, realloc_, free_;
};

/* void *malloc(void *user, size_t size) */
static void malloc_tramp(ffi_cif *cif, void *ret, void **args, void *user)
{
    struct falloc *a = user;
    size_t size = *(size_t *)args[1];
    void *p = malloc(size > 0 ? size : 1);
    (void)cif;
    pthread_mutex_lock(&a->mu);
    a->calls++;
    a->live += p != NULL;
    pthread_mutex_unlock(&a->mu);
    *(void **)ret = p;
}

/* void *realloc(void *user, void *ptr, size_t size) */
static void realloc_tramp(ffi_cif *cif, void *ret, void **args, void *user)
{
    struct falloc *a = user;
    void *old = *(void **)args[1];
    size_t size = *(size_t *)args[2];
    void *p = realloc(old, size > 0 ? size : 1);
    (void)cif;
    pthread_mutex_lock(&a->mu);
    a->calls++;
    a->live += old == NULL && p != NULL;
    pthread_mutex_unlock(&a->mu);
    *(void **)ret = p;
}

/* void free(void *user, void *ptr) */
static void free_tramp(ffi_cif *cif, void *ret, void **args, void *user)
{
    struct falloc *a = user;
    void *p = *(void **)args[1];
    (void)cif;
    (void)ret;
    pthread_mutex_lock(&a->mu);
    a->calls++;
    a->live -= p != NULL;
    pthread_mutex_unlock(&a->mu);
    free(p);
}

static void falloc_init(struct falloc *a, craft_allocator *pub)
{
    memset(a, 0, sizeof(*a));
    pthread_mutex_init(&a->mu, NULL);
    closure_make(&a->malloc_, "ppz", malloc_tramp, a);
    closure_make(&a->realloc_, "pppz", realloc_tramp, a);
    closure_make(&a->free_, "vpp", free_tramp, a);
    ck_craft_eq(ci("craft_allocator_init", "ip", (void *)pub), CRAFT_OK);
    pub->user = a;
    pub->malloc = FNPTR(void *(*)(void *, size_t), a->malloc_);
    pub->realloc = FNPTR(void *(*)(void *, void *, size_t), a->realloc_);
    pub->free = FNPTR(void (*)(void *, void *), a->free_);
}

static void falloc_destroy(struct falloc *a)
{
    closure_free(&a->malloc_);
    closure_free(&a->realloc_);
    closure_free(&a->free_);
    pthread_mutex_destroy(&a->mu);
}

/* struct_size 0, or larger than this library knows: CRAFT_ESTRUCT. */
START_TEST(struct_size_zero_or_too_big_rejected)
{
    /* Room for a "newer" caller's struct, bigger than any we know. */
    union {
        craft_allocator a;
        craft_storage_ops st;
        craft_transport_ops tr;
        craft_node_options o;
        craft_engine_options e;
        unsigned char bytes[1024];
    } big;
    void *hub = NULL, *ms = NULL, *node = (void *)&node;

    /* allocator, given to the hub and the memory storage */
    memset(&big, 0, sizeof(big));
    ci("craft_allocator_init", "ip", (void *)&big.a);
    big.a.struct_size = 0;
    ck_craft_eq(ci("craft_hub_create", "ipp", (void *)&big, (void *)&hub),
                CRAFT_ESTRUCT);
    ck_craft_eq(ci("craft_mem_storage_create", "ipp", (void *)&big,
                   (void *)&ms),
                CRAFT_ESTRUCT);
    big.a.struct_size = (uint32_t)sizeof(craft_allocator) + 8;
    ck_craft_eq(ci("craft_hub_create", "ipp", (void *)&big, (void *)&hub),
                CRAFT_ESTRUCT);
    ck_craft_eq(ci("craft_mem_storage_create", "ipp", (void *)&big,
                   (void *)&ms),
                CRAFT_ESTRUCT);
    ck_assert_ptr_null(hub);
    ck_assert_ptr_null(ms);

    ck_craft_eq(ci("craft_hub_create", "ipp", NULL, (void *)&hub), CRAFT_OK);
    ck_craft_eq(ci("craft_mem_storage_create", "ipp", NULL, (void *)&ms),
                CRAFT_OK);

    /* tables the helpers fill */
    memset(&big, 0, sizeof(big));
    big.st.struct_size = 0;
    ck_craft_eq(ci("craft_mem_storage_ops", "ipp", ms, (void *)&big),
                CRAFT_ESTRUCT);
    big.st.struct_size = (uint32_t)sizeof(craft_storage_ops) + 8;
    ck_craft_eq(ci("craft_mem_storage_ops", "ipp", ms, (void *)&big),
                CRAFT_ESTRUCT);
    big.tr.struct_size = 0;
    ck_craft_eq(ci("craft_hub_transport", "ipUp", hub, (uint64_t)1,
                   (void *)&big),
                CRAFT_ESTRUCT);
    big.tr.struct_size = (uint32_t)sizeof(craft_transport_ops) + 8;
    ck_craft_eq(ci("craft_hub_transport", "ipUp", hub, (uint64_t)1,
                   (void *)&big),
                CRAFT_ESTRUCT);

    /* a valid node configuration, then each struct broken in turn */
    craft_storage_ops st;
    craft_transport_ops tr;
    craft_fsm_ops fsm;
    craft_engine_options eo;
    craft_allocator al;
    craft_node_options o;
    struct closure apply;
    struct fnode fn;
    memset(&fn, 0, sizeof(fn));
    pthread_mutex_init(&fn.mu, NULL);
    closure_make(&apply, "ipUUpzpp", apply_tramp, &fn);
    ci("craft_storage_ops_init", "ip", (void *)&st);
    ck_craft_eq(ci("craft_mem_storage_ops", "ipp", ms, (void *)&st),
                CRAFT_OK);
    ci("craft_transport_ops_init", "ip", (void *)&tr);
    ck_craft_eq(ci("craft_hub_transport", "ipUp", hub, (uint64_t)1,
                   (void *)&tr),
                CRAFT_OK);
    ci("craft_fsm_ops_init", "ip", (void *)&fsm);
    fsm.user = &fn;
    fsm.apply = FNPTR(int (*)(void *, uint64_t, uint64_t, const void *,
                              size_t, const void **, size_t *),
                      apply);
    ci("craft_engine_options_init", "ip", (void *)&eo);
    struct falloc fa;
    falloc_init(&fa, &al);
    ci("craft_node_options_init", "ip", (void *)&o);
    o.id = 1;
    o.storage = &st;
    o.transport = &tr;
    o.fsm = &fsm;
    o.engine = &eo;
    o.allocator = &al;

    uint32_t *fields[] = {&o.struct_size, &st.struct_size, &tr.struct_size,
                          &fsm.struct_size, &eo.struct_size,
                          &al.struct_size};
    const char *what[] = {"node options", "storage ops", "transport ops",
                          "fsm ops", "engine options", "allocator"};
    for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
        uint32_t good = *fields[k];
        /* Too big: a newer caller's struct, whose extra fields this
         * library cannot know (the check comes before any read past the
         * size it knows, so the real, smaller object is safe to pass). */
        *fields[k] = good + 8;
        int rv = ci("craft_node_create", "ipp", (void *)&o, (void *)&node);
        ck_assert_msg(rv == CRAFT_ESTRUCT, "%s too big: %s", what[k],
                      errname(rv));
        *fields[k] = 0;
        rv = ci("craft_node_create", "ipp", (void *)&o, (void *)&node);
        ck_assert_msg(rv == CRAFT_ESTRUCT, "%s size 0: %s", what[k],
                      errname(rv));
        *fields[k] = good;
        ck_assert_ptr_eq(node, (void *)&node); /* untouched */
    }
    /* An allocator without free is refused. */
    al.free = NULL;
    ck_craft_eq(ci("craft_node_create", "ipp", (void *)&o, (void *)&node),
                CRAFT_EINVAL);
    al.free = FNPTR(void (*)(void *, void *), fa.free_);
    /* All good again: it is accepted (then freed, never started); every
     * allocation went through the allocator closures and was returned. */
    ck_craft_eq(ci("craft_node_create", "ipp", (void *)&o, (void *)&node),
                CRAFT_OK);
    pthread_mutex_lock(&fa.mu);
    ck_assert_int_gt(fa.calls, 0);
    ck_assert_int_gt(fa.live, 0);
    pthread_mutex_unlock(&fa.mu);
    cv("craft_node_free", "vp", node);
    ck_assert_int_eq(fa.live, 0);
    falloc_destroy(&fa);

    closure_free(&apply);
    pthread_mutex_destroy(&fn.mu);
    cv("craft_mem_storage_free", "vp", ms);
    cv("craft_hub_free", "vp", hub);
}
END_TEST

/*
 * One node, its own cluster: bootstrap errors, unknown peers, a blocking
 * call from inside a callback, and every call after shutdown.
 */
START_TEST(single_node_errors_unknown_peer_and_shutdown)
{
    struct fcluster c;
    uint64_t ids[CRAFT_MAX_MEMBERS + 1];
    fc_init(&c, 1);
    struct fnode *n = &c.nodes[0];

    /* create by hand, to try bootstrap's errors before the real one */
    craft_storage_ops st;
    craft_transport_ops tr;
    craft_fsm_ops fsm;
    craft_node_options o;
    ck_craft_eq(ci("craft_mem_storage_create", "ipp", NULL, (void *)&n->ms),
                CRAFT_OK);
    ci("craft_storage_ops_init", "ip", (void *)&st);
    ci("craft_mem_storage_ops", "ipp", n->ms, (void *)&st);
    ci("craft_transport_ops_init", "ip", (void *)&n->hub_tr);
    ci("craft_hub_transport", "ipUp", c.hub, n->id, (void *)&n->hub_tr);
    ci("craft_transport_ops_init", "ip", (void *)&tr);
    tr.user = n;
    tr.send = FNPTR(int (*)(void *, uint64_t, const void *, size_t), n->send);
    ci("craft_fsm_ops_init", "ip", (void *)&fsm);
    fsm.user = n;
    fsm.apply = FNPTR(int (*)(void *, uint64_t, uint64_t, const void *,
                              size_t, const void **, size_t *),
                      n->apply);
    /* no snapshot method: trigger_snapshot completes with CRAFT_ESTATE */
    ci("craft_node_options_init", "ip", (void *)&o);
    o.id = 1;
    o.storage = &st;
    o.transport = &tr;
    o.fsm = &fsm;
    o.trace = FNPTR(void (*)(void *, const craft_trace_event *), n->trace);
    o.trace_user = n;
    ck_craft_eq(ci("craft_node_create", "ipp", (void *)&o, (void *)&n->node),
                CRAFT_OK);
    void *node = n->node;
    ck_assert_uint_eq(cU("craft_node_id", "Up", node), 1);

    for (size_t k = 0; k <= CRAFT_MAX_MEMBERS; k++) {
        ids[k] = k + 1;
    }
    ck_craft_eq(ci("craft_node_bootstrap", "ippz", node, (void *)ids,
                   (size_t)0),
                CRAFT_EINVAL);
    ck_craft_eq(ci("craft_node_bootstrap", "ippz", node, NULL, (size_t)1),
                CRAFT_EINVAL);
    ck_craft_eq(ci("craft_node_bootstrap", "ippz", node, (void *)(ids + 1),
                   (size_t)2), /* self missing */
                CRAFT_EINVAL);
    uint64_t dup[3] = {1, 2, 2}, zero[2] = {1, 0};
    ck_craft_eq(ci("craft_node_bootstrap", "ippz", node, (void *)dup,
                   (size_t)3),
                CRAFT_EINVAL);
    ck_craft_eq(ci("craft_node_bootstrap", "ippz", node, (void *)zero,
                   (size_t)2),
                CRAFT_EINVAL);
    ck_craft_eq(ci("craft_node_bootstrap", "ippz", node, (void *)ids,
                   (size_t)CRAFT_MAX_MEMBERS + 1),
                CRAFT_ETOOBIG);
    ck_craft_eq(ci("craft_node_bootstrap", "ippz", node, (void *)ids,
                   (size_t)1),
                CRAFT_OK);
    ck_craft_eq(ci("craft_hub_attach", "ipUp", c.hub, (uint64_t)1, node),
                CRAFT_OK);
    ck_craft_eq(ci("craft_node_start", "ip", node), CRAFT_OK);
    ck_craft_eq(ci("craft_node_start", "ip", node), CRAFT_ESTATE);
    ck_craft_eq(ci("craft_node_bootstrap", "ippz", node, (void *)ids,
                   (size_t)1),
                CRAFT_ESTATE);
    ck_assert_int_eq(fc_wait_leader(&c), 0);

    /* Bad arguments on a live node. */
    ck_craft_eq(ci("craft_node_propose", "ippzupp", node, NULL, (size_t)4,
                   0u, NULL, NULL),
                CRAFT_EINVAL);
    ck_craft_eq(ci("craft_node_propose", "ippzupp", node, (void *)ids,
                   (size_t)CRAFT_MAX_ENTRY_BYTES + 1, 0u, NULL, NULL),
                CRAFT_ETOOBIG);
    ck_craft_eq(ci("craft_node_read_linearizable", "ipupp", node, 0u, NULL,
                   NULL),
                CRAFT_EINVAL);
    ck_craft_eq(ci("craft_node_receive", "ippz", node, (void *)ids,
                   (size_t)0),
                CRAFT_EINVAL);
    ck_craft_eq(ci("craft_node_add_peer", "ipUupp", node, (uint64_t)0, 0u,
                   NULL, NULL),
                CRAFT_EINVAL);
    uint64_t v = 0;
    ck_craft_eq(ci("craft_node_metric", "ipip", node, 0, (void *)&v),
                CRAFT_EINVAL);
    ck_craft_eq(ci("craft_node_metric", "ipip", node, 9999, (void *)&v),
                CRAFT_EINVAL);

    /* A proposal whose callback tries a blocking call on its own node:
     * CRAFT_ESTATE, not a deadlock. The apply result (borrowed) is
     * copied inside the callback. */
    struct waiter w;
    waiter_init(&w);
    w.probe = node;
    ck_craft_eq(fc_propose(&c, 0, 5, &w), CRAFT_OK);
    ck_craft_eq(waiter_wait(&w), CRAFT_OK);
    ck_craft_eq(w.probe_rv, CRAFT_ESTATE);
    ck_craft_eq(w.data_rv, CRAFT_OK);
    ck_assert_uint_eq(w.len, 8);
    ck_assert_uint_eq(get_u64(w.data), 1); /* count after the apply */
    ck_assert_uint_eq(w.leader, 1);
    waiter_destroy(&w);

    /* Unknown peer: remove and transfer complete with EUNKNOWNPEER. */
    waiter_init(&w);
    ck_craft_eq(ci("craft_node_remove_peer", "ipUupp", node, (uint64_t)99, 0u,
                   c.done.code, (void *)&w),
                CRAFT_OK);
    ck_craft_eq(waiter_wait(&w), CRAFT_EUNKNOWNPEER);
    waiter_destroy(&w);
    waiter_init(&w);
    ck_craft_eq(ci("craft_node_transfer_leadership", "ipUupp", node,
                   (uint64_t)99, 0u, c.done.code, (void *)&w),
                CRAFT_OK);
    ck_craft_eq(waiter_wait(&w), CRAFT_EUNKNOWNPEER);
    waiter_destroy(&w);
    /* Promoting a learner that is not there. */
    waiter_init(&w);
    ck_craft_eq(ci("craft_node_promote_learner", "ipUupp", node,
                   (uint64_t)99, 0u, c.done.code, (void *)&w),
                CRAFT_OK);
    ck_craft_eq(waiter_wait(&w), CRAFT_EUNKNOWNPEER);
    waiter_destroy(&w);
    /* No snapshot method: the trigger completes with CRAFT_ESTATE. */
    waiter_init(&w);
    ck_craft_eq(ci("craft_node_trigger_snapshot", "ipupp", node, 0u,
                   c.done.code, (void *)&w),
                CRAFT_OK);
    ck_craft_eq(waiter_wait(&w), CRAFT_ESTATE);
    waiter_destroy(&w);

    /* Shut down: every call is refused with CRAFT_ESHUTDOWN; the cheap
     * reads and the status still work; a second shutdown is a no-op. */
    ck_craft_eq(ci("craft_node_shutdown", "ip", node), CRAFT_OK);
    ck_craft_eq(ci("craft_node_shutdown", "ip", node), CRAFT_OK);
    unsigned char buf[8] = {1};
    ck_craft_eq(ci("craft_node_propose", "ippzupp", node, (void *)buf,
                   sizeof(buf), 0u, c.done.code, (void *)&w),
                CRAFT_ESHUTDOWN);
    void *res = (void *)&res;
    ck_craft_eq(ci("craft_node_propose_wait", "ippzup", node, (void *)buf,
                   sizeof(buf), 0u, (void *)&res),
                CRAFT_ESHUTDOWN);
    ck_assert_ptr_null(res);
    ck_craft_eq(ci("craft_node_read_linearizable", "ipupp", node, 0u,
                   c.read.code, (void *)&w),
                CRAFT_ESHUTDOWN);
    ck_craft_eq(ci("craft_node_receive", "ippz", node, (void *)buf,
                   sizeof(buf)),
                CRAFT_ESHUTDOWN);
    static const char *changes[] = {
        "craft_node_add_peer", "craft_node_add_learner",
        "craft_node_promote_learner", "craft_node_remove_peer",
        "craft_node_transfer_leadership",
    };
    for (size_t k = 0; k < sizeof(changes) / sizeof(changes[0]); k++) {
        ck_craft_eq(ci(changes[k], "ipUupp", node, (uint64_t)2, 0u,
                       c.done.code, (void *)&w),
                    CRAFT_ESHUTDOWN);
    }
    ck_craft_eq(ci("craft_node_trigger_snapshot", "ipupp", node, 0u,
                   c.done.code, (void *)&w),
                CRAFT_ESHUTDOWN);
    ck_craft_eq(ci("craft_node_start", "ip", node), CRAFT_ESHUTDOWN);
    ck_craft_eq(ci("craft_node_bootstrap", "ippz", node, (void *)ids,
                   (size_t)1),
                CRAFT_ESHUTDOWN);
    void *sts = NULL;
    ck_craft_eq(ci("craft_node_status", "ipp", node, (void *)&sts), CRAFT_OK);
    ck_assert_uint_eq(cU("craft_status_id", "Up", sts), 1);
    ck_assert_uint_ge(cU("craft_status_applied_index", "Up", sts), 2);
    cv("craft_status_free", "vp", sts);
    ck_assert_uint_ge(cU("craft_node_applied_index", "Up", node), 2);

    /* The callbacks saw nothing inconsistent; the trace saw the node
     * start and stop. */
    pthread_mutex_lock(&n->mu);
    ck_assert_int_eq(n->bad, 0);
    ck_assert_uint_ne(n->trace_seen & (1u << CRAFT_TRACE_NODE_STARTED), 0);
    ck_assert_uint_ne(n->trace_seen & (1u << CRAFT_TRACE_NODE_STOPPED), 0);
    pthread_mutex_unlock(&n->mu);
    fc_free(&c);
}
END_TEST

/* ---- the 3-node cluster ------------------------------------------------- */

#define NASYNC 20

START_TEST(three_node_cluster_through_ffi)
{
    struct fcluster c;
    static struct waiter w[NASYNC];
    fc_init(&c, 3);
    fc_start(&c);
    int leader = fc_wait_leader(&c);
    uint64_t leader_id = c.nodes[leader].id;

    /* Asynchronous proposals; each payload buffer is overwritten and
     * freed right after craft_node_propose returns. */
    uint64_t sum = 0, last = 0;
    for (int k = 0; k < NASYNC; k++) {
        waiter_init(&w[k]);
        ck_craft_eq(fc_propose(&c, leader, (uint64_t)k + 1, &w[k]),
                    CRAFT_OK);
    }
    for (int k = 0; k < NASYNC; k++) {
        ck_craft_eq(waiter_wait(&w[k]), CRAFT_OK);
        ck_assert_uint_gt(w[k].index, last); /* FIFO receipts */
        last = w[k].index;
        ck_assert_uint_ge(w[k].term, 1);
        ck_assert_uint_eq(w[k].leader, leader_id);
        /* the apply result, copied inside the callback: the count */
        ck_craft_eq(w[k].data_rv, CRAFT_OK);
        ck_assert_uint_eq(w[k].len, 8);
        ck_assert_uint_ge(get_u64(w[k].data), (uint64_t)k + 1);
        sum += (uint64_t)k + 1;
        waiter_destroy(&w[k]);
    }
    fc_wait_applied(&c, last);
    fc_check_state(&c, sum);
    for (int k = 0; k < 3; k++) {
        struct fnode *n = &c.nodes[k];
        pthread_mutex_lock(&n->mu);
        ck_assert_uint_eq(n->lastlen, PAYLOAD);
        ck_assert_uint_eq(get_u64(n->lastdata), NASYNC);
        ck_assert_int_ne(payload_ok(n->lastdata, n->lastlen), 0);
        ck_assert_uint_gt(n->sends, 0); /* the send closure carried it */
        pthread_mutex_unlock(&n->mu);
    }

    /* The blocking variant, through ffi; the result is ours to free. */
    {
        unsigned char *buf = malloc(PAYLOAD);
        void *res = NULL;
        ck_assert_ptr_nonnull(buf);
        payload_fill(buf, 1000);
        int rv = ci("craft_node_propose_wait", "ippzup",
                    c.nodes[leader].node, (void *)buf, (size_t)PAYLOAD, 0u,
                    (void *)&res);
        memset(buf, 0xEE, PAYLOAD);
        free(buf);
        ck_craft_eq(rv, CRAFT_OK);
        ck_assert_ptr_nonnull(res);
        ck_craft_eq(ci("craft_result_status", "ip", res), CRAFT_OK);
        uint64_t index = cU("craft_result_index", "Up", res);
        ck_assert_uint_gt(index, last);
        last = index;
        const void *data = NULL;
        size_t len = 0;
        ck_craft_eq(ci("craft_result_data", "ippp", res, (void *)&data,
                       (void *)&len),
                    CRAFT_OK);
        ck_assert_uint_eq(len, 8);
        ck_assert_uint_eq(get_u64(data), NASYNC + 1);
        cv("craft_result_free", "vp", res);
        sum += 1000;
    }

    /* A proposal to a follower: CRAFT_ENOTLEADER with the leader hint. */
    int follower = (leader + 1) % 3;
    {
        struct waiter f;
        waiter_init(&f);
        ck_craft_eq(fc_propose(&c, follower, 7, &f), CRAFT_OK);
        ck_craft_eq(waiter_wait(&f), CRAFT_ENOTLEADER);
        ck_assert_uint_eq(f.leader, leader_id);
        waiter_destroy(&f);
    }

    /* Linearizable reads on the leader and on a follower: inside the read
     * closure the state machine reflects every completed write. */
    for (int k = 0; k < 2; k++) {
        int at = k == 0 ? leader : follower;
        struct waiter r;
        waiter_init(&r);
        r.fsm = &c.nodes[at];
        ck_craft_eq(ci("craft_node_read_linearizable", "ipupp",
                       c.nodes[at].node, 0u, c.read.code, (void *)&r),
                    CRAFT_OK);
        ck_craft_eq(waiter_wait(&r), CRAFT_OK);
        ck_assert_uint_ge(r.index, last);
        ck_assert_uint_eq(r.read_sum, sum);
        waiter_destroy(&r);
    }

    /* Status of the leader. */
    {
        void *st = NULL;
        ck_craft_eq(ci("craft_node_status", "ipp", c.nodes[leader].node,
                       (void *)&st),
                    CRAFT_OK);
        ck_assert_uint_eq(cU("craft_status_id", "Up", st), leader_id);
        ck_assert_int_eq(ci("craft_status_role", "ip", st),
                         CRAFT_ROLE_LEADER);
        ck_assert_uint_eq(cU("craft_status_leader", "Up", st), leader_id);
        ck_assert_uint_ge(cU("craft_status_term", "Up", st), 1);
        ck_assert_uint_ge(cU("craft_status_commit_index", "Up", st), last);
        ck_assert_uint_ge(cU("craft_status_applied_index", "Up", st), last);
        ck_assert_uint_ge(cU("craft_status_last_index", "Up", st), last);
        ck_assert_uint_eq(cU("craft_status_snapshot_index", "Up", st), 0);
        ck_assert_uint_eq(cz("craft_status_member_count", "zp", st), 3);
        uint32_t seen = 0;
        for (size_t k = 0; k < 3; k++) {
            uint64_t id = 0, match = 0, next = 0;
            int role = 0, ps = -1;
            ck_craft_eq(ci("craft_status_member", "ipzppppp", st, k,
                           (void *)&id, (void *)&role, (void *)&match,
                           (void *)&next, (void *)&ps),
                        CRAFT_OK);
            ck_assert_uint_ge(id, 1);
            ck_assert_uint_le(id, 3);
            seen |= 1u << id;
            ck_assert_int_eq(role, CRAFT_VOTER);
            ck_assert_uint_ge(next, 1);
        }
        ck_assert_uint_eq(seen, 0xEu);
        ck_craft_eq(ci("craft_status_member", "ipzppppp", st, (size_t)3,
                       NULL, NULL, NULL, NULL, NULL),
                    CRAFT_EINVAL);
        cv("craft_status_free", "vp", st);
    }

    /* Metrics: a value, and the text in the two-call pattern. */
    {
        uint64_t applies = 0;
        size_t len = 0;
        ck_craft_eq(ci("craft_node_metric", "ipip", c.nodes[leader].node,
                       CRAFT_METRIC_APPLIES, (void *)&applies),
                    CRAFT_OK);
        ck_assert_uint_ge(applies, NASYNC + 1);
        ck_craft_eq(ci("craft_node_metrics_text", "ippzp",
                       c.nodes[leader].node, NULL, (size_t)0, (void *)&len),
                    CRAFT_ETOOBIG);
        ck_assert_uint_gt(len, 0);
        char *text = malloc(len + 64); /* it may grow meanwhile */
        ck_assert_ptr_nonnull(text);
        size_t len2 = 0;
        ck_craft_eq(ci("craft_node_metrics_text", "ippzp",
                       c.nodes[leader].node, (void *)text, len + 64,
                       (void *)&len2),
                    CRAFT_OK);
        ck_assert_uint_eq(strlen(text), len2);
        ck_assert_ptr_nonnull(strstr(text, "craft_"));
        free(text);
        char msg[16];
        cz("craft_node_errmsg", "zppz", c.nodes[leader].node, (void *)msg,
           sizeof(msg));
        ck_assert_uint_lt(strlen(msg), sizeof(msg));
    }

    /* A snapshot on a follower (fsm snapshot closure -> writer), then the
     * follower restarts from its storage (fsm restore closure -> reader)
     * and catches up. */
    {
        struct waiter s;
        waiter_init(&s);
        ck_craft_eq(ci("craft_node_trigger_snapshot", "ipupp",
                       c.nodes[follower].node, 0u, c.done.code, (void *)&s),
                    CRAFT_OK);
        ck_craft_eq(waiter_wait(&s), CRAFT_OK);
        ck_assert_uint_ge(s.index, 1);
        waiter_destroy(&s);
        ck_assert_uint_ge(cU("craft_mem_storage_snapshot_index", "Up",
                             c.nodes[follower].ms),
                          1);
        fc_crash(&c, follower);
        fc_launch(&c, follower, 0);
        pthread_mutex_lock(&c.nodes[follower].mu);
        ck_assert_int_ge(c.nodes[follower].restores, 1);
        ck_assert_int_ge(c.nodes[follower].snapshots, 1);
        pthread_mutex_unlock(&c.nodes[follower].mu);
        last = fc_commit(&c, 2000);
        sum += 2000;
        fc_wait_applied(&c, last);
        fc_check_state(&c, sum);
    }

    /* Orderly shutdown of every node; then the trace must have seen
     * node.started and node.stopped everywhere and a leader elected. */
    for (int k = 0; k < 3; k++) {
        ck_craft_eq(ci("craft_node_shutdown", "ip", c.nodes[k].node),
                    CRAFT_OK);
    }
    uint32_t any = 0;
    for (int k = 0; k < 3; k++) {
        struct fnode *n = &c.nodes[k];
        pthread_mutex_lock(&n->mu);
        ck_assert_int_eq(n->bad, 0);
        ck_assert_uint_ne(n->trace_seen & (1u << CRAFT_TRACE_NODE_STARTED),
                          0);
        ck_assert_uint_ne(n->trace_seen & (1u << CRAFT_TRACE_NODE_STOPPED),
                          0);
        any |= n->trace_seen;
        pthread_mutex_unlock(&n->mu);
    }
    ck_assert_uint_ne(any & (1u << CRAFT_TRACE_LEADER_ELECTED), 0);
    ck_assert_uint_ne(any & (1u << CRAFT_TRACE_SNAPSHOT_TAKEN), 0);
    fc_free(&c);
}
END_TEST

static Suite *ffi_suite(void)
{
    /* Runs in the parent before any test: nothing has loaded libcraft. */
    void *h = dlopen(LIBNAME, RTLD_NOW | RTLD_NOLOAD);
    preloaded = h != NULL;
    if (h != NULL) {
        dlclose(h);
    }

    Suite *s = suite_create("ffi");
    TCase *tc = tcase_create("abi");
    tcase_add_checked_fixture(tc, lib_open, lib_close);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, library_reached_only_through_dlopen);
    tcase_add_test(tc, every_api_function_resolves);
    tcase_add_test(tc, version_functions_match_macros);
    tcase_add_test(tc, strerror_of_every_code);
    tcase_add_test(tc, init_functions_match_macros);
    tcase_add_test(tc, null_handles_and_bad_arguments);
    tcase_add_test(tc, struct_size_zero_or_too_big_rejected);
    tcase_add_test(tc, single_node_errors_unknown_peer_and_shutdown);
    tcase_add_test(tc, three_node_cluster_through_ffi);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(ffi_suite)
