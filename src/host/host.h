/*
 * host/host.h: the reference host of the pure engine (libcraft-host.a,
 * for tests and tools; never part of libcraft.so).
 *
 * include/craft/engine.h states the host's contract. It is written out
 * twice in craft: in the product, the node runtime (src/node/exec.c),
 * and here, for everything else that drives engines: the unit tests, the
 * simulator (src/sim/host.c), the demo and the engine benchmark. Two
 * layers:
 *
 *  1. host_run(): the contract itself. It carries out a list of actions
 *     in order, handing each to the handler of its type (struct
 *     host_ops). A handler may stop the list (a SEND that must wait for a
 *     write), and a later call resumes where it stopped. This is the only
 *     switch over CRAFT_ACTION_* outside the runtime.
 *
 *  2. struct host: a synchronous, in-memory cluster of up to
 *     HOST_MAX_NODES engines built on host_run(): per node a durable
 *     store (hard state, log, snapshot) written as the actions say and
 *     surviving a crash, a state machine (pluggable, struct host_sm), and
 *     one network queue of wire bytes between them. Writes are
 *     synchronous: after a step's actions the host reports its APPEND
 *     durable (PERSISTED), answers TAKE_SNAPSHOT and SNAPSHOT_READ, each
 *     unless a test holds it. Links can be cut or held and messages
 *     taken, dropped or delivered one by one, so tests script exact
 *     interleavings; every action carried out can be journaled.
 *
 * Everything is single-threaded. Errors of the host's own bookkeeping
 * (out of memory, an action that breaks the contract) go to the fail
 * callback (tests route it to their framework); it must not return.
 */
#ifndef CRAFT_HOST_HOST_H
#define CRAFT_HOST_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "craft.h"
#include "codec/message.h"

/* ---- 1. the contract -------------------------------------------------- */

/* What a handler returns. */
enum {
    HOST_NEXT = 0,      /* carried out: go on with the next action */
    HOST_STOP = 1,      /* not carried out: stop; resume with this one */
    HOST_STOP_AFTER = 2 /* carried out, but stop: resume with the next */
};

/* Carries out action i of a. */
typedef int (*host_action_fn)(void *ctx, craft_actions *a, size_t i);

/* One handler per action type; a NULL handler ignores its actions.
 * unknown gets types this build does not know (NULL: ignored). */
struct host_ops {
    host_action_fn hard_state;
    host_action_fn append;
    host_action_fn truncate;
    host_action_fn send;
    host_action_fn apply;
    host_action_fn role_change;
    host_action_fn propose_result;
    host_action_fn read_result;
    host_action_fn transfer_result;
    host_action_fn take_snapshot;
    host_action_fn snapshot_read;
    host_action_fn snapshot_write;
    host_action_fn snapshot_install;
    host_action_fn unknown;
};

/*
 * Carries out the actions of a from *next on, in list order, and advances
 * *next past each one carried out. Returns HOST_NEXT when the list is
 * done, HOST_STOP when a handler stopped it (call again to resume).
 */
int host_run(const struct host_ops *ops, void *ctx, craft_actions *a,
             size_t *next);

/* "PERSIST_HARD_STATE", "APPEND", ...; "?" for an unknown type. */
const char *host_action_name(int type);
/* "APPEND", "APPEND_RESP", ... for a message type; "?" if unknown. */
const char *host_msg_name(uint32_t type);

/* ---- 2. the synchronous cluster --------------------------------------- */

#define HOST_MAX_NODES 9

/* A growable byte string. */
struct host_bytes {
    uint8_t *p;
    size_t len;
    size_t cap;
};

struct host_entry {
    uint64_t term;
    uint32_t type;
    struct host_bytes data;
};

struct host_snap {
    uint64_t index; /* 0: none */
    uint64_t term;
    struct host_bytes conf; /* membership bytes, as the engine gave them */
    struct host_bytes data; /* the state machine's bytes */
};

/* Counts what a node's engine and actions list allocate (tests bound
 * memory with it). */
struct host_heap {
    size_t live;
    size_t peak;
    size_t allocs;
};

/* One carried-out action, as the journal keeps it. */
struct host_rec {
    uint64_t step; /* the node's step counter when it was produced */
    int type;
    int status;
    int role;
    uint64_t term, index, vote, peer, leader, id, offset, count;
    uint32_t flags;
    size_t len; /* SNAPSHOT_WRITE data bytes */
    /* SEND: the message, decoded from its wire bytes */
    uint32_t mtype, mflags;
    uint64_t mterm, mindex, mlog_term, mcommit, mctx, moffset, mhint;
    size_t mentries, mlen;
};

