/*
 * node/node.h: the node runtime's internals, shared by the files of
 * src/node/. Only the engine's public API (craft/engine.h) and src/util
 * are used: the runtime is a host like any other.
 *
 * Threads and who owns what:
 *  - the driver thread owns the engine, the actions list and every field
 *    under "driver state" (struct driver);
 *  - the apply thread owns the user's state machine;
 *  - the inbox (in_mu) is how every other thread reaches the driver;
 *  - the apply queue (ap_mu) is how the driver reaches the apply thread;
 *  - metrics and the quick state are atomics any thread reads.
 * Lock order: in_mu and ap_mu are never held together; err_mu and pub_mu
 * are leaves.
 */
#ifndef CRAFT_NODE_NODE_H
#define CRAFT_NODE_NODE_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>

#include "craft.h"
#include "util/alloc.h"
#include "util/trace.h"

enum nd_owner { ND_OWN_NONE = 0, ND_OWN_DRIVER, ND_OWN_GUEST };

/* ---- results and calls ------------------------------------------------ */

struct craft_result {
    int status;
    uint64_t index;
    uint64_t term;
    uint64_t leader;
    const void *data;
    size_t len;
    struct craft_alloc alloc; /* for craft_result_free (owned copies) */
};

enum call_kind {
    CALL_PROPOSE = 1,
    CALL_READ,
    CALL_ADD_PEER,
    CALL_ADD_LEARNER,
    CALL_PROMOTE,
    CALL_REMOVE,
    CALL_TRANSFER,
    CALL_SNAPSHOT,
    CALL_STATUS
};

/* Apply-queue item kinds. */
enum ap_kind {
    AP_ENTRIES = 1, /* struct ap_batch */
    AP_DONE,        /* struct call: run its callback with its result */
    AP_TAKE,        /* struct ap_take: take a snapshot */
    AP_RESTORE,     /* struct ap_restore: restore a received snapshot */
    AP_STOP         /* the last item: the thread exits */
};

struct ap_item {
    struct ap_item *next;
    int kind;
};

/*
 * An API call. Allocated by the calling thread, owned by the node from the
 * moment the call returned CRAFT_OK, freed by whoever completes it (the
 * apply thread, or the shutdown caller when no apply thread runs).
 */
struct call {
    struct ap_item item; /* when queued on the apply thread (AP_DONE) */
    struct call *next;   /* inbox and driver lists */
    int kind;            /* enum call_kind */
    int stage;           /* membership: receipts seen so far */
    craft_node_cb cb;
    void *ctx;
    int64_t deadline;    /* ns on the time base (nd_now_ns) */
    uint64_t id;         /* engine event id, 0 until stepped */
    uint64_t peer;
    struct craft_result res;
    /* CALL_STATUS: filled by the driver, waited for by the caller */
    craft_status *status;
    int done;
    size_t len;          /* CALL_PROPOSE: payload */
    unsigned char data[];
};

/*
 * A thread blocked in a call until its callback ran (propose_wait,
 * read_wait): calls.c. state is the flag a guest round and a spin watch
 * (W_DONE once decided). The callback sets it with a compare-and-swap
 * when the caller does not sleep, and never touches the waiter after;
 * when it sleeps (W_SLEEPING), the last touch is sem_post, after which
 * the caller may destroy the semaphore (glibc >= 2.21 allows it).
 */
enum { W_WAITING = 0, W_DONE = 1, W_SLEEPING = 2 };

struct waiter {
    atomic_int state;
    struct waiter *next; /* in the wake chain */
    struct craft_node *node;
    sem_t sem;               /* posted once, when a sleeper is done */
    int status;
    int want_res;            /* propose_wait with out != NULL */
    craft_result *res;       /* its copy */
    struct craft_alloc alloc;
    craft_node_read_fn fn;   /* read_wait */
    void *ctx;
};

/* ---- apply queue items ------------------------------------------------ */

struct ap_ent {
    uint64_t term;
    const unsigned char *data;
    struct call *prop; /* the local proposal of this index, or NULL */
    uint32_t type;
    uint32_t len;
};

