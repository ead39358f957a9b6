/*
 * shim.c: C trampolines from craft's callback tables to the exported Go
 * functions of this package (see shim.h). They run on craft's driver and
 * apply threads; the Go side recovers panics, so nothing unwinds through
 * C.
 */
#include "shim.h"

#include <string.h>

#include "_cgo_export.h"

#define GOCRAFT_HANDLE(user) ((uintptr_t)(user))

/* ---- state machine and trace -------------------------------------- */

static int fsm_apply(void *user, uint64_t index, uint64_t term,
                     const void *data, size_t len, const void **result,
                     size_t *result_len)
{
    void *res = NULL;
    size_t res_len = 0;
    int rc = goCraftApply(GOCRAFT_HANDLE(user), index, term, (void *)data,
                          len, &res, &res_len);
    *result = res;
    *result_len = res_len;
    return rc;
}

static int fsm_snapshot(void *user, uint64_t index, uint64_t term,
                        craft_snapshot_writer *w)
{
    return goCraftSnapshot(GOCRAFT_HANDLE(user), index, term, w);
}

static int fsm_restore(void *user, uint64_t index, uint64_t term,
                       craft_snapshot_reader *r)
{
    return goCraftRestore(GOCRAFT_HANDLE(user), index, term, r);
}

static void trace_event(void *user, const craft_trace_event *ev)
{
    goCraftTrace(GOCRAFT_HANDLE(user), (craft_trace_event *)ev);
}

/* ---- storage and transport written in Go -------------------------- */

static int st_load(void *user, craft_loader *loader)
{
    return goCraftStorageLoad(GOCRAFT_HANDLE(user), loader);
}

static int st_save_hard_state(void *user, uint64_t term, uint64_t vote)
{
    return goCraftStorageHardState(GOCRAFT_HANDLE(user), term, vote);
}

static int st_append(void *user, uint64_t index, uint64_t term, uint32_t type,
                     const void *data, size_t len)
{
    return goCraftStorageAppend(GOCRAFT_HANDLE(user), index, term, type,
                                (void *)data, len);
}

static int st_truncate(void *user, uint64_t index)
{
    return goCraftStorageTruncate(GOCRAFT_HANDLE(user), index);
}

static int st_sync(void *user)
{
    return goCraftStorageSync(GOCRAFT_HANDLE(user));
}

static int st_snapshot_write(void *user, uint64_t index, uint64_t term,
                             uint64_t offset, const void *data, size_t len,
                             const void *conf, size_t conf_len,
                             uint32_t flags)
{
    return goCraftStorageSnapshotWrite(GOCRAFT_HANDLE(user), index, term,
                                       offset, (void *)data, len,
                                       (void *)conf, conf_len, flags);
}

static int st_snapshot_read(void *user, uint64_t index, uint64_t offset,
                            void *buf, size_t count, size_t *n, int *last)
{
    return goCraftStorageSnapshotRead(GOCRAFT_HANDLE(user), index, offset,
                                      buf, count, n, last);
}

static int tr_send(void *user, uint64_t peer, const void *data, size_t len)
{
    return goCraftSend(GOCRAFT_HANDLE(user), peer, (void *)data, len);
}

/* ---- config ------------------------------------------------------- */

gocraft_cfg *gocraft_cfg_new(void)
{
    gocraft_cfg *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    craft_node_options_init(&c->node);
    craft_engine_options_init(&c->engine);
    craft_storage_ops_init(&c->storage);
    craft_transport_ops_init(&c->transport);
    craft_fsm_ops_init(&c->fsm);
    return c;
}

void gocraft_cfg_fsm(gocraft_cfg *c, uintptr_t h, int snapshots,
                     int trace_level)
{
    c->fsm.user = (void *)h;
    c->fsm.apply = fsm_apply;
    if (snapshots) {
        c->fsm.snapshot = fsm_snapshot;
        c->fsm.restore = fsm_restore;
    }
    if (trace_level > 0) {
        c->node.trace = trace_event;
        c->node.trace_user = (void *)h;
        c->node.trace_level = trace_level;
    }
}

void gocraft_cfg_go_storage(gocraft_cfg *c, uintptr_t h)
{
    c->storage.user = (void *)h;
    c->storage.load = st_load;
    c->storage.save_hard_state = st_save_hard_state;
    c->storage.append = st_append;
    c->storage.truncate = st_truncate;
    c->storage.sync = st_sync;
    c->storage.snapshot_write = st_snapshot_write;
    c->storage.snapshot_read = st_snapshot_read;
}

void gocraft_cfg_go_transport(gocraft_cfg *c, uintptr_t h)
{
    c->transport.user = (void *)h;
    c->transport.send = tr_send;
}

void gocraft_cfg_trace_stderr(gocraft_cfg *c, int trace_level)
{
    /* libcraft's own printer: no Go code, no cgo call per event. */
    c->node.trace = craft_trace_stderr;
    c->node.trace_user = NULL;
    c->node.trace_level = trace_level;
}

int gocraft_node_create(gocraft_cfg *c, craft_node **out, char *msg,
                        size_t cap)
{
    c->node.storage = &c->storage;
    c->node.transport = &c->transport;
    c->node.fsm = &c->fsm;
    c->node.engine = &c->engine;
    return craft_node_create_msg(&c->node, out, msg, cap);
}