/* PROPOSE_RESULT, READ_RESULT, TRANSFER_RESULT, as recorded. */
struct host_result {
    int type;
    uint64_t id;
    int status;
    uint64_t index, term, count, leader, peer;
};

/* An accepted proposal's entry: settled when its index is applied
 * (CRAFT_OK if the entry there has its term, else CRAFT_ELOST). */
struct host_receipt {
    uint64_t id, index, term;
    int status; /* HOST_PENDING until settled */
};
#define HOST_PENDING 1

/* A SNAPSHOT_READ, held for a test (hold_chunks). */
struct host_chunk_req {
    uint64_t peer, index, offset, count;
};

struct host;

struct host_node {
    struct host *host;
    uint64_t id;
    /* Options the engine is created with at every start (id set by the
     * host; seed: see host_setup). A NULL allocator means the node's
     * counting heap, as does a NULL acts_alloc for the actions list. */
    craft_engine_options opts;
    const craft_allocator *acts_alloc;
    craft_engine *e;
    craft_actions *acts;
    int up;
    struct host_heap heap;
    craft_allocator alloc;
    uint64_t steps;        /* engine steps taken */
    uint64_t ticks;        /* TICK events given */
    uint64_t leader_since; /* ticks when it last became leader */
    /* Knobs: what the host leaves to the test. */
    int hold_persist; /* do not report PERSISTED */
    int hold_take;    /* do not answer TAKE_SNAPSHOT */
    int hold_chunks;  /* keep SNAPSHOT_READs in reads[] (host_answer_reads) */
    unsigned take_requests; /* TAKE_SNAPSHOT actions seen */
    /* Durable state: survives host_crash. The log holds first..last
     * (host_entry_at); a snapshot may cover what comes before first. */
    uint64_t term, vote;
    struct host_entry *log;
    size_t log_cap; /* a power of two */
    uint64_t first, last;
    struct host_snap snap;    /* the durable snapshot */
    struct host_snap pending; /* incoming, being written */
    int pending_open;
    /* The last APPEND not reported durable yet (0: none). */
    uint64_t pending_index, pending_term;
    /* State machine (the default one: struct host_sm): */
    uint64_t applied, applied_term;
    struct host_bytes sm; /* default: the NORMAL payloads applied, each
                             [u32 length][bytes] */
    uint64_t napplied_normal;
    uint64_t *applied_terms; /* (record) term of applied entry i */
    size_t applied_cap;
    /* What the actions said. */
    int role;
    uint64_t leader;
    uint64_t installs; /* SNAPSHOT_INSTALL carried out */
    /* Records (host->record). */
    struct host_rec *journal;
    size_t njournal, cap_journal;
    struct host_result *results;
    size_t nresults, cap_results;
    struct host_receipt *receipts;
    size_t nreceipts, cap_receipts;
    struct host_chunk_req reads[64];
    size_t nreads;
    void *user; /* the test's */
};

/* A queued message: wire bytes from one node to another. */
struct host_msg {
    uint64_t from, to;
    uint32_t type; /* the message type, for filters */
    size_t len;
    uint8_t *bytes;
    size_t cap;
};

/*
 * A state machine. NULL (the default): the NORMAL payloads applied are
 * appended to nd->sm as [u32 length][bytes], and a snapshot is nd->sm.
 */
struct host_sm {
    void (*apply)(void *user, struct host_node *nd, uint64_t index,
                  uint64_t term, uint32_t type, const void *data,
                  size_t len);
    /* Writes the state at nd->applied into out (snapshot). */
    void (*save)(void *user, struct host_node *nd, struct host_bytes *out);
    /* Replaces the state by a snapshot's (data may be empty: none). */
    void (*restore)(void *user, struct host_node *nd, const void *data,
                    size_t len);
    void *user;
};

/* Why the host stepped an engine (struct host on_step). */
enum host_step_kind {
    HOST_STEP_EVENT = 0,     /* a test's or a message's event */
    HOST_STEP_PERSISTED = 1, /* the host reported an APPEND durable */
    HOST_STEP_SNAPSHOT = 2,  /* the host took a snapshot */
    HOST_STEP_CHUNK = 3      /* the host answered a SNAPSHOT_READ */
};