/* One APPLY action: its entries, and (after e[n]) the payloads copied. */
struct ap_batch {
    struct ap_item item;
    uint64_t first; /* index of e[0] */
    size_t n;
    size_t bytes;   /* payload bytes, for backpressure accounting */
    struct ap_ent e[];
};

/* A snapshot to take on the apply thread, sent back to the driver done. */
struct ap_take {
    struct ap_item item;
    struct ap_take *next; /* in the inbox, back to the driver */
    uint64_t index;
    uint64_t term;
    struct call *trigger; /* craft_node_trigger_snapshot, or NULL */
    int status;
    int stream;           /* chunks go to the storage as they fill */
    int st_rv;            /* a streamed chunk's storage error */
    uint64_t streamed;    /* bytes already handed to the storage */
    unsigned char *buf;   /* the bytes not yet handed to the storage */
    size_t len;
    size_t cap;
    size_t conf_len;
    unsigned char conf[];
};

/* A received snapshot to restore; the driver waits for done. */
struct ap_restore {
    struct ap_item item;
    uint64_t index;
    uint64_t term;
    int status;
    int done;
};

/* ---- inbox ----------------------------------------------------------- */

struct inmsg {
    struct inmsg *next;
    size_t len;
    unsigned char data[];
};

/* ---- per-peer send queues --------------------------------------------- */

struct outmsg {
    struct outmsg *next;
    uint64_t seq; /* writes that must be durable before it goes */
    size_t len;
    unsigned char data[];
};

struct peerq {
    uint64_t id;
    struct outmsg *head;
    struct outmsg *tail;
    size_t count;
    size_t bytes;
    int full; /* in a full-queue episode (trace once) */
};

/* A pending proposal slot: the receipt of one local entry. */
struct slot {
    uint64_t index;
    uint64_t term;
    struct call *call; /* NULL once completed early (timeout, step-down) */
};

/* An event stepped after the current actions list was carried out. */
struct deferred {
    craft_event ev;
    unsigned char *buf;
};

/* ---- driver state ----------------------------------------------------- */

struct driver {
    /* Proposals received, not yet stepped (admission control). */
    struct call *held_head;
    struct call *held_tail;
    size_t held_n;
    /* Receipts of stepped proposals, by increasing index (a ring). */
    struct slot *ring;
    size_t ring_cap;
    size_t ring_head;
    size_t ring_n;
    /* The batch being stepped: PROPOSE_RESULT is matched by id. */
    craft_buf *bufs;
    struct call **batch;
    size_t batch_cap;
    size_t batch_n;
    uint64_t batch_id;
    /* Calls waiting for the engine (reads, membership, transfers). */
    struct call *reqs;
    /* Reads confirmed at an index not handed to the apply thread yet,
     * and reads to step again (CRAFT_ENOTREADY). */
    struct call *parked;
    struct call *retry;
    /* Snapshot triggers waiting for a TAKE to finish. */
    struct call *snap_waiters;
    uint64_t next_id;

    /* Storage ordering: every write gets a sequence number; a send waits
     * for the writes before it (Figure 2). */
    uint64_t write_seq;
    uint64_t hs_seq;     /* last hard state / truncate / snapshot write */
    uint64_t synced_seq;
    uint64_t persist_index; /* last APPEND not yet reported PERSISTED */
    uint64_t persist_term;
    int persist_pending;

    /* What the apply thread was handed. */
    uint64_t handed;
    uint64_t handed_term;
    int taking;          /* an AP_TAKE is out */
    uint64_t take_want;  /* TAKE_SNAPSHOT asked for this index, not yet
                            handed out */

    /* Engine state seen through its actions. */
    int role;
    uint64_t term;
    uint64_t leader;
    uint64_t commit;

    /* Membership last traced. */
    size_t conf_n;
    uint64_t conf_ids[CRAFT_MAX_MEMBERS];
    int conf_roles[CRAFT_MAX_MEMBERS];