int gocraft_file_storage_open(const char *dir, craft_file_storage_options *o,
                              uintptr_t trace_h, int trace_level,
                              char *errbuf, size_t errbuf_size,
                              craft_file_storage **out)
{
    if (trace_h != 0 && trace_level > 0) {
        o->trace = trace_event;
        o->trace_user = (void *)trace_h;
        o->trace_level = trace_level;
    }
    o->errbuf = errbuf;
    o->errbuf_size = errbuf_size;
    return craft_file_storage_open(dir, o, out);
}

int gocraft_tcp_create(craft_tcp_options *o, uintptr_t trace_h,
                       int trace_level, craft_tcp **out)
{
    if (trace_h != 0 && trace_level > 0) {
        o->trace = trace_event;
        o->trace_user = (void *)trace_h;
        o->trace_level = trace_level;
    }
    return craft_tcp_create(o, out);
}

/* ---- calls -------------------------------------------------------- */

static void call_done(void *ctx, const craft_result *res)
{
    const void *data = NULL;
    size_t len = 0;

    craft_result_data(res, &data, &len);
    goCraftDone(GOCRAFT_HANDLE(ctx), craft_result_status(res),
                craft_result_index(res), craft_result_term(res),
                craft_result_leader(res), (void *)data, len);
}

int gocraft_propose(craft_node *n, const void *data, size_t len,
                    uint32_t timeout_ms, uintptr_t h)
{
    return craft_node_propose(n, data, len, timeout_ms, call_done, (void *)h);
}

int gocraft_read(craft_node *n, uint32_t timeout_ms, uintptr_t h)
{
    return craft_node_read_linearizable(n, timeout_ms, call_done, (void *)h);
}

int gocraft_member(craft_node *n, int op, uint64_t peer, uint32_t timeout_ms,
                   uintptr_t h)
{
    switch (op) {
    case 1:
        return craft_node_add_peer(n, peer, timeout_ms, call_done, (void *)h);
    case 2:
        return craft_node_add_learner(n, peer, timeout_ms, call_done,
                                      (void *)h);
    case 3:
        return craft_node_promote_learner(n, peer, timeout_ms, call_done,
                                          (void *)h);
    case 4:
        return craft_node_remove_peer(n, peer, timeout_ms, call_done,
                                      (void *)h);
    case 5:
        return craft_node_transfer_leadership(n, peer, timeout_ms, call_done,
                                              (void *)h);
    default:
        return CRAFT_EINVAL;
    }
}

int gocraft_member_addr(craft_node *n, int op, uint64_t peer,
                        const void *addr, size_t addr_len,
                        uint32_t timeout_ms, uintptr_t h)
{
    if (op == 1)
        return craft_node_add_peer_addr(n, peer, addr, addr_len, timeout_ms,
                                        call_done, (void *)h);
    if (op == 2)
        return craft_node_add_learner_addr(n, peer, addr, addr_len,
                                           timeout_ms, call_done, (void *)h);
    return CRAFT_EINVAL;
}

int gocraft_bootstrap_addr(craft_node *n, const uint64_t *ids,
                           const char *addrs, const size_t *lens, size_t count)
{
    craft_buf *bufs;
    size_t off = 0;
    int rc;

    if (count == 0)
        return craft_node_bootstrap_addr(n, ids, NULL, 0);
    bufs = calloc(count, sizeof(*bufs));
    if (bufs == NULL)
        return CRAFT_ENOMEM;
    for (size_t k = 0; k < count; k++) {
        bufs[k].base = lens[k] > 0 ? addrs + off : NULL;
        bufs[k].len = lens[k];
        off += lens[k];
    }
    rc = craft_node_bootstrap_addr(n, ids, bufs, count);
    free(bufs);
    return rc;
}

int gocraft_snapshot(craft_node *n, uint32_t timeout_ms, uintptr_t h)
{
    return craft_node_trigger_snapshot(n, timeout_ms, call_done, (void *)h);
}

int gocraft_propose_wait(craft_node *n, const void *data, size_t len,
                         uint32_t timeout_ms, gocraft_wait_out *out)
{
    craft_result *res = NULL;
    int rc = craft_node_propose_wait(n, data, len, timeout_ms, &res);

    memset(out, 0, sizeof(*out));
    if (res == NULL)
        return rc;
    out->had_result = 1;
    out->index = craft_result_index(res);
    out->term = craft_result_term(res);
    out->leader = craft_result_leader(res);
    craft_result_data(res, &out->data, &out->len);
    if (out->len > 0)
        out->res = res; /* the caller copies data, then frees res */
    else
        craft_result_free(res);
    return rc;
}

int gocraft_scratch(void **buf, size_t *cap, const void *data, size_t len)
{
    if (len > *cap) {
        void *p = realloc(*buf, len);
        if (p == NULL)
            return CRAFT_ENOMEM;
        *buf = p;
        *cap = len;
    }
    if (len > 0)
        memcpy(*buf, data, len);
    return CRAFT_OK;
}