struct host {
    int n;
    struct host_node nodes[HOST_MAX_NODES];
    /* The network: q[qhead..nq) in order of sending. */
    struct host_msg *q;
    size_t qhead, nq, capq;
    struct host_bytes *spare; /* message buffers for reuse */
    size_t nspare, cap_spare;
    int cut[HOST_MAX_NODES + 1][HOST_MAX_NODES + 1];  /* a -> b dropped */
    int hold[HOST_MAX_NODES + 1][HOST_MAX_NODES + 1]; /* a -> b kept */
    int drop_type[CRAFT_MSG_TYPE_MAX + 1]; /* messages of a type dropped */
    /* Options every node starts with (host_setup copies them to each
     * node's opts: change these before, a node's after). */
    craft_engine_options opts;
    uint64_t seed;
    /* Knobs, set by host_setup to what tests want. */
    int record;  /* journal, results, receipts, applied terms: 1 */
    int check;   /* cross-check what the actions say (contract): 1 */
    int compact; /* drop durable entries a taken snapshot covers: 0 */
    /* Report a durable APPEND with the node's next TICK, MESSAGE or
     * PROPOSE step (CRAFT_EVENT_F_PERSISTED) instead of a PERSISTED step
     * of its own; a leader's report still gets a step of its own when
     * host_deliver leaves nothing to deliver (it may complete a
     * commit). 0: a PERSISTED step after every list with an APPEND. */
    int coalesce_persist;
    const struct host_sm *sm;
    /* Called after every engine step, before its actions are carried
     * out (NULL: nothing). */
    void (*on_step)(void *user, struct host_node *nd, const craft_event *ev,
                    int kind);
    /* A broken expectation; must not return (NULL: print and abort). */
    void (*fail)(void *user, const char *file, int line, const char *msg);
    void *user;
    struct craft_entry_vec scratch; /* decoding for the journal */
};

/*
 * Sets up a cluster of n nodes (ids 1..n) in *h (whatever it held) with
 * nothing started and empty durable state.
 * Every node's engine options are h->opts with its id and, unless the
 * options set a seed, seed * 131 + id (seed 0: the id, the engine's
 * default). Adjust h->opts or the knobs, then host_start or
 * host_node_start.
 */
void host_setup(struct host *h, int n, uint64_t seed);
/* Starts every node; the first `voters` bootstrap a new cluster of them
 * (CRAFT_EVENT_BOOTSTRAP), the others start empty (joining later). */
void host_start(struct host *h, int voters);
/* host_setup + host_start(h, n). */
void host_init(struct host *h, int n, uint64_t seed);
/* Frees everything (engines, stores, queue). */
void host_free(struct host *h);

/* Node id (1..n). */
struct host_node *host_node(struct host *h, uint64_t id);

/*
 * Starts (or restarts) nd's engine from its durable state: hard state,
 * snapshot, then the log after it. The state machine restarts from the
 * snapshot.
 */
void host_node_start(struct host *h, struct host_node *nd);
/* Frees nd's engine: only its durable state remains. */
void host_crash(struct host *h, struct host_node *nd);

/* Writes durable state directly (before a start): the hard state, and
 * entry index (the next one: last + 1). */
void host_disk_hard_state(struct host_node *nd, uint64_t term, uint64_t vote);
void host_disk_append(struct host *h, struct host_node *nd, uint64_t index,
                      uint64_t term, uint32_t type, const void *data,
                      size_t len);
/* Durable entry i (first <= i <= last). */
struct host_entry *host_entry_at(struct host_node *nd, uint64_t i);

/* ---- stepping ---- */

/* Steps nd with ev (which must succeed) and carries out the actions. */
void host_step(struct host *h, struct host_node *nd, const craft_event *ev);
/* Steps without carrying out the actions: inspect nd->acts, then call
 * host_execute. */
void host_step_raw(struct host *h, struct host_node *nd,
                   const craft_event *ev);
/* Carries out nd->acts, then what the host does after a step: reports
 * the APPEND durable, takes the snapshot asked for, answers chunk reads
 * (each unless held). */
void host_execute(struct host *h, struct host_node *nd);

/* An event of type with id and peer. */
void host_event(struct host *h, struct host_node *nd, uint32_t type,
                uint64_t id, uint64_t peer);
void host_tick(struct host *h, struct host_node *nd);
void host_tick_all(struct host *h);
void host_propose(struct host *h, struct host_node *nd, uint64_t id,
                  const void *data, size_t len);
void host_propose_batch(struct host *h, struct host_node *nd, uint64_t id,
                        const craft_buf *bufs, size_t n);
/* A PERSISTED event for (index, term). */
void host_persist(struct host *h, struct host_node *nd, uint64_t index,
                  uint64_t term);
/* Reports nd's last APPEND durable (after hold_persist). */
void host_persist_pending(struct host *h, struct host_node *nd);
/* With coalesce_persist: reports the durable APPENDs not reported yet, of
 * every up node (leaders_only: of leaders), each in a PERSISTED step. */