    struct peerq *peers;
    size_t npeers;
    size_t peers_cap;

    struct deferred *defer;
    size_t defer_n;
    size_t defer_cap;

    int64_t next_tick;
    int64_t next_expire;
    int guest_ticked; /* the last ticks were stepped by a guest round (a
                         leader's heartbeat delivered inline) */
    int retry_now;    /* a leader became known: retry at once */
    int backpressure; /* in a backpressure episode */
    int depth;        /* nesting of nd_driver_step */
};

/* A member of the published membership (craft_node_membership). */
struct nd_member {
    uint64_t id;
    int role;
    uint32_t addr_len;
    unsigned char addr[CRAFT_MAX_ADDR_BYTES];
};

/* ---- the node ---------------------------------------------------------- */

#define NODE_METRICS 28 /* ids 1..27 */

struct craft_node {
    struct craft_alloc alloc;
    craft_node_options opts; /* pointers below are private copies */
    craft_storage_ops st;
    craft_transport_ops tr;
    craft_fsm_ops fsm;
    craft_engine_options eopts;
    uint64_t id;
    int64_t tick_ns;

    craft_engine *e;
    craft_actions *acts;

    /* Life cycle (creating thread; shutdown under sd_mu). */
    pthread_mutex_t sd_mu;
    atomic_int started; /* threads running or joined */
    int joined;
    int loaded;      /* storage fed any state */
    uint64_t loaded_snap_index;
    uint64_t loaded_snap_term;
    atomic_int closing; /* API calls refuse with CRAFT_ESHUTDOWN */
    atomic_int failed;  /* fail-stop error (CRAFT_EIO), 0 when fine */
    pthread_t driver_thread;
    pthread_t apply_thread;

    /* Inbox: every thread -> driver. */
    pthread_mutex_t in_mu;
    pthread_cond_t in_cv;
    struct inmsg *msg_head;
    struct inmsg *msg_tail;
    size_t inbox_bytes;
    struct call *req_head;
    struct call *req_tail;
    struct ap_take *snap_head; /* snapshots taken, back from apply */
    int driver_sleeping;
    int driver_waiting; /* the driver thread waits for a guest to leave */
    int stop_req;
    /* Who owns the driver state (struct driver, the engine) between two
     * locks of in_mu: nobody, the driver thread, or a guest thread
     * running rounds itself (inline_rounds). A thread never waits for a
     * guest except the driver thread; guests only ever try. */
    int owner;       /* enum nd_owner */
    pthread_t guest; /* the guest thread while owner == ND_OWN_GUEST */
    atomic_int in_work; /* hint: the inbox holds something (under in_mu
                           it is exact) */
    atomic_int apply_owes; /* the apply thread queued a call and will run
                              or wake the driver once its items are done */
    pthread_cond_t status_cv; /* status callers wait here */
    atomic_int space_wanted;  /* the driver waits for apply progress */

    /* Apply queue: driver -> apply thread. */
    pthread_mutex_t ap_mu;
    pthread_cond_t ap_cv;
    pthread_cond_t restore_cv;
    struct ap_item *ap_head;
    struct ap_item *ap_tail;
    struct ap_item *urg_head; /* error completions: before the FIFO */
    struct ap_item *urg_tail;
    int apply_sleeping;
    atomic_int ap_work;   /* hint: the apply queues hold something */
    atomic_int ap_spin;   /* the apply thread spins for work (no wake-up
                             needed) */
    size_t ap_lazy;       /* entries queued without waking the apply
                             thread (no completion waits on them) */
    struct ap_item stop_item;
    atomic_size_t backlog_entries;
    atomic_size_t backlog_bytes;
    atomic_size_t pending; /* proposals accepted, not completed */
    atomic_int spinners;   /* blocked callers spinning for their result */
    /* Proposals pending when a proposal is made, averaged over the last
     * few (x16, a moving average): how many clients the node has, not
     * only how many happen to wait right now (a batch just completed
     * leaves few pending among many clients). */
    atomic_uint crowd;
    /* Sleeping callers whose call completed, still to be woken: the
     * apply thread wakes two per pass, each woken caller two more (the
     * wake-ups spread over the callers' threads). wake_mu is a leaf. */
    pthread_mutex_t wake_mu;
    struct waiter *wake_head;
    /* Serialises the storage calls: the driver's, and the apply
     * thread's chunks of a snapshot it streams (storage with
     * CRAFT_STORAGE_F_STREAM_LOCAL). A leaf lock, held for one call. */
    pthread_mutex_t st_mu;
    struct waiter *ap_wake;      /* apply thread: this pass's, not yet
                                    handed to wake_head */
    struct waiter *ap_wake_tail;
    int ncpu;              /* online CPUs at create: no spin on one */
    /* Callers waiting for pending < max_pending (wait_room). room_mu is
     * a leaf lock; completions signal room_cv when room_waiters > 0. */
    pthread_mutex_t room_mu;
    pthread_cond_t room_cv;
    atomic_int room_waiters;

    struct driver d;

    /* Quick state and metrics. */
    atomic_int q_role;
    _Atomic uint64_t q_term;
    _Atomic uint64_t q_leader;
    _Atomic uint64_t q_applied;
    _Atomic uint64_t q_commit;
    _Atomic uint64_t m[NODE_METRICS];

    pthread_mutex_t err_mu;
    char errmsg[256];

    /* The membership as last published (nd_exec_publish_conf): written by
     * the driver (or the life-cycle caller while no driver runs) under
     * pub_mu, a leaf lock; read by craft_node_membership. */
    pthread_mutex_t pub_mu;
    _Atomic uint64_t pub_version;
    size_t pub_n;
    struct nd_member pub[CRAFT_MAX_MEMBERS];
};

/* ---- clock.c ---------------------------------------------------------- */
/* The node's time base in ns: CLOCK_BOOTTIME where it exists (it counts
 * suspended time), else CLOCK_MONOTONIC. Ticks, leases and deadlines are
 * measured on it. */
int64_t nd_now_ns(void);
int64_t nd_deadline(const struct craft_node *n, uint32_t timeout_ms);
/* Tests only: replaces the time base of every node of the process with
 * fn (NULL: the system's again), to simulate a suspend (the time base
 * jumps while CLOCK_MONOTONIC, on which waits are timed, does not).
 * nd_clock_system_ns is the system's time base, for a hook to build on. */
typedef int64_t (*nd_clock_fn)(void);
void nd_clock_set_hook(nd_clock_fn fn);
int64_t nd_clock_system_ns(void);
/* Waits on cv (a CLOCK_MONOTONIC condvar) until deadline (ns, on the
 * time base) or a signal; callers check their condition again. */
void nd_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu,
                           int64_t deadline);
int nd_cond_init_mono(pthread_cond_t *cv);