void host_flush_persist(struct host *h, int leaders_only);
/* Takes a snapshot at nd's applied index and reports it. */
void host_take_snapshot(struct host *h, struct host_node *nd);
/* Answers the SNAPSHOT_READs held (hold_chunks), oldest first. */
void host_answer_reads(struct host *h, struct host_node *nd);

/* ---- the network ---- */

/*
 * Delivers queued messages (and those they cause) oldest first, until
 * only held ones remain or max were delivered. Messages over a cut link,
 * of a dropped type, or from or to a node that is down are dropped.
 * Returns the number delivered.
 */
size_t host_deliver(struct host *h, size_t max);
size_t host_deliver_all(struct host *h);
/* Queued messages of type mt from -> to (0: any). */
size_t host_queued(struct host *h, uint32_t mt, uint64_t from, uint64_t to);
/* Drops them; returns how many. */
size_t host_drop(struct host *h, uint32_t mt, uint64_t from, uint64_t to);
void host_drop_all(struct host *h);
/* Removes the oldest queued message matching into *out (free it with
 * host_msg_free); 0 when there is none. */
int host_take_msg(struct host *h, uint32_t mt, uint64_t from, uint64_t to,
                  struct host_msg *out);
void host_msg_free(struct host *h, struct host_msg *m);
/* Delivers the oldest queued message matching, even over a cut or held
 * link (lost if its addressee is down); 0 when there is none. */
int host_deliver_one(struct host *h, uint32_t mt, uint64_t from,
                     uint64_t to);
/* The same without carrying out the actions (host_step_raw); returns the
 * node stepped. There must be such a message. */
struct host_node *host_deliver_one_raw(struct host *h, uint32_t mt,
                                       uint64_t from, uint64_t to);
/* Steps m's addressee with m, raw, and frees m. */
struct host_node *host_deliver_raw(struct host *h, struct host_msg *m);
/* Hands a message built by a test to its addressee, encoded. */
void host_inject(struct host *h, const struct craft_msg *m);
/* Cuts (on) or heals both directions between a and b. */
void host_cut(struct host *h, uint64_t a, uint64_t b, int on);
/* Cuts (on) or heals every link of id. */
void host_isolate(struct host *h, uint64_t id, int on);

/* ---- the cluster ---- */

/* The up leader with the highest term, or 0. */
uint64_t host_leader(struct host *h);
/* Ticks every up node and delivers, until there is a leader (0 if none
 * within max_ticks rounds). */
uint64_t host_elect(struct host *h, int max_ticks);
/* ... and waits until it committed its no-op and the followers know. */
uint64_t host_elect_ready(struct host *h, int max_ticks);
/* rounds times: tick every up node, deliver everything. */
void host_rounds(struct host *h, int rounds);

/* ---- records ---- */

/* Results of that type and id, in order: up to max into out; returns
 * how many there are. */
size_t host_results(struct host_node *nd, int type, uint64_t id,
                    struct host_result *out, size_t max);
/* The single result of that type and id (fails unless exactly one). */
struct host_result host_result1(struct host_node *nd, int type, uint64_t id);
void host_clear_journal(struct host_node *nd);
/* Journal records of action type t (SENDs of message type mt, 0: any). */
size_t host_journal_count(struct host_node *nd, int t, uint32_t mt);
/* Role of id in nd's membership (CRAFT_VOTER, CRAFT_LEARNER), 0 if not a
 * member. */
int host_member_role(struct host_node *nd, uint64_t id);
/* The receipt of proposal id (NULL if none). */
struct host_receipt *host_receipt_of(struct host_node *nd, uint64_t id);
/* Starts a memory measurement: peak = live. */
void host_heap_mark(struct host_heap *heap);

/* ---- bytes ---- */

void host_bytes_set(struct host *h, struct host_bytes *b, const void *d,
                    size_t n);
void host_bytes_put(struct host *h, struct host_bytes *b, const void *d,
                    size_t n);
void host_bytes_free(struct host_bytes *b);

/* The fail callback, with a printf-style message. */
void host_failf(struct host *h, const char *file, int line, const char *fmt,
                ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
#define HOST_FAIL(h, ...) host_failf((h), __FILE__, __LINE__, __VA_ARGS__)
/* Fails unless cond, naming the condition. */
#define HOST_CHECK(h, cond)                                                   \
    ((cond) ? (void)0 : host_failf((h), __FILE__, __LINE__, "%s", #cond))

#endif /* CRAFT_HOST_HOST_H */