/* ---- node.c ------------------------------------------------------------ */
void nd_node_set_err(struct craft_node *n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Stops the node on a storage (or other fatal) failure. Driver only. */
void nd_node_fail(struct craft_node *n, int code, const char *op,
                     int err);
int nd_node_on_own_thread(const struct craft_node *n);

static inline void nd_metric_add(struct craft_node *n, int id,
                                    uint64_t v)
{
    atomic_fetch_add_explicit(&n->m[id], v, memory_order_relaxed);
}

static inline void nd_metric_set(struct craft_node *n, int id, uint64_t v)
{
    atomic_store_explicit(&n->m[id], v, memory_order_relaxed);
}

/* ---- calls.c: creating and completing calls ----------------------------- */
/* A proposal was accepted with pending proposals in flight (itself
 * included): updates the crowd average. */
static inline void nd_crowd_note(struct craft_node *n, size_t pending)
{
    unsigned avg = atomic_load_explicit(&n->crowd, memory_order_relaxed);
    unsigned now = pending > 1u << 20 ? 1u << 24 : (unsigned)pending * 16u;
    /* Racy on purpose: a hint, not a count. */
    atomic_store_explicit(&n->crowd, avg - avg / 8 + now / 8,
                          memory_order_relaxed);
}

/* Few clients: at most one per CPU, now and lately. Polling for a
 * result, or running the driver's round on a caller's thread, pays only
 * then: among many runnable client threads the poll burns the CPU the
 * others need, and a guest may be preempted while it owns the driver. */
static inline int nd_few_clients(const struct craft_node *n)
{
    size_t cpus = (size_t)n->ncpu;
    return atomic_load_explicit(&n->pending, memory_order_relaxed) <= cpus &&
           atomic_load_explicit(&n->crowd, memory_order_relaxed) <=
               16u * cpus;
}

struct call *nd_call_new(struct craft_node *n, int kind, size_t len);
void nd_call_free(struct craft_node *n, struct call *c);
/* Completes c with status on the apply thread (urgent: before the FIFO). */
void nd_call_fail(struct craft_node *n, struct call *c, int status);
/* Completes c in FIFO order with the applies (its res is set). */
void nd_call_done_fifo(struct craft_node *n, struct call *c);
/* Runs c's callback and frees it (apply thread, or shutdown). */
void nd_call_complete(struct craft_node *n, struct call *c);
/* Queues c to the driver. CRAFT_ESHUTDOWN / CRAFT_EIO when refused (then
 * c is freed). */
int nd_call_submit(struct craft_node *n, struct call *c);
/* Like nd_call_submit; with inline 1 the calling thread runs the rounds
 * itself when the driver is idle (until *done, when not NULL). */
int nd_call_submit_inline(struct craft_node *n, struct call *c,
                          const atomic_int *done);
/* Appends c to the driver's request queue and wakes the driver; in_mu
 * held. */
void nd_call_enqueue_locked(struct craft_node *n, struct call *c);
/* A proposal completed or was refused: one less pending, and a caller
 * waiting for room (wait_room) may go on. */
void nd_call_unpend(struct craft_node *n);
/* Wakes every caller waiting for room (shutdown, failure). */
void nd_call_wake_room(struct craft_node *n);

int nd_waiter_init(struct waiter *w, struct craft_node *n);
void nd_waiter_destroy(struct waiter *w);
/* The call of w is decided (its callback, any thread). */
void nd_waiter_done(struct craft_node *n, struct waiter *w);
/* The caller waits for its call (polls a little when it pays). */
void nd_waiter_wait(struct craft_node *n, struct waiter *w);
/* Apply thread, end of a pass: starts the wake chain of the callers its
 * completions found asleep. */
void nd_waiter_flush(struct craft_node *n);

/* ---- apply.c ----------------------------------------------------------- */
void *nd_apply_main(void *arg);
/* Queues an item (driver): regular FIFO or urgent. */
void nd_apply_push(struct craft_node *n, struct ap_item *it, int urgent);
/* Queues committed entries nobody waits for: the apply thread is woken
 * only once enough of them wait, or by nd_apply_kick. */
void nd_apply_push_lazy(struct craft_node *n, struct ap_item *it,
                        size_t entries);
/* Wakes the apply thread if items wait for it (driver, every tick). */
void nd_apply_kick(struct craft_node *n);
/* On the apply thread (a guest round): runs the queued items up to and
 * including it, in order. */
void nd_apply_run_until(struct craft_node *n, struct ap_item *it);
int nd_on_apply_thread(const struct craft_node *n);
/* A bounded busy wait: spins for up to ns while *flag is 0; returns it. */
int nd_spin_for(const atomic_int *flag, int64_t ns);
/* Runs fsm restore for the snapshot at (index, term) on this thread. */
int nd_apply_restore(struct craft_node *n, uint64_t index, uint64_t term);

/* ---- driver.c ---------------------------------------------------------- */
void *nd_driver_main(void *arg);
/* in_mu held: wakes the driver thread if it sleeps and nobody owns the
 * driver state (an owner sees new work before it lets go). */
void nd_driver_wake_locked(struct craft_node *n);
/* in_mu held: takes the driver state for this thread (a guest) when
 * nobody owns it and the node runs; 1 when taken. */
int nd_driver_try_guest_locked(struct craft_node *n);
/* in_mu held, guest taken: runs rounds while work is queued (at most a
 * few, or until *done when done is not NULL), then lets go and wakes the
 * driver thread if work is left. in_mu is held again on return. */
void nd_driver_guest_locked(struct craft_node *n, const atomic_int *done);
/* The apply thread, between items: runs the round it owes (it queued a
 * call without waking the driver) or wakes the driver. */
void nd_driver_apply_turn(struct craft_node *n);
/* Steps one event and carries out its actions (driver, or the creating
 * thread before start). Returns the step's error. */
int nd_driver_step(struct craft_node *n, const craft_event *ev);
/* Makes pending writes durable, releases the sends waiting for them and
 * reports PERSISTED, until nothing is pending. */
void nd_driver_settle(struct craft_node *n);
void nd_driver_free(struct craft_node *n);
/* Completes every call the driver holds with status (shutdown, failure). */
void nd_driver_fail_all(struct craft_node *n, int status);

/* ---- exec.c: carrying out one actions list --------------------------- */
void nd_exec_actions(struct craft_node *n);
void nd_exec_sync(struct craft_node *n);
void nd_exec_role(struct craft_node *n, int role, uint64_t term,
                     uint64_t leader);
void nd_exec_note_term(struct craft_node *n, uint64_t term);
void nd_exec_check_conf(struct craft_node *n, uint64_t index);
/* Publishes the engine's membership for craft_node_membership when it
 * differs from the published one. */
void nd_exec_publish_conf(struct craft_node *n);
/* Handles a snapshot the apply thread took. */
void nd_exec_snapshot_taken(struct craft_node *n, struct ap_take *t);
/* Queues an AP_TAKE at the last handed-out index. */
int nd_exec_take_snapshot(struct craft_node *n, struct call *trigger);

/* ---- pending.c: receipts of proposals ------------------------------- */
int nd_pending_reserve(struct craft_node *n, size_t more);
void nd_pending_push(struct craft_node *n, uint64_t index, uint64_t term,
                        struct call *c);
/* Fails every receipt from index on with status (CRAFT_ELOST: the
 * entries were overwritten). */
void nd_pending_truncate(struct craft_node *n, uint64_t index, int status);
/* Takes the receipt of index, if any, dropping older ones (ELOST). */
struct call *nd_pending_take(struct craft_node *n, uint64_t index,
                                uint64_t *term);
struct call *nd_pending_peek(struct craft_node *n, size_t *cursor,
                             uint64_t index, uint64_t *term);
void nd_pending_fail_all(struct craft_node *n, int status);
void nd_pending_expire(struct craft_node *n, int64_t now);

/* ---- sendq.c ----------------------------------------------------------- */
/* A SEND: immediately when allowed, else into the peer's queue. */
void nd_send(struct craft_node *n, uint64_t peer, const void *data,
                size_t len, uint64_t seq);
/* Hands every queued message whose writes are durable to the transport. */
void nd_send_flush(struct craft_node *n);
void nd_send_free(struct craft_node *n);

/* ---- status.c ---------------------------------------------------------- */
int nd_status_fill(struct craft_node *n, craft_status **out);

/* ---- trace.c ----------------------------------------------------------- */
/* The event struct and the table of ids live in util/trace.h (the file
 * storage emits events too). */
int nd_trace_enabled(const struct craft_node *n, int id);
/* Emits event id with nf (key, value) u64 fields given as varargs:
 * const char *key, uint64_t value, ... */
void nd_trace_u64(struct craft_node *n, int id, int nf, ...);
void nd_trace_emit(struct craft_node *n, struct craft_trace_event *ev);
void nd_trace_begin(struct craft_node *n, struct craft_trace_event *ev,
                       int id);

#endif /* CRAFT_NODE_NODE_H */
